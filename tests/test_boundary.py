"""The district boundary (issue 17, item 3): read from any GIS file into the survey CRS (DataV
files as GCJ-02), buildings outside it counted, written as a styled GeoPackage layer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from pv_survey import zones as Z
from pv_survey.inputs import read_boundary

CRS = "EPSG:4547"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATAV = SHARED / "440106_tianhe_datav_gcj02.json"
WGS = SHARED / "440106_tianhe_boundary_wgs84.geojson"


def test_outside_boundary_by_a_point_inside_each_footprint():
    boundary = gpd.GeoSeries([box(0, 0, 100, 100), box(200, 0, 300, 100)], crs=CRS)  # two parts, one area
    fps = [box(10, 10, 20, 20),      # inside the first part
           box(210, 10, 220, 20),    # inside the second part
           box(150, 10, 160, 20),    # in the gap between them
           box(90, 10, 130, 20),     # straddles the edge: 25 % inside, its point on the surface is outside
           box(40, 10, 120, 20),     # straddles, 75 % inside: its point on the surface (the middle) is inside
           None]                     # no geometry: not counted
    got = Z.outside_boundary(fps, boundary)
    # independent: shapely's point_on_surface of a box is its centre
    centres_in = [shapely.covers(shapely.union_all(boundary.values), g.centroid) if g is not None else True
                  for g in fps]
    assert got.tolist() == [not c for c in centres_in] == [False, False, True, True, False, False]
    note = Z.boundary_note(["a", "b", "c", "d", "e", "f"], got, "b.geojson")
    assert note.startswith("b.geojson: 2 of 6 buildings lie outside") and "(c, d)" in note
    assert Z.boundary_note(["a"], np.array([False]), "b.geojson") == ""


def test_read_boundary_hand_made_polygons_dissolved_into_the_survey_crs(tmp_path):
    # two adjacent squares of 0.01 deg in WGS84 near Tianhe, one named: one area, reprojected
    lon, lat = 113.35, 23.15
    parts = [box(lon, lat, lon + 0.01, lat + 0.01), box(lon + 0.01, lat, lon + 0.02, lat + 0.01)]
    path = tmp_path / "district.geojson"
    gpd.GeoDataFrame({"name": ["试验区", "试验区"]}, geometry=parts, crs="EPSG:4326").to_file(path)
    b = read_boundary(path, target_crs=CRS)
    assert len(b) == 1 and b["name"].tolist() == ["试验区"] and str(b.crs) == CRS
    expect = gpd.GeoSeries([shapely.union_all(parts)], crs="EPSG:4326").to_crs(CRS).iloc[0]
    assert b.geometry.iloc[0].symmetric_difference(expect).area < 1e-6 * expect.area
    assert b["area_km2"].iloc[0] == pytest.approx(expect.area / 1e6)
    # without a name field the file stem names it
    path2 = tmp_path / "park.geojson"
    gpd.GeoDataFrame(geometry=parts[:1], crs="EPSG:4326").to_file(path2)
    assert read_boundary(path2, target_crs=CRS)["name"].tolist() == ["park"]


@pytest.mark.shared_data
@pytest.mark.skipif(not (DATAV.is_file() and WGS.is_file()), reason=f"{DATAV} / {WGS} not present (../shared/data)")
def test_tianhe_datav_boundary_read_as_gcj02():
    # PROVENANCE.md files 5 and 6: the same boundary in GCJ-02 (DataV) and converted to WGS84 (136.2 km2).
    # Read as WGS84 the GCJ-02 file would be ~500 m off; read as GCJ-02 it lands on the WGS84 one.
    d = read_boundary(DATAV, target_crs=CRS)
    w = read_boundary(WGS, target_crs=CRS)
    ref = gpd.read_file(WGS).to_crs(CRS).geometry.union_all()
    assert d["name"].tolist() == ["天河区"]
    assert d.geometry.iloc[0].symmetric_difference(ref).area < 1e-5 * ref.area
    assert w.geometry.iloc[0].symmetric_difference(ref).area < 1e-9 * ref.area
    assert d["area_km2"].iloc[0] == pytest.approx(136.2, rel=2e-3)
    as_wgs = read_boundary(DATAV, source_crs="EPSG:4326", target_crs=CRS).geometry.iloc[0]
    assert as_wgs.centroid.distance(ref.centroid) > 300.0  # the offset the GCJ-02 reading removes


def test_boundary_layer_style_is_an_unfilled_outline():
    from pv_survey.outputs.styles import BOUNDARY_COLOUR, qml_for_layer

    layer = gpd.GeoDataFrame({"name": ["天河区"], "area_km2": [1.0]}, geometry=[box(0, 0, 1000, 1000)], crs=CRS)
    root = ET.fromstring(qml_for_layer("boundary", layer).split("\n", 1)[1])  # after the DOCTYPE line
    r = root.find("renderer-v2")
    assert r.get("type") == "singleSymbol"
    opts = {o.get("name"): o.get("value") for o in r.iter("Option") if o.get("name")}
    h = BOUNDARY_COLOUR.lstrip("#")
    assert opts["style"] == "no" and opts["outline_color"] == ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"
    assert {a.get("field") for a in root.iter("alias")} >= {"name", "area_km2"}
