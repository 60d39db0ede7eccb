"""Roof planes, usable area, module layout and installable capacity.

Every function is vectorised over roofs with shapely 2 / numpy; there is no
Python loop per roof. Geometries must be in a metric CRS.

Conventions: tilt from horizontal [deg]; azimuth clockwise from north [deg],
180 = south. "Plan" area is the horizontal projection; "slope" area is the
true surface area of a tilted plane (plan / cos(tilt)).

References
----------
.. [1] Gagnon, P., Margolis, R., Melius, J., Phillips, C., Elmore, R. (2016).
   Rooftop Solar Photovoltaic Technical Potential in the United States: A
   Detailed Assessment. NREL/TP-6A20-65298.
.. [2] GB 50797-2012 Code for design of photovoltaic power station (row
   spacing rule: no mutual shading 9:00-15:00 solar time on the winter
   solstice), as commonly cited.
.. [3] Duffie, J. A., Beckman, W. A. (2013). Solar Engineering of Thermal
   Processes, 4th ed., ch. 1 (declination, hour angle, solar altitude and
   azimuth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from .config import RoofsConfig
from .keys import member

#: Window of the row-spacing rule, solar time: rows must not shade each other from 9:00 to 15:00 on
#: the winter solstice (GB 50797-2012, as commonly cited). [h]
SOLSTICE_FIRST_HOUR = 9.0
SOLSTICE_LAST_HOUR = 15.0
#: Evaluation points across that window (every 6 minutes). The longest shadow falls at the window's ends,
#: which every grid includes: 61 and 6,001 points give the same GCR at 23.2 N, tilts 10-30 deg (measured).
SOLSTICE_STEPS = 61

__all__ = [
    "WINTER_SOLSTICE_DECLINATION_DEG",
    "solar_altitude_azimuth_deg",
    "solstice_row_gcr",
    "gb50797_row_pitch_factor",
    "roof_planes_from_buildings",
    "usable_area_m2",
    "layout_roofs",
    "EXCLUDED",
    "ROOF_SHAPES",
    "shaped_roof_planes",
    "planes_of_footprints",
    "part_roof_planes",
]

#: Solar declination at the December solstice [deg] (Duffie & Beckman 2013, eq. 1.6.1a, n = 355).
WINTER_SOLSTICE_DECLINATION_DEG = -23.45

#: Exclusion reasons written to ``excluded_reason`` (stable strings, English / Chinese).
EXCLUDED = {
    "too_steep": "roof plane steeper than max tilt / 屋面坡度过大",
    "north": "north-facing roof plane / 朝北屋面",
    "small": "usable area below minimum / 可用面积不足",
    "covered": "roof already covered by existing PV / 已有光伏",
    "no_roof": "no usable roof plane / 无可用屋面",
}


def solar_altitude_azimuth_deg(latitude_deg, declination_deg, hour_angle_deg):
    """Solar altitude and azimuth from latitude, declination and hour angle.

    Parameters
    ----------
    latitude_deg : array_like
        Site latitude, north positive. [deg]
    declination_deg : array_like
        Solar declination. [deg]
    hour_angle_deg : array_like
        Hour angle, 15 deg per hour from solar noon, morning negative. [deg]

    Returns
    -------
    altitude_deg, azimuth_deg : ndarray
        Altitude above the horizon and azimuth clockwise from north. [deg]

    Notes
    -----
    Spherical-astronomy relations, Duffie & Beckman (2013) eqs. 1.6.5 and
    1.6.6; no refraction.
    """
    phi = np.radians(latitude_deg)
    dec = np.radians(declination_deg)
    w = np.radians(hour_angle_deg)
    sin_alt = np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(w)
    alt = np.arcsin(np.clip(sin_alt, -1.0, 1.0))
    # azimuth measured from south, west positive (Duffie & Beckman eq. 1.6.6) ...
    cos_zen = np.sin(alt)
    sin_zen = np.cos(alt)
    cos_az_s = (cos_zen * np.sin(phi) - np.sin(dec)) / (sin_zen * np.cos(phi))
    az_s = np.sign(w) * np.abs(np.arccos(np.clip(cos_az_s, -1.0, 1.0)))
    # ... converted once to the project convention (clockwise from north)
    az_n = (np.degrees(az_s) + 180.0) % 360.0
    return np.degrees(alt), az_n


def solstice_row_gcr(latitude_deg, module_tilt_deg, row_azimuth_deg=RoofsConfig.flat_module_azimuth_deg, *,
                     first_hour=SOLSTICE_FIRST_HOUR, last_hour=SOLSTICE_LAST_HOUR, steps=SOLSTICE_STEPS):
    """Ground coverage ratio of racked rows unshaded from 9:00 to 15:00 on the winter solstice.

    A row of slant width L at tilt beta casts a shadow whose component along the
    row normal is ``L sin(beta) cos(gamma_s - gamma_r) / tan(alpha_s)``; the
    row pitch must cover ``L cos(beta)`` plus the longest such shadow in the
    window, so ``GCR = L / pitch``.

    Parameters
    ----------
    latitude_deg : float or array_like
        Site latitude. [deg]
    module_tilt_deg : float or array_like
        Module tilt from horizontal. [deg]
    row_azimuth_deg : float or array_like, default ``roofs.flat_module_azimuth_deg``
        Azimuth the modules face, clockwise from north. [deg]
    first_hour, last_hour : float
        Window in solar time during which rows must not shade each other. [h]
    steps : int
        Evaluation points across the window.

    Returns
    -------
    gcr : ndarray
        Ground coverage ratio (module slant width / row pitch). [-]

    References
    ----------
    GB 50797-2012 (row spacing rule, as commonly cited); Duffie & Beckman (2013).
    """
    lat = np.asarray(latitude_deg, dtype=float)
    beta = np.radians(np.asarray(module_tilt_deg, dtype=float))
    gam_r = np.asarray(row_azimuth_deg, dtype=float)
    hours = np.linspace(first_hour, last_hour, steps)
    omega = (hours - 12.0) * 15.0
    alt, az = solar_altitude_azimuth_deg(lat[..., None], WINTER_SOLSTICE_DECLINATION_DEG, omega)
    dgam = np.radians(az - gam_r[..., None])
    # shadow component along the row normal per unit of row height; negative
    # means the sun is behind the rows (no shadow onto the next row)
    shadow = np.cos(dgam) / np.tan(np.radians(np.maximum(alt, 0.5)))
    worst = np.max(np.maximum(shadow, 0.0), axis=-1)
    pitch_per_l = np.cos(beta) + np.sin(beta) * worst
    return 1.0 / pitch_per_l


def gb50797_row_pitch_factor(latitude_deg):
    """Shadow factor of the GB 50797 row-spacing formula (south rows, 9:00 solstice).

    ``D = L cos(beta) + L sin(beta) * (0.707 tan(phi) + 0.4338) / (0.707 - 0.4338 tan(phi))``

    Parameters
    ----------
    latitude_deg : float or array_like
        Site latitude. [deg]

    Returns
    -------
    factor : ndarray
        The fraction multiplying ``L sin(beta)``. [-]

    Notes
    -----
    The constants are cos(45 deg) = sin(45 deg) = 0.707 (hour angle at 9:00
    solar time) and tan(23.45 deg) = 0.4338 (solstice declination), as printed
    in GB 50797-2012 (as commonly cited, secondary). Used as an independent
    check of :func:`solstice_row_gcr`.
    """
    t = np.tan(np.radians(np.asarray(latitude_deg, dtype=float)))
    return (0.707 * t + 0.4338) / (0.707 - 0.4338 * t)


def usable_area_m2(geometry, *, setback_m, obstacle_free_frac):
    """Usable plan area of roof polygons after an edge setback and obstacles.

    Parameters
    ----------
    geometry : array_like of shapely geometries
        Roof polygons in a metric CRS.
    setback_m : float
        Clear strip along every edge. [m]
    obstacle_free_frac : float
        Share of the set-back area free of obstacles. [-]

    Returns
    -------
    usable_geometry : ndarray of shapely geometries
        The set-back polygons (empty where nothing remains).
    usable_area_m2 : ndarray
        ``area(buffer(geometry, -setback_m)) * obstacle_free_frac``. [m2]
    """
    geoms = np.asarray(geometry, dtype=object)
    inner = shapely.buffer(geoms, -float(setback_m), join_style="mitre") if setback_m > 0 else geoms
    area = shapely.area(inner)
    area = np.where(np.isfinite(area), area, 0.0)
    return inner, area * float(obstacle_free_frac)


def _gable_planes(geometry, tilt_deg):
    """Split footprints into two gable halves along the long axis of their minimum rectangle.

    Returns (geoms, tilt_deg, azimuth_deg, source_index) with two entries per input.
    """
    geoms = np.asarray(geometry, dtype=object)
    n = len(geoms)
    if n == 0:
        return np.empty(0, object), np.empty(0), np.empty(0), np.empty(0, int)
    rect = shapely.oriented_envelope(geoms)
    coords = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(n, 5, 2)[:, :4, :]
    e01 = coords[:, 1] - coords[:, 0]
    e12 = coords[:, 2] - coords[:, 1]
    long01 = np.hypot(*e01.T) >= np.hypot(*e12.T)
    # p0..p3 such that p0->p1 is a long side
    p = np.where(long01[:, None, None], coords, np.roll(coords, -1, axis=1))
    m03 = (p[:, 0] + p[:, 3]) / 2.0  # midpoints of the short sides: the ridge
    m12 = (p[:, 1] + p[:, 2]) / 2.0
    half_a = np.stack([p[:, 0], p[:, 1], m12, m03, p[:, 0]], axis=1)
    half_b = np.stack([m03, m12, p[:, 2], p[:, 3], m03], axis=1)
    polys_a = shapely.polygons(half_a)
    polys_b = shapely.polygons(half_b)
    planes_a = shapely.intersection(geoms, polys_a)
    planes_b = shapely.intersection(geoms, polys_b)
    # each half slopes down away from the ridge: its azimuth is the outward normal
    def outward_azimuth(edge_mid, ridge_mid):
        d = edge_mid - ridge_mid
        return (np.degrees(np.arctan2(d[:, 0], d[:, 1])) + 360.0) % 360.0

    az_a = outward_azimuth((p[:, 0] + p[:, 1]) / 2.0, (m03 + m12) / 2.0)
    az_b = outward_azimuth((p[:, 2] + p[:, 3]) / 2.0, (m03 + m12) / 2.0)
    tilt = np.broadcast_to(np.asarray(tilt_deg, float), (n,))
    out_g = np.concatenate([planes_a, planes_b])
    out_t = np.concatenate([tilt, tilt])
    out_a = np.concatenate([az_a, az_b])
    out_i = np.concatenate([np.arange(n), np.arange(n)])
    return out_g, out_t, out_a, out_i


# --------------------------------------------------------------------------- roof shapes

#: ``roof:shape`` values (OSM wiki Key:roof:shape) modelled as planes by :func:`shaped_roof_planes`.
ROOF_SHAPES = ("flat", "gabled", "hipped", "half-hipped", "skillion", "pyramidal", "dome", "cone", "round",
               "mansard")

#: Plan-area mean slope of a hemispherical dome [deg]: the surface at plan radius r of a sphere
#: of radius R is tilted asin(r/R); its plan-area mean is int_0^1 2x asin(x) dx = pi/4 rad = 45 deg.
DOME_MEAN_TILT_DEG = 45.0

#: Slope of a mansard's lower (side) faces [deg]. Project assumption: the lower slopes of a
#: mansard are near vertical (typically 60-70 deg); at 70 deg they exceed ``max_tilt_deg`` and
#: carry no modules, while the near-flat top is kept as a flat plane.
MANSARD_SIDE_TILT_DEG = 70.0

#: Sectors a cone or dome is split into (project choice: 8 x 45 deg, the compass octants).
CURVED_SECTORS = 8

def _frame_axes(geoms):
    """Centre, unit long axis, unit short axis and half lengths (a >= b) of minimum rectangles."""
    n = len(geoms)
    rect = shapely.oriented_envelope(geoms)
    coords = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(n, 5, 2)[:, :4, :]
    e01 = coords[:, 1] - coords[:, 0]
    e12 = coords[:, 2] - coords[:, 1]
    l01, l12 = np.hypot(*e01.T), np.hypot(*e12.T)
    long01 = l01 >= l12
    u = np.where(long01[:, None], e01, e12)
    v = np.where(long01[:, None], e12, e01)
    a = np.maximum(l01, l12) / 2.0
    b = np.minimum(l01, l12) / 2.0
    u = u / np.maximum(np.hypot(*u.T), 1e-12)[:, None]
    v = v / np.maximum(np.hypot(*v.T), 1e-12)[:, None]
    centre = coords.mean(axis=1)
    return centre, u, v, a, b


def _template(shape, a, b):
    """Plane polygons and outward normals in rectangle coordinates (u along the long side).

    Returns a list of ``(vertices (n, k, 2), normal (n, 2), flat: bool, steep: bool)``.
    """
    z = np.zeros_like(a)

    def pts(*xy):
        return np.stack([np.stack(p, axis=-1) for p in xy], axis=1)

    def nrm(x, y):
        return np.stack([np.broadcast_to(x, a.shape), np.broadcast_to(y, a.shape)], axis=-1).astype(float)

    if shape in ("gabled", "round"):
        return [(pts((-a, z), (a, z), (a, b), (-a, b)), nrm(0, 1), False, False),
                (pts((-a, -b), (a, -b), (a, z), (-a, z)), nrm(0, -1), False, False)]
    if shape == "gabled-across":
        return [(pts((z, -b), (a, -b), (a, b), (z, b)), nrm(1, 0), False, False),
                (pts((-a, -b), (z, -b), (z, b), (-a, b)), nrm(-1, 0), False, False)]
    if shape in ("hipped", "half-hipped", "pyramidal"):
        r = {"hipped": np.maximum(a - b, 0.0), "half-hipped": np.maximum(a - b / 2.0, 0.0), "pyramidal": z}[shape]
        return [(pts((-a, b), (-r, z), (r, z), (a, b)), nrm(0, 1), False, False),
                (pts((-a, -b), (a, -b), (r, z), (-r, z)), nrm(0, -1), False, False),
                (pts((a, -b), (a, b), (r, z)), nrm(1, 0), False, False),
                (pts((-a, b), (-a, -b), (-r, z)), nrm(-1, 0), False, False)]
    if shape == "mansard":
        ia, ib = np.maximum(a - b / 2.0, 0.0), b / 2.0
        return [(pts((-ia, -ib), (ia, -ib), (ia, ib), (-ia, ib)), nrm(0, 1), True, False),
                (pts((-a, b), (-ia, ib), (ia, ib), (a, b)), nrm(0, 1), False, True),
                (pts((-a, -b), (a, -b), (ia, -ib), (-ia, -ib)), nrm(0, -1), False, True),
                (pts((a, -b), (a, b), (ia, ib), (ia, -ib)), nrm(1, 0), False, True),
                (pts((-a, b), (-a, -b), (-ia, -ib), (-ia, ib)), nrm(-1, 0), False, True)]
    if shape in ("dome", "cone"):
        big = 3.0 * np.maximum(a, 1e-6)
        out = []
        for k in range(CURVED_SECTORS):
            t0, t1, tc = (np.radians((k + d) * 360.0 / CURVED_SECTORS) for d in (-0.5, 0.5, 0.0))
            out.append((pts((z, z), (big * np.cos(t0), big * np.sin(t0)), (big * np.cos(tc) * 1.5, big * np.sin(tc) * 1.5),
                            (big * np.cos(t1), big * np.sin(t1))), nrm(np.cos(tc), np.sin(tc)), False, False))
        return out
    raise ValueError(shape)  # pragma: no cover (callers pass ROOF_SHAPES only)


def shaped_roof_planes(geometry, shape: str, *, tilt_deg, direction_deg=None, across=None,
                       roof_height_m=None, default_pitch_deg: float = RoofsConfig.default_pitch_deg):
    """Split footprints into the roof planes of one OSM ``roof:shape``.

    Each footprint's minimum rotated rectangle (long axis u, short axis v, half lengths
    a >= b) carries a template of planes, clipped to the footprint:

    * ``gabled`` / ``round`` (barrel, at its mean slope): two halves, ridge along the long
      axis (``across`` = ``roof:orientation=across``: along the short axis);
    * ``hipped`` (ridge 2(a - b), 45 deg hips), ``half-hipped`` (ridge 2(a - b/2)),
      ``pyramidal`` (apex): two trapezoids and two end triangles;
    * ``skillion``: the whole footprint facing ``direction_deg`` (``roof:direction``, the
      downhill direction); without one, the long side facing nearest south, flagged;
    * ``dome`` / ``cone``: :data:`CURVED_SECTORS` compass sectors (centred on N, NE, ...) around
      the centroid; run = radius of the equal-area disc; a dome without angle or height at
      :data:`DOME_MEAN_TILT_DEG`;
    * ``mansard``: a flat top (inset b/2) and four sides at :data:`MANSARD_SIDE_TILT_DEG`.

    Parameters
    ----------
    geometry : array_like of shapely polygons
        Footprints, metric CRS.
    shape : str
        One of :data:`ROOF_SHAPES` except ``flat``.
    tilt_deg : array_like
        ``roof:angle`` per footprint, NaN where not given. [deg]
    direction_deg : array_like, optional
        ``roof:direction`` per footprint, NaN where not given (skillion). [deg]
    across : array_like of bool, optional
        Ridge across the long axis (gabled).
    roof_height_m : array_like, optional
        ``roof:height`` (ridge above eaves), NaN where not given; sets the tilt when no
        angle is given: ``atan(roof_height / run)`` with run b (2b for a skillion, the
        short half-length for a cone or dome). [m]
    default_pitch_deg : float
        Pitch when neither angle nor height is given. [deg]

    Returns
    -------
    geoms, tilt_deg, azimuth_deg, source_index, note : ndarray
        One entry per plane; ``note`` is '' or why a value was assumed.
    """
    geoms = np.asarray(geometry, dtype=object)
    n = len(geoms)
    empty = (np.empty(0, object), np.empty(0), np.empty(0), np.empty(0, int), np.empty(0, object))
    if n == 0:
        return empty
    angle = np.broadcast_to(np.asarray(tilt_deg, float), (n,)).copy()
    rh = np.full(n, np.nan) if roof_height_m is None else np.asarray(roof_height_m, float)
    centre, u, v, a, b = _frame_axes(geoms)
    if shape in ("dome", "cone"):  # sectors on the compass (east = u, north = v) around the centroid
        centre = shapely.get_coordinates(shapely.centroid(geoms))
        u, v = np.tile([1.0, 0.0], (n, 1)), np.tile([0.0, 1.0], (n, 1))
        b = np.sqrt(shapely.area(geoms) / np.pi)  # run: radius of the equal-area disc
        a = np.maximum(a, b) * 2.0
    run = 2.0 * b if shape == "skillion" else b
    from_height = np.isnan(angle) & np.isfinite(rh) & (rh >= 0) & (run > 0)
    angle[from_height] = np.degrees(np.arctan2(rh[from_height], run[from_height]))
    default = DOME_MEAN_TILT_DEG if shape == "dome" else float(default_pitch_deg)
    assumed = np.isnan(angle)
    angle[assumed] = default
    note = np.where(assumed, f"pitch assumed {default:g} deg", "").astype(object)

    def world_az(nu):
        d = nu[:, 0:1] * u + nu[:, 1:2] * v
        return (np.degrees(np.arctan2(d[:, 0], d[:, 1])) + 360.0) % 360.0

    if shape == "skillion":
        az = np.full(n, np.nan) if direction_deg is None else np.asarray(direction_deg, float).copy()
        no_dir = np.isnan(az)
        if no_dir.any():
            az_p, az_m = world_az(np.tile([0.0, 1.0], (n, 1))), world_az(np.tile([0.0, -1.0], (n, 1)))
            south = np.where(np.abs(az_p - 180.0) <= np.abs(az_m - 180.0), az_p, az_m)
            az[no_dir] = south[no_dir]
            note = np.where(no_dir, np.where(note == "", "direction assumed (long side nearest south)",
                                             note + "; direction assumed"), note).astype(object)
        return geoms.copy(), angle, az % 360.0, np.arange(n), note
    sh = shape
    if shape == "gabled" and across is not None:
        acr = np.asarray(across, bool)
    else:
        acr = np.zeros(n, bool)
    out_g, out_t, out_a, out_i, out_n = [], [], [], [], []
    groups = [(sh, ~acr)] + ([("gabled-across", acr)] if acr.any() else [])
    for name, sel in groups:
        idx = np.flatnonzero(sel)
        if len(idx) == 0:
            continue
        for verts, normal, is_flat, steep in _template(name, a[idx], b[idx]):
            world = (centre[idx, None, :] + verts[..., 0:1] * u[idx, None, :] + verts[..., 1:2] * v[idx, None, :])
            ring = np.concatenate([world, world[:, :1, :]], axis=1)
            polys = shapely.intersection(geoms[idx], shapely.polygons(ring))
            keep = ~shapely.is_empty(polys) & (shapely.area(polys) > 1e-6)
            t = np.zeros(len(idx)) if is_flat else (np.full(len(idx), MANSARD_SIDE_TILT_DEG) if steep else angle[idx])
            out_g.append(polys[keep]); out_t.append(t[keep]); out_a.append(world_az(normal)[keep] if not is_flat
                                                                            else np.full(keep.sum(), 180.0))
            out_i.append(idx[keep]); out_n.append(note[idx][keep])
    if not out_g:
        return empty
    return (np.concatenate(out_g), np.concatenate(out_t), np.concatenate(out_a), np.concatenate(out_i),
            np.concatenate(out_n))


def _col(frame, name, default):
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), default, dtype=object if isinstance(default, str) else float)


def planes_of_footprints(frame: pd.DataFrame, *, default_pitch_deg: float = RoofsConfig.default_pitch_deg) -> pd.DataFrame:
    """Roof planes of footprints from their roof type and OSM-style roof attributes.

    Parameters
    ----------
    frame : DataFrame
        ``building_id``, ``roof_type`` (flat | pitched), ``height_m``, geometry (metric CRS) and
        optionally ``roof_shape`` (one of :data:`ROOF_SHAPES`, else unknown), ``roof_angle_deg``,
        ``roof_height_m``, ``roof_direction_deg`` and ``roof_orientation`` (``across``).
    default_pitch_deg : float
        Pitch assumed where a pitched roof states no angle or height. [deg]

    Returns
    -------
    DataFrame
        ``building_id, tilt_deg, azimuth_deg, plane_source, height_m, geometry``. A footprint
        whose shape is flat or missing with ``roof_type = 'flat'`` is one horizontal plane
        (``footprint (flat)``); a pitched one with no modelled shape is an assumed gable
        (``assumed gable``, the unknown shape named).
    """
    geoms = np.asarray(frame.geometry.to_numpy() if hasattr(frame, "geometry") else frame["geometry"], dtype=object)
    bid = frame["building_id"].to_numpy(dtype=object)
    height = _col(frame, "height_m", np.nan).astype(float)
    shape = pd.Series(_col(frame, "roof_shape", ""), dtype="object").fillna("").astype(str).str.lower().to_numpy()
    pitched = frame["roof_type"].to_numpy(dtype=object) == "pitched"
    angle = _col(frame, "roof_angle_deg", np.nan).astype(float)
    rh = _col(frame, "roof_height_m", np.nan).astype(float)
    direction = _col(frame, "roof_direction_deg", np.nan).astype(float)
    across = pd.Series(_col(frame, "roof_orientation", ""), dtype="object").fillna("").astype(str).str.lower()
    across = across.to_numpy() == "across"
    frames = []
    is_flat = (shape == "flat") | ((shape == "") & ~pitched)
    frames.append(pd.DataFrame({"building_id": bid[is_flat], "tilt_deg": 0.0, "azimuth_deg": 180.0,
                                "plane_source": "footprint (flat)", "height_m": height[is_flat],
                                "geometry": geoms[is_flat]}))
    for sh in ROOF_SHAPES[1:]:
        sel = np.flatnonzero(shape == sh)
        if len(sel) == 0:
            continue
        g, t, a, idx, note = shaped_roof_planes(geoms[sel], sh, tilt_deg=angle[sel], direction_deg=direction[sel],
                                                across=across[sel], roof_height_m=rh[sel],
                                                default_pitch_deg=default_pitch_deg)
        src = np.array([f"roof:shape={sh}" + (f" ({x})" if x else "") for x in note], dtype=object)
        frames.append(pd.DataFrame({"building_id": bid[sel][idx], "tilt_deg": t, "azimuth_deg": a,
                                    "plane_source": src, "height_m": height[sel][idx], "geometry": g}))
    rest = np.flatnonzero(~is_flat & ~np.isin(shape, ROOF_SHAPES))
    if len(rest):
        g, t, a, idx = _gable_planes(geoms[rest], default_pitch_deg)
        src = np.array(["assumed gable" + (f" (roof:shape={s} not modelled)" if s else "") for s in shape[rest][idx]],
                       dtype=object)
        frames.append(pd.DataFrame({"building_id": bid[rest][idx], "tilt_deg": t, "azimuth_deg": a,
                                    "plane_source": src, "height_m": height[rest][idx], "geometry": g}))
    return pd.concat(frames, ignore_index=True)


def part_roof_planes(buildings: gpd.GeoDataFrame, parts: gpd.GeoDataFrame, *,
                     default_pitch_deg: float = RoofsConfig.default_pitch_deg) -> gpd.GeoDataFrame:
    """Roof planes of outlines with building parts: each part's roof at its own height, plus the rest.

    The remaining outline roof (outline minus the union of its parts) keeps the outline's
    height and roof shape; each part's roof is planed from its own roof attributes
    (:func:`planes_of_footprints`) at its own height.

    Parameters
    ----------
    buildings : GeoDataFrame
        Outlines (metric CRS) with ``building_id``, ``roof_type``, ``height_m``, geometry.
    parts : GeoDataFrame
        Parts with ``part_id``, ``building_id`` (the outline's), ``roof_type``, ``height_m``, geometry.

    Returns
    -------
    GeoDataFrame
        ``building_id, tilt_deg, azimuth_deg, plane_source, height_m, geometry`` for every
        outline that has parts; a roof-planes layer for :func:`roof_planes_from_buildings`.
    """
    crs = buildings.crs
    cols = ["building_id", "tilt_deg", "azimuth_deg", "plane_source", "height_m", "geometry"]
    if parts is None or len(parts) == 0:
        return gpd.GeoDataFrame(pd.DataFrame(columns=cols), geometry="geometry", crs=crs)
    outl = buildings[buildings["building_id"].isin(parts["building_id"])]
    merged = parts.dissolve(by="building_id").geometry
    rest = outl.copy()
    rest_geom = shapely.difference(outl.geometry.to_numpy(),
                                   merged.reindex(outl["building_id"]).to_numpy())
    rest = rest.set_geometry(gpd.GeoSeries(rest_geom, index=outl.index, crs=crs))
    rest = rest[~rest.geometry.is_empty & (rest.geometry.area > 1e-3)]
    as_own = parts.assign(building_id=parts["part_id"].to_numpy(dtype=object))
    p_planes = planes_of_footprints(as_own, default_pitch_deg=default_pitch_deg)
    outline_of = pd.Series(parts["building_id"].to_numpy(dtype=object), index=parts["part_id"].to_numpy(dtype=object))
    p_planes["plane_source"] = "building:part " + p_planes["building_id"].astype(str) + ", " + p_planes["plane_source"]
    p_planes["building_id"] = outline_of.reindex(p_planes["building_id"]).to_numpy(dtype=object)
    r_planes = planes_of_footprints(rest, default_pitch_deg=default_pitch_deg)
    r_planes["plane_source"] = "outline (rest), " + r_planes["plane_source"]
    out = pd.concat([p_planes, r_planes], ignore_index=True)
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs=crs)


def roof_planes_from_buildings(buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None = None, *,
                               flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg,
                               default_pitch_deg: float = RoofsConfig.default_pitch_deg) -> gpd.GeoDataFrame:
    """One row per roof plane for every usable building.

    Flat roofs give one horizontal plane, the footprint. Buildings named in ``planes`` (a
    roof-planes layer with ``building_id``, ``tilt_deg``, ``azimuth_deg``, optionally
    ``height_m`` and ``plane_source``, e.g. from :func:`part_roof_planes`) take their planes
    from it. Others with a modelled ``roof_shape`` are split by :func:`shaped_roof_planes`; a
    pitched building with neither is split into an assumed gable along its long axis at
    ``default_pitch_deg`` and flagged ``plane_source = 'assumed gable'``. A plane flatter than
    ``flat_max_tilt_deg`` is treated as flat.

    Parameters
    ----------
    buildings : GeoDataFrame
        Canonical buildings (metric CRS), rows with an ``excluded_reason`` are skipped.
    planes : GeoDataFrame, optional
        Roof-planes layer in the same CRS.
    flat_max_tilt_deg : float
        Planes flatter than this count as flat. [deg]
    default_pitch_deg : float
        Pitch assumed for pitched roofs without plane data. [deg]

    Returns
    -------
    GeoDataFrame
        ``roof_id, building_id, roof_type, tilt_deg, azimuth_deg, plane_source, height_m, geometry``.
    """
    ok = buildings[buildings["excluded_reason"].fillna("") == ""]
    crs = buildings.crs
    frames = []
    if planes is not None and len(planes):
        known = planes[planes["building_id"].isin(ok["building_id"])]
        have_planes = ok["building_id"].isin(known["building_id"]).to_numpy()
    else:
        known = None
        have_planes = np.zeros(len(ok), bool)
    heights = ok.set_index("building_id")["height_m"]
    frames.append(planes_of_footprints(ok[~have_planes], default_pitch_deg=default_pitch_deg))
    if known is not None:
        own_h = heights.reindex(known["building_id"]).to_numpy(float)
        frames.append(pd.DataFrame({
            "building_id": known["building_id"].to_numpy(),
            "tilt_deg": known["tilt_deg"].to_numpy(float),
            "azimuth_deg": known["azimuth_deg"].to_numpy(float) % 360.0,
            "plane_source": known["plane_source"].to_numpy(object) if "plane_source" in known
            else "roof-planes layer",
            "height_m": known["height_m"].to_numpy(float) if "height_m" in known else own_h,
            "geometry": known.geometry.to_numpy(),
        }))
    got = pd.concat([f["building_id"] for f in frames], ignore_index=True) if frames else pd.Series([], dtype=object)
    lost = ok[~member(ok["building_id"], got)]
    if len(lost):  # a modelled shape that gave no plane (a sliver footprint): keep the footprint as one plane
        frames.append(pd.DataFrame({
            "building_id": lost["building_id"].to_numpy(), "tilt_deg": 0.0, "azimuth_deg": 180.0,
            "plane_source": "footprint (roof shape gave no plane)", "height_m": lost["height_m"].to_numpy(float),
            "geometry": lost.geometry.to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["building_id", "azimuth_deg"], kind="stable").reset_index(drop=True)
    is_flat = out["tilt_deg"].to_numpy() < flat_max_tilt_deg
    out["roof_type"] = np.where(is_flat, "flat", "pitched")
    h = out["height_m"].to_numpy(float)
    out["height_m"] = np.where(np.isfinite(h), h, heights.reindex(out["building_id"]).to_numpy(float))
    seq = out.groupby("building_id").cumcount() + 1
    out["roof_id"] = out["building_id"].astype(str) + "-R" + seq.astype(str)
    cols = ["roof_id", "building_id", "roof_type", "tilt_deg", "azimuth_deg", "plane_source", "height_m", "geometry"]
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs=crs)


def layout_roofs(planes: gpd.GeoDataFrame, *, latitude_deg: float, edge_setback_m: float,
                 obstacle_free_frac: float, min_usable_area_m2: float, max_tilt_deg: float,
                 exclude_north_facing: bool, north_sector_half_width_deg: float,
                 flat_layout: str, flat_module_tilt_deg: float, flat_module_azimuth_deg: float,
                 east_west_tilt_deg: float, row_spacing: str, flat_gcr: float, east_west_gcr: float,
                 pitched_gcr: float, module_efficiency_frac: float,
                 existing_pv_kwp: pd.Series | None = None, category: pd.Series | None = None,
                 category_rules=()) -> gpd.GeoDataFrame:
    """Usable area, module layout and capacity of every roof plane.

    Flat planes carry racked rows: facing ``flat_module_azimuth_deg`` at
    ``flat_module_tilt_deg`` spaced by the solstice rule
    (:func:`solstice_row_gcr`) or a fixed ``flat_gcr``; or east-west
    back-to-back rows (the plane becomes two entries, ``-E`` and ``-W``, each
    half the module area). Pitched planes carry flush modules at the plane's
    tilt and azimuth covering ``pitched_gcr`` of the slope area.

    Existing PV (per building, [kWp]) is taken off the building's new capacity,
    spread over its planes in proportion to their capacity.

    ``category_rules`` (objects with ``category``, ``roof_kind`` 'flat' | 'pitched', ``mount``
    'flush' | 'rack', ``module_tilt_deg``, ``coverage_frac``) override the layout of the planes
    of buildings of that category (``category``: building_id -> category) and roof kind:
    flush modules lie at the plane's tilt and azimuth (a flat plane: ``module_tilt_deg``, facing
    south), racked ones at ``module_tilt_deg``; both cover ``coverage_frac`` of the usable
    area. A flat plane under a rule is never split into east-west rows.

    Returns
    -------
    GeoDataFrame
        The planes plus ``area_m2, usable_area_m2, usable_geometry (WKB-free
        shapely array column), mount, module_tilt_deg, module_azimuth_deg, gcr,
        module_area_m2, capacity_kwp, excluded_reason``.
    """
    df = planes.copy()
    tilt = df["tilt_deg"].to_numpy(float)
    az = df["azimuth_deg"].to_numpy(float) % 360.0
    is_flat = df["roof_type"].to_numpy() == "flat"
    area = shapely.area(df.geometry.to_numpy())
    inner, usable_plan = usable_area_m2(df.geometry.to_numpy(), setback_m=edge_setback_m,
                                        obstacle_free_frac=obstacle_free_frac)
    cos_t = np.cos(np.radians(np.where(is_flat, 0.0, tilt)))
    usable = usable_plan / cos_t  # slope area for pitched planes; plan area for flat

    reason = np.full(len(df), "", dtype=object)
    reason[~is_flat & (tilt > max_tilt_deg)] = EXCLUDED["too_steep"]
    if exclude_north_facing:
        dnorth = np.minimum(az, 360.0 - az)
        reason[(reason == "") & ~is_flat & (dnorth < north_sector_half_width_deg)] = EXCLUDED["north"]
    reason[(reason == "") & (usable < min_usable_area_m2)] = EXCLUDED["small"]

    # module layout
    if row_spacing == "solstice-9-15":
        gcr_south = float(solstice_row_gcr(latitude_deg, flat_module_tilt_deg, flat_module_azimuth_deg))
    else:
        gcr_south = float(flat_gcr)
    df["area_m2"] = area
    df["usable_area_m2"] = usable
    df["usable_geometry"] = inner
    df["mount"] = np.where(is_flat, "rack", "flush")
    df["_pair"] = ""  # 'E' / 'W': the half of an east-west pair of rows (pv_survey.layout places both)
    df["module_tilt_deg"] = np.where(is_flat, flat_module_tilt_deg, tilt)
    df["module_azimuth_deg"] = np.where(is_flat, flat_module_azimuth_deg, az)
    df["gcr"] = np.where(is_flat, gcr_south, pitched_gcr)
    df["excluded_reason"] = reason
    ruled = np.zeros(len(df), dtype=bool)
    if category is not None and len(category_rules):
        cat = category.reindex(df["building_id"]).fillna("").to_numpy(object)
        for rule in category_rules:
            sel = (cat == rule.category) & (is_flat if rule.roof_kind == "flat" else ~is_flat)
            if not sel.any():
                continue
            ruled |= sel
            df.loc[sel, "mount"] = rule.mount
            df.loc[sel, "gcr"] = float(rule.coverage_frac)
            if rule.mount == "rack" or rule.roof_kind == "flat":
                df.loc[sel, "module_tilt_deg"] = float(rule.module_tilt_deg)
            if rule.roof_kind == "flat":
                df.loc[sel, "module_azimuth_deg"] = 180.0

    if flat_layout == "east-west" and (is_flat & ~ruled).any():
        is_flat = is_flat & ~ruled
        flat_rows = df[is_flat]
        east = flat_rows.copy()
        west = flat_rows.copy()
        for part, azim, suffix in ((east, 90.0, "-E"), (west, 270.0, "-W")):
            part["roof_id"] = part["roof_id"] + suffix
            part["_pair"] = suffix[1]
            part["module_tilt_deg"] = east_west_tilt_deg
            part["module_azimuth_deg"] = azim
            part["gcr"] = east_west_gcr
            part["usable_area_m2"] = part["usable_area_m2"] / 2.0
        df = pd.concat([df[~is_flat], east, west], ignore_index=True)
        df = df.sort_values(["building_id", "roof_id"], kind="stable").reset_index(drop=True)

    module_area = df["usable_area_m2"].to_numpy() * df["gcr"].to_numpy()
    # 1 m2 of module at STC (1000 W/m2) delivers efficiency x 1 kW
    capacity = module_area * module_efficiency_frac
    kept = df["excluded_reason"].to_numpy() == ""
    capacity = np.where(kept, capacity, 0.0)

    if existing_pv_kwp is not None and len(existing_pv_kwp):
        bid = df["building_id"]
        exist = existing_pv_kwp.reindex(bid).fillna(0.0).to_numpy(float)
        total = pd.Series(capacity).groupby(bid.to_numpy()).transform("sum").to_numpy()
        share = np.divide(capacity, total, out=np.zeros_like(capacity), where=total > 0)
        new_cap = np.maximum(capacity - exist * share, 0.0)
        covered = kept & (exist > 0) & (new_cap * (1.0 / module_efficiency_frac) < min_usable_area_m2 * df["gcr"].to_numpy())
        df.loc[covered, "excluded_reason"] = EXCLUDED["covered"]
        capacity = np.where(covered, 0.0, new_cap)
        module_area = np.where(kept, capacity / module_efficiency_frac, module_area)

    df["module_area_m2"] = np.where(df["excluded_reason"].to_numpy() == "", module_area, 0.0)
    df["capacity_kwp"] = capacity
    return gpd.GeoDataFrame(df, geometry="geometry", crs=planes.crs)


# --------------------------------------------------------------------------- building parts and constraints

#: Plane source prefix of roof planes made from building parts (:func:`part_roof_planes`).
PART_SOURCE_PREFIX = "building:part"


def with_part_planes(planes: gpd.GeoDataFrame | None, buildings: gpd.GeoDataFrame,
                     parts: gpd.GeoDataFrame | None, *, default_pitch_deg: float = RoofsConfig.default_pitch_deg) -> gpd.GeoDataFrame | None:
    """A roof-planes layer with the planes of outlines that have building parts added.

    Outlines already covered by ``planes`` (a roof-planes file) keep those planes.

    Parameters
    ----------
    planes : GeoDataFrame or None
        Roof-planes layer read from a file.
    buildings : GeoDataFrame
        Outlines (metric CRS).
    parts : GeoDataFrame or None
        ``InputReport.parts``.

    Returns
    -------
    GeoDataFrame or None
        ``planes`` plus :func:`part_roof_planes` for the other outlines (None when both are empty).
    """
    if parts is None or len(parts) == 0:
        return planes
    if planes is not None and len(planes):
        parts = parts[~parts["building_id"].isin(planes["building_id"])]
    pp = part_roof_planes(buildings, parts, default_pitch_deg=default_pitch_deg)
    if planes is None or len(planes) == 0:
        return pp
    return gpd.GeoDataFrame(pd.concat([planes, pp.to_crs(planes.crs)], ignore_index=True),
                            geometry="geometry", crs=planes.crs)


def part_prisms(planes: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Footprints and heights of building-part roof planes, to burn into a rasterised DSM. [m]"""
    if planes is None or len(planes) == 0 or "plane_source" not in planes or "height_m" not in planes:
        return np.empty(0, object), np.empty(0)
    sel = planes["plane_source"].astype(str).str.startswith(PART_SOURCE_PREFIX).to_numpy().copy()
    h = planes["height_m"].to_numpy(float)
    sel &= np.isfinite(h) & (h > 0)
    return planes.geometry.to_numpy()[sel], h[sel]


#: Reasons of :func:`apply_constraints` (stable strings, Chinese / English).
CONSTRAINT_REASONS = {
    "heritage": "文物/历史建筑 / heritage or historic building",
    "supertall": "supertall roof: helipad, access and wind load to verify / 超高层屋面：停机坪、通道与风荷载待核",
}


#: Share of a footprint inside a ``--protected`` polygon for the building to count as protected
#: (project rule: a majority, as for building parts and zones).
PROTECTED_SHARE_FRAC = 0.5


def apply_constraints(buildings: gpd.GeoDataFrame, constraints, protected=None) -> gpd.GeoDataFrame:
    """Flag buildings whose roofs a planner must keep out of the build years.

    Heritage / historic / listed buildings (a non-empty ``heritage`` column: OSM
    ``heritage=*``, ``historic=*``, ``listed_status=*`` or a mapped field) and buildings
    taller than ``constraints.supertall_height_m`` (GB 50016-2014 (2018) s.7.4.1: public
    buildings over 100 m with large floors provide a helicopter landing area or rescue
    platform on the roof) get ``constraint_reason``. Per constraint, ``'exclude'`` also sets
    ``excluded_reason`` (no roof surveyed); ``'reserve'`` keeps the roof surveyed and the plan
    holds the site in reserve; ``'ignore'`` does nothing.

    Parameters
    ----------
    buildings : GeoDataFrame
        Canonical buildings.
    constraints : RoofConstraints-like
        ``heritage`` and ``supertall`` ('exclude' | 'reserve' | 'ignore'), ``supertall_height_m`` [m].
    protected : GeoDataFrame, optional
        Protected areas / heritage buildings (``--protected FILE``), same CRS: a building with at
        least :data:`PROTECTED_SHARE_FRAC` of its footprint inside counts as heritage.

    Returns
    -------
    GeoDataFrame
        A copy with ``constraint_reason`` ('' when none).
    """
    b = buildings.copy()
    usable = b["excluded_reason"].fillna("").to_numpy(object) == ""
    her = b["heritage"].fillna("").astype(str).to_numpy() != "" if "heritage" in b else np.zeros(len(b), bool)
    if protected is not None and len(protected):
        zone = shapely.union_all(protected.geometry.to_numpy())
        fp = np.asarray(b.geometry.to_numpy(), dtype=object)
        ok = np.array([g is not None and not g.is_empty for g in fp], dtype=bool)
        inside = np.zeros(len(b), bool)
        if ok.any():
            area = shapely.area(fp[ok])
            share = np.divide(shapely.area(shapely.intersection(fp[ok], zone)), area, out=np.zeros(ok.sum()),
                              where=area > 0)
            inside[ok] = share >= PROTECTED_SHARE_FRAC
        if "heritage" in b:
            b.loc[inside & ~her, "heritage"] = "protected layer"
        else:
            b["heritage"] = np.where(inside, "protected layer", "")
        her = her | inside
    tall = b["height_m"].to_numpy(float) > float(constraints.supertall_height_m)
    reason = np.full(len(b), "", dtype=object)
    excl = b["excluded_reason"].fillna("").to_numpy(object).copy()
    for mask, mode, key in ((tall, constraints.supertall, "supertall"), (her, constraints.heritage, "heritage")):
        if mode == "ignore":
            continue
        hit = mask & usable
        reason[hit] = CONSTRAINT_REASONS[key]
        if mode == "exclude":
            excl[hit] = CONSTRAINT_REASONS[key]
    b["constraint_reason"] = reason
    b["excluded_reason"] = excl
    return b


def constraint_summary_lines(buildings: pd.DataFrame) -> list[str]:
    """Plain sentences counting the constrained buildings by reason (excluded or held in reserve)."""
    if "constraint_reason" not in buildings:
        return []
    lines = []
    cr = buildings["constraint_reason"].fillna("")
    for reason in sorted(set(cr) - {""}):
        sel = cr == reason
        n_ex = int((sel & (buildings["excluded_reason"] == reason)).sum())
        lines.append(f"Constraint '{reason}': {int(sel.sum())} buildings ({n_ex} excluded, "
                     f"{int(sel.sum()) - n_ex} surveyed and held in reserve).")
    return lines
