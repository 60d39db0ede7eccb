"""Module layout: modules placed one by one on every kept roof plane.

Stage 2 (resources/roofs), after :func:`pv_survey.roofs.layout_roofs` has found each plane's
usable polygon (the plane minus its edge setback), its mount, module tilt and azimuth and its
ground coverage ratio. Vectorised over all planes with numpy, a numba kernel for the cells inside
each polygon (:mod:`pv_survey._layout_kernel`, shapely for the cells on a polygon's boundary) and
shapely 2 for the output polygons; no Python loop per roof or per module.

Rules (docs: README "Module layout"):

* Each plane gets a grid in its own frame: ``v`` along the direction the modules face (plan
  view: the plane's downhill azimuth for flush modules, ``module_azimuth_deg`` for racks), ``u``
  along the rows. A grid cell is one module (``pair``: two back-to-back modules of an east-west
  row). Along a row the pitch is the module side plus ``gap_m``; across rows:

  - flush modules (pitched planes, flush category rules): plan depth ``L cos(tilt)``, row pitch
    ``depth / gcr`` (``roofs.pitched_gcr`` or the rule's coverage);
  - racked rows: plan depth ``L cos(module tilt)``, row pitch ``L / gcr`` (the solstice GCR of
    :func:`pv_survey.roofs.solstice_row_gcr`, or ``flat_gcr`` / the rule's coverage);
  - east-west rows: a pair of modules back to back (plan depth ``2 L cos(tilt)``) at pitch
    ``2 L / east_west_gcr``; the east halves belong to the plane's ``-E`` entry, the west ones to ``-W``.

  ``L`` is the module side across the row: the long side in portrait, the short one in landscape;
  each plane takes the orientation that fits more modules (portrait on a tie). The grid starts at
  the corner of the usable polygon's bounding box in that frame; a cell is kept when it lies
  inside the usable polygon.
* Obstacles: with a DSM file, cells standing more than ``obstacle_height_m`` above the plane
  (its median level, slope removed) are obstacles; every module touching an obstacle cell grown
  by ``clearance_m`` is removed (:func:`dsm_obstacle_cells`, :func:`remove_obstacle_modules`).
  Without a DSM file the obstacle-free share thins each plane's modules evenly and
  deterministically (:func:`thin_evenly`).
* Existing PV: a building's existing kWp is spread over its planes in proportion to their modules
  and that many modules (rounded) are taken off each plane's last rows.
* Segments: consecutive modules of one row, at most ``segment_max_modules``, form the unit of the
  per-module yield (the assessment ray-marches a horizon from each segment's centre).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import RoofsConfig
from .presets import ModulePreset
from .roofs import EXCLUDED

__all__ = ["NO_FIT", "Layout", "grid_cells", "thin_evenly", "dsm_obstacle_cells", "remove_obstacle_modules",
           "row_segments", "place_modules"]

#: Reason of a kept plane on which no module fits (its usable polygon narrower than a module).
NO_FIT = "no module fits the usable area / 无法布置组件"
#: Missing modules a row segment bridges (the gaps :func:`thin_evenly` leaves are one module wide;
#: an obstacle with its clearance takes two or more and splits the segment). Project choice.
MAX_BRIDGED_COLS = 1
#: Numerical margin of the inside test: a cell may touch the usable polygon's edge. [m]
EPS_M = 1e-6
#: Distance from the polygon's boundary below which the numba inside test leaves a corner or a
#: cell to shapely (its rounding errors are below 1e-12 m in a roof's own frame). [m]
SURE_M = 1e-8


def _axes(azimuth_deg):
    """Unit vectors (plan view) of the facing direction f and the row direction r, per roof."""
    a = np.radians(np.asarray(azimuth_deg, dtype=float))
    f = np.stack([np.sin(a), np.cos(a)], axis=-1)
    r = np.stack([np.cos(a), -np.sin(a)], axis=-1)
    return f, r


def _to_local(geoms, origin, f, r):
    """Polygons expressed in each roof's (u along the row, v along the facing) frame."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    return shapely.set_coordinates(np.array(geoms, dtype=object, copy=True), _local_xy(coords, idx, origin, f, r))


def grid_cells(usable_geometry, facing_azimuth_deg, module_tilt_deg, rack, gcr, *, length_m: float,
               width_m: float, gap_m: float = RoofsConfig.module_gap_m, pair=None,
               reference: bool = False) -> dict[str, np.ndarray]:
    """Module cells that fit each usable polygon, portrait or landscape, whichever fits more.

    Parameters
    ----------
    usable_geometry : array of Polygon / MultiPolygon (n,)
        Usable plan area of each plane (metric CRS). [m]
    facing_azimuth_deg : array (n,)
        Plan direction the modules face (a row's normal), clockwise from north. [deg]
    module_tilt_deg : array (n,)
        Module tilt from horizontal. [deg]
    rack : array of bool (n,)
        Racked rows (row pitch ``L / gcr``) rather than flush modules (pitch ``L cos(tilt) / gcr``).
    gcr : array (n,)
        Ground coverage ratio across the rows. [-]
    length_m, width_m : float
        Module sides (long, short). [m]
    gap_m : float
        Gap between modules along a row. [m]
    pair : array of bool (n,), optional
        Cells are back-to-back pairs of modules (east-west rows).
    reference : bool
        Decide every cell with shapely (``contains_xy`` on its corners, ``contains`` on a non-convex
        polygon) instead of the numba kernel (:mod:`pv_survey._layout_kernel`), which decides the
        cells it is certain of and leaves the others to the same shapely test: the same cells.

    Returns
    -------
    dict of arrays, one entry per placed cell, ordered by roof, row, column:
        ``roof`` (position in the input), ``row``, ``col``, ``u0``, ``v0`` (cell corner in the
        roof frame) [m]; and per roof: ``count`` (cells), ``portrait`` (bool), ``along_m`` (module side
        along the row), ``depth_m`` (plan depth of a cell), ``origin`` (n, 2) and the axes ``f``, ``r`` (n, 2).
    """
    from ._layout_kernel import count_cells, decode_cells

    geoms = np.asarray(usable_geometry, dtype=object)
    n = len(geoms)
    tilt = np.radians(np.asarray(module_tilt_deg, dtype=float))
    rack = np.asarray(rack, dtype=bool)
    gcr = np.asarray(gcr, dtype=float)
    k = np.where(np.asarray(pair, dtype=bool), 2.0, 1.0) if pair is not None else np.ones(n)
    f, r = _axes(facing_azimuth_deg)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if n else np.zeros(0, bool)
    origin = np.zeros((n, 2))
    if valid.any():
        b = shapely.bounds(geoms[valid])
        origin[valid] = b[:, :2]
    rings = _local_rings(geoms, valid, origin, f, r)
    lb = rings.bounds
    span_u = np.where(valid, lb[:, 2] - lb[:, 0], 0.0)
    span_v = np.where(valid, lb[:, 3] - lb[:, 1], 0.0)
    cands = []
    for portrait in (True, False):
        along = width_m if portrait else length_m
        slant = (length_m if portrait else width_m) * k
        depth = slant * np.cos(tilt)
        g_ok = np.where(gcr > 0, gcr, 1.0)
        pitch_v = np.where(rack, slant / g_ok, depth / g_ok)
        pitch_u = along + gap_m
        nu = np.where(valid, np.floor((span_u + gap_m) / pitch_u + 1e-9), 0).astype(np.int64)
        nv = np.where(valid & (span_v >= depth - 1e-9),
                      np.floor((span_v - depth) / pitch_v + 1e-9) + 1, 0).astype(np.int64)
        nu, nv = np.maximum(nu, 0), np.maximum(nv, 0)
        total = nu * nv
        start = np.concatenate([[0], np.cumsum(total)[:-1]]) if n else np.zeros(0, np.int64)
        if reference:
            status = _status_shapely(geoms, valid, origin, f, r, lb, nu, nv, pitch_u, pitch_v, along, depth, start)
        else:
            status = _status_fast(geoms, rings, origin, f, r, lb, nu, nv, pitch_u, pitch_v, along, depth, start)
        count = np.zeros(n, np.int64)
        count_cells(status, start, total, count)
        cands.append(dict(status=status, count=count, start=start, nu=nu, total=total, pitch_u=pitch_u,
                          pitch_v=pitch_v, along=along, depth=depth))
    p, land = cands
    portrait = p["count"] >= land["count"]
    n_out = np.where(portrait, p["count"], land["count"])
    first_out = np.concatenate([[0], np.cumsum(n_out)[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64)
    m = int(n_out.sum())
    roof = np.repeat(np.arange(n), n_out)
    out = {"roof": roof, "row": np.empty(m, np.int64), "col": np.empty(m, np.int64)}
    decode_cells(p["status"], p["start"], p["nu"], p["total"], land["status"], land["start"], land["nu"],
                 land["total"], portrait, first_out, out["row"], out["col"])
    pitch_u = np.where(portrait, p["pitch_u"], land["pitch_u"])[roof]
    pitch_v = np.where(portrait, p["pitch_v"], land["pitch_v"])[roof]
    out["u0"] = lb[roof, 0] + out["col"] * pitch_u
    out["v0"] = lb[roof, 1] + out["row"] * pitch_v
    out["portrait"] = portrait
    out["count"] = n_out
    out["along_m"] = np.where(portrait, p["along"], land["along"])
    out["depth_m"] = np.where(portrait, p["depth"], land["depth"])
    out["origin"], out["f"], out["r"] = origin, f, r
    return out


@dataclass
class _Rings:
    """Every valid polygon's rings in its roof frame: closed runs ``xy[start[k]:start[k] + length[k]]``;
    roof ``i`` has the rings ``ring[ptr[i]:ptr[i + 1]]``; ``bounds`` (n, 4) in the frame (NaN when
    invalid); ``other``: valid geometries that are not (multi)polygons (decided by shapely)."""

    xy: np.ndarray
    start: np.ndarray
    length: np.ndarray
    ring: np.ndarray
    ptr: np.ndarray
    bounds: np.ndarray
    other: np.ndarray


def _local_xy(coords, idx, origin, f, r) -> np.ndarray:
    """Coordinates in their roof's frame (u along the row, v along the facing)."""
    d = coords - origin[idx]
    return np.stack([(d * r[idx]).sum(axis=1), (d * f[idx]).sum(axis=1)], axis=1)


def _local_rings(geoms, valid, origin, f, r) -> _Rings:
    """The rings of every valid polygon in its roof frame (the coordinates of :func:`_to_local`)."""
    n = len(geoms)
    tid = shapely.get_type_id(geoms)
    simple = valid & (tid == 3)
    simple[simple] = shapely.get_num_interior_rings(geoms[simple]) == 0
    multi = np.flatnonzero(valid & ~simple & ((tid == 3) | (tid == 6)))
    other = valid & ~simple & (tid != 3) & (tid != 6)
    si = np.flatnonzero(simple)
    coords, idx = shapely.get_coordinates(geoms[si], return_index=True)
    ring_roof = [si]
    ring_len = [np.bincount(idx, minlength=si.size)]
    all_coords, all_idx = [coords], [si[idx]]
    if multi.size:  # holes or several parts: one ring at a time
        parts, part_of = shapely.get_parts(geoms[multi], return_index=True)
        rr, ring_of = shapely.get_rings(parts, return_index=True)
        c2, i2 = shapely.get_coordinates(rr, return_index=True)
        roof_of_ring = multi[part_of[ring_of]]
        ring_roof.append(roof_of_ring)
        ring_len.append(np.bincount(i2, minlength=rr.size))
        all_coords.append(c2)
        all_idx.append(roof_of_ring[i2])
    coords, idx = np.concatenate(all_coords), np.concatenate(all_idx)
    xy = _local_xy(coords, idx, origin, f, r)
    ring_roof, ring_len = np.concatenate(ring_roof), np.concatenate(ring_len)
    ring_start = np.concatenate([[0], np.cumsum(ring_len)[:-1]]).astype(np.int64)
    ring = np.argsort(ring_roof, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(ring_roof, minlength=n))]).astype(np.int64)
    bounds = np.tile([np.inf, np.inf, -np.inf, -np.inf], (n, 1))
    np.minimum.at(bounds[:, 0], idx, xy[:, 0])
    np.minimum.at(bounds[:, 1], idx, xy[:, 1])
    np.maximum.at(bounds[:, 2], idx, xy[:, 0])
    np.maximum.at(bounds[:, 3], idx, xy[:, 1])
    bounds[np.bincount(idx, minlength=n) == 0] = np.nan
    if other.any():
        bounds[other] = shapely.bounds(_to_local(geoms[other], origin[other], f[other], r[other]))
    return _Rings(xy, ring_start, ring_len.astype(np.int64), ring.astype(np.int64), ptr, bounds, other)


def _status_fast(geoms, rings, origin, f, r, lb, nu, nv, pitch_u, pitch_v, along, depth, start) -> np.ndarray:
    """Inside status of every candidate cell: the numba kernel, then shapely for the cells it leaves open."""
    from ._layout_kernel import UNSURE, cell_status

    n_cand = int((nu * nv).sum())
    status = np.zeros(n_cand, dtype=np.int8)
    if n_cand:
        cell_status(rings.xy, rings.start, rings.length, rings.ring, rings.ptr, lb, nu, nv, float(pitch_u),
                    np.asarray(pitch_v, float), float(along), np.asarray(depth, float), start, EPS_M, SURE_M, status)
    if rings.other.any():  # not a polygon: every candidate cell to shapely
        total = nu * nv
        mark = rings.other & (total > 0)
        status[np.concatenate([np.arange(s, s + t) for s, t in zip(start[mark], total[mark])])] = UNSURE
    open_ = np.flatnonzero(status == UNSURE)
    if open_.size:
        roof = np.searchsorted(start, open_, side="right") - 1
        status[open_] = _decide_shapely(geoms, origin, f, r, lb, nu, pitch_u, pitch_v, along, depth, start,
                                        open_, roof)
    return status


def _status_shapely(geoms, valid, origin, f, r, lb, nu, nv, pitch_u, pitch_v, along, depth, start) -> np.ndarray:
    """Inside status of every candidate cell from shapely alone (the reference of the kernel)."""
    n = len(geoms)
    total = nu * nv
    roof = np.repeat(np.arange(n), total)
    cand = np.arange(total.sum())
    return _decide_shapely(geoms, origin, f, r, lb, nu, pitch_u, pitch_v, along, depth, start, cand, roof)


def _decide_shapely(geoms, origin, f, r, lb, nu, pitch_u, pitch_v, along, depth, start, cand, roof) -> np.ndarray:
    """Inside (1) or not (0) of the candidate cells ``cand`` of roofs ``roof``, with shapely."""
    if cand.size == 0:
        return np.zeros(0, dtype=np.int8)
    uniq, inv = np.unique(roof, return_inverse=True)
    local = _to_local(geoms[uniq], origin[uniq], f[uniq], r[uniq])
    shapely.prepare(local)
    area = shapely.area(local)
    convex = shapely.area(shapely.convex_hull(local)) - area <= 1e-9 * np.maximum(area, 1.0)
    kk = cand - start[roof]
    col = kk % np.maximum(nu[roof], 1)
    row = kk // np.maximum(nu[roof], 1)
    u0 = lb[roof, 0] + col * pitch_u
    v0 = lb[roof, 1] + row * pitch_v[roof]
    inside = _cells_inside(local, convex, inv, u0 + EPS_M, v0 + EPS_M, u0 + along - EPS_M, v0 + depth[roof] - EPS_M)
    return inside.astype(np.int8)


def _cells_inside(local, convex, roof, u0, v0, u1, v1) -> np.ndarray:
    """Whether each cell (u0..u1 x v0..v1 in its roof's frame) lies inside its roof's polygon.

    Its four corners inside decide it on a convex polygon; on any other the exact shapely test
    runs on the cells whose corners are all inside (a notch of the polygon may enter a cell).
    """
    if roof.size == 0:
        return np.zeros(0, dtype=bool)
    g = local[roof]
    inside = shapely.contains_xy(g, u0, v0)
    for uu, vv in ((u1, v0), (u1, v1), (u0, v1)):
        sel = np.flatnonzero(inside)
        inside[sel] = shapely.contains_xy(g[sel], uu[sel], vv[sel])
    exact = np.flatnonzero(inside & ~convex[roof])
    if exact.size:
        inside[exact] = shapely.contains(g[exact], shapely.box(u0[exact], v0[exact], u1[exact], v1[exact]))
    return inside


def _world_box_coords(u0, u1, v0, v1, roof, frames) -> np.ndarray:
    """Corners (m, 5, 2), closed, of rectangles given in roof frames (u0..u1 x v0..v1), in plan view.

    ``roof``: each rectangle's roof; ``frames``: the ``origin``, ``f``, ``r`` arrays of :func:`grid_cells`.
    """
    us = np.stack([u0, u1, u1, u0, u0], axis=1)
    vs = np.stack([v0, v0, v1, v1, v0], axis=1)
    o, f, r = frames["origin"][roof], frames["f"][roof], frames["r"][roof]
    x = o[:, None, 0] + us * r[:, None, 0] + vs * f[:, None, 0]
    y = o[:, None, 1] + us * r[:, None, 1] + vs * f[:, None, 1]
    return np.stack([x, y], axis=-1)


def _polygons(xy) -> np.ndarray:
    """Polygons from closed rings of 5 corners (m, 5, 2)."""
    m = len(xy)
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, np.ascontiguousarray(xy).reshape(-1, 2),
                                     (np.arange(0, 5 * m + 1, 5), np.arange(m + 1)))


def _box_centroids(xy) -> np.ndarray:
    """Centroids (m, 2) of rectangles given by their closed rings (m, 5, 2).

    The area-weighted centroid of the two triangles (p0, p1, p2) and (p0, p2, p3), summed in the
    order of GEOS's ``Centroid`` (a fan from the first corner; its two zero-area triangles add
    nothing): the same numbers as ``shapely.centroid`` on these polygons (tests/test_layout.py).
    """
    p0, p1, p2, p3 = (xy[:, i] for i in range(4))
    a1 = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    a2 = (p2[:, 0] - p0[:, 0]) * (p3[:, 1] - p0[:, 1]) - (p3[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1])
    c1 = p0 + p1 + p2
    c2 = p0 + p2 + p3
    return (a1[:, None] * c1 + a2[:, None] * c2) / 3 / (a1 + a2)[:, None]


def thin_evenly(rank, keep_frac: float = RoofsConfig.obstacle_free_frac) -> np.ndarray:
    """Keep ``keep_frac`` of a plane's modules, spread evenly: module ``k`` stays when
    ``floor((k + 1) f) > floor(k f)`` (exactly ``floor(n f)`` of ``n`` stay).

    Parameters
    ----------
    rank : array of int
        Position of each module among its plane's modules (0, 1, ...).
    keep_frac : float
        Share kept. [-]

    Returns
    -------
    numpy.ndarray of bool
    """
    k = np.asarray(rank, dtype=float)
    f = float(keep_frac)
    return np.floor((k + 1.0) * f + 1e-9) > np.floor(k * f + 1e-9)


def dsm_obstacle_cells(dsm: Any, plane_geometry, tilt_deg, azimuth_deg, *,
                       height_m: float = RoofsConfig.obstacle_height_m) -> tuple[np.ndarray, np.ndarray]:
    """DSM cells standing above their roof plane: plant rooms, water tanks, parapets.

    Each plane's cells (cell centres inside the plane polygon) are levelled by the plane's slope
    (``z + tan(tilt) * (p . d)``, d the downhill direction); the plane's level is the median of
    these values, and a cell more than ``height_m`` above it is an obstacle.

    Parameters
    ----------
    dsm : pv_survey.shading.Dsm
        Surface heights (``height_m``, ``transform``) covering the planes.
    plane_geometry : array of polygons (n,)
        Roof planes (plan view).
    tilt_deg, azimuth_deg : array (n,)
        Plane tilt and downhill azimuth. [deg]
    height_m : float
        Height above the plane from which a cell is an obstacle. [m]

    Returns
    -------
    roof : numpy.ndarray of int
        Plane of each obstacle cell (position in the input).
    cell : numpy.ndarray of polygons
        The obstacle cells' squares.
    """
    from rasterio import features

    geoms = np.asarray(plane_geometry, dtype=object)
    ok = np.flatnonzero([g is not None and not g.is_empty for g in geoms])
    if ok.size == 0:
        return np.empty(0, np.int64), np.empty(0, object)
    z = np.asarray(dsm.height_m)
    t = dsm.transform
    ids = features.rasterize(((geoms[i], int(i) + 1) for i in ok), out_shape=z.shape, transform=t, fill=0,
                             dtype="int32")
    rr, cc = np.nonzero(ids)
    roof = ids[rr, cc].astype(np.int64) - 1
    x = t.c + (cc + 0.5) * t.a
    y = t.f + (rr + 0.5) * t.e
    h = z[rr, cc].astype(float)
    fin = np.isfinite(h)
    roof, x, y, h, rr, cc = roof[fin], x[fin], y[fin], h[fin], rr[fin], cc[fin]
    a = np.radians(np.asarray(azimuth_deg, float))[roof]
    slope = np.tan(np.radians(np.asarray(tilt_deg, float)))[roof]
    b = shapely.bounds(geoms[ok])
    ox = np.zeros(len(geoms))
    oy = np.zeros(len(geoms))
    ox[ok], oy[ok] = b[:, 0], b[:, 1]
    level = h + slope * ((x - ox[roof]) * np.sin(a) + (y - oy[roof]) * np.cos(a))
    med = pd.Series(level).groupby(roof).transform("median").to_numpy()
    hit = level - med > float(height_m)
    x0 = t.c + cc[hit] * t.a
    y0 = t.f + rr[hit] * t.e
    cell = shapely.box(x0, np.minimum(y0, y0 + t.e), x0 + t.a, np.maximum(y0, y0 + t.e))
    return roof[hit], cell


def remove_obstacle_modules(module_geometry, module_roof, obstacle_roof, obstacle_cell, *,
                            clearance_m: float = RoofsConfig.obstacle_clearance_m) -> np.ndarray:
    """Modules clear of the obstacles of their own plane grown by ``clearance_m``.

    An obstacle cell is grown by ``clearance_m`` on every side (a square clearance); a module
    whose polygon overlaps it (more than touching) is removed.

    Returns
    -------
    numpy.ndarray of bool
        True for the modules kept.
    """
    keep = np.ones(len(module_geometry), dtype=bool)
    if len(obstacle_cell) == 0 or len(module_geometry) == 0:
        return keep
    grown = shapely.buffer(np.asarray(obstacle_cell, dtype=object), float(clearance_m) - EPS_M,
                           join_style="mitre", cap_style="square")
    tree = shapely.STRtree(grown)
    mi, oi = tree.query(np.asarray(module_geometry, dtype=object), predicate="intersects")
    same = np.asarray(module_roof)[mi] == np.asarray(obstacle_roof)[oi]
    keep[mi[same]] = False
    return keep


def row_segments(roof, row, col, *, max_modules: int = RoofsConfig.segment_max_modules) -> np.ndarray:
    """Segment number of each module: consecutive modules of one row, at most ``max_modules``
    (a gap of up to :data:`MAX_BRIDGED_COLS` missing modules does not split a segment).

    ``roof``, ``row``, ``col`` must be sorted by roof, row, col. Returns ids 0, 1, ... in that order.
    """
    roof, row, col = (np.asarray(a, dtype=np.int64) for a in (roof, row, col))
    n = roof.size
    if n == 0:
        return np.empty(0, np.int64)
    new_run = np.ones(n, dtype=bool)
    # a segment bridges one missing module (the even thinning leaves such gaps), not a wider gap
    new_run[1:] = (roof[1:] != roof[:-1]) | (row[1:] != row[:-1]) | (col[1:] > col[:-1] + MAX_BRIDGED_COLS + 1)
    run_start = np.flatnonzero(new_run)
    pos = np.arange(n) - np.repeat(run_start, np.diff(np.append(run_start, n)))
    return np.cumsum(new_run | (pos % int(max_modules) == 0)) - 1


@dataclass
class Layout:
    """Modules placed on a set of roof planes.

    Attributes
    ----------
    roofs : GeoDataFrame
        The planes with ``module``, ``n_modules``, ``n_rows``, ``module_orientation``
        ('portrait' / 'landscape' / ''), ``module_area_m2``, ``capacity_kwp`` from the modules,
        and ``excluded_reason`` (:data:`NO_FIT`, or ``covered`` when existing PV takes every module).
    segments : GeoDataFrame
        One row per row segment (the yield unit): ``segment_id``, ``roof_id``, ``building_id``,
        ``row``, ``n_modules``, ``capacity_kwp``, ``x_m``, ``y_m`` (centre), ``geometry``.
    modules : GeoDataFrame or None
        One polygon per module (``module_id``, ``roof_id``, ``building_id``, ``segment_id``, ``row``,
        ``col``) when asked for.
    """

    roofs: Any
    segments: Any
    modules: Any = None


def place_modules(roofs: gpd.GeoDataFrame, module: ModulePreset, *, gap_m: float = RoofsConfig.module_gap_m,
                  obstacle_free_frac: float = RoofsConfig.obstacle_free_frac, dsm: Any = None,
                  obstacle_height_m: float = RoofsConfig.obstacle_height_m,
                  obstacle_clearance_m: float = RoofsConfig.obstacle_clearance_m,
                  existing_pv_kwp: pd.Series | None = None,
                  segment_max_modules: int = RoofsConfig.segment_max_modules,
                  with_modules: bool = False) -> Layout:
    """Place modules on the kept planes of :func:`pv_survey.roofs.layout_roofs` (module docstring rules).

    Parameters
    ----------
    roofs : GeoDataFrame
        Output of ``layout_roofs`` (``usable_geometry``, ``mount``, ``module_tilt_deg``,
        ``module_azimuth_deg``, ``gcr``, ``excluded_reason``, ``_pair``), called without existing PV.
    module : pv_survey.presets.ModulePreset
    gap_m : float
        Gap between modules along a row. [m]
    obstacle_free_frac : float
        Share of modules kept when there is no DSM file. [-]
    dsm : pv_survey.shading.Dsm, optional
        A DSM read from a file: its obstacles are cut out instead of thinning.
    obstacle_height_m, obstacle_clearance_m : float
        See :func:`dsm_obstacle_cells`, :func:`remove_obstacle_modules`. [m]
    existing_pv_kwp : Series, optional
        building_id -> existing PV [kWp], taken off the new modules.
    segment_max_modules : int
        Modules per row segment.
    with_modules : bool
        Also return one polygon per module.

    Returns
    -------
    Layout
    """
    df = roofs.copy()
    n = len(df)
    reason = df["excluded_reason"].fillna("").to_numpy(object).copy()
    kept = reason == ""
    pair_col = df["_pair"].to_numpy(object) if "_pair" in df else np.full(n, "", dtype=object)
    is_pair = pair_col != ""
    mount = df["mount"].to_numpy(object)
    # an east-west pair is laid out facing east on both entries, so both halves share one grid
    facing = np.where(is_pair, 90.0, df["module_azimuth_deg"].to_numpy(float))
    usable = df["usable_geometry"].to_numpy(object).copy()
    usable[~kept] = None
    cells = grid_cells(usable, facing, df["module_tilt_deg"].to_numpy(float), mount == "rack",
                       df["gcr"].to_numpy(float), length_m=module.length_m, width_m=module.width_m, gap_m=gap_m,
                       pair=is_pair)
    ri = cells["roof"]
    # the half of a pair: east = the far half along the (eastward) facing axis
    half = pair_col[ri]
    o_geom = None
    if dsm is not None:  # every cell's polygon, to cut the obstacles
        along, depth, v0 = cells["along_m"][ri], cells["depth_m"][ri], cells["v0"]
        v_lo = np.where(half == "E", v0 + depth / 2.0, v0)
        v_hi = np.where(half == "W", v0 + depth / 2.0, v0 + depth)
        o_geom = _polygons(_world_box_coords(cells["u0"], cells["u0"] + along, v_lo, v_hi, ri, cells))
        o_roof, o_cell = dsm_obstacle_cells(dsm, np.where(kept, df.geometry.to_numpy(object), None),
                                            df["tilt_deg"].to_numpy(float), df["azimuth_deg"].to_numpy(float),
                                            height_m=obstacle_height_m)
        sel = np.flatnonzero(remove_obstacle_modules(o_geom, ri, o_roof, o_cell, clearance_m=obstacle_clearance_m))
    else:
        sel = np.flatnonzero(thin_evenly(_rank_within(ri, cells["count"]), obstacle_free_frac))
    count = np.bincount(ri[sel], minlength=n)
    covered = np.zeros(n, dtype=bool)
    if existing_pv_kwp is not None and len(existing_pv_kwp):
        bid = df["building_id"].to_numpy()
        exist = existing_pv_kwp.reindex(bid).fillna(0.0).to_numpy(float)
        total = pd.Series(count).groupby(bid).transform("sum").to_numpy(float)
        share = np.divide(count, total, out=np.zeros(n), where=total > 0)
        n_off = np.minimum(np.round(exist * share / module.kwp), count).astype(np.int64)
        covered = kept & (exist > 0) & (count > 0) & (n_off >= count)
        r_sel = ri[sel]
        from_end = count[r_sel] - 1 - _rank_within(r_sel, count)
        sel = sel[from_end >= n_off[r_sel]]
        count = np.bincount(ri[sel], minlength=n)
    reason[covered] = EXCLUDED["covered"]
    reason[kept & ~covered & (count == 0)] = NO_FIT
    built = reason == ""
    sel = sel[built[ri[sel]]]
    ri, row, col, u0, v0 = (cells[key][sel] for key in ("roof", "row", "col", "u0", "v0"))
    along, depth, half = cells["along_m"][ri], cells["depth_m"][ri], half[sel]
    v_lo = np.where(half == "E", v0 + depth / 2.0, v0)
    v_hi = np.where(half == "W", v0 + depth / 2.0, v0 + depth)
    count = np.bincount(ri, minlength=n)
    new_row = np.ones(ri.size, dtype=bool)
    new_row[1:] = (ri[1:] != ri[:-1]) | (row[1:] != row[:-1])
    n_rows = np.bincount(ri[new_row], minlength=n).astype(np.int64)

    df["excluded_reason"] = reason
    df["module"] = np.where(built, module.name, "")
    df["n_modules"] = count
    df["n_rows"] = n_rows
    df["module_orientation"] = np.where(built, np.where(cells["portrait"], "portrait", "landscape"), "")
    df["module_area_m2"] = count * module.area_m2
    df["capacity_kwp"] = count * module.kwp

    roof_id = df["roof_id"].to_numpy(object)
    building_id = df["building_id"].to_numpy(object)
    seg = row_segments(ri, row, col, max_modules=segment_max_modules)
    n_seg = int(seg.max()) + 1 if seg.size else 0
    first = np.flatnonzero(np.diff(seg, prepend=-1))
    last = np.append(first[1:], seg.size)[:n_seg] - 1
    s_roof = ri[first]
    s_n = last - first + 1
    s_xy = _world_box_coords(u0[first], u0[last] + along[last], v_lo[first], v_hi[first], s_roof, cells)
    s_geom = _polygons(s_xy)
    centre = _box_centroids(s_xy)
    seg_ids = np.array([f"{a}-S{b}" for a, b in zip(roof_id[s_roof], _rank_within(s_roof) + 1)], dtype=object)
    segments = gpd.GeoDataFrame({
        "segment_id": seg_ids, "roof_id": roof_id[s_roof], "building_id": building_id[s_roof],
        "row": row[first] + 1, "n_modules": s_n, "capacity_kwp": s_n * module.kwp,
        "x_m": centre[:, 0], "y_m": centre[:, 1]}, geometry=s_geom, crs=roofs.crs)
    modules = None
    if with_modules:
        m_geom = o_geom[sel] if o_geom is not None else \
            _polygons(_world_box_coords(u0, u0 + along, v_lo, v_hi, ri, cells))
        modules = gpd.GeoDataFrame({
            "module_id": np.array([f"{a}-M{b}" for a, b in zip(roof_id[ri], _rank_within(ri, count) + 1)],
                                  dtype=object),
            "roof_id": roof_id[ri], "building_id": building_id[ri], "segment_id": seg_ids[seg], "row": row + 1,
            "col": col + 1}, geometry=m_geom, crs=roofs.crs)
    return Layout(gpd.GeoDataFrame(df, geometry=roofs.geometry.name, crs=roofs.crs), segments, modules)


def _rank_within(group, count=None) -> np.ndarray:
    """Position of each element within its run of equal (sorted) group values: 0, 1, ...

    ``count``: the number of elements of each group value (``bincount``), when known.
    """
    g = np.asarray(group)
    if g.size == 0:
        return np.empty(0, np.int64)
    if count is None:
        new = np.ones(g.size, dtype=bool)
        new[1:] = g[1:] != g[:-1]
        run = np.flatnonzero(new)
        return np.arange(g.size) - np.repeat(run, np.diff(np.append(run, g.size)))
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    return np.arange(g.size) - first[g]
