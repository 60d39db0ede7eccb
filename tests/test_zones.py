"""Reporting zones (issue 16, item 7) and the Huacheng OSM sample through the CLI (issue 16, all items)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from pv_survey import zones as Z

CRS = "EPSG:4547"


def _zones():
    return gpd.GeoDataFrame({"zone": ["东区", "西区"]}, geometry=[box(100, 0, 200, 100), box(0, 0, 100, 100)], crs=CRS)


def test_assign_zones_by_larger_share():
    # B0 lies 70 % in 西区 (x 30..100 of 30..130), B1 wholly in 东区, B2 outside both, B3 has no geometry
    fps = [box(30, 10, 130, 20), box(150, 10, 160, 20), box(500, 500, 510, 510), None]
    assert Z.assign_zones(fps, _zones()).tolist() == ["西区", "东区", "", ""]


def test_zone_table_sums_by_hand():
    b = gpd.GeoDataFrame({
        "excluded_reason": ["", "", "shaded", ""],
        "capacity_kwp": [100.0, 50.0, 0.0, 20.0],
        "annual_kwh": [110_000.0, 55_000.0, 0.0, 22_000.0],
        "phase": ["2030", "reserve", "", "2030"],
    }, geometry=[box(10, 10, 20, 20), box(30, 30, 40, 40), box(150, 10, 160, 20), box(500, 500, 510, 510)], crs=CRS)
    zone_of = Z.assign_zones(b.geometry.to_numpy(), _zones())
    raw = Z.zone_table(b, _zones(), zone_of, layer="jiedao")
    assert list(raw.columns[:len(Z.ZONE_COLUMNS)]) == list(Z.ZONE_COLUMNS) and set(raw["zone_layer"]) == {"jiedao"}
    t = raw.set_index("zone")
    # 西区: two sites, 150 kWp, 165 MWh, of which 100 kWp by 2030 and 50 kWp reserve; 东区 one excluded
    assert t.loc["西区", ["n_buildings", "n_sites", "capacity_kwp", "annual_mwh"]].tolist() == [2, 2, 150.0, 165.0]
    assert (t.loc["西区", "kwp_2030"], t.loc["西区", "kwp_reserve"]) == (100.0, 50.0)
    assert t.loc["东区", ["n_buildings", "n_sites", "n_excluded"]].tolist() == [1, 0, 1]
    # the building outside every zone is kept in a row of its own: nothing lost
    assert t.loc["", "n_buildings"] == 1 and t["n_buildings"].sum() == 4
    assert t["capacity_kwp"].sum() == pytest.approx(b["capacity_kwp"].sum())


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OSM_SAMPLE = SHARED / "tianhe_huacheng_osm_buildings.geojson"


@pytest.mark.shared_data
@pytest.mark.skipif(not OSM_SAMPLE.is_file(), reason=f"{OSM_SAMPLE} not present (../shared/data beside the repo)")
def test_huacheng_sample_parts_constraints_zones_through_cli(tmp_path):
    """`pv-survey run --buildings <Huacheng OSM> --zones Z` (issue 16).

    Expectations from the OSM tags (../shared/data/PROVENANCE.md, file 3): 45 building=* and 7
    building:part=*; 高德置地广场B座 (w299812755, 15 levels x 4.0 m commercial storey = 60 m) is a
    part of 高德置地广场（春） (w299812757, 5 levels = 20 m); the IFC tower w184738716 has
    height=440.2 (> 100 m, GB 50016 helipad rule).
    """
    from pv_survey.cli import main

    sample = gpd.read_file(OSM_SAMPLE)
    x0, y0, x1, y1 = sample.total_bounds
    xm = (x0 + x1) / 2
    zp = tmp_path / "jiedao.geojson"
    gpd.GeoDataFrame({"街道": ["西", "东"]}, geometry=[box(x0 - 0.01, y0 - 0.01, xm, y1 + 0.01),
                                                     box(xm, y0 - 0.01, x1 + 0.01, y1 + 0.01)],
                     crs="EPSG:4326").to_file(zp, driver="GeoJSON")
    out = tmp_path / "hc"
    main(["-q", "run", "--buildings", str(OSM_SAMPLE), "--out", str(out), "--zones", str(zp), "--zone-field", "街道"])
    b = pyogrio.read_dataframe(out / "survey.gpkg", layer="buildings").set_index("building_id")
    # parts are roof planes, not buildings: 45 buildings, none excluded as a part
    assert len(b) == 45 and not b["excluded_reason"].str.startswith("building part").any()
    roofs = pyogrio.read_dataframe(out / "survey.gpkg", layer="roofs")
    tower = roofs[roofs["plane_source"].str.startswith("building:part w299812755")]
    assert set(tower["building_id"]) == {"w299812757"} and tower["height_m"].tolist() == pytest.approx([60.0])
    podium = roofs[(roofs["building_id"] == "w299812757") & roofs["plane_source"].str.startswith("outline")]
    assert len(podium) and podium["height_m"].tolist() == pytest.approx([20.0] * len(podium))
    # supertall: surveyed, flagged and held in reserve
    ifc = b.loc["w184738716"]
    assert ifc["constraint_reason"].startswith("supertall roof") and ifc["phase"] == "reserve"
    assert ifc["capacity_kwp"] > 0
    # zones: every building in one zone (or outside), totals agree with the buildings layer
    z = pd.read_csv(out / "zones.csv", encoding="utf-8-sig")
    assert set(z["zone"].fillna("")) <= {"西", "东", ""} and z["n_buildings"].sum() == 45
    assert z["capacity_kwp"].sum() == pytest.approx(b["capacity_kwp"].sum())
    assert set(b["zone_jiedao"]) <= {"西", "东", ""}
    zl = pyogrio.read_dataframe(out / "survey.gpkg", layer="zones")
    assert len(zl) == len(z) and np.isclose(zl["annual_mwh"].sum(), b["annual_kwh"].sum() / 1000.0)
    assert "supertall roof" in (out / "summary.md").read_text(encoding="utf-8")


DATAV = SHARED / "440106_tianhe_datav_gcj02.json"
WGS = SHARED / "440106_tianhe_boundary_wgs84.geojson"


@pytest.mark.shared_data
@pytest.mark.skipif(not (DATAV.is_file() and WGS.is_file()), reason=f"{DATAV} / {WGS} not present (../shared/data)")
def test_datav_zone_read_as_gcj02():
    # PROVENANCE.md files 5 and 6: the same Tianhe boundary in GCJ-02 (DataV) and converted to WGS84
    # (136.2 km2). Read as a zone layer, the DataV file is converted from GCJ-02 and lands on the WGS84
    # one within 1e-5 of its area (a GCJ-02 file read as WGS84 would be offset by ~500 m).
    from pv_survey.inputs import read_zones
    z = read_zones(DATAV)
    w = gpd.read_file(WGS).to_crs(CRS).geometry.iloc[0]
    assert z["zone"].tolist() == ["天河区"]
    assert z.geometry.iloc[0].symmetric_difference(w).area < 1e-5 * w.area
    assert w.area == pytest.approx(136.2e6, rel=2e-3)


def test_zones_choropleth_svg_shades_by_capacity():
    from pv_survey.outputs.zones_map import GREENS, zones_choropleth_svg
    z = gpd.GeoDataFrame({"zone_layer": ["j", "j"], "zone": ["东区", "西区"], "capacity_kwp": [100.0, 10.0]},
                         geometry=[box(100, 0, 200, 100), box(0, 0, 100, 100)], crs=CRS)
    svg = zones_choropleth_svg(z)
    # five equal classes up to the largest: 100 kWp is the darkest class, 10 kWp (10 %) the lightest
    assert svg.count("<path") == 2 and f'fill="{GREENS[-1]}"' in svg and f'fill="{GREENS[0]}"' in svg
    assert "东区" in svg and "100 kWp" in svg
