"""The roof irradiation raster: per-cell irradiation against the energy stage, the grid, the COG, QGIS.

Hand-made scenes (boxes of known height on flat ground, :func:`pv_survey.shading.dsm_from_buildings`)
and independent expectations: the energy engine's own ``poa_kwh_m2`` for the same plane and
horizon (:func:`pv_survey.energy.simulate_roofs`), horizons written down in closed form for a long
wall, a plane's slope and aspect by construction, the TIFF structure read byte by byte.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from pv_survey import energy, flux, shading
from pv_survey.config import Config, FluxConfig
from pv_survey.errors import InputError
from pv_survey.weather import default_weather

CRS = "EPSG:4547"
#: A place inside the demo district (EPSG:4547 metres), so the weather year's location fits.
X0, Y0 = 435_000.0, 2_563_000.0


@pytest.fixture(scope="module")
def wx():
    return default_weather()


def _planes(geoms, tilt, az, height, ids):
    return gpd.GeoDataFrame({"building_id": ids, "tilt_deg": tilt, "azimuth_deg": az, "height_m": height},
                            geometry=list(geoms), crs=CRS)


def _open_poa(wx, tilt, az, n_sectors=FluxConfig.n_sectors):
    """The energy stage's plane-of-array irradiation of an unshaded plane, as a run computes it: with
    an all-zero horizon, whose sky view is the plane's own (1 to within 1e-4, the midpoint rule of
    plane_sky_view_frac; without any horizon the engine takes exactly 1). [kWh/m2]"""
    zero = np.zeros((1, n_sectors))
    poa = float(energy.simulate_roofs(wx, [tilt], [az], [1.0], mount="flush", horizon_deg=zero)["poa_kwh_m2"].iloc[0])
    no_horizon = float(energy.simulate_roofs(wx, [tilt], [az], [1.0], mount="flush")["poa_kwh_m2"].iloc[0])
    assert poa == pytest.approx(no_horizon, rel=1e-4)
    return poa


# --------------------------------------------------------------------------- irradiation per cell


def test_plane_irradiation_equals_the_engine_poa(wx):
    # random planes behind random horizons (1 and 3 quantile profiles): the grouped look-up gives the
    # engine's poa_kwh_m2 (the same hours summed in another order)
    rng = np.random.default_rng(7)
    n = 120
    tilt = rng.uniform(0, 70, n)
    tilt[:15] = 0.0
    tilt[15:20] = 25.0  # several cells share an orientation group
    az = rng.uniform(0, 360, n)
    az[15:20] = 180.0
    for hz in (rng.uniform(0, 45, (n, 36)).astype(np.float32),
               np.sort(rng.uniform(0, 45, (n, 3, 72)), axis=1).astype(np.float32)):
        ref = energy.simulate_roofs(wx, tilt, az, np.ones(n), mount="flush", horizon_deg=hz)["poa_kwh_m2"]
        got = energy.plane_irradiation_kwh_m2(wx, tilt, az, horizon_deg=hz)
        assert got.shape == (n, 12)
        np.testing.assert_allclose(got.sum(axis=1), ref.to_numpy(), rtol=1e-9)


def test_plane_irradiation_months_add_up_and_follow_the_sun(wx):
    got = energy.plane_irradiation_kwh_m2(wx, [0.0], [180.0], horizon_deg=np.zeros((1, 36)))[0]
    # Guangzhou (23 N): a horizontal plane gets more in July than in January (ghi of the weather year)
    ghi = wx.data["ghi"]
    monthly_ghi = ghi.groupby(ghi.index.month).sum().to_numpy() / 1000.0
    # on a horizontal open plane the irradiance in the plane is the GHI (Perez: no horizon term at tilt 0,
    # beam dni cos z + circumsolar + isotropic = ghi up to the Perez split, within 2 %)
    np.testing.assert_allclose(got, monthly_ghi, rtol=0.02)


def test_plane_irradiation_rejects_bad_planes(wx):
    with pytest.raises(InputError, match="tilt_deg"):
        energy.plane_irradiation_kwh_m2(wx, [95.0], [180.0], horizon_deg=np.zeros((1, 36)))
    with pytest.raises(InputError, match="NaN"):
        energy.plane_irradiation_kwh_m2(wx, [10.0], [180.0], horizon_deg=np.full((1, 36), np.nan))


# --------------------------------------------------------------------------- roof cells


def test_open_roof_cells_equal_the_energy_poa(wx):
    # a lone 20 x 20 m flat roof and a lone south-facing 30 deg plane: nothing shades them (their own
    # building is ignored, as in the roof assessment), so every cell gets the engine's open POA
    flat = shapely.box(X0, Y0, X0 + 20, Y0 + 20)
    pitched = shapely.box(X0 + 400, Y0, X0 + 416, Y0 + 10)  # beyond the 300 m search radius of the other
    dsm = shading.dsm_from_buildings([flat, pitched], [12.0, 9.0], resolution_m=1.0, pad_m=300.0, crs=CRS)
    planes = _planes([flat, pitched], [0.0, 30.0], [180.0, 180.0], [12.0, 9.0], ["A", "B"])
    cells = flux.roof_flux(dsm, planes, wx, owner_of=pd.Series([0, 1], index=["A", "B"]))
    assert cells.row.size == 20 * 20 + 16 * 10  # one cell per square metre of roof
    x, _ = cells.transform @ (cells.col + 0.5, cells.row + 0.5)
    on_flat = np.asarray(x) < X0 + 100
    np.testing.assert_allclose(cells.annual_kwh_m2[on_flat], _open_poa(wx, 0.0, 180.0), rtol=1e-6)
    np.testing.assert_allclose(cells.annual_kwh_m2[~on_flat], _open_poa(wx, 30.0, 180.0), rtol=1e-6)


def _wall_horizon(dist_m: float, rise_m: float, n_sectors: int) -> np.ndarray:
    """Horizon of a point dist_m north of an infinitely long east-west wall rise_m above it. [deg]

    Along azimuth phi the ray meets the wall's face after dist / |cos(phi - 180)| (sectors facing
    south only): h = atan(rise |cos(phi - 180)| / dist); 0 elsewhere.
    """
    phi = np.radians(np.arange(n_sectors) * 360.0 / n_sectors)
    c = -np.cos(phi)  # cos(phi - 180 deg)
    return np.where(c > 1e-9, np.degrees(np.arctan(rise_m * np.clip(c, 0, None) / dist_m)), 0.0)


def test_cell_behind_a_wall_equals_the_engine_with_its_closed_form_horizon(wx):
    # a low flat roof (3 m) 8 m north of a 30 m high, 600 m long east-west wall: the horizon of the
    # cell at 8.5 m from the wall's face is atan(27 |cos| / 8.5) towards the south (within 128 cells
    # the ray march is exact for the rasterised prisms)
    roof = shapely.box(X0, Y0 + 10, X0 + 20, Y0 + 30)
    wall = shapely.box(X0 - 290, Y0, X0 + 310, Y0 + 2)
    dsm = shading.dsm_from_buildings([roof, wall], [3.0, 30.0], resolution_m=1.0, pad_m=300.0, crs=CRS)
    planes = _planes([roof], [0.0], [180.0], [3.0], ["R"])
    n_sectors = FluxConfig.n_sectors
    cells = flux.roof_flux(dsm, planes, wx, owner_of=pd.Series([0, 1], index=["R", "W"]), n_sectors=n_sectors)
    x, y = cells.transform @ (cells.col + 0.5, cells.row + 0.5)
    x, y = np.asarray(x), np.asarray(y)
    for dist in (8.5, 14.5, 25.5):
        i = int(np.flatnonzero((x == X0 + 10.5) & (y == Y0 + 2 + dist))[0])
        hz = _wall_horizon(dist, 27.0, n_sectors)
        want = energy.simulate_roofs(wx, [0.0], [180.0], [1.0], mount="flush", horizon_deg=hz[None, :])
        want_kwh_m2 = float(want["poa_kwh_m2"].iloc[0])
        assert cells.annual_kwh_m2[i] == pytest.approx(want_kwh_m2, rel=1e-4)
        assert want_kwh_m2 < 0.9 * _open_poa(wx, 0.0, 180.0)  # the wall matters
    # farther from the wall, more light
    col_cells = np.flatnonzero(x == X0 + 10.5)
    by_y = col_cells[np.argsort(y[col_cells])]
    assert np.all(np.diff(cells.annual_kwh_m2[by_y]) >= 0)


def test_dsm_slope_aspect_of_a_tilted_plane():
    # z = 0.5 * (northing) rising to the north: slope atan(0.5), facing south (downhill)
    rows, cols = 20, 30
    t = Affine(1.0, 0.0, X0, 0.0, -1.0, Y0 + rows)
    yy = (rows - 1 - np.arange(rows) + 0.5)[:, None] * np.ones((1, cols))
    d = shading.Dsm((10 + 0.5 * yy).astype(np.float32), np.full((rows, cols), -1), t, CRS)
    x = X0 + np.array([0.5, 10.5, 29.5])
    y = Y0 + np.array([0.5, 10.5, 19.5])  # a corner, the middle, the other corner: the DSM's edges handled
    tilt, az = flux.dsm_slope_aspect(d, x, y)
    np.testing.assert_allclose(tilt, math.degrees(math.atan(0.5)), rtol=1e-6)
    np.testing.assert_allclose(az, 180.0, atol=1e-6)
    # the same plane rising to the west faces east (90)
    xx = (cols - 1 - np.arange(cols) + 0.5)[None, :] * np.ones((rows, 1))
    d2 = shading.Dsm((0.25 * xx).astype(np.float32), np.full((rows, cols), -1), t, CRS)
    tilt, az = flux.dsm_slope_aspect(d2, x, y)
    np.testing.assert_allclose(tilt, math.degrees(math.atan(0.25)), rtol=1e-6)
    np.testing.assert_allclose(az, 90.0, atol=1e-6)


def test_cells_from_a_dsm_file_take_its_slope(wx):
    # a DSM "read from file": a lone mono-pitch roof rising 0.5 m per metre to the north (26.57 deg,
    # facing south) on flat ground, its footprint in the owner raster; every cell gets that plane's open irradiation
    rows, cols = 700, 700
    t = Affine(1.0, 0.0, X0 - 340, 0.0, -1.0, Y0 + 360)
    h = np.zeros((rows, cols), dtype=np.float32)
    r0, c0 = 340, 340  # the roof: 20 x 20 cells
    yy = (19 - np.arange(20))[:, None] * np.ones((1, 20))
    h[r0:r0 + 20, c0:c0 + 20] = 10.0 + 0.5 * yy
    d = shading.Dsm(h, np.full((rows, cols), -1), t, CRS)
    d = shading.assign_owners(d, [shapely.box(*(t @ (c0, r0 + 20)), *(t @ (c0 + 20, r0)))])
    x0, y1 = t @ (c0, r0)
    roof = shapely.box(x0, y1 - 20, x0 + 20, y1)
    tilt, az = flux.dsm_slope_aspect(d, x0 + np.array([0.5, 10.5, 19.5]), y1 - np.array([0.5, 10.5, 19.5]))
    # the roof's corner cells too (their wall's cliff is not read as slope)
    np.testing.assert_allclose(tilt, math.degrees(math.atan(0.5)), rtol=1e-6)
    np.testing.assert_allclose(az, 180.0, atol=1e-6)
    cells = flux.roof_flux(d, _planes([roof], [0.0], [180.0], [10.0], ["A"]), wx, from_dsm=True)
    assert cells.row.size == 400
    tilt_q = round(math.degrees(math.atan(0.5)) / flux.DSM_TILT_STEP_DEG) * flux.DSM_TILT_STEP_DEG
    # nothing stands above a cell's own plane in front of it: the open plane's POA on every cell
    np.testing.assert_allclose(cells.annual_kwh_m2, _open_poa(wx, tilt_q, 180.0), rtol=2e-3)


# --------------------------------------------------------------------------- the grid


def test_raster_aligns_with_the_dsm_grid_and_is_nan_off_roofs(wx):
    rng = np.random.default_rng(3)
    boxes = [shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + d)
             for x, y, w, d in zip(rng.uniform(0, 200, 6).round(1), rng.uniform(0, 200, 6).round(1),
                                   rng.uniform(8, 30, 6), rng.uniform(8, 30, 6))]
    heights = rng.uniform(6, 40, 6)
    dsm = shading.dsm_from_buildings(boxes, heights, resolution_m=1.0, pad_m=300.0, crs=CRS)
    planes = _planes(boxes, np.zeros(6), np.full(6, 180.0), heights, list("abcdef"))
    cells = flux.roof_flux(dsm, planes, wx, owner_of=pd.Series(np.arange(6), index=list("abcdef")))
    t, d = cells.transform, dsm.transform
    assert (t.a, t.e) == (d.a, d.e)
    col_off, row_off = (t.c - d.c) / d.a, (d.f - t.f) / d.a
    assert col_off == int(col_off) and row_off == int(row_off)  # the same lattice of cells
    arr = flux.flux_array(cells)[0]
    owner = dsm.owner[int(row_off):int(row_off) + arr.shape[0], int(col_off):int(col_off) + arr.shape[1]]
    assert arr.shape == owner.shape
    np.testing.assert_array_equal(np.isfinite(arr), owner >= 0)  # a value on every roof cell, NaN elsewhere
    assert np.nanmin(arr) > 0
    monthly = flux.flux_array(cells, monthly=True)
    assert monthly.shape == (12, *arr.shape)
    np.testing.assert_allclose(np.nansum(monthly, axis=0)[owner >= 0], arr[owner >= 0], rtol=1e-5)


def test_grid_window_snaps_to_multiples_of_the_cell():
    t, shape = flux.grid_window((100.3, 200.7, 110.2, 205.1), 0.5)
    assert (t.c, t.f, t.a, t.e) == (100.0, 205.5, 0.5, -0.5)
    assert shape == (10, 21)
    with pytest.raises(InputError, match="resolution_m"):
        flux.grid_window((0, 0, 1, 1), 0.0)


# --------------------------------------------------------------------------- a run: COG, style, QGIS


def _ifd_offsets_and_first_tile(path: Path) -> tuple[list[int], int, bytes]:
    """Offsets of every IFD in file order, the smallest tile data offset, and the bytes after the header.

    Classic TIFF and BigTIFF, little-endian (what GDAL writes on x86), read per the TIFF 6.0 and
    BigTIFF specifications: tag 324 TileOffsets.
    """
    data = path.read_bytes()
    assert data[:2] == b"II"
    big = struct.unpack_from("<H", data, 2)[0] == 43
    if big:
        off, head = struct.unpack_from("<Q", data, 8)[0], 16
        n_fmt, n_size, ent, val_fmt, val_size = "<Q", 8, 20, "<Q", 8
    else:
        off, head = struct.unpack_from("<I", data, 4)[0], 8
        n_fmt, n_size, ent, val_fmt, val_size = "<H", 2, 12, "<I", 4
    types = {3: ("<H", 2), 4: ("<I", 4), 16: ("<Q", 8)}
    offsets, first_tile = [], None
    while off:
        offsets.append(off)
        n = struct.unpack_from(n_fmt, data, off)[0]
        for k in range(n):
            e = off + n_size + k * ent
            tag, typ = struct.unpack_from("<HH", data, e)
            count = struct.unpack_from(val_fmt, data, e + 4)[0]
            if tag == 324:
                fmt, size = types[typ]
                where = e + 4 + val_size
                if count * size > val_size:
                    where = struct.unpack_from(val_fmt, data, where)[0]
                vals = [struct.unpack_from(fmt, data, where + i * size)[0] for i in range(count)]
                vals = [v for v in vals if v]  # 0 = a sparse (empty) tile
                if vals:
                    first_tile = min(vals) if first_tile is None else min(first_tile, min(vals))
        off = struct.unpack_from(n_fmt if big else "<I", data, off + n_size + n * ent)[0]
    return offsets, first_tile, data[head:head + 200]


@pytest.fixture(scope="module")
def small_district(tmp_path_factory):
    """The 80 demo buildings nearest the district's median building, as a GeoPackage."""
    from pv_survey.pipeline import DEFAULT_BUILDINGS

    d = tmp_path_factory.mktemp("flux")
    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs(CRS).geometry.centroid
    dist = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    b[dist <= np.sort(dist.to_numpy())[79]].to_file(d / "b.gpkg", layer="buildings")
    return Config().replace(inputs={"buildings": str(d / "b.gpkg")}, survey={"name": "flux"},
                            flux={"enabled": True, "monthly": True})


@pytest.fixture(scope="module")
def flux_run(small_district, tmp_path_factory):
    from pv_survey.pipeline import run_survey

    out = tmp_path_factory.mktemp("fluxrun") / "run"
    res = run_survey(small_district, out_dir=out)
    return out, res


@pytest.mark.slow
def test_run_writes_a_cloud_optimized_geotiff(flux_run, small_district):
    out, res = flux_run
    tif = out / "flux_annual.tif"
    with rasterio.open(tif) as src:
        assert src.crs == rasterio.crs.CRS.from_user_input(small_district.survey.metric_crs)
        assert src.res == (1.0, 1.0) and src.count == 1 and src.dtypes[0] == "float32"
        assert src.transform.c % 1.0 == 0 and src.transform.f % 1.0 == 0  # on the DSM's lattice
        assert math.isnan(src.nodata)
        assert src.profile["tiled"] and src.block_shapes[0] == (512, 512)
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        overviews = src.overviews(1)
        assert overviews  # the raster is larger than one tile: overviews present
        assert src.units == ("kWh/m2",)
        a = src.read(1)
    # COG layout as GDAL's validate_cloud_optimized_geotiff.py checks it: the ghost header, every IFD
    # (full resolution first, then the overviews) before any tile's data
    ifds, first_tile, head = _ifd_offsets_and_first_tile(tif)
    assert b"LAYOUT=IFDS_BEFORE_DATA" in head
    assert ifds == sorted(ifds) and len(ifds) == 1 + len(overviews)
    assert max(ifds) < first_tile
    # values on roof cells only, the plausible range of a year in Guangzhou
    roofs_area_m2 = res.roofs.geometry.area.sum()
    assert np.isfinite(a).sum() == pytest.approx(roofs_area_m2, rel=0.05)
    assert 100 < np.nanmin(a) and np.nanmax(a) < 1700
    with rasterio.open(out / "flux_monthly.tif") as src:
        m = src.read()
    assert m.shape[0] == 12
    np.testing.assert_allclose(np.nansum(m, axis=0)[np.isfinite(a)], a[np.isfinite(a)], rtol=1e-5)
    # the styles beside the rasters, listed in the manifest with every other file
    for name in ("flux_annual.qml", "flux_monthly.qml"):
        text = (out / name).read_text(encoding="utf-8")
        assert 'type="singlebandpseudocolor"' in text
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {"flux_annual.tif", "flux_annual.qml"} <= set(json.dumps(manifest["outputs"]).split('"'))
    assert not list(out.glob(".*tmp-*"))  # the scratch raster is gone
    assert any("flux raster" in n for n in res.summary["notes"])


@pytest.mark.slow
def test_tiled_flux_equals_one_piece(flux_run, small_district, tmp_path):
    from pv_survey.pipeline import run_survey

    out, _ = flux_run
    tiled = tmp_path / "tiled"
    # flux=True of the Python API turns the raster on as [flux] enabled does
    run_survey(small_district.replace(flux={"enabled": False, "monthly": False}), out_dir=tiled, tile_size_m=150.0,
               flux=True)
    with rasterio.open(out / "flux_annual.tif") as a, rasterio.open(tiled / "flux_annual.tif") as b:
        assert a.transform == b.transform and a.shape == b.shape
        np.testing.assert_array_equal(a.read(1), b.read(1))
    assert not (tiled / "flux_monthly.tif").exists()


def test_flux_qml_ramp_ends_are_round():
    from pv_survey.outputs.flux_raster import FLUX_COLOURS, flux_qml, ramp_range

    assert ramp_range(912.3, 1533.0) == (900.0, 1550.0)
    text = flux_qml(900.0, 1550.0)
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.split("\n", 1)[1])
    items = root.findall(".//colorrampshader/item")
    assert [i.get("color") for i in items] == list(FLUX_COLOURS)
    assert float(items[0].get("value")) == 900.0 and float(items[-1].get("value")) == 1550.0


from test_outputs_viewers import SYSTEM_PYTHON, _has_pyqgis  # noqa: E402 (one PyQGIS probe)


_QGIS_SCRIPT = r"""
import json, os, sys
from qgis.core import QgsApplication, QgsRasterLayer, QgsMapSettings, QgsMapRendererParallelJob
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False)
app.initQgis()
lay = QgsRasterLayer(sys.argv[1], "flux")
out = {"valid": lay.isValid(), "crs": lay.crs().authid()}
r = lay.renderer()
out["renderer"] = r.type() if r else None
shader = r.shader().rasterShaderFunction() if r else None
out["items"] = [[i.value, i.color.name()] for i in shader.colorRampItemList()] if shader else []
# render the layer at its own resolution and read the colour of two pixels
ext = lay.extent()
ms = QgsMapSettings()
ms.setLayers([lay])
ms.setDestinationCrs(lay.crs())
ms.setExtent(ext)
ms.setOutputSize(QSize(lay.width(), lay.height()))
ms.setBackgroundColor(QColor(0, 0, 0, 0))
job = QgsMapRendererParallelJob(ms)
job.start()
job.waitForFinished()
img = job.renderedImage()
px = []
for col, row in json.loads(sys.argv[2]):
    c = QColor(img.pixel(col, row))
    px.append([c.red(), c.green(), c.blue(), QColor.fromRgba(img.pixel(col, row)).alpha()])
out["pixels"] = px
print(json.dumps(out))
sys.stdout.flush()
# leave without QgsApplication.exitQgis(): QGIS 3.22 may crash tearing down layers at exit
os._exit(0)
"""


@pytest.mark.slow
def test_flux_raster_opens_styled_in_qgis(flux_run, tmp_path):
    ok, why = _has_pyqgis()
    if not ok:
        pytest.skip(why)
    from pv_survey.outputs.flux_raster import FLUX_COLOURS

    out, _ = flux_run
    tif = out / "flux_annual.tif"
    with rasterio.open(tif) as src:
        a = src.read(1)
    rows, cols = np.nonzero(np.isfinite(a))
    hot = int(np.argmax(a[rows, cols]))
    off = np.argwhere(~np.isfinite(a))[0]
    probe = [[int(cols[hot]), int(rows[hot])], [int(off[1]), int(off[0])]]
    script = tmp_path / "q.py"
    script.write_text(_QGIS_SCRIPT, encoding="utf-8")
    r = subprocess.run([SYSTEM_PYTHON, str(script), str(tif), json.dumps(probe)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["valid"] and got["crs"] == "EPSG:4547"
    assert got["renderer"] == "singlebandpseudocolor"  # flux_annual.qml loaded as the default style
    assert [c for _, c in got["items"]] == list(FLUX_COLOURS)
    # the brightest roof cell takes one of the ramp's top colours; a cell off the roofs stays clear
    top = [tuple(int(FLUX_COLOURS[k][i:i + 2], 16) for i in (1, 3, 5)) for k in (-2, -1)]
    hot_px = got["pixels"][0]
    assert hot_px[3] == 255
    assert min(sum(abs(a_ - b_) for a_, b_ in zip(hot_px[:3], c)) for c in top) < 120
    assert got["pixels"][1][3] == 0


def test_cli_flux_options_set_the_flux_section(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from pv_survey import pipeline
    from pv_survey.cli import _register, cli

    seen = {}

    class Stop(Exception):
        pass

    def fake_run_survey(cfg, **kwargs):
        seen["cfg"] = cfg
        raise Stop

    monkeypatch.setattr(pipeline, "run_survey", fake_run_survey)
    _register()
    r = CliRunner().invoke(cli, ["-q", "run", "--flux", "--flux-resolution-m", "2", "--flux-monthly",
                                 "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, Stop), r.output
    assert seen["cfg"].flux == FluxConfig(enabled=True, resolution_m=2.0, monthly=True)
    r = CliRunner().invoke(cli, ["-q", "run", "--out", str(tmp_path / "o")])
    assert seen["cfg"].flux == FluxConfig()  # off unless asked for


def test_flux_raster_puts_tile_windows_in_place(tmp_path):
    # two tiles' windows on one 1 m raster, overlapping in one cell: each value lands at its own
    # coordinates, the overlap keeps the higher value whatever the order, the rest stays NaN
    from pv_survey.outputs.atomic import Staging
    from pv_survey.outputs.flux_raster import FluxRaster

    t, shape = flux.grid_window((X0, Y0, X0 + 10, Y0 + 8), 1.0)
    raster = FluxRaster(tmp_path, transform=t, shape=shape, crs=CRS, monthly=True)
    months = np.full((3, 12), 100.0, dtype=np.float32)
    a = flux.FluxCells(Affine(1.0, 0.0, X0 + 2, 0.0, -1.0, Y0 + 8), (2, 3), np.array([0, 1, 1], np.int32),
                       np.array([0, 1, 2], np.int32), months)  # cells (x 2.5, y 7.5), (3.5, 6.5), (4.5, 6.5)
    b = flux.FluxCells(Affine(1.0, 0.0, X0 + 4, 0.0, -1.0, Y0 + 7), (1, 1), np.array([0], np.int32),
                       np.array([0], np.int32), months[:1] * 2)  # cell (4.5, 6.5) again, higher
    raster.add(b)
    raster.add(a)
    with Staging(tmp_path) as st:
        raster.write_into(st)
        paths = st.commit()
    raster.close()
    with rasterio.open(paths["flux_annual.tif"]) as src:
        assert src.transform == t and src.shape == shape
        year = src.read(1)
    with rasterio.open(paths["flux_monthly.tif"]) as src:
        assert src.count == 12
        jan = src.read(1)
    want = np.full(shape, np.nan, dtype=np.float32)
    want[0, 2] = want[1, 3] = 1200.0
    want[1, 4] = 2400.0
    np.testing.assert_array_equal(year, want)
    np.testing.assert_array_equal(jan, want / 12)
    qml = paths["flux_annual.qml"].read_text(encoding="utf-8")
    assert 'minimumValue="1200"' in qml and 'maximumValue="2400"' in qml
    assert not list(tmp_path.glob(".*tmp-*"))


def test_coarser_flux_grid_and_planes_without_orientation(wx):
    # 2 m cells over a lone 20 x 20 m flat roof: 100 cells, each the open POA; a plane with no tilt
    # gets no cell instead of failing the run
    flat = shapely.box(X0, Y0, X0 + 20, Y0 + 20)
    other = shapely.box(X0 + 40, Y0, X0 + 50, Y0 + 10)
    dsm = shading.dsm_from_buildings([flat, other], [12.0, 5.0], resolution_m=1.0, pad_m=300.0, crs=CRS)
    planes = _planes([flat, other], [0.0, np.nan], [180.0, 180.0], [12.0, 5.0], ["A", "B"])
    cells = flux.roof_flux(dsm, planes, wx, resolution_m=2.0, owner_of=pd.Series([0, 1], index=["A", "B"]))
    assert cells.row.size == 100 and cells.transform.a == 2.0
    np.testing.assert_allclose(cells.annual_kwh_m2, _open_poa(wx, 0.0, 180.0), rtol=1e-6)


def test_scratch_raster_is_a_temporary_file_of_the_run(tmp_path):
    # the scratch GeoTIFFs carry the run's temporary names: a killed run's are removed by the next
    # run (atomic.remove_stale_temps), and they never count as foreign files in the output folder
    from pv_survey.outputs.atomic import _TEMP_RE, other_files
    from pv_survey.outputs.flux_raster import FluxRaster

    t, shape = flux.grid_window((X0, Y0, X0 + 10, Y0 + 8), 1.0)
    raster = FluxRaster(tmp_path, transform=t, shape=shape, crs=CRS, monthly=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(_TEMP_RE.match(n) for n in names)
    assert str(os.getpid()) in names[0]
    assert other_files(tmp_path) == []
    raster.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_failed_run_leaves_no_scratch_raster(small_district, tmp_path, monkeypatch):
    # the run fails in a tile after the scratch raster was made, in a folder that existed before
    # (so the run lock does not remove the folder): no temporary raster is left behind
    import gc

    from pv_survey.pipeline import run_survey

    seen = []

    def boom(*args, **kwargs):
        seen.extend(p.name for p in out.iterdir())
        raise InputError("no flux today")

    monkeypatch.setattr(flux, "roof_flux", boom)
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="no flux today"):
        run_survey(small_district, out_dir=out, overwrite=True)
    assert any(n.startswith(".flux_annual.tmp-") for n in seen)  # the scratch was there when it failed
    gc.collect()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
