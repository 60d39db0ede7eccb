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


def test_parts_written_in_the_background_at_most_two_waiting(monkeypatch):
    """``add`` hands the part to a writer thread and returns; a third part waits for the first to be
    written (two tiles' frames in memory at most); reading the layer waits for every part."""
    import threading

    from pv_survey.outputs import spool as S

    gate = threading.Event()
    written = []
    real = S._write_part

    def slow(frame, path, name):
        gate.wait(10)
        real(frame, path, name)
        written.append(path.name)

    monkeypatch.setattr(S, "_write_part", slow)
    seg = _segments(12)
    spool = LayerSpool()
    spool.add("modules", 0, seg.iloc[:4])
    spool.add("modules", 1, seg.iloc[4:8])
    assert written == [] and len(spool._pending) == 2  # both returned before a byte was written
    third = threading.Thread(target=spool.add, args=("modules", 2, seg.iloc[8:]))
    third.start()
    third.join(0.3)
    assert third.is_alive()  # blocked: two parts already wait
    gate.set()
    third.join(10)
    layer = spool.layer("modules")
    assert layer.read()["segment_id"].tolist() == seg["segment_id"].tolist()
    assert sorted(written) == ["modules-0000000.parquet", "modules-0000001.parquet", "modules-0000002.parquet"]


def test_a_failed_background_write_is_raised_by_the_next_add_or_read(monkeypatch):
    from pv_survey.errors import OutputError

    def full(self, path, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_parquet", full)
    spool = LayerSpool()
    spool.add("modules", 0, _segments(4))  # queued: the failure comes later
    spool._pending[0].exception(10)  # written (and failed) by now
    with pytest.raises(OutputError, match=r"modules-0000000\.parquet: writing a scratch part of layer 'modules' "
                                          r"failed .*No space left.*TMPDIR"):
        spool.add("modules", 1, _segments(4))
    spool = LayerSpool()
    spool.add("modules", 0, _segments(4))
    with pytest.raises(OutputError, match="No space left"):
        spool.layer("modules").read()


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


def test_small_parts_are_gathered_into_the_writes_of_the_whole_frame(tmp_path, monkeypatch):
    """The frame path (a layer that does not qualify for the Arrow stream, or GDAL < 3.8): eleven
    parts of 2-9 rows, writes of 10 rows: 4 GDAL writes (10, 10, 10, 7 rows), as for the whole
    frame, and the same tables (rows, fids, R-tree, contents, styles)."""
    from pv_survey.outputs import gpkg as G

    seg = _segments(37, seed=3)
    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", 10)
    monkeypatch.setattr(G, "_write_spooled_arrow", lambda *a, **k: None)
    calls = []
    real = pyogrio.write_dataframe

    def spy(df, path, **kw):
        calls.append((str(path).rsplit("/", 1)[-1], len(df), bool(kw.get("append"))))
        return real(df, path, **kw)

    monkeypatch.setattr(G.pyogrio, "write_dataframe", spy)
    stamp = "2026-01-01T00:00:00.000Z"
    whole = write_gpkg(tmp_path / "whole.gpkg", {"modules": table_layer(seg)}, timestamp=stamp)
    cuts = [3, 5, 14, 16, 20, 22, 25, 28, 33, 35]  # parts of 3, 2, 9, 2, 4, 2, 3, 3, 5, 2, 2 rows
    parts = write_gpkg(tmp_path / "parts.gpkg", {"modules": _spool_of(seg, cuts, order=list(range(11))[::-1])},
                       timestamp=stamp)
    want = [(10, False), (10, True), (10, True), (7, True)]
    assert [(n, a) for f, n, a in calls if f == "whole.gpkg"] == want
    assert [(n, a) for f, n, a in calls if f == "parts.gpkg"] == want
    assert _dump(parts) == _dump(whole)


def _layer_tables(path, name="modules"):
    """A layer as read back (fids, fields, geometry), its layer info, style and R-tree size."""
    frame = pyogrio.read_dataframe(path, layer=name, fid_as_index=True)
    info = pyogrio.read_info(path, layer=name)
    with sqlite3.connect(path) as con:
        qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = ?", (name,)).fetchone()[0]
        count = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (name,)).fetchone()[0]
        rtree = con.execute(f'SELECT count(*) FROM "rtree_{name}_geom"').fetchone()[0] if info["geometry_type"] \
            else None
    return frame, {k: str(info[k]) for k in ("crs", "fields", "dtypes", "geometry_type", "features")}, qml, count, rtree


def _mixed_segments(n: int) -> gpd.GeoDataFrame:
    """Segments with text categories, a float32 and a nullable column, polygons, multi-polygons and a
    missing geometry: everything the Arrow stream decodes or promotes."""
    seg = _segments(n, seed=5)
    seg["mount"] = pd.Categorical(np.where(np.arange(n) % 3 == 0, "tilted / 倾斜", "flat / 平铺"))
    seg["poa_kwh_m2"] = np.linspace(900, 1400, n).astype(np.float32)
    seg["note"] = pd.Series([None if i % 4 else f"行 {i}" for i in range(n)], dtype=object)
    geoms = seg.geometry.to_numpy().copy()
    geoms[2] = shapely.multipolygons([geoms[2], shapely.box(5000, 5000, 5001, 5001)])
    geoms[7] = None
    return seg.set_geometry(gpd.GeoSeries(geoms, crs=CRS))


def test_arrow_stream_writes_the_layer_the_frame_path_writes(tmp_path, monkeypatch):
    """A spooled layer streamed to GDAL as Arrow batches (one session) holds what the frame path
    writes: fids 1..n over the parts in key order, fields and types, values, geometries (polygons
    promoted to multi-polygons, a multi-polygon and a missing geometry as they are), CRS, the QGIS
    style, the feature count and the R-tree."""
    from pv_survey.outputs import gpkg as G

    if not G.arrow_writes():
        pytest.skip(f"GDAL {pyogrio.__gdal_version_string__} writes no Arrow batches (needs >= 3.8)")
    seg = _mixed_segments(45)
    layer = _spool_of(seg, [4, 11, 30], order=[2, 0, 3, 1])
    calls = []
    real = G._write_spooled_arrow
    monkeypatch.setattr(G, "_write_spooled_arrow", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    stream = write_gpkg(tmp_path / "stream.gpkg", {"modules": layer}, crs=CRS, timestamp="2026-01-01T00:00:00.000Z")
    assert calls == ["modules"]
    monkeypatch.setattr(G, "_write_spooled_arrow", lambda *a, **k: None)
    frames = write_gpkg(tmp_path / "frames.gpkg", {"modules": layer}, crs=CRS, timestamp="2026-01-01T00:00:00.000Z")
    a, b = _layer_tables(stream), _layer_tables(frames)
    assert list(a[0].index) == list(range(1, 46))
    pd.testing.assert_frame_equal(pd.DataFrame(a[0].drop(columns="geometry")),
                                  pd.DataFrame(b[0].drop(columns="geometry")), check_exact=True)
    assert list(a[0].geometry.to_wkb()) == list(b[0].geometry.to_wkb())
    assert a[0].geometry.geom_type.iloc[0] == "MultiPolygon" and a[0].geometry.iloc[7] is None
    assert a[1:] == b[1:] and a[3] == 45 and a[4] == 44  # the missing geometry has no R-tree entry


def test_arrow_stream_is_skipped_for_layers_it_cannot_write_alike(tmp_path):
    """Another CRS than the GeoPackage's, a column of another type (dates) or geometries other than
    polygons: nothing written by the stream (the frame path writes the layer)."""
    from pv_survey.outputs import gpkg as G

    seg = _segments(12)
    cases = {
        "crs": (seg.to_crs("EPSG:32649"), CRS),
        "dates": (seg.assign(day=pd.Timestamp("2026-01-01")), CRS),
        "points": (seg.set_geometry(seg.geometry.centroid), CRS),
    }
    for what, (frame, crs) in cases.items():
        path = tmp_path / f"{what}.gpkg"
        assert G._write_spooled_arrow(path, "modules", _spool_of(frame, [5]), crs=crs, create=True) is None, what
        assert not path.exists(), what
        write_gpkg(path, {"modules": _spool_of(frame, [5])}, crs=crs)  # the frame path instead
        assert pyogrio.read_info(path, layer="modules")["features"] == 12, what


def _dump(gpkg) -> dict:
    """Every table, index and trigger of a GeoPackage with all its rows (R-tree included)."""
    with sqlite3.connect(gpkg) as con:
        out = {}
        for kind, name, sql in con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall():
            out[f"{kind}:{name}"] = sql
            if kind == "table" and not name.startswith("sqlite_"):
                out[f"rows:{name}"] = con.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
    return out


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
