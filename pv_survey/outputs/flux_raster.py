"""The roof irradiation raster: tiles' roof cells -> one scratch GeoTIFF -> a Cloud-Optimized GeoTIFF.

A run hands every tile's roof cells (:class:`pv_survey.flux.FluxCells`) to a
:class:`FluxRaster` as the tile finishes; they are written into a tiled scratch GeoTIFF in
the output folder under a temporary name (:mod:`pv_survey.outputs.atomic`: a killed run's
scratch is removed by the next run), so the driver holds one tile's cells at a time, never
the whole raster. When the outputs are written, the scratch is copied by GDAL's COG driver
(tiled 512 x 512, DEFLATE with the floating-point predictor, averaged overviews) into the
staged ``flux_annual.tif`` (and ``flux_monthly.tif``, 12 bands), each with a QGIS style
``flux_*.qml`` beside it, which QGIS loads with the raster.
"""

from __future__ import annotations

import math
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError
from .atomic import _remove_quietly, _temp_name, write_failure

__all__ = ["FluxRaster", "flux_qml", "ramp_range", "FLUX_COLOURS", "FLUX_FILES", "COG_OPTIONS"]

#: Sequential ramp, low to high irradiation (ColorBrewer YlOrRd, 9 classes; C. A. Brewer, colorbrewer2.org).
FLUX_COLOURS: tuple[str, ...] = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
                                 "#bd0026", "#800026")
#: Rounding of the ramp's ends. [kWh/m2] (project choice: round numbers in the legend)
RAMP_STEP_KWH_M2 = 50.0
#: Output name -> bands (1 = the year, 12 = the months).
FLUX_FILES: dict[str, int] = {"flux_annual.tif": 1, "flux_monthly.tif": 12}
#: GDAL COG driver options (GDAL "COG -- Cloud Optimized GeoTIFF generator" documentation): 512-pixel tiles,
#: DEFLATE with the floating-point predictor, overviews averaged (NaN cells ignored), halving down to one tile.
COG_OPTIONS: dict[str, str] = {"COMPRESS": "DEFLATE", "PREDICTOR": "YES", "BLOCKSIZE": "512",
                               "OVERVIEWS": "AUTO", "RESAMPLING": "AVERAGE", "BIGTIFF": "IF_SAFER"}
_SCRATCH_BLOCK = 256
#: Low end of the colour ramp: this percentile of the roof cells' yearly values, so a few cells in deep
#: shade do not wash out the rest (project choice); lower values take the ramp's first colour.
RAMP_LOW_PERCENTILE = 1.0
#: Bins of the histogram of yearly values kept for that percentile. [kWh/m2]
_HIST_EDGES = np.arange(0.0, 4000.0 + 10.0, 10.0)


def ramp_range(lo: float, hi: float) -> tuple[float, float]:
    """Ends of the colour ramp: the data's range widened to multiples of :data:`RAMP_STEP_KWH_M2`. [kWh/m2]"""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 2000.0  # no roof cell: a ramp over the plausible range of a year (kWh/m2)
    a = math.floor(lo / RAMP_STEP_KWH_M2) * RAMP_STEP_KWH_M2
    b = math.ceil(hi / RAMP_STEP_KWH_M2) * RAMP_STEP_KWH_M2
    return a, max(b, a + RAMP_STEP_KWH_M2)


def flux_qml(lo_kwh_m2: float, hi_kwh_m2: float, *, title: str = "") -> str:
    """QGIS style of a flux raster: a pseudocolour ramp (:data:`FLUX_COLOURS`) from ``lo`` to ``hi``, NaN clear.

    Values outside the range take the ramp's end colours (``clip="0"``).

    Written for QGIS 3.22 LTR (``singlebandpseudocolor`` renderer, interpolated colour ramp shader)
    and read unchanged by later 3.x releases.
    """
    n = len(FLUX_COLOURS)
    items = []
    for i, colour in enumerate(FLUX_COLOURS):
        v = lo_kwh_m2 + (hi_kwh_m2 - lo_kwh_m2) * i / (n - 1)
        items.append(f'          <item alpha="255" value="{v:.6g}" label="{v:.0f}" color="{colour}"/>')
    stops = ":".join(f"{i / (n - 1):.4g};{_rgba(c)}" for i, c in enumerate(FLUX_COLOURS[1:-1], start=1))
    return "\n".join([
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>",
        '<qgis version="3.22.0" styleCategories="AllStyleCategories" hasScaleBasedVisibilityFlag="0" '
        'maxScale="0" minScale="1e+08">',
        "  <layerTitle>" + _xml(title) + "</layerTitle>" if title else "  <!-- kWh/m2 -->",
        "  <pipe>",
        "    <provider>",
        '      <resampling enabled="false" maxOversampling="2" zoomedInResamplingMethod="nearestNeighbour" '
        'zoomedOutResamplingMethod="nearestNeighbour"/>',
        "    </provider>",
        f'    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" '
        f'classificationMin="{lo_kwh_m2:.6g}" classificationMax="{hi_kwh_m2:.6g}" nodataColor="">',
        "      <rasterTransparency/>",
        "      <minMaxOrigin>",
        "        <limits>None</limits>",
        "        <extent>WholeRaster</extent>",
        "        <statAccuracy>Estimated</statAccuracy>",
        "        <cumulativeCutLower>0.02</cumulativeCutLower>",
        "        <cumulativeCutUpper>0.98</cumulativeCutUpper>",
        "        <stdDevFactor>2</stdDevFactor>",
        "      </minMaxOrigin>",
        "      <rastershader>",
        f'        <colorrampshader colorRampType="INTERPOLATED" classificationMode="2" clip="0" '
        f'minimumValue="{lo_kwh_m2:.6g}" maximumValue="{hi_kwh_m2:.6g}" labelPrecision="0">',
        '          <colorramp type="gradient" name="[source]">',
        '            <Option type="Map">',
        f'              <Option type="QString" name="color1" value="{_rgba(FLUX_COLOURS[0])}"/>',
        f'              <Option type="QString" name="color2" value="{_rgba(FLUX_COLOURS[-1])}"/>',
        '              <Option type="QString" name="discrete" value="0"/>',
        '              <Option type="QString" name="rampType" value="gradient"/>',
        f'              <Option type="QString" name="stops" value="{stops}"/>',
        "            </Option>",
        "          </colorramp>",
        *items,
        "        </colorrampshader>",
        "      </rastershader>",
        "    </rasterrenderer>",
        '    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>',
        '    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeRed="255" colorizeGreen="128" '
        'colorizeBlue="128" colorizeStrength="100" invertColors="0"/>',
        '    <rasterresampler maxOversampling="2"/>',
        '    <resamplingStage>resamplingFilter</resamplingStage>',
        "  </pipe>",
        "  <blendMode>0</blendMode>",
        "</qgis>",
        "",
    ])


def _rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},255"


def _xml(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


class FluxRaster:
    """The run's flux raster(s), filled tile by tile into scratch GeoTIFFs in the output folder.

    Parameters
    ----------
    out_dir : path
        Output folder (exists; :func:`pv_survey.outputs.prepare_out_dir`).
    transform : affine.Affine
        Pixel -> CRS transform of the whole raster (:func:`pv_survey.flux.grid_window`).
    shape : tuple of int
        (rows, cols).
    crs : CRS-like
        The survey's metric CRS.
    monthly : bool
        Also the 12-band raster.
    """

    def __init__(self, out_dir: str | Path, *, transform: Any, shape: tuple[int, int], crs: Any,
                 monthly: bool = False) -> None:
        import rasterio

        self.out_dir = Path(out_dir)
        self.transform = transform
        self.shape = (int(shape[0]), int(shape[1]))
        self.crs = crs
        self.names = [n for n, b in FLUX_FILES.items() if b == 1 or monthly]
        self.scratch: dict[str, Path] = {}
        self.lo = math.inf
        self.hi = -math.inf
        self.cells = 0
        self.hist = np.zeros(_HIST_EDGES.size - 1, dtype=np.int64)
        # removed by close(); after a failed run when the object goes, at the latest at exit (a killed
        # run's are removed by the next run in the folder: atomic.remove_stale_temps)
        self._finalizer = weakref.finalize(self, _remove_all, self.scratch)
        try:
            for name in self.names:
                path = _temp_name(self.out_dir / name)
                self.scratch[name] = path
                with rasterio.open(path, "w", driver="GTiff", width=self.shape[1], height=self.shape[0],
                                   count=FLUX_FILES[name], dtype="float32", crs=crs, transform=transform,
                                   nodata=float("nan"), tiled=True, blockxsize=_SCRATCH_BLOCK,
                                   blockysize=_SCRATCH_BLOCK, BIGTIFF="IF_SAFER", SPARSE_OK="TRUE") as dst:
                    # SPARSE_OK: blocks never written read as nodata and take no space; band names and
                    # units go into the COG with the data (shown by QGIS and gdalinfo)
                    for b in range(1, dst.count + 1):
                        dst.set_band_unit(b, "kWh/m2")
                        dst.set_band_description(b, "year" if dst.count == 1 else f"month {b:02d}")
        except (OSError, rasterio.errors.RasterioError) as exc:
            self.close()
            raise OutputError(write_failure(self.out_dir / self.names[0], "writing", exc)) from exc

    def add(self, cells: Any) -> None:
        """Write one tile's roof cells (:class:`pv_survey.flux.FluxCells`) into the scratch raster(s).

        Where two tiles' windows give a value to the same cell (footprints of neighbouring tiles
        overlapping), the higher value stays, whatever order the tiles arrive in.
        """
        import rasterio
        from rasterio.windows import Window

        if cells is None or cells.row.size == 0:
            return
        res = self.transform.a
        col0 = int(round((cells.transform.c - self.transform.c) / res))
        row0 = int(round((self.transform.f - cells.transform.f) / res))
        r = cells.row.astype(np.int64) + row0
        c = cells.col.astype(np.int64) + col0
        inside = (r >= 0) & (c >= 0) & (r < self.shape[0]) & (c < self.shape[1])
        r, c = r[inside], c[inside]
        if r.size == 0:
            return
        annual = cells.annual_kwh_m2[inside]
        self.lo = min(self.lo, float(annual.min()))
        self.hi = max(self.hi, float(annual.max()))
        self.cells += int(r.size)
        self.hist += np.histogram(np.clip(annual, _HIST_EDGES[0], _HIST_EDGES[-1]), bins=_HIST_EDGES)[0]
        r0, c0 = int(r.min()), int(c.min())
        win = Window(c0, r0, int(c.max()) - c0 + 1, int(r.max()) - r0 + 1)
        for name in self.names:
            vals = annual[:, None] if FLUX_FILES[name] == 1 else cells.monthly_kwh_m2[inside]
            try:
                with rasterio.open(self.scratch[name], "r+") as dst:
                    for b in range(vals.shape[1]):  # band by band: one window of one band in memory
                        block = dst.read(b + 1, window=win)
                        block[r - r0, c - c0] = np.fmax(block[r - r0, c - c0], vals[:, b].astype(np.float32))
                        dst.write(block, b + 1, window=win)
            except (OSError, rasterio.errors.RasterioError) as exc:
                raise OutputError(write_failure(self.out_dir / name, "writing", exc)) from exc

    def write_into(self, staging: Any) -> None:
        """Copy each scratch raster as a Cloud-Optimized GeoTIFF into ``staging`` with its ``.qml`` style."""
        import rasterio
        from rasterio.shutil import copy as rio_copy

        lo, hi = ramp_range(self.ramp_low(), self.hi)
        for name in self.names:
            tif = staging.temp(name)
            try:
                with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
                    rio_copy(str(self.scratch[name]), str(tif), driver="COG", **COG_OPTIONS)
            except (OSError, rasterio.errors.RasterioError) as exc:
                raise OutputError(write_failure(self.out_dir / name, "writing", exc)) from exc
            months = FLUX_FILES[name] > 1
            title = ("屋面月辐照量 / Roof irradiation per month (kWh/m2), band 1 = January" if months else
                     "屋面年辐照量 / Roof irradiation per year (kWh/m2)")
            # a month gets about a twelfth of the year: the monthly raster's ramp is the year's / 12
            m_lo, m_hi = (ramp_range(self.ramp_low() / 12.0, self.hi / 12.0) if months and self.cells else (lo, hi))
            qml = flux_qml(m_lo, m_hi, title=title)
            qml_name = Path(name).with_suffix(".qml").name
            try:
                staging.temp(qml_name).write_bytes(qml.encode("utf-8"))
            except OSError as exc:
                raise OutputError(write_failure(self.out_dir / qml_name, "writing", exc)) from exc

    def ramp_low(self) -> float:
        """:data:`RAMP_LOW_PERCENTILE` of the yearly values written so far (lower edge of its bin). [kWh/m2]"""
        if not self.cells:
            return math.nan
        k = int(np.searchsorted(np.cumsum(self.hist), self.cells * RAMP_LOW_PERCENTILE / 100.0))
        return max(self.lo, float(_HIST_EDGES[min(k, _HIST_EDGES.size - 1)]))

    def close(self) -> None:
        """Remove the scratch raster(s)."""
        self._finalizer()


def _remove_all(scratch: dict) -> None:
    for path in scratch.values():
        _remove_quietly(path)
