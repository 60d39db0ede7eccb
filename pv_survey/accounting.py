"""End-of-run accounting: nothing lost, totals agree (moved from ``pipeline.py``, issue 13).

Every input building ends in the output, planned or excluded with a reason; the plan's capacity
equals the kept roofs'; the targets table agrees with the plan. A failure raises
:class:`~pv_survey.errors.AccountingError` (a bug, not bad input).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from .errors import AccountingError
from .keys import first_positions, member, positions

log = logging.getLogger("pv_survey")

__all__ = ["check_accounting"]


def check_accounting(buildings: pd.DataFrame, roofs: pd.DataFrame, planres: Any, n_in: int) -> None:
    """Loud end-of-run checks: nothing lost, totals agree (raise :class:`AccountingError`)."""
    if len(buildings) != n_in:
        raise AccountingError(f"buildings in {n_in} != buildings out {len(buildings)}")
    if buildings["building_id"].duplicated().any():
        raise AccountingError("duplicate building_id in the output")
    has_site = buildings["capacity_kwp"].to_numpy() > 0
    excluded = buildings["excluded_reason"].to_numpy() != ""
    if np.any(has_site == excluded):
        bad = buildings.loc[has_site == excluded, "building_id"].iloc[0]
        raise AccountingError(f"building {bad} is neither planned nor excluded (or both)")
    plan = planres.plan
    planned_cap = float(plan["capacity_kwp"].sum())
    roof_cap = float(roofs.loc[roofs["excluded_reason"] == "", "capacity_kwp"].sum())
    if not np.isclose(planned_cap, roof_cap, rtol=1e-9, atol=1e-6):
        raise AccountingError(f"plan capacity {planned_cap:.3f} kWp != kept roofs {roof_cap:.3f} kWp")
    n_planned, n_reserve, n_excluded = _check_plan_rows(buildings, roofs, plan, n_in)
    _check_targets(buildings, planres)
    log.info("accounting: %s buildings in = %s planned + %s reserve + %s excluded; plan %s kWp = kept roofs; "
             "targets agree with the plan", f"{n_in:,}", f"{n_planned:,}", f"{n_reserve:,}", f"{n_excluded:,}",
             f"{planned_cap:,.1f}")


def _check_plan_rows(buildings: pd.DataFrame, roofs: pd.DataFrame, plan: pd.DataFrame,
                     n_in: int) -> tuple[int, int, int]:
    """Buildings in = planned + reserve + excluded; each site's capacity = the sum of its kept roofs.

    Returns the counts (planned, reserve incl. pinned out, excluded).
    """
    from .plan import PINNED_OUT, RESERVE

    # look-ups by id in Arrow where the ids are Arrow text (pv_survey.keys): no Python string nor set
    # per id of a city's plan
    b_ids, pid = buildings["building_id"], plan["building_id"]
    orphans = ~member(roofs["building_id"], b_ids)
    if orphans.any():
        raise AccountingError(f"roof {roofs['roof_id'].to_numpy()[orphans][0]} belongs to no input building")
    twice = first_positions(pid, pid) != np.arange(len(pid))
    if twice.any():
        raise AccountingError(f"building {pid.iloc[int(np.flatnonzero(twice)[0])]} appears twice in the plan")
    site_ids = b_ids[buildings["capacity_kwp"].to_numpy() > 0]
    missing = site_ids[~member(site_ids, pid)].astype(str)
    extra = pid[~member(pid, site_ids)].astype(str)
    if len(missing) or len(extra):
        what = f"building {min(missing)} has a site but is not in the plan" if len(missing) else \
            f"building {min(extra)} is in the plan without a site"
        raise AccountingError(f"{what} ({len(missing)} missing, {len(extra)} extra)")
    phase = plan["phase"].astype(str).to_numpy()
    n_reserve = int(np.isin(phase, (RESERVE, PINNED_OUT)).sum())
    n_planned = len(plan) - n_reserve
    n_excluded = int((buildings["excluded_reason"].to_numpy() != "").sum())
    if n_planned + n_reserve + n_excluded != n_in or (phase == "").any():
        raise AccountingError(f"buildings in {n_in} != planned {n_planned} + reserve {n_reserve} "
                              f"+ excluded {n_excluded} (or a plan row has no phase)")
    b_phase = buildings["phase"].astype(str).to_numpy(dtype=object)
    differ = b_phase[positions(b_ids, pid)] != phase  # every plan id is a building (checked above)
    if differ.any():
        raise AccountingError(f"building {pid.iloc[int(np.flatnonzero(differ)[0])]}: its phase in the buildings "
                              "layer differs from the plan")
    kept = (roofs["excluded_reason"] == "").to_numpy()
    cap_by_site = np.zeros(len(pid))
    at = positions(pid, roofs["building_id"])[kept]
    np.add.at(cap_by_site, at[at >= 0], roofs["capacity_kwp"].to_numpy(float)[kept][at >= 0])
    roof_cap = pd.Series(cap_by_site)
    off = ~np.isclose(plan["capacity_kwp"].to_numpy(float), roof_cap.to_numpy(float), rtol=1e-9, atol=1e-6)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise AccountingError(f"building {pid.iloc[i]}: plan capacity {plan['capacity_kwp'].iloc[i]:.3f} kWp != "
                              f"the sum of its kept roofs {roof_cap.iloc[i]:.3f} kWp")
    return n_planned, n_reserve, n_excluded


def _check_targets(buildings: pd.DataFrame, planres: Any) -> None:
    """The targets table agrees with the plan: existing PV, planned and achieved capacity, met."""
    plan, targets = planres.plan, planres.targets
    existing = float(buildings["existing_pv_kwp"].sum())
    if not np.isclose(float(planres.existing_kwp), existing, rtol=1e-9, atol=1e-6):
        raise AccountingError(f"plan counts {planres.existing_kwp:.3f} kWp existing PV, "
                              f"buildings hold {existing:.3f} kWp")
    labels = [p.label for p in getattr(planres, "phases", [])]
    for _, t in targets.iterrows():
        name = t["target"]
        if t.get("kind", "capacity") != "capacity" or str(t.get("categories", "") or ""):
            continue  # share targets are checked in plan.targets_table's own tests
        passed = False  # a passed target is met with the plan in the first build year
        if not np.isclose(float(t["existing_kwp"]), existing, rtol=1e-9, atol=1e-6):
            raise AccountingError(f"target {name!r}: existing {t['existing_kwp']:.3f} kWp != {existing:.3f} kWp")
        if not passed and t["phase"] in labels:
            upto = labels[: labels.index(t["phase"]) + 1]
            mask = plan["phase"].astype(str).isin(upto).to_numpy()
            planned = float(plan.loc[mask, "capacity_kwp"].sum())
            n_sites = int(mask.sum())
            if not np.isclose(float(t["planned_kwp"]), planned, rtol=1e-9, atol=1e-6) or int(t["n_sites"]) != n_sites:
                raise AccountingError(f"target {name!r}: planned {t['planned_kwp']:.3f} kWp on {t['n_sites']} sites, "
                                      f"but the plan's phases {', '.join(upto)} hold {planned:.3f} kWp on {n_sites}")
        achieved = existing + (0.0 if passed else float(t["planned_kwp"]))
        if not np.isclose(float(t["achieved_kwp"]), achieved, rtol=1e-9, atol=1e-6):
            raise AccountingError(f"target {name!r}: achieved {t['achieved_kwp']:.3f} kWp != {achieved:.3f} kWp")
        if (str(t["met"]) in ("yes", "True")) != (achieved >= float(t["required_kwp"]) - 1e-6):
            raise AccountingError(f"target {name!r}: 'met' = {bool(t['met'])} contradicts achieved {achieved:.3f} "
                                  f"of {float(t['required_kwp']):.3f} kWp required")
