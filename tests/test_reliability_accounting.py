"""End-of-run accounting (issue 9, item 4): pipeline.check_accounting is loud about every imbalance.

A real run of twelve hand-made boxes (tests/_badinputs.py) balances; each test then breaks one
rule on a copy -- a building lost, a plan row missing or repeated, capacity moved between two
sites (the total unchanged), a phase that disagrees, a targets row that contradicts the plan --
and expects :class:`~pv_survey.errors.AccountingError` naming what broke.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import _badinputs as bi
from pv_survey.config import Config
from pv_survey.errors import AccountingError
from pv_survey.pipeline import check_accounting, run_survey
from pv_survey.plan import RESERVE


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    d = tmp_path_factory.mktemp("accounting")
    path = d / "b.gpkg"
    f = bi.base_frame(12)
    f.loc[10, "geometry"] = None  # one building excluded ('no geometry'), kept in the output
    f.to_file(path, layer="buildings")
    # a 200 kWp target: 20 x 20 m roofs carry some 40 kWp each (20% modules on ~half the roof), so
    # a handful of the eleven sites reach it and the rest are reserve
    cfg = Config().replace(inputs={"buildings": str(path)},
                           plan={"targets": [{"name": "t2030", "year": 2030, "capacity_kwp": 200.0}]})
    res = run_survey(cfg, write=False)
    return res


def _parts(res):
    return res.buildings.copy(), res.roofs.copy(), dataclasses.replace(
        res.plan, plan=res.plan.plan.copy(), targets=res.plan.targets.copy())


def test_the_real_run_balances(balanced, caplog):
    b, roofs, planres = _parts(balanced)
    with caplog.at_level("INFO", logger="pv_survey"):
        check_accounting(b, roofs, planres, n_in=12)
    phase = planres.plan["phase"]
    n_planned, n_reserve = int((phase == "2030").sum()), int((phase == RESERVE).sum())
    n_excluded = int((b["excluded_reason"] != "").sum())
    # the case exercises every term: planned, reserve and excluded buildings
    assert n_planned > 0 and n_reserve > 0 and n_excluded == 1
    assert n_planned + n_reserve + n_excluded == 12
    # and the balance is said out loud
    assert (f"accounting: 12 buildings in = {n_planned} planned + {n_reserve} reserve + 1 excluded"
            in caplog.text)


def test_a_lost_building(balanced):
    b, roofs, planres = _parts(balanced)
    with pytest.raises(AccountingError, match="buildings in 12 != buildings out 11"):
        check_accounting(b.iloc[1:], roofs, planres, n_in=12)


def test_a_building_neither_planned_nor_excluded(balanced):
    b, roofs, planres = _parts(balanced)
    i = int(np.flatnonzero(b["excluded_reason"].to_numpy() != "")[0])
    b.loc[b.index[i], "excluded_reason"] = ""
    with pytest.raises(AccountingError, match="neither planned nor excluded"):
        check_accounting(b, roofs, planres, n_in=12)


def test_a_site_missing_from_the_plan(balanced):
    b, roofs, planres = _parts(balanced)
    p = planres.plan
    lost = p["building_id"].iloc[0]
    p.loc[p.index[1], "capacity_kwp"] += p["capacity_kwp"].iloc[0]  # the plan's total stays right
    planres.plan = p.iloc[1:]
    with pytest.raises(AccountingError, match=f"building {lost} has a site but is not in the plan"):
        check_accounting(b, roofs, planres, n_in=12)


def test_a_site_twice_in_the_plan(balanced):
    b, roofs, planres = _parts(balanced)
    p = planres.plan
    dup = p.iloc[[0]].assign(capacity_kwp=0.0)  # same building again, no capacity: totals still agree
    planres.plan = pd.concat([p, dup], ignore_index=True)
    with pytest.raises(AccountingError, match="appears twice in the plan"):
        check_accounting(b, roofs, planres, n_in=12)


def test_capacity_moved_between_sites(balanced):
    """Total capacity unchanged, but two sites no longer equal the sum of their own roofs."""
    b, roofs, planres = _parts(balanced)
    p = planres.plan
    p.loc[p.index[0], "capacity_kwp"] += 5.0
    p.loc[p.index[1], "capacity_kwp"] -= 5.0
    with pytest.raises(AccountingError, match=f"building {p['building_id'].iloc[0]}: plan capacity"):
        check_accounting(b, roofs, planres, n_in=12)


def test_a_plan_row_without_a_phase(balanced):
    b, roofs, planres = _parts(balanced)
    planres.plan.loc[planres.plan.index[0], "phase"] = ""
    with pytest.raises(AccountingError, match="a plan row has no phase"):
        check_accounting(b, roofs, planres, n_in=12)


def test_buildings_layer_phase_disagrees_with_the_plan(balanced):
    b, roofs, planres = _parts(balanced)
    bid = planres.plan["building_id"].iloc[0]
    b.loc[b["building_id"] == bid, "phase"] = RESERVE if planres.plan["phase"].iloc[0] != RESERVE else "2030"
    with pytest.raises(AccountingError, match=f"building {bid}: its phase"):
        check_accounting(b, roofs, planres, n_in=12)


def test_a_roof_of_no_building(balanced):
    b, roofs, planres = _parts(balanced)
    roofs.loc[roofs.index[0], "building_id"] = "GHOST"
    with pytest.raises(AccountingError, match="roof .* belongs to no input building"):
        check_accounting(b, roofs, planres, n_in=12)


@pytest.mark.parametrize("column, delta", [("planned_kwp", 10.0), ("achieved_kwp", 10.0), ("existing_kwp", 1.0)])
def test_targets_row_contradicts_the_plan(balanced, column, delta):
    b, roofs, planres = _parts(balanced)
    t = planres.targets
    t.loc[t.index[0], column] += delta
    with pytest.raises(AccountingError, match="target 't2030'"):
        check_accounting(b, roofs, planres, n_in=12)


def test_targets_met_flag_contradicts_the_numbers(balanced):
    b, roofs, planres = _parts(balanced)
    t = planres.targets
    t.loc[t.index[0], "met"] = "no" if t["met"].iloc[0] == "yes" else "yes"
    with pytest.raises(AccountingError, match="'met'"):
        check_accounting(b, roofs, planres, n_in=12)


def test_existing_pv_disagrees(balanced):
    b, roofs, planres = _parts(balanced)
    planres.existing_kwp = float(planres.existing_kwp) + 3.0
    with pytest.raises(AccountingError, match="existing PV"):
        check_accounting(b, roofs, planres, n_in=12)
