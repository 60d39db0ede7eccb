"""One assessment for every resource: sample points -> horizons -> sky view -> yield -> exclusion rules.

After the energy stage and before the plan (config -> inputs -> resources -> shading ->
weather and energy -> **assessment** -> plan -> outputs). Every resource of
:data:`pv_survey.resources.REGISTRY` hands its surfaces here and gets them back with
their yield and final ``excluded_reason``:

1. shading sample points: spread over an area (roofs, canopies;
   :func:`pv_survey.shading.sample_roof_points`) or given (a grid up a wall);
2. their horizons through the DSM, the surface's own building ignored, kept as quantile
   profiles per surface (:func:`pv_survey.shading.profiles_at_points`);
3. the module plane's own view of the sky above its horizon and the open share of the
   horizon band (:func:`pv_survey.shading.plane_sky_view_frac`);
4. hourly yield over the weather year (:func:`pv_survey.energy.simulate_roofs`);
5. the exclusion rules (:func:`apply_yield_rules`), each with its message defined here once:
   :data:`SHADED_REASON` and :data:`DARK_REASON`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from .errors import InputError
from .keys import member
from .resources import REGISTRY, AreaSampling, PointSampling, Resource, TileData, YieldRules

__all__ = ["Assessed", "assess", "assess_surfaces", "assess_units", "assess_resource", "apply_yield_rules", "profile_strings",
           "SHADED_REASON", "DARK_REASON"]

#: Reason of a surface producing less than ``min_output_frac`` of the same surface unshaded
#: (``pct`` = the threshold in %; NREL's 70% rule, Gagnon et al. 2016).
SHADED_REASON = "shaded: output below {pct:.0f}% of unshaded / 遮挡严重"
#: Reason of a surface receiving less than ``min_poa_kwh_m2`` in its plane a year
#: (``kwh`` = the threshold; City Energy Analyst's 800 kWh/m2).
DARK_REASON = "irradiation below {kwh:.0f} kWh/m2 a year / 辐照不足"


@dataclass
class Assessed:
    """A resource's assessed surfaces and the horizon profiles of those simulated.

    Attributes
    ----------
    frame : GeoDataFrame
        The surfaces with the energy columns, ``sky_view_frac``, ``horizon_deg`` (median
        profile as text) and the final ``excluded_reason``.
    horizon_deg : numpy.ndarray
        float32 (n_simulated, n_quantiles, n_sectors), rows in the order of ``frame``. [deg]
    simulated : numpy.ndarray of bool
        Rows of ``frame`` whose yield was computed.
    units : GeoDataFrame or None
        The module layout's row segments on the kept surfaces, each with its own yield
        (:func:`assess_units`); None for a resource without a module layout.
    modules : GeoDataFrame or None
        One polygon per module on the kept surfaces, when the layout made them.
    """

    frame: Any
    horizon_deg: np.ndarray
    simulated: np.ndarray
    units: Any = None
    modules: Any = None


def profile_strings(horizon_deg: np.ndarray) -> np.ndarray:
    """Median point profile of each surface as a compact comma-separated string [deg].

    ``horizon_deg`` is ``(n, n_quantiles, n_sectors)``; the middle quantile is kept, rounded to 0.1 deg.
    """
    if horizon_deg.size == 0:
        return np.empty(0, dtype=object)
    q = horizon_deg.shape[1]
    median = horizon_deg[:, q // 2, :]
    if not np.isfinite(median).all():
        rounded = np.round(median, 1)
        return np.array([",".join(f"{v:g}" for v in row) for row in rounded], dtype=object)
    # every value is a whole number of tenths: format each distinct one once, then join per surface
    tenths = np.rint(median * 10.0).astype(np.int64)
    lo = int(tenths.min())
    words = np.array([f"{t / 10:g}" for t in range(lo, int(tenths.max()) + 1)], dtype=object)
    return np.array([",".join(row) for row in words[tenths - lo].tolist()], dtype=object)


def apply_yield_rules(reason: np.ndarray, simulated: np.ndarray, poa_kwh_m2: np.ndarray,
                      shading_loss_frac: np.ndarray, rules: YieldRules) -> np.ndarray:
    """Exclusion reasons after the yield rules (the only place they and their messages live).

    Parameters
    ----------
    reason : array of str
        Exclusion reasons before the rules ('' = kept).
    simulated : array of bool
        Surfaces whose yield was computed.
    poa_kwh_m2 : array of float
        Annual plane-of-array irradiation after shading. [kWh/m2]
    shading_loss_frac : array of float
        1 - shaded / unshaded output. [-]
    rules : pv_survey.resources.YieldRules

    Returns
    -------
    numpy.ndarray of object
        A copy of ``reason``: a simulated surface below ``min_poa_kwh_m2`` gets
        :data:`DARK_REASON`; one still kept and below ``min_output_frac`` of its unshaded
        output gets :data:`SHADED_REASON`.
    """
    out = np.asarray(reason, dtype=object).copy()
    sim = np.asarray(simulated, dtype=bool)
    if rules.min_poa_kwh_m2 is not None:
        dark = sim & (np.asarray(poa_kwh_m2, float) < float(rules.min_poa_kwh_m2))
        out[dark] = DARK_REASON.format(kwh=float(rules.min_poa_kwh_m2))
    if rules.min_output_frac is not None:
        shaded = sim & (out == "") & ((1.0 - np.asarray(shading_loss_frac, float)) < float(rules.min_output_frac))
        out[shaded] = SHADED_REASON.format(pct=100.0 * float(rules.min_output_frac))
    return out


def _points(sampling, tile: TileData, cfg, resource: Resource):
    """(x, y, z, surface) of a sampling spec on the tile's DSM."""
    from .shading import dsm_height_at, sample_roof_points

    if isinstance(sampling, PointSampling):
        if tile.absolute:
            raise InputError(f"{cfg.inputs.dsm}: {resource.name} need heights above ground; give --dem with --dsm "
                             "(or leave out --dsm to rasterise footprints x heights)")
        return sampling.x, sampling.y, sampling.z, sampling.surface
    if not isinstance(sampling, AreaSampling):
        raise TypeError(f"resource {resource.name!r}: sample() returned {type(sampling).__name__}; "
                        "return an AreaSampling or a PointSampling")
    sc = cfg.shading
    x, y, si = sample_roof_points(sampling.geometry, points_per_100m2=sc.points_per_100m2,
                                  max_points=sc.max_points_per_roof)
    if tile.absolute:
        z = dsm_height_at(tile.dsm, x, y)
        if sampling.offset_on_surface_m is not None:
            z = z + np.asarray(sampling.offset_on_surface_m, dtype=np.float64)[si]
    else:
        z = np.asarray(sampling.height_m, dtype=np.float64)[si]
    return x, y, z, si


def _column(frame, name: str, fallback: str) -> np.ndarray:
    return frame[name if name in frame else fallback].to_numpy(float)


def assess_surfaces(surfaces, resource: Resource, cfg, tile: TileData, *, timer=None,
                    progress: Callable[[str, int, int], None] | None = None) -> Assessed:
    """Horizons -> yield -> exclusion rules of one resource's surfaces (every resource alike).

    Parameters
    ----------
    surfaces : GeoDataFrame
        The resource's surfaces (:mod:`pv_survey.resources`); columns whose name starts with
        ``_`` are helpers of its sampling and are dropped.
    resource : pv_survey.resources.Resource
    cfg : pv_survey.config.Config
        The shading section (sectors, radius, quantiles, sample density) and the resource's
        own settings through ``resource.sample`` / ``resource.rules``.
    tile : pv_survey.resources.TileData
        The tile's DSM, owner index, weather and energy arguments.
    timer : pipeline timer, optional
        Stages ``shading`` and ``energy`` add up over the resources.
    progress : callable(stage, done, total), optional
        Receives ``("shading", ...)`` and ``("energy", ...)`` for roofs,
        ``("<name> shading", ...)`` and ``("<name> energy", ...)`` for the others,
        counting surfaces.

    Returns
    -------
    Assessed
    """
    from . import energy, shading

    sc = cfg.shading

    def report(step: str):
        if progress is None:
            return None
        stage = step if resource.name == "roofs" else f"{resource.name} {step}"
        return lambda done, total: progress(stage, done, total)

    reason = surfaces["excluded_reason"].fillna("").to_numpy(object)
    simulated = reason == ""
    k = surfaces[simulated]
    n = len(k)
    with timer.stage("shading") if timer is not None else nullcontext():
        x, y, z, si = _points(resource.sample(cfg, k), tile, cfg, resource)
        if "building_id" in k:
            owner = tile.owner_of.reindex(pd.Index(k["building_id"])).fillna(-1).to_numpy(np.int64)
        else:  # a car park has no building of its own to ignore
            owner = np.full(n, -1, dtype=np.int64)
        hz, _ = shading.profiles_at_points(tile.dsm, x, y, z, si, n, exclude_owner=owner[si],
                                           n_sectors=sc.n_sectors, radius_m=sc.search_radius_m,
                                           n_quantiles=sc.n_quantiles, progress=report("shading"))
        tilt = _column(k, "module_tilt_deg", "tilt_deg")
        az = _column(k, "module_azimuth_deg", "azimuth_deg")
        # the module plane's own view of the sky above its horizon, and the open horizon band
        svf, band = shading.plane_sky_view_frac(hz, tilt, az)
    rules = resource.rules(cfg)
    with timer.stage("energy") if timer is not None else nullcontext():
        mount = k["mount"].to_numpy(object)
        gcr = k["gcr"].to_numpy(float) if "gcr" in k else np.full(n, np.nan)
        res = energy.simulate_roofs(
            tile.weather, tilt, az, k["capacity_kwp"].to_numpy(float), mount=mount,
            gcr=np.where(mount == "rack", gcr, np.nan), horizon_deg=hz, sky_view_frac=svf,
            horizon_band_open_frac=band, progress=report("energy"),
            **{**tile.energy_params, **rules.energy_overrides})
    out = surfaces.drop(columns=[c for c in surfaces.columns if str(c).startswith("_")])
    for col in res.columns:
        values = np.full(len(out), np.nan)
        values[simulated] = res[col].to_numpy()
        out[col] = values
    values = np.full(len(out), np.nan)
    values[simulated] = svf
    out["sky_view_frac"] = values
    prof = np.full(len(out), "", dtype=object)
    prof[simulated] = profile_strings(hz)
    out["horizon_deg"] = prof
    out["excluded_reason"] = apply_yield_rules(reason, simulated, out["poa_kwh_m2"].to_numpy(float),
                                               out["shading_loss_frac"].to_numpy(float), rules)
    return Assessed(out, hz, simulated)


def assess(cfg, tile: TileData, *, kinds=None, timer=None,
           progress: Callable[[str, int, int], None] | None = None) -> dict[str, Assessed]:
    """Every resource asked for on one tile: roofs always, then ``kinds`` (default ``cfg.resources.kinds``).

    Each resource's surfaces are made in a timer stage of its name, then assessed by
    :func:`assess_surfaces`; a resource with nothing to survey (carports without car
    parks) gives no entry.
    """
    kinds = cfg.resources.kinds if kinds is None else kinds
    out = {}
    for name in (n for n in REGISTRY if n == "roofs" or n in kinds):
        res = REGISTRY[name]
        with timer.stage(name) if timer is not None else nullcontext():
            surf = res.surfaces(cfg, tile)
        if surf is None:
            continue
        placed = None
        if res.layout is not None:  # modules one by one: the surfaces' capacity from the modules placed
            with timer.stage("layout") if timer is not None else nullcontext():
                placed = res.layout(cfg, tile, surf)
            surf = placed.roofs
        out[name] = assess_surfaces(surf, res, cfg, tile, timer=timer, progress=progress)
        if placed is not None:
            with timer.stage("modules") if timer is not None else nullcontext():
                out[name].units, out[name].modules = assess_units(placed, out[name].frame, res, cfg, tile)
    return out


def assess_units(placed, surfaces, resource: Resource, cfg, tile: TileData):
    """Yield of every row segment of a module layout, each from the horizon at its own centre.

    The segments of the surfaces still kept after the yield rules are assessed like a surface
    with one sample point: the horizon from the segment's centre at the surface's height
    (:func:`pv_survey.shading.profiles_at_points`, one profile), the plane's view of the sky above
    it, and the annual yield at the surface's module tilt, azimuth, mount and row spacing, summed
    per orientation by horizon sectors (:func:`pv_survey.energy.simulate_by_orientation`: the
    engine's results to rounding, without its hour loop per segment).

    Parameters
    ----------
    placed : pv_survey.layout.Layout
        The layout of the surfaces (its ``segments`` and ``modules``).
    surfaces : GeoDataFrame
        The assessed surfaces (:func:`assess_surfaces`), with the final ``excluded_reason``.
    resource, cfg, tile
        As :func:`assess_surfaces`.

    Returns
    -------
    units : GeoDataFrame
        The segments of kept surfaces with ``annual_kwh``, ``specific_yield_kwh_kwp``,
        ``poa_kwh_m2``, ``shading_loss_frac``, ``sky_view_frac``.
    modules : GeoDataFrame or None
        The modules of kept surfaces with their segment's specific yield and their share of its
        energy (None when the layout has none).
    """
    from . import energy, shading
    from .shading import dsm_height_at

    sc = cfg.shading
    id_field = resource.id_field
    kept_ids = pd.Index(surfaces.loc[surfaces["excluded_reason"].fillna("") == "", id_field])
    seg = placed.segments
    seg = seg[member(seg[id_field], kept_ids)].reset_index(drop=True)
    n = len(seg)
    info = surfaces.set_index(id_field)
    at = info.index.get_indexer(seg[id_field])
    x = seg["x_m"].to_numpy(float)
    y = seg["y_m"].to_numpy(float)
    z = dsm_height_at(tile.dsm, x, y) if tile.absolute else info["height_m"].to_numpy(float)[at]
    owner = tile.owner_of.reindex(pd.Index(seg["building_id"])).fillna(-1).to_numpy(np.int64) \
        if "building_id" in seg else np.full(n, -1, dtype=np.int64)
    hz, _ = shading.profiles_at_points(tile.dsm, x, y, z, np.arange(n), n, exclude_owner=owner,
                                       n_sectors=sc.n_sectors, radius_m=sc.search_radius_m, n_quantiles=1)
    tilt = _column(info, "module_tilt_deg", "tilt_deg")[at]
    az = _column(info, "module_azimuth_deg", "azimuth_deg")[at]
    svf, band = shading.plane_sky_view_frac(hz, tilt, az)
    mount = info["mount"].to_numpy(object)[at]
    gcr = info["gcr"].to_numpy(float)[at] if "gcr" in info else np.full(n, np.nan)
    rules = resource.rules(cfg)
    params = {**tile.energy_params, **rules.energy_overrides}
    gcr = np.where(mount == "rack", gcr, np.nan)
    # the segments of one orientation summed by horizon sectors (exact, no hour loop per segment); the
    # unshaded reference is the same for every segment of one orientation, so it is simulated once per
    # orientation
    res = energy.simulate_by_orientation(tile.weather, tilt, az, seg["capacity_kwp"].to_numpy(float), mount=mount,
                                         gcr=gcr, horizon_deg=hz, sky_view_frac=svf, horizon_band_open_frac=band,
                                         **params)
    orient, first = energy.orientation_groups(tilt, az, mount == "rack", gcr)
    ref = energy.simulate_roofs(tile.weather, tilt[first], az[first], np.ones(first.size), mount=mount[first],
                                gcr=gcr[first], **params)["specific_yield_kwh_kwp"].to_numpy()[orient] \
        if n else np.empty(0)
    for col in ("annual_kwh", "specific_yield_kwh_kwp", "poa_kwh_m2"):
        seg[col] = res[col].to_numpy()
    sy = seg["specific_yield_kwh_kwp"].to_numpy(float)
    seg["shading_loss_frac"] = np.clip(1.0 - np.divide(sy, ref, out=np.ones(n), where=ref > 0), 0.0, 1.0)
    seg["sky_view_frac"] = svf
    modules = placed.modules
    if modules is not None:
        modules = modules[member(modules[id_field], kept_ids)].reset_index(drop=True)
        s_at = pd.Index(seg["segment_id"]).get_indexer(modules["segment_id"])
        share = 1.0 / seg["n_modules"].to_numpy(float)[s_at]
        modules["capacity_kwp"] = seg["capacity_kwp"].to_numpy(float)[s_at] * share
        modules["annual_kwh"] = seg["annual_kwh"].to_numpy(float)[s_at] * share
        modules["specific_yield_kwh_kwp"] = seg["specific_yield_kwh_kwp"].to_numpy(float)[s_at]
    return seg, modules


def assess_resource(name: str, cfg, buildings, dsm, weather, *, parking=None, planes=None, owner_of=None,
                    absolute: bool = False) -> Any:
    """One resource over a set of buildings (and car parks) and one DSM: its assessed surfaces.

    For notebooks and site checks outside a survey run (which tiles the area and calls
    :func:`assess` per tile).

    Parameters
    ----------
    name : str
        A resource of :data:`pv_survey.resources.REGISTRY` (``"roofs"``, ``"facades"``, ``"carports"``).
    cfg : pv_survey.config.Config
        Its settings (``roofs``, ``resources``, ``shading``, ``energy`` sections).
    buildings : GeoDataFrame
        Canonical buildings in the DSM's CRS; every one is assessed (its neighbours shade it).
    dsm : pv_survey.shading.Dsm
        Heights covering the surfaces plus ``shading.search_radius_m``.
    weather : pv_survey.weather.Weather
    parking : GeoDataFrame, optional
        Car parks, for ``"carports"``.
    planes : GeoDataFrame, optional
        Roof planes, for ``"roofs"``.
    owner_of : Series, optional
        building_id -> owner value in ``dsm.owner``; default the building's position in
        ``buildings``, as ``dsm_from_buildings(buildings.geometry, ...)`` numbers them.
    absolute : bool
        ``dsm`` holds absolute heights (a DSM file without DEM).

    Returns
    -------
    GeoDataFrame or None
        The assessed surfaces (None when the resource has nothing to survey).
    """
    from .energy import params_from_config

    if name not in REGISTRY:
        raise InputError(f"resource {name!r}: choose one of {', '.join(REGISTRY)}")
    if owner_of is None:
        owner_of = pd.Series(np.arange(len(buildings)), index=pd.Index(buildings["building_id"]))
    tile = TileData(buildings=buildings, core_ids=None, weather=weather, dsm=dsm, owner_of=owner_of,
                    absolute=absolute, energy_params=params_from_config(cfg.energy), planes=planes, parking=parking)
    res = REGISTRY[name]
    surf = res.surfaces(cfg, tile)
    if surf is not None and res.layout is not None:
        surf = res.layout(cfg, tile, surf).roofs
    return None if surf is None else assess_surfaces(surf, res, cfg, tile).frame
