"""read_buildings / read_roof_planes: formats, encodings, geometry repair, attribute mapping.

Fixtures are built by hand here: five squares near Tianhe in EPSG:4547 with known attributes.
Expected heights follow the documented rules of pv_survey.inputs.schema: a height field wins;
else storeys x the category's storey height (STOREY_HEIGHT_M, a documented assumption);
else the category default (DEFAULT_HEIGHT_M), flagged.
"""

from __future__ import annotations

import os
import shutil
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from pv_survey.errors import InputError, InputFileError
from pv_survey.inputs import read_buildings, read_roof_planes, read_source
from pv_survey.inputs.encoding import detect_dbf_encoding
from pv_survey.inputs.schema import SCHEMA_COLUMNS

TIANHE_EXTENT = (113.28, 23.08, 113.46, 23.27)  # survey.extent_lon_lat default (config.py)
X0, Y0 = 430000.0, 2557000.0  # EPSG:4547 metres inside Tianhe (113.31 E, 23.11 N)

NAMES = ["天河区第一小学", "广州市天河区人民医院", "某某电子厂房", "华景新城住宅", "天河区人民政府"]
CATS_ZH = ["学校", "医院", "厂房", "住宅", "政府"]
CATS = ["school", "hospital", "industrial", "residential", "government"]
FLOORS = [4.0, np.nan, 2.0, 10.0, np.nan]
HEIGHT = [np.nan, 45.0, np.nan, np.nan, np.nan]
# 4 x 3.9 m (school storey), height field 45 m, 2 x 6.0 m (industrial storey), 10 x 3.0 m
# (residential storey), government default 24 m (6 storeys x 4.0 m): schema.py constants.
WANT_H = [15.6, 45.0, 12.0, 30.0, 24.0]
WANT_SRC = ["levels", "attribute", "levels", "levels", "category_default"]


def _squares(n=5, size=20.0):
    return [shapely.box(X0 + 50 * i, Y0, X0 + 50 * i + size, Y0 + size) for i in range(n)]


def _frame(ascii_fields=True) -> gpd.GeoDataFrame:
    if ascii_fields:
        cols = {"bldg_id": [f"B{i + 1}" for i in range(5)], "name": NAMES, "type": CATS_ZH,
                "floors": FLOORS, "height": HEIGHT}
    else:
        cols = {"编号": [f"B{i + 1}" for i in range(5)], "名称": NAMES, "类型": CATS_ZH,
                "层数": FLOORS, "高度": HEIGHT}
    return gpd.GeoDataFrame(cols, geometry=_squares(), crs="EPSG:4547")


def _check_standard(b: gpd.GeoDataFrame):
    # FlatGeobuf's spatial index reorders features: compare in id order
    b = b.sort_values("building_id").reset_index(drop=True)
    assert list(b.columns) == [*SCHEMA_COLUMNS, "geometry"]
    assert b.crs.to_epsg() == 4547
    assert b["building_id"].tolist() == ["B1", "B2", "B3", "B4", "B5"]
    assert b["name"].tolist() == NAMES
    assert b["category"].tolist() == CATS
    np.testing.assert_allclose(b["height_m"], WANT_H)
    assert b["height_source"].tolist() == WANT_SRC
    assert (b["excluded_reason"] == "").all()
    # same footprint (shapefiles rewind rings, File Geodatabases store MultiPolygons)
    assert shapely.equals(b.geometry.iloc[0], _squares()[0])


# ----------------------------------------------------------------------------- formats


def _write(fmt, frame, tmp_path):
    if fmt == "gpkg":
        p = tmp_path / "b.gpkg"
        frame.to_file(p, layer="buildings")
        frame.iloc[:1].to_file(p, layer="other_polys")  # second layer: 'buildings' is taken by name
    elif fmt == "shp":
        p = tmp_path / "b.shp"
        frame.to_file(p)
    elif fmt == "zip":
        d = tmp_path / "shp"
        d.mkdir()
        frame.to_file(d / "b.shp")
        p = tmp_path / "b.zip"
        with zipfile.ZipFile(p, "w") as zf:
            for f in d.iterdir():
                zf.write(f, f"folder/{f.name}")
    elif fmt == "geojson":
        p = tmp_path / "b.geojson"
        frame.to_file(p, driver="GeoJSON")
    elif fmt == "fgb":
        p = tmp_path / "b.fgb"
        frame.to_file(p, driver="FlatGeobuf")
    elif fmt == "parquet":
        p = tmp_path / "b.parquet"
        frame.to_parquet(p)
    elif fmt == "gdb":
        p = tmp_path / "b.gdb"
        pyogrio.write_dataframe(frame, p, driver="OpenFileGDB", layer="buildings")
    return p


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "zip", "geojson", "fgb", "parquet", "gdb"])
def test_formats_give_the_same_frame(fmt, tmp_path):
    p = _write(fmt, _frame(), tmp_path)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert rep.n_read == 5 and rep.n_usable == 5
    assert rep.height_sources == {"attribute": 1, "levels": 3, "category_default": 1}
    assert rep.fields["category"] == "type" and rep.fields["floors"] == "floors"


def test_gpkg_layer_choice(tmp_path):
    p = tmp_path / "two.gpkg"
    _frame().to_file(p, layer="a")
    _frame().iloc[:2].to_file(p, layer="b")
    with pytest.raises(InputError, match="several layers.*--layer"):
        read_buildings(p)
    b, rep = read_buildings(p, layer="b")
    assert len(b) == 2 and rep.layer == "b"
    with pytest.raises(InputError, match="no layer 'c'"):
        read_buildings(p, layer="c")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_buildings(tmp_path / "nope.gpkg")
    bad = tmp_path / "bad.geojson"
    bad.write_text("this is not json", encoding="utf-8")
    with pytest.raises(InputFileError, match="not a GIS format"):
        read_buildings(bad)


# ----------------------------------------------------------------------------- encodings


def _gbk_shapefile(tmp_path, keep_cpg: bool, name="gbk"):
    d = tmp_path / name
    d.mkdir()
    p = d / "b.shp"
    pyogrio.write_dataframe(_frame(ascii_fields=False), p, encoding="GBK")
    if not keep_cpg:
        os.remove(d / "b.cpg")
    return p


def test_gbk_shapefile_with_cpg(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=True)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert rep.encoding.upper() == "GBK"
    assert rep.fields["name"] == "名称"  # Chinese field names decoded too


def test_gbk_shapefile_without_cpg_is_detected(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=False)
    # without help GDAL falls back to ISO-8859-1 and garbles the names (what this feature fixes)
    assert "天河区第一小学" not in pyogrio.read_dataframe(p).iloc[:, 1].tolist()
    assert detect_dbf_encoding(p.with_suffix(".dbf")) == "GB18030"
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert rep.encoding == "GB18030"
    b2, rep2 = read_buildings(p, encoding="gbk", extent_lon_lat=TIANHE_EXTENT)
    assert b2["name"].tolist() == NAMES and rep2.encoding == "gbk"


def test_wrong_cpg_is_overridden_with_warning(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=True)
    p.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["name"].tolist() == NAMES
    assert any(".cpg says" in w for w in rep.warnings)


def test_zipped_gbk_shapefile_without_cpg(tmp_path):
    p = _gbk_shapefile(tmp_path, keep_cpg=False)
    z = tmp_path / "gbk.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in p.parent.iterdir():
            zf.write(f, f.name)
    b, rep = read_buildings(z, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert rep.encoding == "GB18030"


def test_zipped_shapefile_is_read_in_place(tmp_path, monkeypatch):
    """A zipped shapefile is read through GDAL's /vsizip/ from inside the archive (issue 18): nothing is
    extracted -- no file appears anywhere, zipfile extracts nothing -- even with no usable temp folder."""
    import tempfile

    src = tmp_path / "src"
    src.mkdir()
    z = _write("zip", _frame(), src)
    for part in list(src.iterdir()):
        if part != z:
            shutil.rmtree(part) if part.is_dir() else part.unlink()
    seen = []
    real_read = pyogrio.read_dataframe

    def spy(path, *a, **kw):
        seen.append(str(path))
        return real_read(path, *a, **kw)

    def no_extract(*_a, **_k):
        raise AssertionError("the zip was extracted")

    monkeypatch.setattr(pyogrio, "read_dataframe", spy)
    monkeypatch.setattr(zipfile.ZipFile, "extract", no_extract)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_extract)
    missing_tmp = tmp_path / "no-such-temp-folder"
    monkeypatch.setenv("TMPDIR", str(missing_tmp))
    monkeypatch.setenv("CPL_TMPDIR", str(missing_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(missing_tmp))
    before = sorted(p for p in tmp_path.rglob("*"))
    b, rep = read_buildings(z, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert seen and all(s.startswith(f"/vsizip/{z.resolve()}/folder/b.shp") for s in seen)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written beside it or anywhere under it
    assert not missing_tmp.exists()


def test_utf8_shapefile_without_cpg(tmp_path):
    d = tmp_path / "u"
    d.mkdir()
    p = d / "b.shp"
    _frame().to_file(p, encoding="UTF-8")
    if (d / "b.cpg").exists():
        os.remove(d / "b.cpg")
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    _check_standard(b)
    assert rep.encoding == "UTF-8"


# ----------------------------------------------------------------------------- geometry


def test_nothing_is_lost_bad_geometries_kept_with_reason(tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])  # self-crossing
    assert not bowtie.is_valid
    geoms = [
        _squares(1)[0],
        bowtie,
        shapely.LineString([(X0, Y0), (X0 + 10, Y0)]),
        None,
        shapely.Polygon(),
        shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0, Y0)]),  # zero area, collapses
        _squares(1)[0],  # exact duplicate of the first
    ]
    frame = gpd.GeoDataFrame({"bldg_id": list("abcdefg"), "height": [10.0] * 7},
                             geometry=gpd.GeoSeries(geoms), crs="EPSG:4547")
    p = tmp_path / "bad.gpkg"
    frame.to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["building_id"].tolist() == list("abcdefg")
    assert b["excluded_reason"].tolist() == [
        "", "", "not a polygon", "no geometry", "empty geometry", "invalid geometry", "duplicate geometry"]
    # the bowtie is repaired into its two 5 m triangles: area 2 x (10 x 5 / 2) = 50 m2
    assert b.geometry.iloc[1].is_valid and b.geometry.iloc[1].area == pytest.approx(50.0)
    assert rep.n_repaired == 1 and rep.n_read == 7 and rep.n_usable == 2
    assert rep.excluded == {"not a polygon": 1, "no geometry": 1, "empty geometry": 1,
                            "invalid geometry": 1, "duplicate geometry": 1}
    v = rep.validation
    assert (v.n_invalid, v.n_repairable, v.n_non_polygon, v.n_null, v.n_empty) == (2, 1, 1, 1, 1)


def test_no_usable_building_is_an_error(tmp_path):
    p = tmp_path / "lines.gpkg"
    gpd.GeoDataFrame({"bldg_id": ["a"]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 9, Y0)])],
                     crs="EPSG:4547").to_file(p)
    with pytest.raises(InputError, match="no usable building.*not a polygon: 1.*validate"):
        read_buildings(p)


def test_duplicate_and_missing_ids_made_unique(tmp_path):
    frame = gpd.GeoDataFrame({"bldg_id": ["a", "a", None, "a_2"]}, geometry=_squares(4), crs="EPSG:4547")
    p = tmp_path / "ids.gpkg"
    frame.to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["building_id"].tolist() == ["a", "a_3", "row-3", "a_2"]
    assert b["building_id"].is_unique
    assert (rep.n_id_duplicate, rep.n_id_missing) == (1, 1)


# ----------------------------------------------------------------------------- attributes


def test_field_map_value_map_and_chinese_labels(tmp_path):
    frame = gpd.GeoDataFrame({
        "BH": ["1", "2", "3", "4"],
        "MC": ["甲", "乙", "丙", "丁"],
        "JZLX": ["教学楼", "卫生院", "仓储", "养老院"],
        "CS": ["5层", "12", "", "3"],
        "WD": ["坡屋顶", "平顶", "", "gabled"],
        "ND": ["2023年", "1998", "unknown", None],
        "PV": [50.0, np.nan, -3.0, 0.0],
        "QS": ["天河区教育局", "", "", ""],
        "DZ": ["天河路1号", "", "", ""],
    }, geometry=_squares(4), crs="EPSG:4547")
    p = tmp_path / "m.gpkg"
    frame.to_file(p)
    fmap = {"building_id": "BH", "name": "MC", "category": "JZLX", "floors": "CS", "roof_type": "WD",
            "year_built": "ND", "existing_pv_kwp": "PV", "owner": "QS", "address": "DZ"}
    b, rep = read_buildings(p, field_map=fmap, value_map={"养老院": "public"}, extent_lon_lat=TIANHE_EXTENT)
    # 教学楼/卫生院/仓储 are built-in labels; 养老院 (care home) comes from value_map
    assert b["category"].tolist() == ["school", "hospital", "industrial", "public"]
    # '5层' -> 5 storeys x 3.9 m (school); 12 x 4.2 m (hospital); none -> industrial default 12 m;
    # 3 x 4.0 m (public)
    np.testing.assert_allclose(b["height_m"], [19.5, 50.4, 12.0, 12.0])
    assert b["height_source"].tolist() == ["levels", "levels", "category_default", "levels"]
    assert b["roof_type"].tolist() == ["pitched", "flat", "flat", "pitched"]
    assert b["year_built"].tolist() == [2023, 1998, pd.NA, pd.NA]
    assert str(b["year_built"].dtype) == "Int64"
    assert b["existing_pv_kwp"].tolist() == [50.0, 0.0, 0.0, 0.0]
    assert (b["owner"].iloc[0], b["address"].iloc[0]) == ("天河区教育局", "天河路1号")
    assert rep.n_roof_default == 1


def test_unmapped_category_warns_and_bad_maps_raise(tmp_path):
    frame = gpd.GeoDataFrame({"type": ["学校", "神秘建筑"]}, geometry=_squares(2), crs="EPSG:4547")
    p = tmp_path / "u.gpkg"
    frame.to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["category"].tolist() == ["school", "other"]
    assert rep.n_category_unmapped == 1 and any("神秘建筑" in w and "value_map" in w for w in rep.warnings)
    with pytest.raises(InputError, match="value_map.*'castle'"):
        read_buildings(p, value_map={"神秘建筑": "castle"})
    with pytest.raises(InputError, match="no field 'LX'"):
        read_buildings(p, field_map={"category": "LX"})
    with pytest.raises(InputError, match="'colour' is not a schema field"):
        read_buildings(p, field_map={"colour": "type"})


def test_absurd_heights_replaced_and_counted(tmp_path):
    frame = gpd.GeoDataFrame({"type": ["住宅"] * 4, "height": [0.0, -5.0, 900.0, 30.0],
                              "floors": [10.0, np.nan, np.nan, 3.0]}, geometry=_squares(4), crs="EPSG:4547")
    p = tmp_path / "h.gpkg"
    frame.to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    # 0 m -> 10 storeys x 3.0 m; -5 m and 900 m (> 700 m, above China's tallest, 632 m) -> residential
    # default 24 m; 30 m kept
    np.testing.assert_allclose(b["height_m"], [30.0, 24.0, 24.0, 30.0])
    assert b["height_source"].tolist() == ["levels", "category_default", "category_default", "attribute"]
    assert rep.n_height_invalid == 3 and rep.n_height_default == 2


def test_no_category_field_everything_other_with_warning(tmp_path):
    p = tmp_path / "n.gpkg"
    gpd.GeoDataFrame({"x": [1]}, geometry=_squares(1), crs="EPSG:4547").to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["category"].tolist() == ["other"] and b["height_source"].tolist() == ["category_default"]
    assert any("no category field" in w for w in rep.warnings)


def test_report_to_frame(tmp_path):
    p = _write("gpkg", _frame(), tmp_path)
    _, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    t = rep.to_frame()
    assert list(t.columns) == ["item", "value"]
    assert t.set_index("item").loc["buildings read", "value"] == "5"


def test_read_source_keeps_raw_frame(tmp_path):
    p = _write("gpkg", _frame(), tmp_path)
    raw = read_source(p)
    assert raw.layer == "buildings" and raw.driver == "GPKG" and raw.crs.to_epsg() == 4547
    assert list(raw.frame.columns[:2]) == ["bldg_id", "name"]


# ----------------------------------------------------------------------------- roof planes


def test_read_roof_planes(tmp_path):
    frame = gpd.GeoDataFrame({"building_id": ["B1", "B1", "B2"], "tilt": [25.0, 25.0, 30.0],
                              "azimuth": [180.0, -0.0, 450.0]}, geometry=_squares(3), crs="EPSG:4547")
    p = tmp_path / "planes.gpkg"
    frame.to_file(p)
    with pytest.raises(InputError, match="azimuth.*outside"):
        read_roof_planes(p)
    frame["azimuth"] = [180.0, 0.0, -90.0]
    frame.to_file(p)
    planes = read_roof_planes(p)
    assert list(planes.columns) == ["building_id", "plane_id", "tilt_deg", "azimuth_deg", "geometry"]
    assert planes["plane_id"].tolist() == ["B1-1", "B1-2", "B2-3"]
    # -90 deg wraps to 270 deg (west), clockwise from north
    assert planes["azimuth_deg"].tolist() == [180.0, 0.0, 270.0]
    frame2 = frame.drop(columns="building_id")
    frame2.to_file(tmp_path / "noid.gpkg")
    with pytest.raises(InputError, match="building_id"):
        read_roof_planes(tmp_path / "noid.gpkg")


# ----------------------------------------------------------------------------- issue 16: real-data checks


def _gpkg(tmp_path, cols, geoms, name="b.gpkg"):
    p = tmp_path / name
    gpd.GeoDataFrame(cols, geometry=geoms, crs="EPSG:4547").to_file(p)
    return p


def test_categories_from_names_for_any_source(tmp_path):
    # a shapefile-like source with a type field: 办公 -> commercial (field wins over the name);
    # 其他 -> other, refined by the name: 海关 -> government, 医院 -> hospital; a former-use name
    # (旧址 / 原...) sets nothing
    names = ["广州市海关", "广州市政务服务中心", "天河医院", "原广州市第一人民医院", "黄埔军校旧址"]
    p = _gpkg(tmp_path, {"bldg_id": [f"B{i}" for i in range(5)], "name": names,
                         "type": ["其他", "办公", "其他", "其他", "其他"]}, _squares())
    b, rep = read_buildings(p)
    assert b.set_index("name")["category"].to_dict() == {
        "广州市海关": "government", "广州市政务服务中心": "commercial", "天河医院": "hospital",
        "原广州市第一人民医院": "other", "黄埔军校旧址": "other"}
    assert rep.n_category_from_name == 2


def test_part_of_field_folds_parts_into_outlines(tmp_path):
    # a non-OSM source declaring the part -> outline relation through field_map part_of
    geoms = [shapely.box(X0, Y0, X0 + 40, Y0 + 40), shapely.box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20)]
    p = _gpkg(tmp_path, {"bldg_id": ["O1", "P1"], "name": ["", "塔楼"], "height": [10.0, 60.0],
                         "parent": ["", "O1"]}, geoms)
    b, rep = read_buildings(p, field_map={"part_of": "parent"})
    assert b["building_id"].tolist() == ["O1"] and rep.n_parts_merged == 1
    assert b["name"].iloc[0] == "塔楼"  # the outline has no name: its largest named part's
    assert b["height_m"].iloc[0] == pytest.approx(10.0)  # the outline keeps its own height
    assert rep.parts["height_m"].tolist() == [60.0] and rep.parts["building_id"].tolist() == ["O1"]


def test_footprint_sanity_and_text_in_numbers(tmp_path):
    # 1 km x 1 km = 1e6 m2 > 200,000 m2: not a building; 'abc' in height / levels is flagged per row
    geoms = [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000), *_squares(2)]
    geoms[1:] = [shapely.box(X0 + 2000 + 50 * i, Y0, X0 + 2020 + 50 * i, Y0 + 20) for i in range(2)]
    p = _gpkg(tmp_path, {"bldg_id": ["BIG", "A", "B"], "height": ["", "abc", "30"], "floors": ["", "", "十"]},
              geoms)
    from pv_survey.inputs.read import REASON_TOO_LARGE
    b, _ = read_buildings(p)
    by = b.set_index("building_id")
    assert by.loc["BIG", "excluded_reason"] == REASON_TOO_LARGE
    assert by.loc["A", "attribute_flags"] == "height_m not a number: 'abc'"
    assert by.loc["B", "attribute_flags"] == "floors not a number: '十'"
    b2, _ = read_buildings(p, max_footprint_m2=2e6)
    assert b2.set_index("building_id").loc["BIG", "excluded_reason"] == ""


def test_datav_boundary_is_no_building_and_hints_gcj02(tmp_path):
    # a DataV.GeoAtlas-style feature (adcode, level, acroutes) read without --source-crs
    import json
    ring = [[113.30, 23.10], [113.40, 23.10], [113.40, 23.20], [113.30, 23.20], [113.30, 23.10]]
    p = tmp_path / "440106.json"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "adcode": 440106, "name": "天河区", "level": "district", "childrenNum": 0, "acroutes": [100000]},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"administrative boundary.*--source-crs gcj02"):
        read_buildings(p)


DATAV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "440106_tianhe_datav_gcj02.json")


@pytest.mark.shared_data
@pytest.mark.skipif(not os.path.isfile(DATAV), reason=f"{DATAV} not present (../shared/data beside the repo)")
def test_real_datav_boundary_rejected_with_hint():
    # PROVENANCE.md file 5: the Tianhe boundary (adcode 440106) in DataV format, GCJ-02
    with pytest.raises(InputError, match="gcj02"):
        read_buildings(DATAV)


def test_obstacles_without_heights_name_the_files_own_fields(tmp_path):
    """The error lists the fields of the user's file, not the car-park id the shared reader adds."""
    from pv_survey.errors import InputError
    from pv_survey.inputs import read_obstacles

    p = tmp_path / "trees.gpkg"
    gpd.GeoDataFrame({"kind": ["榕树"], "crown_m": [8.0]}, geometry=[shapely.box(0, 0, 8, 8)],
                     crs="EPSG:4547").to_file(p)
    with pytest.raises(InputError, match=r"obstacles need a 'height_m' field .*; fields: kind, crown_m$"):
        read_obstacles(str(p), target_crs="EPSG:4547")
