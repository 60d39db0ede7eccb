"""Builders of the bad-input corpus (issue 9) and the generated matrix of input kinds x corruptions
(issue 18, :func:`matrix_cases`): every file is made here, in a test's tmp_path.

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


def dsm_not_georeferenced(d: Path) -> list[str]:
    """A DSM saved as a plain PNG image: heights without cell positions or CRS."""
    import rasterio

    b = _gpkg(base_frame(), d / "b.gpkg")
    data = np.full((60, 60), 20, dtype=np.uint8)
    with warnings.catch_warnings():  # writing it warns the same way reading it does
        warnings.simplefilter("ignore")
        with rasterio.open(d / "heights.png", "w", driver="PNG", height=60, width=60, count=1, dtype="uint8") as dst:
            dst.write(data, 1)
    return _b(b) + ["--dsm", str(d / "heights.png")]


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
        dsm_with_holes, dsm_other_crs, dsm_wrong_crs_label, dsm_no_overlap, dsm_no_crs, dsm_not_georeferenced,
        dsm_random_bytes,
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


# =========================================================================== the matrix (issue 18)
#
# Input kinds x corruptions, generated. Every case states its expected outcome from how it is
# built -- "error" (exit 2, one line naming the file and what to do, nothing written) or "repair"
# (exit 0, the repair counted in the run's notes and flagged row by row in the output) -- and the
# file the message must name. tests/test_reliability_matrix.py runs them all.

import dataclasses as _dc
import zipfile as _zipfile

#: Fractions of a file kept by the "truncated" corruptions: early, half way, near the end.
TRUNCATE_AT = (0.1, 0.5, 0.9)


@_dc.dataclass(frozen=True)
class Case:
    """One cell of the matrix.

    ``build(folder)`` writes the inputs and returns the command line after the global options
    (``["run", ...]`` or ``["batch", ...]``, without ``--out``). ``names`` is the file name the
    error line (or the repair note) must hold; ``note`` the text of the repair note; ``flag`` a
    ``(column, text, rows)`` triple: the buildings layer must have ``rows`` rows whose ``column``
    holds ``text`` (None for inputs with no rows in the outputs: weather hours and raster cells
    are counted in the note only).
    """

    kind: str
    corruption: str
    expect: str
    names: str
    build: Callable[[Path], list[str]]
    note: str = ""
    flag: tuple | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.corruption}"


def _cut(path: Path, frac: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * frac)])
    return path


def _noise(path: Path, n: int = 4096, seed: int = 18) -> Path:
    path.write_bytes(random.Random(seed).randbytes(n))
    return path


# --------------------------------------------------------------------------- vector writers

VECTOR_FORMATS = ("gpkg", "shp", "zip", "geojson", "fgb", "parquet", "osm")


def _osm_xml(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """An OSM XML file: one closed way per footprint, tags building / name / height / building:levels."""
    from xml.sax.saxutils import quoteattr

    f = frame.to_crs("EPSG:4326")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="pv-survey tests">']
    ways = []
    nid = 1
    for k, (geom, row) in enumerate(zip(f.geometry, f.itertuples(index=False)), start=1):
        refs = []
        for x, y in list(geom.exterior.coords)[:-1]:
            lines.append(f'  <node id="{nid}" version="1" lat="{y:.8f}" lon="{x:.8f}"/>')
            refs.append(nid)
            nid += 1
        refs.append(refs[0])
        tags = {"building": "yes", "name": row.name, "height": str(row.height_m),
                "building:levels": str(row.floors)}
        body = "".join(f'    <nd ref="{r}"/>\n' for r in refs)
        body += "".join(f"    <tag k={quoteattr(a)} v={quoteattr(b)}/>\n" for a, b in tags.items())
        ways.append(f'  <way id="{k}" version="1">\n{body}  </way>')
    lines += ways + ["</osm>"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_vector(frame: gpd.GeoDataFrame, folder: Path, stem: str, fmt: str, *, encoding: str | None = None) -> Path:
    """Write ``frame`` as ``folder/stem.<fmt>``; ``zip`` is a zipped shapefile. Returns the main file."""
    if fmt == "gpkg":
        return _gpkg(frame, folder / f"{stem}.gpkg")
    if fmt == "shp":
        return _shapefile(folder, stem, frame, **({"encoding": encoding} if encoding else {}))
    if fmt == "zip":
        sub = folder / f"_{stem}_parts"
        sub.mkdir(exist_ok=True)
        _shapefile(sub, stem, frame, **({"encoding": encoding} if encoding else {}))
        z = folder / f"{stem}.zip"
        with _zipfile.ZipFile(z, "w", _zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(sub.iterdir()):
                zf.write(part, part.name)
        shutil.rmtree(sub)
        return z
    if fmt == "geojson":
        p = folder / f"{stem}.geojson"
        frame.to_crs("EPSG:4326").to_file(p, driver="GeoJSON")
        return p
    if fmt == "fgb":
        p = folder / f"{stem}.fgb"
        frame.to_file(p, driver="FlatGeobuf")
        return p
    if fmt == "parquet":
        p = folder / f"{stem}.parquet"
        frame.to_parquet(p)
        return p
    if fmt == "osm":
        return _osm_xml(frame, folder / f"{stem}.osm")
    raise ValueError(fmt)


def _run(*args: str) -> list[str]:
    return ["run", *args]


def _buildings_file_case(fmt: str, corruption: str) -> Case:
    stem = f"bldg_{fmt}"
    name = f"{stem}.{fmt}"

    def build(d: Path) -> list[str]:
        p = write_vector(base_frame(12), d, stem, fmt)
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption.startswith("truncated-"):
            _cut(p, int(corruption.split("-")[1]) / 100)
        elif corruption == "random-bytes":
            _noise(p)
        return _run("--buildings", str(p))

    return Case(f"buildings.{fmt}", corruption, "error", name, build)


# --------------------------------------------------------------------------- buildings: attributes

#: Heights of the "bad values" corruption [m]: two good ones, then NaN (missing), zero, negative,
#: 5 km and 1e30 -- four outside (0, 700] m (schema.MAX_HEIGHT_M), one missing.
BAD_HEIGHTS_M = (24.0, 15.6, float("nan"), 0.0, -12.0, 5000.0, 1e30, 30.0)


def _attr_frame(corruption: str) -> gpd.GeoDataFrame:
    f = base_frame(8)
    if corruption == "text-in-number":
        # three heights, two storey counts and two years hold words; the rest are numbers as text
        f["height_m"] = ["abc", "40", "二十米", "30.5", "n/a", "12", "18", "21"]
        f["floors"] = ["many", "10", "", "五", "7", "3", "4", "5"]
        f["year_built"] = ["unknown", "2015", "1999", "一九九九", "2001", "2010", "2020", "1998"]
    elif corruption == "bad-values":
        f["height_m"] = list(BAD_HEIGHTS_M)
        f["floors"] = [6, 4, 0, 0, 0, 0, 0, 10]  # zero storeys = not given (schema: must be > 0)
    elif corruption == "huge-values":
        # a height and a storey count beyond any float a DBF holds in its 24 digits, and 1e15 m coordinates
        f["height_m"] = [1e300, 15.6, 33.6, 40.0, 30.0, 12.0, 24.0, 15.6]
        f["floors"] = [6, 1e200, 8, 10, 7, 3, 6, 4]
        geoms = list(f.geometry)
        geoms[7] = shapely.box(1e15, 1e15, 1e15 + 20, 1e15 + 20)
        f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4547"))
    elif corruption == "duplicate-ids":
        f["building_id"] = ["B01", "B01", "B01", "B04", "", "B06", "B06", "B08"]
    elif corruption == "mixed-geometry":
        geoms = list(f.geometry)
        geoms[5] = geoms[5].centroid
        geoms[6] = geoms[6].boundary
        geoms[7] = shapely.MultiPoint([(X0_M + 500, Y0_M), (X0_M + 510, Y0_M)])
        f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4547"))
    elif corruption == "control-characters":
        # bytes of a damaged or mis-decoded file in two names (BEL, ESC) and one owner (NUL is not
        # storable in every format, so not used)
        f["name"] = ["天河区政府\x07", "第一小学", "人民\x1b[0m医院", "商务大厦", "华景新城", "电子厂房", "A", "B"]
        f["owner"] = ["", "", "", "", "", "", "", "own\x02er"]
    elif corruption == "giant-footprint":
        geoms = list(f.geometry)
        # a 3 x 3 km square (9 km2, a district's size) beside the boxes
        geoms[7] = shapely.box(X0_M + 2000, Y0_M, X0_M + 5000, Y0_M + 3000)
        f = f.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4547"))
    return f


ATTR_REPAIRS = {
    # corruption -> (note text, (column, flag text, rows))
    # words in rows 1 (height, storeys, year), 3 (height), 4 (storeys, year) and 5 (height): 4 rows
    "text-in-number": ("3 values of height_m are not numbers", ("attribute_flags", "not a number", 4)),
    "bad-values": ("4 heights are zero, negative or above 700 m", ("attribute_flags", "m outside (0, 700] m", 4)),
    "huge-values": ("1 heights are zero, negative or above 700 m", ("attribute_flags", "outside", 2)),
    "duplicate-ids": ("3 building ids are repeated", ("attribute_flags", "repeated; renamed", 3)),
    "mixed-geometry": ("3 features are points or lines, not footprints; excluded",
                       ("excluded_reason", "not a polygon", 3)),
    # rows 1 and 3 (name), row 8 (owner): 3 values, 3 rows
    "control-characters": ("3 text values held control characters", ("attribute_flags", "control characters removed",
                                                                      3)),
    "giant-footprint": ("1 footprints over 200,000 m2 are not buildings; excluded",
                        ("excluded_reason", "footprint far larger than any building", 1)),
}


def _buildings_attr_case(fmt: str, corruption: str) -> Case:
    stem = f"attr_{fmt}"
    name = f"{stem}.{fmt}"
    if corruption in ATTR_REPAIRS:
        note, flag = ATTR_REPAIRS[corruption]

        def build(d: Path) -> list[str]:
            return _run("--buildings", str(write_vector(_attr_frame(corruption), d, stem, fmt)))

        return Case(f"buildings.{fmt}", corruption, "repair", name, build, note=note, flag=flag)
    if corruption == "missing-crs":
        def build(d: Path) -> list[str]:
            f = base_frame().set_crs(None, allow_override=True)
            p = write_vector(f, d, stem, fmt)
            return _run("--buildings", str(p))
        return Case(f"buildings.{fmt}", corruption, "error", name, build)
    if corruption == "wrong-crs":
        def build(d: Path) -> list[str]:
            # EPSG:4547 metres declared as WGS84 degrees
            f = base_frame().set_crs("EPSG:4326", allow_override=True)
            if fmt == "geojson":  # GeoJSON is WGS84 by definition: write the metres as they are
                p = d / name
                p.write_text(f.to_json(), encoding="utf-8")
            else:
                p = write_vector(f, d, stem, fmt)
            return _run("--buildings", str(p))
        return Case(f"buildings.{fmt}", corruption, "error", name, build)
    if corruption == "wrong-encoding":
        def build(d: Path) -> list[str]:
            f = base_frame()
            f["category"] = ["政府", "学校", "医院", "商业", "住宅", "厂房"]
            if fmt == "geojson":  # a GeoJSON saved in GBK (RFC 7946 says UTF-8)
                p = d / name
                p.write_bytes(f.to_crs("EPSG:4326").to_json(ensure_ascii=False).encode("gbk"))
            else:
                p = write_vector(f, d, stem, fmt, encoding="gbk")
                p.with_suffix(".cpg").unlink(missing_ok=True)
            return _run("--buildings", str(p))
        if fmt == "shp":
            return Case(f"buildings.{fmt}", corruption, "repair", name, build,
                        note="no .cpg; attribute text detected as GB18030", flag=None)
        return Case(f"buildings.{fmt}", corruption, "error", name, build)
    raise ValueError(corruption)


ATTR_FORMATS = ("gpkg", "shp", "geojson")
ATTR_CORRUPTIONS = (*ATTR_REPAIRS, "missing-crs", "wrong-crs", "wrong-encoding")


def _attr_applies(fmt: str, corruption: str) -> bool:
    if corruption == "missing-crs":
        return fmt != "geojson"  # a GeoJSON always has a CRS (WGS84, RFC 7946)
    if corruption == "wrong-encoding":
        return fmt != "gpkg"  # SQLite text is UTF-8 by definition
    if corruption == "mixed-geometry":
        return fmt != "shp"  # a shapefile holds one geometry type by definition
    return True


# --------------------------------------------------------------------------- roof planes

def _planes(n: int = 6) -> gpd.GeoDataFrame:
    f = base_frame(n)
    return gpd.GeoDataFrame({"building_id": f["building_id"], "plane_id": [f"P{i + 1}" for i in range(n)],
                             "tilt_deg": [20.0] * n, "azimuth_deg": [180.0] * n},
                            geometry=f.geometry, crs="EPSG:4547")


def _roofs_case(corruption: str) -> Case:
    name = "planes.gpkg"

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        f = _planes()
        if corruption == "text-in-number":
            f["tilt_deg"] = f["tilt_deg"].astype(object)
            f.loc[2, "tilt_deg"] = "steep"
        elif corruption == "bad-values":
            f["tilt_deg"] = [20.0, -5.0, 95.0, float("nan"), 20.0, 1e30]
        elif corruption == "missing-field":
            f = f.drop(columns=["tilt_deg"])
        elif corruption == "missing-crs":
            f = f.set_crs(None, allow_override=True)
        elif corruption == "mixed-geometry":
            f = f.set_geometry(f.geometry.centroid)
        p = _gpkg(f, d / name, layer="planes")
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption.startswith("truncated-"):
            _cut(p, int(corruption.split("-")[1]) / 100)
        elif corruption == "random-bytes":
            _noise(p)
        return _run("--buildings", str(b), "--roofs", str(p))

    return Case("roofs.gpkg", corruption, "error", name, build)


ROOF_CORRUPTIONS = ("empty", "truncated-50", "random-bytes", "text-in-number", "bad-values", "missing-field",
                    "missing-crs", "mixed-geometry")


# --------------------------------------------------------------------------- rasters

def _raster(path: Path, data: np.ndarray, *, crs: str | None = "EPSG:4547", x0: float = X0_M - 200.0,
            y0: float = Y0_M + 400.0, nodata: float | None = -9999.0) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype="float32", crs=crs, transform=from_origin(x0, y0, 1.0, 1.0), nodata=nodata) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


def _dsm_array(cells: int = 600) -> np.ndarray:
    """Ground at 2 m with the six base boxes raised to their heights (the DSM of base_frame())."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    transform = from_origin(X0_M - 200.0, Y0_M + 400.0, 1.0, 1.0)
    f = base_frame()
    burnt = rasterize(((g, h) for g, h in zip(f.geometry, f["height_m"])), out_shape=(cells, cells),
                      transform=transform, fill=0.0, dtype="float32")
    return np.maximum(np.full((cells, cells), 2.0, dtype=np.float32), burnt)


#: Cells set to implausible heights by the "bad-values" raster corruption: a row of 600 cells at
#: +1e6 m, one of 600 at -3.4e38 (an undeclared float nodata) and 100 at +inf: 1,300 cells.
BAD_RASTER_CELLS = 600 + 600 + 100


def _raster_case(kind: str, corruption: str) -> Case:
    """``kind`` is dsm, dem or canopy; the DEM and the canopy raster go with a good DSM."""
    name = f"{kind}.tif"

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        base = _dsm_array() if kind == "dsm" else np.full((600, 600), 2.0 if kind == "dem" else 0.0, np.float32)
        if kind == "canopy":
            base[120:140, 120:140] = 8.0  # a tree crown 8 m tall
        kw = {}
        if corruption == "missing-crs":
            kw["crs"] = None
        elif corruption == "no-overlap":
            kw["x0"] = X0_M + 30_000.0
        elif corruption == "all-nodata":
            base = np.full_like(base, -9999.0)
        elif corruption == "bad-values":
            base = base.copy()
            base[300, :] = 1e6
            base[301, :] = -3.4e38
            base[302, :100] = np.inf
        p = _raster(d / name, base, **kw)
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption == "header-only":
            _cut(p, 0.002)  # the TIFF header and directory survive, the pixels do not
        elif corruption.startswith("truncated-"):
            _cut(p, int(corruption.split("-")[1]) / 100)
        elif corruption == "random-bytes":
            _noise(p)
        elif corruption == "not-a-raster":
            p.unlink()
            _gpkg(base_frame(), d / "vector.gpkg")
            (d / "vector.gpkg").rename(p)
        if kind == "dsm":
            return _run("--buildings", str(b), "--dsm", str(p))
        dsm = _raster(d / "good_dsm.tif", _dsm_array())
        if kind == "dem":
            return _run("--buildings", str(b), "--dsm", str(dsm), "--dem", str(p))
        return _run("--buildings", str(b), "--dsm", str(dsm), "--obstacles", str(p))

    if corruption == "bad-values":
        return Case(kind, corruption, "repair", name, build,
                    note=f"{BAD_RASTER_CELLS:,} DSM cells had no data", flag=None)
    return Case(kind, corruption, "error", name, build)


RASTER_CORRUPTIONS = ("empty", "header-only", "truncated-50", "truncated-90", "random-bytes", "missing-crs",
                      "no-overlap", "all-nodata", "bad-values", "not-a-raster")


def _raster_applies(kind: str, corruption: str) -> bool:
    # a canopy raster of no data or implausible heights adds no obstacle: not an error, nothing to count
    return not (kind == "canopy" and corruption in ("all-nodata", "bad-values", "no-overlap"))


# --------------------------------------------------------------------------- obstacles, car parks, zones

def _layer_case(kind: str, corruption: str) -> Case:
    """Obstacle polygons, car parks and zones: a GeoPackage each beside good buildings."""
    name = f"{kind}.gpkg"

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        x, y = X0_M, Y0_M - 100.0
        geoms = [shapely.box(x + 30 * i, y, x + 30 * i + 20, y + 20) for i in range(4)]
        f = gpd.GeoDataFrame({"height_m": [6.0, 8.0, 5.0, 7.0], "name": ["林荫", "停车场", "花园", "广场"]},
                             geometry=geoms, crs="EPSG:4547")
        if kind == "zones":
            f = gpd.GeoDataFrame({"name": ["天河南", "林和"]},
                                 geometry=[shapely.box(X0_M - 100, Y0_M - 100, X0_M + 110, Y0_M + 300),
                                           shapely.box(X0_M + 110, Y0_M - 100, X0_M + 400, Y0_M + 300)],
                                 crs="EPSG:4547")
        if corruption == "missing-crs":
            f = f.set_crs(None, allow_override=True)
        elif corruption == "wrong-crs":
            f = f.set_crs("EPSG:4326", allow_override=True)
        elif corruption == "mixed-geometry":
            f = f.set_geometry(f.geometry.centroid)
        elif corruption == "missing-field":
            f = f.drop(columns=["height_m" if kind == "obstacles" else "name"])
        elif corruption == "text-in-number":
            f["height_m"] = ["tall", "8", "5", "7"]
        elif corruption == "bad-values":
            f["height_m"] = [6.0, -3.0, float("nan"), 1e30]
        elif corruption == "empty-name":
            f["name"] = ["天河南", ""]
        p = _gpkg(f, d / name, layer=kind)
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption.startswith("truncated-"):
            _cut(p, int(corruption.split("-")[1]) / 100)
        elif corruption == "random-bytes":
            _noise(p)
        if kind == "obstacles":
            return _run("--buildings", str(b), "--obstacles", str(p))
        if kind == "parking":
            return _run("--buildings", str(b), "--parking", str(p), "--resources", "roofs,carports")
        return _run("--buildings", str(b), "--zones", str(p))

    return Case(kind, corruption, "error", name, build)


LAYER_CORRUPTIONS = {
    "obstacles": ("empty", "truncated-50", "random-bytes", "missing-crs", "wrong-crs", "mixed-geometry",
                  "missing-field", "text-in-number", "bad-values"),
    "parking": ("empty", "truncated-50", "random-bytes", "missing-crs", "wrong-crs", "mixed-geometry"),
    "zones": ("empty", "truncated-50", "random-bytes", "missing-crs", "wrong-crs", "mixed-geometry",
              "missing-field", "empty-name"),
}


# --------------------------------------------------------------------------- weather formats

WEATHER_FORMATS = ("epw", "tmy3", "pvgis_tmy_csv", "pvgis_tmy_json", "csv")


def _default_year() -> pd.DataFrame:
    """The embedded default year as columns ghi, dni, dhi, temp, wind; index = local mid-hour stamps."""
    df = pd.read_csv(DEFAULT_WEATHER, comment="#")
    df.index = pd.to_datetime(df.pop("time"))
    return df.rename(columns={"ghi_w_m2": "ghi", "dni_w_m2": "dni", "dhi_w_m2": "dhi", "temp_air_c": "temp",
                              "wind_speed_m_s": "wind"})


def write_weather(fmt: str, path: Path, *, text_at: int | None = None, bad_at: int | None = None,
                  lat: str = "23.13") -> Path:
    """The default year in a published weather format (EnergyPlus EPW, NREL TMY3, PVGIS TMY CSV or
    JSON, the project's CSV). ``text_at``: that hour's GHI is the word 'n/a'; ``bad_at``: that hour's
    GHI is -50 W/m2, the next hour's air temperature 99 C. ``lat``: the latitude as written."""
    y = _default_year()
    ghi = [f"{v:g}" for v in y["ghi"]]
    temp = [f"{v:g}" for v in y["temp"]]
    if text_at is not None:
        ghi[text_at] = "n/a"
    if bad_at is not None:
        ghi[bad_at] = "-50"
        temp[bad_at + 1] = "99"
    dni, dhi, wind = ([f"{v:g}" for v in y[c]] for c in ("dni", "dhi", "wind"))
    if fmt == "epw":  # hour h (1-24) ends at h: the hour of mid-hour 00:30 is 1
        lines = [f"LOCATION,Guangzhou,GD,CHN,corpus,592870,{lat},113.36,8.0,15.0",
                 "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
                 "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,pv-survey corpus", "COMMENTS 2,",
                 "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31"]
        for i, t in enumerate(y.index):
            hour = t.hour + 1
            fields = [2023, t.month, t.day, hour, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9*9?9*9*9?9*9",
                      temp[i], 20.0, 80, 101000, 0, 0, 400, ghi[i], dni[i], dhi[i], 0, 0, 0, 0,
                      180, wind[i], 5, 5, 20.0, 77777, 9, 999999999, 20, 0.1, 0, 88, 0.2, 0.0, 1.0]
            lines.append(",".join(str(v) for v in fields))
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
    elif fmt == "tmy3":
        lines = [f'592870,"GUANGZHOU",GD,8.0,{lat},113.36,15',
                 "Date (MM/DD/YYYY),Time (HH:MM),ETR (W/m^2),ETRN (W/m^2),GHI (W/m^2),GHI source,"
                 "GHI uncert (%),DNI (W/m^2),DNI source,DNI uncert (%),DHI (W/m^2),DHI source,DHI uncert (%),"
                 "Dry-bulb (C),Dry-bulb source,Dry-bulb uncert (%),Wspd (m/s),Wspd source,Wspd uncert (%)"]
        for i, t in enumerate(y.index):
            e = t + pd.Timedelta(minutes=30)
            date, hhmm = (t.strftime("%m/%d/%Y"), "24:00") if e.hour == 0 else (e.strftime("%m/%d/%Y"),
                                                                                e.strftime("%H:00"))
            lines.append(f"{date},{hhmm},0,0,{ghi[i]},1,0,{dni[i]},1,0,{dhi[i]},1,0,{temp[i]},1,0,{wind[i]},1,0")
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
    elif fmt in ("pvgis_tmy_csv", "pvgis_tmy_json"):
        utc = (y.index - pd.Timedelta(minutes=30)).tz_convert("UTC")  # hh:00 UTC names the hour from hh:00
        stamps = [t.strftime("%Y%m%d:%H%M") for t in utc]
        if fmt == "pvgis_tmy_csv":
            cols = "time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP"
            lines = [f"Latitude (decimal degrees): {lat}", "Longitude (decimal degrees): 113.360",
                     "Elevation (m): 15.0", "month,year"] + [f"{m},2023" for m in range(1, 13)] + [cols]
            lines += [f"{s},{temp[i]},80,{ghi[i]},{dni[i]},{dhi[i]},400,{wind[i]},180,101000"
                      for i, s in enumerate(stamps)]
            path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
        else:
            def num(v):
                try:
                    return float(v)
                except ValueError:
                    return v
            rows = [{"time(UTC)": s, "T2m": num(temp[i]), "RH": 80.0, "G(h)": num(ghi[i]), "Gb(n)": num(dni[i]),
                     "Gd(h)": num(dhi[i]), "IR(h)": 400.0, "WS10m": num(wind[i]), "WD10m": 180.0, "SP": 101000.0}
                    for i, s in enumerate(stamps)]
            src = {"inputs": {"location": {"latitude": num(lat), "longitude": 113.36, "elevation": 15.0},
                              "meteo_data": {"radiation_db": "corpus"}},
                   "outputs": {"months_selected": [{"month": m, "year": 2023} for m in range(1, 13)],
                               "tmy_hourly": rows},
                   "meta": {"inputs": {"location": {"description": "Selected location"}}}}
            path.write_text(json.dumps(src), encoding="utf-8")
    elif fmt == "csv":
        head, _body = _weather_lines()
        head = [h if not h.startswith("# latitude_deg") else f"# latitude_deg: {lat}" for h in head]
        body = [f"{t.isoformat()},{ghi[i]},{dni[i]},{dhi[i]},{temp[i]},{wind[i]}" for i, t in enumerate(y.index)]
        path.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    else:
        raise ValueError(fmt)
    return path


_WEATHER_SUFFIX = {"epw": "epw", "tmy3": "csv", "pvgis_tmy_csv": "csv", "pvgis_tmy_json": "json", "csv": "csv"}
#: Hour of the year (row) edited by the weather corruptions: 12:30 on 1 June (local noon, sun up).
WEATHER_EDIT_ROW = 151 * 24 + 12


def _weather_case(fmt: str, corruption: str) -> Case:
    name = f"wx_{fmt}.{_WEATHER_SUFFIX[fmt]}"

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        p = d / name
        if corruption == "text-in-number":
            write_weather(fmt, p, text_at=WEATHER_EDIT_ROW)
        elif corruption == "bad-values":
            write_weather(fmt, p, bad_at=WEATHER_EDIT_ROW)
        elif corruption == "wrong-type-header":
            write_weather(fmt, p, lat="north")
        else:
            write_weather(fmt, p)
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption.startswith("truncated-"):
            _cut(p, int(corruption.split("-")[1]) / 100)
        elif corruption == "random-bytes":
            _noise(p)
        return _run("--buildings", str(b), "--weather", str(p))

    if corruption == "text-in-number" and not fmt.startswith("pvgis"):
        return Case(f"weather.{fmt}", corruption, "repair", name, build,
                    note="1 hours with gaps or impossible values filled")
    # PVGIS files come from the PVGIS API: a word among its numbers means the file was edited or
    # damaged, and pvlib's reader refuses it (an error, not a repair)
    if corruption == "bad-values":
        return Case(f"weather.{fmt}", corruption, "repair", name, build,
                    note="1 negative irradiance values set to 0")
    return Case(f"weather.{fmt}", corruption, "error", name, build)


WEATHER_CORRUPTIONS = ("empty", "truncated-10", "truncated-50", "truncated-90", "random-bytes", "text-in-number",
                       "bad-values", "wrong-type-header")


# --------------------------------------------------------------------------- pins

def _pins_case(corruption: str) -> Case:
    name = "pins.csv"

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        p = d / name
        rows = ["building_id,pin,reason", "B01,in,示范项目", "B02,out,屋顶维修", "B03,in,学校"]
        if corruption == "wrong-value":
            rows[2] = "B02,maybe,待定"
        elif corruption == "duplicate-ids":
            rows.append("B01,out,重复")
        elif corruption == "unknown-id":
            rows.append("B99,in,不存在")
        elif corruption == "empty-id":
            rows.append(",in,空")
        text = "\n".join(rows) + "\n"
        if corruption == "wrong-encoding":  # Excel's "Unicode Text" (UTF-16); its GBK CSV is read (test_plan.py)
            p.write_bytes(text.encode("utf-16"))
        else:
            p.write_text(text, encoding="utf-8")
        if corruption == "empty":
            p.write_bytes(b"")
        elif corruption == "truncated-in-row":
            raw = p.read_bytes()
            p.write_bytes(raw[: raw.index(b"B02,out") + 6])  # the copy stops inside a pin value ('ou')
        elif corruption == "random-bytes":
            _noise(p)
        return _run("--buildings", str(b), "--pins", str(p))

    if corruption == "unknown-id":
        return Case("pins.csv", corruption, "repair", name, build,
                    note="pin 'in' for building B99 ignored: the building is not among the input buildings")
    return Case("pins.csv", corruption, "error", name, build)


PIN_CORRUPTIONS = ("empty", "truncated-in-row", "random-bytes", "wrong-value", "duplicate-ids", "unknown-id",
                   "empty-id", "wrong-encoding")


# --------------------------------------------------------------------------- scenario and matrix TOML

_SCENARIO = ('[survey]\nname = "corpus-scenario"\n\n[roofs]\nedge_setback_m = 1.0\nobstacle_free_frac = 0.75\n'
             '\n[plan]\nas_of_year = 2026\n')
_MATRIX = ('name = "corpus"\n\n[matrix]\n"roofs.edge_setback_m" = [0.5, 1.0]\n'
           '"roofs.pitched_gcr" = [0.98]\n')


def _toml_case(kind: str, corruption: str) -> Case:
    name = "scenario.toml" if kind == "scenario" else "matrix.toml"
    text = _SCENARIO if kind == "scenario" else _MATRIX

    def build(d: Path) -> list[str]:
        b = _gpkg(base_frame(), d / "b.gpkg")
        t = text
        if corruption == "truncated-in-string":
            t = t[: t.index('"corpus') + 4]  # stops inside a quoted string
        elif corruption == "truncated-after-equals":
            t = t[: t.index("= ") + 2]
        elif corruption == "truncated-in-table-header":
            t = t[: t.index("[roofs") + 4] if kind == "scenario" else t[: t.index("[matrix") + 4]
        elif corruption == "wrong-type":
            t = t.replace("edge_setback_m = 1.0", 'edge_setback_m = "one metre"') if kind == "scenario" \
                else t.replace("[0.5, 1.0]", "0.5")
        elif corruption == "nan":
            t = t.replace("edge_setback_m = 1.0", "edge_setback_m = nan") if kind == "scenario" \
                else t.replace("[0.5, 1.0]", "[0.5, nan]")
        elif corruption == "inf":
            t = t.replace("obstacle_free_frac = 0.75", "obstacle_free_frac = inf") if kind == "scenario" \
                else t.replace("[0.5, 1.0]", "[0.5, inf]")
        elif corruption == "negative":
            t = t.replace("edge_setback_m = 1.0", "edge_setback_m = -1.0") if kind == "scenario" \
                else t.replace("[0.5, 1.0]", "[-0.5, 1.0]")
        elif corruption == "huge":
            t = t.replace("as_of_year = 2026", "as_of_year = 99999999999") if kind == "scenario" \
                else t.replace("[0.5, 1.0]", "[0.5, 1e300]")
        elif corruption == "duplicate-key":
            t = t + ("\n[roofs]\nedge_setback_m = 2.0\n" if kind == "scenario" else '\nname = "again"\n')
        elif corruption == "unknown-key":
            t = t.replace("edge_setback_m", "edge_setback") if kind == "scenario" else "base_file = \"x\"\n" + t
        elif corruption == "name-traversal":
            t = t.replace('"corpus-scenario"', '"../../escaped"') if kind == "scenario" \
                else t.replace('"corpus"', '"../escaped"')
        elif corruption == "name-absolute":
            t = t.replace('"corpus-scenario"', '"/tmp/escaped"') if kind == "scenario" \
                else t.replace('"corpus"', '"/tmp/escaped"')
        elif corruption == "name-nul":
            t = t.replace('"corpus-scenario"', '"a\\u0000b"') if kind == "scenario" \
                else t.replace('"corpus"', '"a\\u0000b"')
        elif corruption == "missing-base":
            t = 'base = "no_such_base.toml"\n' + t
        p = d / name
        if corruption == "wrong-encoding":  # saved in GBK by a Chinese editor (TOML is UTF-8)
            p.write_bytes(t.replace("corpus", "天河").encode("gbk"))
        elif corruption == "random-bytes":
            _noise(p)
        elif corruption == "empty":
            p.write_bytes(b"")
        else:
            p.write_text(t, encoding="utf-8")
        if kind == "scenario":
            return _run("--config", str(p), "--buildings", str(b))
        return ["batch", str(p)]

    return Case(kind, corruption, "error", name, build)


TOML_CORRUPTIONS = {
    "scenario": ("truncated-in-string", "truncated-after-equals", "truncated-in-table-header", "random-bytes",
                 "wrong-type", "nan", "inf", "negative", "huge", "duplicate-key", "unknown-key", "wrong-encoding",
                 "name-traversal", "name-absolute", "name-nul"),
    # an empty file is a scenario of every default (documented), so "empty" is not a corruption here
    "matrix": ("truncated-in-string", "truncated-after-equals", "truncated-in-table-header",
               "random-bytes", "wrong-type", "nan", "inf", "negative", "huge", "duplicate-key", "unknown-key",
               "wrong-encoding", "name-traversal", "name-absolute", "name-nul", "missing-base"),
}


# --------------------------------------------------------------------------- the generator

def matrix_cases() -> list[Case]:
    """Every case of the matrix, in a stable order."""
    cases: list[Case] = []
    for fmt in VECTOR_FORMATS:
        for corruption in ("empty", *(f"truncated-{int(f * 100)}" for f in TRUNCATE_AT), "random-bytes"):
            cases.append(_buildings_file_case(fmt, corruption))
    for fmt in ATTR_FORMATS:
        for corruption in ATTR_CORRUPTIONS:
            if _attr_applies(fmt, corruption):
                cases.append(_buildings_attr_case(fmt, corruption))
    cases += [_roofs_case(c) for c in ROOF_CORRUPTIONS]
    for kind in ("dsm", "dem", "canopy"):
        cases += [_raster_case(kind, c) for c in RASTER_CORRUPTIONS if _raster_applies(kind, c)]
    for kind, corruptions in LAYER_CORRUPTIONS.items():
        cases += [_layer_case(kind, c) for c in corruptions]
    for fmt in WEATHER_FORMATS:
        cases += [_weather_case(fmt, c) for c in WEATHER_CORRUPTIONS]
    cases += [_pins_case(c) for c in PIN_CORRUPTIONS]
    for kind, corruptions in TOML_CORRUPTIONS.items():
        cases += [_toml_case(kind, c) for c in corruptions]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "matrix case ids must be unique"
    return cases


def build_case(case: Case, folder: Path) -> list[str]:
    """Write ``case``'s inputs into ``folder`` (created) and return its command line."""
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return case.build(folder)
