"""The installation plan: ranking, phases, targets, coverage, category shares and economics.

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
Cumulative capacity
    ``cumulative_kwp`` = existing PV of every input building + new capacity of the sites up to
    and including this one, in rank order (NaN for pinned-out sites).
Targets and phases
    A target whose year is before ``as_of_year`` has **passed**: it is reported as met or not
    by the existing PV, and its shortfall is the first thing the first phase must close (the
    sites that close it are marked in ``closes_passed``). Every other target opens a phase,
    labelled by its year, whose threshold is the largest capacity required by it or by any
    earlier target. A site belongs to the first phase whose threshold the cumulative capacity
    *before* it has not reached, so the site that crosses a threshold is in that phase; sites
    after the last threshold are ``'reserve'``. A pinned-in site is never reserve (it goes to
    the last phase at worst). If every target has passed, one ``'catch-up'`` phase closes the
    largest passed target.
Least-cost mode (``mode='least-cost'``)
    Phase by phase, in order: with ``S`` = threshold - (existing + everything already
    planned, pins included), choose the set of remaining sites of least total CAPEX whose
    capacity is at least ``S`` (binary MILP, :func:`least_cost_select`, solved with
    ``scipy.optimize.milp`` / HiGHS), subject to class priority: *a site of a class may be
    chosen only if every remaining site of every higher class is chosen*. So at most one class
    (the marginal one) is partly used; only the choice inside it differs from priority mode,
    and the MILP is solved on that class alone (an exact reduction, proved in
    :func:`least_cost_select`), to a relative gap of 1e-6. If the remaining sites cannot
    reach ``S`` all are chosen. Each phase is optimal given the earlier phases (a sequence of
    per-phase MILPs, not a joint optimum over all phases).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .economics import ECONOMICS_COLUMNS, EconomicsParams, economics_totals, site_economics
from .errors import InputError, InputFileError

__all__ = [
    "Phase",
    "PlanResult",
    "SITE_COLUMNS",
    "read_pins",
    "check_pins",
    "phase_schedule",
    "rank_sites",
    "assign_phases",
    "least_cost_select",
    "least_cost_phases",
    "targets_table",
    "coverage_table",
    "category_shares_table",
    "mode_comparison",
    "build_plan",
    "plan_summary_lines",
]

#: Columns of the ``sites`` table handed over by the pipeline.
SITE_COLUMNS = (
    "building_id", "name", "category", "owner", "address", "year_built", "existing_pv_kwp",
    "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp", "usable_area_m2", "module_area_m2",
    "roof_area_m2",
)
_SITE_NUMERIC = ("existing_pv_kwp", "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp",
                 "usable_area_m2", "module_area_m2", "roof_area_m2")
_SITE_REQUIRED = ("building_id", "category", "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp",
                  "usable_area_m2", "module_area_m2")
_BUILDING_REQUIRED = ("building_id", "category", "year_built", "existing_pv_kwp", "roof_area_m2")

RESERVE = "reserve"
PINNED_OUT = "pinned out"
_TOL_KWP = 1e-6  # capacity comparisons tolerate float round-off [kWp]


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
        UTF-8 CSV (a BOM is accepted); further columns (e.g. a reason) are kept.

    Returns
    -------
    pandas.DataFrame
        ``building_id`` (str), ``pin`` ('in' or 'out') and any further columns.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: pins file not found; give a CSV with columns building_id, pin")
    try:
        df = pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
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
    df = sites.copy().reset_index(drop=True)
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
    df = pd.DataFrame({
        "building_id": buildings["building_id"].astype(str).to_numpy(),
        "category": buildings["category"].astype(str).to_numpy(),
        "year_built": pd.to_numeric(buildings["year_built"], errors="coerce").astype("Float64").to_numpy(),
        "existing_pv_kwp": pd.to_numeric(buildings["existing_pv_kwp"], errors="coerce").fillna(0.0).to_numpy(float),
        "roof_area_m2": pd.to_numeric(buildings["roof_area_m2"], errors="coerce").to_numpy(float),
    })
    if (df["existing_pv_kwp"] < 0).any():
        i = int(np.flatnonzero(df["existing_pv_kwp"] < 0)[0])
        raise InputError(f"plan: building {df['building_id'].iloc[i]!r} has existing_pv_kwp = "
                         f"{df['existing_pv_kwp'].iloc[i]}; it must be >= 0")
    return df


# --------------------------------------------------------------------------- phases


def phase_schedule(targets: Sequence[Any], *, as_of_year: int) -> list[Phase]:
    """Phases from the targets: one per target not yet passed.

    Parameters
    ----------
    targets : sequence of objects with ``name``, ``year``, ``capacity_kwp``
        The district's capacity targets. [-, yr, kWp]
    as_of_year : int
        Targets whose year is before this have passed and open no phase. [yr]

    Returns
    -------
    list of Phase
        In year order; thresholds are the running maximum of the required capacities, so a
        later phase also delivers every earlier (including passed) target. If every target
        has passed, one ``'catch-up'`` phase closes the largest of them.
    """
    ts = sorted(targets, key=lambda t: t.year)
    if not ts:
        return []
    future = [t for t in ts if t.year >= as_of_year]
    years = [t.year for t in future]
    phases = []
    running = max((t.capacity_kwp for t in ts if t.year < as_of_year), default=0.0)
    passed_names = tuple(t.name for t in ts if t.year < as_of_year)
    for t in future:
        running = max(running, t.capacity_kwp)
        label = str(t.year) if years.count(t.year) == 1 else t.name
        names = (passed_names if not phases else ()) + (t.name,)
        phases.append(Phase(label, int(t.year), float(running), names))
    if not phases:
        phases.append(Phase("catch-up", int(as_of_year), float(running), passed_names))
    return phases


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


def rank_sites(sites: pd.DataFrame, *, priority_classes: Sequence[str], score: str = "yield",
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
    df = sites.copy().reset_index(drop=True)
    order = {c: i + 1 for i, c in enumerate(priority_classes)}
    df["priority_class"] = df["category"].astype(str)
    df["class_rank"] = df["priority_class"].map(lambda c: order.get(c, len(order) + 1)).astype(int)
    score_col, keys, asc = _score_keys(df, score)
    df["score"] = score_col.astype(float)
    pin_map = {} if pins is None else dict(zip(pins["building_id"].astype(str), pins["pin"]))
    df["pinned"] = df["building_id"].astype(str).map(lambda b: pin_map.get(b, "")).astype(object)
    df["_pin_order"] = df["pinned"].map({"in": 0, "": 1, "out": 2}).astype(int)
    df = df.sort_values(["_pin_order", "class_rank", *keys, "building_id"],
                        ascending=[True, True, *asc, True], kind="mergesort", na_position="last")
    df = df.drop(columns="_pin_order").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    return df


def _cumulate(df: pd.DataFrame, existing_kwp: float) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative after, cumulative before) in row order; pinned-out rows add nothing."""
    cap = np.where(df["pinned"].to_numpy() == "out", 0.0, df["capacity_kwp"].to_numpy(float))
    after = existing_kwp + np.cumsum(cap)
    return after, after - cap


def _closes_passed(df: pd.DataFrame, before: np.ndarray, passed: Sequence[Any]) -> np.ndarray:
    """Labels of the passed targets whose shortfall each site (in rank order) helps close."""
    labels = np.full(len(df), "", dtype=object)
    is_out = df["pinned"].to_numpy() == "out"
    for t in passed:
        hit = (before < t.capacity_kwp - _TOL_KWP) & ~is_out
        labels[hit] = [f"{lab}, {t.year}" if lab else str(t.year) for lab in labels[hit]]
    return labels


def assign_phases(ranked: pd.DataFrame, *, existing_kwp: float, phases: Sequence[Phase]) -> pd.DataFrame:
    """Cumulative capacity and phase of each site, in the given (rank) order.

    Parameters
    ----------
    ranked : pandas.DataFrame
        Sites in rank order with ``capacity_kwp`` and ``pinned``.
    existing_kwp : float
        Installed PV counted before the first site. [kWp]
    phases : sequence of Phase
        From :func:`phase_schedule`.

    Returns
    -------
    pandas.DataFrame
        ``ranked`` plus ``cumulative_kwp`` [kWp] (NaN for pinned-out sites) and ``phase``: the
        first phase whose threshold the cumulative capacity before the site has not reached,
        ``'reserve'`` after the last one (never for a pinned-in site), ``'pinned out'``.
    """
    df = ranked.copy()
    after, before = _cumulate(df, existing_kwp)
    phase = np.full(len(df), RESERVE, dtype=object)
    for ph in reversed(list(phases)):
        phase[before < ph.threshold_kwp - _TOL_KWP] = ph.label
    is_in = df["pinned"].to_numpy() == "in"
    if phases:
        phase[is_in & (phase == RESERVE)] = phases[-1].label
    is_out = df["pinned"].to_numpy() == "out"
    phase[is_out] = PINNED_OUT
    df["cumulative_kwp"] = np.where(is_out, np.nan, after)
    df["phase"] = phase
    return df


# --------------------------------------------------------------------------- least cost


def least_cost_select(capacity_kwp, cost_cny, class_rank, shortfall_kwp: float, *,
                      time_limit_s: float = 60.0, mip_rel_gap: float = 1e-6,
                      reduce: bool = True) -> tuple[np.ndarray, str]:
    """Cheapest set of sites reaching a capacity, keeping class priority (binary MILP).

    The problem: minimise ``sum_i cost_i x_i`` over binary ``x`` subject to
    ``sum_i capacity_i x_i >= shortfall`` and the class rule *a site of a class may be
    chosen only if every site of every higher class is chosen*. As a MILP (``reduce=False``):
    for each class ``m`` after the first one present, a class-used variable ``u_m`` with
    ``x_i <= u_m`` for the sites of class ``m`` and ``u_m <= x_j`` for every site of the class
    before it; chained, these constraints are the class rule.

    With ``reduce=True`` (default) the same optimum is found on a smaller problem. Let
    ``k*`` be the first class at which the capacity of it and every higher class reaches the
    shortfall. A feasible choice that uses no class beyond ``k*`` must take every class
    before ``k*`` whole; one that uses a class beyond ``k*`` contains all of class ``k*``
    too, so (costs being >= 0) it costs no less than taking class ``k*`` whole, which is
    itself feasible. Hence an optimum takes every class before ``k*``, nothing after it, and
    the cheapest subset of class ``k*`` covering the rest: a one-class knapsack-cover MILP.

    Parameters
    ----------
    capacity_kwp : array_like
        Capacity of each candidate site. [kWp]
    cost_cny : array_like
        Cost of building each site (CAPEX), >= 0. [CNY]
    class_rank : array_like of int
        Priority class of each site, 1 = first.
    shortfall_kwp : float
        Capacity to reach. [kWp]
    time_limit_s : float
        Solver time limit; on time-out the best solution found is used. [s]
    mip_rel_gap : float
        Relative optimality gap at which HiGHS stops: the cost found is within this share of
        the optimum (1e-6 of a 20 million CNY phase is 20 CNY). [-]
    reduce : bool
        Solve the reduced one-class problem (exact, faster) instead of the full MILP.

    Returns
    -------
    chosen : numpy.ndarray of bool
        The sites to build.
    status : str
        ``'none needed'``, ``'no sites left'``, ``'optimal'``, ``'all sites (not enough
        capacity)'``, or a description of a solver time-out / fallback.
    """
    cap = np.asarray(capacity_kwp, dtype=float)
    cost = np.asarray(cost_cny, dtype=float)
    cls = np.asarray(class_rank, dtype=int)
    n = cap.size
    if shortfall_kwp <= _TOL_KWP:
        return np.zeros(n, dtype=bool), "none needed"
    if n == 0:
        return np.zeros(0, dtype=bool), "no sites left"
    if cap.sum() < shortfall_kwp - _TOL_KWP:
        return np.ones(n, dtype=bool), "all sites (not enough capacity)"
    if (cost < 0).any():
        raise InputError(f"plan: least-cost selection needs costs >= 0, got {cost.min()}")
    if not reduce:
        return _milp_class_ordered(cap, cost, cls, shortfall_kwp, time_limit_s, mip_rel_gap)
    present = np.unique(cls)
    cum = np.cumsum([cap[cls == k].sum() for k in present])
    km = int(np.searchsorted(cum, shortfall_kwp - _TOL_KWP))
    chosen = cls < present[km]
    rest = shortfall_kwp - float(cap[chosen].sum())
    marg = np.flatnonzero(cls == present[km])
    sub, status = _milp_class_ordered(cap[marg], cost[marg], cls[marg], rest, time_limit_s, mip_rel_gap)
    chosen[marg[sub]] = True
    return chosen, status


def _milp_class_ordered(cap: np.ndarray, cost: np.ndarray, cls: np.ndarray, shortfall_kwp: float,
                        time_limit_s: float, mip_rel_gap: float) -> tuple[np.ndarray, str]:
    """The full MILP of :func:`least_cost_select` (see there)."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = cap.size
    if shortfall_kwp <= _TOL_KWP:
        return np.zeros(n, dtype=bool), "none needed"
    present = np.unique(cls)
    n_u = len(present) - 1
    rows: list[np.ndarray] = [np.zeros(n, dtype=int)]  # capacity row
    cols: list[np.ndarray] = [np.arange(n)]
    vals: list[np.ndarray] = [cap]
    r = 1
    for m in range(1, len(present)):
        u = n + m - 1
        for members, sign in ((np.flatnonzero(cls == present[m]), 1.0),       # x_i - u_m <= 0
                              (np.flatnonzero(cls == present[m - 1]), -1.0)):  # u_m - x_j <= 0
            k = members.size
            rr = np.arange(r, r + k)
            rows += [rr, rr]
            cols += [members, np.full(k, u)]
            vals += [np.full(k, sign), np.full(k, -sign)]
            r += k
    a = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(r, n + n_u))
    lb = np.r_[shortfall_kwp, np.full(r - 1, -np.inf)]
    ub = np.r_[np.inf, np.zeros(r - 1)]
    # costs are scaled to keep HiGHS' tolerances meaningful; the optimum is unchanged
    scale = max(float(np.abs(cost).max()), 1.0)
    c = np.concatenate([cost / scale, np.zeros(n_u)])
    res = milp(c, integrality=np.ones(n + n_u), bounds=Bounds(0, 1),
               constraints=LinearConstraint(a, lb, ub),
               options={"time_limit": float(time_limit_s), "mip_rel_gap": float(mip_rel_gap)})
    if res.x is not None:
        chosen = res.x[:n] > 0.5
        if cap[chosen].sum() >= shortfall_kwp - _TOL_KWP:
            status = "optimal" if res.status == 0 else f"best found ({res.message})"
            return chosen, status
    # fallback: class order then largest first (feasible by construction)
    order = np.lexsort((-cap, cls))
    cum = np.cumsum(cap[order])
    k = int(np.searchsorted(cum, shortfall_kwp - _TOL_KWP)) + 1
    chosen = np.zeros(n, dtype=bool)
    chosen[order[:k]] = True
    return chosen, f"solver gave no solution ({res.message}); class order used"


def least_cost_phases(ranked: pd.DataFrame, *, existing_kwp: float, phases: Sequence[Phase],
                      cost_col: str = "capex_cny", time_limit_s: float = 60.0) -> tuple[pd.DataFrame, list[str]]:
    """Least-cost mode: choose each phase's sites with :func:`least_cost_select`.

    Parameters
    ----------
    ranked : pandas.DataFrame
        Sites in priority rank order (from :func:`rank_sites`) with ``capacity_kwp``,
        ``class_rank``, ``pinned`` and ``cost_col``.
    existing_kwp : float
        Installed PV before any site. [kWp]
    phases : sequence of Phase
    cost_col : str
        Column minimised (default CAPEX). [CNY]
    time_limit_s : float
        Solver time limit per phase. [s]

    Returns
    -------
    plan : pandas.DataFrame
        Reordered: pinned-in sites (phases by cumulative capacity, as in priority mode), then
        each phase's chosen sites, then reserve, then pinned-out, each group in priority
        order; with ``rank``, ``cumulative_kwp`` and ``phase``.
    notes : list of str
        Solver status per phase.
    """
    pinned_in = ranked[ranked["pinned"] == "in"]
    pinned_in = assign_phases(pinned_in, existing_kwp=existing_kwp, phases=phases)
    out = ranked[ranked["pinned"] == "out"].copy()
    rest = ranked[ranked["pinned"] == ""].copy()
    cum = existing_kwp + float(pinned_in["capacity_kwp"].sum())
    rest_phase = np.full(len(rest), RESERVE, dtype=object)
    open_ = np.ones(len(rest), dtype=bool)
    notes = []
    for ph in phases:
        need = ph.threshold_kwp - cum
        idx = np.flatnonzero(open_)
        chosen, status = least_cost_select(
            rest["capacity_kwp"].to_numpy(float)[idx], rest[cost_col].to_numpy(float)[idx],
            rest["class_rank"].to_numpy(int)[idx], need, time_limit_s=time_limit_s)
        sel = idx[chosen]
        rest_phase[sel] = ph.label
        open_[sel] = False
        cum += float(rest["capacity_kwp"].to_numpy(float)[sel].sum())
        notes.append(f"least-cost phase {ph.label}: {max(need, 0.0):,.0f} kWp needed, "
                     f"{len(sel)} sites chosen ({status})")
    rest["phase"] = rest_phase
    order_key = {ph.label: i for i, ph in enumerate(phases)}
    rest["_k"] = rest["phase"].map(lambda p: order_key.get(p, len(order_key)))
    rest = rest.sort_values("_k", kind="mergesort").drop(columns="_k")
    df = pd.concat([pinned_in.drop(columns=["cumulative_kwp"]), rest, out], ignore_index=True)
    after, _ = _cumulate(df, existing_kwp)
    is_out = df["pinned"].to_numpy() == "out"
    df["cumulative_kwp"] = np.where(is_out, np.nan, after)
    df.loc[is_out, "phase"] = PINNED_OUT
    df["rank"] = np.arange(1, len(df) + 1)
    return df, notes


# --------------------------------------------------------------------------- tables


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def targets_table(plan: pd.DataFrame, *, targets: Sequence[Any], existing_kwp: float,
                  as_of_year: int) -> pd.DataFrame:
    """Each target: required, existing, planned, achieved, met, margin, plain-words status.

    Parameters
    ----------
    plan : pandas.DataFrame
        Output of :func:`assign_phases` / :func:`least_cost_phases` (``capacity_kwp``,
        ``phase``, ``closes_passed``).
    targets : sequence of objects with ``name``, ``year``, ``capacity_kwp``
    existing_kwp : float
        Installed PV today. [kWp]
    as_of_year : int
        Targets before this year have passed. [yr]

    Returns
    -------
    pandas.DataFrame
        ``target, year, passed, phase, required_kwp, existing_kwp, planned_kwp, achieved_kwp,
        met, margin_kwp, n_sites, status``. For a future target, planned = new capacity of its
        phase and every earlier one, achieved = existing + planned. For a passed target,
        achieved = existing (what stood by its year), planned and n_sites = the first sites
        that close its shortfall.
    """
    phases = phase_schedule(targets, as_of_year=as_of_year)
    labels = [p.label for p in phases]
    first = labels[0] if labels else ""
    rows = []
    for t in sorted(targets, key=lambda t: t.year):
        req = float(t.capacity_kwp)
        passed = t.year < as_of_year
        if passed:
            mask = plan["closes_passed"].astype(str).str.split(", ").map(lambda s: str(t.year) in s)
            planned = float(plan.loc[mask, "capacity_kwp"].sum())
            n = int(mask.sum())
            achieved = existing_kwp
            met = existing_kwp >= req - _TOL_KWP
            short = req - existing_kwp
            if met:
                status = (f"year passed ({t.year} < {as_of_year}): met by existing PV "
                          f"({_fmt(existing_kwp)} of {_fmt(req)} kWp) / 已过期，现有光伏已达标")
            elif existing_kwp + planned >= req - _TOL_KWP:
                status = (f"year passed ({t.year} < {as_of_year}): not met by existing PV "
                          f"({_fmt(existing_kwp)} of {_fmt(req)} kWp); shortfall {_fmt(short)} kWp "
                          f"closed by phase {first} with its first {n} sites ({_fmt(planned)} kWp) "
                          f"/ 已过期未达标，缺口由第一期补足")
            else:
                status = (f"year passed ({t.year} < {as_of_year}): not met by existing PV "
                          f"({_fmt(existing_kwp)} of {_fmt(req)} kWp); shortfall {_fmt(short)} kWp, "
                          f"but all {n} surveyed sites give only {_fmt(planned)} kWp "
                          f"/ 已过期未达标，现有屋顶不足以补足缺口")
            phase_label = first
        else:
            ph = next(p for p in phases if t.name in p.targets)
            upto = labels[: labels.index(ph.label) + 1]
            mask = plan["phase"].isin(upto)
            planned = float(plan.loc[mask, "capacity_kwp"].sum())
            n = int(mask.sum())
            achieved = existing_kwp + planned
            met = achieved >= req - _TOL_KWP
            if existing_kwp >= req - _TOL_KWP:
                status = (f"met by existing PV alone ({_fmt(existing_kwp)} of {_fmt(req)} kWp) "
                          f"/ 现有光伏已达标")
            elif met:
                status = (f"met by {t.year}: {_fmt(existing_kwp)} kWp existing + {_fmt(planned)} kWp "
                          f"on {n} sites (phases {', '.join(upto)}) = {_fmt(achieved)} kWp, "
                          f"margin {_fmt(achieved - req)} kWp / 达标")
            else:
                status = (f"not met: every surveyed site together gives {_fmt(achieved)} kWp, "
                          f"{_fmt(req - achieved)} kWp short of {_fmt(req)} kWp / 未达标")
            phase_label = ph.label
        rows.append({
            "target": t.name, "year": int(t.year), "passed": bool(passed), "phase": phase_label,
            "required_kwp": req, "existing_kwp": float(existing_kwp), "planned_kwp": planned,
            "achieved_kwp": float(achieved), "met": bool(met), "margin_kwp": float(achieved - req),
            "n_sites": n, "status": status,
        })
    cols = ["target", "year", "passed", "phase", "required_kwp", "existing_kwp", "planned_kwp",
            "achieved_kwp", "met", "margin_kwp", "n_sites", "status"]
    return pd.DataFrame(rows, columns=cols)


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
    planned_ph = plan["phase"].map(lambda p: years.get(p, 10**9))
    by_year = plan.loc[planned_ph <= coverage_year, "building_id"]
    any_phase = plan.loc[plan["phase"].isin(list(years)), "building_id"]
    site = plan.set_index("building_id")
    ids = new["building_id"].to_numpy()
    has_existing = new["existing_pv_kwp"].to_numpy(float) > 0
    # hash lookups: np.isin on object arrays compares every pair (quadratic at city scale)
    def member(pool) -> np.ndarray:
        return pd.Index(pd.unique(np.asarray(pool, dtype=object))).get_indexer(ids) >= 0

    in_year = member(by_year.to_numpy())
    in_plan = member(any_phase.to_numpy())
    is_site = member(site.index.to_numpy())
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
    mod = site["module_area_m2"].reindex(ids).fillna(0.0).to_numpy(float)
    usable = site["usable_area_m2"].reindex(ids).fillna(0.0).to_numpy(float)
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
        plan_b = planned_m2.reindex(b["building_id"]).fillna(0.0).to_numpy(float)
        pot_b = potential_m2.reindex(b["building_id"]).fillna(0.0).to_numpy(float)
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
            part = plan[plan["phase"].isin(labels if lab == "all phases" else [lab])]
            tot = economics_totals(part, params)
            tot.pop("co2_avoided_lifetime_t")
            rows.append({"mode": mode, "used": mode == used, "phase": lab, **tot})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- orchestration


def build_plan(
    sites: pd.DataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    priority_classes: Sequence[str] | None = None,
    targets: Sequence[Any] | None = None,
    plan_year: int | None = None,
    as_of_year: int | None = None,
    coverage_target_frac: float | None = None,
    coverage_year: int | None = None,
    new_building_from_year: int | None = None,
    coverage_categories: Sequence[str] | None = None,
    coverage_definition: str | None = None,
    category_shares: Sequence[Any] | None = None,
    mode: str | None = None,
    score: str | None = None,
    pins: pd.DataFrame | None = None,
    economics: Any = None,
    module_kwp_per_m2: float = 0.21,
    time_limit_s: float = 60.0,
) -> PlanResult:
    """Build the installation plan.

    Every argument left as None takes the documented default of
    :class:`pv_survey.config.PlanConfig` / :class:`~pv_survey.config.EconomicsConfig`.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per building with kept roofs: :data:`SITE_COLUMNS`.
    buildings : pandas.DataFrame, optional
        Every input building (``building_id, category, year_built, existing_pv_kwp,
        roof_area_m2``); it gives the existing PV total, coverage and category shares. Without
        it the existing PV is taken from ``sites`` and those two tables are empty.
    priority_classes : sequence of str
        Categories in priority order.
    targets : sequence of objects with ``name``, ``year``, ``capacity_kwp``
        Capacity targets, in year order. [-, yr, kWp]
    plan_year : int
        Year the district plan was issued (reported). [yr]
    as_of_year : int
        Targets with an earlier year are reported as passed. [yr]
    coverage_target_frac, coverage_year, new_building_from_year, coverage_categories, coverage_definition
        See :func:`coverage_table`.
    category_shares : sequence of objects with ``name``, ``categories``, ``min_share_frac``
        See :func:`category_shares_table`.
    mode : {'priority', 'least-cost'}
        Which selection becomes the plan; both are computed for ``comparison``.
    score : {'yield', 'size', 'cost'}
        Order within a class.
    pins : pandas.DataFrame, optional
        ``building_id``, ``pin`` ('in' / 'out'), e.g. from :func:`read_pins`.
    economics : EconomicsParams or pv_survey.config.EconomicsConfig, optional
        Economic parameters (a config section is unpacked with :meth:`EconomicsParams.from_config`).
    module_kwp_per_m2 : float
        Module power density, to express existing PV as area (= module efficiency x
        1 kW/m2). [kWp/m2]
    time_limit_s : float
        Least-cost solver time limit per phase. [s]

    Returns
    -------
    PlanResult
        ``plan`` (one row per site in rank order: the sites columns, ``priority_class``,
        ``class_rank``, ``score``, ``rank``, ``cumulative_kwp``, ``phase``, ``pinned``,
        ``closes_passed`` and the economics columns), ``targets``, ``coverage``,
        ``category_shares``, ``comparison``, ``notes`` and the settings used.
    """
    from .config import EconomicsConfig, PlanConfig

    d = PlanConfig()
    priority_classes = tuple(d.priority_classes if priority_classes is None else priority_classes)
    targets = tuple(d.targets if targets is None else targets)
    plan_year = d.plan_year if plan_year is None else plan_year
    as_of_year = d.as_of_year if as_of_year is None else as_of_year
    coverage_target_frac = d.coverage_target_frac if coverage_target_frac is None else coverage_target_frac
    coverage_year = d.coverage_year if coverage_year is None else coverage_year
    new_building_from_year = d.new_building_from_year if new_building_from_year is None else new_building_from_year
    coverage_categories = tuple(d.coverage_categories if coverage_categories is None else coverage_categories)
    coverage_definition = d.coverage_definition if coverage_definition is None else coverage_definition
    category_shares = tuple(d.category_shares if category_shares is None else category_shares)
    mode = d.mode if mode is None else mode
    score = d.score if score is None else score
    if economics is None:
        params = EconomicsParams.from_config(EconomicsConfig())
    elif isinstance(economics, EconomicsParams):
        params = economics
    else:  # an EconomicsConfig section
        params = EconomicsParams.from_config(economics)
    if mode not in ("priority", "least-cost"):
        raise InputError(f"plan: mode = {mode!r}; use 'priority' or 'least-cost'")
    if not module_kwp_per_m2 > 0:
        raise InputError(f"plan: module_kwp_per_m2 = {module_kwp_per_m2}; it must be > 0")

    notes: list[str] = []
    df = _check_sites(sites)
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

    phases = phase_schedule(targets, as_of_year=as_of_year)
    passed = [t for t in sorted(targets, key=lambda t: t.year) if t.year < as_of_year]
    if passed:
        notes.append(f"the plan dates from {plan_year}; as of {as_of_year} the target year(s) "
                     f"{', '.join(str(t.year) for t in passed)} have passed and are reported as "
                     f"such; the first phase closes any shortfall")
    if not phases:
        notes.append("no capacity targets: every site is reserve")

    ranked = rank_sites(df, priority_classes=priority_classes, score=score, pins=pins_ok)
    score_basis = {"yield": "specific yield (kWh/kWp), then size",
                   "size": "capacity (kWp), then specific yield",
                   "cost": "LCOE (CNY/kWh, lowest first), then size"}[score]
    plans = {"priority": assign_phases(ranked, existing_kwp=existing_kwp, phases=phases)}
    lc, lc_notes = least_cost_phases(ranked, existing_kwp=existing_kwp, phases=phases,
                                     time_limit_s=time_limit_s)
    plans["least-cost"] = lc
    notes += lc_notes
    for key, p in plans.items():
        _, before = _cumulate(p, existing_kwp)
        p["closes_passed"] = _closes_passed(p, before, passed)
        is_held = p["building_id"].isin(held).to_numpy()
        p.loc[is_held, "phase"] = RESERVE
        p.loc[is_held, "pinned"] = ""
        plans[key] = p

    plan = plans[mode]
    cols = [c for c in SITE_COLUMNS if c in plan.columns]
    extra = [c for c in plan.columns if c not in cols and c not in ECONOMICS_COLUMNS and c not in (
        "priority_class", "class_rank", "score", "rank", "cumulative_kwp", "phase", "pinned", "closes_passed")]
    plan = plan[[*cols, *extra, "priority_class", "class_rank", "score", "rank", "cumulative_kwp",
                 "phase", "pinned", "closes_passed", *ECONOMICS_COLUMNS]].reset_index(drop=True)
    plan["pinned"] = plan["pinned"].astype(str)
    plan["phase"] = plan["phase"].astype(str)
    plan["closes_passed"] = plan["closes_passed"].astype(str)

    tt = targets_table(plan, targets=targets, existing_kwp=existing_kwp, as_of_year=as_of_year)
    if bld is not None:
        cov = coverage_table(plan, bld, coverage_categories=coverage_categories,
                             new_building_from_year=new_building_from_year, coverage_year=coverage_year,
                             coverage_target_frac=coverage_target_frac,
                             coverage_definition=coverage_definition, phases=phases,
                             as_of_year=as_of_year, module_kwp_per_m2=module_kwp_per_m2)
        n_na = int(pd.isna(bld["year_built"]).sum())
        if n_na:
            notes.append(f"{n_na} buildings have no year_built and are not counted as new")
        shares = category_shares_table(plan, bld, groups=category_shares, phases=phases,
                                       module_kwp_per_m2=module_kwp_per_m2)
    else:
        cov = pd.DataFrame()
        shares = pd.DataFrame()
    comparison = mode_comparison(plans, phases=phases, used=mode, params=params)
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
    names = [f"{(str(r.name) if str(r.name) not in ('', 'nan', '<NA>') else r.building_id)} "
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
        verdict = "met" if r.met else "NOT met"
        lines.append(f"Target '{r.target}' ({r.required_kwp:,.0f} kWp by {r.year}): {verdict} — {r.status}.")
    built = result.existing_kwp
    for ph in result.phases:
        part = plan[plan["phase"] == ph.label]
        if not len(part):
            lines.append(f"Phase {ph.label}: no new sites " +
                         ("needed." if built >= ph.threshold_kwp - _TOL_KWP else "left to build."))
            continue
        built += float(part["capacity_kwp"].sum())
        mix = part["priority_class"].value_counts(sort=False)
        mix_s = ", ".join(f"{c} {n}" for c, n in mix.items())
        pinned = int((part["pinned"] == "in").sum())
        lines.append(
            f"Phase {ph.label}: {len(part)} sites, {part['capacity_kwp'].sum():,.0f} kWp new "
            f"({mix_s}){f', {pinned} pinned in' if pinned else ''}; largest: {_site_names(part)}."
        )
    reserve = plan[plan["phase"] == RESERVE]
    lines.append(f"Reserve: {len(reserve)} further sites, {reserve['capacity_kwp'].sum():,.0f} kWp.")
    n_out = int((plan["phase"] == PINNED_OUT).sum())
    if n_out:
        lines.append(f"Pinned out by the planner: {n_out} sites, never planned.")
    cmp_ = result.comparison
    if len(cmp_):
        tot = cmp_[cmp_["phase"] == "all phases"].set_index("mode")
        if {"priority", "least-cost"} <= set(tot.index) and tot.loc["priority", "capex_cny"] > 0:
            p, c = tot.loc["priority"], tot.loc["least-cost"]
            saving = 1 - c["capex_cny"] / p["capex_cny"]
            lines.append(
                f"Modes: priority order needs CAPEX {p['capex_cny'] / 1e6:,.2f} million CNY for "
                f"{p['planned_kwp']:,.0f} kWp on {int(p['n_sites'])} sites; least-cost "
                f"{c['capex_cny'] / 1e6:,.2f} million CNY for {c['planned_kwp']:,.0f} kWp on "
                f"{int(c['n_sites'])} sites ({saving:+.1%} saving). The plan uses {result.mode}.")
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
