"""Reading a buildings source in windows (issue 18, item 4): the same table as a read in one go.

The expectation is independent of the windowed code: ``read_buildings(..., window_features=None)``
reads the whole file in one go (the path every existing test checks); a read in windows of N
features must give exactly the same rows (ids, every attribute, geometry WKB) and the same
counts in the report, for N from 1 feature upwards and in every windowed format. The fixture
is a generated city (pv_survey.citygen) with hand-made faults spread over several windows:
missing ids, an id 'row-3' that a generated id would take, repeated ids, duplicate footprints
far apart in the file, text in a numeric field, a footprint the size of a district, a point.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pv_survey.citygen import generate_city
from pv_survey.errors import CRSError
from pv_survey.inputs.read import BuildingWindows, merge_window_warnings, read_buildings
from pv_survey.inputs.sources import source_windows

N_CITY = 240


def _faulty_city() -> gpd.GeoDataFrame:
    city = generate_city(N_CITY)
    src = gpd.GeoDataFrame({
        "bldg_id": city["building_id"].astype(str).to_numpy(),
        "name": city["name"].astype(str).to_numpy(),
        "category": city["category"].astype(str).to_numpy(),
        "height": city["height_m"].astype(float).map(lambda v: f"{v:.1f}").to_numpy(dtype=object),
        "year": city["year_built"].astype("float").to_numpy(),
    }, geometry=city.geometry.to_numpy(), crs=city.crs)
    ids = src["bldg_id"].to_numpy(dtype=object)
    ids[[5, 77, 150]] = ""  # missing: row-6, row-78, row-151
    ids[200] = "row-6"  # a later id that the first generated id must not take
    ids[[90, 180]] = ids[10]  # repeated twice, in later windows
    src["bldg_id"] = ids
    geom = src.geometry.to_numpy()
    geom[170] = geom[20]  # the same footprint 150 rows later
    geom[171] = geom[21]
    geom[60] = shapely.Point(geom[60].centroid)  # not a polygon
    geom[130] = shapely.box(*geom[130].bounds[:2], geom[130].bounds[0] + 1000, geom[130].bounds[1] + 1000)
    src = src.set_geometry(gpd.GeoSeries(geom, crs=city.crs))
    heights = src["height"].to_numpy(dtype=object)
    heights[[33, 133, 233]] = ["abc", "-5", "12 storeys?"]
    src["height"] = heights
    return src


@pytest.fixture(scope="module")
def city_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("windows")
    src = _faulty_city()
    paths = {}
    for fmt, name, kw in (("gpkg", "city.gpkg", {"driver": "GPKG"}), ("shp", "city.shp", {"driver": "ESRI Shapefile"}),
                          ("fgb", "city.fgb", {"driver": "FlatGeobuf"}), ("geojson", "city.geojson",
                                                                          {"driver": "GeoJSON"})):
        out = src
        if fmt == "shp":  # a shapefile holds one geometry type: the point becomes a null shape
            out = src.copy()
            out.loc[60, "geometry"] = None
        out.to_file(d / name, engine="pyogrio", **kw)
        paths[fmt] = d / name
    src.to_parquet(d / "city.parquet", row_group_size=70, write_covering_bbox=True)  # GeoParquet 1.1 bbox column
    paths["parquet"] = d / "city.parquet"
    return paths


def _assert_same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame):
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    wa = shapely.to_wkb(a.geometry.to_numpy())
    wb = shapely.to_wkb(b.geometry.to_numpy())
    assert list(wa) == list(wb)
    assert a.crs == b.crs


def _report_counts(r):
    return (r.n_read, r.n_usable, r.n_repaired, r.excluded, r.height_sources, r.n_height_invalid, r.n_id_duplicate,
            r.n_id_missing, r.n_category_unmapped, r.n_roof_default, r.fields)


@pytest.mark.parametrize("window", [3, 13, 100])
def test_windows_of_any_size_give_the_one_go_table(city_files, window):
    whole, rep_whole = read_buildings(city_files["gpkg"], window_features=None)
    reader = BuildingWindows(city_files["gpkg"], window_features=window)
    frames = list(reader)
    assert reader.n_windows == -(-N_CITY // window) == len(frames)
    assert max(len(f) for f in frames) <= window
    windowed = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    _assert_same(whole, windowed)
    assert _report_counts(reader.report) == _report_counts(rep_whole)
    # the same warnings with the counts of the whole file (a kind met in several windows said once)
    assert sorted(reader.report.warnings) == sorted(rep_whole.warnings)
    va, vb = rep_whole.validation.to_frame(), reader.report.validation.to_frame()
    assert va[va["check"] != "warning"].equals(vb[vb["check"] != "warning"])  # every count of `validate`
    via_read, _ = read_buildings(city_files["gpkg"], window_features=window)
    _assert_same(whole, via_read)


def test_the_faults_are_handled_across_windows(city_files):
    b, rep = read_buildings(city_files["gpkg"], window_features=7)
    ids = b["building_id"].tolist()
    assert len(set(ids)) == len(ids) == N_CITY
    # a missing id takes its row number, except where a later row already holds it
    assert ids[5] == "row-6_2" and ids[200] == "row-6" and ids[77] == "row-78"
    first = ids[10]
    assert ids[90] == f"{first}_2" and ids[180] == f"{first}_3"
    assert b.loc[[170, 171], "excluded_reason"].tolist() == ["duplicate geometry"] * 2
    assert b.loc[[20, 21], "excluded_reason"].tolist() == ["", ""]
    assert b.loc[60, "excluded_reason"] == "not a polygon"  # (in the GeoPackage; a null shape in the .shp)
    assert b.loc[130, "excluded_reason"].startswith("footprint far larger")
    assert "height" in b.loc[33, "attribute_flags"] and b.loc[33, "height_source"] != "attribute"
    assert rep.n_id_missing == 3 and rep.n_id_duplicate == 2
    assert rep.excluded["duplicate geometry"] == 2


@pytest.mark.parametrize("fmt", ["shp", "fgb", "geojson", "parquet"])
def test_every_windowed_format_gives_its_one_go_table(city_files, fmt):
    win = source_windows(city_files[fmt])
    assert win is not None and win.n_features == N_CITY
    whole, rep_whole = read_buildings(city_files[fmt], window_features=None)
    reader = BuildingWindows(city_files[fmt], window_features=50)
    frames = list(reader)
    assert reader.n_windows == 5
    _assert_same(whole, gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                                         crs=frames[0].crs))
    assert _report_counts(reader.report) == _report_counts(rep_whole)


def test_small_file_is_read_in_one_go(city_files):
    reader = BuildingWindows(city_files["gpkg"], window_features=N_CITY)
    frames = list(reader)
    assert reader.n_windows == 1 and len(frames[0]) == N_CITY


def test_every_building_far_outside_fails_after_the_windows(tmp_path):
    # metres labelled as degrees: every footprint far outside, as in one go
    src = _faulty_city().iloc[:30].set_crs("EPSG:4326", allow_override=True)
    path = tmp_path / "far.gpkg"
    src.to_file(path, engine="pyogrio")
    with pytest.raises(CRSError) as one_go:
        read_buildings(path, window_features=None)
    with pytest.raises(CRSError) as windowed:
        read_buildings(path, window_features=4)
    assert str(windowed.value).replace("30 buildings", "#") == str(one_go.value).replace("30 buildings", "#")
    assert "all 30 buildings lie far outside" in str(windowed.value)


def test_building_parts_are_read_in_one_go(tmp_path):
    outline = shapely.box(430000, 2557000, 430040, 2557040)
    part = shapely.box(430000, 2557000, 430020, 2557020)
    other = [shapely.box(430100 + 30 * i, 2557000, 430120 + 30 * i, 2557020) for i in range(6)]
    src = gpd.GeoDataFrame({"building_id": ["O1", "P1", *[f"X{i}" for i in range(6)]],
                            "part_of": ["", "O1", *[""] * 6], "name": ["", "塔楼", *[""] * 6]},
                           geometry=[outline, part, *other], crs="EPSG:4547")
    path = tmp_path / "parts.gpkg"
    src.to_file(path, engine="pyogrio")
    reader = BuildingWindows(path, window_features=2)
    frames = list(reader)
    assert reader.n_windows == 1 and reader.report.n_parts_merged == 1
    assert frames[0]["building_id"].tolist() == ["O1", *[f"X{i}" for i in range(6)]]


def test_merge_window_warnings_sums_the_counts_not_the_thresholds():
    w1 = ["f.gpkg: 3 heights are zero, negative or above 700 m; replaced", "f.gpkg: GDAL warns: x"]
    w2 = ["f.gpkg: 2 heights are zero, negative or above 700 m; replaced", "f.gpkg: GDAL warns: x"]
    w3 = ["f.gpkg: 2 heights are zero, negative or above 700 m; replaced",
          "f.gpkg: 1 administrative boundaries and 1 footprints over 200,000 m2 are not buildings; excluded"]
    assert merge_window_warnings([w1, w2, w3]) == [
        "f.gpkg: 7 heights are zero, negative or above 700 m; replaced", "f.gpkg: GDAL warns: x",
        "f.gpkg: 1 administrative boundaries and 1 footprints over 200,000 m2 are not buildings; excluded"]
    assert merge_window_warnings([w1]) == w1
    np.testing.assert_equal(merge_window_warnings([["a: 1 x, 2 y"], ["a: 1 x, 5 y"]]), ["a: 2 x, 7 y"])


# --------------------------------------------------------------------------- the scratch store of the tiles


@pytest.fixture(scope="module")
def stored(city_files):
    from pv_survey.inputs.schema import compact_columns
    from pv_survey.inputs.store import BuildingStore

    store = BuildingStore.create(cell_m=150.0)
    frames = []
    for w in BuildingWindows(city_files["gpkg"], window_features=50):
        store.add(w)
        frames.append(w)
    store.close()
    city = compact_columns(gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                                            crs=frames[0].crs))
    store.set_dtypes(city)
    yield store, city
    store.remove()


def _box_query(city, box):
    """Positions whose bounding box meets ``box``: shapely's STRtree, independent of the store."""
    geoms = city.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    tree = shapely.STRtree(geoms[ok])
    return np.sort(np.flatnonzero(ok)[tree.query(shapely.box(*box))])


def test_store_gives_the_rows_of_the_city_table(stored):
    store, city = stored
    assert store.n_rows == len(city) and len(store.boxes) >= 5  # several cells and windows
    x0, y0, x1, y1 = city.total_bounds
    box = (x0 + 0.3 * (x1 - x0), y0 + 0.3 * (y1 - y0), x0 + 0.6 * (x1 - x0), y0 + 0.6 * (y1 - y0))
    pos = _box_query(city, box)
    assert 0 < len(pos) < len(city)
    for got in (store.read(box, pos), store.read(box)):
        want = city.iloc[pos]
        _assert_same(want, got)  # rows, index (positions), dtypes with the city's categories, WKB
        assert got["category"].dtype == city["category"].dtype


def test_store_travels_and_refuses_rows_outside_the_box(stored):
    import pickle

    from pv_survey.errors import InputError

    store, city = stored
    copy = pickle.loads(pickle.dumps(store))  # what a dask worker receives: file, boxes, dtypes
    x0, y0, _, _ = city.total_bounds
    box = (x0 - 1e4, y0 - 1e4, x0 - 9e3, y0 - 9e3)  # far from every building
    empty = copy.read(box)
    assert len(empty) == 0 and list(empty.columns) == list(city.columns)
    with pytest.raises(InputError, match="outside the box"):
        copy.read(box, [0])


# --------------------------------------------------------------------------- pv-survey validate in windows


def _same_validation(a, b):
    fa, fb = a.to_frame(), b.to_frame()
    assert fa[fa["check"] != "warning"].equals(fb[fb["check"] != "warning"])  # every count, problem, verdict
    assert sorted(a.warnings) == sorted(b.warnings)


def test_validate_in_windows_reports_what_one_go_reports(city_files, tmp_path):
    from pv_survey.inputs.validate import validate_buildings

    one_go = validate_buildings(city_files["gpkg"], window_features=None)
    windowed = validate_buildings(city_files["gpkg"], window_features=13)
    assert one_go.n_duplicate_geometry == 2 and one_go.n_missing_id == 3 and one_go.n_duplicate_id == 2
    _same_validation(one_go, windowed)
    # unusable: metres labelled as degrees, every footprint far outside (the same problem, usable = no)
    far = tmp_path / "far.gpkg"
    _faulty_city().iloc[:30].set_crs("EPSG:4326", allow_override=True).to_file(far, engine="pyogrio")
    a, b = validate_buildings(far, window_features=None), validate_buildings(far, window_features=4)
    assert not b.usable and b.problems == a.problems
    _same_validation(a, b)
