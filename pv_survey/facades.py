"""Building facades as a PV resource: wall segments, BIPV capacity and shading sample points.

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

Their horizons, the wall's own view of the sky (a plane at 90 deg tilt sees nothing
behind it), the yield and the exclusion rules come from the one assessment of every
resource (:func:`pv_survey.assessment.assess_surfaces`), with the facades' entry of
:data:`pv_survey.resources.REGISTRY` (BIPV close-mount temperature model).

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

from .config import ResourcesConfig
from .errors import InputError

__all__ = [
    "EXCLUDED",
    "outward_azimuth_deg",
    "facade_segments",
    "facade_sample_points",
]

#: Exclusion reasons written to ``excluded_reason`` (stable strings, English / Chinese).
EXCLUDED = {
    "shared": "wall shared with an adjacent building / 共用墙",
    "narrow": "facade segment narrower than minimum / 立面过窄",
    "low": "no wall above the excluded ground floors / 建筑过低",
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
                    simplify_tolerance_m: float = ResourcesConfig.facade_simplify_tolerance_m,
                    shared_wall_tolerance_m: float = ResourcesConfig.facade_shared_wall_tolerance_m) -> gpd.GeoDataFrame:
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
