"""PostGIS tables as a buildings source, against a real PostgreSQL + PostGIS server.

The ``postgis_url`` fixture (tests/conftest.py) starts the server from Debian's packages and
skips, with the apt-get line, where they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pytest
import shapely

from _postgis import load_table
from pv_survey.errors import CRSError, InputError, InputFileError
from pv_survey.inputs import parse_postgis_source, read_buildings, validate_buildings

TIANHE_EXTENT = (113.28, 23.08, 113.46, 23.27)  # survey.extent_lon_lat default (config.py)
X0, Y0 = 430000.0, 2557000.0  # EPSG:4547 metres inside Tianhe


def _frame():
    geoms = [shapely.box(X0 + 50 * i, Y0, X0 + 50 * i + 20, Y0 + 20) for i in range(3)]
    return gpd.GeoDataFrame({
        "编号": ["G1", "G2", "G3"],
        "名称": ["天河区人民政府", "天河区第一小学", "华景新城"],
        "建筑类型": ["机关", "学校", "住宅"],
        "层数": [6, 4, 20],
        "高度": [np.nan, np.nan, 61.5],
    }, geometry=geoms, crs="EPSG:4547")


def _pg_string(url: str, table: str) -> str:
    u = urlsplit(url)
    return f"PG:host={u.hostname} port={u.port} user={u.username} dbname={u.path.lstrip('/')} tables={table}"


# ----------------------------------------------------------------------------- parsing (no server)


def test_parse_url_and_pg_string():
    s = parse_postgis_source("postgresql://gis:secret@db.example:5433/city?table=survey.bldg&sslmode=require")
    assert (s.schema, s.table, s.geometry_column) == ("survey", "bldg", None)
    assert "table=" not in s.conninfo and "sslmode=require" in s.conninfo
    assert "secret" not in s.display and "***" in s.display
    s = parse_postgis_source("PG:dbname=city host=db port=5432 user=gis password='p w' tables=survey.bldg(footprint)")
    assert (s.schema, s.table, s.geometry_column) == ("survey", "bldg", "footprint")
    assert "tables" not in s.conninfo and "password='p w'" in s.conninfo and "p w" not in s.display
    s = parse_postgis_source("postgresql://gis@db/city", layer="bldg")
    assert (s.schema, s.table) == (None, "bldg")
    with pytest.raises(InputError, match=r"no table named.*\?table="):
        parse_postgis_source("postgresql://gis@db/city")


def test_unreachable_server_is_an_input_file_error():
    pytest.importorskip("psycopg")
    # port 1 on the loopback: nothing listens, the connection is refused at once
    with pytest.raises(InputFileError, match="cannot connect"):
        read_buildings("postgresql://nobody@127.0.0.1:1/none?table=x")


# ----------------------------------------------------------------------------- a real server


def _check(b):
    assert b["building_id"].tolist() == ["G1", "G2", "G3"]
    assert b["name"].tolist() == ["天河区人民政府", "天河区第一小学", "华景新城"]
    assert b["category"].tolist() == ["government", "school", "residential"]
    # 6 x 4.0 m (government storey), 4 x 3.9 m (school storey), height column 61.5 m (schema.py)
    np.testing.assert_allclose(b["height_m"], [24.0, 15.6, 61.5])
    assert b.crs.to_epsg() == 4547
    assert shapely.equals(b.geometry.iloc[0], _frame().geometry.iloc[0])


def test_read_postgis_url_and_pg_string(postgis_url):
    load_table(postgis_url, "survey.bldg_a", _frame())
    b, rep = read_buildings(f"{postgis_url}?table=survey.bldg_a", extent_lon_lat=TIANHE_EXTENT)
    _check(b)
    assert rep.driver == "PostGIS (psycopg)" and rep.layer == "survey.bldg_a"
    assert rep.crs_declared.startswith("EPSG:4547")
    b, _ = read_buildings(_pg_string(postgis_url, "survey.bldg_a"), extent_lon_lat=TIANHE_EXTENT)
    _check(b)
    b, _ = read_buildings(postgis_url, layer="survey.bldg_a", extent_lon_lat=TIANHE_EXTENT)
    _check(b)


def test_postgis_lon_lat_table_reprojected(postgis_url):
    frame = _frame().to_crs("EPSG:4490")
    load_table(postgis_url, "public.bldg_ll", frame)
    b, rep = read_buildings(f"{postgis_url}?table=bldg_ll", extent_lon_lat=TIANHE_EXTENT)
    assert rep.crs_declared.startswith("EPSG:4490")
    # back in EPSG:4547 within a millimetre of the original squares
    assert b.geometry.iloc[0].hausdorff_distance(_frame().geometry.iloc[0]) < 1e-3


def test_postgis_missing_table_and_srid0(postgis_url):
    load_table(postgis_url, "public.bldg_nosrid", _frame(), srid=0)
    with pytest.raises(InputFileError, match="no geometry table 'nosuch'.*bldg_nosrid"):
        read_buildings(f"{postgis_url}?table=nosuch")
    with pytest.raises(CRSError, match="no coordinate reference system"):
        read_buildings(f"{postgis_url}?table=bldg_nosrid")
    b, _ = read_buildings(f"{postgis_url}?table=bldg_nosrid", source_crs="EPSG:4547", extent_lon_lat=TIANHE_EXTENT)
    _check(b)
    rep = validate_buildings(f"{postgis_url}?table=bldg_nosrid")
    assert not rep.usable and "no coordinate reference system" in rep.problems[0]


def test_table_loaded_by_ogr2ogr(postgis_url, tmp_path):
    # GDAL's own PostgreSQL writer, as a municipal GIS department would load a GeoPackage
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        pytest.skip("ogr2ogr (Debian package gdal-bin) not installed")
    formats = subprocess.run([ogr2ogr, "--formats"], capture_output=True, text=True, timeout=60).stdout
    if "PostgreSQL" not in formats:
        pytest.skip("this ogr2ogr has no PostgreSQL driver")
    gpkg = tmp_path / "src.gpkg"
    _frame().to_file(gpkg, layer="buildings")
    subprocess.run([ogr2ogr, "-f", "PostgreSQL", _pg_string(postgis_url, "x").rsplit(" tables=", 1)[0],
                    str(gpkg), "buildings", "-nln", "gdal_loaded", "-lco", "SCHEMA=public", "-overwrite"],
                   check=True, capture_output=True, timeout=60)
    b, rep = read_buildings(f"{postgis_url}?table=public.gdal_loaded", extent_lon_lat=TIANHE_EXTENT)
    _check(b)
