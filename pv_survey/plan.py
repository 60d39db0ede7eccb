"""The installation plan: ranking, targets as data, a year-by-year schedule, least cost, coverage, shares.

The unit of planning is an installation **site**: one building with its kept roof planes (one
procurement contract per building). The pipeline hands over ``sites`` (one row per building
with kept roofs) and ``buildings`` (every input building).

Method
------
Ranking (``mode='priority'``)
    Sites pinned ``in`` come first; then sites by priority class in the configured order
    (``class_rank`` 1 = first class; a category missing from the list ranks after all listed
    classes); within a class by the score: ``'yield'`` = specific yield [kWh/kWp] highest
    first, then size; ``'size'`` = capacity [kWp] largest first, then yield; ``'cost'`` = LCOE
    [CNY/kWh] lowest first, then size. Remaining ties go by ``building_id``. Sites pinned
    ``out`` are listed last and never planned.
Targets as data
    Each target (:class:`pv_survey.config.Target`) has a kind: ``capacity`` (kWp installed,
    existing + planned, on a building set), ``coverage`` (share of a building set with PV, by
    count or by area) or ``roof_share`` (share of the set's roof area carrying PV, the NEA 2021
    pilot kind); a set is categories (empty = all) x 'all' / 'new' (built ``new_since_year``
    or later) / 'existing'. :func:`target_bases` turns each into its unit (kWp, buildings, m2):
    what stands today, what it needs (a count rounded up) and what each site adds. A share
    target over an empty set is ``'n/a'``, never "not met".
Schedule
    Build years run from ``as_of_year + 1`` to the last target year. A target is due in its
    year, a passed one (year <= as_of_year) in the first build year. ``phase`` is the build
    year (``'reserve'``, ``'pinned out'`` otherwise); ``build_year``, ``serves`` (targets the
    site helps meet) and ``why`` say when and why. Optional per-year limits
    (``max_kwp_per_year``, ``max_capex_cny_per_year``) bound each year.
Priority mode (``mode='priority'``, :func:`priority_schedule`)
    Year by year: pinned-in sites first; then each target due (share targets first, then
    capacity) takes the next site in rank order that adds to it until met; a site that would
    break a limit waits. With a limit set, a year's remaining room goes to later targets
    (building ahead). So public institutions lead within the limits, and the rest stays in
    reserve. ``cumulative_kwp`` = existing PV + new capacity up to the row, rows in build-year
    then rank order (``priority_rank`` keeps the rank).
Least-cost mode (``mode='least-cost'``, :func:`least_cost_schedule`)
    One binary MILP over sites x years (``scipy.optimize.milp`` / HiGHS) minimising CAPEX with
    every target a constraint by its due year, the per-year limits, pins and class priority
    (a lower class only when every higher class is built; sites counting for a coverage or
    roof-share target are exempt, as they may be needed whatever their class). The priority
    schedule satisfies the same constraints, so least cost is never dearer (up to the gap).
    Where no schedule meets every target, the least total relative shortfall is found first.
Infeasible targets
    The targets table says by how much (``shortfall``) and why: too few surveyed sites (even
    all of them fall short) or the per-year limits; the run finishes.
Coverage (district plan item 14)
    New buildings = buildings of ``coverage_categories`` with ``year_built >=
    new_building_from_year`` (unknown years are not counted). By count: share of them with PV
    existing or planned in a phase whose year is at or before ``coverage_year``. By area: PV
    module area (planned modules + existing PV at ``module_kwp_per_m2``) over their usable roof
    area; per building the usable area is at least the existing PV's module area (a building
    with PV but no kept roof counts as covered) and the PV area at most the usable area.
    ``coverage_definition`` picks the one checked; both are reported with the number of
    further buildings that would meet the target (largest module areas first for area).
Category shares (NEA 2021 rooftop pilot, secondary)
    Per group of categories: roof area carrying PV over the group's total roof (footprint)
    area of every input building. Roof area carrying PV = the usable (array) area of planned
    sites + the module area of existing PV, at most the building's roof area.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .config import PlanConfig, RoofsConfig
from .presets import module_preset
from .economics import ECONOMICS_COLUMNS, EconomicsParams, economics_totals, site_economics
from .keys import first_positions, key_index, member, positions, values_at
from .errors import InputError, InputFileError
from .inputs.encoding import read_text_csv

__all__ = [
    "Phase",
    "PlanResult",
    "SITE_COLUMNS",
    "read_pins",
    "check_pins",
    "TargetSpec",
    "TargetBasis",
    "target_spec",
    "target_definition",
    "target_bases",
    "schedule_years",
    "schedule_phases",
    "rank_sites",
    "priority_schedule",
    "least_cost_schedule",
    "targets_table",
    "coverage_table",
    "category_shares_table",
    "mode_comparison",
    "build_plan",
    "plan_summary_lines",
    "plan_totals",
    "HourlyPlan",
    "plan_hourly",
    "resource_hourly",
    "hourly_note",
]

#: Columns of the ``sites`` table handed over by the pipeline.
SITE_COLUMNS = (
    "building_id", "name", "category", "owner", "address", "year_built", "existing_pv_kwp",
    "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp", "usable_area_m2", "module_area_m2",
    "roof_area_m2",
)
#: Site columns the plan shows but never reads (joined to the plan at its end, :func:`build_plan`).
_SHOWN_COLUMNS = ("name", "owner", "address")
_SITE_NUMERIC = ("existing_pv_kwp", "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp",
                 "usable_area_m2", "module_area_m2", "roof_area_m2")
_SITE_REQUIRED = ("building_id", "category", "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp",
                  "usable_area_m2", "module_area_m2")
_BUILDING_REQUIRED = ("building_id", "category", "year_built", "existing_pv_kwp", "roof_area_m2")

RESERVE = "reserve"
PINNED_OUT = "pinned out"
_TOL_KWP = 1e-6  # capacity comparisons tolerate float round-off [kWp]
#: Relative MIP gap at which HiGHS stops: 1e-6 of the CAPEX, far below the cost figures' precision
#: (project choice; HiGHS' own default is 1e-4).
MIP_REL_GAP = 1e-6


@dataclass(frozen=True)
class Phase:
    """One build phase.

    Parameters
    ----------
    label : str
        Phase name used in the ``phase`` column (the target year, e.g. ``'2030'``).
    year : int
        Year by which the phase is built.
    threshold_kwp : float
        Total installed capacity (existing included) the phase fills up to. [kWp]
    targets : tuple of str
        Names of the targets this phase delivers.
    """

    label: str
    year: int
    threshold_kwp: float
    targets: tuple[str, ...] = ()


@dataclass
class PlanResult:
    """Everything the plan stage produces (see :func:`build_plan`)."""

    plan: pd.DataFrame
    targets: pd.DataFrame
    coverage: pd.DataFrame
    category_shares: pd.DataFrame
    comparison: pd.DataFrame
    notes: list[str]
    mode: str
    score_basis: str
    existing_kwp: float
    as_of_year: int
    phases: list[Phase] = field(default_factory=list)
    economics: EconomicsParams | None = None


# --------------------------------------------------------------------------- pins


def read_pins(path: str | Path) -> pd.DataFrame:
    """Read a planner's pin list: a CSV with columns ``building_id`` and ``pin`` ('in' / 'out').

    Parameters
    ----------
    path : str or Path
        CSV in UTF-8 (a BOM is accepted) or GBK, as Excel saves it on a Chinese Windows
        (:func:`pv_survey.inputs.encoding.read_text_csv`); further columns (e.g. a reason) are kept.

    Returns
    -------
    pandas.DataFrame
        ``building_id`` (str), ``pin`` ('in' or 'out') and any further columns.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: pins file not found; give a CSV with columns building_id, pin")
    try:
        df = read_text_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p}: cannot read the pins CSV ({exc}); save it as UTF-8 CSV") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    return check_pins(df, where=str(p))


def check_pins(pins: pd.DataFrame, *, where: str = "pins") -> pd.DataFrame:
    """Validate and normalise a pins table (``building_id``, ``pin`` in {'in', 'out'}).

    Identical repeated rows are merged; the same building pinned both in and out is an error.
    Row numbers in messages count the CSV header as row 1.
    """
    missing = [c for c in ("building_id", "pin") if c not in pins.columns]
    if missing:
        raise InputError(f"{where}: pins table lacks column '{missing[0]}'; "
                         f"columns must include building_id and pin (got {list(pins.columns)})")
    out = pins.copy()
    out["building_id"] = out["building_id"].astype(str).str.strip()
    out["pin"] = out["pin"].astype(str).str.strip().str.lower()
    bad = out.index[~out["pin"].isin(["in", "out"])]
    if len(bad):
        i = int(np.flatnonzero(out.index == bad[0])[0])
        raise InputError(f"{where}: row {i + 2}, field 'pin' = {pins['pin'].iloc[i]!r}; "
                         f"use 'in' or 'out'")
    empty = out.index[out["building_id"] == ""]
    if len(empty):
        i = int(np.flatnonzero(out.index == empty[0])[0])
        raise InputError(f"{where}: row {i + 2} has an empty building_id; fill it or delete the row")
    both = out.groupby("building_id")["pin"].nunique()
    if (both > 1).any():
        bid = both.index[both > 1][0]
        raise InputError(f"{where}: building_id {bid!r} is pinned both 'in' and 'out'; keep one row")
    return out.drop_duplicates(subset=["building_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------- checks


def _check_sites(sites: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _SITE_REQUIRED if c not in sites.columns]
    if missing:
        raise InputError(f"plan: sites table lacks column '{missing[0]}'; the pipeline must pass "
                         f"{', '.join(_SITE_REQUIRED)}")
    # a shallow copy: the columns replaced below are new, the others shared with the caller's table
    # (pandas' copy-on-write: nothing done to ``df`` reaches ``sites``), not a second copy of a city's
    # sites beside the caller's while the plan is made (1,000,000 sites: ~0.3 GB)
    df = sites.copy(deep=False).reset_index(drop=True)
    df["building_id"] = df["building_id"].astype(str)
    dup = df["building_id"][df["building_id"].duplicated()]
    if len(dup):
        raise InputError(f"plan: building_id {dup.iloc[0]!r} appears twice in sites; "
                         f"merge its roofs into one site row")
    for col in ("name", "owner", "address"):
        if col not in df.columns:
            df[col] = ""
    if "year_built" not in df.columns:
        df["year_built"] = pd.array([pd.NA] * len(df), dtype="Int64")
    for col in _SITE_NUMERIC:
        if col not in df.columns:
            df[col] = 0.0
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["existing_pv_kwp"] = df["existing_pv_kwp"].fillna(0.0)
    for col in ("capacity_kwp", "annual_kwh", "usable_area_m2", "module_area_m2"):
        bad = df[col].isna() | (df[col] < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"plan: site {df['building_id'].iloc[i]!r} has {col} = "
                             f"{float(df[col].iloc[i])}; it must be a number >= 0")
    df["category"] = df["category"].astype(str)
    return df


def _check_buildings(buildings: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _BUILDING_REQUIRED if c not in buildings.columns]
    if missing:
        raise InputError(f"plan: buildings table lacks column '{missing[0]}'; the pipeline must pass "
                         f"{', '.join(_BUILDING_REQUIRED)}")
    # the ids and categories as text in Arrow (pandas' ``str``), not as a city's worth of Python strings
    df = pd.DataFrame({
        "building_id": buildings["building_id"].astype(str).array,
        "category": buildings["category"].astype(str).array,
        "year_built": pd.to_numeric(buildings["year_built"], errors="coerce").astype("Float64").to_numpy(),
        "existing_pv_kwp": pd.to_numeric(buildings["existing_pv_kwp"], errors="coerce").fillna(0.0).to_numpy(float),
        "roof_area_m2": pd.to_numeric(buildings["roof_area_m2"], errors="coerce").to_numpy(float),
    })
    if (df["existing_pv_kwp"] < 0).any():
        i = int(np.flatnonzero(df["existing_pv_kwp"] < 0)[0])
        raise InputError(f"plan: building {df['building_id'].iloc[i]!r} has existing_pv_kwp = "
                         f"{df['existing_pv_kwp'].iloc[i]}; it must be >= 0")
    return df


# --------------------------------------------------------------------------- targets as data

TARGET_KINDS = ("capacity", "coverage", "roof_share")
_PUBLIC = ("government", "hospital", "school", "public")
_CLASS_WORDS = {"government": "public institution (government)", "hospital": "public institution (hospital)",
                "school": "public institution (school)", "public": "public institution",
                "industrial": "factory", "commercial": "commercial building",
                "residential": "residential building"}


@dataclass(frozen=True)
class TargetSpec:
    """One target, normalised (see :class:`pv_survey.config.Target` for the fields' meaning).

    ``required`` is kWp for ``kind='capacity'`` and a share [0-1] otherwise; ``due_year`` is
    the schedule year by which the plan must meet it: its year, or the first schedule year
    for a passed target.
    """

    name: str
    kind: str
    year: int
    due_year: int
    required: float
    definition: str = ""
    categories: tuple[str, ...] = ()
    buildings: str = "all"
    new_since_year: int = 0
    source: str = ""

    @property
    def passed(self) -> bool:
        return self.year < self.due_year


def target_spec(t: Any, *, first_year: int) -> TargetSpec:
    """Normalise a target record (a config :class:`~pv_survey.config.Target` or any object with
    ``name``, ``year`` and either ``capacity_kwp`` or ``kind`` / ``share_frac``)."""
    kind = str(getattr(t, "kind", "capacity") or "capacity")
    if kind not in TARGET_KINDS:
        raise InputError(f"plan: target {t.name!r} has kind = {kind!r}; use one of {', '.join(TARGET_KINDS)}")
    req = float(getattr(t, "capacity_kwp", 0.0)) if kind == "capacity" else float(getattr(t, "share_frac", 0.0))
    definition = str(getattr(t, "definition", "count") or "count") if kind == "coverage" else ""
    if definition not in ("", "count", "area"):
        raise InputError(f"plan: target {t.name!r} has definition = {definition!r}; use 'count' or 'area'")
    bset = str(getattr(t, "buildings", "all") or "all")
    if bset not in ("all", "new", "existing"):
        raise InputError(f"plan: target {t.name!r} has buildings = {bset!r}; use 'all', 'new' or 'existing'")
    return TargetSpec(
        name=str(t.name), kind=kind, year=int(t.year), due_year=max(int(t.year), int(first_year)),
        required=req, definition=definition, categories=tuple(getattr(t, "categories", ()) or ()),
        buildings=bset, new_since_year=int(getattr(t, "new_since_year", 0) or 0),
        source=str(getattr(t, "source", "") or ""))


def target_definition(spec: TargetSpec) -> str:
    """Plain-words definition of what a target counts."""
    cats = ", ".join(spec.categories) if spec.categories else "all categories"
    if spec.buildings == "new":
        bset = f"new buildings (built {spec.new_since_year} or later) of {cats}"
    elif spec.buildings == "existing":
        bset = f"existing buildings (built before {spec.new_since_year} or year unknown) of {cats}"
    else:
        bset = f"buildings of {cats}"
    if spec.kind == "capacity":
        return f"installed PV (existing + planned) on {bset}, kWp"
    if spec.kind == "coverage":
        how = "share of them with PV (count)" if spec.definition == "count" else \
            "PV module area over their usable roof area"
        return f"coverage of {bset}: {how}"
    return f"roof share of {bset}: roof area carrying PV over their roof area"


@dataclass
class TargetBasis:
    """A target's arithmetic on one survey, in its own unit (kWp, buildings or m2).

    ``existing`` is what stands today, ``need`` what the target requires (a building count
    is rounded up), ``contrib`` what each site adds when built (indexed by ``building_id``),
    ``basis`` the denominator of a share (0 for capacity), ``n_buildings`` the size of the set.
    """

    spec: TargetSpec
    unit: str
    n_buildings: int
    basis: float
    existing: float
    need: float
    contrib: pd.Series

    @property
    def not_applicable(self) -> bool:
        """A share target over an empty set (no buildings, or no roof area) is n/a."""
        return self.spec.kind != "capacity" and (self.n_buildings == 0 or self.basis <= 0)

    def value(self, amount: float) -> float:
        """Amount in the unit -> the reported value (kWp, or a share)."""
        if self.spec.kind == "capacity":
            return float(amount)
        return float(amount) / self.basis if self.basis > 0 else float("nan")


def _in_set(spec: TargetSpec, category: pd.Series, year_built: pd.Series) -> np.ndarray:
    m = np.ones(len(category), dtype=bool)
    if spec.categories:
        m &= category.astype(str).isin(list(spec.categories)).to_numpy()
    yb = pd.to_numeric(year_built, errors="coerce").astype(float).to_numpy()
    is_new = np.nan_to_num(yb, nan=-1.0) >= spec.new_since_year
    if spec.buildings == "new":
        m &= is_new
    elif spec.buildings == "existing":
        m &= ~is_new
    return m


def target_bases(specs: Sequence[TargetSpec], sites: pd.DataFrame, buildings: pd.DataFrame, *,
                 module_kwp_per_m2: float) -> list[TargetBasis]:
    """Existing amount, requirement and per-site contribution of each target.

    Parameters
    ----------
    specs : sequence of TargetSpec
    sites : pandas.DataFrame
        ``building_id``, ``capacity_kwp``, ``module_area_m2``, ``usable_area_m2``.
    buildings : pandas.DataFrame
        Every input building: ``building_id``, ``category``, ``year_built``,
        ``existing_pv_kwp``, ``roof_area_m2`` (footprint area).
    module_kwp_per_m2 : float
        Turns existing PV into module (= roof) area. [kWp/m2]

    Returns
    -------
    list of TargetBasis
        capacity: kWp of the set; coverage by count: buildings of the set with PV
        (a site adds 1 unless its building already has PV); coverage by area: PV module area
        over usable roof area, per building the basis at least the existing PV's area and the
        PV area at most the basis [m2]; roof share: roof area carrying PV (usable array area
        of a site + existing PV area, at most the footprint) over the footprint area [m2].
    """
    site_ids = key_index(sites["building_id"])  # a city's ids as held (Arrow text), not as Python strings
    exist_kwp = buildings["existing_pv_kwp"].to_numpy(float)
    exist_m2 = exist_kwp / module_kwp_per_m2
    roof = pd.to_numeric(buildings["roof_area_m2"], errors="coerce").fillna(0.0).to_numpy(float)
    pos = positions(site_ids, buildings["building_id"])  # each building's site row, -1 without a site
    is_site = pos >= 0

    def per_building(col: str) -> np.ndarray:
        vals = sites[col].to_numpy(float)
        return np.where(is_site, vals[np.maximum(pos, 0)], 0.0) if len(vals) else np.zeros(len(pos))

    cap, mod, usable = per_building("capacity_kwp"), per_building("module_area_m2"), per_building("usable_area_m2")
    out = []
    for s in specs:
        m = _in_set(s, buildings["category"], buildings["year_built"])
        n = int(m.sum())
        if s.kind == "capacity":
            unit, basis = "kWp", 0.0
            existing = float(exist_kwp[m].sum())
            need = s.required
            c = np.where(m, cap, 0.0)
        elif s.kind == "coverage" and s.definition == "count":
            unit, basis = "buildings", float(n)
            existing = float((exist_kwp[m] > 0).sum())
            need = float(math.ceil(s.required * n - 1e-9))
            c = np.where(m & is_site & (exist_kwp <= 0), 1.0, 0.0)
        elif s.kind == "coverage":
            unit = "m2"
            basis_b = np.maximum(usable, exist_m2)
            basis = float(basis_b[m].sum())
            existing = float(np.minimum(exist_m2, basis_b)[m].sum())
            need = s.required * basis
            c = np.where(m, np.minimum(exist_m2 + mod, basis_b) - np.minimum(exist_m2, basis_b), 0.0)
        else:  # roof_share
            unit = "m2"
            basis = float(roof[m].sum())
            existing = float(np.minimum(exist_m2, roof)[m].sum())
            need = s.required * basis
            c = np.where(m, np.minimum(exist_m2 + usable, roof) - np.minimum(exist_m2, roof), 0.0)
        # per site: what its building adds (building ids are unique, so each site has one building)
        contrib = np.zeros(len(site_ids))
        np.add.at(contrib, pos[is_site], np.maximum(c, 0.0)[is_site])
        contrib = pd.Series(contrib, index=site_ids)
        out.append(TargetBasis(s, unit, n, basis, existing, float(need), contrib))
    return out


def _contribs(bases: Sequence[TargetBasis], ids: Any) -> list[np.ndarray]:
    """Each target's contribution per site of ``ids`` (0 where a site adds nothing)."""
    if not bases:
        return []
    pos = positions(bases[0].contrib.index, ids)  # every basis is indexed by the same site ids
    return [values_at(b.contrib, ids, pos=pos if b.contrib.index is bases[0].contrib.index else None)
            for b in bases]


def _tol(b: TargetBasis) -> float:
    return 1e-9 if b.unit == "buildings" else 1e-6 * max(1.0, b.need)


def schedule_years(specs: Sequence[TargetSpec], *, as_of_year: int) -> list[int]:
    """Build years: from ``as_of_year + 1`` to the last target year (one year at least)."""
    first = int(as_of_year) + 1
    last = max([first, *[s.due_year for s in specs]])
    return list(range(first, last + 1))


def schedule_phases(bases: Sequence[TargetBasis], years: Sequence[int]) -> list[Phase]:
    """One :class:`Phase` per build year; threshold = largest capacity required by that year."""
    out, running = [], 0.0
    for y in years:
        caps = [b.spec.required for b in bases if b.spec.kind == "capacity" and b.spec.due_year <= y
                and not b.spec.categories]
        running = max([running, *caps])
        out.append(Phase(str(y), int(y), float(running),
                         tuple(b.spec.name for b in bases if b.spec.due_year == y)))
    return out


# --------------------------------------------------------------------------- schedules


def _why(row: Any, b: TargetBasis) -> str:
    word = _CLASS_WORDS.get(str(row["priority_class"]), str(row["priority_class"]))
    if b.spec.kind == "coverage":
        new = "new " if b.spec.buildings == "new" else ""
        return f"{new}{word} building needed for {b.spec.required:.0%} coverage ('{b.spec.name}')"
    if b.spec.kind == "roof_share":
        return f"{word} roof needed for the {b.spec.required:.0%} roof share ('{b.spec.name}')"
    return f"{word}, rank {int(row['rank'])}: for '{b.spec.name}'"


def priority_schedule(ranked: pd.DataFrame, bases: Sequence[TargetBasis], years: Sequence[int], *,
                       max_kwp_per_year: float = PlanConfig.max_kwp_per_year,
                      max_capex_cny_per_year: float = PlanConfig.max_capex_cny_per_year,
                      cost_col: str = "capex_cny") -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Priority mode: sites in rank order, year by year, until every target due is met.

    In each year: first pinned-in sites; then each target due by that year (share targets
    first, as they need particular buildings; then capacity), taking the next site in rank
    order that adds to it, until it is met. A site that would break a per-year limit waits
    for a later year. With a limit set, the year's remaining room then goes to later targets
    (building ahead, so that the limits do not make them fail).

    Parameters
    ----------
    ranked : pandas.DataFrame
        From :func:`rank_sites` plus ``cost_col``.
    bases : sequence of TargetBasis
        From :func:`target_bases` (``contrib`` indexed by building_id).
    years : sequence of int
        Build years, rising.
    max_kwp_per_year, max_capex_cny_per_year : float
        New capacity [kWp] and CAPEX [CNY] allowed per year; 0 = no limit.

    Returns
    -------
    build_year : numpy.ndarray of int
        Per row of ``ranked``; 0 = not built.
    serves, why : list of str
        Targets each built site helps meet (unmet when it was built), and why it was chosen.
    notes : list of str
    """
    n = len(ranked)
    ids = ranked["building_id"].astype(str)
    cap = ranked["capacity_kwp"].to_numpy(float)
    cost = ranked[cost_col].to_numpy(float)
    pin = ranked["pinned"].astype(str).to_numpy()
    contrib = _contribs(bases, ids)
    got = [b.existing for b in bases]
    build = np.zeros(n, dtype=int)
    serves: list[list[str]] = [[] for _ in range(n)]
    why = [""] * n
    lim_k = float(max_kwp_per_year or 0.0)
    lim_c = float(max_capex_cny_per_year or 0.0)
    limited = lim_k > 0 or lim_c > 0
    notes: list[str] = []

    def unmet(k: int) -> bool:
        return not bases[k].not_applicable and got[k] < bases[k].need - _tol(bases[k])

    for y in years:
        used_k = used_c = 0.0

        def fits(i: int) -> bool:
            return ((lim_k <= 0 or used_k + cap[i] <= lim_k * (1 + 1e-9)) and
                    (lim_c <= 0 or used_c + cost[i] <= lim_c * (1 + 1e-9)))

        def add(i: int, reason: str) -> None:
            nonlocal used_k, used_c
            build[i] = y
            used_k += cap[i]
            used_c += cost[i]
            for k, b in enumerate(bases):
                if contrib[k][i] > 0:
                    if unmet(k) and b.spec.due_year >= y:
                        serves[i].append(b.spec.name)
                    got[k] += contrib[k][i]
            why[i] = reason

        for i in np.flatnonzero((pin == "in") & (build == 0)):
            if fits(i) or y == years[-1]:
                add(i, "pinned in by the planner")
        order = sorted(range(len(bases)), key=lambda k: (bases[k].spec.kind == "capacity", bases[k].spec.due_year, k))
        due = [k for k in order if bases[k].spec.due_year <= y]
        ahead = [k for k in order if bases[k].spec.due_year > y] if limited else []
        for k in due + ahead:
            if not unmet(k):
                continue
            for i in range(n):
                if not unmet(k):
                    break
                if build[i] or pin[i] == "out" or contrib[k][i] <= 0 or not fits(i):
                    continue
                add(i, _why(ranked.iloc[i], bases[k]))
    big = np.flatnonzero(((lim_k > 0) & (cap > lim_k)) | ((lim_c > 0) & (cost > lim_c)))
    if len(big):
        notes.append(f"{len(big)} sites are larger than a per-year limit and can never be built "
                     f"(largest {cap[big].max():,.0f} kWp)")
    return build, ["; ".join(s) for s in serves], why, notes


#: Time first given to HiGHS without its presolve in a model of more than
#: :data:`PRESOLVE_FIRST_MAX_VARIABLES` variables: it proves some large models optimal at once (a
#: 1,000,000-building city's 17,000 sites, 70,000 variables: 0.5 s, where the solve with presolve
#: took 29.9 s on a 15 s limit and found no solution). [s] (project choice, measured; see
#: :func:`least_cost_schedule`)
QUICK_SOLVE_S = 2.0
#: Models up to this many variables go to HiGHS with its presolve first: it decides them at once
#: (the demo district, 415 variables: 0.01 s; a pinned 400-building district, 118: 0.1 s, where the
#: solve without presolve finds the schedule but does not prove it within 2 s). Project choice
#: between the measured sizes.
PRESOLVE_FIRST_MAX_VARIABLES = 2_000
#: Share of ``plan.milp_time_limit_s`` given to HiGHS with its presolve when the quick solve did
#: not prove the optimum (project choice; see :func:`least_cost_schedule`).
PRESOLVE_TIME_SHARE = 0.25
#: Least time given to the last solve without presolve when the first ones took the whole limit. [s]
MIN_SECOND_SOLVE_S = 1.0


def least_cost_schedule(ranked: pd.DataFrame, bases: Sequence[TargetBasis], years: Sequence[int], *,
                        max_kwp_per_year: float = PlanConfig.max_kwp_per_year,
                        max_capex_cny_per_year: float = PlanConfig.max_capex_cny_per_year,
                        cost_col: str = "capex_cny", time_limit_s: float = PlanConfig.milp_time_limit_s,
                        mip_rel_gap: float = MIP_REL_GAP) -> tuple[np.ndarray | None, str]:
    """Least-cost mode: the schedule of least total cost meeting every target by its year.

    A binary MILP (``scipy.optimize.milp``, HiGHS). Variables ``x[i, y]`` = site ``i`` built
    in year ``y``. Minimise ``sum cost_i x[i, y]`` (a tie-break of 1e-6 per year prefers
    later years) subject to:

    - each site at most once (pinned-in sites exactly once, pinned-out never);
    - each target ``t`` due in year ``d``: ``existing_t + sum_{i, y <= d} contrib_ti x[i, y] >= need_t``
      (capacity in kWp, coverage by count in buildings, by area and roof share in m2);
    - per-year limits ``sum_i kWp_i x[i, y] <= max_kwp_per_year`` and the same for CAPEX;
    - class priority: a site of a class may be chosen only if every site of every higher
      class is chosen, except sites that count for a coverage or roof-share target (they may
      be needed for it whatever their class) and pinned-in sites. With ``z_i = sum_y x[i, y]``
      and a class-used variable ``u_m`` for every class after the first present:
      ``z_i <= u_m`` (i of class m, not exempt), ``u_m <= u_(m-1)`` and ``u_m <= z_j`` (every
      j of the class before m).

    When no schedule meets every target, a first MILP minimises the sum of the targets'
    relative shortfalls (slack variables), and a second one the cost with those shortfalls
    held; so the plan gets as close as the sites and limits allow.

    Returns
    -------
    build_year : numpy.ndarray of int or None
        Per row of ``ranked`` (0 = not built); None when the solver gave no solution.
    status : str
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    ids = ranked["building_id"].astype(str)
    pin = ranked["pinned"].astype(str).to_numpy()
    n = len(ranked)
    cand = np.flatnonzero(pin != "out")
    if len(cand) == 0:
        return np.zeros(n, dtype=int), "no sites"
    cls_all = ranked["class_rank"].to_numpy(int)
    contrib_all = _contribs(bases, ids)
    active = [k for k, b in enumerate(bases) if not b.not_applicable and b.need - b.existing > _tol(b)]
    exempt_all = pin == "in"
    for k, b in enumerate(bases):
        if b.spec.kind != "capacity":
            exempt_all |= contrib_all[k] > 0
    limited = bool((max_kwp_per_year and max_kwp_per_year > 0) or (max_capex_cny_per_year and max_capex_cny_per_year > 0))
    if not limited:
        cand, years = _least_cost_candidates(cand, cls_all, exempt_all, pin == "in", contrib_all, bases, active,
                                             years)
    years = list(years)
    nc, ny = len(cand), len(years)
    cap = ranked["capacity_kwp"].to_numpy(float)[cand]
    cost = ranked[cost_col].to_numpy(float)[cand]
    if (cost < 0).any():
        raise InputError(f"plan: least-cost mode needs costs >= 0, got {cost.min()}")
    cls = cls_all[cand]
    contrib = [c[cand] for c in contrib_all]
    exempt = exempt_all[cand]
    present = np.unique(cls)
    nu = max(len(present) - 1, 0)
    nx = nc * ny
    ns = len(active)
    nv = nx + nu + ns
    x_of = np.arange(nx).reshape(nc, ny)  # variable of site i built in year j
    blocks = []  # (rows, cols, vals, lo, hi) of each group of constraints, rows numbered within the group

    # each site at most once (pinned-in sites exactly once)
    blocks.append((np.repeat(np.arange(nc), ny), x_of.ravel(), np.ones(nx),
                   np.where(pin[cand] == "in", 1.0, -np.inf), np.ones(nc)))
    # each active target by its due year; slack s in [0, 1] = relative shortfall
    for s_idx, k in enumerate(active):
        b = bases[k]
        sites = np.flatnonzero(contrib[k] > 0)
        due = np.flatnonzero(np.asarray(years) <= b.spec.due_year)
        cols = np.r_[x_of[np.ix_(sites, due)].ravel(), nx + nu + s_idx]
        vals = np.r_[np.repeat(contrib[k][sites], len(due)), b.need - b.existing]
        blocks.append((np.zeros(len(cols), dtype=np.int64), cols, vals,
                       np.array([b.need - b.existing - _tol(b) / 2]), np.array([np.inf])))
    # per-year limits of capacity and CAPEX
    for lim, w in ((max_kwp_per_year, cap), (max_capex_cny_per_year, cost)):
        if lim and lim > 0:
            blocks.append((np.tile(np.arange(ny), nc), x_of.ravel(), np.repeat(w, ny),
                           np.full(ny, -np.inf), np.full(ny, float(lim) * (1 + 1e-9))))
    # class priority: z_i <= u_m (i of class m, not exempt); u_m <= z_j (every j of class m-1); u_m <= u_(m-1)
    for m in range(1, len(present)):
        u = nx + m - 1
        own = np.flatnonzero((cls == present[m]) & ~exempt)
        blocks.append((np.r_[np.repeat(np.arange(len(own)), ny), np.arange(len(own))],
                       np.r_[x_of[own].ravel(), np.full(len(own), u)],
                       np.r_[np.ones(len(own) * ny), -np.ones(len(own))],
                       np.full(len(own), -np.inf), np.zeros(len(own))))
        prev = np.flatnonzero(cls == present[m - 1])
        blocks.append((np.r_[np.arange(len(prev)), np.repeat(np.arange(len(prev)), ny)],
                       np.r_[np.full(len(prev), u), x_of[prev].ravel()],
                       np.r_[np.ones(len(prev)), -np.ones(len(prev) * ny)],
                       np.full(len(prev), -np.inf), np.zeros(len(prev))))
        if m > 1:
            blocks.append((np.zeros(2, dtype=np.int64), np.array([u, u - 1]), np.array([1.0, -1.0]),
                           np.array([-np.inf]), np.array([0.0])))
    rows, cols, vals, lo, hi, r0 = [], [], [], [], [], 0
    for br, bc, bv, bl, bh in blocks:
        rows.append(br + r0)
        cols.append(bc)
        vals.append(bv)
        lo.append(bl)
        hi.append(bh)
        r0 += len(bl)
    a = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nv))
    cons = LinearConstraint(a, np.concatenate(lo), np.concatenate(hi))
    scale = max(float(cost.max()) if nc else 1.0, 1.0)
    c_x = np.repeat(cost / scale, ny) * np.tile(1.0 - 1e-6 * np.arange(ny), nc)
    integrality = np.r_[np.ones(nx + nu), np.zeros(ns)]
    # HiGHS without its presolve proves some large models optimal at once (a city's coverage model of
    # 3,700 sites: 1 s; the 1,000,000-building city's 17,000 sites: 0.5 s), where presolve stalls
    # (19 of 20 s in presolve; 29.9 s on a 15 s limit, no solution); presolve decides some
    # other models, small ones, at once. So a large model gets a quick solve without it
    # (QUICK_SOLVE_S); then, unless a solve proved the optimum (or infeasibility), presolve with a
    # share of the time, then without it for the rest; the best schedule found is kept (measured,
    # README "Plan").
    opts = {"mip_rel_gap": float(mip_rel_gap)}
    limit_s = float(time_limit_s)

    steps = [(True, PRESOLVE_TIME_SHARE * limit_s), (False, None)]  # (presolve, seconds; None = the rest)
    if nv > PRESOLVE_FIRST_MAX_VARIABLES:
        steps.insert(0, (False, QUICK_SOLVE_S))

    def solve(c, s_ub):
        bounds = Bounds(np.zeros(nv), np.r_[np.ones(nx + nu), s_ub])
        t0 = time.perf_counter()
        found = []
        for presolve, share_s in steps:
            left_s = limit_s - (time.perf_counter() - t0)
            run_s = max(left_s, MIN_SECOND_SOLVE_S) if share_s is None else min(share_s, left_s)  # None: the rest
            if run_s <= 0:
                continue
            res = milp(c, integrality=integrality, bounds=bounds, constraints=cons,
                       options={**opts, "presolve": presolve, "time_limit": run_s})
            if res.status in (0, 2):  # optimal, or proven infeasible
                return res
            found.append(res)
        with_x = [r for r in found if r.x is not None]
        return min(with_x, key=lambda r: r.fun) if with_x else found[-1]

    status = "optimal"
    res = solve(np.r_[c_x, np.zeros(nu + ns)], np.zeros(ns))
    if res.x is None and ns:
        res1 = solve(np.r_[np.zeros(nx + nu), np.ones(ns)], np.ones(ns))
        if res1.x is None:
            return None, f"solver gave no solution ({res1.message})"
        s_best = np.minimum(res1.x[nx + nu:] + 1e-7, 1.0)
        res = solve(np.r_[c_x, np.zeros(nu + ns)], s_best)
        status = "optimal with the least shortfall (not every target can be met)"
    if res.x is None:
        return None, f"solver gave no solution ({res.message})"
    if res.status != 0:
        status = f"best found ({res.message})"
    x = res.x[:nx].reshape(nc, ny) > 0.5
    build = np.zeros(n, dtype=int)
    chosen = x.any(axis=1)
    build[cand[chosen]] = np.asarray(years)[x[chosen].argmax(axis=1)]
    return build, status


def _least_cost_candidates(cand, cls, exempt, pinned_in, contrib, bases, active, years):
    """Sites and years the least-cost MILP needs, without per-year limits (an exact reduction).

    Class priority lets a site of class m in only when every site of the classes before it
    is in. So once all the sites of the classes up to some m* (with the exempt sites: pins,
    sites counting for a share target) would meet every target, no site of a later class can
    be part of the cheapest schedule: taking it would mean taking all of classes <= m* as well,
    which already meet the targets at lower cost. Those sites are left out. Without per-year
    limits a site's year only decides which due years it counts for, and the cost tie-break
    builds it as late as allowed, so the years are cut to the targets' due years (and the last
    year). The MILP shrinks from every site x every year to what can matter.
    """
    yrs = np.asarray(list(years))
    keep_years = sorted({int(y) for y in yrs if y in {bases[k].spec.due_year for k in active}} | {int(yrs.max())})
    if not active:  # nothing to meet: only the pinned-in sites are built
        return cand[pinned_in[cand]], keep_years
    present = np.unique(cls[cand])
    for m in present:
        take = cand[(cls[cand] <= m) | exempt[cand]]
        if all(bases[k].existing + contrib[k][take].sum() >= bases[k].need - _tol(bases[k]) for k in active):
            return take, keep_years
    return cand, keep_years


def _serves_why(ranked: pd.DataFrame, build: np.ndarray, bases: Sequence[TargetBasis],
                years: Sequence[int]) -> tuple[list[str], list[str]]:
    """``serves`` and ``why`` of a schedule found by the MILP, site by site in build order."""
    ids = ranked["building_id"].astype(str)
    contrib = _contribs(bases, ids)
    got = [b.existing for b in bases]
    serves = [""] * len(ranked)
    why = [""] * len(ranked)
    for y in years:
        for i in np.flatnonzero(build == y):
            names, first = [], None
            for k, b in enumerate(bases):
                if contrib[k][i] > 0 and not b.not_applicable and got[k] < b.need - _tol(b) and b.spec.due_year >= y:
                    names.append(b.spec.name)
                    if first is None or (bases[first].spec.kind == "capacity" and b.spec.kind != "capacity"):
                        first = k
                got[k] += contrib[k][i]
            serves[i] = "; ".join(names)
            row = ranked.iloc[i]
            if row["pinned"] == "in":
                why[i] = "pinned in by the planner"
            elif first is not None:
                why[i] = _why(row, bases[first]) + " (least cost)"
            else:
                why[i] = "least-cost choice (class priority)"
    return serves, why


def _plan_order(ranked: pd.DataFrame, build: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a plan by build year then priority rank, then reserve, then pinned out:
    ``(order, build year, pinned out)``, the last two in that order (positions into ``ranked``)."""
    build = np.asarray(build)
    is_out = ranked["pinned"].astype(str).to_numpy() == "out"
    prank = ranked["rank"].astype(int).to_numpy()
    key = np.where(build > 0, build, np.where(is_out, 10**6, 10**5))
    order = np.lexsort((prank, key))  # stable: build year, then priority rank, then the ranked order
    return order, build[order], is_out[order]


def _phase_labels(build: np.ndarray, is_out: np.ndarray) -> np.ndarray:
    """Each row's ``phase``: its build year, :data:`PINNED_OUT` or :data:`RESERVE` (object array)."""
    return np.where(build > 0, build.astype(str), np.where(is_out, PINNED_OUT, RESERVE)).astype(object)


def _order_plan(ranked: pd.DataFrame, build: np.ndarray, serves, why, existing_kwp: float,
                passed_years: dict[str, int]) -> pd.DataFrame:
    """Rows by build year then priority rank, then reserve, then pinned out (:func:`_plan_order`);
    cumulative kWp.

    The rows are put in order once (one copy of ``ranked``: a city's sites, ~0.45 GB at 1,000,000
    buildings), the new columns computed in that order.
    """
    order, build, is_out = _plan_order(ranked, build)
    prank = ranked["rank"].astype(int).to_numpy()
    serves = np.asarray(list(serves), dtype=object)[order]
    why = np.asarray(list(why), dtype=object)[order]
    # rows already in order (the priority mode builds in rank order): the ranking's columns shared, not
    # copied (pandas' copy-on-write keeps ``ranked`` as it is; 1,000,000 sites: ~0.35 GB a copy)
    same = np.array_equal(order, np.arange(order.size))
    df = (ranked if same else ranked.iloc[order]).reset_index(drop=True)
    df["priority_rank"] = prank[order]
    df["build_year"] = pd.array([int(y) if y else pd.NA for y in build], dtype="Int64")
    df["phase"] = _phase_labels(build, is_out)
    df["serves"] = list(serves)
    df["why"] = [w if w else ("pinned out by the planner" if o else "reserve: no target needs it")
                 for w, o in zip(why, is_out)]
    df["closes_passed"] = [", ".join(str(passed_years[s]) for s in sv.split("; ") if s in passed_years)
                           for sv in df["serves"]]
    cap = np.where(df["pinned"].to_numpy() == "out", 0.0, df["capacity_kwp"].to_numpy(float))
    df["cumulative_kwp"] = np.where(df["pinned"].to_numpy() == "out", np.nan, existing_kwp + np.cumsum(cap))
    df["rank"] = np.arange(1, len(df) + 1)
    return df


# --------------------------------------------------------------------------- tables


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def _amount(b: TargetBasis, x: float) -> str:
    if b.unit == "kWp":
        return f"{_fmt(x)} kWp"
    if b.unit == "buildings":
        return f"{int(round(x))} {_bld(int(round(x)))}"
    return f"{_fmt(x)} m2"


def _pct(b: TargetBasis, x: float) -> str:
    """'' for capacity; ' of <basis> (<share>)' for a share target."""
    if b.spec.kind == "capacity":
        return ""
    basis = f"{b.n_buildings}" if b.unit == "buildings" else _fmt(b.basis)
    return f" of {basis} ({b.value(x):.0%})"


def _req(b: TargetBasis) -> str:
    return _amount(b, b.need) + ("" if b.spec.kind == "capacity" else f" ({b.spec.required:.0%})")


def targets_table(plan: pd.DataFrame, bases: Sequence[TargetBasis], *, as_of_year: int,
                  max_kwp_per_year: float = PlanConfig.max_kwp_per_year,
                  max_capex_cny_per_year: float = PlanConfig.max_capex_cny_per_year) -> pd.DataFrame:
    """One row per target: required, achieved by existing PV and with the plan, met, margin, status.

    Parameters
    ----------
    plan : pandas.DataFrame
        Ordered plan with ``building_id``, ``build_year``, ``pinned``.
    bases : sequence of TargetBasis
    as_of_year : int
        For the wording of a passed target. [yr]
    max_kwp_per_year, max_capex_cny_per_year : float
        The limits, to say why a target fails. 0 = none.

    Returns
    -------
    pandas.DataFrame
        ``target, kind, definition, categories, year, due_year, passed, phase, unit, required (kWp or share),
        achieved_existing, achieved_plan (by the due year), met ('yes' / 'no' / 'n/a' where the
        building set is empty), margin (achieved_plan - required), shortfall (in the unit:
        kWp, buildings, m2), n_sites (built by the due year and counting for it), status
        (Chinese and English), source`` and for capacity targets ``required_kwp,
        existing_kwp, planned_kwp, achieved_kwp, margin_kwp`` (NaN for the others).
    """
    ids = plan["building_id"].astype(str)
    by = plan["build_year"].astype("Float64").fillna(0).to_numpy(float)
    avail = plan["pinned"].astype(str).to_numpy() != "out"
    rows = []
    for b, c in zip(bases, _contribs(bases, ids)):
        s = b.spec
        built = (by > 0) & (by <= s.due_year)
        amt_plan = b.existing + float(c[built].sum())
        n = int((built & (c > 0)).sum())
        potential = b.existing + float(c[avail].sum())
        req_amt = b.need
        ok = amt_plan >= req_amt - _tol(b)
        met = "n/a" if b.not_applicable else ("yes" if ok else "no")
        required = s.required
        ach_e, ach_p = b.value(b.existing), b.value(amt_plan)
        margin = ach_p - required if not b.not_applicable else float("nan")
        short = max(0.0, req_amt - amt_plan) if met == "no" else 0.0
        when = f"by {s.due_year}"
        if b.not_applicable:
            status = ("no buildings in the set: not applicable / 无此类建筑，不适用" if b.n_buildings == 0 else
                      "the buildings of the set have no roof area: not applicable / 无屋顶面积，不适用")
        elif b.existing >= req_amt - _tol(b):
            status = (f"met by existing PV alone ({_amount(b, b.existing)}{_pct(b, b.existing)}; "
                      f"{_req(b)} required) / 现有光伏已达标")
        elif ok:
            head = (f"year passed ({s.year} < {as_of_year + 1}): existing PV gives "
                    f"{_amount(b, b.existing)}{_pct(b, b.existing)}, {_req(b)} required; shortfall closed in "
                    f"{s.due_year} by {n:,} sites, giving {_amount(b, amt_plan)}{_pct(b, amt_plan)} "
                    f"/ 已过期，缺口于{s.due_year}年补足" if s.passed else
                    f"met {when}: existing {_amount(b, b.existing)} + {n:,} sites = "
                    f"{_amount(b, amt_plan)}{_pct(b, amt_plan)}, {_req(b)} required / 达标")
            status = head
        else:
            if potential < req_amt - _tol(b):
                why = (f"too few surveyed sites: even all of them give {_amount(b, potential)}"
                       f"{_pct(b, potential)} / 可用屋顶不足")
            else:
                lims = [f"{_fmt(max_kwp_per_year)} kWp" if max_kwp_per_year else "",
                        f"{max_capex_cny_per_year / 1e6:,.2f} million CNY" if max_capex_cny_per_year else ""]
                lim_txt = " and ".join(x for x in lims if x) or "none"
                why = (f"the per-year limits ({lim_txt} per year) leave too little room by {s.due_year} "
                       f"(all sites would give {_amount(b, potential)}) / 年度上限过紧")
            status = (f"NOT met {when}: {_amount(b, amt_plan)}{_pct(b, amt_plan)}, "
                      f"{_req(b)} required, {_amount(b, short)} short; {why} / 未达标")
        cap_row = s.kind == "capacity"
        rows.append({
            "target": s.name, "kind": s.kind, "definition": target_definition(s),
            "categories": ", ".join(s.categories), "year": int(s.year),
            "due_year": int(s.due_year), "passed": bool(s.passed), "phase": str(s.due_year), "unit": b.unit,
            "required": float(required), "achieved_existing": ach_e, "achieved_plan": ach_p, "met": met,
            "margin": margin, "shortfall": float(short), "n_sites": n, "status": status, "source": s.source,
            "required_kwp": float(required) if cap_row else np.nan,
            "existing_kwp": float(b.existing) if cap_row else np.nan,
            "planned_kwp": float(amt_plan - b.existing) if cap_row else np.nan,
            "achieved_kwp": float(amt_plan) if cap_row else np.nan,
            "margin_kwp": float(amt_plan - required) if cap_row else np.nan,
        })
    cols = ["target", "kind", "definition", "categories", "year", "due_year", "passed", "phase", "unit", "required",
            "achieved_existing", "achieved_plan", "met", "margin", "shortfall", "n_sites", "status", "source",
            "required_kwp", "existing_kwp", "planned_kwp", "achieved_kwp", "margin_kwp"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- ranking


def _score_keys(df: pd.DataFrame, score: str) -> tuple[pd.Series, list[str], list[bool]]:
    if score == "yield":
        return df["specific_yield_kwh_kwp"], ["specific_yield_kwh_kwp", "capacity_kwp"], [False, False]
    if score == "size":
        return df["capacity_kwp"], ["capacity_kwp", "specific_yield_kwh_kwp"], [False, False]
    if score == "cost":
        if "lcoe_cny_per_kwh" not in df.columns:
            raise InputError("plan: score = 'cost' needs the lcoe_cny_per_kwh column; run the "
                             "economics first (build_plan does)")
        return df["lcoe_cny_per_kwh"], ["lcoe_cny_per_kwh", "capacity_kwp"], [True, False]
    raise InputError(f"plan: score = {score!r} is not one of 'yield', 'size', 'cost'")


def rank_sites(sites: pd.DataFrame, *, priority_classes: Sequence[str], score: str = PlanConfig.score,
               pins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Order sites: pinned-in first, then class order, then score; pinned-out last.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per site with at least ``building_id``, ``category``, ``capacity_kwp``,
        ``specific_yield_kwh_kwp`` (and ``lcoe_cny_per_kwh`` for ``score='cost'``).
    priority_classes : sequence of str
        Categories in priority order.
    score : {'yield', 'size', 'cost'}
        Order within a class (see the module docstring).
    pins : pandas.DataFrame, optional
        ``building_id``, ``pin`` ('in' / 'out'); ids that are not sites are ignored.

    Returns
    -------
    pandas.DataFrame
        The sites in rank order with ``priority_class``, ``class_rank`` (1 = first class),
        ``score``, ``pinned`` ('in' / 'out' / '') and ``rank`` (1..n).
    """
    # the keys sorted in a small table of their own, then the sites taken once in that order (not a
    # copy of a city's sites, then a sorted copy of the copy)
    n_classes = len(priority_classes)
    class_of = {c: i + 1 for i, c in enumerate(priority_classes)}
    # decided once per distinct category (a missing one, code -1, ranks last like an unknown one)
    codes, uniq = pd.factorize(sites["category"].astype(str))
    class_rank = np.array([class_of.get(c, n_classes + 1) for c in uniq] + [n_classes + 1], dtype=int)[codes]
    score_col, keys, asc = _score_keys(sites, score)
    pinned = np.full(len(sites), "", dtype=object)
    if pins is not None and len(pins):
        pin_map = dict(zip(pins["building_id"].astype(str), pins["pin"]))  # the last pin of an id wins
        at = positions(list(pin_map), sites["building_id"])
        pinned[at >= 0] = np.asarray(list(pin_map.values()), dtype=object)[at[at >= 0]]
    pin_order = np.select([pinned == "in", pinned == "out"], [0, 2], 1)
    sort_keys = pd.DataFrame({"_pin_order": pin_order, "class_rank": class_rank,
                              **{k: sites[k].array for k in keys}, "building_id": sites["building_id"].array})
    order = sort_keys.sort_values(["_pin_order", "class_rank", *keys, "building_id"], ascending=[True, True, *asc, True],
                                  kind="mergesort", na_position="last").index.to_numpy()
    del sort_keys
    df = sites.take(order).reset_index(drop=True)
    df["priority_class"] = df["category"].astype(str)
    df["class_rank"] = class_rank[order]
    df["score"] = score_col.astype(float).to_numpy()[order]
    df["pinned"] = pd.Series(pinned[order], index=df.index, dtype=object)
    df["rank"] = np.arange(1, len(df) + 1)
    return df


def _bld(n: Any) -> str:
    return "building" if n == 1 else "buildings"


def _phase_years(phases: Sequence[Phase]) -> dict[str, int]:
    return {p.label: p.year for p in phases}


def coverage_table(plan: pd.DataFrame, buildings: pd.DataFrame, *, coverage_categories: Sequence[str],
                   new_building_from_year: int, coverage_year: int, coverage_target_frac: float,
                   coverage_definition: str, phases: Sequence[Phase], as_of_year: int,
                   module_kwp_per_m2: float) -> pd.DataFrame:
    """Coverage of new buildings by count and by area (district plan item 14).

    Parameters
    ----------
    plan : pandas.DataFrame
        Sites with ``building_id``, ``phase``, ``module_area_m2``, ``usable_area_m2``.
    buildings : pandas.DataFrame
        Every input building: ``building_id``, ``category``, ``year_built``, ``existing_pv_kwp``.
    coverage_categories : sequence of str
        Categories the target applies to.
    new_building_from_year : int
        First year of construction that counts as new. [yr]
    coverage_year : int
        Year of the target; phases with a year at or before it count. [yr]
    coverage_target_frac : float
        Target share. [0-1]
    coverage_definition : {'count', 'area'}
        The definition the target is checked on.
    phases : sequence of Phase
    as_of_year : int
        For reporting a passed target year. [yr]
    module_kwp_per_m2 : float
        Power density used to turn existing PV into module area. [kWp/m2]

    Returns
    -------
    pandas.DataFrame
        Two rows (``definition`` 'count', 'area'): ``checked``, ``year``, ``n_new_buildings``,
        ``n_with_pv`` (existing or planned by the year), ``pv_module_area_m2`` (by the year)
        and ``usable_area_m2`` (the same in both rows), ``share_frac`` (by the row's
        definition), ``share_with_plan_frac`` (all planned
        phases), ``target_frac``, ``met``, ``n_more_buildings`` (further buildings that would
        meet the target; NA if the surveyed roofs cannot), ``status``.
    """
    if coverage_definition not in ("count", "area"):
        raise InputError(f"plan: coverage_definition = {coverage_definition!r}; use 'count' or 'area'")
    b = buildings
    yb = pd.to_numeric(b["year_built"], errors="coerce")
    new = b[b["category"].isin(list(coverage_categories)) & (yb >= new_building_from_year).fillna(False)]
    years = _phase_years(phases)
    # each site's build year, decided once per distinct phase (none: never)
    codes, uniq = pd.factorize(plan["phase"])
    planned_ph = np.array([years.get(u, 10**9) for u in uniq] + [10**9], dtype=np.int64)[codes]
    plan_ids = plan["building_id"]
    ids = new["building_id"]
    has_existing = new["existing_pv_kwp"].to_numpy(float) > 0
    # hash look-ups of the new buildings among the plan's sites (in Arrow when the ids are Arrow text)
    in_year = member(ids, plan_ids[planned_ph <= coverage_year])
    in_plan = member(ids, plan_ids[planned_ph < 10**9])
    at = positions(plan_ids, ids)  # each new building's site row, -1 without one
    is_site = at >= 0
    n = len(ids)
    target = float(coverage_target_frac)
    passed = coverage_year < as_of_year
    when = f"{coverage_year} (year passed: existing PV only)" if passed else str(coverage_year)
    rows = []

    # by count
    covered = has_existing | in_year
    share = covered.sum() / n if n else np.nan
    share_plan = (has_existing | in_plan).sum() / n if n else np.nan
    need = max(0, math.ceil(target * n - 1e-9) - int(covered.sum()))
    cand = int((~covered & is_site).sum())
    more = need if need <= cand else pd.NA
    met = bool(n and share >= target - 1e-12)
    rows.append({
        "definition": "count", "year": int(coverage_year), "n_new_buildings": n,
        "n_with_pv": int(covered.sum()),
        "share_frac": share, "share_with_plan_frac": share_plan, "target_frac": target, "met": met,
        "n_more_buildings": more,
        "status": ("no new buildings of these categories / 无新建建筑" if n == 0 else
                   f"by {when}: {int(covered.sum())} of {n} new buildings have PV "
                   f"({share:.0%}, target {target:.0%}): " +
                   ("met / 达标" if met else
                    (f"{need} more {_bld(need)} needed / 还需 {need} 栋" if need <= cand else
                     f"{need} more needed but only {cand} have usable roofs / 屋顶不足")) +
                   f"; all planned phases give {share_plan:.0%}"),
    })

    # by area
    # per building: basis = usable roof area (at least the existing PV's module area, so a
    # building with PV but no kept roof counts as covered); covered area at most the basis
    mod = values_at(plan["module_area_m2"], ids, pos=at)
    usable = values_at(plan["usable_area_m2"], ids, pos=at)
    exist_m2 = new["existing_pv_kwp"].to_numpy(float) / module_kwp_per_m2
    basis_b = np.maximum(usable, exist_m2)
    cov_b = np.minimum(exist_m2 + np.where(in_year, mod, 0.0), basis_b)
    full_b = np.minimum(exist_m2 + mod, basis_b)
    basis = float(basis_b.sum())
    cov_m2 = float(cov_b.sum())
    cov_plan_m2 = float(np.minimum(exist_m2 + np.where(in_plan, mod, 0.0), basis_b).sum())
    share_a = cov_m2 / basis if basis > 0 else np.nan
    share_a_plan = cov_plan_m2 / basis if basis > 0 else np.nan
    met_a = bool(basis > 0 and share_a >= target - 1e-12)
    extra = np.sort((full_b - cov_b)[~in_year & is_site])[::-1]
    extra = extra[extra > 0]
    gap = target * basis - cov_m2
    if gap <= 0:
        more_a: Any = 0
    else:
        cum = np.cumsum(extra)
        k = int(np.searchsorted(cum, gap - 1e-9)) + 1
        more_a = k if k <= len(extra) else pd.NA
    rows.append({
        "definition": "area", "year": int(coverage_year), "n_new_buildings": n,
        "n_with_pv": int(covered.sum()),
        "share_frac": share_a, "share_with_plan_frac": share_a_plan, "target_frac": target,
        "met": met_a, "n_more_buildings": more_a,
        "status": ("no usable roof area on new buildings / 新建建筑无可用屋顶" if basis <= 0 else
                   f"by {when}: PV module area {cov_m2:,.0f} m2 of {basis:,.0f} m2 usable roof "
                   f"({share_a:.0%}, target {target:.0%}): " +
                   ("met / 达标" if met_a else
                    (f"{more_a} more {_bld(more_a)} needed (largest first) / 还需 {more_a} 栋"
                     if more_a is not pd.NA else "cannot be met with the surveyed roofs / 屋顶不足")) +
                   f"; all planned phases give {share_a_plan:.0%}"),
    })
    df = pd.DataFrame(rows)
    df.insert(1, "checked", df["definition"] == coverage_definition)
    df.insert(5, "pv_module_area_m2", cov_m2)
    df.insert(6, "usable_area_m2", basis)
    df["n_more_buildings"] = df["n_more_buildings"].astype("Int64")
    return df


def category_shares_table(plan: pd.DataFrame, buildings: pd.DataFrame, *, groups: Sequence[Any],
                          phases: Sequence[Phase], module_kwp_per_m2: float) -> pd.DataFrame:
    """Share of roof area carrying PV per category group, achieved vs required.

    Parameters
    ----------
    plan : pandas.DataFrame
        Sites with ``building_id``, ``phase``, ``usable_area_m2``.
    buildings : pandas.DataFrame
        Every input building: ``building_id``, ``category``, ``existing_pv_kwp``,
        ``roof_area_m2`` (footprint area).
    groups : sequence of objects with ``name``, ``categories``, ``min_share_frac``
        E.g. the NEA 2021 pilot minimum shares.
    phases : sequence of Phase
        Sites in these phases count as planned.
    module_kwp_per_m2 : float
        Power density turning existing PV into roof area. [kWp/m2]

    Returns
    -------
    pandas.DataFrame
        ``group, categories, n_buildings, roof_area_m2, pv_area_existing_m2,
        pv_area_planned_m2, achieved_frac, potential_frac (every surveyed site built),
        required_frac, met, gap_m2, status``. Per building the PV roof area is at most its
        roof area.
    """
    labels = [p.label for p in phases]
    site = plan.set_index("building_id")
    planned_m2 = site["usable_area_m2"].where(site["phase"].isin(labels), 0.0)
    potential_m2 = site["usable_area_m2"].where(site["phase"] != PINNED_OUT, 0.0)
    rows = []
    for g in groups:
        b = buildings[buildings["category"].isin(list(g.categories))]
        roof = b["roof_area_m2"].fillna(0.0).to_numpy(float)
        exist = b["existing_pv_kwp"].to_numpy(float) / module_kwp_per_m2
        at = positions(site.index, b["building_id"])  # planned_m2 and potential_m2 share the sites' index
        plan_b = values_at(planned_m2, b["building_id"], pos=at)
        pot_b = values_at(potential_m2, b["building_id"], pos=at)
        exist_c = np.minimum(exist, roof)
        achieved_m2 = np.minimum(exist + plan_b, roof).sum()
        potential = np.minimum(exist + pot_b, roof).sum()
        total = roof.sum()
        req = float(g.min_share_frac)
        frac = achieved_m2 / total if total > 0 else np.nan
        met = bool(total > 0 and frac >= req - 1e-12)
        gap = max(0.0, req * total - achieved_m2)
        if total <= 0:
            status = "no buildings of this group / 无此类建筑"
        elif met:
            status = f"{frac:.0%} of roof area carries PV, at least {req:.0%} required: met / 达标"
        else:
            pot_f = potential / total
            status = (f"{frac:.0%} of roof area carries PV, at least {req:.0%} required: "
                      f"{gap:,.0f} m2 short / 未达标" +
                      ("" if pot_f >= req - 1e-12 else
                       f"; even every surveyed roof gives only {pot_f:.0%}"))
        rows.append({
            "group": g.name, "categories": ", ".join(g.categories), "n_buildings": int(len(b)),
            "roof_area_m2": float(total), "pv_area_existing_m2": float(exist_c.sum()),
            "pv_area_planned_m2": float(achieved_m2 - exist_c.sum()),
            "achieved_frac": frac, "potential_frac": potential / total if total > 0 else np.nan,
            "required_frac": req, "met": met, "gap_m2": float(gap), "status": status,
        })
    cols = ["group", "categories", "n_buildings", "roof_area_m2", "pv_area_existing_m2",
            "pv_area_planned_m2", "achieved_frac", "potential_frac", "required_frac", "met",
            "gap_m2", "status"]
    return pd.DataFrame(rows, columns=cols)


#: Columns :func:`pv_survey.economics.economics_totals` reads (the totals :func:`mode_comparison` compares).
_TOTALS_COLUMNS = ["capacity_kwp", "annual_kwh", "capex_cny", "opex_cny_per_yr", "npv_cny", "co2_avoided_t_per_yr"]


def mode_comparison(plans: dict[str, pd.DataFrame], *, phases: Sequence[Phase], used: str,
                    params: EconomicsParams) -> pd.DataFrame:
    """Totals per phase and over all phases for each mode.

    Returns
    -------
    pandas.DataFrame
        ``mode, used, phase, n_sites, planned_kwp, annual_kwh, capex_cny, opex_cny_per_yr,
        npv_cny, lcoe_cny_per_kwh, co2_avoided_t_per_yr``; phase ``'all phases'`` totals.
    """
    rows = []
    labels = [p.label for p in phases]
    for mode, plan in plans.items():
        for lab in [*labels, "all phases"]:
            # the columns the totals read, not a copy of the plan per phase
            part = plan.loc[plan["phase"].isin(labels if lab == "all phases" else [lab]).to_numpy(), _TOTALS_COLUMNS]
            tot = economics_totals(part, params)
            tot.pop("co2_avoided_lifetime_t")
            rows.append({"mode": mode, "used": mode == used, "phase": lab, **tot})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- orchestration


def build_plan(
    sites: pd.DataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    settings: Any = None,
    economics: Any = None,
    module_kwp_per_m2: float = module_preset(RoofsConfig.module).kwp_per_m2,
    pins: pd.DataFrame | None = None,
    weather: Any = None,
) -> PlanResult:
    """Build the installation plan.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per building with kept roofs: :data:`SITE_COLUMNS`.
    buildings : pandas.DataFrame, optional
        Every input building (``building_id, category, year_built, existing_pv_kwp,
        roof_area_m2``); it gives the existing PV total, coverage and category shares. Without
        it the existing PV is taken from ``sites`` and those two tables are empty. A ``name``,
        ``owner`` or ``address`` the sites lack is taken from here for the plan's rows
        (:func:`pv_survey.sites.sites_from_roofs` with ``labels=False``).
    settings : pv_survey.config.PlanConfig, optional
        The plan section: priority classes, targets, plan and as-of years, the detailed
        coverage table's settings (:func:`coverage_table`), category shares
        (:func:`category_shares_table`), mode (``'priority'`` / ``'least-cost'``; both are
        computed for ``comparison``), score, per-year limits and the MILP time limit. None =
        its documented defaults.
    economics : EconomicsParams or pv_survey.config.EconomicsConfig, optional
        Economic parameters (a config section is unpacked with :meth:`EconomicsParams.from_config`);
        None = the documented defaults of the economics section.
    module_kwp_per_m2 : float
        Module power density, to express existing PV as area (= module efficiency x
        1 kW/m2). [kWp/m2]
    pins : pandas.DataFrame, optional
        ``building_id``, ``pin`` ('in' / 'out'), e.g. from :func:`read_pins`.
    weather : pv_survey.weather.Weather or str or Path, optional
        Weather year (or its file) for the time-of-use valuation when ``economics`` is a
        config section without ``hourly_profile_file``; None = the embedded default year.

    Returns
    -------
    PlanResult
        ``plan`` (one row per site in rank order: the sites columns, ``priority_class``,
        ``class_rank``, ``score``, ``priority_rank``, ``rank`` (row order), ``cumulative_kwp``,
        ``build_year`` (NA = not built), ``phase`` (the build year, 'reserve' or 'pinned out'),
        ``serves`` (targets the site helps meet), ``why``, ``pinned``, ``closes_passed`` and the
        economics columns incl. ``grid_class``), ``targets``, ``coverage``,
        ``category_shares``, ``comparison``, ``notes`` and the settings used.
    """
    from .config import EconomicsConfig, PlanConfig

    d = PlanConfig() if settings is None else settings
    priority_classes, targets = tuple(d.priority_classes), tuple(d.targets)
    plan_year, as_of_year = d.plan_year, d.as_of_year
    coverage_target_frac, coverage_year = d.coverage_target_frac, d.coverage_year
    new_building_from_year, coverage_categories = d.new_building_from_year, tuple(d.coverage_categories)
    coverage_definition, category_shares = d.coverage_definition, tuple(d.category_shares)
    mode, score, time_limit_s = d.mode, d.score, d.milp_time_limit_s
    max_kwp_per_year, max_capex_cny_per_year = d.max_kwp_per_year, d.max_capex_cny_per_year
    if isinstance(weather, (str, Path)):
        from .weather import read_weather
        weather = read_weather(weather) if str(weather) else None
    if economics is None:
        params = EconomicsParams.from_config(EconomicsConfig(), weather)
    elif isinstance(economics, EconomicsParams):
        params = economics
    else:  # an EconomicsConfig section
        params = EconomicsParams.from_config(economics, weather)
    if mode not in ("priority", "least-cost"):
        raise InputError(f"plan: mode = {mode!r}; use 'priority' or 'least-cost'")
    if not module_kwp_per_m2 > 0:
        raise InputError(f"plan: module_kwp_per_m2 = {module_kwp_per_m2}; it must be > 0")

    notes: list[str] = []
    # labels the sites lack, taken from the buildings for the plan's rows at the end
    from_buildings = [c for c in _SHOWN_COLUMNS if c not in sites.columns and buildings is not None
                      and c in buildings.columns and "building_id" in buildings.columns]
    labels = buildings[["building_id", *from_buildings]] if from_buildings else None
    df = _check_sites(sites)
    del sites  # a table handed over (the pipeline's) goes with the columns the check replaced
    # names, owners and addresses are only shown: they join the plan at the end rather than ride in each
    # of its working copies (the ranking, each mode's plan; 1,000,000 sites: ~0.12 GB a copy)
    shown = df[list(_SHOWN_COLUMNS)]
    df = df.drop(columns=list(_SHOWN_COLUMNS))
    if buildings is not None:
        bld = _check_buildings(buildings)
        existing_kwp = float(bld["existing_pv_kwp"].sum())
        n_exist = int((bld["existing_pv_kwp"] > 0).sum())
    else:
        bld = None
        existing_kwp = float(df["existing_pv_kwp"].sum())
        n_exist = int((df["existing_pv_kwp"] > 0).sum())
        notes.append("no buildings table given: existing PV taken from the sites only; "
                     "coverage and category shares not computed")
    notes.append(f"existing PV counted first: {existing_kwp:,.0f} kWp on {n_exist} buildings")

    # pins
    pins_ok = None
    if pins is not None and len(pins):
        pins_ok = check_pins(pins)
        known = set(df["building_id"])
        all_ids = set(bld["building_id"]) if bld is not None else known
        for bid, pin in zip(pins_ok["building_id"], pins_ok["pin"]):
            if bid not in known:
                why = "has no kept roof" if bid in all_ids else "is not among the input buildings"
                notes.append(f"pin '{pin}' for building {bid} ignored: the building {why}")
        pins_ok = pins_ok[pins_ok["building_id"].isin(known)]
        n_in = int((pins_ok["pin"] == "in").sum())
        n_out = int((pins_ok["pin"] == "out").sum())
        notes.append(f"pins applied: {n_in} in (built first), {n_out} out (never planned)")

    # sites with a constraint_reason (heritage / supertall roofs, issue 16) are held in reserve:
    # planned like pinned-out sites, then labelled reserve (a planner's pin 'in' wins)
    held = df.loc[df.get("constraint_reason", pd.Series("", index=df.index)).fillna("") != "", "building_id"]
    if pins_ok is not None:
        held = held[~held.isin(pins_ok["building_id"])]
    if len(held):
        notes.append(f"{len(held)} sites with a constraint (heritage, supertall roof) held in reserve")
        pins_ok = pd.concat([pins_ok if pins_ok is not None else pd.DataFrame(columns=["building_id", "pin"]),
                             pd.DataFrame({"building_id": held.to_numpy(), "pin": "out"})], ignore_index=True)

    unknown = sorted(set(df["category"]) - set(priority_classes))
    if unknown:
        notes.append(f"categories not in the priority classes rank last: {', '.join(unknown)}")

    # economics per site (independent of the ranking)
    econ = site_economics(df["capacity_kwp"], df["annual_kwh"], df["category"], params)
    for col in ECONOMICS_COLUMNS:
        df[col] = econ[col].to_numpy()

    first_year = int(as_of_year) + 1
    specs = [target_spec(t, first_year=first_year) for t in targets]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"plan: two targets share a name ({names}); give each target its own name")
    years = schedule_years(specs, as_of_year=as_of_year)
    passed = [s for s in specs if s.passed]
    if passed:
        notes.append(f"the plan dates from {plan_year}; as of {as_of_year} the target year(s) "
                     f"{', '.join(sorted({str(s.year) for s in passed}))} have passed: their shortfall "
                     f"is closed in {first_year}, the first build year")
    if not specs:
        notes.append("no targets: every site is reserve")
    b_for_targets = bld if bld is not None else pd.DataFrame({
        "building_id": df["building_id"], "category": df["category"], "year_built": df["year_built"],
        "existing_pv_kwp": df["existing_pv_kwp"], "roof_area_m2": df["roof_area_m2"]})
    bases = target_bases(specs, df, b_for_targets, module_kwp_per_m2=module_kwp_per_m2)
    phases = schedule_phases(bases, years)
    lim = dict(max_kwp_per_year=float(max_kwp_per_year or 0.0),
               max_capex_cny_per_year=float(max_capex_cny_per_year or 0.0))
    if lim["max_kwp_per_year"] or lim["max_capex_cny_per_year"]:
        notes.append(f"per-year limits: {lim['max_kwp_per_year']:,.0f} kWp, "
                     f"{lim['max_capex_cny_per_year'] / 1e6:,.2f} million CNY (0 = none)")

    ranked = rank_sites(df, priority_classes=priority_classes, score=score, pins=pins_ok)
    # the ranking holds every column of the sites, in its own order: the sites' table goes (with the
    # pipeline's sites handed over, its columns are held by it alone); their ids stay for joining the
    # shown columns at the end
    site_ids = df["building_id"]
    del df
    score_basis = {"yield": "specific yield (kWh/kWp), then size",
                   "size": "capacity (kWp), then specific yield",
                   "cost": "LCOE (CNY/kWh, lowest first), then size"}[score]
    passed_years = {s.name: s.year for s in passed}
    build_p, serves_p, why_p, pnotes = priority_schedule(ranked, bases, years, **lim)
    notes += pnotes

    def plan_of(m: str, build, serves=None, why=None) -> pd.DataFrame:
        if m == mode:
            return _order_plan(ranked, build, serves, why, existing_kwp, passed_years)
        # the mode not used is only compared (mode_comparison): its rows in plan order with their phase
        # and the columns the totals read, not a second plan of a city's sites (1,000,000 buildings:
        # ~0.2 GB with the texts of every row)
        order, build_o, is_out = _plan_order(ranked, build)
        part = ranked[["building_id", *_TOTALS_COLUMNS]].take(order).reset_index(drop=True)
        part["phase"] = _phase_labels(build_o, is_out)
        return part

    plans = {"priority": plan_of("priority", build_p, serves_p, why_p)}
    build_l, lc_status = least_cost_schedule(ranked, bases, years, time_limit_s=time_limit_s, **lim)
    if build_l is None:
        notes.append(f"least-cost schedule: {lc_status}; the priority schedule stands in for it")
        build_l = build_p
    else:
        notes.append(f"least-cost schedule over {len(years)} build years ({years[0]}-{years[-1]}): {lc_status}")
    serves_l, why_l = _serves_why(ranked, build_l, bases, years) if mode == "least-cost" else (None, None)
    plans["least-cost"] = plan_of("least-cost", build_l, serves_l, why_l)
    if len(held):  # constraint-held sites (issue 16) stay in reserve, with their reason
        reason = ranked.set_index("building_id")["constraint_reason"].astype(str)
        for key, p in plans.items():
            is_held = member(p["building_id"], held)
            p.loc[is_held, "phase"] = RESERVE
            if key == mode:  # the plan's own rows say why
                p.loc[is_held, "pinned"] = ""
                p.loc[is_held, "why"] = "reserve: " + p.loc[is_held, "building_id"].map(reason)
        del p

    # the ranking, then the other mode's plan go before the plan's columns are put in order (a city's
    # sites are copied in each: 1,000,000 buildings, ~0.25-0.45 GB a copy)
    del ranked
    comparison = mode_comparison(plans, phases=phases, used=mode, params=params)
    plan = plans.pop(mode)
    del plans
    at = positions(site_ids, plan["building_id"])
    del site_ids
    for c in _SHOWN_COLUMNS:
        plan[c] = shown[c].array.take(at)
    del shown
    if labels is not None:
        at_b = first_positions(labels["building_id"], plan["building_id"])  # a repeated id: its first row
        rows = np.maximum(at_b, 0)
        missing = at_b < 0  # a site whose building is not in the table: no label, as without one
        for c in from_buildings:
            col = pd.Series(labels[c].array.take(rows) if len(labels) else [""] * len(rows), copy=False)
            if missing.any():
                col = col.astype(object)
                col[missing] = ""
            plan[c] = col.array
        del labels
    lead = ("priority_class", "class_rank", "score", "priority_rank", "rank", "cumulative_kwp", "build_year",
            "phase", "serves", "why", "pinned", "closes_passed")
    cols = [c for c in SITE_COLUMNS if c in plan.columns]
    extra = [c for c in plan.columns if c not in cols and c not in ECONOMICS_COLUMNS and c not in lead]
    plan = plan[[*cols, *extra, *lead, *ECONOMICS_COLUMNS]].reset_index(drop=True)
    for c in ("pinned", "phase", "closes_passed", "serves", "why"):
        plan[c] = plan[c].astype(str)

    tt = targets_table(plan, bases, as_of_year=as_of_year, **lim)
    for r in tt.itertuples():
        if r.met == "no":
            notes.append(f"target '{r.target}' cannot be met: {r.status}")
    if bld is not None:
        cov = coverage_table(plan, bld, coverage_categories=coverage_categories,
                             new_building_from_year=new_building_from_year, coverage_year=coverage_year,
                             coverage_target_frac=coverage_target_frac,
                             coverage_definition=coverage_definition, phases=phases,
                             as_of_year=first_year, module_kwp_per_m2=module_kwp_per_m2)
        n_na = int(pd.isna(bld["year_built"]).sum())
        if n_na:
            notes.append(f"{n_na} buildings have no year_built and are not counted as new")
        shares = category_shares_table(plan, bld, groups=category_shares, phases=phases,
                                       module_kwp_per_m2=module_kwp_per_m2)
    else:
        cov = pd.DataFrame()
        shares = pd.DataFrame()
    notes.append(f"within a class, sites are ordered by {score_basis}; mode: {mode}")
    notes.append(f"CO2 avoided uses {params.grid_emission_factor_t_per_mwh} tCO2/MWh "
                 f"({params.grid_emission_factor_source or 'source not given'})")
    return PlanResult(plan=plan, targets=tt, coverage=cov, category_shares=shares,
                      comparison=comparison, notes=notes, mode=mode, score_basis=score_basis,
                      existing_kwp=existing_kwp, as_of_year=int(as_of_year), phases=list(phases),
                      economics=params)


# --------------------------------------------------------------------------- summary


def _site_names(part: pd.DataFrame, k: int = 3) -> str:
    top = part.sort_values("capacity_kwp", ascending=False, kind="mergesort").head(k)
    def given(v) -> str:
        t = "" if v is None else str(v).strip()
        return "" if t in ("nan", "<NA>", "None") else t

    # never blank: the name, else the address, else the building id (as the shortlists)
    names = [f"{given(getattr(r, 'name', '')) or given(getattr(r, 'address', '')) or r.building_id} "
             f"({r.building_id}, {r.capacity_kwp:,.0f} kWp)" for r in top.itertuples()]
    return "; ".join(names)


def plan_summary_lines(result: PlanResult) -> list[str]:
    """Plain-words sentences for the summary: each target, each phase, modes, coverage, economics.

    Parameters
    ----------
    result : PlanResult

    Returns
    -------
    list of str
        One sentence per line, no Markdown list markers.
    """
    lines = [f"Existing PV counts first: {result.existing_kwp:,.0f} kWp."]
    plan = result.plan
    for r in result.targets.itertuples():
        verdict = {"yes": "met", "n/a": "not applicable"}.get(str(r.met), "NOT met")
        req = f"{r.required:,.0f} kWp" if r.kind == "capacity" else f"{r.required:.0%} {r.kind}"
        lines.append(f"Target '{r.target}' ({req} by {r.year}): {verdict} — {r.status}.")
    built = result.existing_kwp
    for ph in result.phases:
        part = plan[plan["phase"] == ph.label]
        if not len(part):
            lines.append(f"Build year {ph.label}: no new sites.")
            continue
        built += float(part["capacity_kwp"].sum())
        mix = part["priority_class"].value_counts(sort=False)
        mix_s = ", ".join(f"{c} {n}" for c, n in mix.items())
        pinned = int((part["pinned"] == "in").sum())
        lines.append(
            f"Build year {ph.label}: {len(part)} sites, {part['capacity_kwp'].sum():,.0f} kWp new "
            f"({mix_s}){f', {pinned} pinned in' if pinned else ''}; largest: {_site_names(part)}."
        )
    reserve = (plan["phase"] == RESERVE).to_numpy(dtype=bool)  # a city's reserve: counted, not copied
    lines.append(f"Reserve: {int(reserve.sum()):,} further sites, "
                 f"{plan.loc[reserve, 'capacity_kwp'].sum():,.0f} kWp.")
    n_out = int((plan["phase"] == PINNED_OUT).sum())
    if n_out:
        lines.append(f"Pinned out by the planner: {n_out} sites, never planned.")
    cmp_ = result.comparison
    if len(cmp_):
        tot = cmp_[cmp_["phase"] == "all phases"].set_index("mode")
        if {"priority", "least-cost"} <= set(tot.index) and tot.loc["priority", "capex_cny"] > 0:
            p, c = tot.loc["priority"], tot.loc["least-cost"]
            saving = 1 - c["capex_cny"] / p["capex_cny"]
            change = f"{saving:.1%} less" if saving >= 0 else f"{-saving:.1%} more"
            lines.append(
                f"Modes: priority order needs CAPEX {p['capex_cny'] / 1e6:,.2f} million CNY for "
                f"{p['planned_kwp']:,.0f} kWp on {int(p['n_sites']):,} sites; least-cost "
                f"{c['capex_cny'] / 1e6:,.2f} million CNY for {c['planned_kwp']:,.0f} kWp on "
                f"{int(c['n_sites']):,} sites ({change}). The plan uses {result.mode}.")
        used = tot.loc[result.mode] if result.mode in tot.index else None
        if used is not None and used["n_sites"] > 0:
            npv = used["npv_cny"]
            lines.append(
                f"Economics of the planned phases: CAPEX {used['capex_cny'] / 1e6:,.2f} million CNY, "
                f"LCOE {used['lcoe_cny_per_kwh']:.3f} CNY/kWh, NPV {npv / 1e6:,.2f} million CNY, "
                f"{used['annual_kwh'] / 1e3:,.0f} MWh/yr avoiding {used['co2_avoided_t_per_yr']:,.0f} tCO2/yr "
                f"(grid factor {result.economics.grid_emission_factor_t_per_mwh} t/MWh).")
    if len(result.coverage):
        for r in result.coverage.itertuples():
            tag = " (the definition checked)" if r.checked else ""
            lines.append(f"Coverage of new public and factory buildings by {r.definition}{tag}: {r.status}.")
    if len(result.category_shares):
        for r in result.category_shares.itertuples():
            lines.append(f"Roof share {r.group}: {r.status}.")
    return lines


def plan_totals(result: PlanResult) -> dict[str, Any]:
    """Headline numbers of the plan used, for the summary and batch comparisons.

    Returns
    -------
    dict
        ``mode``, ``n_sites``, ``planned_kwp`` [kWp], ``capex_cny`` [CNY], ``npv_cny`` [CNY],
        ``lcoe_cny_per_kwh`` [CNY/kWh] of the built sites; ``priority_capex_cny`` and
        ``least_cost_capex_cny`` [CNY]; ``sites_per_year`` {build year: sites}.
    """
    cmp_ = result.comparison
    out: dict[str, Any] = {"mode": result.mode}
    if len(cmp_):
        tot = cmp_[cmp_["phase"] == "all phases"].set_index("mode")
        used = tot.loc[result.mode]
        out.update(n_sites=int(used["n_sites"]), planned_kwp=float(used["planned_kwp"]),
                   capex_cny=float(used["capex_cny"]), npv_cny=float(used["npv_cny"]),
                   lcoe_cny_per_kwh=float(used["lcoe_cny_per_kwh"]))
        for m in ("priority", "least-cost"):
            if m in tot.index:
                out[f"{m.replace('-', '_')}_capex_cny"] = float(tot.loc[m, "capex_cny"])
    out["sites_per_year"] = {ph.label: int((result.plan["phase"] == ph.label).sum()) for ph in result.phases}
    return out


# --------------------------------------------------------------------------- hourly profiles


#: Sites simulated per batch of the hourly profiles: one batch's accumulator is
#: (sites x 8,760 hours) float64, about 35 MB (project choice).
HOURLY_SITES_PER_BATCH = 512


@dataclass
class HourlyPlan:
    """8,760-hour AC profiles of the plan's build phases (hours of the weather year).

    Attributes
    ----------
    sites : DataFrame
        Hourly AC energy of each build-year site (weather timestamps x building_id, rank order). [kWh]
    phases : DataFrame
        Hourly AC energy per build phase (columns: phase labels, build-year order), each the sum
        of its sites. [kWh]
    district : Series
        Hourly AC energy of every build-year site, the sum of the phases. [kWh]
    site_info : DataFrame
        ``building_id, rank, name, phase, annual_kwh`` of the sites, in column order of ``sites``.
    scale : numpy.ndarray
        Scale of each simulated roof from its median horizon to its assessed year (see
        :func:`pv_survey.energy.hourly_profiles_of_kept`). [-]
    """

    sites: pd.DataFrame
    phases: pd.DataFrame
    district: pd.Series
    site_info: pd.DataFrame
    scale: np.ndarray
    #: Hourly AC energy of every kept surface of each other resource (``<name>_kwh`` columns:
    #: facades, carports), reported beside the plan as their totals are; None without them. [kWh]
    resources: pd.DataFrame | None = None


def resource_hourly(layers: dict, weather: Any, *, params_by_name: dict,
                    flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg) -> pd.DataFrame | None:
    """Hourly AC energy of every kept surface of the other resources, one column per resource.

    Facades and carports are reported beside the rooftop plan (not planned, no build year);
    their hours come from the same light pass as the sites'
    (:func:`pv_survey.energy.hourly_profiles_of_kept`), each surface's year equal to its
    assessed ``annual_kwh``.

    Parameters
    ----------
    layers : dict
        Resource name -> its assessed surfaces (``excluded_reason``, ``annual_kwh`` and the
        columns of :func:`pv_survey.energy.roof_table_inputs`).
    weather : pv_survey.weather.Weather
    params_by_name : dict
        Resource name -> keywords of :func:`pv_survey.energy.simulate_roofs` (the run's energy
        section with the resource's own overrides, e.g. the facades' temperature model).
    flat_max_tilt_deg : float
        See :func:`pv_survey.energy.roof_table_inputs`. [deg]

    Returns
    -------
    DataFrame or None
        Weather timestamps x ``<name>_kwh`` [kWh]; None when ``layers`` is empty.
    """
    from .energy import hourly_profiles_of_kept

    cols = {}
    for name, frame in layers.items():
        kept = frame[frame["excluded_reason"].fillna("").to_numpy() == ""]
        hourly, _ = hourly_profiles_of_kept(kept, weather, np.zeros(len(kept), np.int64),
                                            flat_max_tilt_deg=flat_max_tilt_deg, where=name,
                                            **params_by_name.get(name, {}))
        cols[f"{name}_kwh"] = hourly.reindex(columns=[0], fill_value=0.0)[0].to_numpy()
    return pd.DataFrame(cols, index=weather.data.index) if cols else None


def plan_hourly(plan: pd.DataFrame, roofs: pd.DataFrame, weather: Any, *, energy_params: dict,
                flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg,
                sites_per_batch: int = HOURLY_SITES_PER_BATCH) -> HourlyPlan:
    """Hourly AC profiles of the build-year sites, summed per build phase and for the district.

    A site is one building's kept roofs (as in the plan); each roof's hours come from
    :func:`pv_survey.energy.hourly_profiles_of_kept` (its median horizon, scaled to its
    assessed year), so a site's hours add up to its ``annual_kwh`` in the plan. Sites are
    simulated ``sites_per_batch`` at a time; the phase sums are accumulated batch by batch.

    Parameters
    ----------
    plan : DataFrame
        The plan (``building_id``, ``rank``, ``phase``, ``build_year``, ``annual_kwh``, ``name``).
    roofs : DataFrame
        Every roof plane with ``building_id``, ``excluded_reason`` and the columns of
        :func:`pv_survey.energy.roof_table_inputs` (the survey's roofs table).
    weather : pv_survey.weather.Weather
        The run's weather year.
    energy_params : dict
        Keywords of :func:`pv_survey.energy.simulate_roofs` (the run's energy section).
    flat_max_tilt_deg : float
        See :func:`pv_survey.energy.roof_table_inputs`. [deg]
    sites_per_batch : int
        Sites per batch (memory bound).

    Returns
    -------
    HourlyPlan
    """
    from .energy import hourly_profiles_of_kept

    phase = plan["phase"].fillna("").astype(str)
    is_built = (plan["build_year"].notna().to_numpy() if "build_year" in plan
                else ~phase.isin(["", RESERVE, PINNED_OUT]).to_numpy())
    built = plan[is_built]
    built = built.sort_values("rank", kind="stable") if "rank" in built else built
    by_year = built.sort_values("build_year" if "build_year" in built else "phase", kind="stable")
    labels = [str(p) for p in dict.fromkeys(by_year["phase"].astype(str))]
    index = weather.data.index
    phases = pd.DataFrame(np.zeros((len(index), len(labels))), index=index, columns=labels)
    kept = roofs[roofs["excluded_reason"].fillna("").to_numpy() == ""]
    ids = built["building_id"].astype(str).to_numpy()
    site_of = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    roof_site = site_of.reindex(kept["building_id"].astype(str).to_numpy()).fillna(-1).to_numpy(np.int64)
    parts, scales = [], []
    step = max(int(sites_per_batch), 1)
    phase_of = built["phase"].astype(str).to_numpy()
    for start in range(0, len(ids), step):
        stop = min(start + step, len(ids))
        in_batch = (roof_site >= start) & (roof_site < stop)
        hourly, scale = hourly_profiles_of_kept(kept[in_batch], weather, roof_site[in_batch] - start,
                                                flat_max_tilt_deg=flat_max_tilt_deg, where="roofs",
                                                **energy_params)
        hourly = hourly.reindex(columns=pd.RangeIndex(stop - start), fill_value=0.0)
        hourly.columns = ids[start:stop]
        for lab in labels:  # phase sums, batch by batch
            cols = np.flatnonzero(phase_of[start:stop] == lab)
            if cols.size:
                phases[lab] += hourly.iloc[:, cols].sum(axis=1).to_numpy()
        parts.append(hourly)
        scales.append(scale)
    sites = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=index)
    info_cols = [c for c in ("building_id", "rank", "name", "address", "phase", "annual_kwh") if c in built]
    info = pd.DataFrame(built[info_cols]).reset_index(drop=True)
    return HourlyPlan(sites=sites, phases=phases, district=phases.sum(axis=1).rename("district_kwh"),
                      site_info=info, scale=np.concatenate(scales) if scales else np.zeros(0))


def hourly_note(hourly: HourlyPlan) -> str:
    """Plain-words note of how the hourly profiles were made and how far the roofs' scales spread."""
    k = hourly.scale[np.isfinite(hourly.scale)]
    n_sites = hourly.sites.shape[1]
    if k.size == 0:
        return f"hourly profiles: {n_sites} build-year sites, no roof simulated"
    return (f"hourly profiles: {n_sites:,} build-year sites ({k.size:,} roofs) over {len(hourly.sites.index):,} "
            f"hours; each roof's hours from its median horizon profile, scaled to its assessed year "
            f"(scale {k.min():.3f}-{k.max():.3f}, median {np.median(k):.4f})")
