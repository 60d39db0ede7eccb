"""Builders of the bad-input corpus (issue 9): every file is made here, in a test's tmp_path.

Nothing binary is committed: each builder writes its files into a folder and returns the
command-line arguments of ``pv-survey run`` that feed them in (without ``--out``). The
buildings are hand-made 20 x 20 m boxes in EPSG:4547 (CGCS2000 GK CM 114E) around
113.35 E, 23.13 N, well inside Tianhe, 40 m apart so that none shades another much.

The expectations (error or documented repair, and what the message must say) live in
``tests/test_reliability_inputs.py``; the builders only make the bad inputs.
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUILDINGS = ROOT / "data" / "tianhe_demo_buildings.gpkg"
DEFAULT_WEATHER = ROOT / "data" / "guangzhou_default_year.csv"

#: EPSG:4547 easting / northing of 113.35 E, 23.13 N (pyproj, always_xy), rounded to 100 m.
X0_M, Y0_M = 433400.0, 2559000.0
#: Side of each hand-made footprint and the spacing of their corners. [m]
SIDE_M, STEP_M = 20.0, 40.0
#: Categories of the base boxes, cycled (one of each of the first six categories).
CATEGORIES = ("government", "school", "hospital", "commercial", "residential", "industrial")
NAMES_ZH = ("天河区政府", "第一小学", "人民医院", "商务大厦", "华景新城", "电子厂房")
#: Heights of the base boxes [m]: plausible Tianhe values, all inside (0, 700].
HEIGHTS_M = (24.0, 15.6, 33.6, 40.0, 30.0, 12.0)


def boxes(n: int = 6, *, x0: float = X0_M, y0: float = Y0_M) -> list:
    """``n`` squares of SIDE_M on a row (two rows when n > 6), EPSG:4547 metres."""
    out = []
    for i in range(n):
        col, row = i % 6, i // 6
        x, y = x0 + STEP_M * col, y0 + STEP_M * row
        out.append(shapely.box(x, y, x + SIDE_M, y + SIDE_M))
    return out


def base_frame(n: int = 6) -> gpd.GeoDataFrame:
    """The clean corpus base: ``n`` boxes with id, Chinese name, category, height, storeys, roof."""
    k = [i % len(CATEGORIES) for i in range(n)]
    return gpd.GeoDataFrame({
        "building_id": [f"B{i + 1:02d}" for i in range(n)],
        "name": [f"{NAMES_ZH[j]}{i + 1}" for i, j in enumerate(k)],
        "category": [CATEGORIES[j] for j in k],
        "height_m": [HEIGHTS_M[j] for j in k],
        "floors": [int(HEIGHTS_M[j] // 4) for j in k],
        "roof_type": ["flat"] * n,
    }, geometry=boxes(n), crs="EPSG:4547")


def _gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str = "buildings") -> Path:
    frame.to_file(path, layer=layer, driver="GPKG")
    return path


def _b(path: Path) -> list[str]:
    return ["--buildings", str(path)]


# --------------------------------------------------------------------------- corrupt files


def gpkg_truncated(d: Path) -> list[str]:
    """A valid GeoPackage cut in half (a copy interrupted half way)."""
    full = _gpkg(base_frame(), d / "full.gpkg")
    data = full.read_bytes()
    p = d / "truncated.gpkg"
    p.write_bytes(data[: len(data) // 2])
    return _b(p)


def gpkg_zero_bytes(d: Path) -> list[str]:
    p = d / "empty_file.gpkg"
    p.write_bytes(b"")
    return _b(p)


def _random_bytes(d: Path, name: str, n: int = 4096, seed: int = 9) -> Path:
    p = d / name
    p.write_bytes(random.Random(seed).randbytes(n))
    return p


def random_gpkg(d: Path) -> list[str]:
    return _b(_random_bytes(d, "noise.gpkg"))


def random_shp(d: Path) -> list[str]:
    p = _random_bytes(d, "noise.shp")
    _random_bytes(d, "noise.shx", 512, seed=10)
    _random_bytes(d, "noise.dbf", 512, seed=11)
    return _b(p)


def random_geojson(d: Path) -> list[str]:
    return _b(_random_bytes(d, "noise.geojson"))


def geojson_truncated(d: Path) -> list[str]:
    """A GeoJSON whose text stops in the middle of a coordinate list."""
    full = d / "full.geojson"
    base_frame().to_crs("EPSG:4326").to_file(full, driver="GeoJSON")
    text = full.read_text(encoding="utf-8")
    p = d / "cut.geojson"
    p.write_text(text[: len(text) // 2], encoding="utf-8")
    return _b(p)


def shp_without_dbf(d: Path) -> list[str]:
    """A shapefile whose .dbf (the attribute table) was not sent."""
    p = _shapefile(d, "nodbf")
    p.with_suffix(".dbf").unlink()
    return _b(p)


def csv_named_gpkg(d: Path) -> list[str]:
    """A spreadsheet export saved with a .gpkg extension (wrong extension, not GIS data)."""
    p = d / "table.gpkg"
    p.write_text("building_id,name,height_m\nB1,x,10\n", encoding="utf-8")
    return _b(p)


def geojson_named_shp(d: Path) -> list[str]:
    """A GeoJSON file saved with a .shp extension (wrong extension, readable content)."""
    p = d / "actually_geojson.shp"
    base_frame().to_crs("EPSG:4326").to_file(d / "tmp.geojson", driver="GeoJSON")
    shutil.move(d / "tmp.geojson", p)
    return _b(p)


def gpkg_named_geojson(d: Path) -> list[str]:
    """A GeoPackage saved with a .geojson extension (wrong extension, readable content)."""
    p = d / "actually_gpkg.geojson"
    _gpkg(base_frame(), d / "tmp.gpkg")
    shutil.move(d / "tmp.gpkg", p)
    return _b(p)


def missing_file(d: Path) -> list[str]:
    return _b(d / "not_there.gpkg")


def folder_without_layers(d: Path) -> list[str]:
    """A folder given as the buildings source (e.g. the unzipped delivery's top folder)."""
    (d / "delivery").mkdir()
    (d / "delivery" / "readme.txt").write_text("footprints to follow", encoding="utf-8")
    return _b(d / "delivery")


def aspatial_table(d: Path) -> list[str]:
    """A GeoPackage whose 'buildings' layer is a plain attribute table (no geometry column)."""
    import pyogrio

    p = d / "table_only.gpkg"
    pyogrio.write_dataframe(pd.DataFrame(base_frame().drop(columns="geometry")), p, layer="buildings")
    return _b(p)


def _shapefile(d: Path, stem: str, frame: gpd.GeoDataFrame | None = None, **kw) -> Path:
    with warnings.catch_warnings():  # GDAL: field names cut to 10 characters (building_id -> building_i)
        warnings.simplefilter("ignore")
        (base_frame() if frame is None else frame).to_file(d / f"{stem}.shp", **kw)
    return d / f"{stem}.shp"


def shp_truncated(d: Path) -> list[str]:
    """A shapefile whose .shp was cut half way (its .shx and .dbf are whole)."""
    p = _shapefile(d, "cut", base_frame(12))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return _b(p)


def shp_without_shx(d: Path) -> list[str]:
    p = _shapefile(d, "noshx")
    p.with_suffix(".shx").unlink()
    return _b(p)


def dbf_truncated(d: Path) -> list[str]:
    p = _shapefile(d, "cutdbf", base_frame(12))
    dbf = p.with_suffix(".dbf")
    data = dbf.read_bytes()
    dbf.write_bytes(data[: len(data) // 2])
    return _b(p)


def gpkg_corrupt_pages(d: Path) -> list[str]:
    """A GeoPackage of 400 footprints with 8 KiB of noise written over its middle (bad sectors)."""
    f = base_frame(400)
    full = _gpkg(f, d / "corrupt.gpkg")
    data = bytearray(full.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 8192] = random.Random(3).randbytes(8192)
    full.write_bytes(bytes(data))
    return _b(full)


# --------------------------------------------------------------------------- layers, geometry


def empty_layer(d: Path) -> list[str]:
    """A GeoPackage whose buildings layer has the fields but no feature."""
    return _b(_gpkg(base_frame().iloc[:0], d / "no_features.gpkg"))


def bad_geometries(d: Path) -> list[str]:
    """Six good boxes plus one each of: null, empty, self-intersecting (bow-tie, repairable),
    point, line, and an unrepairable zero-area sliver."""
    f = base_frame(12)
    x, y = X0_M + 300.0, Y0_M + 300.0
    bowtie = shapely.Polygon([(x, y), (x + 20, y + 20), (x + 20, y), (x, y + 20), (x, y)])
    sliver = shapely.Polygon([(x, y + 60), (x + 20, y + 60), (x + 40, y + 60), (x, y + 60)])
    geoms = list(f.geometry)
    geoms[6] = None
    geoms[7] = shapely.Polygon()
    geoms[8] = bowtie
    geoms[9] = shapely.Point(x + 100, y)
    geoms[10] = shapely.LineString([(x + 150, y), (x + 170, y + 10)])
    geoms[11] = sliver
    f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4547"))
    return _b(_gpkg(f, d / "bad_geoms.gpkg"))


def only_points(d: Path) -> list[str]:
    """Building 'footprints' that are all points (a POI export), where polygons belong."""
    f = base_frame().copy()
    f = f.set_geometry(f.geometry.centroid)
    return _b(_gpkg(f, d / "points.gpkg"))


def only_lines(d: Path) -> list[str]:
    """Outlines digitised as closed lines, not polygons."""
    f = base_frame().copy()
    f = f.set_geometry(f.geometry.boundary)
    return _b(_gpkg(f, d / "lines.gpkg"))


def duplicate_ids(d: Path) -> list[str]:
    """Three buildings share one id, one has none."""
    f = base_frame()
    f["building_id"] = ["B01", "B01", "B01", "B04", "", "B06"]
    return _b(_gpkg(f, d / "dup_ids.gpkg"))


def duplicate_footprints(d: Path) -> list[str]:
    """The same footprint delivered twice (two rows, same geometry)."""
    f = base_frame()
    f = pd.concat([f, f.iloc[[2]].assign(building_id="B99")], ignore_index=True)
    return _b(_gpkg(gpd.GeoDataFrame(f, crs="EPSG:4547"), d / "dup_geoms.gpkg"))


def missing_crs(d: Path) -> list[str]:
    """A shapefile sent without its .prj."""
    p = _shapefile(d, "noprj", encoding="utf-8")
    p.with_suffix(".prj").unlink()
    return _b(p)


def missing_crs_with_source_crs(d: Path) -> list[str]:
    """The same shapefile, with the CRS given on the command line."""
    return missing_crs(d) + ["--source-crs", "EPSG:4547"]


def _lon_lat_frame() -> gpd.GeoDataFrame:
    return base_frame().to_crs("EPSG:4326")


def swapped_lat_lon(d: Path) -> list[str]:
    """GeoJSON (WGS84) whose first three buildings have latitude stored as x."""
    f = _lon_lat_frame()
    geoms = list(f.geometry)
    for i in range(3):
        geoms[i] = shapely.transform(geoms[i], lambda c: c[:, ::-1])
    f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4326"))
    p = d / "swapped.geojson"
    f.to_file(p, driver="GeoJSON")
    return _b(p)


def far_outside(d: Path) -> list[str]:
    """Two of six buildings shifted 100 km east (a typo in the easting)."""
    f = base_frame()
    geoms = list(f.geometry)
    for i in (4, 5):
        geoms[i] = shapely.transform(geoms[i], lambda c: c + np.array([100_000.0, 0.0]))
    f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4547"))
    return _b(_gpkg(f, d / "far.gpkg"))


def all_far_outside(d: Path) -> list[str]:
    """Every building in Beijing (coordinates of another city)."""
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    x, y = tr.transform(116.40, 39.90)
    f = base_frame().set_geometry(gpd.GeoSeries(boxes(6, x0=x, y0=y), crs="EPSG:4547"))
    return _b(_gpkg(f, d / "beijing.gpkg"))


def metres_labelled_degrees(d: Path) -> list[str]:
    """EPSG:4547 metres in a file that declares WGS84 lon/lat (wrong CRS on the file)."""
    f = base_frame().set_crs("EPSG:4326", allow_override=True)
    return _b(_gpkg(f, d / "wrong_crs.gpkg"))


# --------------------------------------------------------------------------- attributes


def bad_heights(d: Path) -> list[str]:
    """Heights zero, negative, absurd (5 km, 1e30) and missing, beside two good ones."""
    f = base_frame(7)
    f["height_m"] = [0.0, -12.0, 5000.0, 1e30, np.nan, 30.0, 18.0]
    f["floors"] = [0, -3, 9999, 1e308, 0, 10, 6]  # 1e308 storeys overflowed height = storeys x 4 m
    return _b(_gpkg(f, d / "heights.gpkg"))


def text_in_numbers(d: Path) -> list[str]:
    """Numeric fields stored as text: words, units, Chinese numerals, blanks."""
    f = base_frame()
    f["height_m"] = ["abc", "40 m", "二十米", "", "n/a", "12.5"]
    f["floors"] = ["many", "10层", "", "五", "?", "3"]
    f["year_built"] = ["unknown", "2015", "2015-06-01", "一九九九", "", "1998年"]
    f["existing_pv_kwp"] = ["none", "12", "-5", "lots", "", "0"]
    return _b(_gpkg(f, d / "text_numbers.gpkg"))


def gbk_without_cpg(d: Path) -> list[str]:
    """A shapefile with GBK-encoded Chinese attributes and no .cpg sidecar."""
    f = base_frame()
    f["category"] = ["政府", "学校", "医院", "商业", "住宅", "厂房"]
    p = _shapefile(d, "gbk", f, encoding="gbk")
    p.with_suffix(".cpg").unlink(missing_ok=True)
    return _b(p)


# --------------------------------------------------------------------------- DSM


def _dsm(path: Path, crs: str, x0: float, y0: float, *, holes: bool = False, nodata=-9999.0,
         res_m: float = 1.0, cells: int = 600) -> Path:
    """A flat ground at 2 m with every base box raised to its height; optional nodata holes."""
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    transform = from_origin(x0 - 200.0, y0 + 400.0, res_m, res_m)
    f = base_frame()
    data = np.full((cells, cells), 2.0, dtype=np.float32)
    burnt = rasterize(((g, h) for g, h in zip(f.geometry, f["height_m"])), out_shape=data.shape,
                      transform=transform, fill=0.0, dtype="float32")
    data = np.maximum(data, burnt)
    if holes:
        data[250:300, :] = nodata  # a 50 m strip of missing cells across the buildings' row
        data[100:120, 100:120] = nodata
    with rasterio.open(path, "w", driver="GTiff", height=cells, width=cells, count=1, dtype="float32",
                       crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def dsm_with_holes(d: Path) -> list[str]:
    b = _gpkg(base_frame(), d / "b.gpkg")
    return _b(b) + ["--dsm", str(_dsm(d / "holes.tif", "EPSG:4547", X0_M, Y0_M, holes=True))]


def dsm_other_crs(d: Path) -> list[str]:
    """A good DSM delivered in UTM 49N (EPSG:32649) instead of the survey's EPSG:4547."""
    b = _gpkg(base_frame(), d / "b.gpkg")
    tr = pyproj.Transformer.from_crs("EPSG:4547", "EPSG:32649", always_xy=True)
    x, y = tr.transform(X0_M, Y0_M)
    return _b(b) + ["--dsm", str(_dsm(d / "utm.tif", "EPSG:32649", x, y))]


def dsm_wrong_crs_label(d: Path) -> list[str]:
    """EPSG:4547 metres in a GeoTIFF that declares WGS84 degrees: it lands nowhere near the buildings."""
    b = _gpkg(base_frame(), d / "b.gpkg")
    return _b(b) + ["--dsm", str(_dsm(d / "labelled_4326.tif", "EPSG:4326", X0_M, Y0_M, res_m=1.0))]


def dsm_no_overlap(d: Path) -> list[str]:
    """A DSM of a place 30 km away."""
    b = _gpkg(base_frame(), d / "b.gpkg")
    return _b(b) + ["--dsm", str(_dsm(d / "elsewhere.tif", "EPSG:4547", X0_M + 30_000.0, Y0_M))]


def dsm_no_crs(d: Path) -> list[str]:
    b = _gpkg(base_frame(), d / "b.gpkg")
    return _b(b) + ["--dsm", str(_dsm(d / "nocrs.tif", None, X0_M, Y0_M))]


def dsm_random_bytes(d: Path) -> list[str]:
    b = _gpkg(base_frame(), d / "b.gpkg")
    return _b(b) + ["--dsm", str(_random_bytes(d, "noise.tif"))]


# --------------------------------------------------------------------------- weather


def _weather_lines() -> tuple[list[str], list[str]]:
    """(header comment lines + column header, data lines) of the embedded weather CSV."""
    lines = DEFAULT_WEATHER.read_text(encoding="utf-8").splitlines()
    n_head = next(i for i, line in enumerate(lines) if line.startswith("time,"))
    return lines[: n_head + 1], lines[n_head + 1:]


def _weather(d: Path, name: str, head: list[str], body: list[str]) -> list[str]:
    p = d / name
    p.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    return ["--buildings", str(_gpkg(base_frame(), d / "b.gpkg")), "--weather", str(p)]


#: Hours removed by :func:`weather_missing_hours`: a 3-day outage in July and 60 scattered hours.
MISSING_BLOCK_H = 72
MISSING_SCATTERED_H = 60


def weather_missing_hours(d: Path) -> list[str]:
    head, body = _weather_lines()
    rng = random.Random(5)
    drop = set(range(4500, 4500 + MISSING_BLOCK_H))
    drop |= set(rng.sample([i for i in range(len(body)) if i not in drop and i < 4400], MISSING_SCATTERED_H))
    return _weather(d, "gaps.csv", head, [line for i, line in enumerate(body) if i not in drop])


def weather_mostly_missing(d: Path) -> list[str]:
    """Only the first 2000 hours of the year."""
    head, body = _weather_lines()
    return _weather(d, "short.csv", head, body[:2000])


def weather_impossible_values(d: Path) -> list[str]:
    """Six bad hours: GHI -50 W/m2, GHI 5000 W/m2 (a missing-value code), 99 C, wind -3 m/s,
    DNI 800 W/m2 at local midnight, and the text 'n/a' for GHI (rows 3660 + 24 k are local noon
    of 2-7 June; row 3744 is 00:30 on 6 June)."""
    head, body = _weather_lines()
    body = list(body)

    def set_col(i, col, value):
        parts = body[i].split(",")
        parts[col] = value
        body[i] = ",".join(parts)

    set_col(3660, 1, "-50")
    set_col(3684, 1, "5000")
    set_col(3708, 4, "99")
    set_col(3732, 5, "-3")
    set_col(3756 - 12, 2, "800")  # DNI at local midnight
    set_col(3780, 1, "n/a")
    return _weather(d, "impossible.csv", head, body)


def weather_garbage(d: Path) -> list[str]:
    p = _random_bytes(d, "weather.epw")
    return ["--buildings", str(_gpkg(base_frame(), d / "b.gpkg")), "--weather", str(p)]


def weather_no_location(d: Path) -> list[str]:
    head, body = _weather_lines()
    head = [h for h in head if not h.startswith("# latitude_deg")]
    return _weather(d, "noloc.csv", head, body)


# --------------------------------------------------------------------------- config


def _config(d: Path, text: str) -> list[str]:
    p = d / "scenario.toml"
    p.write_text(text, encoding="utf-8")
    b = _gpkg(base_frame(), d / "b.gpkg")
    return ["--config", str(p), "--buildings", str(b)]


def config_unknown_key(d: Path) -> list[str]:
    return _config(d, "[roofs]\nedge_setback = 1.0\n")


def config_unknown_section(d: Path) -> list[str]:
    return _config(d, "[roof]\nedge_setback_m = 1.0\n")


def config_wrong_type(d: Path) -> list[str]:
    return _config(d, '[roofs]\nedge_setback_m = "one metre"\n')


def config_out_of_range(d: Path) -> list[str]:
    return _config(d, "[roofs]\nobstacle_free_frac = 1.5\n")


def config_zero_target(d: Path) -> list[str]:
    return _config(d, '[[plan.targets]]\nname = "2030"\nyear = 2030\ncapacity_kwp = 0\n')


def config_negative_target(d: Path) -> list[str]:
    return _config(d, '[[plan.targets]]\nname = "2030"\nyear = 2030\ncapacity_kwp = -500.0\n')


def config_bad_extent(d: Path) -> list[str]:
    """A survey extent of two numbers instead of four."""
    return _config(d, "[survey]\nextent_lon_lat = [113.3, 23.1]\n")


def encoding_unknown(d: Path) -> list[str]:
    """The GBK shapefile with a misspelt --encoding."""
    return gbk_without_cpg(d) + ["--encoding", "gbkk"]


def config_not_toml(d: Path) -> list[str]:
    return _config(d, "roofs: {edge_setback_m: 1}\n")


def config_gbk_text(d: Path) -> list[str]:
    p = d / "scenario.toml"
    p.write_bytes('[survey]\nname = "天河"\n'.encode("gbk"))
    return ["--config", str(p), "--buildings", str(_gpkg(base_frame(), d / "b.gpkg"))]


# --------------------------------------------------------------------------- registry


BUILDERS: dict[str, Callable[[Path], list[str]]] = {
    f.__name__: f for f in (
        gpkg_truncated, gpkg_zero_bytes, random_gpkg, random_shp, random_geojson, geojson_truncated,
        shp_without_dbf, csv_named_gpkg, geojson_named_shp, gpkg_named_geojson, missing_file,
        folder_without_layers, aspatial_table, shp_truncated, shp_without_shx, dbf_truncated, gpkg_corrupt_pages,
        empty_layer, bad_geometries, only_points, only_lines, duplicate_ids, duplicate_footprints,
        missing_crs, missing_crs_with_source_crs, swapped_lat_lon, far_outside, all_far_outside,
        metres_labelled_degrees, bad_heights, text_in_numbers, gbk_without_cpg, encoding_unknown,
        dsm_with_holes, dsm_other_crs, dsm_wrong_crs_label, dsm_no_overlap, dsm_no_crs, dsm_random_bytes,
        weather_missing_hours, weather_mostly_missing, weather_impossible_values, weather_garbage,
        weather_no_location,
        config_unknown_key, config_unknown_section, config_wrong_type, config_out_of_range,
        config_zero_target, config_negative_target, config_not_toml, config_gbk_text, config_bad_extent,
    )
}


def build(name: str, folder: Path) -> list[str]:
    """Write case ``name`` into ``folder`` (created) and return its ``pv-survey run`` arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # writers' notes (GDAL, shapefile field names) are not under test
        warnings.simplefilter("ignore")
        return BUILDERS[name](folder)


def manifest_of(out_dir: Path) -> dict:
    """manifest.json of a finished run."""
    return json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
