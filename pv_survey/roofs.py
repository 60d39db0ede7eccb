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

__all__ = [
    "WINTER_SOLSTICE_DECLINATION_DEG",
    "solar_altitude_azimuth_deg",
    "solstice_row_gcr",
    "gb50797_row_pitch_factor",
    "roof_planes_from_buildings",
    "usable_area_m2",
    "layout_roofs",
    "EXCLUDED",
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


def solstice_row_gcr(latitude_deg, module_tilt_deg, row_azimuth_deg=180.0, *,
                     first_hour=9.0, last_hour=15.0, steps=61):
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
    row_azimuth_deg : float or array_like, default 180
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


def roof_planes_from_buildings(buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None = None, *,
                               flat_max_tilt_deg: float = 5.0,
                               default_pitch_deg: float = 20.0) -> gpd.GeoDataFrame:
    """One row per roof plane for every usable building.

    Flat roofs give one horizontal plane, the footprint. Pitched roofs take
    their planes from ``planes`` (a roof-planes layer with ``building_id``,
    ``tilt_deg``, ``azimuth_deg``); a pitched building without planes is split
    into an assumed gable along its long axis at ``default_pitch_deg`` and
    flagged ``plane_source = 'assumed gable'``. A plane flatter than
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
    pitched = ok["roof_type"].eq("pitched").to_numpy()
    if planes is not None and len(planes):
        known = planes[planes["building_id"].isin(ok["building_id"])]
        have_planes = ok["building_id"].isin(known["building_id"]).to_numpy()
    else:
        known = None
        have_planes = np.zeros(len(ok), bool)

    flat = ok[~pitched & ~have_planes]
    frames.append(pd.DataFrame({
        "building_id": flat["building_id"].to_numpy(),
        "tilt_deg": 0.0,
        "azimuth_deg": 180.0,
        "plane_source": "footprint (flat)",
        "geometry": flat.geometry.to_numpy(),
    }))
    if known is not None:
        frames.append(pd.DataFrame({
            "building_id": known["building_id"].to_numpy(),
            "tilt_deg": known["tilt_deg"].to_numpy(float),
            "azimuth_deg": known["azimuth_deg"].to_numpy(float) % 360.0,
            "plane_source": "roof-planes layer",
            "geometry": known.geometry.to_numpy(),
        }))
    gable = ok[pitched & ~have_planes]
    g, t, a, idx = _gable_planes(gable.geometry.to_numpy(), default_pitch_deg)
    frames.append(pd.DataFrame({
        "building_id": gable["building_id"].to_numpy()[idx],
        "tilt_deg": t,
        "azimuth_deg": a,
        "plane_source": "assumed gable",
        "geometry": g,
    }))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["building_id", "azimuth_deg"], kind="stable").reset_index(drop=True)
    is_flat = out["tilt_deg"].to_numpy() < flat_max_tilt_deg
    out["roof_type"] = np.where(is_flat, "flat", "pitched")
    heights = ok.set_index("building_id")["height_m"]
    out["height_m"] = heights.reindex(out["building_id"]).to_numpy(float)
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
                 existing_pv_kwp: pd.Series | None = None) -> gpd.GeoDataFrame:
    """Usable area, module layout and capacity of every roof plane.

    Flat planes carry racked rows: facing ``flat_module_azimuth_deg`` at
    ``flat_module_tilt_deg`` spaced by the solstice rule
    (:func:`solstice_row_gcr`) or a fixed ``flat_gcr``; or east-west
    back-to-back rows (the plane becomes two entries, ``-E`` and ``-W``, each
    half the module area). Pitched planes carry flush modules at the plane's
    tilt and azimuth covering ``pitched_gcr`` of the slope area.

    Existing PV (per building, [kWp]) is taken off the building's new capacity,
    spread over its planes in proportion to their capacity.

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
    df["module_tilt_deg"] = np.where(is_flat, flat_module_tilt_deg, tilt)
    df["module_azimuth_deg"] = np.where(is_flat, flat_module_azimuth_deg, az)
    df["gcr"] = np.where(is_flat, gcr_south, pitched_gcr)
    df["excluded_reason"] = reason

    if flat_layout == "east-west" and is_flat.any():
        flat_rows = df[is_flat]
        east = flat_rows.copy()
        west = flat_rows.copy()
        for part, azim, suffix in ((east, 90.0, "-E"), (west, 270.0, "-W")):
            part["roof_id"] = part["roof_id"] + suffix
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
