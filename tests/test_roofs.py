"""Roof planes, usable area, layout and capacity on hand-made roofs."""

import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from pv_survey import roofs as R

CRS = "EPSG:4547"


def _buildings(geoms, roof_type="flat", height=20.0, existing=0.0):
    n = len(geoms)
    return gpd.GeoDataFrame({
        "building_id": [f"B{i}" for i in range(n)],
        "roof_type": [roof_type] * n if isinstance(roof_type, str) else roof_type,
        "height_m": height,
        "existing_pv_kwp": existing,
        "excluded_reason": "",
    }, geometry=list(geoms), crs=CRS)


LAYOUT = dict(latitude_deg=23.13, edge_setback_m=1.0, obstacle_free_frac=0.75, min_usable_area_m2=10.0,
              max_tilt_deg=60.0, exclude_north_facing=True, north_sector_half_width_deg=45.0,
              flat_layout="south", flat_module_tilt_deg=15.0, flat_module_azimuth_deg=180.0,
              east_west_tilt_deg=10.0, row_spacing="gcr", flat_gcr=0.7, east_west_gcr=0.9,
              pitched_gcr=0.98, module_efficiency_frac=0.2)


def test_usable_area_square_roof():
    # 20 m x 20 m roof, 1 m setback -> 18 x 18 = 324 m2; x 0.75 obstacle-free = 243 m2
    g, a = R.usable_area_m2([box(0, 0, 20, 20)], setback_m=1.0, obstacle_free_frac=0.75)
    assert a[0] == pytest.approx(243.0)
    assert shapely.bounds(g[0]).tolist() == pytest.approx([1, 1, 19, 19])


def test_flat_square_roof_capacity_by_hand():
    b = _buildings([box(500000, 2560000, 500020, 2560020)])
    planes = R.roof_planes_from_buildings(b)
    out = R.layout_roofs(planes, **LAYOUT)
    row = out.iloc[0]
    # usable 243 m2 (above); module area = 243 * GCR 0.7 = 170.1 m2; x 0.2 kW/m2 = 34.02 kWp
    assert row["usable_area_m2"] == pytest.approx(243.0)
    assert row["module_area_m2"] == pytest.approx(170.1)
    assert row["capacity_kwp"] == pytest.approx(34.02)
    assert row["mount"] == "rack" and row["module_tilt_deg"] == 15.0 and row["excluded_reason"] == ""


def test_small_roof_excluded():
    # 5 x 5 roof: (5-2)^2 * 0.75 = 6.75 m2 < 10 m2 minimum (Gagnon et al. 2016)
    b = _buildings([box(0, 0, 5, 5)])
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **LAYOUT)
    assert out["excluded_reason"].iloc[0] == R.EXCLUDED["small"]
    assert out["capacity_kwp"].iloc[0] == 0.0


def test_east_west_rows_split_area():
    b = _buildings([box(0, 0, 20, 20)])
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **{**LAYOUT, "flat_layout": "east-west"})
    assert sorted(out["module_azimuth_deg"]) == [90.0, 270.0]
    # each half: 243 / 2 = 121.5 m2 x GCR 0.9 x 0.2 = 21.87 kWp
    assert out["capacity_kwp"].to_numpy() == pytest.approx([21.87, 21.87])


def test_existing_pv_reduces_new_capacity():
    b = _buildings([box(0, 0, 20, 20)], existing=10.0)
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **LAYOUT,
                         existing_pv_kwp=b.set_index("building_id")["existing_pv_kwp"])
    # 34.02 kWp possible (see above) - 10 kWp already installed = 24.02 kWp
    assert out["capacity_kwp"].iloc[0] == pytest.approx(24.02)


@pytest.mark.parametrize("lat", [18.0, 23.13, 30.0, 40.0])
@pytest.mark.parametrize("tilt", [5.0, 15.0, 25.0, 35.0])
def test_solstice_gcr_matches_gb50797_formula(lat, tilt):
    # GB 50797: D/L = cos(b) + sin(b) * (0.707 tan(phi) + 0.4338) / (0.707 - 0.4338 tan(phi)),
    # the 9:00 solstice shadow; the geometric rule takes the worst hour of 9-15 h, which for
    # south rows is 9:00 / 15:00, so both agree (to the rounding of 0.707 and 0.4338: relative 1.5e-4 each, up to ~3e-4 combined at 40 N).
    b = np.radians(tilt)
    expected = 1.0 / (np.cos(b) + np.sin(b) * R.gb50797_row_pitch_factor(lat))
    assert R.solstice_row_gcr(lat, tilt) == pytest.approx(expected, rel=5e-4)


def test_solar_altitude_noon_solstice():
    # at solar noon the altitude is 90 - |lat - dec|: 90 - (23.13 + 23.45) = 43.42 deg, due south
    alt, az = R.solar_altitude_azimuth_deg(23.13, -23.45, 0.0)
    assert alt == pytest.approx(43.42)
    assert az == pytest.approx(180.0)


def test_gable_split_of_rectangle():
    # 30 m (E-W) x 10 m (N-S) house: the ridge runs E-W, halves face north (0) and south (180)
    b = _buildings([box(0, 0, 30, 10)], roof_type="pitched")
    planes = R.roof_planes_from_buildings(b, default_pitch_deg=25.0)
    assert len(planes) == 2
    assert sorted(np.round(planes["azimuth_deg"], 6) % 360) == pytest.approx([0.0, 180.0])
    assert planes.geometry.area.to_numpy() == pytest.approx([150.0, 150.0])
    out = R.layout_roofs(planes, **LAYOUT)
    north = out[np.isclose(out["azimuth_deg"] % 360, 0.0)].iloc[0]
    south = out[np.isclose(out["azimuth_deg"], 180.0)].iloc[0]
    assert north["excluded_reason"] == R.EXCLUDED["north"]
    # south half 30 x 5 m: setback -> 28 x 3 = 84 m2 x 0.75 = 63 m2 plan; slope = 63 / cos 25 deg
    slope = 63.0 / np.cos(np.radians(25.0))
    assert south["usable_area_m2"] == pytest.approx(slope)
    assert south["capacity_kwp"] == pytest.approx(slope * 0.98 * 0.2)
    assert south["mount"] == "flush" and south["module_tilt_deg"] == 25.0


def test_planes_layer_used_and_steep_excluded():
    b = _buildings([box(0, 0, 20, 20)], roof_type="pitched")
    planes_in = gpd.GeoDataFrame({"building_id": ["B0", "B0"], "tilt_deg": [30.0, 70.0],
                                  "azimuth_deg": [180.0, 90.0]},
                                 geometry=[box(0, 0, 20, 10), box(0, 10, 20, 20)], crs=CRS)
    out = R.layout_roofs(R.roof_planes_from_buildings(b, planes_in), **LAYOUT)
    assert set(out["plane_source"]) == {"roof-planes layer"}
    steep = out[out["tilt_deg"] == 70.0].iloc[0]
    assert steep["excluded_reason"] == R.EXCLUDED["too_steep"]


# ----------------------------------------------------------------------------- roof shapes (issue 16)


def _shaped(shape, geom=box(0, 0, 20, 10), **cols):
    b = _buildings([geom], roof_type="pitched")
    b["roof_shape"] = shape
    for k, v in cols.items():
        b[k] = v
    return R.roof_planes_from_buildings(b)


def test_hipped_roof_planes_by_hand():
    # 20 x 10 m, hips at 45 deg in plan: ridge 20 - 10 = 10 m long on the centre line. Long sides are
    # trapezoids (20 + 10) / 2 x 5 = 75 m2, the ends triangles 10 x 5 / 2 = 25 m2 (plane geometry).
    p = _shaped("hipped").sort_values("azimuth_deg")
    assert p["azimuth_deg"].tolist() == pytest.approx([0.0, 90.0, 180.0, 270.0])
    assert p.geometry.area.tolist() == pytest.approx([75.0, 25.0, 75.0, 25.0])
    assert p["tilt_deg"].tolist() == pytest.approx([20.0] * 4)  # no roof:angle: the default pitch
    assert p["plane_source"].str.startswith("roof:shape=hipped").all()


def test_pyramidal_and_half_hipped_planes():
    # pyramid on 20 x 10: four triangles from the centre, 20 x 5 / 2 = 50 and 10 x 10 / 2 = 50 m2
    p = _shaped("pyramidal")
    assert sorted(p.geometry.area.round(6)) == pytest.approx([50.0] * 4)
    # half-hip: ridge 2 (a - b/2) = 15 m; ends 10 x 2.5 / 2 = 12.5 m2, sides (20 + 15) / 2 x 5 = 87.5 m2
    h = _shaped("half-hipped")
    assert sorted(h.geometry.area.round(6)) == pytest.approx([12.5, 12.5, 87.5, 87.5])


def test_skillion_faces_its_compass_direction():
    # roof:direction = NNE is 22.5 deg (16-point rose); one plane over the whole footprint
    from pv_survey.inputs.schema import parse_direction_deg
    az = parse_direction_deg(pd.Series(["NNE", "s", "270", "sideways"]))
    assert az[:3].tolist() == [22.5, 180.0, 270.0] and np.isnan(az[3])
    p = _shaped("skillion", roof_direction_deg=22.5, roof_angle_deg=10.0)
    assert len(p) == 1 and p["azimuth_deg"].iloc[0] == pytest.approx(22.5)
    assert p["tilt_deg"].iloc[0] == pytest.approx(10.0) and p.geometry.area.iloc[0] == pytest.approx(200.0)
    # north-facing (22.5 deg is within 45 deg of north) -> excluded by the north rule like any plane
    out = R.layout_roofs(p, **LAYOUT)
    assert out["excluded_reason"].iloc[0] == R.EXCLUDED["north"]


def test_roof_height_sets_the_gable_tilt():
    # gable on 20 x 10 with roof:height 5 m: run = half the short side = 5 m -> atan(5 / 5) = 45 deg
    p = _shaped("gabled", roof_height_m=5.0)
    assert p["tilt_deg"].tolist() == pytest.approx([45.0, 45.0])
    # roof:orientation = across: the ridge runs along the short axis, halves face east and west
    a = _shaped("gabled", roof_orientation="across")
    assert sorted(a["azimuth_deg"]) == pytest.approx([90.0, 270.0])
    assert a.geometry.area.tolist() == pytest.approx([100.0, 100.0])


def test_dome_and_cone_sectors_cover_the_footprint():
    circle = shapely.Point(0, 0).buffer(10.0, quad_segs=64)
    d = _shaped("dome", geom=circle)
    # eight 45-deg sectors, each 1/8 of the disc; a dome without angle/height at the hemisphere's
    # plan-area mean slope, int_0^1 2x asin(x) dx = pi/4 rad = 45 deg
    assert len(d) == 8 and d.geometry.area.sum() == pytest.approx(circle.area, rel=1e-9)
    assert d.geometry.area.tolist() == pytest.approx([circle.area / 8] * 8, rel=1e-6)
    assert d["tilt_deg"].tolist() == pytest.approx([45.0] * 8)
    c = _shaped("cone", geom=circle, roof_angle_deg=30.0)
    assert c["tilt_deg"].tolist() == pytest.approx([30.0] * 8)
    assert sorted(c["azimuth_deg"].round(6)) == pytest.approx([0, 45, 90, 135, 180, 225, 270, 315])


def test_mansard_flat_top_and_steep_sides():
    p = _shaped("mansard")
    top = p[p["roof_type"] == "flat"]
    # top inset b/2 = 2.5 m: (20 - 5) x 5 = 75 m2; the sides at 70 deg exceed max_tilt (60) and carry nothing
    assert top.geometry.area.tolist() == pytest.approx([75.0])
    out = R.layout_roofs(p, **LAYOUT)
    assert (out.loc[out["roof_type"] == "pitched", "excluded_reason"] == R.EXCLUDED["too_steep"]).all()


def test_unknown_shape_falls_back_to_an_assumed_gable_flagged():
    p = _shaped("onion")
    assert len(p) == 2 and p["plane_source"].str.contains("assumed gable").all()
    assert p["plane_source"].str.contains("roof:shape=onion not modelled").all()


# ----------------------------------------------------------------------------- building parts


def test_part_roof_planes_at_own_heights():
    # a 40 x 40 m podium at 10 m with a 10 x 10 m tower part at 60 m: the tower roof 100 m2 at 60 m,
    # the rest of the podium 1600 - 100 = 1500 m2 at 10 m
    b = _buildings([box(0, 0, 40, 40)], height=10.0)
    parts = gpd.GeoDataFrame({"part_id": ["P1"], "building_id": ["B0"], "roof_type": ["flat"], "height_m": [60.0]},
                             geometry=[box(15, 15, 25, 25)], crs=CRS)
    planes = R.with_part_planes(None, b, parts)
    roofs = R.roof_planes_from_buildings(b, planes)
    assert set(roofs["building_id"]) == {"B0"}
    by_h = roofs.set_index("height_m").geometry.area
    assert by_h.loc[60.0] == pytest.approx(100.0) and by_h.loc[10.0] == pytest.approx(1500.0)
    assert roofs["plane_source"].str.startswith("building:part P1").sum() == 1
    g, h = R.part_prisms(planes)  # only the part is burnt into the DSM (the outline is there already)
    assert len(g) == 1 and h.tolist() == [60.0]


# ----------------------------------------------------------------------------- constraints and rules


class _C:
    def __init__(self, heritage="exclude", supertall="reserve", supertall_height_m=100.0):
        self.heritage, self.supertall, self.supertall_height_m = heritage, supertall, supertall_height_m


def test_constraints_heritage_and_supertall():
    b = _buildings([box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)], height=[20.0, 150.0, 99.0])
    b["heritage"] = ["historic=building", "", ""]
    out = R.apply_constraints(b, _C())
    # heritage excluded with 文物/历史建筑; 150 m > 100 m (GB 50016) held in reserve; 99 m untouched
    assert out["excluded_reason"].tolist() == [R.CONSTRAINT_REASONS["heritage"], "", ""]
    assert out["constraint_reason"].tolist() == [R.CONSTRAINT_REASONS["heritage"], R.CONSTRAINT_REASONS["supertall"], ""]
    assert "文物/历史建筑" in out["excluded_reason"].iloc[0]
    res = R.apply_constraints(b, _C(heritage="reserve", supertall="ignore"))
    assert res["excluded_reason"].tolist() == ["", "", ""]
    assert res["constraint_reason"].tolist() == [R.CONSTRAINT_REASONS["heritage"], "", ""]
    lines = R.constraint_summary_lines(out)
    assert any("1 buildings (1 excluded" in s for s in lines) and any("0 excluded, 1 surveyed" in s for s in lines)


def test_category_rule_flush_industrial_flat_roof():
    from pv_survey.config import CategoryRule
    b = _buildings([box(0, 0, 20, 20), box(40, 0, 60, 20)])
    cat = pd.Series({"B0": "industrial", "B1": "commercial"})
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **LAYOUT, category=cat,
                         category_rules=(CategoryRule("industrial", "flat", "flush", 0.0, 0.85),))
    o = out.set_index("building_id")
    # usable 18 x 18 x 0.75 = 243 m2; flush at 85 %: 206.55 m2 of modules x 0.2 kW/m2 = 41.31 kWp
    assert o.loc["B0", "mount"] == "flush" and o.loc["B0", "module_tilt_deg"] == 0.0
    assert o.loc["B0", "capacity_kwp"] == pytest.approx(243.0 * 0.85 * 0.2)
    # the commercial roof keeps racked rows at the fixed GCR 0.7: 243 x 0.7 x 0.2 = 34.02 kWp
    assert o.loc["B1", "mount"] == "rack" and o.loc["B1", "capacity_kwp"] == pytest.approx(243.0 * 0.7 * 0.2)


def test_protected_layer_marks_heritage():
    # B0 wholly inside the protected polygon, B1 30 % inside (x 40..43 of 40..50): only B0 is heritage
    b = _buildings([box(0, 0, 10, 10), box(40, 0, 50, 10)])
    prot = gpd.GeoDataFrame(geometry=[box(-5, -5, 43, 20)], crs=CRS)
    out = R.apply_constraints(b, _C(), prot)
    assert out["heritage"].tolist() == ["protected layer", ""]
    assert out["excluded_reason"].tolist() == [R.CONSTRAINT_REASONS["heritage"], ""]


def test_constraints_and_category_rules_from_toml(tmp_path):
    from pv_survey.config import load_config
    from pv_survey.errors import ConfigError
    p = tmp_path / "s.toml"
    p.write_text('[roofs.constraints]\nheritage = "reserve"\nsupertall_height_m = 150.0\n\n'
                 '[[roofs.category_rules]]\ncategory = "school"\nroof_kind = "flat"\nmount = "rack"\n'
                 'module_tilt_deg = 10.0\ncoverage_frac = 0.6\n', encoding="utf-8")
    cfg = load_config(p)
    c = cfg.roofs.constraints
    assert (c.heritage, c.supertall, c.supertall_height_m) == ("reserve", "reserve", 150.0)
    assert [(r.category, r.mount, r.coverage_frac) for r in cfg.roofs.category_rules] == [("school", "rack", 0.6)]
    p.write_text('[roofs.constraints]\nheritage = "demolish"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="roofs.constraints.heritage"):
        load_config(p)


def test_plan_holds_constrained_sites_in_reserve():
    """A site with a constraint_reason (roofs.apply_constraints) is reserve, and adds nothing to the phases."""
    from pv_survey.config import PlanConfig, Target
    from pv_survey.plan import RESERVE, build_plan

    recs = []
    for bid, cap, reason in (("A", 2000.0, ""), ("T", 5000.0, R.CONSTRAINT_REASONS["supertall"]), ("C", 2000.0, "")):
        recs.append({"building_id": bid, "name": bid, "category": "government", "owner": "", "address": "",
                     "existing_pv_kwp": 0.0, "capacity_kwp": cap, "annual_kwh": cap * 1100.0,
                     "specific_yield_kwh_kwp": 1100.0 + (100.0 if bid == "T" else 0.0), "usable_area_m2": cap * 7,
                     "module_area_m2": cap * 5, "roof_area_m2": cap * 10, "constraint_reason": reason})
    sites = pd.DataFrame(recs)
    sites["year_built"] = pd.array([2000] * 3, dtype="Int64")
    res = build_plan(sites, settings=PlanConfig(priority_classes=("government",),
                                                targets=(Target("3 MW", 2030, 3000.0),), plan_year=2024,
                                                as_of_year=2024))
    p = res.plan.set_index("building_id")
    # T has the best yield and would rank first; held, it is reserve and the 3 MW target takes A then C
    # (2,000 + 2,000 kWp: C is the site that crosses 3,000 kWp)
    assert p.loc["T", "phase"] == RESERVE and p.loc["T", "pinned"] == ""
    assert p.loc["A", "phase"] == "2030" and p.loc["C", "phase"] == "2030"
    assert p["capacity_kwp"].sum() == pytest.approx(9000.0)  # nothing lost from the plan


def test_excluded_heritage_building_still_casts_shade():
    # a 30 m heritage building kept out of the plan stands in the rasterised DSM beside a 10 m one
    from pv_survey.config import Config
    from pv_survey.pipeline import build_dsm
    b = gpd.GeoDataFrame({"building_id": ["H", "N"], "excluded_reason": [R.CONSTRAINT_REASONS["heritage"], ""],
                          "height_m": [30.0, 10.0]},
                         geometry=[box(430000, 2557000, 430020, 2557020), box(430030, 2557000, 430050, 2557020)],
                         crs=CRS)
    dsm, owner_of, _ = build_dsm(Config(), b, b.total_bounds)
    assert set(owner_of.index) == {"H", "N"} and float(dsm.height_m.max()) == 30.0
