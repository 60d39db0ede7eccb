"""The installation plan on hand-made sites whose answers are worked out by hand in comments."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pv_survey.config import PlanConfig
from pv_survey.economics import EconomicsParams
from pv_survey.errors import InputError, InputFileError
from pv_survey.plan import (
    build_plan,
    check_pins,
    plan_summary_lines,
    rank_sites,
    read_pins,
)


@dataclass(frozen=True)
class T:
    name: str
    year: int
    capacity_kwp: float


@dataclass(frozen=True)
class G:
    name: str
    categories: tuple
    min_share_frac: float


ECON = EconomicsParams(
    capex_band_upper_kwp=(100.0, 1000.0),
    capex_cny_per_w=(4.0, 3.5, 3.0),
    opex_cny_per_w_yr=0.05,
    export_tariff_cny_per_kwh=0.45,
    self_consumption_frac={"other": 0.8},
    tariff_cny_per_kwh={"other": 0.7},
    first_year_degradation_frac=0.0,
    degradation_frac_per_yr=0.0,
    discount_rate_frac=0.0,
    lifetime_yr=25,
    grid_emission_factor_t_per_mwh=0.5,
    grid_emission_factor_source="test",
)
CLASSES = ("government", "hospital", "school", "public", "industrial", "commercial", "residential", "other")


def _sites(rows):
    """rows: (building_id, category, capacity_kwp, specific_yield_kwh_kwp[, usable_m2, module_m2])."""
    recs = []
    for r in rows:
        bid, cat, cap, sy = r[:4]
        usable = r[4] if len(r) > 4 else cap * 7.0
        module = r[5] if len(r) > 5 else cap * 5.0
        recs.append({"building_id": bid, "name": f"site {bid}", "category": cat, "owner": "", "address": "",
                     "existing_pv_kwp": 0.0, "capacity_kwp": float(cap), "annual_kwh": float(cap * sy),
                     "specific_yield_kwh_kwp": float(sy), "usable_area_m2": float(usable),
                     "module_area_m2": float(module), "roof_area_m2": float(usable * 1.5)})
    df = pd.DataFrame(recs)
    df["year_built"] = pd.array([2000] * len(df), dtype="Int64")
    return df


def _buildings(sites, extra=()):
    """Every site as a building (roof 2x usable), plus extra (id, category, year, existing_kwp, roof_m2)."""
    b = pd.DataFrame({"building_id": sites["building_id"], "category": sites["category"],
                      "year_built": sites["year_built"], "existing_pv_kwp": sites["existing_pv_kwp"],
                      "roof_area_m2": sites["usable_area_m2"] * 2.0, "excluded_reason": ""})
    if extra:
        e = pd.DataFrame(list(extra), columns=["building_id", "category", "year_built", "existing_pv_kwp",
                                               "roof_area_m2"])
        e["year_built"] = e["year_built"].astype("Int64")
        e["excluded_reason"] = ""
        b = pd.concat([b, e], ignore_index=True)
    return b


def _plan(sites, buildings=None, **kw):
    """build_plan with the plan section's settings in ``kw`` (others: economics, pins, module_kwp_per_m2)."""
    own = {k: kw.pop(k) for k in ("economics", "pins", "module_kwp_per_m2", "weather") if k in kw}
    own.setdefault("economics", ECON)
    kw.setdefault("priority_classes", CLASSES)
    kw.setdefault("as_of_year", 2026)
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
    return build_plan(sites, buildings, settings=dataclasses.replace(PlanConfig(), **kw), **own)


# --------------------------------------------------------------------------- phases


def test_phase_boundaries_and_existing_pv_count_first():
    # existing PV 1,000 kWp (one building without a kept roof); targets 3,000 kWp by 2027 and
    # 6,000 by 2030, as of 2026 (none passed). Six government sites, yields falling so the rank
    # is the row order. Cumulative after each: 2000, 3000, 3500, 5000, 6500, 7300; before:
    # 1000, 2000, 3000, 3500, 5000, 6500. A site is in the first phase whose threshold the
    # cumulative *before* it has not reached:
    #   s1 (1000 < 3000) 2027; s2 (2000 < 3000) 2027 -> exactly 3000; s3 (3000, not < 3000) 2030;
    #   s4 (3500) 2030; s5 (5000 < 6000, crosses to 6500) 2030; s6 (6500 >= 6000) reserve.
    sites = _sites([("s1", "government", 1000, 1200), ("s2", "government", 1000, 1190),
                    ("s3", "government", 500, 1180), ("s4", "government", 1500, 1170),
                    ("s5", "government", 1500, 1160), ("s6", "government", 800, 1150)])
    b = _buildings(sites, [("x", "other", 1990, 1000.0, 100.0)])
    r = _plan(sites, b, targets=[T("a", 2027, 3000.0), T("b", 2030, 6000.0)])
    p = r.plan.set_index("building_id")
    assert list(r.plan["building_id"]) == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert list(p["phase"]) == ["2027", "2027", "2030", "2030", "2030", "reserve"]
    np.testing.assert_allclose(p["cumulative_kwp"], [2000, 3000, 3500, 5000, 6500, 7300])
    assert list(r.plan["rank"]) == [1, 2, 3, 4, 5, 6]
    t = r.targets.set_index("year")
    # 2027: planned 2000, achieved 3000, met with margin 0; 2030: planned 2000 + 3500 = 5500,
    # achieved 6500, margin 500, on 5 sites
    assert t.loc[2027, ["planned_kwp", "achieved_kwp", "margin_kwp", "n_sites"]].tolist() == [2000, 3000, 0, 2]
    assert bool(t.loc[2027, "met"]) and not bool(t.loc[2027, "passed"])
    assert t.loc[2030, ["planned_kwp", "achieved_kwp", "margin_kwp", "n_sites"]].tolist() == [5500, 6500, 500, 5]
    assert (r.targets["existing_kwp"] == 1000).all()
    assert r.existing_kwp == 1000


def test_target_met_by_existing_pv_alone():
    # existing 3,500 >= 3,000: no site is needed for 2027; 2030 needs 2,500 more:
    # s1 (before 3500 < 6000) 2030 -> 5000; s2 (5000 < 6000) 2030 -> 6000; s3 (6000) reserve
    sites = _sites([("s1", "school", 1500, 1100), ("s2", "school", 1000, 1050), ("s3", "school", 700, 1000)])
    b = _buildings(sites, [("x", "other", 1990, 3500.0, 100.0)])
    r = _plan(sites, b, targets=[T("a", 2027, 3000.0), T("b", 2030, 6000.0)])
    assert list(r.plan["phase"]) == ["2030", "2030", "reserve"]
    t = r.targets.set_index("year")
    assert bool(t.loc[2027, "met"]) and t.loc[2027, "planned_kwp"] == 0 and t.loc[2027, "n_sites"] == 0
    assert "existing PV alone" in t.loc[2027, "status"]
    assert t.loc[2030, "achieved_kwp"] == 6000 and bool(t.loc[2030, "met"])


def test_target_not_met_when_roofs_run_out():
    # 1,000 kWp of roofs, no existing PV, 3,000 kWp target: every site in the phase, 2,000 short
    sites = _sites([("s1", "school", 600, 1100), ("s2", "school", 400, 1050)])
    r = _plan(sites, _buildings(sites), targets=[T("a", 2030, 3000.0)])
    row = r.targets.iloc[0]
    assert list(r.plan["phase"]) == ["2030", "2030"]
    assert row["met"] == "no" and row["margin_kwp"] == -2000
    assert "NOT met" in row["status"] and "2,000 kWp short" in row["status"]
    assert "too few surveyed sites" in row["status"]
    assert any("NOT met" in line for line in plan_summary_lines(r))


def test_passed_target_reported_with_shortfall_closed_by_first_phase():
    # plan dates from 2024, as of 2026: the 2025 target (3,000 kWp) has passed. Existing 1,000.
    # Its shortfall is closed in the first build year 2027: s1 (1000 -> 2200), s2 (-> 3200).
    # The 2030 target then takes s3 (-> 4100) and s4 (-> 6100) in 2030.
    sites = _sites([("s1", "government", 1200, 1100), ("s2", "hospital", 1000, 1100),
                    ("s3", "school", 900, 1100), ("s4", "industrial", 2000, 1100)])
    b = _buildings(sites, [("x", "other", 1990, 1000.0, 100.0)])
    targets = [T("2025 target", 2025, 3000.0), T("2030 target", 2030, 6000.0)]
    r = _plan(sites, b, targets=targets, as_of_year=2026, plan_year=2024)
    assert list(r.plan["phase"]) == ["2027", "2027", "2030", "2030"]
    assert list(r.plan["build_year"]) == [2027, 2027, 2030, 2030]
    assert list(r.plan["closes_passed"]) == ["2025", "2025", "", ""]
    t = r.targets.set_index("year")
    assert bool(t.loc[2025, "passed"]) and t.loc[2025, "met"] == "yes" and t.loc[2025, "due_year"] == 2027
    # existing alone 1,000 of 3,000; with the plan by 2027: 3,200, margin 200, on 2 sites
    assert t.loc[2025, ["achieved_existing", "achieved_kwp", "margin_kwp", "planned_kwp", "n_sites"]].tolist() == \
        [1000, 3200, 200, 2200, 2]
    assert "year passed" in t.loc[2025, "status"] and "closed in 2027 by 2 sites" in t.loc[2025, "status"]
    assert t.loc[2025, "phase"] == "2027"
    # 2030: 1000 + 5100 = 6100, margin 100
    assert t.loc[2030, ["achieved_kwp", "margin_kwp"]].tolist() == [6100, 100]
    assert any("have passed" in n for n in r.notes)

    # the same target met by existing PV: reported as met, nothing to close
    b2 = _buildings(sites, [("x", "other", 1990, 3200.0, 100.0)])
    r2 = _plan(sites, b2, targets=targets, as_of_year=2026)
    t2 = r2.targets.set_index("year")
    assert t2.loc[2025, "met"] == "yes" and t2.loc[2025, "n_sites"] == 0
    assert "met by existing PV" in t2.loc[2025, "status"]
    assert (r2.plan["closes_passed"] == "").all()


# --------------------------------------------------------------------------- ranking and pins


def test_rank_class_order_then_score():
    # class beats yield: the government site (yield 900) comes before the school (1200);
    # within the school class yield first, tie broken by size; an unknown class ranks last
    sites = _sites([("sc1", "school", 100, 1200), ("g1", "government", 50, 900),
                    ("sc2", "school", 300, 1100), ("sc3", "school", 400, 1100), ("u1", "shed", 999, 1300)])
    r = rank_sites(sites, priority_classes=CLASSES, score="yield")
    assert list(r["building_id"]) == ["g1", "sc1", "sc3", "sc2", "u1"]
    assert list(r["class_rank"]) == [1, 3, 3, 3, len(CLASSES) + 1]
    r2 = rank_sites(sites, priority_classes=CLASSES, score="size")
    assert list(r2["building_id"]) == ["g1", "sc3", "sc2", "sc1", "u1"]


def test_rank_by_cost_uses_lcoe():
    # same yield, different size bands: 50 kWp at 4.0 CNY/W, 500 at 3.5, 1500 at 3.0;
    # LCOE (r = 0) = (4000 + 25 x 50) / (25 x 1000) per kW for the small one, etc.:
    # cheaper per kWh the larger the band -> order big, mid, small
    sites = _sites([("a", "school", 50, 1000), ("b", "school", 500, 1000), ("c", "school", 1500, 1000)])
    r = _plan(sites, score="cost", targets=[T("t", 2030, 100.0)])
    assert list(r.plan["building_id"]) == ["c", "b", "a"]
    # LCOE of 'a' = (200,000 + 25 x 2,500) / (25 x 50,000) = 0.21 CNY/kWh
    assert r.plan.set_index("building_id").loc["a", "lcoe_cny_per_kwh"] == pytest.approx(0.21)


def test_pins_in_first_out_never_and_flagged():
    # c1 (commercial, last class) pinned in -> built first, in the first year 2027; g1 pinned
    # out -> last, never planned. Target 1,000 kWp by 2030, no existing PV: after c1 (600),
    # g2 300 (-> 900) and h1 500 (-> 1400) in 2030; s1 reserve; g1 pinned out, cumulative NaN.
    sites = _sites([("g1", "government", 400, 1200), ("g2", "government", 300, 1100),
                    ("h1", "hospital", 500, 1100), ("s1", "school", 200, 1100), ("c1", "commercial", 600, 1000)])
    pins = pd.DataFrame({"building_id": ["c1", "g1", "nope"], "pin": ["in", "OUT ", "in"]})
    r = _plan(sites, _buildings(sites), targets=[T("t", 2030, 1000.0)], pins=pins)
    p = r.plan
    assert list(p["building_id"]) == ["c1", "g2", "h1", "s1", "g1"]
    assert list(p["pinned"]) == ["in", "", "", "", "out"]
    assert list(p["phase"]) == ["2027", "2030", "2030", "reserve", "pinned out"]
    assert p["why"].iloc[0] == "pinned in by the planner"
    np.testing.assert_allclose(p["cumulative_kwp"].iloc[:4], [600, 900, 1400, 1600])
    assert np.isnan(p["cumulative_kwp"].iloc[4])
    assert any("nope" in n and "ignored" in n for n in r.notes)
    assert r.targets.iloc[0]["planned_kwp"] == 1400


def test_pinned_in_site_is_never_reserve():
    # pinned-in sites are built in the first year (2027) even where the target needs none of
    # them; the 100 kWp target is then met by s2 + s1 = 110 kWp, g1 stays in reserve
    sites = _sites([("g1", "government", 500, 1200), ("s1", "school", 50, 1000), ("s2", "school", 60, 1000)])
    pins = pd.DataFrame({"building_id": ["s1", "s2"], "pin": ["in", "in"]})
    r = _plan(sites, targets=[T("t", 2030, 100.0)], pins=pins)
    assert list(r.plan["building_id"]) == ["s2", "s1", "g1"]
    assert list(r.plan["phase"]) == ["2027", "2027", "reserve"]
    r2 = _plan(sites, targets=[T("t", 2030, 10.0)], pins=pins)
    assert list(r2.plan["phase"]) == ["2027", "2027", "reserve"]


def test_pins_validation(tmp_path):
    with pytest.raises(InputError, match="both 'in' and 'out'"):
        check_pins(pd.DataFrame({"building_id": ["a", "a"], "pin": ["in", "out"]}))
    with pytest.raises(InputError, match="row 3.*'maybe'"):
        check_pins(pd.DataFrame({"building_id": ["a", "b"], "pin": ["in", "maybe"]}))
    with pytest.raises(InputError, match="lacks column 'pin'"):
        check_pins(pd.DataFrame({"building_id": ["a"]}))
    f = tmp_path / "pins.csv"
    f.write_text("Building_ID,pin,reason\nB001,in,示范项目\nB002,out,屋顶漏水\n", encoding="utf-8-sig")
    pins = read_pins(f)
    assert list(pins["building_id"]) == ["B001", "B002"] and list(pins["pin"]) == ["in", "out"]
    with pytest.raises(InputFileError, match="not found"):
        read_pins(tmp_path / "missing.csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_pins_saved_by_excel_in_any_of_its_encodings(tmp_path, encoding):
    """Excel on a Chinese Windows saves "CSV (逗号分隔)" in GBK and "CSV UTF-8" with a BOM: the
    same pins and reasons either way (GBK was refused before, 'utf-8' codec can't decode)."""
    f = tmp_path / "pins.csv"
    f.write_bytes("building_id,pin,原因\nB001,in,示范项目\nB002,out,屋顶漏水\n".encode(encoding))
    pins = read_pins(f)
    assert list(pins["building_id"]) == ["B001", "B002"] and list(pins["pin"]) == ["in", "out"]
    assert list(pins["原因"]) == ["示范项目", "屋顶漏水"]
    f.write_bytes(b"building_id,pin\nB001,in\n\xff\xfe\x80\x80,out\n")  # neither UTF-8 nor GB18030
    with pytest.raises(InputFileError, match="cannot read the pins CSV"):
        read_pins(f)


def test_site_validation_messages():
    sites = _sites([("a", "school", 100, 1000)])
    with pytest.raises(InputError, match="capacity_kwp"):
        _plan(sites.drop(columns="capacity_kwp"))
    bad = sites.copy()
    bad.loc[0, "capacity_kwp"] = -5.0
    with pytest.raises(InputError, match="'a' has capacity_kwp = -5"):
        _plan(bad)
    with pytest.raises(InputError, match="appears twice"):
        _plan(pd.concat([sites, sites], ignore_index=True))


# --------------------------------------------------------------------------- coverage and shares


def _coverage_case():
    # priority classes put school and industrial before hospital so the phases come out as:
    # existing 10 kWp on n1 (no kept roof). Targets 150 kWp by 2025 and 250 by 2030, as of 2024.
    # o1 gov 100 (before 10) 2025 -> 110; n2 school 80 (110 < 150) 2025 -> 190;
    # n3 industrial 90 (190) 2030 -> 280; n4 hospital 150 (280 >= 250) reserve.
    sites = _sites([("o1", "government", 100, 1100, 900, 500), ("n2", "school", 80, 1100, 400, 300),
                    ("n3", "industrial", 90, 1100, 600, 400), ("n4", "hospital", 150, 1000, 1000, 700)])
    sites["year_built"] = pd.array([2010, 2022, 2024, 2023], dtype="Int64")
    b = _buildings(sites, [("n1", "government", 2023, 10.0, 300.0), ("n5", "public", 2025, 0.0, 200.0),
                           ("r1", "residential", 2023, 0.0, 500.0), ("u1", "industrial", None, 0.0, 100.0)])
    return sites, b


def test_coverage_by_count_and_by_area():
    sites, b = _coverage_case()
    r = _plan(sites, b, priority_classes=("government", "school", "industrial", "hospital", "public"),
              targets=[T("a", 2025, 150.0), T("b", 2030, 250.0)], as_of_year=2024,
              coverage_year=2025, new_building_from_year=2022, coverage_target_frac=0.5,
              coverage_categories=("government", "hospital", "school", "public", "industrial"),
              coverage_definition="area", module_kwp_per_m2=0.2)
    assert list(r.plan["phase"]) == ["2025", "2025", "2030", "reserve"]
    cov = r.coverage.set_index("definition")
    # new coverage buildings: n1, n2, n3, n4, n5 (o1 old, r1 residential, u1 no year) -> 5
    # by count, by 2025: n1 (existing PV) + n2 (phase 2025) = 2 of 5 = 40% < 50%;
    # ceil(2.5) - 2 = 1 more building; with every phase n1, n2, n3 = 60%
    c = cov.loc["count"]
    assert c["n_new_buildings"] == 5 and c["n_with_pv"] == 2
    assert c["share_frac"] == pytest.approx(0.4) and not c["met"] and c["n_more_buildings"] == 1
    assert c["share_with_plan_frac"] == pytest.approx(0.6)
    assert not c["checked"]
    # by area: n1 10 kWp / 0.2 kWp/m2 = 50 m2 (its usable area taken as 50 m2, no kept roof);
    # n2 module 300 of usable 400; n3 usable 600; n4 usable 1000; n5 none.
    # basis 50 + 400 + 600 + 1000 = 2050 m2; covered 50 + 300 = 350 -> 0.17073;
    # 50% needs 1025 m2: 675 more; largest remaining module area n4 700 m2 -> 1 building;
    # all phases: 350 + 400 (n3) = 750 / 2050 = 0.36585
    a = cov.loc["area"]
    assert a["checked"]
    assert a["usable_area_m2"] == pytest.approx(2050.0) and a["pv_module_area_m2"] == pytest.approx(350.0)
    assert a["share_frac"] == pytest.approx(350 / 2050) and not a["met"] and a["n_more_buildings"] == 1
    assert a["share_with_plan_frac"] == pytest.approx(750 / 2050)
    assert any("no year_built" in n for n in r.notes)


def test_coverage_met_and_passed_year():
    sites, b = _coverage_case()
    # as of 2026 the 2025 coverage year has passed: only existing PV counts (n1: 1 of 5 = 20%);
    # ceil(2.5) - 1 = 2 more needed; candidates with kept roofs n2, n3, n4
    r = _plan(sites, b, targets=[T("a", 2025, 150.0), T("b", 2030, 250.0)], as_of_year=2026,
              coverage_year=2025, new_building_from_year=2022, coverage_definition="count",
              module_kwp_per_m2=0.2)
    c = r.coverage.set_index("definition").loc["count"]
    assert c["checked"] and c["share_frac"] == pytest.approx(0.2) and c["n_more_buildings"] == 2
    assert "year passed" in c["status"]
    # a 20% target is met by existing PV alone
    r2 = _plan(sites, b, targets=[T("a", 2025, 150.0)], as_of_year=2026, coverage_year=2025,
               new_building_from_year=2022, coverage_target_frac=0.2, module_kwp_per_m2=0.2)
    c2 = r2.coverage.set_index("definition").loc["count"]
    assert c2["met"] and c2["n_more_buildings"] == 0


def test_category_shares_by_hand():
    # government group: g1 roof 1000 m2 with a planned site of usable 600 m2; g2 roof 1000 m2
    # with 40 kWp existing at 0.2 kWp/m2 = 200 m2; g3 roof 2000 m2, reserve site usable 1500.
    # Total 4000 m2; achieved 600 + 200 = 800 -> 20% < 50%; gap 2000 - 800 = 1200 m2;
    # potential (every site) 800 + 1500 = 2300 -> 57.5%.
    # industrial group: f1 roof 1000 m2 with 1000 kWp existing = 5000 m2 module area, capped
    # at its roof -> 100% >= 30%: met.
    sites = _sites([("g1", "government", 100, 1100, 600, 450), ("g3", "government", 200, 1000, 1500, 1000)])
    b = pd.DataFrame({"building_id": ["g1", "g2", "g3", "f1"],
                      "category": ["government", "government", "government", "industrial"],
                      "year_built": pd.array([2000] * 4, dtype="Int64"),
                      "existing_pv_kwp": [0.0, 40.0, 0.0, 1000.0],
                      "roof_area_m2": [1000.0, 1000.0, 2000.0, 1000.0]})
    groups = [G("gov", ("government",), 0.5), G("ind", ("industrial", "commercial"), 0.3)]
    # existing 1040 kWp; target 1100 -> g1 (before 1040 < 1100) in phase 2030, g3 reserve
    r = _plan(sites, b, targets=[T("t", 2030, 1100.0)], category_shares=groups, module_kwp_per_m2=0.2)
    assert list(r.plan["phase"]) == ["2030", "reserve"]
    s = r.category_shares.set_index("group")
    assert s.loc["gov", "roof_area_m2"] == 4000
    assert s.loc["gov", "pv_area_existing_m2"] == pytest.approx(200)
    assert s.loc["gov", "pv_area_planned_m2"] == pytest.approx(600)
    assert s.loc["gov", "achieved_frac"] == pytest.approx(0.2)
    assert s.loc["gov", "potential_frac"] == pytest.approx(0.575)
    assert not s.loc["gov", "met"] and s.loc["gov", "gap_m2"] == pytest.approx(1200)
    assert s.loc["ind", "achieved_frac"] == pytest.approx(1.0) and s.loc["ind", "met"]


# --------------------------------------------------------------------------- economics in the plan, summary


def test_plan_carries_economics_and_summary_names_roofs():
    # a 50 kWp site: CAPEX 50 x 1000 x 4.0 = 200,000 CNY; a 2,000 kWp site 2000 x 1000 x 3.0
    # = 6,000,000 CNY; CO2 = 2000 kWp x 1100 kWh/kWp = 2,200 MWh x 0.5 t/MWh = 1,100 t/yr
    sites = _sites([("a", "government", 50, 1000), ("b", "hospital", 2000, 1100)])
    r = _plan(sites, _buildings(sites), targets=[T("t", 2030, 1000.0)])
    p = r.plan.set_index("building_id")
    assert p.loc["a", "capex_cny"] == pytest.approx(200_000)
    assert p.loc["b", "capex_cny"] == pytest.approx(6_000_000)
    assert p.loc["b", "co2_avoided_t_per_yr"] == pytest.approx(1100)
    for col in ("priority_class", "class_rank", "score", "rank", "cumulative_kwp", "phase", "pinned",
                "capex_cny", "opex_cny_per_yr", "lcoe_cny_per_kwh", "simple_payback_yr", "npv_cny",
                "co2_avoided_t_per_yr"):
        assert col in r.plan.columns
    lines = plan_summary_lines(r)
    assert any(line.startswith("Build year 2030: 2 sites") and "site b (b, 2,000 kWp)" in line for line in lines)
    assert any("met" in line and "'t'" in line for line in lines)


def test_least_cost_mode_with_pins():
    # target 1,000 kWp, no existing PV; c1 (commercial, 600 kWp) pinned in leaves 400 kWp.
    # Government first: g1 (500 kWp, 500 x 1000 x 3.5 = 1.75 M CNY) alone covers it; g2
    # (300 kWp) alone does not, and the school may be used only with both government sites
    # (g1 + g2 + s1 = 4.2 M), so the cheapest is {g1}.
    sites = _sites([("g1", "government", 500, 1000), ("g2", "government", 300, 1100),
                    ("s1", "school", 400, 1100), ("c1", "commercial", 600, 1000)])
    pins = pd.DataFrame({"building_id": ["c1"], "pin": ["in"]})
    r = _plan(sites, targets=[T("t", 2030, 1000.0)], mode="least-cost", pins=pins)
    assert list(r.plan["building_id"][:2]) == ["c1", "g1"]
    assert dict(zip(r.plan["building_id"], r.plan["phase"])) == {
        "c1": "2030", "g1": "2030", "g2": "reserve", "s1": "reserve"}
    # with g1 pinned out: 400 kWp from g2 (300) + the school s1 (400), g2 first (class order)
    pins2 = pd.DataFrame({"building_id": ["c1", "g1"], "pin": ["in", "out"]})
    r2 = _plan(sites, targets=[T("t", 2030, 1000.0)], mode="least-cost", pins=pins2)
    assert list(r2.plan["building_id"]) == ["c1", "g2", "s1", "g1"]
    assert list(r2.plan["phase"]) == ["2030", "2030", "2030", "pinned out"]
    np.testing.assert_allclose(r2.plan["cumulative_kwp"][:3], [600, 900, 1300])


def test_least_cost_builds_pins_when_every_target_is_met():
    # existing PV 2,000 kWp (a building without a kept roof) already meets the 1,000 kWp target:
    # nothing needs building, but the pinned-in site c1 is built all the same (a planner's pin)
    sites = _sites([("g1", "government", 500, 1000), ("c1", "commercial", 600, 1000)])
    b = _buildings(sites, extra=[("old", "public", 2000, 2000.0, 3000.0)])
    pins = pd.DataFrame({"building_id": ["c1"], "pin": ["in"]})
    r = _plan(sites, b, targets=[T("t", 2030, 1000.0)], mode="least-cost", pins=pins)
    assert dict(zip(r.plan["building_id"], r.plan["phase"])) == {"c1": "2030", "g1": "reserve"}


def test_no_sites_reports_targets_unmet():
    # no kept roofs at all: 5 kWp existing against 3,000 kWp
    sites = _sites([("a", "school", 1, 1000)]).iloc[:0]
    b = _buildings(sites, [("x", "school", 2023, 5.0, 100.0)])
    r = _plan(sites, b, targets=[T("t", 2030, 3000.0)])
    assert len(r.plan) == 0 and (r.targets["met"] == "no").all()
    assert r.targets.iloc[0]["margin_kwp"] == -2995
    assert "Build year 2030: no new sites." in plan_summary_lines(r)


def test_economics_config_section_is_accepted():
    # the pipeline may hand over the config section; the default CAPEX band for a 50 kWp
    # system is 3.0 CNY/W (EconomicsConfig, 2025-26 range 2.5-3.0): 50 x 1000 x 3.0 = 150,000 CNY
    from pv_survey.config import Config

    sites = _sites([("a", "school", 50, 1000)])
    r = _plan(sites, targets=[T("t", 2030, 10.0)], economics=Config().economics)
    assert r.plan["capex_cny"].iloc[0] == pytest.approx(150_000)
    assert r.plan["grid_class"].iloc[0] == "380 V"  # 8 < 50 <= 400 kW


# --------------------------------------------------------------------------- targets as data, schedule


@dataclass(frozen=True)
class TT:
    """A target record with every field (as pv_survey.config.Target)."""
    name: str
    year: int
    capacity_kwp: float = 0.0
    kind: str = "capacity"
    share_frac: float = 0.0
    definition: str = "count"
    categories: tuple = ()
    buildings: str = "all"
    new_since_year: int = 2022
    source: str = "hand-made"


def _new_sites():
    # g1, g2 government; f1, f2 industrial (new, built 2023); o1 school (old). Capacities and
    # usable areas chosen by hand; module area = 5 m2/kWp, usable = 7 m2/kWp (see _sites).
    sites = _sites([("g1", "government", 300, 1200), ("g2", "government", 200, 1150),
                    ("o1", "school", 400, 1100), ("f1", "industrial", 100, 1000), ("f2", "industrial", 500, 990)])
    sites["year_built"] = pd.array([2023, 2010, 2010, 2023, 2024], dtype="Int64")
    return sites


def test_coverage_target_picks_new_buildings_public_first():
    # set: new government + industrial buildings = g1, f1, f2 (+ n9, a new factory with no roof)
    # -> 4 buildings, 50% = 2 needed, none has PV. Due 2027 (passed 2025). Rank order among the
    # set: g1 (government, class 1) then f1 (industrial; yield 1000 > 990) -> g1, f1 in 2027.
    # Capacity 900 by 2030: g1 + f1 = 400; then rank order g2 (-> 600), o1 (-> 1000) in 2030.
    sites = _new_sites()
    b = _buildings(sites, [("n9", "industrial", 2024, 0.0, 300.0)])
    cov = TT("cov", 2025, kind="coverage", share_frac=0.5, categories=("government", "industrial"), buildings="new")
    r = _plan(sites, b, targets=[cov, TT("cap", 2030, 900.0)])
    by = dict(zip(r.plan["building_id"], r.plan["phase"]))
    assert by == {"g1": "2027", "f1": "2027", "g2": "2030", "o1": "2030", "f2": "reserve"}
    p = r.plan.set_index("building_id")
    assert "coverage" in p.loc["f1", "why"] and "factory" in p.loc["f1", "why"]
    assert p.loc["g1", "serves"] == "cov; cap" and p.loc["g2", "serves"] == "cap"
    assert p.loc["o1", "why"].startswith("public institution (school), rank")
    t = r.targets.set_index("target")
    assert t.loc["cov", "met"] == "yes" and t.loc["cov", "due_year"] == 2027
    # existing 0 of 4 = 0%; with the plan 2 of 4 = 50%
    assert t.loc["cov", ["achieved_existing", "achieved_plan", "margin"]].tolist() == [0.0, 0.5, 0.0]
    assert t.loc["cap", "achieved_kwp"] == 1000 and t.loc["cap", "met"] == "yes"


def test_coverage_by_area_and_roof_share_targets():
    # coverage by area over new government + industrial: usable basis g1 2100 + f1 700 + f2 3500
    # = 6300 m2; 40% = 2520 m2 of module area. Module areas: g1 1500, f1 500, f2 2500. Rank
    # order g1 (1500 < 2520), f1 (2000 < 2520), f2 (4500) -> all three by 2030.
    # roof share of all government roofs (roof = 2 x usable: g1 4200, g2 2800 = 7000 m2), 50%
    # = 3500 m2: g1 adds its usable 2100 (< 3500), then g2 1400 -> 3500: met exactly.
    sites = _new_sites()
    b = _buildings(sites)
    area = TT("area", 2030, kind="coverage", share_frac=0.4, definition="area",
              categories=("government", "industrial"), buildings="new")
    roof = TT("roof", 2030, kind="roof_share", share_frac=0.5, categories=("government",))
    r = _plan(sites, b, targets=[area, roof])
    by = dict(zip(r.plan["building_id"], r.plan["phase"]))
    assert by == {"g1": "2030", "g2": "2030", "f1": "2030", "f2": "2030", "o1": "reserve"}
    t = r.targets.set_index("target")
    assert t.loc["area", "achieved_plan"] == pytest.approx(4500 / 6300)
    assert t.loc["roof", "achieved_plan"] == pytest.approx(0.5) and t.loc["roof", "met"] == "yes"
    assert t.loc["roof", "unit"] == "m2" and t.loc["area", "kind"] == "coverage"


def test_empty_building_set_is_not_applicable():
    # no new factory at all (Huacheng-like sample): the coverage target is n/a, not "no"
    sites = _sites([("o1", "school", 400, 1100)])
    cov = TT("cov", 2025, kind="coverage", share_frac=0.5, categories=("industrial",), buildings="new")
    r = _plan(sites, _buildings(sites), targets=[cov, TT("cap", 2030, 100.0)])
    t = r.targets.set_index("target")
    assert t.loc["cov", "met"] == "n/a" and "not applicable" in t.loc["cov", "status"]
    assert "不适用" in t.loc["cov", "status"]
    assert t.loc["cap", "met"] == "yes"


def test_per_year_capacity_limit_spreads_and_builds_ahead():
    # 1,000 kWp by 2029 (as of 2026: years 2027-2029), at most 400 kWp a year, five 200 kWp
    # government sites: 2027 two (400), 2028 two (800), 2029 one (1000).
    sites = _sites([(f"g{i}", "government", 200, 1200 - i) for i in range(5)])
    r = _plan(sites, _buildings(sites), targets=[TT("cap", 2029, 1000.0)], max_kwp_per_year=400.0)
    assert list(r.plan["phase"]) == ["2027", "2027", "2028", "2028", "2029"]
    assert r.targets.iloc[0]["met"] == "yes"
    # least cost under the same limit meets it too, never above 400 kWp in a year
    r2 = _plan(sites, _buildings(sites), targets=[TT("cap", 2029, 1000.0)], max_kwp_per_year=400.0,
               mode="least-cost")
    assert r2.targets.iloc[0]["met"] == "yes"
    assert r2.plan.groupby("phase")["capacity_kwp"].sum().max() <= 400.0


def test_infeasible_targets_say_by_how_much_and_why():
    # too tight: 1,000 kWp by 2027 with at most 300 kWp a year -> 200 built (a 200 kWp site fits,
    # a second would make 400), 800 short; the sites themselves would give 1,000
    sites = _sites([(f"g{i}", "government", 200, 1200 - i) for i in range(5)])
    for mode in ("priority", "least-cost"):
        r = _plan(sites, _buildings(sites), targets=[TT("cap", 2027, 1000.0)], max_kwp_per_year=300.0, mode=mode)
        row = r.targets.iloc[0]
        assert row["met"] == "no" and row["shortfall"] == pytest.approx(800)
        assert "per-year limits (300 kWp per year)" in row["status"] and "800 kWp short" in row["status"]
        assert any("cannot be met" in n for n in r.notes)
    # too few sites: 2,000 kWp from 1,000 kWp of roofs
    r = _plan(sites, _buildings(sites), targets=[TT("cap", 2030, 2000.0)], mode="least-cost")
    row = r.targets.iloc[0]
    assert row["met"] == "no" and row["shortfall"] == pytest.approx(1000) and "too few surveyed sites" in row["status"]
    assert (r.plan["phase"] == "2030").all()  # least shortfall = every site


def _brute_schedule(sites, bld, targets, years, *, lim_kwp=0.0, classes=CLASSES):
    """Least CAPEX over every assignment of each site to a year or none (independent of the
    code under test): targets by their due year (max(year, years[0])), per-year kWp limit, and
    the class rule (a site outside every share target's set may be built only if every site of
    every higher class is built). Returns (cost, assignment) or (inf, None)."""
    cap = sites["capacity_kwp"].to_numpy(float)
    capex = sites["capex_cny"].to_numpy(float)
    cls = np.array([classes.index(c) for c in sites["category"]])
    ids = list(sites["building_id"])
    bmap = bld.set_index("building_id")

    def members(t):
        ok = bmap["category"].isin(t.categories) if t.categories else pd.Series(True, index=bmap.index)
        if t.buildings == "new":
            ok &= bmap["year_built"].astype(float).fillna(-1) >= t.new_since_year
        return ok

    exempt = np.zeros(len(ids), dtype=bool)
    for t in targets:
        if t.kind != "capacity":
            exempt |= members(t).reindex(ids).fillna(False).to_numpy(bool)
    best, arg = np.inf, None
    for assign in itertools.product([0, *years], repeat=len(ids)):
        a = np.array(assign)
        if lim_kwp and any(cap[a == y].sum() > lim_kwp + 1e-9 for y in years):
            continue
        built = a > 0
        if any(built[i] and not exempt[i] and not built[cls < cls[i]].all() for i in range(len(ids))):
            continue
        ok = True
        for t in targets:
            due = max(t.year, years[0])
            by = pd.Series((a > 0) & (a <= due), index=ids)
            m = members(t)
            if t.kind == "capacity":
                ok &= bmap.loc[m, "existing_pv_kwp"].sum() + cap[by.to_numpy()].sum() >= t.capacity_kwp - 1e-6
            elif t.kind == "coverage":  # by count
                has = (bmap["existing_pv_kwp"] > 0) | by.reindex(bmap.index).fillna(False)
                ok &= has[m].sum() >= np.ceil(t.share_frac * m.sum() - 1e-9)
            else:  # roof share: usable area of built sites (existing PV 0 here) over roof area
                usable = sites.set_index("building_id")["usable_area_m2"].where(by, 0.0)
                pv = np.minimum(usable.reindex(bmap.index).fillna(0.0), bmap["roof_area_m2"])
                ok &= pv[m].sum() >= t.share_frac * bmap.loc[m, "roof_area_m2"].sum() - 1e-6
            if not ok:
                break
        if ok and capex[built].sum() < best:
            best, arg = capex[built].sum(), a
    return best, arg


@pytest.mark.parametrize("lim_kwp", [900.0, 0.0])
@pytest.mark.parametrize("seed", range(4))
def test_least_cost_matches_brute_force_with_share_targets(seed, lim_kwp):
    # six random sites over three classes, two build years (as of 2026 -> 2027, 2028), a
    # capacity target by 2028, a coverage (count) target of new industrial buildings by 2027
    # and a roof-share target of government roofs by 2028, a 900 kWp per-year limit or none
    # (without limits the MILP leaves out the classes and years that cannot matter: the
    # brute force, which knows nothing of that, checks the reduction is exact)
    rng = np.random.default_rng(seed)
    cats = ["government", "school", "industrial"]
    rows = [(f"s{i}", cats[i % 3], float(c), float(rng.uniform(950, 1150)))
            for i, c in enumerate(np.round(rng.uniform(60, 600, 6), 0))]
    sites = _sites(rows)
    sites["year_built"] = pd.array([2023 if i % 2 else 2010 for i in range(6)], dtype="Int64")
    b = _buildings(sites)
    total = sites["capacity_kwp"].sum()
    targets = [TT("cap", 2028, float(np.round(0.45 * total))),
               TT("cov", 2025, kind="coverage", share_frac=0.5, categories=("industrial",), buildings="new"),
               TT("roof", 2028, kind="roof_share", share_frac=0.2, categories=("government",))]
    r = _plan(sites, b, targets=targets, mode="least-cost", max_kwp_per_year=lim_kwp)
    p = r.plan
    brute_sites = p.sort_values("building_id").reset_index(drop=True)
    best, _ = _brute_schedule(brute_sites, b, targets, [2027, 2028], lim_kwp=lim_kwp)
    met = (r.targets["met"] != "no").all()
    if np.isfinite(best):
        assert met
        got = float(p.loc[p["build_year"].notna(), "capex_cny"].sum())
        assert got == pytest.approx(best, rel=1e-5)
        # the priority schedule is feasible too and costs no less
        c = r.comparison.set_index(["mode", "phase"])
        assert c.loc[("least-cost", "all phases"), "capex_cny"] <= c.loc[("priority", "all phases"), "capex_cny"] + 1e-6
    else:
        assert not met


def test_capacity_target_on_a_category_set():
    # 300 kWp on factories by 2030: only industrial sites count (f1 100 + f2 500 -> f1 is not
    # enough, the next factory f2 brings 600); the government sites ahead in rank are not used
    sites = _new_sites()
    r = _plan(sites, _buildings(sites), targets=[TT("fac", 2030, 300.0, categories=("industrial",))])
    by = dict(zip(r.plan["building_id"], r.plan["phase"]))
    assert by["f1"] == by["f2"] == "2030" and by["g1"] == "reserve"
    row = r.targets.iloc[0]
    assert row["achieved_kwp"] == 600 and row["met"] == "yes" and row["categories"] == "industrial"


def test_plan_summary_names_are_never_blank():
    # issue 17 item 4: a site without a name is named by its address, else its building id
    from pv_survey.plan import _site_names

    part = pd.DataFrame({"building_id": ["B1", "B2", "B3"], "name": ["图书馆", "", None],
                         "address": ["", "天河路 2 号", np.nan], "capacity_kwp": [30.0, 20.0, 10.0]})
    assert _site_names(part) == "图书馆 (B1, 30 kWp); 天河路 2 号 (B2, 20 kWp); B3 (B3, 10 kWp)"


def _record_milp(monkeypatch, fail_first=False):
    """Record (presolve, time_limit) of each HiGHS call; ``fail_first``: the first call reports the
    time limit without a schedule (as presolve did on a 1,000,000-building city)."""
    import scipy.optimize

    real, calls = scipy.optimize.milp, []

    def milp(c, **kw):
        calls.append((kw["options"]["presolve"], kw["options"]["time_limit"]))
        if fail_first and len(calls) == 1:
            return scipy.optimize.OptimizeResult(status=1, x=None, fun=None, message="Time limit reached")
        return real(c, **kw)

    monkeypatch.setattr(scipy.optimize, "milp", milp)
    return calls


@pytest.mark.parametrize("fail_first", [False, True])
def test_least_cost_large_model_solved_first_without_presolve(monkeypatch, fail_first):
    # 300 sites of 150 kWp (3.5 CNY/W: 525,000 CNY each) and 300 of 100 kWp (4.0 CNY/W: 400,000),
    # 30,000 kWp by 2030, at most 10,000 kWp a year: the least cost is 200 of the 150 kWp sites,
    # 105 million CNY. With the per-year limit every site x year is a variable: 600 x 4 = 2,400
    # (> PRESOLVE_FIRST_MAX_VARIABLES), so HiGHS runs first without its presolve, for
    # QUICK_SOLVE_S; when that proves nothing, presolve with its share of the limit follows.
    from pv_survey import plan as plan_mod

    sites = _sites([(f"a{i}", "government", 150, 1100) for i in range(300)]
                   + [(f"b{i}", "government", 100, 1100) for i in range(300)])
    calls = _record_milp(monkeypatch, fail_first)
    r = _plan(sites, _buildings(sites), targets=[TT("cap", 2030, 30_000.0)], max_kwp_per_year=10_000.0,
              mode="least-cost", milp_time_limit_s=60.0)
    built = r.plan[r.plan["phase"] != "reserve"]
    assert built["capex_cny"].sum() == pytest.approx(105e6, rel=1e-6)
    assert (built["capacity_kwp"] == 150).all() and len(built) == 200
    assert built.groupby("phase")["capacity_kwp"].sum().max() <= 10_000.0
    assert calls[0] == (False, plan_mod.QUICK_SOLVE_S)
    if fail_first:
        assert calls[1] == (True, pytest.approx(plan_mod.PRESOLVE_TIME_SHARE * 60.0, abs=1.0))
    else:
        assert len(calls) == 1
    assert any("least-cost schedule" in n and ": optimal" in n for n in r.notes)


def test_least_cost_small_model_solved_first_with_presolve(monkeypatch):
    """A model of at most PRESOLVE_FIRST_MAX_VARIABLES goes to presolve first (it decides small
    models at once); the sites of test_least_cost_mode_with_pins without its pins, the schedule
    worked out below."""
    from pv_survey import plan as plan_mod

    sites = _sites([("g1", "government", 500, 1000), ("g2", "government", 300, 1100),
                    ("s1", "school", 400, 1100), ("c1", "commercial", 600, 1000)])
    calls = _record_milp(monkeypatch)
    r = _plan(sites, targets=[T("t", 2030, 1000.0)], mode="least-cost", milp_time_limit_s=60.0)
    assert calls[0] == (True, plan_mod.PRESOLVE_TIME_SHARE * 60.0)
    # without pins, class priority: the government sites g1 + g2 give 800 kWp, short of 1,000;
    # the school may come only after both, the commercial site only after the school, so the
    # only schedules are {g1, g2, s1} (1,200 kWp) and all four: the least cost is {g1, g2, s1}
    assert set(r.plan.loc[r.plan["phase"] == "2030", "building_id"]) == {"g1", "g2", "s1"}


def test_build_plan_leaves_the_callers_tables_as_they_were():
    """The sites table is checked on a shallow copy (its columns shared, not copied: issue 13's
    memory); whatever the check converts (text numbers, a missing existing PV, an index that is not
    0..n-1, object ids) and whatever the plan adds stays out of the caller's table."""
    sites = _sites([("s1", "government", 1000, 1200), ("s2", "school", 500, 1150), ("s3", "industrial", 800, 1100)])
    sites["existing_pv_kwp"] = [0.0, np.nan, 5.0]
    sites["roof_area_m2"] = ["2000", "1500", "x"]  # text: to_numeric gives NaN for "x"
    sites["constraint_reason"] = ["", "heritage", ""]
    sites["building_id"] = sites["building_id"].astype(object)
    sites.index = [10, 11, 12]
    before = sites.copy(deep=True)
    b = _buildings(before.reset_index(drop=True).assign(existing_pv_kwp=0.0))
    r = _plan(sites, b, targets=[T("a", 2027, 1000.0)], pins=pd.DataFrame({"building_id": ["s3"], "pin": ["in"]}))
    assert len(r.plan) == 3 and set(r.plan["phase"]) <= {"2027", "reserve"}
    pd.testing.assert_frame_equal(sites, before, check_exact=True)
    assert list(sites.columns) == list(before.columns)


def test_labels_from_the_buildings_give_the_plan_of_sites_that_carry_them():
    """The pipeline's sites leave out name / owner / address (sites_from_roofs(labels=False)) and
    build_plan takes them from its buildings table: the same plan, dtypes included, as sites that
    carry them; a missing name stays missing; a site whose building is not in the table gets ''."""
    names = {"s1": "市政府 City Hall", "s2": None, "s3": "工厂 Works"}
    sites = _sites([("s1", "government", 1000, 1200), ("s2", "school", 500, 1150), ("s3", "industrial", 800, 1100)])
    for col, val in (("name", names), ("owner", {k: f"owner {k}" for k in names}),
                     ("address", {k: f"路 {k}" for k in names})):
        sites[col] = pd.array([val[b] for b in sites["building_id"]], dtype="str")
    b = _buildings(sites)
    for col in ("name", "owner", "address"):
        b[col] = sites[col].to_numpy()
        b[col] = b[col].astype("str")
    targets = [T("a", 2027, 1200.0), T("b", 2030, 2000.0)]
    carried = _plan(sites, b.drop(columns=["name", "owner", "address"]), targets=targets).plan
    joined = _plan(sites.drop(columns=["name", "owner", "address"]), b, targets=targets).plan
    pd.testing.assert_frame_equal(joined, carried, check_exact=True)
    assert pd.isna(joined.set_index("building_id").loc["s2", "name"])

    # s3's building is not in the table (a hand-made one): no label
    partial = _plan(sites.drop(columns=["name", "owner", "address"]), b[b["building_id"] != "s3"],
                    targets=targets).plan.set_index("building_id")
    assert partial.loc["s3", ["name", "owner", "address"]].tolist() == ["", "", ""]
    assert partial.loc["s1", "name"] == "市政府 City Hall"


def test_ordering_a_plan_already_in_rank_order_leaves_the_ranking_as_it_was():
    """_order_plan shares the ranking's columns when its rows are already in order (the priority
    schedule builds in rank order): the ranking, read again by the least-cost schedule, must not
    change, and the plan is the one a copy gives."""
    from pv_survey.plan import _order_plan

    sites = _sites([("s1", "government", 1000, 1200), ("s2", "school", 500, 1150), ("s3", "industrial", 800, 1100)])
    ranked = rank_sites(sites.assign(pinned=""), priority_classes=CLASSES)
    before = ranked.copy(deep=True)
    for build in ([2027, 2027, 2030], [2030, 0, 2027]):  # in rank order; out of it (reserve, a later year first)
        plan = _order_plan(ranked, np.array(build), ["a", "b", "a"], ["w1", "", "w3"], 100.0, {})
        pd.testing.assert_frame_equal(ranked, before, check_exact=True)
        again = _order_plan(before.copy(deep=True), np.array(build), ["a", "b", "a"], ["w1", "", "w3"], 100.0, {})
        pd.testing.assert_frame_equal(plan, again, check_exact=True)
        assert plan["rank"].tolist() == [1, 2, 3]
    assert plan["building_id"].tolist() == [ranked["building_id"].iloc[2], ranked["building_id"].iloc[0],
                                            ranked["building_id"].iloc[1]]
