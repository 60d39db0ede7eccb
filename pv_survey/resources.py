"""Resources: roofs, facades, carports — one registry of the surfaces that can carry PV.

Stage 3 of the pipeline (config -> inputs -> **roofs and other resources** -> shading ->
weather and energy -> plan -> outputs). A resource is a kind of surface that can carry
PV. Each is one :class:`Resource` in :data:`REGISTRY` and provides

* its **surfaces** for one tile (:attr:`Resource.surfaces`): one table with ``geometry``,
  ``tilt_deg``, ``azimuth_deg`` (the surface; ``module_tilt_deg`` / ``module_azimuth_deg``
  where the modules lie otherwise, as racked rows on a flat roof), ``capacity_kwp``,
  ``height_m``, ``mount`` (``rack`` / ``flush``; ``gcr`` where racked rows shade each other),
  the owner ``building_id`` (none for car parks) and ``excluded_reason`` ('' = kept);
* where shading is **sampled** on a surface (:attr:`Resource.sample`: an area to spread
  points over, as roofs and canopies, or given points, as the grid up a wall);
* its **yield settings** (:attr:`Resource.rules`: the exclusion thresholds and any energy
  model of its own, e.g. the BIPV temperature model of facades);
* its label, cost field and the id field its layer is styled by.

One assessment serves every resource (:func:`pv_survey.assessment.assess_surfaces`:
sample points -> horizons -> the plane's sky view -> yield -> the exclusion rules).
:func:`totals` and :func:`summary_lines` report the resources besides roofs (roofs feed
the plan).
Adding a resource means one module with its science and one entry here
(docs/ARCHITECTURE.md, "Adding a resource").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["Resource", "REGISTRY", "TileData", "AreaSampling", "PointSampling", "YieldRules", "totals",
           "summary_lines", "stage_unit"]


@dataclass(frozen=True)
class TileData:
    """What a resource gets for one tile.

    Attributes
    ----------
    buildings : GeoDataFrame
        Buildings of the tile's core and halo (the halo shades and shares walls).
    core_ids : array_like or None
        building_id of the core buildings (None: every building is core).
    planes : GeoDataFrame or None
        Roof planes of the core buildings (``--roofs`` and building parts), or None.
    parking : GeoDataFrame or None
        Car parks of the tile's core (with ``carport_id``).
    weather : pv_survey.weather.Weather
    dsm : pv_survey.shading.Dsm
        Heights covering the core plus the search radius.
    owner_of : Series
        building_id -> owner value in ``dsm.owner``.
    absolute : bool
        The DSM holds absolute heights (a DSM file without a DEM).
    energy_params : dict
        Keywords of :func:`pv_survey.energy.simulate_roofs` from the energy section.
    """

    buildings: Any
    core_ids: Any
    weather: Any
    dsm: Any
    owner_of: Any
    absolute: bool
    energy_params: dict
    planes: Any = None
    parking: Any = None

    def core(self):
        """The tile's core buildings."""
        b = self.buildings
        return b if self.core_ids is None else b[b["building_id"].isin(self.core_ids)]

    def usable(self):
        """Buildings of core and halo without an exclusion reason."""
        b = self.buildings
        return b[b["excluded_reason"].fillna("").astype(str) == ""]


@dataclass(frozen=True)
class YieldRules:
    """A resource's yield settings.

    Attributes
    ----------
    min_output_frac : float or None
        Exclude surfaces producing less than this share of the same surface unshaded
        (None = no such rule). [-]
    min_poa_kwh_m2 : float or None
        Exclude surfaces receiving less than this in their plane a year (None = no such rule). [kWh/m2]
    energy_overrides : mapping
        Keywords of :func:`pv_survey.energy.simulate_roofs` that differ from the energy section's.
    """

    min_output_frac: float | None = None
    min_poa_kwh_m2: float | None = None
    energy_overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resource:
    """One resource kind.

    Attributes
    ----------
    name : str
        Layer name, timer stage and value of ``resources.kinds``.
    label : str
        Bilingual label of the summary (en / zh).
    unit : str
        What one surface is called in progress lines ("roofs", "facades", "car parks").
    id_field : str
        Column of the surface id (the layer's style labels it).
    capex_field : str or None
        Field of :class:`pv_survey.config.ResourcesConfig` holding the turnkey cost [CNY/W];
        None for roofs, which the plan prices by size band.
    surfaces : callable(cfg, TileData) -> GeoDataFrame or None
        The resource's surfaces of one tile (None: nothing to survey).
    sample : callable(cfg, kept surfaces) -> AreaSampling or PointSampling
        Where shading is sampled on the kept surfaces.
    rules : callable(cfg) -> YieldRules
    merge_by : str
        Order of the surfaces when tiles are put together: ``"building_id"`` (sorted ids),
        ``"building"`` (input order of the owner building) or ``"parking"`` (input order of
        the car park, by the frame's index).
    layout : callable(cfg, TileData, surfaces) -> pv_survey.layout.Layout, optional
        Places modules one by one on the kept surfaces (roofs): the layout's ``roofs`` replace
        the surfaces (capacity from the modules placed) and its row segments each get a yield
        of their own (:func:`pv_survey.assessment.assess_units`). None = capacity from the area.
    """

    name: str
    label: str
    unit: str
    id_field: str
    capex_field: str | None
    surfaces: Callable
    sample: Callable
    rules: Callable
    merge_by: str
    layout: Callable | None = None


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class AreaSampling:
    """Shading sampled on polygons (roofs, canopies): points spread over each one.

    Attributes
    ----------
    geometry : array of polygons
        Where the points go, one per kept surface (e.g. a roof's usable area).
    height_m : numpy.ndarray
        Observer height above ground of each surface. [m]
    offset_on_surface_m : numpy.ndarray or None
        On a DSM of absolute heights (a file without DEM) the observer stands on the DSM's
        surface under the point, raised by this much (a canopy over a car park); None = on
        the surface itself (a roof). [m]
    """

    geometry: Any
    height_m: np.ndarray
    offset_on_surface_m: np.ndarray | None = None


@dataclass(frozen=True)
class PointSampling:
    """Shading sampled at given points (a grid up a wall).

    Attributes
    ----------
    x, y : numpy.ndarray
        Point coordinates in the survey CRS. [m]
    z : numpy.ndarray
        Observer height above ground (a DSM of absolute heights needs a DEM). [m]
    surface : numpy.ndarray
        Position of each point's surface among the kept surfaces, ascending.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    surface: np.ndarray


# --------------------------------------------------------------------------- the resources


def _roof_surfaces(cfg, t: TileData):
    from . import roofs as roofs_mod
    from .presets import module_preset

    rc = cfg.roofs
    core = t.core()
    planes_b = roofs_mod.roof_planes_from_buildings(core, t.planes, flat_max_tilt_deg=rc.flat_max_tilt_deg,
                                                   default_pitch_deg=rc.default_pitch_deg)
    by_id = core.set_index("building_id")
    roofs = roofs_mod.layout_roofs(
        planes_b, latitude_deg=cfg.survey.centre_lat_deg, edge_setback_m=rc.edge_setback_m,
        obstacle_free_frac=rc.obstacle_free_frac, min_usable_area_m2=rc.min_usable_area_m2,
        max_tilt_deg=rc.max_tilt_deg, exclude_north_facing=rc.exclude_north_facing,
        north_sector_half_width_deg=rc.north_sector_half_width_deg, flat_layout=rc.flat_layout,
        flat_module_tilt_deg=rc.flat_module_tilt_deg, flat_module_azimuth_deg=rc.flat_module_azimuth_deg,
        east_west_tilt_deg=rc.east_west_tilt_deg, row_spacing=rc.row_spacing, flat_gcr=rc.flat_gcr,
        east_west_gcr=rc.east_west_gcr, pitched_gcr=rc.pitched_gcr,
        module_efficiency_frac=module_preset(rc.module).efficiency_frac, category=by_id["category"], category_rules=rc.category_rules,
    )
    # the usable area (after setback) is where the roof is sampled; the assessment drops '_' columns
    return roofs.rename(columns={"usable_geometry": "_sample_geometry"})


def _roof_layout(cfg, t: TileData, roofs):
    from . import layout as layout_mod
    from .presets import module_preset

    rc = cfg.roofs
    by_id = t.core().set_index("building_id")
    # modules one by one: the capacity is the modules placed x their Wp; a DSM read from a file has
    # the roof-top obstacles to cut out, without one the obstacle-free share thins the grid
    placed = layout_mod.place_modules(
        roofs.rename(columns={"_sample_geometry": "usable_geometry"}), module_preset(rc.module),
        gap_m=rc.module_gap_m, obstacle_free_frac=rc.obstacle_free_frac,
        dsm=t.dsm if cfg.inputs.dsm else None, obstacle_height_m=rc.obstacle_height_m,
        obstacle_clearance_m=rc.obstacle_clearance_m, existing_pv_kwp=by_id["existing_pv_kwp"].astype(float),
        segment_max_modules=rc.segment_max_modules, with_modules=rc.modules_layer == "modules")
    placed.roofs = placed.roofs.rename(columns={"usable_geometry": "_sample_geometry"})
    return placed


def _roof_sampling(cfg, k) -> AreaSampling:
    return AreaSampling(k["_sample_geometry"].to_numpy(), k["height_m"].to_numpy(float))


def _roof_rules(cfg) -> YieldRules:
    return YieldRules(min_output_frac=cfg.shading.min_output_frac)


def _facade_surfaces(cfg, t: TileData):
    from .facades import facade_segments

    rc = cfg.resources
    fac = facade_segments(t.usable(), min_segment_width_m=rc.facade_min_segment_width_m,
                          exclude_ground_floors_m=rc.facade_exclude_ground_floors_m,
                          window_to_wall_frac=rc.facade_window_to_wall_frac,
                          bipv_efficiency_frac=rc.facade_bipv_efficiency_frac,
                          simplify_tolerance_m=rc.facade_simplify_tolerance_m,
                          shared_wall_tolerance_m=rc.facade_shared_wall_tolerance_m)
    if t.core_ids is not None:
        fac = fac[fac["building_id"].isin(pd.Index(t.core_ids))].reset_index(drop=True)
    return fac.assign(mount="flush")


def _facade_sampling(cfg, k) -> PointSampling:
    from .facades import facade_sample_points

    rc = cfg.resources
    x, y, z = facade_sample_points(k, height_fracs=rc.facade_height_fracs,
                                   points_per_level=rc.facade_points_per_level, offset_m=rc.facade_offset_m)
    n_pts = len(rc.facade_height_fracs) * int(rc.facade_points_per_level)
    return PointSampling(x, y, z, np.repeat(np.arange(len(k), dtype=np.int64), n_pts))


def _facade_rules(cfg) -> YieldRules:
    # BIPV modules sit close to the wall: their own SAPM temperature model
    return YieldRules(min_poa_kwh_m2=cfg.resources.min_poa_kwh_m2,
                      energy_overrides={"temp_model_flush": cfg.resources.facade_temperature_model})


def _carport_surfaces(cfg, t: TileData):
    from .carports import carport_arrays

    if t.parking is None:
        return None
    rc = cfg.resources
    arr = carport_arrays(t.parking, canopy_tilt_deg=rc.carport_canopy_tilt_deg,
                         canopy_height_m=rc.carport_canopy_height_m, coverage_frac=rc.carport_coverage_frac,
                         module_efficiency_frac=rc.carport_module_efficiency_frac,
                         azimuth_deg=rc.carport_azimuth_deg, min_area_m2=rc.carport_min_area_m2,
                         buildings=t.usable())
    # an open-air canopy: open-rack temperature model, one continuous plane (no rows)
    return arr.assign(mount="rack")


def _carport_sampling(cfg, k) -> AreaSampling:
    h = k["height_m"].to_numpy(float)
    return AreaSampling(k.geometry.to_numpy(), h, offset_on_surface_m=h)


def _carport_rules(cfg) -> YieldRules:
    return YieldRules(min_poa_kwh_m2=cfg.resources.min_poa_kwh_m2)


#: Every resource, by layer name, in the order they are assessed and reported. Roofs come
#: first and are always assessed: the plan and its targets are rooftop-led.
REGISTRY: dict[str, Resource] = {
    "roofs": Resource("roofs", "Roofs / 屋顶光伏", "roofs", "roof_id", None,
                      _roof_surfaces, _roof_sampling, _roof_rules, "building_id", _roof_layout),
    "facades": Resource("facades", "Facades (BIPV) / 立面光伏", "facades", "facade_id", "facade_capex_cny_per_w",
                        _facade_surfaces, _facade_sampling, _facade_rules, "building"),
    "carports": Resource("carports", "Carport canopies / 车棚光伏", "car parks", "carport_id",
                         "carport_capex_cny_per_w", _carport_surfaces, _carport_sampling, _carport_rules, "parking"),
}


def stage_unit(stage: str) -> str | None:
    """Unit of a progress stage ``"<resource> shading"`` / ``"<resource> energy"``, else None."""
    head = stage.split(" ", 1)[0]
    return REGISTRY[head].unit if head in REGISTRY and " " in stage else None


# --------------------------------------------------------------------------- reporting


def totals(layers: dict, resources_cfg: Any) -> dict:
    """Kept count, capacity [kWp], generation [MWh] and turnkey cost [CNY] of each resource layer.

    Cost = kept capacity x 1000 W/kWp x the resource's ``*_capex_cny_per_w``.
    """
    out = {}
    for name, frame in layers.items():
        kept = frame["excluded_reason"].fillna("") == ""
        cap = float(frame.loc[kept, "capacity_kwp"].sum())
        field_name = REGISTRY[name].capex_field if name in REGISTRY else None
        capex = float(getattr(resources_cfg, field_name)) if field_name else float("nan")
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
