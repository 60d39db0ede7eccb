"""Outputs: GeoPackage (layers, CRS, version, fids, styles), CSV shortlists, report, summary,
manifest, atomic writes and the overwrite rule.

Every test runs on a hand-made district of 8 buildings (``make_district``): the numbers
below are the ones typed into it, so each expectation is read off the fixture, not off
the code under test.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings, strategies as st
import shapely
from pyproj import CRS, Transformer

from pv_survey.errors import OutputError
from pv_survey.outputs import atomic_path, prepare_out_dir, result_layers, write_outputs
from pv_survey.outputs.atomic import Staging
from pv_survey.outputs.charts import ChartText, cjk_font, cumulative_capacity_png
from pv_survey.outputs.csv_out import csv_bytes, shortlist_frame
from pv_survey.outputs.labels import FIELD_LABELS
from pv_survey.outputs.manifest import manifest_json, redact_url
from pv_survey.outputs.styles import phase_colours, phase_order, yield_breaks

METRIC_CRS = "EPSG:4547"
# B001's footprint is centred on this point (CGCS2000, inside Tianhe's extent 113.30-113.44 E,
# 23.10-23.25 N per issue 2); the CSV must give it back.
ANCHOR_LON_DEG, ANCHOR_LAT_DEG = 113.35, 23.13
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # PNG specification (ISO/IEC 15948), section 5.2

# (id, name, category, existing kWp, excluded reason, phase, capacity kWp, annual kWh); rows
# deliberately out of id order so the fid rule (sorted building_id) is visible.
BUILDINGS = [
    ("B003", "医院甲", "hospital", 0.0, "", "2030", 60.0, 60_000.0),
    ("B001", "区政府", "government", 0.0, "", "2025", 100.0, 110_000.0),
    ("B002", "=SUM(A1)", "school", 0.0, "", "2025", 80.0, 88_000.0),
    ("B004", "厂房", "industrial", 20.0, "", "2030", 50.0, 52_000.0),
    ("B005", "商场", "commercial", 0.0, "", "reserve", 40.0, 41_000.0),
    ("B006", "住宅", "residential", 0.0, "too small / 面积过小", "", 0.0, 0.0),
    ("B007", "杂项", "other", 0.0, "shaded / 遮挡严重", "", 0.0, 0.0),
    ("B008", "图书馆", "public", 0.0, "", "pinned out", 30.0, 30_000.0),
]
YEAR_BUILT = {"B001": 1999, "B002": None, "B003": 2023, "B004": 2022, "B005": 2010, "B006": 2005,
              "B007": 2001, "B008": 2024}
# plan rows in rank order: (building, priority class); phases and capacities from BUILDINGS
PLAN_ORDER = ["B001", "B002", "B003", "B004", "B005", "B008"]
EXISTING_KWP = 20.0  # B004's existing PV, the only one
# month weights: days per month / 365 (sum exactly 1), so monthly kWh add up to the annual
MONTH_W = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) / 365.0


def _box(k: int) -> shapely.Polygon:
    to_m = Transformer.from_crs("EPSG:4490", METRIC_CRS, always_xy=True)
    cx, cy = to_m.transform(ANCHOR_LON_DEG, ANCHOR_LAT_DEG)
    x = cx + 60.0 * (k - 1)  # B00k sits 60 m east of B00(k-1)
    return shapely.box(x - 15.0, cy - 10.0, x + 15.0, cy + 10.0)


def make_district(phases: dict[str, str] | None = None) -> dict:
    """Keyword arguments of write_outputs for the hand-made district."""
    rows = [list(r) for r in BUILDINGS]
    if phases:
        for r in rows:
            r[5] = phases.get(r[0], r[5])
    b = gpd.GeoDataFrame({
        "building_id": [r[0] for r in rows], "name": [r[1] for r in rows], "category": [r[2] for r in rows],
        "height_m": 20.0, "height_source": "attribute", "roof_type": "flat",
        "year_built": pd.array([YEAR_BUILT[r[0]] for r in rows], dtype="Int64"),
        "existing_pv_kwp": [r[3] for r in rows], "owner": "天河区机关事务管理局", "address": "天河路 1 号",
        "excluded_reason": [r[4] for r in rows], "phase": [r[5] for r in rows],
        "capacity_kwp": [r[6] for r in rows], "annual_kwh": [r[7] for r in rows],
    }, geometry=[_box(int(r[0][1:])) for r in rows], crs=METRIC_CRS)
    by_id = {r[0]: r for r in rows}
    # roofs: B001 has two planes (60 + 40 kWp), every other building one; excluded ones keep theirs
    roof_rows = []
    for r in rows:
        bid, cap, kwh, reason = r[0], r[6], r[7], r[4]
        parts = [(f"{bid}-1", 60.0, 66_000.0), (f"{bid}-2", 40.0, 44_000.0)] if bid == "B001" \
            else [(f"{bid}-1", cap, kwh)]
        for rid, c, e in parts:
            sy = e / c if c > 0 else np.nan
            roof_rows.append({
                "roof_id": rid, "building_id": bid, "roof_type": "flat", "tilt_deg": 0.0, "azimuth_deg": 180.0,
                "area_m2": 600.0, "usable_area_m2": 400.0 if not reason else 0.0, "mount": "rack",
                "module_tilt_deg": 15.0, "module_azimuth_deg": 180.0, "gcr": 0.5, "module_area_m2": c / 0.21,
                "capacity_kwp": c, "sky_view_frac": 0.95 if not reason else np.nan,
                "horizon_deg": "1,2,3" if not reason else "", "annual_kwh": e if not reason else np.nan,
                "specific_yield_kwh_kwp": sy if not reason else np.nan, "poa_kwh_m2": 1500.0,
                "shading_loss_frac": 0.02, "performance_ratio": 0.8,
                **{f"kwh_{m:02d}": (e * MONTH_W[m - 1] if not reason else np.nan) for m in range(1, 13)},
                "excluded_reason": reason, "geometry": _box(int(bid[1:])),
            })
    roofs = gpd.GeoDataFrame(roof_rows, geometry="geometry", crs=METRIC_CRS)
    cum = EXISTING_KWP
    plan_rows = []
    for rank, bid in enumerate(PLAN_ORDER, start=1):
        r = by_id[bid]
        pinned_out = r[5] == "pinned out"
        if not pinned_out:
            cum += r[6]
        plan_rows.append({
            "rank": rank, "building_id": bid, "name": r[1], "category": r[2], "priority_class": r[2],
            "owner": "天河区机关事务管理局", "address": "天河路 1 号", "year_built": YEAR_BUILT[bid],
            "existing_pv_kwp": r[3], "capacity_kwp": r[6], "annual_kwh": r[7],
            "specific_yield_kwh_kwp": r[7] / r[6], "cumulative_kwp": np.nan if pinned_out else cum,
            "phase": r[5], "pinned": pinned_out, "capex_cny": 3_500.0 * r[6],
            "lcoe_cny_per_kwh": 0.3149, "simple_payback_yr": 5.55, "npv_cny": -1234.4,
            "co2_avoided_t_per_yr": r[7] * 0.0005,
        })
    plan = pd.DataFrame(plan_rows)
    targets = pd.DataFrame([
        # 2025: 20 existing + 100 + 80 planned = 200 >= 150 -> met, margin +50, 2 sites
        {"target": "installed PV 2025 / 2025年装机", "year": 2025, "passed": False, "phase": "2025",
         "required_kwp": 150.0, "existing_kwp": 20.0, "planned_kwp": 180.0, "achieved_kwp": 200.0,
         "met": True, "margin_kwp": 50.0, "n_sites": 2, "status": "met / 达标"},
        # 2030: 200 + 60 + 50 = 310 < 400 -> not met, margin -90, 4 sites
        {"target": "installed PV 2030 / 2030年装机", "year": 2030, "passed": False, "phase": "2030",
         "required_kwp": 400.0, "existing_kwp": 20.0, "planned_kwp": 290.0, "achieved_kwp": 310.0,
         "met": False, "margin_kwp": -90.0, "n_sites": 4, "status": "not met / 未达标"},
    ])
    coverage = pd.DataFrame([{"definition": "count", "year": 2025, "n_new_buildings": 3, "n_with_pv": 2,
                              "share_frac": 2 / 3, "target_frac": 0.5, "met": True, "status": "met / 达标"}])
    shares = pd.DataFrame([{"group": "government", "categories": "government", "n_buildings": 1,
                            "roof_area_m2": 600.0, "achieved_frac": 0.5, "required_frac": 0.5, "met": True}])
    summary = {
        "name": "test-district", "buildings_in": 8, "roofs_total": 9, "roofs_kept": 7,
        "excluded_by_reason": {"too small / 面积过小": 1, "shaded / 遮挡严重": 1},
        "total_capacity_kwp": 360.0, "existing_kwp": EXISTING_KWP, "annual_mwh": 381.0,
        "targets": targets.to_dict(orient="records"), "notes": ["synthetic test district / 测试用"],
        "weather_source": "hand-made", "timings_s": {"inputs": 0.1},
    }
    manifest = {"started_utc": "2025-01-02T03:04:05+00:00", "config": {"survey": {"name": "test-district"},
                "outputs": {"postgis_url": "postgresql://planner:s3cret@db.example:5432/gis"}},
                "counts": {"buildings_in": 8}, "versions": {"python": "3.11"}, "nan_value": float("nan")}
    return dict(buildings=b, roofs=roofs, plan=plan, targets=targets, coverage=coverage,
                category_shares=shares, summary=summary, manifest=manifest, crs=METRIC_CRS)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs") / "run"
    paths = write_outputs(out, **make_district(), chart_font=None)
    return out, paths


def _read_csv(path: Path) -> tuple[bytes, list[str], list[dict]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return raw, rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


# --------------------------------------------------------------------------- GeoPackage


def test_gpkg_layers_crs_counts_and_version(written):
    out, paths = written
    gpkg = out / "survey.gpkg"
    assert paths["survey.gpkg"] == gpkg
    layers = dict(pyogrio.list_layers(gpkg))
    # feature layers are multipolygons, tables have no geometry
    assert layers == {"buildings": "MultiPolygon", "roofs": "MultiPolygon", "plan": "MultiPolygon",
                      "targets": None, "coverage": None, "category_shares": None, "layer_styles": None}
    expected_counts = {"buildings": 8, "roofs": 9, "plan": 6, "targets": 2, "coverage": 1, "category_shares": 1}
    for name, n in expected_counts.items():
        info = pyogrio.read_info(gpkg, layer=name)
        assert info["features"] == n, name
        assert info["fid_column"] == "fid"
        if layers[name]:
            assert CRS.from_user_input(info["crs"]).to_epsg() == 4547
    with sqlite3.connect(gpkg) as con:
        # GeoPackage 1.2: application_id 'GPKG' = 0x47504B47, user_version 10200 (OGC 12-128r15, 1.1.1.1.1)
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
        srs = con.execute("SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
                          "WHERE srs_id = (SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'plan')"
                          ).fetchone()
        assert (srs[0].upper(), srs[1]) == ("EPSG", 4547)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ext = {r[0] for r in con.execute("SELECT table_name FROM gpkg_extensions "
                                         "WHERE extension_name = 'gpkg_rtree_index'")}
    for name in ("buildings", "roofs", "plan"):  # spatial index (GeoPackage RTree extension)
        assert f"rtree_{name}_geom" in tables and name in ext


def test_gpkg_fids_are_stable_and_readable(written, tmp_path):
    out, _ = written
    gpkg = out / "survey.gpkg"
    b = pyogrio.read_dataframe(gpkg, layer="buildings", fid_as_index=True)
    # fid = 1-based position in sorted building_id order: B001 -> 1 ... B008 -> 8
    assert dict(zip(b["building_id"], b.index)) == {f"B00{k}": k for k in range(1, 9)}
    p = pyogrio.read_dataframe(gpkg, layer="plan", fid_as_index=True)
    assert list(p.index) == list(p["rank"]) == [1, 2, 3, 4, 5, 6]
    assert list(p["building_id"]) == PLAN_ORDER
    # the plan layer carries the building footprint: B001's box is 30 x 20 m = 600 m2
    assert p.geometry.iloc[0].area == pytest.approx(600.0)
    r = pyogrio.read_dataframe(gpkg, layer="roofs", fid_as_index=True)
    assert list(r["roof_id"]) == sorted(r["roof_id"])
    # Chinese text survives the round trip; year_built NA stays missing
    assert b.loc[1, "name"] == "区政府"
    assert pd.isna(b.loc[2, "year_built"])
    # same input and manifest -> same file, byte for byte, written into a second folder
    again = write_outputs(tmp_path / "again", **make_district(), chart_font=None)
    assert again["survey.gpkg"].read_bytes() == gpkg.read_bytes()


def test_gpkg_written_in_chunks_holds_every_feature(written, tmp_path, monkeypatch):
    """A layer larger than one GDAL write is appended chunk by chunk: every feature, its fid and
    attributes as in one write, the spatial index and the feature count complete."""
    from pv_survey.outputs import gpkg as G

    out, _ = written
    whole = {name: pyogrio.read_dataframe(out / "survey.gpkg", layer=name, fid_as_index=True)
             for name in ("buildings", "roofs", "plan")}
    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", 3)  # make_district: 8 buildings -> chunks of 3, 3, 2
    again = write_outputs(tmp_path / "chunked", **make_district(), chart_font=None)
    for name, frame in whole.items():
        got = pyogrio.read_dataframe(again["survey.gpkg"], layer=name, fid_as_index=True)
        pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                      pd.DataFrame(frame.drop(columns="geometry")))
        assert list(got.geometry.to_wkb()) == list(frame.geometry.to_wkb())
    with sqlite3.connect(again["survey.gpkg"]) as con:
        n = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'buildings'").fetchone()[0]
        idx = con.execute("SELECT count(*) FROM rtree_buildings_geom").fetchone()[0]
    assert n == idx == 8


def _sqlite_dump(gpkg: Path) -> dict[str, object]:
    """Every table, index and trigger of a GeoPackage: its SQL and all its rows."""
    with sqlite3.connect(gpkg) as con:
        objs = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        out: dict[str, object] = {}
        for kind, name, sql in objs:
            out[f"{kind}:{name}"] = sql
            if kind == "table" and not name.startswith("sqlite_"):
                out[f"rows:{name}"] = con.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
    return out


@pytest.mark.skipif(not __import__("pv_survey.outputs.gpkg", fromlist=["x"]).arrow_writes(),
                    reason="GDAL < 3.8: no Arrow writes")
def test_gpkg_arrow_and_feature_writes_give_the_same_layers(tmp_path, monkeypatch):
    """Layers handed to GDAL as Arrow tables are the layers written feature by feature: the same
    tables, rows, fids, types, NULLs, spatial index and styles (and here the same bytes)."""
    from pv_survey.outputs import gpkg as G

    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                "category_shares", "crs")})
    # a table with the awkward cells: NULL in nullable ints, NaN floats, None and Chinese text,
    # an all-NULL text column, booleans, and (not Arrow-safe) a date column
    layers["edge"] = G.table_layer(pd.DataFrame({
        "n": pd.array([1, None, 3], dtype="Int64"), "x_m": [1.5, np.nan, -0.0], "ok": [True, False, True],
        "label": ["甲", None, "=1+1"], "nothing": [None, None, None], "s": pd.array(["a", None, "c"], dtype="string"),
    }))
    layers["dated"] = G.table_layer(pd.DataFrame({"when": pd.to_datetime(["2025-01-01", "2025-06-30"])}))
    # feature layers that are not polygons: lines with a missing geometry, and a mix (geometry type Unknown)
    layers["lines"] = G.table_layer(gpd.GeoDataFrame(
        {"facade_id": ["F1", "F2", "F3"]}, geometry=[shapely.LineString([(0, 0), (5, 0)]), None,
                                                    shapely.LineString([(0, 0), (0, 5), (3, 5)])], crs=METRIC_CRS))
    layers["mixed"] = G.table_layer(gpd.GeoDataFrame(
        {"k": [1, 2]}, geometry=[shapely.Point(1, 2), shapely.box(0, 0, 1, 1)], crs=METRIC_CRS))
    layers["empty"] = G.table_layer(pd.DataFrame({"v": pd.Series([], dtype=float)}))
    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", 3)  # chunks appended through both paths
    calls = []
    real = pyogrio.write_dataframe

    def spy(df, path, **kw):
        calls.append((Path(path).name, kw["layer"], kw.get("use_arrow", False)))
        return real(df, path, **kw)

    monkeypatch.setattr(G.pyogrio, "write_dataframe", spy)
    stamp = "2025-01-02T03:04:05.000Z"
    G.write_gpkg(tmp_path / "arrow.gpkg", layers, crs=METRIC_CRS, timestamp=stamp, arrow=True)
    G.write_gpkg(tmp_path / "features.gpkg", layers, crs=METRIC_CRS, timestamp=stamp, arrow=False)
    used = {(f, layer): a for f, layer, a in calls}
    assert used[("arrow.gpkg", "buildings")] and used[("arrow.gpkg", "edge")] and used[("arrow.gpkg", "lines")]
    assert not used[("arrow.gpkg", "dated")] and not used[("arrow.gpkg", "empty")]
    assert not any(a for (f, _l), a in used.items() if f == "features.gpkg")
    a, b = _sqlite_dump(tmp_path / "arrow.gpkg"), _sqlite_dump(tmp_path / "features.gpkg")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key
    assert a["rows:edge"] == [(1, 1, 1.5, 1, "甲", None, "a"), (2, None, None, 0, None, None, None),
                              (3, 3, -0.0, 1, "=1+1", None, "c")]
    assert len(a["rows:buildings"]) == 8 and len(a["rows:rtree_buildings_geom"]) == 8


def _styles(gpkg: Path) -> dict[str, dict]:
    with sqlite3.connect(gpkg) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM layer_styles").fetchall()
        contents = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert contents[0] == "attributes"  # registered, so GDAL and QGIS's OGR provider list it
    return {r["f_table_name"]: dict(r) for r in rows}


def test_layer_styles_table_defaults_and_aliases(written):
    out, _ = written
    styles = _styles(out / "survey.gpkg")
    assert set(styles) == {"buildings", "roofs", "plan", "targets", "coverage", "category_shares"}
    for name, row in styles.items():
        assert row["useAsDefault"] == 1
        assert row["f_geometry_column"] == ("geom" if name in ("buildings", "roofs", "plan") else "")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["update_time"])
        root = ET.fromstring(row["styleQML"].split("\n", 1)[1])  # skip the DOCTYPE line
        assert root.tag == "qgis"
        aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
        assert aliases["fid"] == "要素编号 / Feature ID"
    plan = ET.fromstring(styles["plan"]["styleQML"].split("\n", 1)[1])
    aliases = {a.get("field"): a.get("name") for a in plan.iter("alias")}
    assert aliases["capacity_kwp"] == "装机容量 (kWp) / Capacity (kWp)"
    assert aliases["simple_payback_yr"] == "回收期 (年) / Payback (years)"
    renderer = plan.find("renderer-v2")
    assert (renderer.get("type"), renderer.get("attr")) == ("categorizedSymbol", "phase")
    assert [c.get("value") for c in renderer.iter("category")] == ["2025", "2030", "reserve", "pinned out"]
    roofs = ET.fromstring(styles["roofs"]["styleQML"].split("\n", 1)[1])
    rr = roofs.find("renderer-v2")
    assert (rr.get("type"), rr.get("attr")) == ("graduatedSymbol", "specific_yield_kwh_kwp")
    lowers = [float(x.get("lower")) for x in rr.iter("range")]
    uppers = [float(x.get("upper")) for x in rr.iter("range")]
    # kept roofs' yields range from 1000 (B003, B008) to 1100 kWh/kWp (B001, B002): all inside
    assert lowers[0] <= 1000.0 and uppers[-1] >= 1100.0 and lowers[1:] == uppers[:-1]
    bld = ET.fromstring(styles["buildings"]["styleQML"].split("\n", 1)[1])
    rules = [r.get("filter") for r in bld.iter("rule")]
    assert any("excluded_reason" in f and "<>" in f for f in rules)  # excluded greyed
    assert any("'government'" in f and "'hospital'" in f and "'school'" in f for f in rules)  # public outlined
    label = bld.find("labeling/settings/text-style")
    assert label.get("isExpression") == "1" and "excluded_reason" in label.get("fieldName")
    assert "excluded_reason" in bld.find("mapTip").text


# --------------------------------------------------------------------------- CSV


EXPECTED_HEADER = [
    "排名 / Rank", "建筑编号 / Building ID", "名称 / Name", "地址 / Address", "类别 / Category",
    "产权单位 / Owner", "优先级类别 / Priority class", "分期 / Phase", "建成年份 / Year built",
    "已建光伏 (kWp) / Existing PV (kWp)", "装机容量 (kWp) / Capacity (kWp)",
    "年发电量 (MWh) / Annual generation (MWh)", "单位容量年发电量 (kWh/kWp) / Specific yield (kWh/kWp)",
    "投资 (元) / CAPEX (CNY)", "净现值 (元) / NPV (CNY)", "度电成本 (元/kWh) / LCOE (CNY/kWh)",
    "回收期 (年) / Payback (years)", "年减排 CO₂ (t) / CO₂ avoided (t/yr)", "经度 CGCS2000 / Longitude",
    "纬度 CGCS2000 / Latitude", "经度 GCJ-02 (高德/腾讯) / Longitude GCJ-02 (Amap/Tencent)",
    "纬度 GCJ-02 (高德/腾讯) / Latitude GCJ-02 (Amap/Tencent)",
]


def test_csv_shortlists_files_encoding_headers_totals(written):
    out, paths = written
    names = sorted(p for p in paths if p.startswith("shortlist") and p.endswith(".csv"))
    # build phases 2025 and 2030, the reserve; every class with a listed site, except commercial:
    # its only site is B005, a reserve mall, so its list would be a byte copy of shortlist_reserve.csv
    assert names == ["shortlist.csv", "shortlist_2025.csv", "shortlist_2030.csv",
                     "shortlist_class_government.csv", "shortlist_class_hospital.csv",
                     "shortlist_class_industrial.csv", "shortlist_class_school.csv", "shortlist_reserve.csv"]
    contents = [paths[n].read_bytes() for n in names]
    assert len(set(contents)) == len(contents)  # no byte-identical duplicates
    _, _, rcom = _read_csv(out / "shortlist_reserve.csv")
    assert [(r["建筑编号 / Building ID"], r["分期 / Phase"]) for r in rcom] == [("B005", "储备 / Reserve")]
    raw, header, rows = _read_csv(out / "shortlist.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark for Excel
    assert header == EXPECTED_HEADER
    assert [r["建筑编号 / Building ID"] for r in rows] == ["B001", "B002", "B003", "B004"]
    # capacity of the build phases: 100 + 80 + 60 + 50 = 290 kWp; generation 110 + 88 + 60 + 52 MWh
    assert sum(float(r["装机容量 (kWp) / Capacity (kWp)"]) for r in rows) == pytest.approx(290.0)
    assert sum(float(r["年发电量 (MWh) / Annual generation (MWh)"]) for r in rows) == pytest.approx(310.0)
    # ... and the same totals as the GeoPackage's plan layer
    plan = pyogrio.read_dataframe(out / "survey.gpkg", layer="plan")
    built = plan[plan["phase"].isin(["2025", "2030"])]
    assert sum(float(r["装机容量 (kWp) / Capacity (kWp)"]) for r in rows) == pytest.approx(built["capacity_kwp"].sum())
    first = rows[0]
    assert first["排名 / Rank"] == "1"
    assert first["名称 / Name"] == "区政府"
    assert first["类别 / Category"] == "党政机关 / Government"
    assert first["装机容量 (kWp) / Capacity (kWp)"] == "100.0"
    assert first["投资 (元) / CAPEX (CNY)"] == "350000"  # 3,500 CNY/kWp x 100 kWp, whole yuan
    assert first["净现值 (元) / NPV (CNY)"] == "-1234"
    assert first["回收期 (年) / Payback (years)"] == "5.5"  # 5.55 -> one decimal (binary 5.5499...)
    assert first["建成年份 / Year built"] == "1999"
    # B001's footprint is centred on the anchor point: back to 6 decimals (~0.1 m)
    assert first["经度 CGCS2000 / Longitude"] == f"{ANCHOR_LON_DEG:.6f}"
    assert first["纬度 CGCS2000 / Latitude"] == f"{ANCHOR_LAT_DEG:.6f}"
    # a name Excel would run as a formula is neutralised; a missing year is an empty cell
    assert rows[1]["名称 / Name"] == "'=SUM(A1)"
    assert rows[1]["建成年份 / Year built"] == ""
    _, h25, r25 = _read_csv(out / "shortlist_2025.csv")
    assert h25 == EXPECTED_HEADER and [r["建筑编号 / Building ID"] for r in r25] == ["B001", "B002"]
    _, _, rres = _read_csv(out / "shortlist_reserve.csv")
    assert [r["建筑编号 / Building ID"] for r in rres] == ["B005"]
    assert rres[0]["分期 / Phase"] == "储备 / Reserve"


def test_csv_written_in_chunks_is_the_same_bytes(tmp_path, monkeypatch):
    from pv_survey.outputs import csv_out

    sl = shortlist_frame(make_district()["plan"])
    whole = csv_bytes(sl)
    monkeypatch.setattr(csv_out, "CSV_CHUNK_ROWS", 2)  # 5 listed sites -> chunks of 2, 2, 1
    assert csv_bytes(sl) == whole  # the lines formatted two rows at a time (csv_lines)
    assert "".join(csv_out.with_csv_lines(sl)[csv_out.CSV_LINE]).encode() == whole.split(b"\r\n", 1)[1]
    csv_out.write_csv(sl, tmp_path / "list.csv")
    assert (tmp_path / "list.csv").read_bytes() == whole
    assert whole.count(b"\r\n") == len(sl) + 1  # header and one line per site
    # a list given as positions (as write_outputs writes them) is the list's frame, chunk by chunk
    rows = np.array([4, 0, 2])
    csv_out.write_csv(sl, tmp_path / "rows.csv", rows=rows)
    assert (tmp_path / "rows.csv").read_bytes() == csv_bytes(sl.iloc[rows])
    lists = csv_out.shortlist_lists(make_district()["plan"], shortlist=sl)
    for name, pos in csv_out.shortlist_rows(make_district()["plan"], shortlist=sl).items():
        assert lists[name].index.equals(sl.index[pos]), name


def test_csv_lists_written_side_by_side_are_each_lists_bytes(tmp_path, monkeypatch):
    """Several lists in one pass (write_csv_lists, chunks of 2 sites): each file is the bytes of its
    list written alone; each listed site is formatted once; a list without rows is its header; a
    failed file names its list; rows out of rank order are refused."""
    from pv_survey.outputs import csv_out

    sl = shortlist_frame(make_district()["plan"])
    monkeypatch.setattr(csv_out, "CSV_CHUNK_ROWS", 2)
    lists = {"all": np.arange(5), "odd": np.array([1, 3]), "tail": np.array([2, 3, 4]), "none": np.array([], int),
             "last": np.array([4])}
    formatted = []
    real_lines = csv_out.csv_lines
    monkeypatch.setattr(csv_out, "csv_lines", lambda f: (formatted.extend(f.index), real_lines(f))[1])
    csv_out.write_csv_lists(sl, {n: (tmp_path / f"{n}.csv", r) for n, r in lists.items()})
    assert sorted(formatted) == list(sl.index)  # every site once, though 'all' and the others overlap
    monkeypatch.setattr(csv_out, "csv_lines", real_lines)
    for n, rows in lists.items():
        assert (tmp_path / f"{n}.csv").read_bytes() == csv_bytes(sl.iloc[rows]), n
    assert (tmp_path / "none.csv").read_bytes().count(b"\r\n") == 1
    with pytest.raises(ValueError, match="tail: the rows of a list must ascend"):
        csv_out.write_csv_lists(sl, {"tail": (tmp_path / "x.csv", np.array([3, 2]))})

    def create(path):
        if path.name == "odd.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, "wb")

    monkeypatch.setattr(csv_out, "_create", create)
    with pytest.raises(csv_out.ListWriteError) as err:
        csv_out.write_csv_lists(sl, {n: (tmp_path / f"{n}.csv", r) for n, r in lists.items()})
    assert err.value.name == "odd" and err.value.errno == 13 and isinstance(err.value.__cause__, PermissionError)


def test_csv_numbers_round_as_python_round_and_lines_are_reused(tmp_path):
    """Cells: correctly rounded half to even on the binary value (Python's round), never "-0";
    a frame carrying its formatted lines (with_csv_lines) gives the same bytes in every list."""
    from pv_survey.outputs import csv_out
    from pv_survey.outputs.labels import field_alias

    sl = shortlist_frame(make_district()["plan"])
    n = len(sl)
    assert n == 5
    # 5.55 is binary 5.54999...: "5.5"; 0.125 is exact: half to even "0.12"; 2.5 -> "2"; -0.04 -> "0.0"
    cases = {"simple_payback_yr": [5.55, -0.04, -0.0, 0.25, 1e15 + 0.125],
             "lcoe_cny_per_kwh": [0.125, -0.004, 0.135, 1.0, -2.675],
             "npv_cny": [2.5, -0.5, 3.5, -1234.4, np.nan]}
    expected = {"simple_payback_yr": ["5.5", "0.0", "0.0", "0.2", "1000000000000000.1"],
                "lcoe_cny_per_kwh": ["0.12", "0.00", "0.14", "1.00", "-2.67"],
                "npv_cny": ["2", "0", "4", "-1234", ""]}
    for col, vals in cases.items():
        sl[col] = vals[:n]
    rows = list(csv.reader(io.StringIO(csv_bytes(sl).decode("utf-8-sig"), newline="")))
    head = rows[0]
    for col, want in expected.items():
        j = head.index(field_alias(col))
        assert [r[j] for r in rows[1:]] == want[:n], col
    with_lines = csv_out.with_csv_lines(sl)
    assert csv_bytes(with_lines) == csv_bytes(sl)
    assert csv_bytes(with_lines.iloc[[3, 1]], header=False) == csv_bytes(sl.iloc[[3, 1]], header=False)


_AWKWARD_TEXT = st.text(alphabet=st.sampled_from(list('a甲 ,"\r\n\t=+-@\'1.')), max_size=8) | st.none()


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_AWKWARD_TEXT, min_size=5, max_size=5), owners=st.lists(_AWKWARD_TEXT, min_size=5, max_size=5),
       years=st.lists(st.none() | st.integers(1900, 2030) | _AWKWARD_TEXT, min_size=5, max_size=5))
def test_csv_lines_are_the_rows_csv_writer_writes(names, owners, years):
    """Each line is what Python's csv.writer (minimal quoting, CRLF) writes for the row of the
    scalar cell rule (csv_out._cell): text with commas, quotes, CR and LF quoted and quotes doubled,
    formula starts neutralised, text in a number column written as text."""
    from pv_survey.outputs import csv_out

    sl = shortlist_frame(make_district()["plan"])
    sl["name"], sl["owner"] = pd.Series(names, dtype=object), pd.Series(owners, dtype=object)
    sl["year_built"] = pd.Series(years, dtype=object)
    want = io.StringIO(newline="")
    csv.writer(want, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(
        [csv_out._cell(v, kind) for v, (_c, kind) in zip(row, csv_out.SHORTLIST_COLUMNS)]
        for row in sl[[c for c, _k in csv_out.SHORTLIST_COLUMNS]].itertuples(index=False))
    assert csv_bytes(sl, header=False).decode("utf-8") == want.getvalue()


def test_shortlist_size_limits_only_the_main_list(tmp_path):
    paths = write_outputs(tmp_path / "o", **make_district(), shortlist_size=1, chart_font=None)
    _, _, rows = _read_csv(paths["shortlist.csv"])
    _, _, r25 = _read_csv(paths["shortlist_2025.csv"])
    assert [r["建筑编号 / Building ID"] for r in rows] == ["B001"]
    assert len(r25) == 2


def test_csv_of_an_empty_plan_is_a_header(tmp_path):
    d = make_district()
    empty = shortlist_frame(gpd.GeoDataFrame(d["plan"].iloc[:0].assign(geometry=None), crs=METRIC_CRS))
    text = csv_bytes(empty).decode("utf-8-sig")
    assert text.splitlines() == [",".join(EXPECTED_HEADER)]


# --------------------------------------------------------------------------- report, summary, manifest


def test_report_html_is_self_contained(written):
    out, _ = written
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # nothing fetched from elsewhere: no script but the map's own pan/zoom (written by pv-survey, inline),
    # no stylesheet link, no remote src/href/url()/@import
    from pv_survey.outputs.report import MAP_SCRIPT
    assert html.count("<script") == 1 and f"<script>\n{MAP_SCRIPT}</script>" in html  # a small district: on
    assert "<script" not in html.replace(f"<script>\n{MAP_SCRIPT}</script>", "").lower()
    assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?(?:data:|#))""", html, re.IGNORECASE)
    assert not re.search(r"url\(|@import|<link\b|<iframe\b", html, re.IGNORECASE)
    assert "http://" not in html and "https://" not in html
    # four charts as PNG data URIs, each a real PNG; the map as inline SVG with one tooltip per site
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == 4
    assert all(base64.b64decode(u).startswith(PNG_SIGNATURE) for u in uris)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<title>") == 6  # every site with a phase: 2 + 2 build, 1 reserve, 1 pinned out
    for colour in phase_colours(["2025", "2030", "reserve"]).values():
        assert f'fill="{colour}"' in svg
    # the targets table and the names in Chinese, HTML-escaped
    assert "installed PV 2025 / 2025年装机" in html and "installed PV 2030 / 2030年装机" in html
    assert "=SUM(A1)" in html  # escaped text is still text


def test_cumulative_capacity_png_written(written):
    out, _ = written
    png = (out / "cumulative_capacity.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)


def test_summary_md_in_plain_words(written):
    out, _ = written
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "Buildings read / 调查建筑: 8" in md
    assert "| too small / 面积过小 | 1 |" in md and "| shaded / 遮挡严重 | 1 |" in md
    lines = md.splitlines()
    t25 = next(line for line in lines if line.startswith("- installed PV 2025"))
    t30 = next(line for line in lines if line.startswith("- installed PV 2030"))
    # targets typed into the fixture: 2025 met with +50 kWp, 2030 not met with -90 kWp
    assert "**met / 达标**" in t25 and "+50 kWp" in t25 and "150 kWp" in t25
    assert "**not met / 未达标**" in t30 and "-90 kWp" in t30
    assert "Potential capacity / 潜在装机容量: 360.0 kWp" in md
    assert "synthetic test district / 测试用" in md


def test_manifest_json(written):
    out, paths = written
    text = (out / "manifest.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    assert data["nan_value"] is None  # NaN is not JSON
    assert data["config"]["outputs"]["postgis_url"] == "postgresql://planner:***@db.example:5432/gis"
    assert "s3cret" not in text
    for name, entry in data["outputs"].items():  # hashes of the final files (hashlib, independent)
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert set(data["outputs"]) == set(paths) - {"manifest.json"}
    chinese = manifest_json({"b": "天河", "a": 1})
    assert chinese == '{\n  "a": 1,\n  "b": "天河"\n}\n'  # characters kept, keys sorted


def test_redact_url():
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_url("host=h password=pw dbname=x") == "host=h password=*** dbname=x"
    assert redact_url("/data/tianhe.gpkg") == "/data/tianhe.gpkg"


# --------------------------------------------------------------------------- overwrite and atomicity


def test_refuses_to_overwrite_without_flag(written):
    out, _ = written
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OutputError, match=r"--overwrite") as exc:
        write_outputs(out, **make_district(), chart_font=None)
    assert str(out) in str(exc.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(OutputError, match=r"--overwrite"):
        prepare_out_dir(out)


def test_out_dir_that_is_a_file(tmp_path):
    f = tmp_path / "x"
    f.write_text("not a folder")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_out_dir(f)


def test_overwrite_replaces_and_drops_stale_shortlists(tmp_path):
    out = tmp_path / "run"
    write_outputs(out, **make_district(), chart_font=None)
    assert (out / "shortlist_reserve.csv").exists()
    (out / "notes-by-hand.txt").write_text("mine")
    # second run: B005 moves from the reserve into 2030, so there is no reserve list any more
    paths = write_outputs(out, **make_district({"B005": "2030"}), overwrite=True, chart_font=None)
    assert not (out / "shortlist_reserve.csv").exists()
    assert (out / "notes-by-hand.txt").read_text() == "mine"  # not ours: untouched
    _, _, r30 = _read_csv(paths["shortlist_2030.csv"])
    assert [r["建筑编号 / Building ID"] for r in r30] == ["B003", "B004", "B005"]
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_failed_run_keeps_previous_outputs(tmp_path, monkeypatch):
    out = tmp_path / "run"
    write_outputs(out, **make_district(), chart_font=None)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(**_kw):
        raise OutputError("simulated failure while writing the report")

    monkeypatch.setattr("pv_survey.outputs.report_html", boom)
    with pytest.raises(OutputError, match="simulated"):
        write_outputs(out, **make_district({"B005": "2030"}), overwrite=True, chart_font=None)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old files, no temp files


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp != target
        tmp.write_text("new")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_temp_files_of_a_killed_run_are_cleared(tmp_path):
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)  # that process has exited
    stale = tmp_path / f".survey.tmp-{pid}-0123abcd.gpkg"
    live = tmp_path / f".report.tmp-{os.getpid()}-0123abcd.html"  # this process: still running
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    prepare_out_dir(tmp_path)
    assert not stale.exists() and live.exists()


def test_staging_refuses_paths_and_duplicates(tmp_path):
    with Staging(tmp_path) as st:
        st.temp("a.csv")
        with pytest.raises(OutputError):
            st.temp("a.csv")
        with pytest.raises(OutputError):
            st.temp("../b.csv")
        with pytest.raises(OutputError, match="never written"):
            st.commit()


# --------------------------------------------------------------------------- pieces


def test_phase_names_match_the_plan_stage():
    plan = pytest.importorskip("pv_survey.plan")
    from pv_survey.outputs.styles import PINNED_OUT, RESERVE
    assert (RESERVE, PINNED_OUT) == (plan.RESERVE, plan.PINNED_OUT)


def test_phase_order_and_colours():
    order = phase_order(["reserve", "2030", "", "pinned out", "2025", "2030"])
    assert order == ["2025", "2030", "reserve", "pinned out", ""]
    c = phase_colours(order)
    assert len(set(c.values())) == 5  # every phase its own colour


def test_built_phase_mask_is_is_built_phase_of_each():
    from pv_survey.outputs.styles import built_phase_mask, is_built_phase

    phases = ["2025", "reserve", "", "pinned out", "catch-up", "2030", "reserve", None, float("nan"), "2025"]
    # build years and catch-up are built; reserve, pinned out, '' and None are not; NaN is text 'nan'
    want = [True, False, False, False, True, True, False, False, True, True]
    assert [is_built_phase(p) for p in phases] == want
    assert built_phase_mask(pd.Series(phases, dtype=object)).tolist() == want
    assert built_phase_mask(pd.Series(phases[:7], dtype="string")).tolist() == want[:7]
    assert built_phase_mask([]).tolist() == []


def test_yield_breaks_cover_the_data():
    v = np.array([812.0, 950.0, 1003.0, 1100.0, 1187.0, np.nan, 0.0])
    edges = yield_breaks(v, 5)
    assert edges[0] <= 812.0 and edges[-1] >= 1187.0  # min and max of the positive values
    assert all(b > a for a, b in zip(edges, edges[1:]))
    assert all(e % 5 == 0 for e in edges)  # rounded to 5 kWh/kWp
    assert yield_breaks([1000.0] * 3) == [1000.0, 1005.0]  # one value: one class of one step
    assert yield_breaks([]) == [0.0, 2000.0]


def test_every_output_column_has_a_bilingual_label():
    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    for name, frame in layers.items():
        for col in frame.columns:
            if col != "geometry":
                assert col in FIELD_LABELS, f"{name}.{col} has no label"


def test_charts_english_without_cjk_font_emit_no_warning():
    # warnings are errors in this suite: a missing glyph would fail here
    d = make_district()
    png = cumulative_capacity_png(d["plan"], d["targets"], EXISTING_KWP, ChartText(None))
    assert png.startswith(PNG_SIGNATURE)
    assert ChartText(None).safe("区政府 / District office") == "District office"


@pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_charts_bilingual_with_cjk_font(tmp_path):
    paths = write_outputs(tmp_path / "cjk", **make_district(), chart_font=True)
    assert paths["cumulative_capacity.png"].read_bytes().startswith(PNG_SIGNATURE)


def test_the_shortlist_frame_is_gone_before_the_charts_and_the_report(tmp_path, monkeypatch):
    """The frame of every build-year and reserve site feeds the lists and the workbook, then goes: the
    charts and the report (a city's largest transients) do not hold it too; the index still names the
    workbook's sheets."""
    import weakref

    import pv_survey.outputs as outputs_mod

    frames: list[weakref.ref] = []
    alive_at: dict[str, bool] = {}
    make_frame, charts, report = outputs_mod.shortlist_frame, outputs_mod.render_charts, outputs_mod.report_html

    def frame(plan):
        out = make_frame(plan)
        frames.append(weakref.ref(out))
        return out

    def seen(name, fn):
        def call(**kw):
            alive_at[name] = any(r() is not None for r in frames)
            return fn(**kw)
        return call

    monkeypatch.setattr(outputs_mod, "shortlist_frame", frame)
    monkeypatch.setattr(outputs_mod, "render_charts", seen("charts", charts))
    monkeypatch.setattr(outputs_mod, "report_html", seen("report", report))
    paths = write_outputs(tmp_path / "o", **make_district(), chart_font=None)
    assert frames and alive_at == {"charts": False, "report": False}
    assert "shortlists.xlsx" in paths["README.txt"].read_text(encoding="utf-8-sig")


def test_cumulative_chart_draws_the_sites_in_rank_order_from_a_shuffled_plan():
    """Rows out of rank order, a pinned-out site without a cumulative capacity, and columns the chart
    does not draw: the line is existing PV, then each site's cumulative capacity in rank order."""
    from pv_survey.outputs.charts import collect_figures

    plan = gpd.GeoDataFrame({"rank": [3, 1, 4, 2], "building_id": ["c", "a", "d", "b"],
                             "cumulative_kwp": [160.0, 130.0, np.nan, 150.0], "capacity_kwp": [10.0, 30.0, 5.0, 20.0],
                             "phase": ["2030", "2027", "pinned out", "2027"], "name": ["", "", "", ""]},
                            geometry=[shapely.box(0, 0, 1, 1)] * 4, crs=METRIC_CRS)
    targets = pd.DataFrame({"year": [2027], "required_kwp": [150.0], "met": ["yes"]})
    with collect_figures() as figs:
        cumulative_capacity_png(plan, targets, 100.0, ChartText(None))
    x, y = (np.asarray(v, float) for v in figs[0].axes[0].get_lines()[0].get_data())
    assert x.tolist() == [0, 1, 2, 3] and y.tolist() == [100.0, 130.0, 150.0, 160.0]


def test_drawn_sites_keep_every_phase_in_every_column_of_the_axis():
    """Each site lies between two drawn sites of its phase in its column of the axis (so its marker's
    stretch is drawn), the line reaches past the axis' end, and a small plan is drawn whole."""
    from pv_survey.outputs.charts import drawn_sites

    rng = np.random.default_rng(7)
    n, columns, x_max = 20_000, 50, 15_000.0
    x = np.arange(1, n + 1, dtype=float)
    code = np.where(rng.random(n) < 0.3, 0, np.where(rng.random(n) < 0.5, 1, 2))  # phases interleaved
    at = drawn_sites(x, code, x_max, columns=columns)
    assert np.all(np.diff(at) > 0) and at.size <= 2 * columns * 3 + 1
    assert x[at[-1]] == x_max + 1 and (x[at[:-1]] <= x_max).all()  # the first site past the end, no other
    col = np.minimum((x * columns / x_max).astype(int), columns - 1)
    kept = set(at.tolist())
    for c in range(columns):
        for ph in range(3):
            members = np.flatnonzero((col == c) & (code == ph) & (x <= x_max))
            if members.size:
                assert members[0] in kept and members[-1] in kept
    np.testing.assert_array_equal(drawn_sites(x[:100], code[:100], 100.0, columns=columns), np.arange(100))


def test_cumulative_chart_of_a_city_draws_few_points_on_the_same_curve():
    from pv_survey.outputs.charts import CURVE_COLUMNS, collect_figures

    n = 60_000
    cap = np.random.default_rng(3).uniform(5.0, 50.0, n)
    phase = np.where(np.arange(n) < 300, "2027", "reserve")
    plan = pd.DataFrame({"rank": np.arange(1, n + 1), "capacity_kwp": cap, "cumulative_kwp": 100.0 + np.cumsum(cap),
                         "phase": phase})
    targets = pd.DataFrame({"year": [2030], "required_kwp": [6000.0], "met": ["yes"]})
    with collect_figures() as figs:
        cumulative_capacity_png(plan, targets, 100.0, ChartText(None))
    zoom, whole = figs[0].axes[:2]
    for ax in (zoom, whole):
        x, y = (np.asarray(v, float) for v in ax.get_lines()[0].get_data())
        assert x.size <= 2 * 2 * CURVE_COLUMNS + 2  # two phases, first and last of each column
        # every point drawn is a point of the whole curve (MWp: the axis' unit)
        np.testing.assert_allclose(y[1:] * 1000.0, plan["cumulative_kwp"].to_numpy()[x[1:].astype(int) - 1])
    xw, _ = whole.get_lines()[0].get_data()
    assert xw[-1] == n  # the last site is drawn
    markers = sum(len(c.get_offsets()) for c in whole.collections)
    assert 300 < markers < 2 * 2 * CURVE_COLUMNS + 2
    # the narrow whole-potential panel: a few ticks, thousands separated (not "20000400006000")
    figs[0].canvas.draw()
    ticks = [t.get_text() for t in whole.get_xticklabels() if t.get_text()]
    assert 2 <= len(ticks) <= 4 and all("," in t for t in ticks if t not in ("0", "−0"))


def test_cumulative_chart_keeps_existing_pv_in_view_when_it_exceeds_the_targets():
    """PV already built (200 kWp) far above the targets (30 and 31 kWp) and a large potential: the
    main panel is scaled to the existing PV (not to the targets, which left it empty above them),
    its first sites are in view, and the two close target labels are not printed over each other."""
    from pv_survey.outputs.charts import TARGET_LABEL_STEP_PT, collect_figures

    n = 5_000
    cap = np.full(n, 2.0)
    plan = pd.DataFrame({"rank": np.arange(1, n + 1), "capacity_kwp": cap, "cumulative_kwp": 200.0 + np.cumsum(cap),
                         "phase": np.where(np.arange(n) < 10, "2027", "reserve")})
    targets = pd.DataFrame({"year": [2025, 2030], "required_kwp": [30.0, 31.0], "met": ["yes", "yes"]})
    with collect_figures() as figs:
        cumulative_capacity_png(plan, targets, 200.0, ChartText(None))
    main = figs[0].axes[0]
    assert main.get_ylim()[1] >= 200.0  # the existing PV line is on the panel
    x, y = (np.asarray(v, float) for v in main.get_lines()[0].get_data())
    x_hi, y_hi = main.get_xlim()[1], main.get_ylim()[1]
    assert ((x[1:] <= x_hi) & (y[1:] <= y_hi)).sum() >= 10  # the build-year sites are drawn in view
    lifts = sorted(a.xyann[1] for a in main.texts if "target" in a.get_text())
    assert lifts == [3.0, 3.0 + TARGET_LABEL_STEP_PT]


def test_site_curves_chart_draws_the_first_ranked_sites_that_have_a_curve():
    """Ranks 1 (A, no curve), 2 (B), 3 (C), 4 (D): with two lines, B and C, each its own rows in order."""
    from pv_survey.outputs.charts import collect_figures, site_curves_png

    plan = pd.DataFrame({"rank": [3, 1, 2, 4], "building_id": ["C", "A", "B", "D"], "name": ["丙", "甲", "", "丁"]})
    curves = pd.DataFrame({"building_id": ["D", "B", "D", "C", "B", "X"], "n_modules": [1, 1, 2, 1, 2, 1],
                           "cum_kwp": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                           "cum_kwh_kwp": [1000.0, 1100.0, 900.0, 950.0, 1050.0, 800.0]})
    with collect_figures() as figs:
        site_curves_png(curves, plan, ChartText(None), n_sites=2)
    lines = figs[0].axes[0].get_lines()
    # B has no name: its id; C's Chinese name is dropped by an English-only chart (ChartText(None))
    assert [ln.get_label() for ln in lines] == ["#2 B", "#3"]
    # a step line from 0 kWp at the first point's yield (matplotlib's steps-pre stores the corners)
    xb, yb = (np.asarray(v, float) for v in lines[0].get_data())
    assert (xb.tolist(), yb.tolist()) == ([0.0, 2.0, 5.0], [1100.0, 1100.0, 1050.0])
    xc, yc = (np.asarray(v, float) for v in lines[1].get_data())
    assert (xc.tolist(), yc.tolist()) == ([0.0, 4.0], [950.0, 950.0])


def test_extra_layers_are_written_with_a_style(tmp_path):
    carports = gpd.GeoDataFrame({"carport_id": ["C1"], "capacity_kwp": [12.5]},
                                geometry=[shapely.box(0, 0, 10, 5)], crs=METRIC_CRS)
    paths = write_outputs(tmp_path / "x", **make_district(), extra_layers={"carports": carports}, chart_font=None)
    gpkg = paths["survey.gpkg"]
    assert dict(pyogrio.list_layers(gpkg))["carports"] == "MultiPolygon"
    assert "carports" in _styles(gpkg)
    with pytest.raises(OutputError, match="already used"):
        write_outputs(tmp_path / "y", **make_district(), extra_layers={"plan": carports}, chart_font=None)


# --------------------------------------------------------------------------- PostGIS


def test_write_postgis_round_trip(request):
    url = request.getfixturevalue("postgis_url")
    psycopg = pytest.importorskip("psycopg")
    from pv_survey.outputs import write_postgis
    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    schema = "pv_outputs_test"
    names = write_postgis(url, schema, layers, METRIC_CRS)
    assert names == [f"{schema}.{n}" for n in layers]
    with psycopg.connect(url) as con:
        n = con.execute(f"SELECT count(*) FROM {schema}.buildings").fetchone()[0]
        srid, gtype = con.execute(f"SELECT Find_SRID('{schema}', 'plan', 'geom'), "
                                  f"GeometryType(geom) FROM {schema}.plan LIMIT 1").fetchone()
        area = con.execute(f"SELECT ST_Area(geom) FROM {schema}.plan WHERE rank = 1").fetchone()[0]
        fids = [r[0] for r in con.execute(f"SELECT fid FROM {schema}.plan ORDER BY rank")]
        met = [r[0] for r in con.execute(f"SELECT met FROM {schema}.targets ORDER BY fid")]
        name = con.execute(f"SELECT name FROM {schema}.buildings WHERE building_id = 'B001'").fetchone()[0]
        style = con.execute("SELECT useasdefault FROM public.layer_styles WHERE f_table_schema = %s "
                            "AND f_table_name = 'plan'", (schema,)).fetchall()
        idx = con.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'plan'",
                          (schema,)).fetchall()
    assert n == 8
    assert (srid, gtype) == (4547, "MULTIPOLYGON")
    assert area == pytest.approx(600.0)  # B001: 30 x 20 m
    assert fids == [1, 2, 3, 4, 5, 6]
    assert met == [True, False]
    assert name == "区政府"
    assert style == [(True,)]
    assert any("gist" in r[0].lower() for r in idx)
    # a second write refuses without overwrite, and replaces with it
    with pytest.raises(OutputError, match="--overwrite"):
        write_postgis(url, schema, layers, METRIC_CRS)
    write_postgis(url, schema, layers, METRIC_CRS, overwrite=True)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT count(*) FROM public.layer_styles WHERE f_table_schema = %s",
                           (schema,)).fetchone()[0] == len(layers)


def test_write_postgis_bad_url_is_one_clear_error():
    pytest.importorskip("psycopg")
    from pv_survey.outputs import write_postgis
    with pytest.raises(OutputError, match=r"cannot connect.*\*\*\*|\*\*\*.*cannot connect"):
        write_postgis("postgresql://u:pw@127.0.0.1:1/none", "s", {}, METRIC_CRS, connect_timeout_s=2)


# --------------------------------------------------------------------------- edge cases


def test_survey_without_any_site(tmp_path):
    # every building excluded: empty plan and shortlists, report and GeoPackage still written
    d = make_district()
    d["buildings"]["excluded_reason"] = "too small / 面积过小"
    d["buildings"]["phase"] = ""
    d["roofs"]["excluded_reason"] = "too small / 面积过小"
    d["plan"] = d["plan"].iloc[:0]
    paths = write_outputs(tmp_path / "none", **d, chart_font=None)
    assert pyogrio.read_info(paths["survey.gpkg"], layer="plan")["features"] == 0
    assert dict(pyogrio.list_layers(paths["survey.gpkg"]))["plan"] == "MultiPolygon"
    _, header, rows = _read_csv(paths["shortlist.csv"])
    assert header == EXPECTED_HEADER and rows == []
    assert [p for p in paths if p.startswith("shortlist")] == ["shortlist.csv", "shortlists.xlsx"]
    assert "<svg" in paths["report.html"].read_text(encoding="utf-8")


def test_building_without_geometry_and_progress(tmp_path):
    d = make_district()
    d["buildings"].loc[d["buildings"]["building_id"] == "B007", "geometry"] = None  # unrepairable, kept
    calls = []
    paths = write_outputs(tmp_path / "g", **d, chart_font=None, progress=lambda *a: calls.append(a))
    b = pyogrio.read_dataframe(paths["survey.gpkg"], layer="buildings")
    assert len(b) == 8 and b.loc[b["building_id"] == "B007", "geometry"].isna().all()
    assert calls == [("outputs", i, 7) for i in range(1, 8)]  # 7 steps: gpkg, lists, charts, report, md, index, manifest
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None  # GDAL setting restored


def test_layers_of_tables_already_in_order_share_their_columns():
    """buildings_layer / roofs_layer of a table in id order, and plan_layer of a plan in rank order, take
    its columns as they are (a city's table is not copied); shuffled, the same layer comes out, from a
    copy; the table is unchanged."""
    from pv_survey.outputs.gpkg import buildings_layer, roofs_layer

    d = make_district()
    for build, frame, key in ((buildings_layer, d["buildings"], "building_id"), (roofs_layer, d["roofs"], "roof_id")):
        ordered = frame.iloc[np.argsort(frame[key].astype(str).to_numpy(), kind="stable")].reset_index(drop=True)
        before = ordered.copy()
        a = build(ordered)
        assert np.shares_memory(a["capacity_kwp"].to_numpy(), ordered["capacity_kwp"].to_numpy())
        b = build(ordered.sample(frac=1.0, random_state=3))
        assert not np.shares_memory(b["capacity_kwp"].to_numpy(), ordered["capacity_kwp"].to_numpy())
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
        with pytest.raises(ValueError, match="read-only"):
            a.loc[a.index[0], "capacity_kwp"] = -1.0  # a write in place is refused, not passed to the table
        pd.testing.assert_frame_equal(ordered, before)
    # the plan layer of a plan in rank order (as build_plan gives it) shares the plan's columns too
    from pv_survey.outputs.gpkg import plan_layer

    plan = d["plan"].sort_values("rank", kind="stable").reset_index(drop=True)
    a = plan_layer(plan, d["buildings"])
    assert np.shares_memory(a["capacity_kwp"].to_numpy(), plan["capacity_kwp"].to_numpy())
    b = plan_layer(plan.sample(frac=1.0, random_state=5), d["buildings"])
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert list(a.geometry.area.round(6)) == list(d["buildings"].set_index("building_id").geometry.area
                                                  .reindex(a["building_id"]).round(6))
