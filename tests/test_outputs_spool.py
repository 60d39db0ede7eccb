"""Large layers kept on disk part by part (pv_survey/outputs/spool.py; issues 13 and 18).

A spooled layer must write the same GeoPackage layer as the whole frame (rows, fids, attributes,
geometry, QGIS style), read back in part-key order whatever the order the parts came in, and its
scratch folder must go when the spool is dropped.
"""

from __future__ import annotations

import gc
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from pv_survey.outputs import _report_curves
from pv_survey.outputs.gpkg import table_layer, write_gpkg
from pv_survey.outputs.spool import LayerSpool, ResultLayers, SpooledLayer

CRS = "EPSG:4547"


def _segments(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """Row segments as the layout gives them: a building id, counts, yields and a rectangle each."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1000, n)
    y = rng.uniform(0, 1000, n)
    return gpd.GeoDataFrame({
        "segment_id": [f"B{i // 4:04d}-R1-S{i % 4 + 1}" for i in range(n)],
        "building_id": [f"B{i // 4:04d}" for i in range(n)],
        "n_modules": rng.integers(1, 21, n),
        "capacity_kwp": rng.uniform(0.4, 9.0, n),
        "specific_yield_kwh_kwp": rng.uniform(600, 1250, n),
        "built": rng.random(n) > 0.2,
    }, geometry=shapely.box(x, y, x + 3.4, y + 1.7), crs=CRS)


def _spool_of(frame: pd.DataFrame, cuts, order=None) -> SpooledLayer:
    spool = LayerSpool()
    parts = np.split(np.arange(len(frame)), cuts)
    keys = list(range(len(parts)))
    for k in (order or keys):
        spool.add("modules", k, frame.iloc[parts[k]])
    return spool.layer("modules")


def test_parts_come_back_in_key_order_whatever_order_they_arrived():
    seg = _segments(40)
    layer = _spool_of(seg, [7, 20, 33], order=[2, 0, 3, 1])  # tiles finishing out of order
    assert len(layer) == 40 and layer.is_geo and layer.crs == seg.crs
    back = layer.read()
    assert back["segment_id"].tolist() == seg["segment_id"].tolist()
    assert shapely.equals_exact(back.geometry.to_numpy(), seg.geometry.to_numpy(), tolerance=0.0).all()
    np.testing.assert_array_equal(layer.column("capacity_kwp"), seg["capacity_kwp"].to_numpy())
    # only the rows of some buildings
    some = layer.read(building_ids=["B0001", "B0009"])
    assert some["segment_id"].tolist() == seg.loc[seg["building_id"].isin(["B0001", "B0009"]), "segment_id"].tolist()


def test_a_part_written_twice_is_refused():
    spool = LayerSpool()
    spool.add("modules", 0, _segments(4))
    with pytest.raises(Exception, match="written twice"):
        spool.add("modules", 0, _segments(4))


def test_spooled_layer_writes_the_same_gpkg_layer_as_the_whole_frame(tmp_path, monkeypatch):
    """Fids 1..n over the parts, attributes, geometry and the QGIS style (yield classes of every row)
    equal to writing the frame in one piece; parts larger than a GDAL write are chunked too."""
    from pv_survey.outputs import gpkg as G

    seg = _segments(50)
    whole = write_gpkg(tmp_path / "whole.gpkg", {"modules": table_layer(seg)}, timestamp="2026-01-01T00:00:00.000Z")
    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", 6)
    layer = _spool_of(seg, [9, 10, 30], order=[3, 1, 0, 2])
    parts = write_gpkg(tmp_path / "parts.gpkg", {"modules": layer}, timestamp="2026-01-01T00:00:00.000Z")
    a = pyogrio.read_dataframe(whole, layer="modules", fid_as_index=True)
    b = pyogrio.read_dataframe(parts, layer="modules", fid_as_index=True)
    assert list(b.index) == list(range(1, 51))
    pd.testing.assert_frame_equal(pd.DataFrame(b.drop(columns="geometry")), pd.DataFrame(a.drop(columns="geometry")))
    assert list(b.geometry.to_wkb()) == list(a.geometry.to_wkb())
    with sqlite3.connect(whole) as ca, sqlite3.connect(parts) as cb:
        qml = [c.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'modules'").fetchone()[0]
               for c in (ca, cb)]
        n = cb.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'modules'").fetchone()[0]
        idx = cb.execute("SELECT count(*) FROM rtree_modules_geom").fetchone()[0]
    assert qml[0] == qml[1]
    assert n == idx == 50


def test_an_empty_spooled_layer_is_an_empty_layer(tmp_path):
    spool = LayerSpool()
    spool.add("site_curves", 0, pd.DataFrame({"building_id": pd.Series(dtype=object), "cum_kwp": pd.Series(dtype=float)}))
    layer = spool.layer("site_curves")
    assert len(layer) == 0 and list(layer.read().columns) == ["building_id", "cum_kwp"]
    path = write_gpkg(tmp_path / "e.gpkg", {"site_curves": layer})
    assert pyogrio.read_info(path, layer="site_curves")["features"] == 0


def test_result_layers_read_on_demand_and_the_folder_goes_with_the_spool():
    seg = _segments(12)
    layer = _spool_of(seg, [5])
    folder = layer.spool.dir
    layers = ResultLayers({"modules": layer, "facades": seg.iloc[:2]})
    assert sorted(layers) == ["facades", "modules"] and len(layers) == 2
    assert isinstance(layers.raw("modules"), SpooledLayer)
    assert layers["modules"]["segment_id"].tolist() == seg["segment_id"].tolist()
    assert folder.is_dir()
    del layers, layer
    gc.collect()
    assert not folder.exists()


def test_report_curves_of_a_spooled_layer_are_the_first_sites_with_a_curve(monkeypatch):
    """The report reads a spooled site_curves layer only for the first plan sites, and gets the
    sites the whole table would give (looked up a few at a time)."""
    import pv_survey.outputs as O
    from pv_survey.outputs.charts import CURVE_SITES

    curves = pd.DataFrame({"building_id": [f"B{i:03d}" for i in range(0, 60, 3) for _ in range(2)],
                           "n_modules": [1, 2] * 20, "cum_kwp": [0.4, 0.8] * 20, "cum_kwh_kwp": [1100.0, 1050.0] * 20})
    plan = pd.DataFrame({"rank": np.arange(1, 61), "building_id": [f"B{i:03d}" for i in range(59, -1, -1)]})
    spool = LayerSpool()
    spool.add("site_curves", 0, curves.iloc[:14])
    spool.add("site_curves", 1, curves.iloc[14:])
    monkeypatch.setattr(O, "_CURVE_LOOKUP_SITES", 4)
    got = _report_curves(spool.layer("site_curves"), plan)
    ranked = plan.sort_values("rank")["building_id"]
    expected = [b for b in ranked if b in set(curves["building_id"])][:CURVE_SITES]
    assert set(expected) <= set(got["building_id"])
    # read in lookups of 4 ranks, stopping at the lookup that holds the last of them
    last = list(ranked).index(expected[-1])
    n_read = 4 * (last // 4 + 1)
    assert set(got["building_id"]) <= set(ranked.iloc[:n_read]) and len(set(got["building_id"])) < len(set(curves["building_id"]))
    # a frame passes through unchanged
    assert _report_curves(curves, plan) is curves
