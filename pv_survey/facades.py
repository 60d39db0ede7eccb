"""Building facades as a PV resource: wall segments, BIPV capacity, shading and yield.

A facade is a straight piece of a footprint's outer ring, raised to the
building's height. Every function is vectorised over segments with shapely 2 /
numpy; there is no Python loop per facade. Geometries must be in a metric CRS.

Conventions: azimuth of a facade is the direction of its **outward** normal,
clockwise from north [deg] (180 = a south-facing wall); facades are vertical
(tilt 90 deg). Heights are above ground [m], as in the DSM.

Steps
-----
1. :func:`facade_segments` -- outer-ring edges of every usable footprint
   (simplified so curved walls become a few straight segments), the parts
   shared with another footprint cut off, usable area and BIPV capacity.
2. :func:`facade_sample_points` -- points on each facade at several heights,
   just outside the wall.
3. :func:`facade_horizons` -- horizons of those points from the DSM
   (:func:`pv_survey.shading.horizon_at_points`); sectors behind the wall are
   closed (90 deg); quantile profiles per facade and the sky-view factor of a
   vertical surface (:func:`vertical_sky_view_frac`).
4. :func:`survey_facades` -- all of the above plus the yield at 90 deg tilt
   (:func:`pv_survey.energy.simulate_roofs`, close-mount temperature model).

References
----------
.. [1] Duffie, J. A., Beckman, W. A. (2013). Solar Engineering of Thermal
   Processes, 4th ed., s.2.15-2.16 (isotropic diffuse on a tilted surface,
   view factor of a surface to the sky: (1 + cos beta) / 2).
.. [2] Modest, M. F. (2013). Radiative Heat Transfer, 3rd ed., ch. 4
   (view factor of a differential area, dF = cos(theta) d(omega) / pi).
.. [3] City Energy Analyst, photovoltaic module (sensor points on walls and
   roofs; points below 800 kWh/m2/yr excluded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from . import energy, shading
from .errors import InputError

__all__ = [
    "EXCLUDED",
    "outward_azimuth_deg",
    "facade_segments",
    "facade_sample_points",
    "close_behind_wall",
    "vertical_sky_view_frac",
    "facade_horizons",
    "survey_facades",
]

#: Exclusion reasons written to ``excluded_reason`` (stable strings, English / Chinese).
EXCLUDED = {
    "shared": "wall shared with an adjacent building / 共用墙",
    "narrow": "facade segment narrower than minimum / 立面过窄",
    "low": "no wall above the excluded ground floors / 建筑过低",
    "dark": "facade irradiation below minimum / 立面辐照不足",
    "shaded": "shaded: output below {pct:.0f}% of unshaded / 遮挡严重",
}

#: Pieces of wall shorter than this are dropped as numerical slivers of the overlay [m]
#: (project tolerance, far below any module width).
_SLIVER_M = 1e-3

_COLUMNS = ["facade_id", "building_id", "azimuth_deg", "tilt_deg", "width_m", "height_m", "bottom_m",
            "gross_area_m2", "usable_area_m2", "module_area_m2", "capacity_kwp", "excluded_reason", "geometry"]


def outward_azimuth_deg(x0, y0, x1, y1, ring_ccw):
    """Azimuth of the outward normal of ring edges.

    Parameters
    ----------
    x0, y0, x1, y1 : array_like
        Start and end of each edge, in ring order (easting, northing). [m]
    ring_ccw : array_like of bool
        Whether the edge's ring runs counter-clockwise (interior on the left).

    Returns
    -------
    azimuth_deg : ndarray
        Outward normal, clockwise from north, in [0, 360). [deg]

    Notes
    -----
    For a counter-clockwise exterior ring the interior lies left of each edge
    ``(dx, dy)``, so the outward normal is the right-hand normal ``(dy, -dx)``;
    its azimuth clockwise from north is ``atan2(east, north) = atan2(dy, -dx)``.
    A clockwise ring flips the normal.
    """
    dx = np.asarray(x1, float) - np.asarray(x0, float)
    dy = np.asarray(y1, float) - np.asarray(y0, float)
    sign = np.where(np.asarray(ring_ccw, bool), 1.0, -1.0)
    az = np.degrees(np.arctan2(sign * dy, -sign * dx))
    return np.mod(az, 360.0) % 360.0  # second mod folds -0.0 / 360.0 rounding onto [0, 360)


def _usable(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "excluded_reason" in buildings:
        buildings = buildings[buildings["excluded_reason"].fillna("").astype(str) == ""]
    geoms = buildings.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return buildings[ok]


def _check_buildings(buildings: gpd.GeoDataFrame) -> None:
    missing = [c for c in ("building_id", "height_m") if c not in buildings]
    if missing:
        raise InputError(f"buildings: column '{missing[0]}' missing; pass canonical buildings "
                         "(inputs.read_buildings) with building_id and height_m")
    if buildings.crs is not None and buildings.crs.is_geographic:
        raise InputError(f"buildings: CRS {buildings.crs.to_string()} is geographic (degrees); "
                         "project to the metric CRS with to_crs() first")


def _check_heights(usable: gpd.GeoDataFrame) -> None:
    h = usable["height_m"].to_numpy(float)
    bad = ~np.isfinite(h) | (h < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"buildings: row {usable.index[i]!r} (building_id "
                         f"{usable['building_id'].iloc[i]!r}) has height_m = {h[i]!r}; "
                         "give a height >= 0 or exclude the building")


def _ring_edges(polys):
    """Edges of the exterior rings of polygons: (start xy, end xy, ring_ccw, polygon index)."""
    rings = shapely.get_exterior_ring(polys)
    ccw = shapely.is_ccw(rings)
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    same = idx[:-1] == idx[1:]
    start, end, owner = xy[:-1][same], xy[1:][same], idx[:-1][same]
    keep = np.hypot(*(end - start).T) > _SLIVER_M
    return start[keep], end[keep], ccw[owner[keep]], owner[keep]


def _shared_intervals(lines, line_part, nb_geoms, nb_part, min_shared_m):
    """Stretches of each straight edge lying inside another part's buffered outline.

    A neighbour counts only where more than ``min_shared_m`` of the edge lies
    inside its buffered outline, so the end of a wall that merely meets a
    neighbour's corner (inside the buffer for one tolerance) stays free.

    Returns
    -------
    seg, start_m, end_m : ndarray
        Edge index and the merged (non-overlapping, ascending) intervals along
        the edge from its first vertex. [m]
    """
    empty = (np.empty(0, np.int64), np.empty(0), np.empty(0))
    if len(nb_geoms) == 0 or len(lines) == 0:
        return empty
    tree = shapely.STRtree(nb_geoms)
    seg_i, nb_j = tree.query(lines, predicate="intersects")
    other = nb_part[nb_j] != line_part[seg_i]
    seg_i, nb_j = seg_i[other], nb_j[other]
    pieces, pair = shapely.get_parts(shapely.intersection(lines[seg_i], nb_geoms[nb_j]), return_index=True)
    is_line = shapely.get_type_id(pieces) == 1  # touching at a point shares no wall
    pieces, pair = pieces[is_line], pair[is_line]
    plen = shapely.length(pieces)
    inside_m = np.bincount(pair, weights=plen, minlength=len(seg_i))
    keep = (inside_m[pair] > min_shared_m) & (plen > _SLIVER_M)
    pieces, seg = pieces[keep], seg_i[pair[keep]]
    if len(seg) == 0:
        return empty
    # positions along the (straight) edge: exact, unlike a line-line overlay of rounded pieces
    a = shapely.line_locate_point(lines[seg], shapely.get_point(pieces, 0))
    b = shapely.line_locate_point(lines[seg], shapely.get_point(pieces, -1))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # merge overlapping intervals per edge: offset every edge past all earlier ones, then one
    # running maximum over the sorted starts finds where a new merged interval begins
    edge_len = shapely.length(lines)
    offset = np.r_[0.0, np.cumsum(edge_len + 1.0)][:-1]
    order = np.lexsort((lo, seg))
    seg, lo, hi = seg[order], lo[order], hi[order]
    run_hi = np.maximum.accumulate(hi + offset[seg]) - offset[seg]
    new = np.r_[True, (seg[1:] != seg[:-1]) | (lo[1:] > run_hi[:-1])]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(seg) - 1]
    return seg[first], lo[first], run_hi[last]


def _free_intervals(n_edges, edge_len, seg, start_m, end_m):
    """Complement of merged intervals within [0, length] of every edge: (seg, start_m, end_m)."""
    all_e = np.arange(n_edges)
    g_seg = np.r_[all_e, seg]
    g_lo = np.r_[np.zeros(n_edges), end_m]  # gaps begin at 0 and after each shared stretch ...
    g_hi = np.r_[edge_len, start_m]  # ... and end before each shared stretch or at the edge's end
    o_lo = np.lexsort((g_lo, g_seg))
    o_hi = np.lexsort((g_hi, g_seg))
    seg_f, lo, hi = g_seg[o_lo], g_lo[o_lo], g_hi[o_hi]
    keep = hi - lo > _SLIVER_M
    return seg_f[keep], lo[keep], hi[keep]


def _sub_lines(p0, p1, seg, start_m, end_m):
    """Straight pieces ``[start_m, end_m]`` of edges ``p0[seg] -> p1[seg]``."""
    d = p1[seg] - p0[seg]
    unit = d / np.hypot(*d.T)[:, None]
    a = p0[seg] + unit * start_m[:, None]
    b = p0[seg] + unit * end_m[:, None]
    return shapely.linestrings(np.stack([a, b], axis=1))


def facade_segments(buildings: gpd.GeoDataFrame, *, min_segment_width_m: float, exclude_ground_floors_m: float,
                    window_to_wall_frac: float, bipv_efficiency_frac: float,
                    simplify_tolerance_m: float = 0.5, shared_wall_tolerance_m: float = 0.5) -> gpd.GeoDataFrame:
    """Facade segments of every usable building, with usable area and BIPV capacity.

    Each footprint's outer ring (every part of a MultiPolygon; courtyard rings
    are not facades) is simplified by ``simplify_tolerance_m`` and cut into its
    straight edges. The parts of an edge lying within ``shared_wall_tolerance_m``
    of another footprint are party walls: they are kept as rows with the reason
    ``EXCLUDED['shared']`` and no capacity. The free pieces are the facades.

    Parameters
    ----------
    buildings : GeoDataFrame
        Canonical buildings in a metric CRS with ``building_id``, ``height_m`` and
        geometry; rows with a non-empty ``excluded_reason`` are skipped (and are
        not treated as neighbours).
    min_segment_width_m : float
        Facades narrower than this are excluded (``EXCLUDED['narrow']``). [m]
    exclude_ground_floors_m : float
        Height above ground without PV; buildings not taller are excluded
        (``EXCLUDED['low']``). [m]
    window_to_wall_frac : float
        Glazed share of the wall above the ground floors. [-]
    bipv_efficiency_frac : float
        STC efficiency of the facade modules: 1 m2 of module gives this many kWp. [-]
    simplify_tolerance_m : float, default 0.5
        Douglas-Peucker tolerance applied to the outlines first. [m]
    shared_wall_tolerance_m : float, default 0.5
        Distance within which a wall counts as touching another footprint. [m]

    Returns
    -------
    GeoDataFrame
        One row per facade piece, same CRS: ``facade_id`` (``<building_id>-F<n>``),
        ``building_id``, ``azimuth_deg`` (outward normal), ``tilt_deg`` (90),
        ``width_m``, ``height_m`` (building height), ``bottom_m`` (lowest PV
        height), ``gross_area_m2`` (width x height), ``usable_area_m2``
        (width x (height - ground floors) x (1 - window-to-wall), 0 when
        excluded), ``module_area_m2`` (= usable area), ``capacity_kwp``,
        ``excluded_reason`` ('' when usable), geometry (the wall's plan line).
        The widths of all rows of a building add up to its simplified perimeter.

    Raises
    ------
    InputError
        A required column is missing, the CRS is geographic, or a height is
        negative or missing.
    """
    _check_buildings(buildings)
    b = _usable(buildings)
    _check_heights(b)
    crs = buildings.crs
    if len(b) == 0:
        cols = {c: pd.Series([], dtype=object if c in ('facade_id', 'building_id', 'excluded_reason') else float)
                for c in _COLUMNS[:-1]}
        return gpd.GeoDataFrame(cols, geometry=[], crs=crs)[_COLUMNS]

    parts, b_of_part = shapely.get_parts(b.geometry.to_numpy(), return_index=True)
    is_poly = shapely.get_type_id(parts) == 3  # polygons only (a collection may hold lines)
    polys, b_of_part = parts[is_poly], b_of_part[is_poly]
    outline = shapely.simplify(polys, float(simplify_tolerance_m), preserve_topology=True) \
        if simplify_tolerance_m > 0 else polys
    p0, p1, ccw, part = _ring_edges(outline)
    az = outward_azimuth_deg(p0[:, 0], p0[:, 1], p1[:, 0], p1[:, 1], ccw)
    lines = shapely.linestrings(np.stack([p0, p1], axis=1))

    nb = shapely.buffer(polys, float(shared_wall_tolerance_m), join_style="mitre") \
        if shared_wall_tolerance_m > 0 else polys
    edge_len = np.hypot(*(p1 - p0).T)
    sh_seg, sh_lo, sh_hi = _shared_intervals(lines, part, nb, np.arange(len(polys)),
                                             2.0 * float(shared_wall_tolerance_m))
    fr_seg, fr_lo, fr_hi = _free_intervals(len(lines), edge_len, sh_seg, sh_lo, sh_hi)
    seg_of = np.r_[fr_seg, sh_seg]
    lo = np.r_[fr_lo, sh_lo]
    hi = np.r_[fr_hi, sh_hi]
    is_shared = np.r_[np.zeros(len(fr_seg), bool), np.ones(len(sh_seg), bool)]
    # ring order within each part, free and shared pieces along the edge by position
    order = np.lexsort((lo, seg_of))
    seg_of, lo, hi, is_shared = seg_of[order], lo[order], hi[order], is_shared[order]
    geom = _sub_lines(p0, p1, seg_of, lo, hi)

    bi = b_of_part[part[seg_of]]
    height = b["height_m"].to_numpy(float)[bi]
    width = hi - lo
    bottom = float(exclude_ground_floors_m)
    usable_h = np.maximum(height - bottom, 0.0)

    reason = np.full(len(geom), "", dtype=object)
    reason[is_shared] = EXCLUDED["shared"]
    reason[(reason == "") & (usable_h <= 0.0)] = EXCLUDED["low"]
    reason[(reason == "") & (width < min_segment_width_m)] = EXCLUDED["narrow"]
    kept = reason == ""
    usable = np.where(kept, width * usable_h * (1.0 - float(window_to_wall_frac)), 0.0)
    # 1 m2 of module at STC (1000 W/m2) delivers efficiency x 1 kW
    capacity = usable * float(bipv_efficiency_frac)

    bid = b["building_id"].to_numpy()[bi]
    out = pd.DataFrame({
        "building_id": bid,
        "azimuth_deg": az[seg_of],
        "tilt_deg": 90.0,
        "width_m": width,
        "height_m": height,
        "bottom_m": bottom,
        "gross_area_m2": width * height,
        "usable_area_m2": usable,
        "module_area_m2": usable,
        "capacity_kwp": capacity,
        "excluded_reason": reason,
        "geometry": geom,
        "_bi": bi,
    })
    out = out.sort_values("_bi", kind="stable").reset_index(drop=True)
    seq = out.groupby("_bi").cumcount() + 1
    out["facade_id"] = out["building_id"].astype(str) + "-F" + seq.astype(str)
    return gpd.GeoDataFrame(out[_COLUMNS], geometry="geometry", crs=crs)


def facade_sample_points(facades: gpd.GeoDataFrame, *, height_fracs, points_per_level: int, offset_m: float):
    """Shading sample points on facades: a grid along the width and up the usable height.

    Points sit at ``(i + 0.5) / points_per_level`` of each facade's width, at
    heights ``bottom_m + f * (height_m - bottom_m)`` for every ``f`` in
    ``height_fracs``, moved ``offset_m`` outward along the facade's normal so
    that a horizon search does not start inside the own wall.

    Parameters
    ----------
    facades : GeoDataFrame
        Output of :func:`facade_segments` (any subset of rows).
    height_fracs : sequence of float
        Heights as fractions of the usable wall height. [-]
    points_per_level : int
        Points along the width at each height.
    offset_m : float
        Distance outside the wall. [m]

    Returns
    -------
    x_m, y_m, z_m : ndarray, shape (n_facades * n_points,)
        Point coordinates (CRS of ``facades``) and height above ground, facade
        by facade: facade ``j`` owns rows ``j * n_points`` to ``(j + 1) * n_points - 1``
        with ``n_points = len(height_fracs) * points_per_level``. [m]
    """
    n = len(facades)
    fr_w = (np.arange(int(points_per_level)) + 0.5) / int(points_per_level)
    fr_h = np.asarray(height_fracs, float)
    geoms = facades.geometry.to_numpy()
    # along-width positions: (n, n_w)
    pts = shapely.line_interpolate_point(geoms[:, None], fr_w[None, :], normalized=True)
    xy = shapely.get_coordinates(pts.ravel()).reshape(n, len(fr_w), 2)
    az = np.radians(facades["azimuth_deg"].to_numpy(float))
    # outward unit normal: east = sin(az), north = cos(az) (azimuth clockwise from north)
    xy = xy + float(offset_m) * np.stack([np.sin(az), np.cos(az)], axis=-1)[:, None, :]
    bottom = facades["bottom_m"].to_numpy(float)
    top = facades["height_m"].to_numpy(float)
    z = bottom[:, None] + fr_h[None, :] * (top - bottom)[:, None]  # (n, n_h)
    # order (facade, height, along-width)
    x = np.broadcast_to(xy[:, None, :, 0], (n, len(fr_h), len(fr_w))).ravel()
    y = np.broadcast_to(xy[:, None, :, 1], (n, len(fr_h), len(fr_w))).ravel()
    zz = np.broadcast_to(z[:, :, None], (n, len(fr_h), len(fr_w))).ravel()
    return x.copy(), y.copy(), zz.copy()


def _sector_offset_rad(n_sectors: int, azimuth_deg):
    """Angle of each sector centre from the facade normal, wrapped to [-pi, pi): (..., n_sectors). [rad]"""
    centres = np.arange(n_sectors) * (360.0 / n_sectors)
    d = centres - np.asarray(azimuth_deg, float)[..., None]
    return np.radians((d + 180.0) % 360.0 - 180.0)


def close_behind_wall(horizon_deg, azimuth_deg):
    """Set the horizon to 90 deg in the sectors behind a wall.

    A point on a facade sees nothing of the sky in the half-space behind the
    wall: every sector whose centre is more than 90 deg from the facade's
    azimuth is closed.

    Parameters
    ----------
    horizon_deg : array_like, shape (..., n_sectors)
        Horizon elevation per sector, sector k centred on ``k * 360 / n_sectors``. [deg]
    azimuth_deg : array_like, shape (...)
        Facade azimuth (outward normal, clockwise from north). [deg]

    Returns
    -------
    ndarray
        A copy of ``horizon_deg`` with the sectors behind the wall at 90. [deg]
    """
    h = np.array(horizon_deg, dtype=float, copy=True)
    behind = np.abs(_sector_offset_rad(h.shape[-1], azimuth_deg)) > np.pi / 2 + 1e-12
    h[np.broadcast_to(behind, h.shape)] = 90.0
    return h


def vertical_sky_view_frac(horizon_deg, azimuth_deg):
    """View factor from a vertical surface to the sky above a horizon profile.

    Parameters
    ----------
    horizon_deg : array_like, shape (..., n_sectors)
        Horizon elevation per sector (sector k centred on ``k * 360 / n_sectors``,
        constant across the sector). Values below 0 count as 0. [deg]
    azimuth_deg : array_like, shape (...)
        Azimuth of the surface's normal, clockwise from north. [deg]

    Returns
    -------
    ndarray, shape (...)
        View factor to the sky, 0.5 for an unobstructed vertical surface and 0
        when every sector in front is closed. [-]

    Notes
    -----
    The view factor of a differential surface to a sky element is
    ``dF = cos(theta) d(omega) / pi`` [2]_. For a vertical surface whose normal
    points at azimuth ``gamma``, a direction of elevation ``e`` and azimuth
    ``phi`` has ``cos(theta) = cos(e) cos(phi - gamma)`` and
    ``d(omega) = cos(e) de dphi``, so over the front half (``|phi - gamma| < 90 deg``)

    ``F = 1/pi * integral cos(psi) * integral_{h(psi)}^{pi/2} cos^2(e) de dpsi``
    ``  = 1/pi * sum_k w_k * (pi/4 - h_k/2 - sin(2 h_k)/4)``,

    with ``w_k = integral of max(cos psi, 0)`` over sector k (exact for a
    profile constant per sector). With ``h = 0`` everywhere this is
    ``(1/pi) * 2 * pi/4 = 0.5``, the isotropic ``(1 + cos 90 deg) / 2`` of
    Duffie & Beckman [1]_.
    """
    h = np.radians(np.clip(np.asarray(horizon_deg, float), 0.0, 90.0))
    n_sec = h.shape[-1]
    c = _sector_offset_rad(n_sec, azimuth_deg)
    half = np.pi / n_sec
    lo = np.clip(c - half, -np.pi / 2, np.pi / 2)
    hi = np.clip(c + half, -np.pi / 2, np.pi / 2)
    w = np.sin(hi) - np.sin(lo)  # zero for sectors wholly behind the wall
    g = np.pi / 4 - h / 2 - np.sin(2 * h) / 4
    return np.maximum(np.sum(w * g, axis=-1) / np.pi, 0.0)


def facade_horizons(dsm, facades: gpd.GeoDataFrame, owner_index, *, height_fracs, points_per_level: int,
                    offset_m: float, n_sectors: int = 72, radius_m: float = 300.0, n_quantiles: int = 3):
    """Horizon profiles and sky-view factors of facades from the DSM.

    Every facade is sampled with :func:`facade_sample_points`; each point's
    horizon comes from :func:`pv_survey.shading.horizon_at_points`, ignoring
    the facade's own building; sectors behind the wall are closed
    (:func:`close_behind_wall`). Per sector the facade's point horizons are
    sorted and read at the quantile levels ``(j + 0.5) / n_quantiles`` (rank
    ``min(floor(q n), n - 1)`` of n points), as roofs are
    (:func:`pv_survey.shading.roof_horizons`), so the shaded share of the
    facade survives.

    Parameters
    ----------
    dsm : pv_survey.shading.Dsm
        Surface heights above ground covering every point plus ``radius_m``.
    facades : GeoDataFrame
        Rows of :func:`facade_segments` to evaluate (usually the kept ones).
    owner_index : array_like of int
        Owner value of each facade's building in ``dsm.owner`` (-1 = none).
    height_fracs, points_per_level, offset_m
        See :func:`facade_sample_points`.
    n_sectors : int
        Azimuth sectors. [-]
    radius_m : float
        Search radius. [m]
    n_quantiles : int
        Profiles per facade. [-]

    Returns
    -------
    horizon_deg : ndarray
        float32 (n_facades, n_quantiles, n_sectors), ascending along axis 1. [deg]
    sky_view_frac : ndarray
        float64 (n_facades,): mean over the points of the sky view of the
        vertical surface relative to an unobstructed vertical surface,
        ``vertical_sky_view_frac(h) / 0.5`` (1 = open, 0 = walled in). [0-1]
    """
    n = len(facades)
    n_pts = len(tuple(height_fracs)) * int(points_per_level)
    levels = shading.quantile_levels(n_quantiles)
    owner = np.asarray(owner_index, dtype=np.int64).reshape(-1)
    if owner.shape[0] != n:
        raise InputError(f"facade_horizons: {owner.shape[0]} owner indices for {n} facades; give one per facade")
    if n == 0:
        return np.empty((0, levels.size, int(n_sectors)), np.float32), np.empty(0)
    x, y, z = facade_sample_points(facades, height_fracs=height_fracs, points_per_level=points_per_level,
                                   offset_m=offset_m)
    h = shading.horizon_at_points(dsm, x, y, z, exclude_owner=np.repeat(owner, n_pts), n_sectors=int(n_sectors),
                                  radius_m=float(radius_m))
    az = np.repeat(facades["azimuth_deg"].to_numpy(float), n_pts)
    h = close_behind_wall(h, az)
    svf = vertical_sky_view_frac(h, az) / 0.5
    h = np.sort(h.reshape(n, n_pts, int(n_sectors)), axis=1)
    ranks = np.minimum(np.floor(levels * n_pts).astype(np.int64), n_pts - 1)
    return h[:, ranks, :].astype(np.float32), svf.reshape(n, n_pts).mean(axis=1)


def _owner_codes(owner_index, building_id, usable_ids):
    """Owner value in the DSM of each facade's building."""
    if owner_index is None:
        # default: position among the usable buildings, as dsm_from_buildings(usable geometry) numbers them
        owner_index = pd.Series(np.arange(len(usable_ids)), index=pd.Index(usable_ids))
    if not isinstance(owner_index, pd.Series):
        raise InputError("owner_index must be a pandas Series mapping building_id -> owner value in the DSM "
                         f"(got {type(owner_index).__name__}); or pass None for positions among usable buildings")
    codes = owner_index.reindex(pd.Index(building_id))
    return codes.fillna(-1).to_numpy(np.int64)


def survey_facades(buildings: gpd.GeoDataFrame, dsm, weather, *, min_segment_width_m: float,
                   exclude_ground_floors_m: float, window_to_wall_frac: float, bipv_efficiency_frac: float,
                   simplify_tolerance_m: float = 0.5, shared_wall_tolerance_m: float = 0.5,
                   height_fracs=(0.25, 0.5, 0.75), points_per_level: int = 3, offset_m: float = 0.5,
                   n_sectors: int = 72, radius_m: float = 300.0, n_quantiles: int = 3,
                   min_poa_kwh_m2: float = 0.0, min_output_frac: float | None = None,
                   temp_model_facade: str = "close_mount_glass_glass", owner_index: pd.Series | None = None,
                   core_ids=None, progress=None, **energy_params) -> gpd.GeoDataFrame:
    """Facade resource of a district: segments, BIPV capacity, shading and annual yield.

    :func:`facade_segments`, then for the usable facades
    :func:`facade_horizons` and :func:`pv_survey.energy.simulate_roofs` at tilt
    90 deg facing the facade's azimuth, ``mount='flush'`` with the
    ``temp_model_facade`` SAPM parameters (BIPV modules sit close to the wall),
    no rows, the facade's horizon profiles and its vertical sky-view factor.
    Facades irradiated less than ``min_poa_kwh_m2`` per year (or, if given,
    producing less than ``min_output_frac`` of the same facade unshaded) get
    an exclusion reason; as for roofs, their capacity and energy stay in the
    table for information, so totals must sum the rows with an empty
    ``excluded_reason``.

    Parameters
    ----------
    buildings : GeoDataFrame
        Canonical buildings (metric CRS); see :func:`facade_segments`.
    dsm : pv_survey.shading.Dsm
        Heights above ground covering the buildings plus ``radius_m``.
    weather : pv_survey.weather.Weather
        Hourly weather year.
    min_segment_width_m, exclude_ground_floors_m, window_to_wall_frac, bipv_efficiency_frac,
    simplify_tolerance_m, shared_wall_tolerance_m
        See :func:`facade_segments`. [m, m, -, -, m, m]
    height_fracs, points_per_level, offset_m, n_sectors, radius_m, n_quantiles
        See :func:`facade_horizons`.
    min_poa_kwh_m2 : float, default 0
        Minimum annual plane-of-array irradiation after shading (CEA uses 800). [kWh/m2]
    min_output_frac : float, optional
        Minimum share of the unshaded output (None = no such rule). [-]
    temp_model_facade : str, default 'close_mount_glass_glass'
        pvlib SAPM temperature parameter set of the BIPV modules.
    owner_index : Series, optional
        building_id -> owner value in ``dsm.owner``; default the position among the
        usable buildings (``dsm_from_buildings`` of the usable footprints in order).
    core_ids : array_like, optional
        Only these buildings get facades (a tile's core); the other buildings still
        share walls and cast shade. Default: every building.
    progress : callable(n_done, n_total), optional
        Passed to the energy engine.
    **energy_params
        Other keywords of :func:`pv_survey.energy.simulate_roofs` (albedo,
        gamma_pdc_per_c, dc_ac_ratio, eta_inv_nom, losses_frac, ...).

    Returns
    -------
    GeoDataFrame
        :func:`facade_segments` columns plus ``sky_view_frac`` (relative to an open
        vertical wall), ``horizon_deg`` (float32 array (n_quantiles, n_sectors) per
        usable facade, None otherwise) and the :data:`pv_survey.energy.ENERGY_COLUMNS`
        (NaN for facades excluded before the yield step).
    """
    fac = facade_segments(buildings, min_segment_width_m=min_segment_width_m,
                          exclude_ground_floors_m=exclude_ground_floors_m, window_to_wall_frac=window_to_wall_frac,
                          bipv_efficiency_frac=bipv_efficiency_frac, simplify_tolerance_m=simplify_tolerance_m,
                          shared_wall_tolerance_m=shared_wall_tolerance_m)
    if core_ids is not None:
        fac = fac[fac["building_id"].isin(pd.Index(core_ids))].reset_index(drop=True)
    kept = (fac["excluded_reason"] == "").to_numpy()
    k = fac[kept]
    usable_ids = _usable(buildings)["building_id"].to_numpy()
    owner = _owner_codes(owner_index, k["building_id"].to_numpy(), usable_ids)
    hz, svf = facade_horizons(dsm, k, owner, height_fracs=height_fracs, points_per_level=points_per_level,
                              offset_m=offset_m, n_sectors=n_sectors, radius_m=radius_m, n_quantiles=n_quantiles)
    params = dict(energy_params)
    params["temp_model_flush"] = temp_model_facade
    res = energy.simulate_roofs(weather, np.full(len(k), 90.0), k["azimuth_deg"].to_numpy(float),
                                k["capacity_kwp"].to_numpy(float), mount="flush", gcr=None, horizon_deg=hz,
                                sky_view_frac=np.clip(svf, 0.0, 1.0), progress=progress, **params)
    return energy.attach_results(fac, kept, res, svf, hz, min_poa_kwh_m2=min_poa_kwh_m2,
                                 min_output_frac=min_output_frac, dark_reason=EXCLUDED["dark"],
                                 shaded_reason=EXCLUDED["shaded"])
