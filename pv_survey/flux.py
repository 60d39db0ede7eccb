"""Roof irradiation raster: kWh/m2 a year in the plane of every roof cell (issue 19 item 4).

Assessment stage (config -> inputs -> roofs -> shading -> weather and energy -> **assessment**
-> plan -> outputs). The roof planes of a tile are rasterised on a grid aligned on multiples of
the cell size (:func:`grid_window`; at ``shading.dsm_resolution_m`` these are the DSM's own cells);
every cell whose centre lies on a roof plane gets

1. its **orientation**: the tilt and azimuth of its roof plane when the DSM is rasterised from
   footprints and planes, or the slope and aspect of the DSM under it (Horn 1981) when the DSM is
   a surface model read from file (:func:`dsm_slope_aspect`);
2. its **horizon** from the cell centre, ray-marched through the DSM in ``flux.n_sectors``
   azimuth sectors (:func:`pv_survey.shading.iter_horizons_at_points`, chunk by chunk with one
   max-pyramid), at the plane's height ignoring the cell's own building like the roof assessment
   (rasterised DSM), or at the DSM's own height plus one cell's rise along the slope with nothing
   ignored (DSM file: a plant room on the same roof shades it, the roof's own next cell does not);
3. its **irradiation in its plane**: the plane's sky view above that horizon and the open share
   of the horizon band (:func:`pv_survey.shading.plane_sky_view_frac`), then the energy stage's
   irradiance, month by month (:func:`pv_survey.energy.plane_irradiation_kwh_m2`: the
   ``poa_kwh_m2`` of :func:`pv_survey.energy.simulate_roofs` for that plane and horizon).

:func:`roof_flux` does this for one tile and returns the roof cells sparse (:class:`FluxCells`);
the run writes them window by window into one raster (:mod:`pv_survey.outputs.flux_raster`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from affine import Affine

from .config import EnergyConfig, FluxConfig, ShadingConfig
from .errors import InputError

__all__ = ["FluxCells", "grid_window", "rasterise_planes", "dsm_slope_aspect", "cell_irradiation",
           "roof_flux", "flux_array", "FLUX_CHUNK_CELLS", "DSM_TILT_STEP_DEG", "DSM_AZIMUTH_STEP_DEG"]

#: Roof cells per chunk of horizons and irradiation: a chunk's horizons (36 sectors, float32) are
#: ~9 MB, its monthly irradiation ~6 MB (project choice; results do not depend on it).
FLUX_CHUNK_CELLS = 65_536
#: Tilt step of a DSM's slopes: cells are grouped by orientation for the irradiation, and a DSM's
#: slope is a continuous value; 1 deg changes a plane's irradiation by < 0.5 % (cos of the incidence
#: angle, project choice).
DSM_TILT_STEP_DEG = 1.0
#: Azimuth step of a DSM's aspects, as the tilt step above (5 deg, the roofs' horizon sector width;
#: project choice).
DSM_AZIMUTH_STEP_DEG = 5.0


@dataclass
class FluxCells:
    """Roof cells of a window of the flux grid and their irradiation.

    Attributes
    ----------
    transform : affine.Affine
        Pixel -> CRS transform of the window (north-up, on the lattice of ``resolution_m``).
    shape : tuple of int
        (rows, cols) of the window.
    row, col : numpy.ndarray
        int32 position of each roof cell in the window.
    monthly_kwh_m2 : numpy.ndarray
        float32 (n_cells, 12): irradiation in the cell's plane, January..December; (n_cells, 1), the
        year, after :meth:`year_only`. [kWh/m2]
    """

    transform: Affine
    shape: tuple[int, int]
    row: np.ndarray
    col: np.ndarray
    monthly_kwh_m2: np.ndarray

    @property
    def annual_kwh_m2(self) -> np.ndarray:
        """Yearly irradiation of each cell (sum of the months). [kWh/m2]"""
        return self.monthly_kwh_m2.sum(axis=1, dtype=np.float64).astype(np.float32)

    def year_only(self) -> "FluxCells":
        """The same cells with the yearly value only (a twelfth of the memory to send back from a tile)."""
        return FluxCells(self.transform, self.shape, self.row, self.col, self.annual_kwh_m2[:, None])


def grid_window(bounds: tuple[float, float, float, float], resolution_m: float) -> tuple[Affine, tuple[int, int]]:
    """The window of the flux grid covering ``bounds``: cells on multiples of ``resolution_m``.

    Every window (and the DSM, whose grid is snapped the same way) lies on one lattice, so windows of
    different tiles fit into one raster cell for cell.

    Parameters
    ----------
    bounds : tuple
        (min x, min y, max x, max y) in the metric CRS. [m]
    resolution_m : float
        Cell size. [m]

    Returns
    -------
    (affine.Affine, (rows, cols))
    """
    if not resolution_m > 0:
        raise InputError(f"flux resolution_m = {resolution_m!r} must be > 0 (e.g. 1.0)")
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or maxx < minx or maxy < miny:
        raise InputError(f"flux grid: bounds {tuple(bounds)} are empty or not finite; give (min x, min y, max x, max y)")
    x0 = math.floor(minx / resolution_m) * resolution_m
    y0 = math.floor(miny / resolution_m) * resolution_m
    cols = max(1, int(math.ceil((maxx - x0) / resolution_m - 1e-9)))
    rows = max(1, int(math.ceil((maxy - y0) / resolution_m - 1e-9)))
    return Affine(resolution_m, 0.0, x0, 0.0, -resolution_m, y0 + rows * resolution_m), (rows, cols)


def rasterise_planes(geometry: Any, height_m: Any, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Position of the roof plane under each cell centre (-1: no roof); where planes overlap the highest wins.

    ``rasterio.features.rasterize`` with GDAL's default rule (a cell belongs to a polygon when its
    centre is inside), as the rasterised DSM (:func:`pv_survey.shading.dsm_from_buildings`).

    Parameters
    ----------
    geometry : sequence of shapely polygons
        Roof planes in the grid's CRS.
    height_m : array-like
        Height of each plane (orders overlapping planes). [m]
    transform, shape
        The grid (:func:`grid_window`).

    Returns
    -------
    numpy.ndarray
        int32 (rows, cols).
    """
    import shapely
    from rasterio.features import rasterize

    geoms = np.asarray(geometry, dtype=object).reshape(-1)
    h = np.asarray(height_m, dtype=np.float64).reshape(-1)
    out = np.full(shape, -1, dtype=np.int32)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if geoms.size else np.zeros(0, bool)
    idx = np.flatnonzero(ok)
    if idx.size:
        idx = idx[np.argsort(np.nan_to_num(h[idx], nan=-np.inf), kind="stable")]  # highest burnt last
        rasterize(((geoms[i], int(i)) for i in idx), out=out, transform=transform)
    return out


def dsm_slope_aspect(dsm: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Slope and aspect of the DSM at the cells under points (Horn 1981, the 3 x 3 rule of ``gdaldem``).

    ``dz/dx = ((c + 2f + i) - (a + 2d + g)) / (8 dx)`` and ``dz/dnorth = ((a + 2b + c) - (g + 2h + i)) /
    (8 dy)`` over the window ``a b c / d e f / g h i`` (north row first); the slope is
    ``atan(|grad z|)``, the aspect the downhill direction clockwise from north (Horn 1981, Proc. IEEE
    69(1):14-47; GDAL ``gdaldem slope`` / ``aspect``).

    A roof is read on its own surface: a neighbour that is not of the centre cell's owner (another
    building, the ground beyond the wall: :func:`pv_survey.shading.assign_owners`) or lies off the DSM
    is replaced by the reflection of the opposite neighbour through the centre (``2 e - opposite``);
    when that one is missing too, a side neighbour by ``e`` and a corner neighbour by the sum of its
    two sides' rises. So an edge or corner cell takes the slope of its roof, not the cliff of its
    wall; exact for a plane at least two cells wide in each direction.

    Parameters
    ----------
    dsm : pv_survey.shading.Dsm
    x, y : array-like
        Points in the DSM's CRS (on the DSM). [m]

    Returns
    -------
    tilt_deg, azimuth_deg : numpy.ndarray
        Slope from horizontal [deg] and aspect [deg, 0..360; 180 where the slope is 0].
    """
    from .shading import _cell_coords

    col, row = _cell_coords(dsm, x, y)
    c = col.astype(np.int64)
    r = row.astype(np.int64)
    rows, cols = dsm.shape
    h = dsm.height_m
    e = h[r, c].astype(np.float64)
    own = dsm.owner[r, c]
    # the 8 neighbours as (dr, dc); opposite of k is 7 - k
    offs = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    vals, valid = [], []
    for dr, dc in offs:
        rr, cc = r + dr, c + dc
        inside = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        rr_c, cc_c = np.clip(rr, 0, rows - 1), np.clip(cc, 0, cols - 1)
        ok = inside & ((own < 0) | (dsm.owner[rr_c, cc_c] == own))
        vals.append(h[rr_c, cc_c].astype(np.float64))
        valid.append(ok)
    nb: list = [None] * 8
    for k in (1, 3, 4, 6):  # N, W, E, S first
        opp = 7 - k
        nb[k] = np.where(valid[k], vals[k], np.where(valid[opp], 2.0 * e - vals[opp], e))
    for k, (p, q) in ((0, (1, 3)), (2, (1, 4)), (5, (6, 3)), (7, (6, 4))):  # NW, NE, SW, SE
        opp = 7 - k
        # on a plane the diagonal neighbour is the sum of its two sides' rises
        nb[k] = np.where(valid[k], vals[k], np.where(valid[opp], 2.0 * e - vals[opp], nb[p] + nb[q] - e))
    a, b, cc_, d, f, g, hh, i = nb
    dx, dy = dsm.cell_size_m
    gx = ((cc_ + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    gn = ((a + 2 * b + cc_) - (g + 2 * hh + i)) / (8.0 * dy)
    tilt = np.degrees(np.arctan(np.hypot(gx, gn)))
    az = np.where((gx == 0) & (gn == 0), 180.0, np.mod(np.degrees(np.arctan2(-gx, -gn)), 360.0))
    return tilt, az


def cell_irradiation(dsm: Any, x: Any, y: Any, z_m: Any, tilt_deg: Any, azimuth_deg: Any, weather: Any, *,
                     exclude_owner: Any = None, n_sectors: int = FluxConfig.n_sectors,
                     radius_m: float = ShadingConfig.search_radius_m, albedo: float = EnergyConfig.albedo,
                     chunk_cells: int = FLUX_CHUNK_CELLS,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Monthly irradiation in the plane of many points (cell centres) behind their own horizons.

    Per chunk of points: horizons (:func:`pv_survey.shading.iter_horizons_at_points`), the plane's
    sky view and open horizon band (:func:`pv_survey.shading.plane_sky_view_frac`), the irradiation
    (:func:`pv_survey.energy.plane_irradiation_kwh_m2`).

    Parameters
    ----------
    dsm : pv_survey.shading.Dsm
    x, y : array-like (n,)
        Points in the DSM's CRS. [m]
    z_m : float or array-like (n,)
        Observer heights in the DSM's vertical reference. [m]
    tilt_deg, azimuth_deg : array-like (n,)
        Orientation of each point's plane (azimuth clockwise from north). [deg]
    weather : pv_survey.weather.Weather
    exclude_owner : array-like of int (n,), optional
        Owner value each point ignores (its own building); -1 / None = none.
    n_sectors : int
        Horizon sectors.
    radius_m : float
        Search radius of the horizon. [m]
    albedo : float
        Ground albedo. [0-1]
    chunk_cells : int
        Points per chunk (memory bound).
    progress : callable(done, total), optional
        Called after each chunk.

    Returns
    -------
    numpy.ndarray
        float32 (n, 12), January..December. [kWh/m2]
    """
    from .energy import plane_irradiation_kwh_m2
    from .shading import iter_horizons_at_points, plane_sky_view_frac

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = x.size
    tilt = np.broadcast_to(np.asarray(tilt_deg, dtype=np.float64), (n,))
    az = np.broadcast_to(np.asarray(azimuth_deg, dtype=np.float64), (n,))
    out = np.empty((n, 12), dtype=np.float32)
    for sl, hz in iter_horizons_at_points(dsm, x, y, z_m, exclude_owner=exclude_owner, n_sectors=n_sectors,
                                          radius_m=radius_m, chunk_points=chunk_cells):
        svf, band = plane_sky_view_frac(hz, tilt[sl], az[sl])
        out[sl] = plane_irradiation_kwh_m2(weather, tilt[sl], az[sl], horizon_deg=hz, sky_view_frac=svf,
                                           horizon_band_open_frac=band, albedo=albedo)
        if progress is not None:
            progress(sl.stop, n)
    return out


def roof_flux(dsm: Any, planes: Any, weather: Any, *, resolution_m: float = FluxConfig.resolution_m,
              owner_of: Any = None, from_dsm: bool = False, n_sectors: int = FluxConfig.n_sectors,
              radius_m: float = ShadingConfig.search_radius_m, albedo: float = EnergyConfig.albedo,
              progress: Callable[[int, int], None] | None = None) -> FluxCells:
    """Irradiation in the plane of every roof cell of a set of roof planes (one tile's).

    Parameters
    ----------
    dsm : pv_survey.shading.Dsm
        Heights covering the planes plus ``radius_m``.
    planes : GeoDataFrame
        Roof planes in the DSM's CRS with ``tilt_deg``, ``azimuth_deg``, ``height_m`` and
        ``building_id`` (the roofs layer of a run: one row per plane).
    weather : pv_survey.weather.Weather
    resolution_m : float
        Cell size of the flux grid. [m]
    owner_of : Series, optional
        building_id -> owner value in ``dsm.owner``: the cells of a plane ignore their own
        building's DSM cells (a rasterised DSM's flat prism). None = ignore nothing.
    from_dsm : bool
        Take each cell's slope, aspect and height from the DSM (a DSM read from file) instead of
        from its plane.
    n_sectors, radius_m, albedo
        See :func:`cell_irradiation`.
    progress : callable(done, total), optional
        Cells done.

    Returns
    -------
    FluxCells
        The window over the planes' bounds and its roof cells.
    """
    import pandas as pd
    import shapely

    geoms = np.asarray(planes.geometry.to_numpy(), dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
    if not from_dsm:  # a plane without an orientation or height has no cells (none does after the roofs stage)
        for col in ("tilt_deg", "azimuth_deg", "height_m"):
            ok &= np.isfinite(planes[col].to_numpy(float))
    if not ok.any():
        t, shape = grid_window(dsm.bounds, resolution_m)
        return FluxCells(t, (0, 0), np.empty(0, np.int32), np.empty(0, np.int32), np.empty((0, 12), np.float32))
    transform, shape = grid_window(tuple(shapely.total_bounds(geoms[ok])), resolution_m)
    height = planes["height_m"].to_numpy(float)
    plane_of = rasterise_planes(np.where(ok, geoms, None), height, transform, shape)
    row, col = np.nonzero(plane_of >= 0)
    p = plane_of[row, col]
    x, y = transform @ (col + 0.5, row + 0.5)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if from_dsm:
        from .shading import dsm_height_at

        tilt, az = dsm_slope_aspect(dsm, x, y)
        tilt = np.round(tilt / DSM_TILT_STEP_DEG) * DSM_TILT_STEP_DEG
        az = np.mod(np.round(az / DSM_AZIMUTH_STEP_DEG) * DSM_AZIMUTH_STEP_DEG, 360.0)
        # the observer stands one cell's rise above the cell's centre: the DSM's flat-topped cells
        # of the same slope, whose edges are half a cell away, then never stand above the plane
        # itself (the upslope neighbour would otherwise be seen at atan(2 tan(tilt)))
        z = dsm_height_at(dsm, x, y) + max(dsm.cell_size_m) * np.tan(np.radians(np.clip(tilt, 0.0, 89.0)))
        excl = None
    else:
        tilt = planes["tilt_deg"].to_numpy(float)[p]
        az = planes["azimuth_deg"].to_numpy(float)[p]
        z = height[p]
        excl = None
        if owner_of is not None:
            own = pd.Series(owner_of).reindex(pd.Index(planes["building_id"])).fillna(-1).to_numpy(np.int64)
            excl = own[p]
    bad = ~(np.isfinite(tilt) & np.isfinite(az) & np.isfinite(z))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"roof flux: the roof plane of building {planes['building_id'].iloc[p[i]]!r} has tilt_deg "
                         f"{tilt[i]!r}, azimuth_deg {az[i]!r}, height_m {z[i]!r}; give finite values")
    monthly = cell_irradiation(dsm, x, y, z, np.clip(tilt, 0.0, 90.0), az, weather, exclude_owner=excl,
                               n_sectors=n_sectors, radius_m=radius_m, albedo=albedo, progress=progress)
    return FluxCells(transform, shape, row.astype(np.int32), col.astype(np.int32), monthly)


def flux_array(cells: FluxCells, *, monthly: bool = False) -> np.ndarray:
    """The window as a dense array: NaN off the roofs.

    Parameters
    ----------
    cells : FluxCells
    monthly : bool
        Twelve bands (January..December) instead of the yearly sum.

    Returns
    -------
    numpy.ndarray
        float32 (bands, rows, cols). [kWh/m2]
    """
    bands = 12 if monthly else 1
    out = np.full((bands, *cells.shape), np.nan, dtype=np.float32)
    if cells.row.size:
        vals = cells.monthly_kwh_m2.T if monthly else cells.annual_kwh_m2[None, :]
        out[:, cells.row, cells.col] = vals
    return out
