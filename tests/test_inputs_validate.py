"""validate_buildings and ``pv-survey validate``: counts, usability, exit codes, report file."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from pv_survey.cli import cli
from pv_survey.cli.validate import NotUsable  # importing registers the subcommand on the group
from pv_survey.errors import InputFileError
from pv_survey.inputs import validate_buildings

TIANHE_EXTENT = (113.28, 23.08, 113.46, 23.27)  # survey.extent_lon_lat default (config.py)


def _sq(lon, lat, half=0.0001):
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


@pytest.fixture()
def mixed(tmp_path):
    """Six features in CGCS2000 lon/lat: 2 good, 1 swapped, 1 line, 1 bowtie, 1 duplicate id."""
    bowtie = shapely.Polygon([(113.33, 23.12), (113.331, 23.121), (113.331, 23.12), (113.33, 23.121)])
    geoms = [_sq(113.33, 23.12), _sq(113.34, 23.13),
             shapely.transform(_sq(113.35, 23.14), lambda c: c[:, ::-1]),
             shapely.LineString([(113.33, 23.12), (113.331, 23.12)]), bowtie, _sq(113.36, 23.15)]
    frame = gpd.GeoDataFrame({"building_id": ["a", "b", "c", "d", "e", "a"],
                              "category": ["学校", "医院", "住宅", "住宅", "火星基地", "政府"],
                              "height_m": [20.0, 0.0, 30.0, 30.0, 30.0, 30.0]},
                             geometry=geoms, crs="EPSG:4490")
    p = tmp_path / "mixed.gpkg"
    frame.to_file(p)
    return p


def test_validate_counts(mixed):
    rep = validate_buildings(mixed, extent_lon_lat=TIANHE_EXTENT)
    assert rep.usable and rep.n_features == 6
    assert (rep.n_non_polygon, rep.n_invalid, rep.n_repairable) == (1, 1, 1)
    assert (rep.n_duplicate_id, rep.n_swapped, rep.n_far_outside) == (1, 1, 0)
    assert rep.n_usable == 5  # the line is the only unusable geometry
    assert rep.attribute_problems["category not recognised (-> other)"] == 1  # 火星基地
    assert rep.attribute_problems["height invalid (<= 0 or > 700 m)"] == 1
    assert rep.crs_declared.startswith("EPSG:4490")
    lon0, lat0, lon1, lat1 = rep.bounds_lon_lat
    assert 113.32 < lon0 < lon1 < 113.37 and 23.11 < lat0 < lat1 < 23.16  # swapped one counted in place
    t = rep.to_frame()
    assert list(t.columns) == ["check", "value"] and t["check"].is_unique is False  # warnings repeat 'warning'


def test_validate_not_usable(tmp_path):
    lines = gpd.GeoDataFrame({"building_id": ["a"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])],
                             crs="EPSG:4547")
    p = tmp_path / "lines.gpkg"
    lines.to_file(p)
    rep = validate_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert not rep.usable and "no building has a usable polygon" in rep.problems[0]
    beijing = gpd.GeoDataFrame({"building_id": ["a"]}, geometry=[_sq(116.40, 39.91)], crs="EPSG:4490")
    q = tmp_path / "bj.gpkg"
    beijing.to_file(q)
    rep = validate_buildings(q, extent_lon_lat=TIANHE_EXTENT)
    assert not rep.usable and rep.n_far_outside == 1


def test_cli_validate_usable_writes_report(mixed, tmp_path):
    out = tmp_path / "report.csv"
    res = CliRunner().invoke(cli, ["validate", str(mixed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "swapped lat/lon" in res.output and "usable" in res.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM so Excel shows Chinese
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table.set_index("check").loc["features", "value"] == "6"
    res = CliRunner().invoke(cli, ["validate", str(mixed), "--out", str(out)])
    assert res.exit_code != 0 and "--overwrite" in str(res.exception or res.output)
    res = CliRunner().invoke(cli, ["validate", str(mixed), "--out", str(out), "--overwrite"])
    assert res.exit_code == 0


def test_cli_validate_exit_2_when_not_usable(tmp_path):
    p = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"bid": ["a"]}, geometry=[_sq(113.33, 23.12)]).to_file(p)
    res = CliRunner().invoke(cli, ["validate", str(p)])
    assert res.exit_code == 2 and "--source-crs" in res.output
    res = CliRunner().invoke(cli, ["validate", str(p), "--source-crs", "EPSG:4490"])
    assert res.exit_code == 0, res.output
    # the console-script entry point (pv_survey.cli.main) runs the group with standalone_mode=False
    # and exits with a ClickException's exit_code: the command must raise one carrying 2
    with pytest.raises(NotUsable) as exc:
        cli.main(["validate", str(p)], standalone_mode=False)
    assert exc.value.exit_code == 2


def test_cli_validate_missing_file_is_a_library_error(tmp_path):
    # main() turns every PVSurveyError into one line and exit code 2
    with pytest.raises(InputFileError, match="not found"):
        cli.main(["validate", str(tmp_path / "nope.gpkg")], standalone_mode=False)


def test_check_geometries_flags_each_repaired_row():
    """A repair is flagged on its own row (issue 18: a counted repair with a per-row flag): a
    collection keeps its polygon, a bow-tie becomes its two triangles with shapely's reason; valid,
    unusable and unrepairable rows carry no repair flag."""
    from pv_survey.inputs.validate import FLAG_COLLECTION, check_geometries

    square = shapely.box(0, 0, 10, 10)
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])  # crosses itself at (5, 5)
    sliver = shapely.Polygon([(0, 0), (10, 0), (20, 0), (0, 0)])  # zero area: not repairable
    coll = shapely.GeometryCollection([shapely.box(20, 0, 30, 10), shapely.Point(50, 50)])
    chk = check_geometries([square, bowtie, None, coll, sliver, shapely.Point(1, 1)])
    assert chk.flag[0] == "" and chk.flag[2] == "" and chk.flag[4] == "" and chk.flag[5] == ""
    assert chk.flag[1] == "footprint invalid (Self-intersection[5 5]): repaired with shapely make_valid"
    assert chk.flag[3] == FLAG_COLLECTION
    assert (chk.n_repaired, chk.n_collection_reduced, chk.n_unrepairable) == (1, 1, 1)
    assert chk.geometry[1].area == pytest.approx(50.0)  # two triangles of 10 x 5 / 2 m2
    assert chk.geometry[3].equals(shapely.box(20, 0, 30, 10))
    assert list(chk.reason) == ["", "", "no geometry", "", "invalid geometry", "not a polygon"]
