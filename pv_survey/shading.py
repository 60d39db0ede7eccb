"""Surface models, horizon profiles and sky-view factors of roofs.

Stage 4 of the pipeline (config -> inputs -> roofs -> **shading** -> weather -> ...). A
:class:`Dsm` (heights above ground on a north-up metric grid, plus the index of the building that
made each cell) comes either from footprints x heights (:func:`dsm_from_buildings`) or from a DSM
GeoTIFF (:func:`read_dsm`, windowed, reprojected on the fly, optionally minus a DEM). Roofs are
sampled with points (:func:`sample_roof_points`); from each point the horizon elevation is found in
``n_sectors`` azimuths by a ray march through the DSM (:func:`horizon_at_points`), and the roof's
profile keeps quantiles of its points so the shaded share of the roof survives
(:func:`roof_horizons`, :func:`roof_horizons_tiled` for districts that do not fit in memory).

Conventions: azimuth in degrees clockwise from north, sector k centred on ``k * 360 / n_sectors``;
elevation angles in degrees above the horizontal, clipped to [0, 90); distances and heights in
metres of the DSM's (projected, metric) CRS.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numba
import numpy as np
import shapely
from affine import Affine

from . import _horizon_kernel as _k
from .config import ShadingConfig
from .errors import CRSError, InputError, InputFileError

__all__ = [
    "Dsm",
    "snapped_bounds",
    "dsm_from_buildings",
    "read_dsm",
    "probe_raster",
    "RASTER_PLAUSIBLE_M",
    "assign_owners",
    "crop_dsm",
    "dsm_height_at",
    "sample_roof_points",
    "horizon_at_points",
    "iter_horizons_at_points",
    "sky_view_factor",
    "quantile_levels",
    "sector_azimuths_deg",
    "roof_horizons",
    "profiles_at_points",
    "roof_horizons_tiled",
    "buildings_dsm_source",
    "iter_roof_tiles",
]

log = logging.getLogger(__name__)

#: Highest max-pyramid level whose block maxima can count for their cells (be *accepted*, see
#: _ACCURACY_FRAC): blocks of 2**5 = 32 cells. Coarser levels serve only the exact skip test.
_ACCEPT_TOP_LEVEL = 5
#: Side of the coarsest pyramid block that can be accepted, in cells. DSM grids whose origins are
#: multiples of this many cells share those blocks, so a tile's horizons equal the whole area's exactly.
PYRAMID_BLOCK_CELLS = 2 ** _ACCEPT_TOP_LEVEL
#: Coarsest max-pyramid level: blocks of 2**7 = 128 cells, used only to step over open ground and low
#: roofs in fewer steps (a skipped block cannot raise the horizon, so results do not depend on it;
#: 7 levels and two climbs a step ran the kernel calls of a dense 3 km tile of the 100k bench city,
#: replayed, in 126 instead of 155 ms with 5 and one; tuning only).
_TOP_LEVEL = 7
#: Accuracy rule of the ray march: a pyramid block of side s may stand for its cells (be *accepted*)
#: only at distances t with s <= _ACCURACY_FRAC * t; closer, it is refined down to single cells.
#: With 1/64 the lateral reach of a block stays well inside a 5 deg sector (tan 2.5 deg = 0.044 >
#: sqrt(2)/64 = 0.022) and the distance error of tan(h) is at most sqrt(2)/64 = 2.2 % (project choice;
#: see horizon_at_points).
_ACCURACY_FRAC = 1.0 / 64.0
#: Pyramid levels climbed at most per step of the ray march (tuning only; results do not depend on it).
_MAX_CLIMB = 2
#: Observers handed to a thread at a time (dynamic scheduling; tuning only).
_PARALLEL_CHUNK = 16
#: Observers per numba call in roof_horizons, so that progress can be reported (project choice).
_CHUNK_POINTS = 65_536
#: Refuse to build a raster larger than this many cells in one piece (4 GB of float32 + int32);
#: use roof_horizons_tiled instead (project choice, keeps one tile well inside a laptop's memory).
_MAX_CELLS = 500_000_000


# --------------------------------------------------------------------------- the surface model


@dataclass
class Dsm:
    """A digital surface model on a north-up grid, with the owner of every cell.

    Parameters
    ----------
    height_m : numpy.ndarray
        float32 (rows, cols): surface height above ground. [m]
    owner : numpy.ndarray
        int32 (rows, cols): index of the building that made the cell; -1 = none / unknown
        (ground, trees, a DSM read from file).
    transform : affine.Affine
        Pixel -> CRS transform; must be north-up without rotation (``b == d == 0``).
    crs : pyproj.CRS or str or None
        A projected CRS in metres (e.g. EPSG:4547).
    filled_cells : int
        Cells that had no data in the source and were filled (see :func:`read_dsm`).
    """

    height_m: np.ndarray
    owner: np.ndarray
    transform: Affine
    crs: Any = None
    filled_cells: int = field(default=0)

    def __post_init__(self) -> None:
        self.height_m = np.ascontiguousarray(self.height_m, dtype=np.float32)
        self.owner = np.ascontiguousarray(self.owner, dtype=np.int32)
        if self.height_m.ndim != 2 or self.height_m.shape != self.owner.shape:
            raise InputError(
                f"Dsm: height_m {self.height_m.shape} and owner {self.owner.shape} must be 2-D arrays of "
                "the same shape; build the owner raster on the DSM's grid (assign_owners)"
            )
        t = Affine(*tuple(self.transform)[:6])
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e == 0:
            raise InputError(
                f"Dsm: transform {tuple(t)[:6]} is rotated or flipped; warp the DSM to a north-up grid "
                "(read_dsm does this on the fly)"
            )
        self.transform = t

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid."""
        return self.height_m.shape

    @property
    def cell_size_m(self) -> tuple[float, float]:
        """Pixel width and height (both positive). [m]"""
        return float(self.transform.a), float(abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min x, min y, max x, max y) of the grid in the DSM's CRS. [m]"""
        rows, cols = self.shape
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (cols, rows)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _geometry_array(geometry: Any) -> tuple[np.ndarray, Any]:
    """(object array of shapely geometries, crs or None) from a GeoSeries/GeoDataFrame/sequence."""
    crs = getattr(geometry, "crs", None)
    if hasattr(geometry, "geometry") and not isinstance(geometry, (np.ndarray, list, tuple)):
        geometry = geometry.geometry
    arr = np.asarray(getattr(geometry, "values", geometry), dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr, crs


def _snap_bounds(bounds: tuple[float, float, float, float], res_m: float) -> tuple[float, float, int, int]:
    """Snap bounds outwards to a grid aligned on multiples of ``res_m``: (x0, y_top, cols, rows)."""
    minx, miny, maxx, maxy = bounds
    x0 = math.floor(minx / res_m) * res_m
    y0 = math.floor(miny / res_m) * res_m
    cols = max(1, int(math.ceil((maxx - x0) / res_m - 1e-9)))
    rows = max(1, int(math.ceil((maxy - y0) / res_m - 1e-9)))
    return x0, y0 + rows * res_m, cols, rows


def _check_heights(height_m: Any, n: int, what: str) -> np.ndarray:
    h = np.asarray(height_m, dtype=np.float64).reshape(-1)
    if h.shape[0] != n:
        raise InputError(f"{what}: {h.shape[0]} heights for {n} geometries; give one height_m per polygon")
    bad = np.flatnonzero(~np.isfinite(h) | (h < 0))
    if bad.size:
        first = ", ".join(f"#{i} ({h[i]!r})" for i in bad[:5])
        raise InputError(
            f"{what}: {bad.size} height_m values are missing or negative, e.g. {first}; "
            "fill them (inputs.read_buildings does) or drop those polygons"
        )
    return h


def _shapes(geoms: np.ndarray, values: np.ndarray) -> list:
    """(GeoJSON-like polygon, value) pairs for rasterio, built with vectorised shapely calls.

    Equivalent to ``zip(geoms, values)`` (multi-polygons split into their parts, which burn the
    same value) but about twice as fast as letting rasterio call ``__geo_interface__`` per shape.
    """
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    if parts.size == 0:
        return []
    keep = shapely.get_type_id(parts) == 3  # polygons only (GeometryCollection leftovers dropped)
    parts, part_of = parts[keep], part_of[keep]
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    ring_coords = np.split(coords, np.flatnonzero(np.diff(coord_of)) + 1) if coords.size else []
    first = np.searchsorted(ring_of, np.arange(parts.size), side="left")
    last = np.searchsorted(ring_of, np.arange(parts.size), side="right")
    return [({"type": "Polygon", "coordinates": [ring_coords[k].tolist() for k in range(a, b)]},
             values[part_of[p]]) for p, (a, b) in enumerate(zip(first, last)) if b > a]


def _burn(geoms: np.ndarray, values: np.ndarray, order: np.ndarray, out: np.ndarray,
          transform: Affine) -> None:
    """Burn ``values`` of ``geoms`` into ``out`` in ``order`` (later shapes overwrite earlier ones).

    ``rasterio.features.rasterize`` with GDAL's default rule: a cell is burnt when its centre is
    inside the polygon.
    """
    from rasterio.features import rasterize

    shapes = _shapes(geoms[order], np.asarray(values)[order])
    if shapes:
        rasterize(shapes, out=out, transform=transform)


def dsm_from_buildings(geometry: Any, height_m: Any, *, resolution_m: float = ShadingConfig.dsm_resolution_m,
                       bounds: tuple[float, float, float, float] | None = None, pad_m: float = 0.0,
                       crs: Any = None, obstacles: Any = None, owner_ids: Any = None) -> Dsm:
    """Rasterise footprints x heights into a :class:`Dsm` (flat-topped prisms on flat ground).

    A cell belongs to a polygon when its centre is inside it (GDAL's default rasterisation rule,
    ``rasterio.features.rasterize``); where footprints overlap, the taller wins. The grid is aligned
    on multiples of ``resolution_m`` so DSMs of neighbouring tiles share cell edges.

    Parameters
    ----------
    geometry : GeoSeries, GeoDataFrame or sequence of shapely polygons
        Building footprints in a projected metric CRS.
    height_m : array-like
        Height of each building above ground. [m]
    resolution_m : float
        Cell size. [m]
    bounds : tuple, optional
        (min x, min y, max x, max y) of the raster; default the footprints' total bounds. [m]
    pad_m : float
        Margin added around ``bounds`` (e.g. the search radius). [m]
    crs : CRS or str, optional
        CRS of the result; default the GeoSeries' CRS.
    obstacles : GeoDataFrame with ``height_m``, or (geometries, heights), optional
        Trees, plant, walls: burnt in with owner -1 where taller than the buildings. [m]
    owner_ids : array-like of int, optional
        Owner value of each building (default its position 0..n-1); :func:`buildings_dsm_source` passes
        global indices when it rasterises a subset.

    Returns
    -------
    Dsm
    """
    geoms, geo_crs = _geometry_array(geometry)
    heights = _check_heights(height_m, len(geoms), "dsm_from_buildings")
    if not resolution_m > 0:
        raise InputError(f"dsm_from_buildings: resolution_m = {resolution_m!r} must be > 0 (e.g. 1.0)")
    ids = np.arange(len(geoms), dtype=np.int64) if owner_ids is None else np.asarray(owner_ids, dtype=np.int64)
    if ids.shape != (len(geoms),):
        raise InputError(f"dsm_from_buildings: {ids.shape} owner_ids for {len(geoms)} geometries; give one per polygon")
    if bounds is None:
        valid = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)] if len(geoms) else geoms
        if len(valid) == 0:
            raise InputError("dsm_from_buildings: no footprints and no bounds; pass bounds= for an empty scene")
        bounds = tuple(shapely.total_bounds(valid))
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    minx, miny, maxx, maxy = minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m
    if not (maxx > minx and maxy > miny):
        raise InputError(f"dsm_from_buildings: bounds {tuple(bounds)} with pad_m = {pad_m} are empty; "
                         "give (min x, min y, max x, max y) or a margin pad_m > 0")
    x0, y_top, cols, rows = _snap_bounds((minx, miny, maxx, maxy), resolution_m)
    if rows * cols > _MAX_CELLS:
        raise InputError(
            f"dsm_from_buildings: a {rows} x {cols} raster at {resolution_m} m is too large for one piece; "
            "use roof_horizons_tiled (tile by tile) or a coarser resolution_m"
        )
    transform = Affine(resolution_m, 0.0, x0, 0.0, -resolution_m, y_top)

    # building positions, tallest burnt last so it wins where footprints overlap; then heights and
    # owners by table look-up (one parallel pass; the position raster becomes the owner raster)
    owner = np.full((rows, cols), -1, dtype=np.int32)
    _burn(geoms, np.arange(len(geoms), dtype=np.int32), np.argsort(heights, kind="stable"), owner, transform)
    height = np.empty((rows, cols), dtype=np.float32)
    _k.burn_lookup(owner, heights.astype(np.float32), ids.astype(np.int32), height)

    if obstacles is not None:
        if isinstance(obstacles, tuple):
            ob_geoms, ob_h = obstacles
            ob_geoms, _ = _geometry_array(ob_geoms)
        else:
            if "height_m" not in getattr(obstacles, "columns", ()):
                raise InputError("dsm_from_buildings: the obstacles layer needs a 'height_m' column [m]")
            ob_geoms, _ = _geometry_array(obstacles)
            ob_h = obstacles["height_m"].to_numpy()
        return burn_obstacles(Dsm(height, owner, transform, crs if crs is not None else geo_crs), ob_geoms, ob_h)
    return Dsm(height, owner, transform, crs if crs is not None else geo_crs)


def burn_obstacles(dsm: Dsm, geometry: Any, height_m: Any) -> Dsm:
    """The DSM with obstacle polygons (trees, plant) burnt in where they are taller.

    Parameters
    ----------
    dsm : Dsm
        Heights above ground.
    geometry : array_like of shapely polygons
        Obstacles in the DSM's CRS.
    height_m : array_like
        Obstacle heights above ground. [m]

    Returns
    -------
    Dsm
        Same grid; cells where an obstacle is taller take its height and owner -1 (they
        shade every roof, none is "its own").
    """
    ob_geoms, _ = _geometry_array(geometry)
    ob_heights = _check_heights(height_m, len(ob_geoms), "obstacles").astype(np.float32)
    height, owner = dsm.height_m.copy(), dsm.owner.copy()
    ob = np.zeros(height.shape, dtype=np.float32)
    _burn(ob_geoms, ob_heights, np.argsort(ob_heights, kind="stable"), ob, dsm.transform)
    taller = ob > height
    height[taller] = ob[taller]
    owner[taller] = -1
    return Dsm(height, owner, dsm.transform, dsm.crs, filled_cells=getattr(dsm, "filled_cells", 0))


def assign_owners(dsm: Dsm, geometry: Any, *, owner_ids: Any = None) -> Dsm:
    """The same DSM with its owner raster made from footprints (for a DSM read from file).

    Cells whose centre is inside footprint i get ``owner_ids[i]`` (default i); where footprints
    overlap the later one wins. Heights are unchanged.

    Parameters
    ----------
    dsm : Dsm
    geometry : GeoSeries or sequence of polygons
        Footprints in the DSM's CRS.
    owner_ids : array-like of int, optional
        Owner value per footprint (default 0..n-1).

    Returns
    -------
    Dsm
    """
    geoms, _ = _geometry_array(geometry)
    ids = np.arange(len(geoms), dtype=np.int32) if owner_ids is None else np.asarray(owner_ids, dtype=np.int32)
    owner = np.full(dsm.shape, -1, dtype=np.int32)
    _burn(geoms, ids, np.arange(len(geoms)), owner, dsm.transform)
    return Dsm(dsm.height_m, owner, dsm.transform, dsm.crs, dsm.filled_cells)


def crop_dsm(dsm: Dsm, bounds: tuple[float, float, float, float]) -> Dsm:
    """The part of ``dsm`` covering ``bounds`` (snapped outwards to whole cells; a view, no copy).

    Raises
    ------
    InputError
        When ``bounds`` do not overlap the DSM.
    """
    inv = ~dsm.transform
    c0, r0 = inv @ (bounds[0], bounds[3])
    c1, r1 = inv @ (bounds[2], bounds[1])
    rows, cols = dsm.shape
    ca, cb = sorted((c0, c1))
    ra, rb = sorted((r0, r1))
    ca, ra = max(0, int(math.floor(ca))), max(0, int(math.floor(ra)))
    cb, rb = min(cols, int(math.ceil(cb))), min(rows, int(math.ceil(rb)))
    if cb <= ca or rb <= ra:
        raise InputError(f"crop_dsm: bounds {tuple(bounds)} do not overlap the DSM {dsm.bounds}")
    return Dsm(dsm.height_m[ra:rb, ca:cb], dsm.owner[ra:rb, ca:cb],
               dsm.transform @ Affine.translation(ca, ra), dsm.crs)


# --------------------------------------------------------------------------- reading a DSM file


def _metric_crs(crs: Any, what: str):
    from rasterio.crs import CRS

    try:
        out = CRS.from_user_input(crs)
    except Exception as exc:  # rasterio raises CRSError with a GDAL message
        raise CRSError(f"{what}: CRS {crs!r} is not recognised ({exc}); give e.g. EPSG:4547") from exc
    if not out.is_projected:
        raise CRSError(f"{what}: CRS {out.to_string()} is geographic (degrees); shading needs a projected "
                       "metric CRS such as EPSG:4547")
    return out


#: Plausible surface and terrain heights: below the Dead Sea shore (-430 m) or above Everest
#: (8,849 m) no point of the Earth's surface lies, so a cell outside [-500, 9000] m is a
#: missing-value code (an undeclared nodata such as -3.4e38 or 1e6) and is treated as no data.
RASTER_PLAUSIBLE_M = (-500.0, 9000.0)


def _gdal_reason(exc: BaseException, path: str = "") -> str:
    """GDAL's own words of a rasterio error (the chained CPLE error when rasterio only says 'Read failed'),
    the file's own path replaced by 'the file' (the message names it already)."""
    msgs = []
    e: BaseException | None = exc
    while e is not None and len(msgs) < 4:
        text = " ".join(str(e).split())
        if path:
            text = text.replace(f"'{path}'", "the file").replace(str(path), "the file")
        if text and "See previous exception" not in text:
            msgs.append(text)
        e = e.__cause__ or e.__context__
    return "; ".join(msgs) or type(exc).__name__


def probe_raster(path: str, what: str = "raster") -> None:
    """Check that a raster file is georeferenced and band 1 can be read at both ends of its data.

    Opening a GeoTIFF reads only its header, so a file cut off after the header (an interrupted
    copy or download) opens fine and fails at the first window that reaches the missing part,
    possibly late in a run. Reading the first and the last block row of band 1 catches that
    at once. A file without cell positions (no geotransform, GCPs or RPCs: a plain PNG or JPEG)
    or without a CRS cannot be placed on the survey's grid: an error here (a run also silences
    rasterio's ``NotGeoreferencedWarning`` on opening it, :func:`pv_survey.pipeline.quiet_scratch_dataset_warnings`).

    Parameters
    ----------
    path : str
        Raster file (any GDAL format).
    what : str
        What the raster is, for messages ("DSM", "DEM", "obstacle raster").

    Raises
    ------
    InputFileError
        The file cannot be opened, has no cell positions, or its first or last block cannot be
        read (the message names the file and says what to do; the GDAL error is chained).
    CRSError
        The file declares no CRS.
    """
    import rasterio
    from rasterio.windows import Window

    gdal_log = logging.getLogger("rasterio._env")  # GDAL's warnings while probing formats say nothing new
    level = gdal_log.level
    gdal_log.setLevel(logging.ERROR)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputFileError(f"{path}: cannot open the {what} ({_gdal_reason(exc, path)}); check the path and that "
                             "it is a raster (GeoTIFF)") from exc
    finally:
        gdal_log.setLevel(level)
    with src:
        if src.transform.is_identity and not src.gcps[0] and not src.rpcs:
            raise InputFileError(f"{path}: the {what} has no georeferencing (no cell positions, as a plain image); "
                                 "export it as a GeoTIFF with its CRS and extent (e.g. gdal_translate -a_srs "
                                 "EPSG:4547 -a_ullr <west> <north> <east> <south>)")
        if src.crs is None:
            raise CRSError(f"{path}: the {what} declares no CRS; assign one (gdal_edit.py -a_srs EPSG:4547)")
        if src.count < 1 or src.width < 1 or src.height < 1:
            raise InputFileError(f"{path}: the {what} holds no raster band; export it again as a GeoTIFF")
        bh = max(1, min(int(src.block_shapes[0][0]), src.height))
        for row0 in (0, src.height - bh):
            try:
                src.read(1, window=Window(0, row0, src.width, bh))
            except rasterio.errors.RasterioError as exc:
                raise InputFileError(
                    f"{path}: the {what} is truncated or corrupt (rows {row0}-{row0 + bh - 1} of {src.height} "
                    f"cannot be read: {_gdal_reason(exc, path)}); copy or export the file again"
                ) from exc


def _implausible_to_nan(data: np.ndarray) -> int:
    """Set cells outside :data:`RASTER_PLAUSIBLE_M` (and infinities) to NaN in place; their count."""
    lo, hi = RASTER_PLAUSIBLE_M
    with np.errstate(invalid="ignore"):
        bad = np.isinf(data) | (data < lo) | (data > hi)
    n = int(bad.sum())
    if n:
        data[bad] = np.nan
    return n


def _read_on_grid(path: str, what: str, dst_crs: Any, transform: Affine, width: int, height: int,
                  resampling: Any) -> np.ndarray:
    """Read band 1 of ``path`` warped onto a given grid; no-data -> NaN (float32)."""
    import rasterio
    from rasterio.vrt import WarpedVRT

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise CRSError(f"{path}: {what} declares no CRS; assign one (gdal_edit.py -a_srs EPSG:4547)")
            with WarpedVRT(src, crs=dst_crs, transform=transform, width=width, height=height,
                           resampling=resampling, nodata=np.nan, dtype="float32") as vrt:
                data = vrt.read(1, masked=True)
    except rasterio.errors.RasterioError as exc:
        raise InputFileError(f"{path}: cannot read the {what} ({_gdal_reason(exc, path)}); the file looks truncated or "
                             "corrupt: check the path, or copy or export it again") from exc
    return np.ma.filled(data.astype(np.float32), np.nan)


def read_dsm(path: str, *, bounds: tuple[float, float, float, float], crs: Any = None,
             dem_path: str | None = None, resolution_m: float | None = None, pad_m: float = 0.0,
             obstacles_path: str | None = None) -> Dsm:
    """Read the part of a DSM GeoTIFF that covers ``bounds`` (+ ``pad_m``), in the survey's CRS.

    Only the window needed is read, so a district-sized raster never has to fit in memory. A file
    already in ``crs`` at the requested resolution is read directly on its own grid; otherwise it is
    warped on the fly (``rasterio.vrt.WarpedVRT``) onto a north-up grid aligned on multiples of the
    resolution, with nearest-neighbour sampling, or the maximum of the source cells when coarsening
    (so thin obstacles are not lost).

    No-data cells become ground: height 0 when a DEM is given, else the lowest valid height of the
    window (a DSM without DEM is used as-is, in its own vertical datum; roof heights then have to
    be taken from the DSM too, see ``roof_horizons(roof_height_m=None)``). Filled cells never
    obstruct; their count is in ``Dsm.filled_cells``.

    Parameters
    ----------
    path : str
        DSM raster (any GDAL format; band 1 = surface elevation). [m]
    bounds : tuple
        (min x, min y, max x, max y) of the area needed, in ``crs``. [m]
    crs : CRS or str, optional
        Projected metric CRS of the result; default the file's own CRS.
    dem_path : str, optional
        Terrain model subtracted from the DSM to give heights above ground (bilinear). [m]
    resolution_m : float, optional
        Cell size of the result; default the file's (estimated in ``crs`` when reprojecting). [m]
    pad_m : float
        Margin added around ``bounds``: pass the search radius so distant obstacles are included. [m]
    obstacles_path : str, optional
        Extra raster of obstacle heights (e.g. a canopy height model) in the same vertical reference
        as the result (above ground when a DEM is given); burnt in where taller, owner -1. [m]

    Returns
    -------
    Dsm
        Owner -1 everywhere; use :func:`assign_owners` to exclude each roof's own building.

    Raises
    ------
    InputFileError
        The file cannot be opened.
    CRSError
        The file has no CRS, or the target CRS is not projected.
    InputError
        The raster does not overlap ``bounds`` or has no valid cell there.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform, transform_bounds
    from rasterio.windows import Window

    minx, miny, maxx, maxy = (float(v) for v in bounds)
    want = (minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m)
    if not (want[2] > want[0] and want[3] > want[1]):
        raise InputError(f"read_dsm: bounds {tuple(bounds)} with pad_m = {pad_m} are empty; "
                         "give (min x, min y, max x, max y) or a margin pad_m > 0")
    if resolution_m is not None and not resolution_m > 0:
        raise InputError(f"read_dsm: resolution_m = {resolution_m!r} must be > 0")
    probe_raster(path, "DSM")
    src = rasterio.open(path)
    with src:
        if src.crs is None:
            raise CRSError(f"{path}: the DSM declares no CRS; assign one (gdal_edit.py -a_srs EPSG:4547)")
        dst_crs = _metric_crs(crs if crs is not None else src.crs, f"{path} (DSM)")
        src_b = transform_bounds(src.crs, dst_crs, *src.bounds) if src.crs != dst_crs else tuple(src.bounds)
        if src_b[0] >= want[2] or src_b[2] <= want[0] or src_b[1] >= want[3] or src_b[3] <= want[1]:
            raise InputError(
                f"{path}: the DSM covers {tuple(round(v, 1) for v in src_b)} in {dst_crs.to_string()}, which does "
                f"not overlap the buildings' area {tuple(round(v, 1) for v in want)}; check the file and its CRS"
            )
        st = src.transform
        same_grid = (src.crs == dst_crs and st.b == 0 and st.d == 0 and st.e < 0
                     and (resolution_m is None or (math.isclose(resolution_m, st.a) and math.isclose(resolution_m, -st.e))))
        if same_grid:
            inv = ~st
            c0, r0 = inv @ (want[0], want[3])
            c1, r1 = inv @ (want[2], want[1])
            ca, ra = max(0, int(math.floor(c0))), max(0, int(math.floor(r0)))
            cb, rb = min(src.width, int(math.ceil(c1))), min(src.height, int(math.ceil(r1)))
            win = Window(ca, ra, cb - ca, rb - ra)
            if win.width * win.height > _MAX_CELLS:
                raise InputError(f"{path}: the window needs {win.height} x {win.width} cells; read tile by tile "
                                 "(roof_horizons_tiled) or pass a coarser resolution_m")
            try:
                data = np.ma.filled(src.read(1, window=win, masked=True).astype(np.float32), np.nan)
            except rasterio.errors.RasterioError as exc:
                raise InputFileError(f"{path}: cannot read the DSM window {win.height} x {win.width} cells at "
                                     f"row {win.row_off} ({_gdal_reason(exc, path)}); the file looks corrupt: copy or "
                                     "export it again") from exc
            transform = src.window_transform(win)
        else:
            if resolution_m is None:
                est, _, _ = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds)
                res = float(abs(est.a))
            else:
                res = float(resolution_m)
            lo = (max(want[0], src_b[0]), max(want[1], src_b[1]), min(want[2], src_b[2]), min(want[3], src_b[3]))
            x0, y_top, cols, rows = _snap_bounds(lo, res)
            transform = Affine(res, 0.0, x0, 0.0, -res, y_top)
            if rows * cols > _MAX_CELLS:
                raise InputError(f"{path}: the window needs {rows} x {cols} cells at {res} m; read tile by tile "
                                 "(roof_horizons_tiled) or pass a coarser resolution_m")
            src_res = float(abs(calculate_default_transform(src.crs, dst_crs, src.width, src.height,
                                                            *src.bounds)[0].a))
            coarsen = res > 1.5 * src_res
            resampling = Resampling.max if coarsen else Resampling.nearest
            data = _read_on_grid(path, "DSM", dst_crs, transform, cols, rows, resampling)
    rows, cols = data.shape
    implausible = {"DSM": _implausible_to_nan(data)}
    if not np.isfinite(data).any():
        raise InputError(f"{path}: the DSM has no valid cell in {tuple(round(v, 1) for v in want)}; "
                         "check its nodata value and coverage")
    if dem_path is not None:
        probe_raster(dem_path, "DEM")
        dem = _read_on_grid(dem_path, "DEM", dst_crs, transform, cols, rows, Resampling.bilinear)
        implausible[dem_path] = _implausible_to_nan(dem)
        if not np.isfinite(dem).any():
            raise InputError(f"{dem_path}: the DEM has no valid cell in {tuple(round(v, 1) for v in want)}; "
                             "check its nodata value, coverage and CRS")
        data = data - dem
    if obstacles_path is not None:
        probe_raster(obstacles_path, "obstacle raster")
        obs = _read_on_grid(obstacles_path, "obstacle raster", dst_crs, transform, cols, rows, Resampling.max)
        implausible[obstacles_path] = _implausible_to_nan(obs)
    for name, n in implausible.items():
        if n:
            log.info("%s: %d cells outside %s m treated as no data", path if name == "DSM" else name, n,
                     RASTER_PLAUSIBLE_M)
    missing = ~np.isfinite(data)
    filled = int(missing.sum())
    if filled:
        ground = 0.0 if dem_path is not None else float(np.nanmin(data))
        data[missing] = ground
        log.info("%s: %d no-data cells of %d treated as ground (%.1f m)", path, filled, data.size, ground)
    owner = np.full(data.shape, -1, dtype=np.int32)
    if obstacles_path is not None:
        taller = np.isfinite(obs) & (obs > data)
        data[taller] = obs[taller]
    from pyproj import CRS as ProjCRS

    return Dsm(data, owner, transform, ProjCRS.from_user_input(dst_crs.to_wkt()), filled)


def dsm_height_at(dsm: Dsm, x: Any, y: Any) -> np.ndarray:
    """Surface height of the cell under each point. [m]

    Raises
    ------
    InputError
        A point lies outside the DSM (names the first one).
    """
    col, row = _cell_coords(dsm, x, y)
    return dsm.height_m[row.astype(np.int64), col.astype(np.int64)].astype(np.float64)


def _cell_coords(dsm: Dsm, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (col, row) of points on the DSM grid; points outside raise InputError."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise InputError(f"{x.size} x values but {y.size} y values; give one (x, y) per point")
    t = dsm.transform
    col = (x - t.c) / t.a
    row = (y - t.f) / t.e
    rows, cols = dsm.shape
    out = ~(np.isfinite(col) & np.isfinite(row) & (col >= 0) & (row >= 0) & (col < cols) & (row < rows))
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise InputError(
            f"{int(out.sum())} points lie outside the DSM {tuple(round(v, 1) for v in dsm.bounds)}, e.g. point #{i} "
            f"at ({x[i]!r}, {y[i]!r}); check the points' CRS or extend the DSM"
        )
    return col, row


# --------------------------------------------------------------------------- roof sample points


def sample_roof_points(geometry: Any, *, points_per_100m2: float = ShadingConfig.points_per_100m2,
                       max_points: int = ShadingConfig.max_points_per_roof) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points inside each (usable-area) polygon; more points on larger roofs.

    Each polygon gets ``n = clip(round(area_m2 * points_per_100m2 / 100), 1, max_points)`` target
    points on a regular square grid of spacing ``sqrt(area_m2 / n)`` centred in its bounding box and
    clipped to the polygon; when more than ``max_points`` grid points fall inside, an evenly spread
    subset of ``max_points`` is kept; when none does (small or thin shapes) the polygon's
    ``point_on_surface`` is used. Missing or empty geometries get no point.

    Parameters
    ----------
    geometry : GeoSeries or sequence of polygons
        Roof polygons in a projected metric CRS.
    points_per_100m2 : float
        Target density. [1/100 m2]
    max_points : int
        Cap per polygon.

    Returns
    -------
    x, y : numpy.ndarray
        float64 point coordinates. [m]
    roof_index : numpy.ndarray
        int64 position of each point's polygon, ascending.
    """
    if not points_per_100m2 > 0 or int(max_points) < 1:
        raise InputError(f"sample_roof_points: points_per_100m2 = {points_per_100m2!r} must be > 0 and "
                         f"max_points = {max_points!r} >= 1")
    max_points = int(max_points)
    geoms, _ = _geometry_array(geometry)
    n_roofs = len(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if n_roofs else np.zeros(0, bool)
    area = np.where(present, shapely.area(np.where(present, geoms, None)), 0.0) if n_roofs else np.zeros(0)
    area = np.nan_to_num(area)
    target = np.clip(np.rint(area * points_per_100m2 / 100.0), 1, max_points).astype(np.int64)
    target[~present] = 0
    bounds = shapely.bounds(np.where(present, geoms, None)) if n_roofs else np.zeros((0, 4))
    w = np.nan_to_num(bounds[:, 2] - bounds[:, 0])
    h = np.nan_to_num(bounds[:, 3] - bounds[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        spacing = np.sqrt(np.where(target > 0, area / np.maximum(target, 1), 0.0))
    # cap the candidate grid at 64 x max_points per polygon (very thin diagonal shapes)
    cap = 64 * max_points
    grid_ok = present & (spacing > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        spacing = np.where(grid_ok, np.maximum(spacing, np.sqrt(w * h / cap)), 1.0)
    nx = np.where(grid_ok, np.maximum(1, np.ceil(w / spacing - 1e-9)), 0).astype(np.int64)
    ny = np.where(grid_ok, np.maximum(1, np.ceil(h / spacing - 1e-9)), 0).astype(np.int64)
    counts = nx * ny
    owner = np.repeat(np.arange(n_roofs, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    local = np.arange(counts.sum(), dtype=np.int64) - np.repeat(starts, counts)
    nx_r = np.repeat(nx, counts)
    s_r = np.repeat(spacing, counts)
    ix, iy = local % np.maximum(nx_r, 1), local // np.maximum(nx_r, 1)
    cx = np.repeat(bounds[:, 0] + (w - (nx - 1) * spacing) / 2.0, counts) + ix * s_r
    cy = np.repeat(bounds[:, 1] + (h - (ny - 1) * spacing) / 2.0, counts) + iy * s_r
    if owner.size:
        shapely.prepare(geoms[present])
        inside = shapely.contains_xy(geoms[owner], cx, cy)
        shapely.destroy_prepared(geoms[present])
    else:
        inside = np.zeros(0, dtype=bool)
    owner, cx, cy = owner[inside], cx[inside], cy[inside]
    n_in = np.bincount(owner, minlength=n_roofs)
    # evenly spread subset where too many fell inside: keep rank r iff floor((r+1)m/c) > floor(rm/c)
    rank = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(n_in) - n_in, n_in)
    c = n_in[owner]
    keep = ((rank + 1) * max_points // c) > (rank * max_points // c)
    owner, cx, cy = owner[keep], cx[keep], cy[keep]
    # polygons with no grid point inside: a point on the surface
    lonely = np.flatnonzero(present & (n_in == 0))
    if lonely.size:
        pts = shapely.point_on_surface(geoms[lonely])
        owner = np.concatenate([owner, lonely])
        cx = np.concatenate([cx, shapely.get_x(pts)])
        cy = np.concatenate([cy, shapely.get_y(pts)])
        order = np.argsort(owner, kind="stable")
        owner, cx, cy = owner[order], cx[order], cy[order]
    return cx.astype(np.float64), cy.astype(np.float64), owner.astype(np.int64)


# --------------------------------------------------------------------------- horizons


def sector_azimuths_deg(n_sectors: int) -> np.ndarray:
    """Centre azimuth of each sector, ``k * 360 / n_sectors`` (clockwise from north). [deg]"""
    if int(n_sectors) < 1:
        raise InputError(f"n_sectors = {n_sectors!r} must be >= 1 (default 72, i.e. 5 deg sectors)")
    return np.arange(int(n_sectors), dtype=np.float64) * 360.0 / int(n_sectors)


@dataclass
class _Pyramid:
    """Max-pyramid of a DSM.

    ``pyr_h``: heights of levels 0..top in one flat array (level 0 a copy of the DSM), level L at
    ``lv_off[L]``; ``pyr_own``: owner of each block maximum for levels 1..top at ``own_off[L]``
    (level 0 is ``own0``, the DSM's owner raster).
    """

    h0: np.ndarray
    own0: np.ndarray
    pyr_h: np.ndarray
    pyr_own: np.ndarray
    lv_off: np.ndarray
    own_off: np.ndarray
    lv_rows: np.ndarray
    lv_cols: np.ndarray
    top_level: int
    global_max: float


def _build_pyramid(dsm: Dsm) -> _Pyramid:
    """The DSM's max-pyramid, built once per pair of height / owner arrays (a roof's sample points
    and its module segments are ray-marched on the same tile DSM; the arrays are never changed in
    place: every function deriving a DSM returns a new one)."""
    cached = getattr(dsm, "_pyramid_cache", None)
    if cached is not None and cached[0] is dsm.height_m and cached[1] is dsm.owner:
        return cached[2]
    pyr = _make_pyramid(dsm)
    dsm._pyramid_cache = (dsm.height_m, dsm.owner, pyr)
    return pyr


def _make_pyramid(dsm: Dsm) -> _Pyramid:
    h0 = dsm.height_m
    if np.isnan(h0.max(initial=0.0)):  # NaN never obstructs: treat as -inf (read_dsm fills no-data anyway)
        h0 = np.where(np.isnan(h0), np.float32(-np.inf), h0).astype(np.float32)
    rows, cols = h0.shape
    top = 0
    while top < _TOP_LEVEL and max(rows, cols) > (1 << top):
        top += 1
    lv_rows = np.zeros(top + 1, dtype=np.int64)
    lv_cols = np.zeros(top + 1, dtype=np.int64)
    lv_off = np.zeros(top + 1, dtype=np.int64)
    own_off = np.zeros(top + 1, dtype=np.int64)
    lv_rows[0], lv_cols[0] = rows, cols
    total = rows * cols
    for lv in range(1, top + 1):
        lv_rows[lv] = (lv_rows[lv - 1] + 1) // 2
        lv_cols[lv] = (lv_cols[lv - 1] + 1) // 2
        lv_off[lv] = total
        own_off[lv] = total - rows * cols
        total += int(lv_rows[lv] * lv_cols[lv])
    pyr_h = np.empty(total, dtype=np.float32)
    pyr_h[:rows * cols] = h0.reshape(-1)
    pyr_own = np.empty(total - rows * cols, dtype=np.int32)
    prev_h, prev_o = h0, dsm.owner
    for lv in range(1, top + 1):
        n = int(lv_rows[lv] * lv_cols[lv])
        shape = (int(lv_rows[lv]), int(lv_cols[lv]))
        out_h = pyr_h[lv_off[lv]:lv_off[lv] + n].reshape(shape)
        out_o = pyr_own[own_off[lv]:own_off[lv] + n].reshape(shape)
        _k.build_pyramid_level(prev_h, prev_o, out_h, out_o)
        prev_h, prev_o = out_h, out_o
    gmax = float(prev_h.max()) if prev_h.size else 0.0
    return _Pyramid(h0, dsm.owner, pyr_h, pyr_own, lv_off, own_off, lv_rows, lv_cols, top, gmax)


def _horizons(dsm: Dsm, pyr: _Pyramid, col: np.ndarray, row: np.ndarray, z_m: np.ndarray,
              excl: np.ndarray, n_sectors: int, radius_m: float,
              accuracy_frac: float = _ACCURACY_FRAC) -> np.ndarray:
    az = np.radians(sector_azimuths_deg(n_sectors))
    cell_m = max(dsm.cell_size_m)
    # distance from which a block of level lv may be accepted; never for levels above _ACCEPT_TOP_LEVEL
    acc = np.array([0.0 if lv == 0 else (1 << lv) * cell_m / accuracy_frac if lv <= _ACCEPT_TOP_LEVEL else np.inf
                    for lv in range(pyr.top_level + 1)], dtype=np.float64)
    out = np.empty((col.size, n_sectors), dtype=np.float32)
    if col.size:
        # hand out observers in small chunks so both threads stay busy on uneven scenes
        with numba.parallel_chunksize(_PARALLEL_CHUNK):
            _k.horizon_tangents(col, row, z_m, excl, np.sin(az), np.cos(az), 1.0 / dsm.transform.a,
                                1.0 / dsm.transform.e, float(radius_m), pyr.h0, pyr.own0, pyr.pyr_h, pyr.pyr_own,
                                pyr.lv_off, pyr.own_off, pyr.lv_cols, pyr.top_level, acc, pyr.global_max,
                                _MAX_CLIMB, out)
    return out


def _owner_max_heights(dsm: Dsm, n_owners: int) -> np.ndarray:
    """Highest cell of each owner 0..n_owners-1 (-inf without cells), kept with the DSM's arrays
    like the pyramid (a tile's roofs and their module segments look them up on the same DSM)."""
    cached = getattr(dsm, "_owner_max_cache", None)
    if cached is not None and cached[0] is dsm.height_m and cached[1] is dsm.owner and cached[2].size >= n_owners:
        return cached[2][:n_owners]
    own_max = _k.owner_max_heights(dsm.height_m, dsm.owner, n_owners)
    dsm._owner_max_cache = (dsm.height_m, dsm.owner, own_max)
    return own_max


def _point_arrays(dsm: Dsm, x: Any, y: Any, z_m: Any, exclude_owner: Any):
    """Observer arrays for the kernel: (col, row, z, excl).

    Heights are rounded to float32 like the DSM, so a roof at its building's height sees that
    building's cells at exactly zero elevation (not at float32 rounding noise). Exclusion is
    switched off (-1) for observers at or above every cell of the excluded owner, where it cannot
    change the result; this saves the owner look-ups.
    """
    col, row = _cell_coords(dsm, x, y)
    z = np.broadcast_to(np.asarray(z_m, dtype=np.float64), col.shape).astype(np.float32).astype(np.float64)
    if not np.isfinite(z).all():
        i = int(np.flatnonzero(~np.isfinite(z))[0])
        raise InputError(f"observer height z_m of point #{i} is {z[i]!r}; give a finite height above ground [m]")
    if exclude_owner is None:
        excl = np.full(col.shape, -1, dtype=np.int32)
    else:
        excl = np.broadcast_to(np.asarray(exclude_owner, dtype=np.int32), col.shape).copy()
        excl[excl < 0] = -1
        if (excl >= 0).any():
            own_max = _owner_max_heights(dsm, int(excl.max()) + 1)
            needed = np.zeros(col.shape, dtype=bool)
            has = excl >= 0
            needed[has] = own_max[excl[has]] > z[has]
            excl[~needed] = -1
    return col, row, z, excl


def horizon_at_points(dsm: Dsm, x: Any, y: Any, z_m: Any, *, exclude_owner: Any = None,
                      n_sectors: int = ShadingConfig.n_sectors,
                      radius_m: float = ShadingConfig.search_radius_m) -> np.ndarray:
    """Horizon elevation angle in each azimuth sector, seen from points above the DSM.

    One ray per sector, along the sector's centre azimuth, from the observer at height ``z_m``
    out to ``radius_m`` (or the DSM's edge; beyond it the ground is taken as open). Cells are
    flat-topped prisms: a cell at entry distance t along the ray with height h contributes
    ``atan((h - z) / t)``; the observer's own cell is skipped, and so are cells owned by
    ``exclude_owner[i]`` (the roof's own building). Negative angles clip to 0, so the result is in
    [0, 90).

    Step rule (compiled with numba, parallel over points; no Python loop per step): a hierarchical
    traversal of a max-pyramid of the DSM (2 x 2 maxima, levels of 1, 2, 4 ... 32 cells; Tevs et al.
    2008). A block whose maximum cannot raise the current horizon at its nearest remaining distance
    is stepped over whole; this test is exact. Other blocks are refined until their side s satisfies
    ``s <= t / 64`` (t = distance along the ray), and then their maximum counts at distance t. So:

    * within 128 cells of the observer every cell the ray crosses is visited exactly (no building,
      however thin, is missed, and the angle is exact for the rasterised prisms);
    * farther out a block's maximum may come from a cell up to ``sqrt(2) * s <= 0.022 t`` off the
      ray or nearer than t. Hence the result is never below the exact centre-ray horizon, its lateral
      reach stays inside a 5 deg sector (tan 2.5 deg = 0.044), and tan(h) is overestimated by at most a
      factor ``1 + sqrt(2)/64 ~ 1.022`` for what the ray itself crosses: <= 0.65 deg at any elevation
      (the bound 0.011 sin h cos h rad peaks at h = 45 deg), and only for obstacles beyond 128 cells.

    Parameters
    ----------
    dsm : Dsm
    x, y : array-like
        Observer positions in the DSM's CRS; must lie on the DSM. [m]
    z_m : float or array-like
        Observer height in the DSM's vertical reference (above ground for a rasterised DSM). [m]
    exclude_owner : int or array-like, optional
        Owner index whose cells each observer ignores; -1 / None = none.
    n_sectors : int
        Number of azimuth sectors.
    radius_m : float
        Search radius. [m]

    Returns
    -------
    numpy.ndarray
        float32 (n_points, n_sectors), sector k centred on azimuth ``k * 360 / n_sectors``. [deg]
    """
    if not radius_m > 0:
        raise InputError(f"radius_m = {radius_m!r} must be > 0 (default 300 m)")
    sector_azimuths_deg(n_sectors)
    col, row, z, excl = _point_arrays(dsm, x, y, z_m, exclude_owner)
    return _horizons(dsm, _build_pyramid(dsm), col, row, z, excl, int(n_sectors), float(radius_m))


def iter_horizons_at_points(dsm: Dsm, x: Any, y: Any, z_m: Any, *, exclude_owner: Any = None,
                            n_sectors: int = ShadingConfig.n_sectors,
                            radius_m: float = ShadingConfig.search_radius_m,
                            chunk_points: int = _CHUNK_POINTS) -> Iterator[tuple[slice, np.ndarray]]:
    """:func:`horizon_at_points` chunk by chunk, with one max-pyramid for all chunks.

    For millions of observers (every roof cell of a raster): memory holds one chunk's horizons,
    not all of them.

    Parameters
    ----------
    dsm, x, y, z_m, exclude_owner, n_sectors, radius_m
        As :func:`horizon_at_points`.
    chunk_points : int
        Observers per chunk.

    Yields
    ------
    (slice, numpy.ndarray)
        The observers of the chunk and their horizons, float32 (chunk, n_sectors). [deg]
    """
    if not radius_m > 0:
        raise InputError(f"radius_m = {radius_m!r} must be > 0 (default 300 m)")
    sector_azimuths_deg(n_sectors)
    col, row, z, excl = _point_arrays(dsm, x, y, z_m, exclude_owner)
    pyr = _build_pyramid(dsm)
    step = max(1, int(chunk_points))
    for a in range(0, col.size, step):
        b = min(col.size, a + step)
        yield slice(a, b), _horizons(dsm, pyr, col[a:b], row[a:b], z[a:b], excl[a:b], int(n_sectors),
                                     float(radius_m))


def sky_view_factor(horizon_deg: Any) -> np.ndarray:
    """Isotropic sky-view factor of a horizontal surface from its horizon profile. [0-1]

    ``SVF = 1 - (1/2 pi) * integral sin^2 h(phi) dphi = mean_k cos^2 h_k`` over equal azimuth
    sectors: the cosine-weighted share of the hemisphere above the horizon (Dozier & Frew 1990,
    IEEE Trans. Geosci. Remote Sens. 28(5):963-969, with zero slope; Oke 1987, *Boundary Layer
    Climates*, 2nd ed.: for the floor centre of an infinite street canyon this gives
    cos(atan(2H/W))).

    Parameters
    ----------
    horizon_deg : array-like
        Horizon elevation, sectors along the last axis. [deg]

    Returns
    -------
    numpy.ndarray
        Shape of ``horizon_deg`` without its last axis. [0-1]
    """
    h = np.asarray(horizon_deg)
    if h.ndim >= 1 and 0 < h.shape[-1] <= _k.PAIRWISE_BLOCK and h.dtype in (np.float32, np.float64):
        rows = np.ascontiguousarray(h.reshape(-1, h.shape[-1]))
        out = np.empty(rows.shape[0], dtype=np.float64)
        _k.sky_view_rows(rows, out)  # numba, in parallel: the same numbers as below
        return out.reshape(h.shape[:-1])
    h = np.radians(np.clip(np.asarray(h, dtype=np.float64), 0.0, 90.0))
    return np.mean(np.cos(h) ** 2, axis=-1)


def quantile_levels(n_quantiles: int) -> np.ndarray:
    """Mid-levels ``(j + 0.5) / n`` of the roof-profile quantiles, e.g. (1/6, 1/2, 5/6) for n = 3."""
    if int(n_quantiles) < 1:
        raise InputError(f"n_quantiles = {n_quantiles!r} must be >= 1")
    return (np.arange(int(n_quantiles), dtype=np.float64) + 0.5) / int(n_quantiles)


def roof_horizons(dsm: Dsm, geometry: Any, roof_height_m: Any, owner_index: Any, *,
                  n_sectors: int = ShadingConfig.n_sectors, radius_m: float = ShadingConfig.search_radius_m,
                  points_per_100m2: float = ShadingConfig.points_per_100m2,
                  max_points: int = ShadingConfig.max_points_per_roof, n_quantiles: int = ShadingConfig.n_quantiles,
                  progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Horizon profiles and sky-view factors of roofs, keeping the share of each roof in shade.

    Each roof is sampled with :func:`sample_roof_points`; the points' horizons at the roof's
    height, ignoring the roof's own building, become the roof's quantile profiles
    (:func:`profiles_at_points`), so the shaded share of the roof survives, not just whether
    the worst point is shaded.

    Parameters
    ----------
    dsm : Dsm
    geometry : GeoSeries or sequence of polygons
        Roof (usable-area) polygons in the DSM's CRS.
    roof_height_m : array-like or None
        Observer height of each roof in the DSM's vertical reference; None = the DSM's own height
        under each point (a DSM read from file without DEM). [m]
    owner_index : array-like of int or None
        Owner value (building index in the DSM's owner raster) of each roof's building; -1 / None =
        exclude nothing.
    n_sectors, radius_m
        See :func:`horizon_at_points`. [-, m]
    points_per_100m2, max_points
        See :func:`sample_roof_points`.
    n_quantiles : int
        Profiles per roof (1 = the median point's profile).
    progress : callable, optional
        Called as ``progress(roofs_done, n_roofs)`` after each chunk of points.

    Returns
    -------
    horizon_deg : numpy.ndarray
        float32 (n_roofs, n_quantiles, n_sectors), ascending along axis 1. NaN for roofs without
        geometry. [deg]
    sky_view_frac : numpy.ndarray
        float64 (n_roofs,): mean point sky-view factor (NaN without geometry). [0-1]
    """
    geoms, geo_crs = _geometry_array(geometry)
    _check_crs(dsm, geo_crs)
    n_roofs = len(geoms)
    x, y, ri = sample_roof_points(geoms, points_per_100m2=points_per_100m2, max_points=max_points)
    if roof_height_m is None:
        z = dsm_height_at(dsm, x, y)
    else:
        rh = np.asarray(roof_height_m, dtype=np.float64).reshape(-1)
        if rh.shape[0] != n_roofs:
            raise InputError(f"roof_horizons: {rh.shape[0]} roof heights for {n_roofs} roofs; give one per roof")
        z = rh[ri]
    if owner_index is None:
        excl = None
    else:
        oi = np.asarray(owner_index, dtype=np.int64).reshape(-1)
        if oi.shape[0] != n_roofs:
            raise InputError(f"roof_horizons: {oi.shape[0]} owner indices for {n_roofs} roofs; give one per roof")
        excl = oi[ri]
    return profiles_at_points(dsm, x, y, z, ri, n_roofs, exclude_owner=excl, n_sectors=n_sectors,
                              radius_m=radius_m, n_quantiles=n_quantiles, progress=progress)


def profiles_at_points(dsm: Dsm, x: Any, y: Any, z_m: Any, surface_index: Any, n_surfaces: int, *,
                       exclude_owner: Any = None, n_sectors: int, radius_m: float, n_quantiles: int,
                       progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Horizon profiles of surfaces from the horizons of their sample points.

    Every point's horizon comes from :func:`horizon_at_points`; per surface and sector the
    points' horizons are sorted and read at the quantile levels ``(j + 0.5) / n_quantiles``
    (value of rank ``min(floor(q n), n - 1)`` of n points), so each of the ``n_quantiles``
    values stands for an equal share of the surface: at a sun elevation e in sector k, the
    share of the values above e is the shaded share of the surface's points to within
    1 / (2 n_quantiles) (exact when n = n_quantiles), not just whether the worst point is
    shaded. One function for roofs, facades, carports and any other resource.

    Parameters
    ----------
    dsm : Dsm
    x, y : array-like (n_points,)
        Sample points in the DSM's CRS. [m]
    z_m : array-like (n_points,)
        Observer heights in the DSM's vertical reference. [m]
    surface_index : array-like of int (n_points,)
        Position of each point's surface, ascending.
    n_surfaces : int
        Number of surfaces; a surface without points gets NaN.
    exclude_owner : array-like of int (n_points,), optional
        Owner value each point ignores (its own building); -1 / None = none.
    n_sectors, radius_m
        See :func:`horizon_at_points`. [-, m]
    n_quantiles : int
        Profiles per surface (1 = the median point's profile).
    progress : callable, optional
        Called as ``progress(surfaces_done, n_surfaces)`` after each chunk of points.

    Returns
    -------
    horizon_deg : numpy.ndarray
        float32 (n_surfaces, n_quantiles, n_sectors), ascending along axis 1. [deg]
    sky_view_frac : numpy.ndarray
        float64 (n_surfaces,): mean horizontal sky-view factor of the points
        (:func:`sky_view_factor`; NaN without points). [0-1]
    """
    levels = quantile_levels(n_quantiles)
    sector_azimuths_deg(n_sectors)
    if not radius_m > 0:
        raise InputError(f"radius_m = {radius_m!r} must be > 0")
    si = np.asarray(surface_index, dtype=np.int64).reshape(-1)
    n_surfaces = int(n_surfaces)
    if si.size and (np.any(np.diff(si) < 0) or si[0] < 0 or si[-1] >= n_surfaces):
        raise InputError(f"surface_index must ascend within 0..{n_surfaces - 1}")
    excl = None if exclude_owner is None else np.asarray(exclude_owner, dtype=np.int64).reshape(-1)
    col, row, z, excl = _point_arrays(dsm, x, y, z_m, excl)
    if si.size != col.size:
        raise InputError(f"{si.size} surface indices for {col.size} points; give one per point")
    pyr = _build_pyramid(dsm)
    h_pts = np.empty((col.size, int(n_sectors)), dtype=np.float32)
    for a in range(0, max(col.size, 1), _CHUNK_POINTS):
        b = min(col.size, a + _CHUNK_POINTS)
        if b > a:
            h_pts[a:b] = _horizons(dsm, pyr, col[a:b], row[a:b], z[a:b], excl[a:b], int(n_sectors),
                                   float(radius_m))
        if progress is not None:  # surfaces whose points are all done
            progress(int(si[b - 1]) + 1 if b < col.size else n_surfaces, n_surfaces)
    svf_pts = sky_view_factor(h_pts)
    if col.size == n_surfaces and (si == np.arange(n_surfaces)).all():
        # one point per surface (module row segments): every quantile of one value is that value
        return (np.ascontiguousarray(np.broadcast_to(h_pts[:, None, :], (n_surfaces, levels.size, int(n_sectors)))),
                np.asarray(svf_pts, dtype=np.float64))
    start = np.searchsorted(si, np.arange(n_surfaces), side="left")
    stop = np.searchsorted(si, np.arange(n_surfaces), side="right")
    out_h = np.empty((n_surfaces, levels.size, int(n_sectors)), dtype=np.float32)
    out_svf = np.empty(n_surfaces, dtype=np.float64)
    if n_surfaces:
        _k.aggregate_roofs(h_pts, svf_pts, start.astype(np.int64), stop.astype(np.int64), levels, out_h, out_svf)
    return out_h, out_svf


def _check_crs(dsm: Dsm, geo_crs: Any) -> None:
    if geo_crs is None or dsm.crs is None:
        return
    from pyproj import CRS

    try:
        same = CRS.from_user_input(geo_crs) == CRS.from_user_input(dsm.crs)
    except Exception:  # an unparsable CRS is reported by the stage that read it
        return
    if not same:
        raise CRSError(f"roofs are in {CRS.from_user_input(geo_crs).to_string()} but the DSM is in "
                       f"{CRS.from_user_input(dsm.crs).to_string()}; reproject the roofs with to_crs()")


# --------------------------------------------------------------------------- large areas, tile by tile


def buildings_dsm_source(geometry: Any, height_m: Any, *, resolution_m: float = ShadingConfig.dsm_resolution_m, crs: Any = None,
                         obstacles: Any = None) -> Callable[[tuple[float, float, float, float]], Dsm]:
    """A function ``bounds -> Dsm`` rasterising only the buildings near ``bounds``.

    For :func:`roof_horizons_tiled`: owners are the buildings' positions in ``geometry`` (global
    indices), so a roof's ``owner_index`` is its building's position. Grids of different tiles are
    aligned on multiples of ``resolution_m``.

    Parameters
    ----------
    geometry, height_m, resolution_m, crs, obstacles
        As for :func:`dsm_from_buildings`.
    """
    geoms, geo_crs = _geometry_array(geometry)
    heights = _check_heights(height_m, len(geoms), "buildings_dsm_source")
    tree = shapely.STRtree(geoms)
    ob_tree = ob_geoms = ob_h = None
    if obstacles is not None:
        if isinstance(obstacles, tuple):
            ob_geoms, ob_h = _geometry_array(obstacles[0])[0], np.asarray(obstacles[1], dtype=np.float64)
        else:
            ob_geoms, ob_h = _geometry_array(obstacles)[0], obstacles["height_m"].to_numpy(dtype=np.float64)
        ob_tree = shapely.STRtree(ob_geoms)
    out_crs = crs if crs is not None else geo_crs

    def source(bounds: tuple[float, float, float, float]) -> Dsm:
        idx = np.sort(tree.query(shapely.box(*bounds)))
        obs = None
        if ob_tree is not None:
            oi = np.sort(ob_tree.query(shapely.box(*bounds)))
            obs = (ob_geoms[oi], ob_h[oi])
        return dsm_from_buildings(geoms[idx], heights[idx], resolution_m=resolution_m, bounds=bounds,
                                  crs=out_crs, obstacles=obs, owner_ids=idx)

    return source


def iter_roof_tiles(geometry: Any, *, tile_size_m: float = ShadingConfig.tile_size_m,
                    halo_m: float = ShadingConfig.search_radius_m) -> Iterator[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """Group roofs into square tiles: yields (roof positions, bounds the tile's DSM must cover).

    A roof belongs to the tile holding the centre of its bounding box; the bounds are the union of
    its roofs' bounding boxes grown by ``halo_m`` (the search radius), so every ray of every roof
    stays inside its tile's DSM. Tiles are yielded row by row; empty tiles are skipped.

    Parameters
    ----------
    geometry : GeoSeries or sequence of polygons
    tile_size_m : float
        Side of a tile. [m]
    halo_m : float
        Margin around the tile's roofs. [m]
    """
    if not tile_size_m > 0:
        raise InputError(f"tile_size_m = {tile_size_m!r} must be > 0 (default 3000 m)")
    geoms, _ = _geometry_array(geometry)
    b = shapely.bounds(geoms)
    ok = np.isfinite(b).all(axis=1)
    cx = np.where(ok, (b[:, 0] + b[:, 2]) / 2, 0.0)
    cy = np.where(ok, (b[:, 1] + b[:, 3]) / 2, 0.0)
    tx = np.floor(cx / tile_size_m).astype(np.int64)
    ty = np.floor(cy / tile_size_m).astype(np.int64)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((tx[idx], -ty[idx]))]
    keys = np.stack([tx[order], ty[order]], axis=1)
    if order.size == 0:
        return
    cut = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    for part in np.split(order, cut):
        bb = b[part]
        yield np.sort(part), (float(bb[:, 0].min() - halo_m), float(bb[:, 1].min() - halo_m),
                              float(bb[:, 2].max() + halo_m), float(bb[:, 3].max() + halo_m))


def roof_horizons_tiled(geometry: Any, roof_height_m: Any, owner_index: Any, dsm_source: Any, *,
                        tile_size_m: float = ShadingConfig.tile_size_m, n_sectors: int = ShadingConfig.n_sectors,
                        radius_m: float = ShadingConfig.search_radius_m,
                        points_per_100m2: float = ShadingConfig.points_per_100m2,
                        max_points: int = ShadingConfig.max_points_per_roof,
                        n_quantiles: int = ShadingConfig.n_quantiles,
                        progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`roof_horizons` tile by tile, so memory is bounded by one tile plus its halo.

    Parameters
    ----------
    geometry, roof_height_m, owner_index
        As for :func:`roof_horizons` (``roof_height_m`` may be None).
    dsm_source : Dsm or callable
        A DSM in memory (cropped per tile), or a function ``bounds -> Dsm`` such as
        :func:`buildings_dsm_source` or ``functools.partial(read_dsm, path, crs=..., dem_path=...)``.
    tile_size_m : float
        Side of a tile (:func:`iter_roof_tiles`); the halo is ``radius_m``. 3000 m tiles with a 300 m
        halo rasterise 1.44 x the area once (2000 m: 1.69 x) for about 13 M cells, 200 MB, per tile. [m]
    progress : callable, optional
        Called as ``progress(roofs_done, roofs_total)`` after each tile.

    Returns
    -------
    horizon_deg, sky_view_frac
        As for :func:`roof_horizons`, in the order of ``geometry``.
    """
    geoms, geo_crs = _geometry_array(geometry)
    n_roofs = len(geoms)
    levels = quantile_levels(n_quantiles)
    out_h = np.full((n_roofs, levels.size, int(n_sectors)), np.nan, dtype=np.float32)
    out_svf = np.full(n_roofs, np.nan, dtype=np.float64)
    rh = None if roof_height_m is None else np.asarray(roof_height_m, dtype=np.float64).reshape(-1)
    oi = None if owner_index is None else np.asarray(owner_index, dtype=np.int64).reshape(-1)
    for arr, name in ((rh, "roof heights"), (oi, "owner indices")):
        if arr is not None and arr.shape[0] != n_roofs:
            raise InputError(f"roof_horizons_tiled: {arr.shape[0]} {name} for {n_roofs} roofs; give one per roof")
    done = 0
    for part, bounds in iter_roof_tiles(geoms, tile_size_m=tile_size_m, halo_m=radius_m):
        dsm = crop_dsm(dsm_source, bounds) if isinstance(dsm_source, Dsm) else dsm_source(bounds)
        _check_crs(dsm, geo_crs)
        h, s = roof_horizons(dsm, geoms[part], None if rh is None else rh[part], None if oi is None else oi[part],
                             n_sectors=n_sectors, radius_m=radius_m, points_per_100m2=points_per_100m2,
                             max_points=max_points, n_quantiles=n_quantiles)
        out_h[part] = h
        out_svf[part] = s
        done += part.size
        if progress is not None:
            progress(done, n_roofs)
        del dsm
    return out_h, out_svf


def snapped_bounds(bounds, pad_m: float, resolution_m: float) -> tuple[float, float, float, float]:
    """Bounds grown by ``pad_m`` and snapped outward to multiples of ``resolution_m``.

    Snapping puts every DSM of a run on one global grid, so a tile's DSM and the
    whole-area DSM agree cell for cell (partitioned == single-process results).
    """
    minx, miny, maxx, maxy = bounds
    r = float(resolution_m)
    return (np.floor((minx - pad_m) / r) * r, np.floor((miny - pad_m) / r) * r,
            np.ceil((maxx + pad_m) / r) * r, np.ceil((maxy + pad_m) / r) * r)


#: Angular width of Perez's horizon-brightening band above the horizon (Perez, Seals, Ineichen, Stewart &
#: Menicucci 1987, Solar Energy 39(3):221-231: a band of 6.5 deg). [deg]
HORIZON_BAND_WIDTH_DEG = 6.5
#: Azimuth sub-steps per horizon sector in :func:`plane_sky_view_frac` (midpoint rule; with 72 sectors the
#: error against the closed forms is below 1e-4, tests/test_energy.py).
_SKY_VIEW_SUBSTEPS = 4


@numba.njit(nogil=True, parallel=True, cache=True, fastmath={"nsz", "arcp", "contract"})
def _plane_sky_view_kernel(h_deg, cos_t, sin_t, cos_a, sin_a, band_deg, n_sub, out_sky, out_band):  # pragma: no cover
    n, n_q, n_s = h_deg.shape
    step = 2.0 * math.pi / n_s
    dphi = step / n_sub
    m = n_s * n_sub
    deg = math.pi / 180.0
    half_pi = 0.5 * math.pi
    # azimuth of every sub-step (sector k centred on k * step), shared by all planes
    cos_p = np.empty(m)
    sin_p = np.empty(m)
    for k in range(n_s):
        for j in range(n_sub):
            phi = k * step + (j + 0.5 - 0.5 * n_sub) * dphi
            cos_p[k * n_sub + j] = math.cos(phi)
            sin_p[k * n_sub + j] = math.sin(phi)
    # planes in blocks, so that the per-plane work arrays are allocated once per block, not per plane
    block = 256
    n_blocks = (n + block - 1) // block
    for bi in numba.prange(n_blocks):
        cd = np.empty(m)
        e0 = np.empty(m)
        a0 = np.empty(m)
        b0 = np.empty(m)
        cd_sum = np.empty(n_s)
        cd_pos = np.empty(n_s)
        e0_max = np.empty(n_s)
        band_w = 0.0
        have = False  # the arrays above hold the previous plane's orientation terms
        for r in range(bi * block, min(n, (bi + 1) * block)):
            ct = cos_t[r]
            st = sin_t[r]
            ca = cos_a[r]
            sa = sin_a[r]
            iso0 = 0.5 * (1.0 + ct)
            # per azimuth sub-step: cos(phi - a), and the elevation e0 below which the sky lies behind the
            # plane with its integrand terms (these depend on the plane only, not on the horizon):
            # tan e0 = -tan(beta) cos(phi - a); cos^2 e0 = 1 / (1 + tan^2), sin 2 e0 = 2 tan / (1 + tan^2);
            # kept from the previous plane when it has the same orientation (the row segments of one roof)
            if have and ct == cos_t[r - 1] and st == sin_t[r - 1] and ca == cos_a[r - 1] and sa == sin_a[r - 1]:
                n_orient = 0
            else:
                n_orient = n_s
                have = True
                band_w = 0.0
            for k in range(n_orient):
                s_c = 0.0
                s_p = 0.0
                e_m = 0.0
                for j in range(n_sub):
                    i = k * n_sub + j
                    c = cos_p[i] * ca + sin_p[i] * sa
                    cd[i] = c
                    lo = 0.0
                    a_lo = 0.5
                    b_lo = 0.25 * math.pi
                    if c < 0.0 and st > 0.0:
                        if ct > 1e-12:
                            tn = -st * c / ct
                            inv = 1.0 / (1.0 + tn * tn)
                            lo = math.atan(tn)
                            a_lo = 0.5 * inv
                            b_lo = 0.25 * math.pi - 0.5 * lo - 0.5 * tn * inv
                        else:
                            lo = half_pi
                            a_lo = 0.0
                            b_lo = 0.0
                    e0[i] = lo
                    a0[i] = a_lo
                    b0[i] = b_lo
                    s_c += c
                    if c > 0.0:
                        s_p += c
                    if lo > e_m:
                        e_m = lo
                cd_sum[k] = s_c
                cd_pos[k] = s_p
                e0_max[k] = e_m
                band_w += s_p
            sky_acc = 0.0
            band_acc = 0.0
            for q in range(n_q):
                vf = 0.0
                for k in range(n_s):
                    hd = h_deg[r, q, k]
                    if hd < 0.0:
                        hd = 0.0
                    elif hd > 90.0:
                        hd = 90.0
                    open_frac = 1.0 - hd / band_deg
                    if open_frac > 0.0:
                        band_acc += cd_pos[k] * open_frac
                    h = hd * deg
                    # (1/pi) int_lo^{pi/2} (ct sin e + st cd cos e) cos e de, lo = max(h, e0)
                    sh = math.sin(h)
                    ch = math.cos(h)
                    ah = 0.5 * ch * ch
                    bh = 0.25 * math.pi - 0.5 * h - 0.5 * sh * ch
                    if e0_max[k] <= h:  # the horizon is the limit all across the sector
                        vf += n_sub * ct * ah + st * bh * cd_sum[k]
                    else:
                        for j in range(n_sub):
                            i = k * n_sub + j
                            if e0[i] > h:
                                vf += ct * a0[i] + st * cd[i] * b0[i]
                            else:
                                vf += ct * ah + st * cd[i] * bh
                sky_acc += vf * dphi / math.pi / iso0
            rel = sky_acc / n_q
            out_sky[r] = 1.0 if rel > 1.0 else (0.0 if rel < 0.0 else rel)
            out_band[r] = band_acc / (band_w * n_q) if band_w > 0.0 else 1.0


def plane_sky_view_frac(horizon_deg: Any, tilt_deg: Any, azimuth_deg: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sky view of a tilted plane above its horizon, relative to the open sky, and the open horizon band.

    The view factor from a plane (tilt beta, azimuth a) to the sky above a horizon
    h(phi) is ``F = (1/pi) int dphi int_{max(h, e0)}^{pi/2} cos(theta) cos(e) de``,
    with ``cos(theta) = cos(beta) sin(e) + sin(beta) cos(e) cos(phi - a)`` and
    ``e0`` the elevation below which the direction lies behind the plane; the
    inner integral is closed-form, the azimuth one a midpoint sum over the
    sectors (sub-divided). Returned relative to the open plane's
    ``(1 + cos beta) / 2`` (the isotropic sky term of Perez's model), averaged
    over the profile's quantiles. Closed forms it meets: uniform h on a
    horizontal plane, ``cos^2 h`` (:func:`sky_view_factor`); h = 0 on any plane,
    ``(1 + cos beta) / 2``; a vertical plane facing an infinite wall seen at
    elevation h, the 2-D view factor ``(1 - sin h) / 2``.

    The horizon band (Perez et al. 1987, :data:`HORIZON_BAND_WIDTH_DEG` wide) is
    open in a sector by ``1 - h / width`` (clipped to 0..1); its share seen by the
    plane is weighted by ``cos(phi - a)`` over the sectors in front of the plane
    (pvlib's horizon term ``F2 DHI sin(beta)`` is the same integral without
    obstruction).

    Parameters
    ----------
    horizon_deg : array (n, n_quantiles, n_sectors) or (n, n_sectors)
        Horizon per sector, sector k centred on azimuth ``k * 360 / n_sectors``. [deg]
    tilt_deg, azimuth_deg : array (n,)
        Plane tilt and azimuth (clockwise from north). [deg]

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Relative sky-view factor [0-1] and open share of the horizon band [0-1], shape (n,).
    """
    h = np.asarray(horizon_deg)
    if h.dtype not in (np.float32, np.float64):
        h = h.astype(np.float64)
    if h.ndim == 2:
        h = h[:, None, :]
    if h.ndim != 3:
        raise InputError(f"horizon_deg has shape {h.shape}; give (n, n_quantiles, n_sectors)")
    n = h.shape[0]
    t = np.radians(np.broadcast_to(np.asarray(tilt_deg, dtype=np.float64), (n,)))
    a = np.radians(np.broadcast_to(np.asarray(azimuth_deg, dtype=np.float64), (n,)))
    sky = np.empty(n)
    band = np.empty(n)
    if n:
        # degrees go in as given (float32 horizons are not copied to float64 radians)
        _plane_sky_view_kernel(np.ascontiguousarray(h), np.cos(t), np.sin(t), np.cos(a), np.sin(a),
                               float(HORIZON_BAND_WIDTH_DEG), _SKY_VIEW_SUBSTEPS, sky, band)
    return sky, band
