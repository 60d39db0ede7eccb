"""Resources other than roofs: one registry entry per resource, one way to assess and total them.

A resource (facades, carports; roofs are the plan's own resource, see
:func:`pv_survey.pipeline.assess_roofs`) is one :class:`Resource` in :data:`REGISTRY`:
its layer name, its bilingual label, the config field of its turnkey cost and one
``survey`` function that turns the scenario and a tile's data into the resource's table
(geometry, ``tilt_deg``, ``azimuth_deg``, ``capacity_kwp``, ``height_m``, ``annual_kwh``,
``excluded_reason`` ...). :func:`assess` runs every resource a scenario asks for on one
tile; :func:`totals` and :func:`summary_lines` report them. Adding a resource means one
module with its science and one entry here (docs/ARCHITECTURE.md, "Adding a resource").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import InputError

__all__ = ["Resource", "REGISTRY", "TileData", "assess", "totals", "summary_lines", "profile_strings",
           "SHADED_REASON", "shaded_out"]

#: Reason of a surface excluded by the ``shading.min_output_frac`` rule (``pct`` = the threshold in %).
SHADED_REASON = "shaded: output below {pct:.0f}% of unshaded / 遮挡严重"


def shaded_out(kept: np.ndarray, shading_loss_frac: np.ndarray, min_output_frac: float) -> np.ndarray:
    """Kept surfaces producing less than ``min_output_frac`` of the same surface unshaded.

    Parameters
    ----------
    kept : array of bool
        Surfaces still kept.
    shading_loss_frac : array of float
        Annual loss to shading, 1 - shaded / unshaded output. [-]
    min_output_frac : float
        Minimum share of the unshaded output. [-]

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.asarray(kept, bool) & ((1.0 - np.asarray(shading_loss_frac, float)) < float(min_output_frac))


@dataclass(frozen=True)
class TileData:
    """What a resource's survey gets for one tile.

    Attributes
    ----------
    buildings : GeoDataFrame
        Usable buildings of the tile's core and halo (the halo shades and shares walls).
    core_ids : array_like or None
        building_id of the core buildings (None: every building is core).
    parking : GeoDataFrame or None
        Car parks of the tile's core.
    weather : pv_survey.weather.Weather
    dsm : pv_survey.shading.Dsm
        Heights covering the core plus the search radius.
    owner_of : Series
        building_id -> owner value in ``dsm.owner``.
    absolute : bool
        The DSM holds absolute heights (a DSM file without a DEM).
    energy_params : dict
        Keywords of :func:`pv_survey.energy.simulate_roofs` from the energy section.
    progress : callable(n_done, n_total) or None
    """

    buildings: Any
    core_ids: Any
    parking: Any
    weather: Any
    dsm: Any
    owner_of: Any
    absolute: bool
    energy_params: dict
    progress: Callable | None = None


@dataclass(frozen=True)
class Resource:
    """One resource kind.

    Attributes
    ----------
    name : str
        Layer name and value of ``resources.kinds``.
    label : str
        Bilingual label of the summary (en / zh).
    capex_field : str
        Field of :class:`pv_survey.config.ResourcesConfig` holding the turnkey cost. [CNY/W]
    survey : callable(cfg, TileData) -> GeoDataFrame
        The resource's table for one tile.
    """

    name: str
    label: str
    capex_field: str
    survey: Callable


def _survey_facades(cfg, t: TileData):
    from .facades import survey_facades

    rc, sc = cfg.resources, cfg.shading
    if t.absolute:
        raise InputError(f"{cfg.inputs.dsm}: facades need heights above ground; give --dem with --dsm "
                         "(or leave out --dsm to rasterise footprints x heights)")
    return survey_facades(
        t.buildings, t.dsm, t.weather, min_segment_width_m=rc.facade_min_segment_width_m,
        exclude_ground_floors_m=rc.facade_exclude_ground_floors_m,
        window_to_wall_frac=rc.facade_window_to_wall_frac, bipv_efficiency_frac=rc.facade_bipv_efficiency_frac,
        simplify_tolerance_m=rc.facade_simplify_tolerance_m,
        shared_wall_tolerance_m=rc.facade_shared_wall_tolerance_m, height_fracs=rc.facade_height_fracs,
        points_per_level=rc.facade_points_per_level, offset_m=rc.facade_offset_m,
        n_sectors=sc.n_sectors, radius_m=sc.search_radius_m, n_quantiles=sc.n_quantiles,
        min_poa_kwh_m2=rc.min_poa_kwh_m2, temp_model_facade=rc.facade_temperature_model,
        owner_index=t.owner_of, core_ids=t.core_ids, progress=t.progress, **t.energy_params)


def _survey_carports(cfg, t: TileData):
    from .carports import survey_carports

    if t.parking is None:
        return None
    rc, sc = cfg.resources, cfg.shading
    return survey_carports(
        t.parking, t.dsm, t.weather, canopy_tilt_deg=rc.carport_canopy_tilt_deg,
        canopy_height_m=rc.carport_canopy_height_m, coverage_frac=rc.carport_coverage_frac,
        module_efficiency_frac=rc.carport_module_efficiency_frac, azimuth_deg=rc.carport_azimuth_deg,
        min_area_m2=rc.carport_min_area_m2, buildings=t.buildings, n_sectors=sc.n_sectors,
        radius_m=sc.search_radius_m, points_per_100m2=sc.points_per_100m2, max_points=sc.max_points_per_roof,
        n_quantiles=sc.n_quantiles, min_poa_kwh_m2=rc.min_poa_kwh_m2, progress=t.progress, **t.energy_params)


#: Every resource besides roofs, by layer name, in the order they are assessed and reported.
REGISTRY: dict[str, Resource] = {
    "facades": Resource("facades", "Facades (BIPV) / 立面光伏", "facade_capex_cny_per_w", _survey_facades),
    "carports": Resource("carports", "Carport canopies / 车棚光伏", "carport_capex_cny_per_w", _survey_carports),
}


def profile_strings(horizon_deg: np.ndarray) -> np.ndarray:
    """Median point profile of each surface as a compact comma-separated string [deg].

    ``horizon_deg`` is ``(n, n_quantiles, n_sectors)``; the middle quantile is kept, rounded to 0.1 deg.
    """
    if horizon_deg.size == 0:
        return np.empty(0, dtype=object)
    q = horizon_deg.shape[1]
    med = horizon_deg[:, q // 2, :]
    rounded = np.round(med, 1)
    return np.array([",".join(f"{v:g}" for v in row) for row in rounded], dtype=object)


def _layer_ready(frame):
    """Horizon arrays -> the compact median-profile string used for roofs."""
    frame = frame.copy()
    if "horizon_deg" in frame and len(frame) and not isinstance(frame["horizon_deg"].iloc[0], str):
        prof = np.full(len(frame), "", dtype=object)
        have = np.array([isinstance(h, np.ndarray) and h.size > 0 for h in frame["horizon_deg"]])
        if have.any():
            prof[have] = profile_strings(np.stack(frame["horizon_deg"].to_numpy()[have]))
        frame["horizon_deg"] = prof
    return frame


def assess(cfg, kinds, tile: TileData, *, timer=None) -> dict:
    """The layers of the resources in ``kinds`` (names in :data:`REGISTRY`) for one tile.

    Each survey runs in a timer stage of its name; a resource with nothing to survey
    (carports without car parks) gives no layer.
    """
    from contextlib import nullcontext

    out = {}
    for name in (n for n in REGISTRY if n in kinds):
        with timer.stage(name) if timer is not None else nullcontext():
            frame = REGISTRY[name].survey(cfg, tile)
        if frame is not None:
            out[name] = _layer_ready(frame)
    return out


def totals(layers: dict, resources_cfg: Any) -> dict:
    """Kept count, capacity [kWp], generation [MWh] and turnkey cost [CNY] of each resource layer.

    Cost = kept capacity x 1000 W/kWp x the resource's ``*_capex_cny_per_w``.
    """
    out = {}
    for name, frame in layers.items():
        kept = frame["excluded_reason"].fillna("") == ""
        cap = float(frame.loc[kept, "capacity_kwp"].sum())
        capex = float(getattr(resources_cfg, REGISTRY[name].capex_field)) if name in REGISTRY else float("nan")
        out[name] = {"n_total": int(len(frame)), "n_kept": int(kept.sum()), "capacity_kwp": cap,
                     "annual_mwh": float(frame.loc[kept, "annual_kwh"].sum() / 1000.0),
                     "capex_cny": cap * 1000.0 * capex}
    return out


def summary_lines(tot: dict) -> list[str]:
    """One bilingual sentence per resource for summary.md: reported apart from the rooftop targets."""
    lines = []
    for name, t in tot.items():
        label = REGISTRY[name].label if name in REGISTRY else name
        lines.append(
            f"{label}: {t['n_kept']:,} of {t['n_total']:,} usable, {t['capacity_kwp']:,.0f} kWp, "
            f"{t['annual_mwh']:,.0f} MWh/yr, about {t['capex_cny'] / 1e6:,.1f} M CNY turnkey — reported "
            "separately, not counted toward the rooftop targets / 单独统计，不计入屋顶光伏目标")
    return lines


