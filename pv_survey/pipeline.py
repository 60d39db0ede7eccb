"""Run a survey: unpack the config, call each stage once, time it, check the accounting.

No science lives here: every number is computed by a stage module. This is the
only module that reads a :class:`~pv_survey.config.Config` field by field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import geopandas as gpd

from . import __version__
from .config import Config, config_to_dict
from .errors import AccountingError, InputError

log = logging.getLogger("pv_survey")

#: Folder of the embedded default data (the repository's ``data/``).
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULT_BUILDINGS = DATA_DIR / "tianhe_demo_buildings.gpkg"
DEFAULT_ROOFS = DATA_DIR / "tianhe_demo_roofs.gpkg"
DEFAULT_PARKING = DATA_DIR / "tianhe_demo_parking.gpkg"

SHADED_REASON = "shaded: output below {pct:.0f}% of unshaded / 遮挡严重"

Progress = Callable[[str, int, int], None]


@dataclass
class SurveyResult:
    """Everything a run produced, for notebook users (``pv_survey.run_survey``)."""

    buildings: gpd.GeoDataFrame
    roofs: gpd.GeoDataFrame
    plan: Any
    summary: dict
    manifest: dict
    paths: dict = field(default_factory=dict)


class _Timer:
    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        log.info("[%s] ...", name)
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.timings_s[name] = round(dt, 3)
            log.info("[%s] done in %.1f s", name, dt)


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes (hex), or None when it does not exist."""
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "pv-survey": __version__}
    for pkg in ("numpy", "pandas", "shapely", "geopandas", "pyproj", "pyogrio", "rasterio",
                "pvlib", "numba", "scipy", "click", "matplotlib", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover - optional
            pass
    try:
        import pyogrio
        out["gdal"] = pyogrio.__gdal_version_string__
    except Exception:  # pragma: no cover
        pass
    return out


def resolve_inputs(cfg: Config) -> Config:
    """Fill the embedded defaults into empty input paths."""
    ins = cfg.inputs
    changes = {}
    if not ins.buildings:
        changes["buildings"] = str(DEFAULT_BUILDINGS)
        if not ins.roofs:
            changes["roofs"] = str(DEFAULT_ROOFS)
    if not changes:
        return cfg
    return dataclasses.replace(cfg, inputs=dataclasses.replace(ins, **changes))


def _profile_strings(horizon_deg: np.ndarray) -> np.ndarray:
    """Median point profile of each roof as a compact comma-separated string [deg]."""
    if horizon_deg.size == 0:
        return np.empty(0, dtype=object)
    q = horizon_deg.shape[1]
    med = horizon_deg[:, q // 2, :]
    rounded = np.round(med, 1)
    return np.array([",".join(f"{v:g}" for v in row) for row in rounded], dtype=object)


def load_inputs(cfg: Config):
    """Read buildings (and roof planes) into the metric CRS: ``(buildings, planes, report)``."""
    from . import inputs

    metric_crs = cfg.survey.metric_crs
    buildings, report = inputs.read_buildings(
        cfg.inputs.buildings, layer=cfg.inputs.layer or None,
        source_crs=cfg.inputs.source_crs or None, encoding=cfg.inputs.encoding or None,
        field_map=cfg.inputs.field_map or None, value_map=cfg.inputs.value_map or None,
        target_crs=metric_crs, extent_lon_lat=cfg.survey.extent_lon_lat,
    )
    planes = None
    if cfg.inputs.roofs:
        planes = inputs.read_roof_planes(cfg.inputs.roofs, layer=cfg.inputs.roofs_layer or None,
                                         source_crs=cfg.inputs.source_crs or None, target_crs=metric_crs)
    if len(buildings) == 0:
        raise InputError(f"{cfg.inputs.buildings}: no buildings in the input; check the file and --layer")
    return buildings, planes, report


def load_weather(cfg: Config):
    """The weather year of the run and any notes about it: ``(weather, notes)``."""
    from . import weather as weather_mod

    wx = weather_mod.read_weather(cfg.inputs.weather) if cfg.inputs.weather else weather_mod.default_weather()
    notes = list(wx.notes)
    warn = weather_mod.location_warning(wx, cfg.survey.centre_lon_deg, cfg.survey.centre_lat_deg,
                                        max_distance_km=cfg.energy.weather_max_distance_km)
    if warn:
        log.warning(warn)
        notes.append(warn)
    return wx, notes


def snapped_bounds(bounds, pad_m: float, resolution_m: float) -> tuple[float, float, float, float]:
    """Bounds grown by ``pad_m`` and snapped outward to multiples of ``resolution_m``.

    Snapping puts every DSM of a run on one global grid, so a tile's DSM and the
    whole-area DSM agree cell for cell (partitioned == single-process results).
    """
    minx, miny, maxx, maxy = bounds
    r = float(resolution_m)
    return (np.floor((minx - pad_m) / r) * r, np.floor((miny - pad_m) / r) * r,
            np.ceil((maxx + pad_m) / r) * r, np.ceil((maxy + pad_m) / r) * r)


def build_dsm(cfg: Config, buildings: gpd.GeoDataFrame, area_bounds) -> tuple:
    """The run's surface model over ``area_bounds`` plus the search radius.

    Returns ``(dsm, owner_of, absolute)``: the :class:`~pv_survey.shading.Dsm`, a
    Series mapping building_id -> owner index in the DSM, and whether the DSM holds
    absolute surface heights (a DSM file without a DEM) rather than heights above
    ground. The grid is snapped to whole pyramid blocks, so tiles and the whole
    area share one grid (partitioned runs reproduce single-process horizons).
    """
    from . import shading

    sc = cfg.shading
    usable_b = buildings[buildings["excluded_reason"].fillna("") == ""]
    owner_of = pd.Series(np.arange(len(usable_b)), index=usable_b["building_id"].to_numpy())
    bounds = snapped_bounds(area_bounds, sc.search_radius_m, sc.dsm_resolution_m * shading.PYRAMID_BLOCK_CELLS)
    obs = cfg.inputs.obstacles
    obs_raster = bool(obs) and Path(obs).suffix.lower() in (".tif", ".tiff", ".vrt", ".img")
    obs_vector = None
    if obs and not obs_raster:
        from . import inputs
        obs_vector = inputs.read_obstacles(obs, layer=cfg.inputs.obstacles_layer or None,
                                           source_crs=cfg.inputs.source_crs or None, target_crs=cfg.survey.metric_crs)
    if cfg.inputs.dsm:
        if obs_vector is not None and not cfg.inputs.dem:
            raise InputError(f"{obs}: obstacle heights are above ground but the DSM {cfg.inputs.dsm} holds absolute "
                             "heights; give --dem too, or an obstacle raster in the DSM's heights")
        dsm = shading.read_dsm(cfg.inputs.dsm, bounds=bounds, crs=cfg.survey.metric_crs,
                               dem_path=cfg.inputs.dem or None, obstacles_path=obs if obs_raster else None)
        if obs_vector is not None:
            dsm = shading.burn_obstacles(dsm, obs_vector.geometry.to_numpy(), obs_vector["height_m"].to_numpy(float))
        # a DSM file knows no buildings: mark each footprint's cells so a roof skips its own
        dsm = shading.assign_owners(dsm, usable_b.geometry.to_numpy())
        return dsm, owner_of, not cfg.inputs.dem
    if obs_raster:
        raise InputError(f"{obs}: an obstacle raster needs a DSM file (--dsm); without one give obstacles as "
                         "polygons with height_m")
    dsm = shading.dsm_from_buildings(usable_b.geometry.to_numpy(), usable_b["height_m"].to_numpy(float),
                                     resolution_m=sc.dsm_resolution_m, bounds=bounds, crs=cfg.survey.metric_crs,
                                     obstacles=obs_vector)
    return dsm, owner_of, False


def dsm_notes(cfg: Config, dsm) -> list[str]:
    """Repairs made while reading a DSM file, for the run's notes."""
    n = int(getattr(dsm, "filled_cells", 0) or 0)
    if not cfg.inputs.dsm or n == 0:
        return []
    fill = "ground (the DEM)" if cfg.inputs.dem else "the lowest valid height of the window"
    return [f"{cfg.inputs.dsm}: {n:,} DSM cells had no data; filled with {fill}"]


def load_parking(cfg: Config):
    """Car parks for the carport survey (``None`` when carports are not asked for)."""
    if "carports" not in cfg.resources.kinds:
        return None
    from . import inputs
    from .carports import select_surface_parking

    src = cfg.inputs.parking
    if not src:
        if Path(cfg.inputs.buildings) == DEFAULT_BUILDINGS:
            src = str(DEFAULT_PARKING)
        else:
            raise InputError("carports asked for (--resources ...carports) but no car parks given: pass "
                             "--parking FILE (polygons, or OSM features with amenity=parking)")
    parking = inputs.read_parking(src, layer=cfg.inputs.parking_layer or None,
                                  source_crs=cfg.inputs.source_crs or None, target_crs=cfg.survey.metric_crs)
    return select_surface_parking(parking)


def assess_resources(cfg: Config, buildings: gpd.GeoDataFrame, parking, wx, dsm: tuple, *,
                     progress: Progress | None = None, timer: "_Timer | None" = None) -> dict:
    """Facade and carport resources asked for in ``cfg.resources.kinds``: ``{layer name: frame}``."""
    timer = timer or _Timer()
    rc, sc = cfg.resources, cfg.shading
    dsm_obj, owner_of, absolute = dsm
    out = {}
    usable_b = buildings[buildings["excluded_reason"].fillna("") == ""]
    if "facades" in rc.kinds:
        from .facades import survey_facades
        if absolute:
            raise InputError(f"{cfg.inputs.dsm}: facades need heights above ground; give --dem with --dsm "
                             "(or leave out --dsm to rasterise footprints x heights)")
        with timer.stage("facades"):
            fac = survey_facades(
                usable_b, dsm_obj, wx, min_segment_width_m=rc.facade_min_segment_width_m,
                exclude_ground_floors_m=rc.facade_exclude_ground_floors_m,
                window_to_wall_frac=rc.facade_window_to_wall_frac, bipv_efficiency_frac=rc.facade_bipv_efficiency_frac,
                simplify_tolerance_m=rc.facade_simplify_tolerance_m,
                shared_wall_tolerance_m=rc.facade_shared_wall_tolerance_m, height_fracs=rc.facade_height_fracs,
                points_per_level=rc.facade_points_per_level, offset_m=rc.facade_offset_m,
                n_sectors=sc.n_sectors, radius_m=sc.search_radius_m, n_quantiles=sc.n_quantiles,
                min_poa_kwh_m2=rc.min_poa_kwh_m2, temp_model_facade=rc.facade_temperature_model,
                owner_index=owner_of,
                progress=(lambda d, t: progress("facades", d, t)) if progress else None,
                **energy_params(cfg))
            out["facades"] = _layer_ready(fac)
    if "carports" in rc.kinds and parking is not None:
        from .carports import survey_carports
        with timer.stage("carports"):
            car = survey_carports(
                parking, dsm_obj, wx, canopy_tilt_deg=rc.carport_canopy_tilt_deg,
                canopy_height_m=rc.carport_canopy_height_m, coverage_frac=rc.carport_coverage_frac,
                module_efficiency_frac=rc.carport_module_efficiency_frac, azimuth_deg=rc.carport_azimuth_deg,
                buildings=usable_b, n_sectors=sc.n_sectors, radius_m=sc.search_radius_m,
                points_per_100m2=sc.points_per_100m2, max_points=sc.max_points_per_roof,
                n_quantiles=sc.n_quantiles, min_poa_kwh_m2=rc.min_poa_kwh_m2,
                progress=(lambda d, t: progress("carports", d, t)) if progress else None,
                **energy_params(cfg))
            out["carports"] = _layer_ready(car)
    return out


def _layer_ready(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Horizon arrays -> the compact median-profile string used for roofs."""
    frame = frame.copy()
    if "horizon_deg" in frame and len(frame) and not isinstance(frame["horizon_deg"].iloc[0], str):
        prof = np.full(len(frame), "", dtype=object)
        have = np.array([isinstance(h, np.ndarray) and h.size > 0 for h in frame["horizon_deg"]])
        if have.any():
            prof[have] = _profile_strings(np.stack(frame["horizon_deg"].to_numpy()[have]))
        frame["horizon_deg"] = prof
    return frame


def resource_totals(layers: dict) -> dict:
    """Kept count, capacity [kWp] and generation [MWh] of each resource layer."""
    out = {}
    for name, frame in layers.items():
        kept = frame["excluded_reason"].fillna("") == ""
        out[name] = {"n_total": int(len(frame)), "n_kept": int(kept.sum()),
                     "capacity_kwp": float(frame.loc[kept, "capacity_kwp"].sum()),
                     "annual_mwh": float(frame.loc[kept, "annual_kwh"].sum() / 1000.0)}
    return out


def assess_roofs(cfg: Config, buildings: gpd.GeoDataFrame, planes, wx, *, core_ids=None,
                 progress: Progress | None = None, timer: "_Timer | None" = None,
                 dsm: tuple | None = None, notes: list | None = None) -> gpd.GeoDataFrame:
    """Roofs, shading and energy for the buildings of ``core_ids`` (default: all).

    ``buildings`` may hold more buildings than the core (a halo around a tile):
    they cast shade but get no roofs. ``dsm`` is an optional ``build_dsm`` result
    covering the roofs plus the search radius (built here when not given).
    Returns the roofs frame with energy columns and ``excluded_reason``; the
    ``usable_geometry`` helper column is dropped.
    """
    from . import roofs as roofs_mod, shading, energy

    timer = timer or _Timer()
    rc, sc = cfg.roofs, cfg.shading
    core = buildings if core_ids is None else buildings[buildings["building_id"].isin(core_ids)]
    with timer.stage("roofs"):
        planes_b = roofs_mod.roof_planes_from_buildings(core, planes, flat_max_tilt_deg=rc.flat_max_tilt_deg)
        existing = core.set_index("building_id")["existing_pv_kwp"].astype(float)
        roofs = roofs_mod.layout_roofs(
            planes_b, latitude_deg=cfg.survey.centre_lat_deg, edge_setback_m=rc.edge_setback_m,
            obstacle_free_frac=rc.obstacle_free_frac, min_usable_area_m2=rc.min_usable_area_m2,
            max_tilt_deg=rc.max_tilt_deg, exclude_north_facing=rc.exclude_north_facing,
            north_sector_half_width_deg=rc.north_sector_half_width_deg, flat_layout=rc.flat_layout,
            flat_module_tilt_deg=rc.flat_module_tilt_deg, flat_module_azimuth_deg=rc.flat_module_azimuth_deg,
            east_west_tilt_deg=rc.east_west_tilt_deg, row_spacing=rc.row_spacing, flat_gcr=rc.flat_gcr,
            east_west_gcr=rc.east_west_gcr, pitched_gcr=rc.pitched_gcr,
            module_efficiency_frac=rc.module_efficiency_frac, existing_pv_kwp=existing,
        )
    kept = roofs["excluded_reason"].to_numpy() == ""
    k_roofs = roofs[kept]

    with timer.stage("shading"):
        if dsm is None:
            area = roofs.total_bounds if len(roofs) else buildings.total_bounds
            dsm, owner_of, absolute = build_dsm(cfg, buildings, area)
            if notes is not None:
                notes.extend(dsm_notes(cfg, dsm))
        else:
            dsm, owner_of, absolute = dsm
        roof_z = None if absolute else k_roofs["height_m"].to_numpy(float)
        hz, svf = shading.roof_horizons(
            dsm, k_roofs["usable_geometry"].to_numpy(), roof_z,
            owner_of.reindex(k_roofs["building_id"]).to_numpy(np.int64),
            n_sectors=sc.n_sectors, radius_m=sc.search_radius_m, points_per_100m2=sc.points_per_100m2,
            max_points=sc.max_points_per_roof, n_quantiles=sc.n_quantiles,
            progress=(lambda d, t: progress("shading", d, t)) if progress else None,
        )

    with timer.stage("energy"):
        mount = k_roofs["mount"].to_numpy()
        res = energy.simulate_roofs(
            wx, k_roofs["module_tilt_deg"].to_numpy(float), k_roofs["module_azimuth_deg"].to_numpy(float),
            k_roofs["capacity_kwp"].to_numpy(float), mount=mount,
            gcr=np.where(mount == "rack", k_roofs["gcr"].to_numpy(float), np.nan),
            horizon_deg=hz, sky_view_frac=svf, **energy_params(cfg),
            progress=(lambda d, t: progress("energy", d, t)) if progress else None,
        )
        roofs = roofs.drop(columns=["usable_geometry"])
        for col in res.columns:
            values = np.full(len(roofs), np.nan)
            values[kept] = res[col].to_numpy()
            roofs[col] = values
        values = np.full(len(roofs), np.nan)
        values[kept] = svf
        roofs["sky_view_frac"] = values
        prof = np.full(len(roofs), "", dtype=object)
        prof[kept] = _profile_strings(hz)
        roofs["horizon_deg"] = prof
        shaded = kept & ((1.0 - roofs["shading_loss_frac"].to_numpy(float)) < sc.min_output_frac)
        roofs.loc[shaded, "excluded_reason"] = SHADED_REASON.format(pct=100 * sc.min_output_frac)
    return roofs


def plan_and_account(cfg: Config, buildings: gpd.GeoDataFrame, roofs: gpd.GeoDataFrame, *,
                     n_in: int, timer: "_Timer | None" = None):
    """Sites, plan, building annotation and the end-of-run accounting: ``(buildings, planres)``."""
    from . import plan as plan_mod

    timer = timer or _Timer()
    with timer.stage("plan"):
        kept = roofs["excluded_reason"].to_numpy() == ""
        sites = sites_from_roofs(roofs[kept], buildings)
        b_tab = pd.DataFrame(buildings[["building_id", "category", "year_built", "existing_pv_kwp",
                                        "excluded_reason"]]).copy()
        b_tab["roof_area_m2"] = buildings.geometry.area.to_numpy()
        planres = plan_mod.build_plan(sites, b_tab, **plan_params(cfg))
    buildings = annotate_buildings(buildings, roofs, planres.plan)
    check_accounting(buildings, roofs, planres, n_in)
    return buildings, planres


def run_survey(config: Config | None = None, *, out_dir: str | Path | None = None,
               overwrite: bool = False, write: bool = True,
               progress: Progress | None = None) -> SurveyResult:
    """Run the whole survey: inputs -> roofs -> shading -> energy -> plan -> outputs.

    Parameters
    ----------
    config : Config, optional
        Scenario; ``None`` uses the documented defaults on the embedded demo district.
    out_dir : path, optional
        Output folder; default ``config.outputs.out_dir`` or ``outputs/<survey.name>``.
    overwrite : bool
        Replace existing outputs; without it an existing output is an error.
    write : bool
        Write the output files (set False to only compute, e.g. in notebooks).
    progress : callable(stage, done, total), optional
        Receives progress of the long stages.

    Returns
    -------
    SurveyResult
    """
    cfg = resolve_inputs(config or Config())
    timer = _Timer()
    started = datetime.now(timezone.utc)
    out_path = Path(out_dir or cfg.outputs.out_dir or Path("outputs") / cfg.survey.name)
    buildings, planes, wx, notes = start_run(cfg, out_path if write else None, overwrite=overwrite, timer=timer)
    extra = {}
    if set(cfg.resources.kinds) - {"roofs"}:
        parking = load_parking(cfg)
        area = buildings.total_bounds
        if parking is not None and len(parking):
            pb = parking.total_bounds
            area = (min(area[0], pb[0]), min(area[1], pb[1]), max(area[2], pb[2]), max(area[3], pb[3]))
        with timer.stage("shading"):
            dsm = build_dsm(cfg, buildings, area)
        notes += dsm_notes(cfg, dsm[0])
        roofs = assess_roofs(cfg, buildings, planes, wx, progress=progress, timer=timer, dsm=dsm)
        extra = assess_resources(cfg, buildings, parking, wx, dsm, progress=progress, timer=timer)
    else:
        roofs = assess_roofs(cfg, buildings, planes, wx, progress=progress, timer=timer, notes=notes)
    if "roofs" not in cfg.resources.kinds:
        # roofs are still assessed (the plan and the accounting are rooftop-led) but say so
        notes.append("resources: roofs were not selected; the rooftop plan is shown for reference")
    return finish_survey(cfg, buildings, roofs, wx, notes=notes, n_in=len(buildings), timer=timer,
                         started=started, out_path=out_path if write else None, overwrite=overwrite,
                         extra_layers=extra, progress=progress)


def start_run(cfg: Config, out_path: Path | None, *, overwrite: bool, timer: "_Timer"):
    """Common start of single and partitioned runs: check the output folder, read inputs and weather.

    Returns ``(buildings, planes, weather, notes)``.
    """
    if out_path is not None:
        from .outputs import prepare_out_dir
        prepare_out_dir(out_path, overwrite=overwrite)
    with timer.stage("inputs"):
        buildings, planes, report = load_inputs(cfg)
    notes = list(getattr(report, "warnings", []) or [])
    log.info("%d buildings read from %s", len(buildings), cfg.inputs.buildings)
    with timer.stage("weather"):
        wx, wx_notes = load_weather(cfg)
    return buildings, planes, wx, notes + wx_notes


def finish_survey(cfg: Config, buildings, roofs, wx, *, notes, n_in, timer, started, out_path, overwrite,
                  extra_layers: dict | None = None, progress: Progress | None = None):
    """Plan, account, summarise and (when ``out_path``) write: shared by single and partitioned runs."""
    buildings, planres = plan_and_account(cfg, buildings, roofs, n_in=n_in, timer=timer)
    summary = make_summary(cfg, buildings, roofs, planres, wx, notes, timer.timings_s)
    if extra_layers:
        summary["resources"] = resource_totals(extra_layers)
        labels = {"facades": "Facades (BIPV) / 立面光伏", "carports": "Carport canopies / 车棚光伏"}
        for name, tot in summary["resources"].items():
            summary["plan_lines"].append(
                f"{labels.get(name, name)}: {tot['n_kept']:,} of {tot['n_total']:,} usable, "
                f"{tot['capacity_kwp']:,.0f} kWp, {tot['annual_mwh']:,.0f} MWh/yr — reported separately, "
                "not counted toward the rooftop targets / 单独统计，不计入屋顶光伏目标")
    manifest = make_manifest(cfg, started, timer, summary)
    result = SurveyResult(buildings=buildings, roofs=roofs, plan=planres, summary=summary, manifest=manifest)
    if out_path is not None:
        from .outputs import write_outputs
        with timer.stage("outputs"):
            result.paths = write_outputs(
                out_path, buildings=buildings, roofs=roofs, plan=planres.plan,
                targets=planres.targets, coverage=planres.coverage, category_shares=planres.category_shares,
                summary=summary, manifest=manifest, crs=cfg.survey.metric_crs, overwrite=overwrite,
                shortlist_size=cfg.outputs.shortlist_size, extra_layers=extra_layers or None,
                progress=progress,
            )
    if cfg.outputs.postgis_url:
        from .outputs import result_layers, write_postgis
        with timer.stage("postgis"):
            layers = result_layers(buildings=buildings, roofs=roofs, plan=planres.plan, targets=planres.targets,
                                   coverage=planres.coverage, category_shares=planres.category_shares,
                                   extra_layers=extra_layers or None, crs=cfg.survey.metric_crs)
            write_postgis(cfg.outputs.postgis_url, cfg.outputs.postgis_schema, layers, cfg.survey.metric_crs,
                          overwrite=overwrite, styles=cfg.outputs.postgis_styles)
    summary["timings_s"] = dict(timer.timings_s)
    manifest["timings_s"] = dict(timer.timings_s)
    return result


def energy_params(cfg: Config) -> dict:
    """Keyword arguments of :func:`pv_survey.energy.simulate_roofs` from the config."""
    from .energy import losses_frac_from_pct
    ec = cfg.energy
    return dict(
        albedo=ec.albedo, gamma_pdc_per_c=ec.gamma_pdc_per_c, dc_ac_ratio=ec.dc_ac_ratio,
        eta_inv_nom=ec.eta_inv_nom,
        losses_frac=losses_frac_from_pct(
            soiling=ec.losses_soiling_pct, shading=0.0, snow=0.0, mismatch=ec.losses_mismatch_pct,
            wiring=ec.losses_wiring_pct, connections=ec.losses_connections_pct, lid=ec.losses_lid_pct,
            nameplate_rating=ec.losses_nameplate_pct, age=ec.losses_age_pct,
            availability=ec.losses_availability_pct),
        temp_model_rack=ec.temperature_model_rack, temp_model_flush=ec.temperature_model_flush,
        chunk_size=ec.chunk_roofs,
    )


def plan_params(cfg: Config) -> dict:
    """Keyword arguments of :func:`pv_survey.plan.build_plan` from the config."""
    pc = cfg.plan
    out = dict(
        priority_classes=pc.priority_classes, targets=pc.targets, plan_year=pc.plan_year,
        coverage_target_frac=pc.coverage_target_frac, coverage_year=pc.coverage_year,
        new_building_from_year=pc.new_building_from_year, coverage_categories=pc.coverage_categories,
    )
    out.update(pc.build_plan_kwargs())
    out["economics"] = cfg.economics
    out["weather"] = cfg.inputs.weather  # the TOU valuation's profile ('' = embedded default year)
    # kWp per m2 of module = STC efficiency x 1 kW/m2
    out["module_kwp_per_m2"] = cfg.roofs.module_efficiency_frac
    if pc.pins_file:
        from .plan import read_pins
        out["pins"] = read_pins(pc.pins_file)
    return out


def sites_from_roofs(roofs: pd.DataFrame, buildings: pd.DataFrame) -> pd.DataFrame:
    """One installation site per building: its kept roof planes summed."""
    g = roofs.groupby("building_id", sort=True)
    agg = pd.DataFrame({
        "capacity_kwp": g["capacity_kwp"].sum(),
        "annual_kwh": g["annual_kwh"].sum(),
        "usable_area_m2": g["usable_area_m2"].sum(),
        "module_area_m2": g["module_area_m2"].sum(),
        "roof_area_m2": g["area_m2"].sum(),
        "n_roofs": g.size(),
    })
    agg["specific_yield_kwh_kwp"] = np.divide(agg["annual_kwh"], agg["capacity_kwp"],
                                              out=np.zeros(len(agg)), where=agg["capacity_kwp"].to_numpy() > 0)
    cols = ["building_id", "name", "category", "owner", "address", "year_built", "existing_pv_kwp"]
    info = pd.DataFrame(buildings[cols]).set_index("building_id")
    sites = info.join(agg, how="inner").reset_index()
    return sites[sites["capacity_kwp"] > 0].reset_index(drop=True)


def annotate_buildings(buildings: gpd.GeoDataFrame, roofs: pd.DataFrame, plan: pd.DataFrame) -> gpd.GeoDataFrame:
    """Give every building its phase, capacity and, when it has no kept roof, the reason."""
    b = buildings.copy()
    kept = roofs[roofs["excluded_reason"] == ""]
    cap = kept.groupby("building_id")["capacity_kwp"].sum()
    kwh = kept.groupby("building_id")["annual_kwh"].sum()
    b["capacity_kwp"] = cap.reindex(b["building_id"]).fillna(0.0).to_numpy()
    b["annual_kwh"] = kwh.reindex(b["building_id"]).fillna(0.0).to_numpy()
    phase = plan.set_index("building_id")["phase"]
    b["phase"] = phase.reindex(b["building_id"]).fillna("").to_numpy()
    # a usable building without any kept roof: the reason of its roofs (most common)
    reason = b["excluded_reason"].fillna("").to_numpy(object)
    no_site = (reason == "") & (b["capacity_kwp"].to_numpy() <= 0)
    if no_site.any():
        ex = roofs.loc[roofs["excluded_reason"] != "", ["building_id", "excluded_reason"]]
        # most common reason per building (ties: the reason that sorts first), without a per-group lambda
        counts = ex.value_counts().reset_index(name="n")
        counts = counts.sort_values(["building_id", "n", "excluded_reason"], ascending=[True, False, True],
                                    kind="stable")
        top = counts.drop_duplicates("building_id").set_index("building_id")["excluded_reason"]
        fill = top.reindex(b["building_id"]).fillna("no usable roof plane / 无可用屋面").to_numpy(object)
        reason = np.where(no_site, fill, reason)
    b["excluded_reason"] = reason
    return b


def check_accounting(buildings: pd.DataFrame, roofs: pd.DataFrame, planres: Any, n_in: int) -> None:
    """Loud end-of-run checks: nothing lost, totals agree (raise :class:`AccountingError`)."""
    if len(buildings) != n_in:
        raise AccountingError(f"buildings in {n_in} != buildings out {len(buildings)}")
    if buildings["building_id"].duplicated().any():
        raise AccountingError("duplicate building_id in the output")
    has_site = buildings["capacity_kwp"].to_numpy() > 0
    excluded = buildings["excluded_reason"].to_numpy() != ""
    if np.any(has_site == excluded):
        bad = buildings.loc[has_site == excluded, "building_id"].iloc[0]
        raise AccountingError(f"building {bad} is neither planned nor excluded (or both)")
    plan = planres.plan
    planned_cap = float(plan["capacity_kwp"].sum())
    roof_cap = float(roofs.loc[roofs["excluded_reason"] == "", "capacity_kwp"].sum())
    if not np.isclose(planned_cap, roof_cap, rtol=1e-9, atol=1e-6):
        raise AccountingError(f"plan capacity {planned_cap:.3f} kWp != kept roofs {roof_cap:.3f} kWp")
    n_planned, n_reserve, n_excluded = _check_plan_rows(buildings, roofs, plan, n_in)
    _check_targets(buildings, planres)
    log.info("accounting: %d buildings in = %d planned + %d reserve + %d excluded; plan %.1f kWp = kept roofs; "
             "targets agree with the plan", n_in, n_planned, n_reserve, n_excluded, planned_cap)


def _check_plan_rows(buildings: pd.DataFrame, roofs: pd.DataFrame, plan: pd.DataFrame,
                     n_in: int) -> tuple[int, int, int]:
    """Buildings in = planned + reserve + excluded; each site's capacity = the sum of its kept roofs.

    Returns the counts (planned, reserve incl. pinned out, excluded).
    """
    from .plan import PINNED_OUT, RESERVE

    ids = buildings["building_id"].astype(str)
    orphans = ~roofs["building_id"].astype(str).isin(ids)
    if orphans.any():
        raise AccountingError(f"roof {roofs.loc[orphans, 'roof_id'].iloc[0]} belongs to no input building")
    pid = plan["building_id"].astype(str)
    if pid.duplicated().any():
        raise AccountingError(f"building {pid[pid.duplicated()].iloc[0]} appears twice in the plan")
    site_ids = ids[buildings["capacity_kwp"].to_numpy() > 0]
    missing, extra = sorted(set(site_ids) - set(pid)), sorted(set(pid) - set(site_ids))
    if missing or extra:
        what = f"building {missing[0]} has a site but is not in the plan" if missing else \
            f"building {extra[0]} is in the plan without a site"
        raise AccountingError(f"{what} ({len(missing)} missing, {len(extra)} extra)")
    phase = plan["phase"].astype(str).to_numpy()
    n_reserve = int(np.isin(phase, (RESERVE, PINNED_OUT)).sum())
    n_planned = len(plan) - n_reserve
    n_excluded = int((buildings["excluded_reason"].to_numpy() != "").sum())
    if n_planned + n_reserve + n_excluded != n_in or (phase == "").any():
        raise AccountingError(f"buildings in {n_in} != planned {n_planned} + reserve {n_reserve} "
                              f"+ excluded {n_excluded} (or a plan row has no phase)")
    b_phase = pd.Series(buildings["phase"].astype(str).to_numpy(), index=ids)
    differ = b_phase.reindex(pid).to_numpy() != phase
    if differ.any():
        raise AccountingError(f"building {pid[differ].iloc[0]}: its phase in the buildings layer differs from the plan")
    kept = roofs[roofs["excluded_reason"] == ""]
    roof_cap = kept.groupby(kept["building_id"].astype(str))["capacity_kwp"].sum().reindex(pid).fillna(0.0)
    off = ~np.isclose(plan["capacity_kwp"].to_numpy(float), roof_cap.to_numpy(float), rtol=1e-9, atol=1e-6)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise AccountingError(f"building {pid.iloc[i]}: plan capacity {plan['capacity_kwp'].iloc[i]:.3f} kWp != "
                              f"the sum of its kept roofs {roof_cap.iloc[i]:.3f} kWp")
    return n_planned, n_reserve, n_excluded


def _check_targets(buildings: pd.DataFrame, planres: Any) -> None:
    """The targets table agrees with the plan: existing PV, planned and achieved capacity, met."""
    plan, targets = planres.plan, planres.targets
    existing = float(buildings["existing_pv_kwp"].sum())
    if not np.isclose(float(planres.existing_kwp), existing, rtol=1e-9, atol=1e-6):
        raise AccountingError(f"plan counts {planres.existing_kwp:.3f} kWp existing PV, "
                              f"buildings hold {existing:.3f} kWp")
    labels = [p.label for p in getattr(planres, "phases", [])]
    for _, t in targets.iterrows():
        name = t["target"]
        if t.get("kind", "capacity") != "capacity" or str(t.get("categories", "") or ""):
            continue  # share targets are checked in plan.targets_table's own tests
        passed = False  # a passed target is met with the plan in the first build year
        if not np.isclose(float(t["existing_kwp"]), existing, rtol=1e-9, atol=1e-6):
            raise AccountingError(f"target {name!r}: existing {t['existing_kwp']:.3f} kWp != {existing:.3f} kWp")
        if not passed and t["phase"] in labels:
            upto = labels[: labels.index(t["phase"]) + 1]
            mask = plan["phase"].astype(str).isin(upto).to_numpy()
            planned = float(plan.loc[mask, "capacity_kwp"].sum())
            n_sites = int(mask.sum())
            if not np.isclose(float(t["planned_kwp"]), planned, rtol=1e-9, atol=1e-6) or int(t["n_sites"]) != n_sites:
                raise AccountingError(f"target {name!r}: planned {t['planned_kwp']:.3f} kWp on {t['n_sites']} sites, "
                                      f"but the plan's phases {', '.join(upto)} hold {planned:.3f} kWp on {n_sites}")
        achieved = existing + (0.0 if passed else float(t["planned_kwp"]))
        if not np.isclose(float(t["achieved_kwp"]), achieved, rtol=1e-9, atol=1e-6):
            raise AccountingError(f"target {name!r}: achieved {t['achieved_kwp']:.3f} kWp != {achieved:.3f} kWp")
        if (str(t["met"]) in ("yes", "True")) != (achieved >= float(t["required_kwp"]) - 1e-6):
            raise AccountingError(f"target {name!r}: 'met' = {bool(t['met'])} contradicts achieved {achieved:.3f} "
                                  f"of {float(t['required_kwp']):.3f} kWp required")


def make_summary(cfg: Config, buildings, roofs, planres, wx, notes, timings) -> dict:
    """Counts and totals for summary.md, the CLI table and the manifest."""
    from .plan import plan_summary_lines, plan_totals
    reasons = buildings.loc[buildings["excluded_reason"] != "", "excluded_reason"].value_counts()
    roof_reasons = roofs.loc[roofs["excluded_reason"] != "", "excluded_reason"].value_counts()
    kept = roofs["excluded_reason"] == ""
    targets = planres.targets
    return {
        "name": cfg.survey.name,
        "buildings_in": int(len(buildings)),
        "buildings_with_site": int((buildings["capacity_kwp"] > 0).sum()),
        "buildings_excluded": int((buildings["excluded_reason"] != "").sum()),
        "roofs_total": int(len(roofs)),
        "roofs_kept": int(kept.sum()),
        "excluded_by_reason": {str(k): int(v) for k, v in reasons.items()},
        "roofs_excluded_by_reason": {str(k): int(v) for k, v in roof_reasons.items()},
        "total_capacity_kwp": float(roofs.loc[kept, "capacity_kwp"].sum()),
        "existing_kwp": float(buildings["existing_pv_kwp"].sum()),
        "annual_mwh": float(roofs.loc[kept, "annual_kwh"].sum() / 1000.0),
        "targets": targets.to_dict(orient="records"),
        "plan_lines": plan_summary_lines(planres),
        "plan_totals": plan_totals(planres),
        "notes": list(dict.fromkeys(notes + list(getattr(planres, "notes", []) or []))),
        "weather_source": wx.source,
        "timings_s": dict(timings),
    }


def make_manifest(cfg: Config, started: datetime, timer: _Timer, summary: dict) -> dict:
    """What someone needs to re-run exactly."""
    ins = cfg.inputs
    hashes = {}
    for name in ("buildings", "roofs", "dsm", "dem", "weather"):
        val = getattr(ins, name)
        if val:
            hashes[name] = {"path": val, "sha256": file_sha256(val)}
    if not ins.weather:
        from .weather import DEFAULT_WEATHER_PATH
        hashes["weather"] = {"path": str(DEFAULT_WEATHER_PATH), "sha256": file_sha256(DEFAULT_WEATHER_PATH)}
    return {
        "pv_survey_version": __version__,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config_to_dict(cfg),
        "inputs": hashes,
        "versions": _versions(),
        "platform": platform.platform(),
        "counts": {k: summary[k] for k in ("buildings_in", "buildings_with_site", "buildings_excluded",
                                           "roofs_total", "roofs_kept")},
        "timings_s": dict(timer.timings_s),
    }
