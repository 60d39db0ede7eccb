"""Run a survey: unpack the config, call each stage once, time it, check the accounting.

No science lives here: every number is computed by a stage module. This is the
only module that reads a :class:`~pv_survey.config.Config` field by field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import platform
import threading
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
from .data_files import data_dir
from .accounting import check_accounting
from .sites import annotate_buildings, sites_from_roofs
from .memory import release_freed_memory  # noqa: F401 - called between stages, and by name
from .errors import InputError

log = logging.getLogger("pv_survey")

#: Folder of the embedded default data (package data of a wheel, the repository's ``data/`` in a checkout).
DATA_DIR = data_dir()
DEFAULT_BUILDINGS = DATA_DIR / "tianhe_demo_buildings.gpkg"
DEFAULT_ROOFS = DATA_DIR / "tianhe_demo_roofs.gpkg"
DEFAULT_PARKING = DATA_DIR / "tianhe_demo_parking.gpkg"


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
    #: the other layers (``{"facades": frame, "carports": frame, "modules": frame, ...}``); the large
    #: layout layers are read from the run's scratch parts when asked for (:class:`~pv_survey.outputs.spool.ResultLayers`)
    layers: Any = field(default_factory=dict)
    #: hourly AC profiles of the plan (:class:`pv_survey.plan.HourlyPlan`) with ``outputs.hourly``, else None
    hourly: Any = None


class _Timer:
    """Stage times of a run, summed; each stage's start and end logged at ``level``.

    A tile among several logs its stages at DEBUG into the run's own ``timings_s`` (the run's
    progress then counts buildings over the tiles instead of printing every tile's stages).
    """

    def __init__(self, level: int = logging.INFO, timings_s: dict[str, float] | None = None) -> None:
        self.timings_s: dict[str, float] = {} if timings_s is None else timings_s
        self.level = level
        self._lock = threading.Lock()  # tiles run in two threads add to the same keys

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        log.log(self.level, "[%s] ...", name)
        try:
            yield
        except BaseException:  # interrupted or failed: never reported as done
            log.log(max(self.level, logging.INFO), "[%s] stopped after %.1f s", name, time.perf_counter() - t0)
            raise
        dt = time.perf_counter() - t0
        # a stage may run more than once (shading for roofs, facades, carports; once per tile): add up
        with self._lock:
            self.timings_s[name] = round(self.timings_s.get(name, 0.0) + dt, 3)
        log.log(self.level, "[%s] done in %.1f s", name, dt)


#: Allocations between Python's youngest-generation collections during a run (CPython's default is
#: 700): a tile makes hundreds of thousands of shapely geometries, which the cyclic collector tracks,
#: and with the default every few tiles ends in a full collection that re-scans every geometry still
#: held. Measured on the 100,000-building bench city (``gc.callbacks`` timing each collection):
#: 53 full collections, 7.6 s of a 58 s run, with the default; 3 full collections, 0.4 s, with this.
#: Reference counting frees everything that is not in a cycle as before; :func:`release_freed_memory`
#: still collects fully between stages. Project choice, measured.
GC_YOUNG_THRESHOLD = 50_000


@contextmanager
def fewer_collections():
    """Run the body with Python's cyclic collector run less often; the thresholds are restored after.

    See :data:`GC_YOUNG_THRESHOLD`. The middle and oldest thresholds keep CPython's ratios
    (a middle collection every 20 young ones, at most one full collection per 10 middle ones)
    so that a full collection comes after ~10 million allocations rather than ~70,000.
    """
    import gc

    before = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def quiet_scratch_dataset_warnings() -> None:
    """Ignore rasterio's no-geotransform warning from its in-memory scratch datasets, process-wide.

    ``rasterio.features`` (rasterize, shapes) opens its scratch ``MEM`` dataset before setting the
    transform it was given and silences the resulting ``NotGeoreferencedWarning`` with
    ``warnings.catch_warnings``. That context manager saves and restores the process's one filter
    list (Python < 3.14), so when another thread enters and leaves its own (pandas, geopandas, a
    second tile) the silence is undone and a spurious warning reaches the user. A filter in the list
    itself, set before the threads start, is kept by every save and restore. The same warning from
    opening a file without cell positions (``rasterio.open``) is ignored too: every raster input is
    probed before use and such a file stops the run with one line
    (:func:`pv_survey.shading.probe_raster`), so the warning would only add a second, Python-shaped one.
    Called by :func:`pv_survey.partition.run_partitioned` (every run) and in each dask worker;
    idempotent.
    """
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module=r"rasterio\.features")
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module=r"rasterio\Z")


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


def load_inputs(cfg: Config):
    """Read buildings (and roof planes) into the metric CRS: ``(buildings, planes, report)``."""
    buildings, planes, report, store = load_inputs_stored(cfg, store=False)
    return buildings, planes, report


def load_inputs_stored(cfg: Config, *, store: bool = True):
    """:func:`load_inputs` and, for a buildings file read in windows, the scratch store its tiles read.

    Returns ``(buildings, planes, report, store)``: ``store`` is a
    :class:`pv_survey.inputs.store.BuildingStore` holding the buildings (constraints applied),
    grouped by cell, when the file had more than ``inputs.read_window_features`` features and
    ``store`` is True, else None. The caller removes it (``store.remove()``).
    """
    from . import inputs
    from . import roofs as roofs_mod

    metric_crs = cfg.survey.metric_crs
    reader = inputs.BuildingWindows(
        cfg.inputs.buildings, layer=cfg.inputs.layer or None,
        source_crs=cfg.inputs.source_crs or None, encoding=cfg.inputs.encoding or None,
        field_map=cfg.inputs.field_map or None, value_map=cfg.inputs.value_map or None,
        target_crs=metric_crs, extent_lon_lat=cfg.survey.extent_lon_lat,
        max_footprint_m2=cfg.inputs.max_footprint_m2, window_features=cfg.inputs.read_window_features,
    )
    frames, scratch, protected = [], None, None
    try:
        for window in reader:
            if not frames and cfg.inputs.protected:  # read once the buildings are known to open
                protected = inputs.read_parking(cfg.inputs.protected, target_crs=metric_crs)
            # constraints are per building: applied window by window, so the store holds them too
            window = roofs_mod.apply_constraints(window, cfg.roofs.constraints, protected)
            window = inputs.schema.arrow_text(window)  # a city's names and addresses in Arrow buffers
            if store and reader.windowed:
                scratch = scratch or inputs.BuildingStore.create()
                scratch.add(window)
            frames.append(window)
        if scratch is not None:
            scratch.close()
        report = reader.report
        buildings = frames[0] if len(frames) == 1 else gpd.GeoDataFrame(
            pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
        del frames
        planes = None
        if cfg.inputs.roofs:
            planes = inputs.read_roof_planes(cfg.inputs.roofs, layer=cfg.inputs.roofs_layer or None,
                                             source_crs=cfg.inputs.source_crs or None, target_crs=metric_crs)
        # issue 16: building parts become roof planes of their outline; constraints flag heritage / supertall
        planes = roofs_mod.with_part_planes(planes, buildings, getattr(report, "parts", None),
                                            default_pitch_deg=cfg.roofs.default_pitch_deg)
        buildings = inputs.schema.compact_columns(buildings)  # a city's label columns as categoricals
        if len(buildings) == 0:
            raise InputError(f"{report.source}: no buildings in the input; check the file and --layer")
        check_side_inputs(cfg)
    except BaseException:
        if scratch is not None:
            scratch.remove()
        raise
    if scratch is not None:
        scratch.set_dtypes(buildings)
        report.warnings.append(f"{report.source}: {len(buildings):,} buildings read in {reader.n_windows} windows of "
                               f"{cfg.inputs.read_window_features:,} (inputs.read_window_features); tiles read "
                               "theirs from a scratch file grouped by place")
    return buildings, planes, report, scratch


def check_side_inputs(cfg: Config) -> None:
    """Check the inputs read later in the run (rasters and obstacles per tile, zones and pins at the
    plan) before any tile runs, so a bad file fails in seconds, not after the shading of a city."""
    from . import inputs
    from .shading import probe_raster

    ins = cfg.inputs
    if ins.dem and not ins.dsm:
        raise InputError(f"{ins.dem}: a DEM (--dem) is subtracted from a DSM file; give --dsm too, or leave --dem out")
    obs_raster = bool(ins.obstacles) and Path(ins.obstacles).suffix.lower() in (".tif", ".tiff", ".vrt", ".img")
    for path, what in ((ins.dsm, "DSM"), (ins.dem, "DEM"), (ins.obstacles if obs_raster else "", "obstacle raster")):
        if path:
            probe_raster(path, what)
    if ins.obstacles and not obs_raster:
        inputs.read_obstacles(ins.obstacles, layer=ins.obstacles_layer or None, source_crs=ins.source_crs or None,
                              target_crs=cfg.survey.metric_crs)
    for path in ins.zones:
        inputs.read_zones(path, field=ins.zone_field, target_crs=cfg.survey.metric_crs)
    if ins.boundary:
        inputs.read_boundary(ins.boundary, target_crs=cfg.survey.metric_crs)
    if cfg.plan.pins_file:
        from .plan import read_pins
        read_pins(cfg.plan.pins_file)


def load_weather(cfg: Config):
    """The weather year of the run and any notes about it: ``(weather, notes)``."""
    from . import weather as weather_mod

    align = cfg.energy.time_alignment
    wx = (weather_mod.read_weather(cfg.inputs.weather, align) if cfg.inputs.weather
          else weather_mod.default_weather(align))
    notes = list(wx.notes)
    warn = weather_mod.location_warning(wx, cfg.survey.centre_lon_deg, cfg.survey.centre_lat_deg,
                                        max_distance_km=cfg.energy.weather_max_distance_km)
    if warn:
        log.warning(warn)
        notes.append(warn)
    return wx, notes


def build_dsm(cfg: Config, buildings: gpd.GeoDataFrame, area_bounds, planes=None) -> tuple:
    """The run's surface model over ``area_bounds`` plus the search radius.

    Returns ``(dsm, owner_of, absolute)``: the :class:`~pv_survey.shading.Dsm`, a
    Series mapping building_id -> owner index in the DSM, and whether the DSM holds
    absolute surface heights (a DSM file without a DEM) rather than heights above
    ground. The grid is snapped to whole pyramid blocks, so tiles and the whole
    area share one grid (partitioned runs reproduce single-process horizons).
    """
    from . import shading

    from .roofs import CONSTRAINT_REASONS

    sc = cfg.shading
    # buildings kept off the build years (heritage) still stand and cast shade
    usable_b = buildings[buildings["excluded_reason"].fillna("").isin(["", *CONSTRAINT_REASONS.values()])]
    owner_of = pd.Series(np.arange(len(usable_b)), index=usable_b["building_id"].to_numpy())
    bounds = shading.snapped_bounds(area_bounds, sc.search_radius_m, sc.dsm_resolution_m * shading.PYRAMID_BLOCK_CELLS)
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
    if planes is not None:  # building parts at their own heights shade the rest of their outline (issue 16)
        from .roofs import part_prisms
        g, h = part_prisms(planes)
        if len(g):
            dsm = shading.burn_obstacles(dsm, g, h)
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


def plan_and_account(cfg: Config, buildings: gpd.GeoDataFrame, roofs: gpd.GeoDataFrame, *,
                     n_in: int, timer: "_Timer | None" = None, weather: Any = None):
    """Sites, plan, building annotation and the end-of-run accounting: ``(buildings, planres)``.

    ``weather`` is the run's weather year (for the time-of-use valuation); None = read it from
    the config.
    """
    from . import plan as plan_mod

    timer = timer or _Timer()
    with timer.stage("plan"):
        kept = roofs["excluded_reason"].to_numpy() == ""
        # the columns the sites sum, not a copy of the kept roofs (their outlines and profiles)
        need = ["building_id", "capacity_kwp", "annual_kwh", "usable_area_m2", "module_area_m2", "area_m2",
                *(c for c in ("n_modules", "n_rows") if c in roofs)]
        # the buildings' columns the plan reads (shared, not copied: pandas' copy-on-write), with the
        # labels it shows (build_plan joins them to its rows; the sites leave them out)
        b_tab = pd.DataFrame(buildings[["building_id", "category", "year_built", "existing_pv_kwp", "excluded_reason",
                                        *(c for c in ("name", "owner", "address") if c in buildings)]])
        b_tab["roof_area_m2"] = buildings.geometry.area.to_numpy()
        params = plan_params(cfg)
        if weather is not None:  # the year the run read (and aligned), not a second read of the file
            params["weather"] = weather
        # the sites handed over, not held here: build_plan then frees what its check replaces
        planres = plan_mod.build_plan(sites_from_roofs(pd.DataFrame(roofs[need])[kept], buildings, labels=False),
                                      b_tab, **params)
    buildings = annotate_buildings(buildings, roofs, planres.plan)
    check_accounting(buildings, roofs, planres, n_in)
    release_freed_memory()  # the plan's working tables
    return buildings, planres


def run_survey(config: Config | None = None, *, out_dir: str | Path | None = None,
               overwrite: bool = False, write: bool = True,
               progress: Progress | None = None, workers: int | None = None, scheduler: Any = None,
               tile_size_m: float | None = None, hourly: bool | None = None,
               flux: bool | None = None) -> SurveyResult:
    """Run the whole survey: inputs -> roofs -> shading -> energy -> plan -> outputs.

    Every run is tiled (:func:`pv_survey.partition.run_partitioned`): square tiles of
    ``shading.tile_size_m`` with a halo of the search radius, one tile when the area is
    small, run in this process, on a local cluster (``workers``) or an existing one
    (``scheduler``). Results do not depend on the tiling.

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
    workers, scheduler, tile_size_m
        See :func:`pv_survey.partition.run_partitioned`.
    hourly : bool, optional
        Compute (and write) the plan's hourly AC profiles (``SurveyResult.hourly``); None =
        ``config.outputs.hourly``.
    flux : bool, optional
        Write the roof irradiation raster ``flux_annual.tif`` (``SurveyResult.paths``); None =
        ``config.flux.enabled``.

    Returns
    -------
    SurveyResult
    """
    from .partition import run_partitioned

    if hourly is not None:
        config = (config or Config()).replace(outputs={"hourly": bool(hourly)})
    if flux is not None:
        config = (config or Config()).replace(flux={"enabled": bool(flux)})
    if not write:
        with fewer_collections():
            return run_partitioned(config, out_dir=out_dir, workers=workers, scheduler=scheduler,
                                   tile_size_m=tile_size_m, overwrite=overwrite, write=False, progress=progress)
    from .outputs.runlock import run_lock

    cfg = config or Config()
    out_path = Path(out_dir or cfg.outputs.out_dir or Path("outputs") / cfg.survey.name)
    # one run at a time in a folder; a failed run removes the folder it created (issue 18)
    with run_lock(out_path), fewer_collections():
        return run_partitioned(config, out_dir=out_path, workers=workers, scheduler=scheduler,
                               tile_size_m=tile_size_m, overwrite=overwrite, write=True, progress=progress)


def start_run(cfg: Config, out_path: Path | None, *, overwrite: bool, timer: "_Timer"):
    """Common start of single and partitioned runs: check the output folder, read inputs and weather.

    Returns ``(buildings, planes, weather, notes, store)`` (``store``: see :func:`load_inputs_stored`).
    """
    if out_path is not None:
        from .outputs import prepare_out_dir
        prepare_out_dir(out_path, overwrite=overwrite)
    with timer.stage("inputs"):
        buildings, planes, report, store = load_inputs_stored(cfg)
        release_freed_memory()  # the windows read and joined
    try:
        notes = list(getattr(report, "warnings", []) or [])
        log.info("%s buildings read from %s", f"{len(buildings):,}", report.source)  # passwords hidden
        with timer.stage("weather"):
            wx, wx_notes = load_weather(cfg)
    except BaseException:
        if store is not None:
            store.remove()
        raise
    return buildings, planes, wx, notes + wx_notes, store


class LayoutSpooler:
    """The roofs' module layout of each tile as it arrives: sites filled, layers spooled to disk.

    A tile's row segments (and modules) are per roof, so ``plan.site_fill`` picks the modules
    built tile by tile (:func:`pv_survey.sites.fill_sites`, the tile's roofs updated in place of
    the result) and the tile's ``modules`` and ``site_curves`` rows go to a scratch
    :class:`~pv_survey.outputs.spool.LayerSpool` in tile order: the driver never holds a city's
    segments (9 million at 1,000,000 buildings). ``counts`` add up :func:`pv_survey.sites.layout_counts`.
    """

    def __init__(self, cfg: Config) -> None:
        from .outputs.spool import LayerSpool

        self.cfg = cfg
        self.spool = LayerSpool()
        self.counts: dict[str, int] | None = None

    def take(self, key: int, result: Any) -> None:
        """Fill, spool and drop the layout of the tile ``key`` (its position in the run's tile list)."""
        from .keys import text_order
        from .sites import capacity_yield_curves, fill_sites, layout_counts

        units, modules = result.units, result.modules
        if units is None:
            return
        cfg = self.cfg
        result.roofs, units = fill_sites(result.roofs, units, site_fill=cfg.plan.site_fill,
                                         min_module_yield_kwh_kwp=cfg.plan.min_module_yield_kwh_kwp)
        # by building id within the tile, as the roofs
        units = units.iloc[text_order(units["building_id"])]
        if modules is not None:
            modules = modules.iloc[text_order(modules["building_id"])]
        for name, frame in layout_output_layers(cfg, units, modules).items():
            self.spool.add(name, key, frame)
        self.spool.add("site_curves", key, capacity_yield_curves(units[units["built"].to_numpy(bool)]))
        c = layout_counts(units)
        self.counts = c if self.counts is None else {k: self.counts[k] + c[k] for k in c}
        result.units = result.modules = None  # one tile's segments in the driver at a time

    def layers(self) -> dict:
        """The spooled layers (``modules`` unless ``roofs.modules_layer = 'none'``, ``site_curves``),
        every part on disk (a failed scratch write is raised here, at the end of the tiles)."""
        self.spool.flush()
        return {name: self.spool.layer(name) for name in ("modules", "site_curves") if name in self.spool}


def finish_survey(cfg: Config, buildings, roofs, wx, *, notes, n_in, timer, started, out_path, overwrite,
                  extra_layers: dict | None = None, progress: Progress | None = None, flux: Any = None,
                  layout: "LayoutSpooler | None" = None):
    """Plan, account, summarise and (when ``out_path``) write: shared by single and partitioned runs.

    ``flux``: the run's roof irradiation raster being filled (written with the outputs), or None.
    ``layout``: the roofs' module layout taken tile by tile (:class:`LayoutSpooler`; the roofs
    already filled by ``plan.site_fill``): its ``modules`` and ``site_curves`` layers and counts.
    """
    layout_layers = {}
    if layout is not None and layout.counts is not None:
        layout_layers = layout.layers()
    # what the tiles' stage freed on its way out (its scratch store, the tile loop's state) handed back
    # before the plan takes its working tables (1,000,000 buildings: ~0.24 GB, seen with stage markers)
    release_freed_memory()
    buildings, planres = plan_and_account(cfg, buildings, roofs, n_in=n_in, timer=timer, weather=wx)
    buildings, zone_layers = survey_zones(cfg, buildings)  # issue 16: reporting zones
    boundary, boundary_msg = survey_boundary(cfg, buildings)  # issue 17: the district boundary
    if boundary_msg:
        notes = [*notes, boundary_msg]
    summary = make_summary(cfg, buildings, roofs, planres, wx, notes, timer.timings_s)
    if extra_layers:
        from . import resources
        summary["resources"] = resources.totals(extra_layers, cfg.resources)
        summary["plan_lines"].extend(resources.summary_lines(summary["resources"]))
    from .roofs import constraint_summary_lines
    from .zones import zone_summary_lines
    summary["plan_lines"] += constraint_summary_lines(buildings) + zone_summary_lines(zone_layers)
    if layout_layers:
        from .presets import module_preset
        from .sites import layout_summary_line
        summary["plan_lines"].append(layout_summary_line(layout.counts, module_preset(cfg.roofs.module),
                                                         site_fill=cfg.plan.site_fill,
                                                         min_module_yield_kwh_kwp=cfg.plan.min_module_yield_kwh_kwp))
    if zone_layers is not None:
        extra_layers = {**(extra_layers or {}), "zones": zone_layers}
    if layout_layers:
        extra_layers = {**(extra_layers or {}), **layout_layers}
    if boundary is not None:  # its own GeoPackage layer, and the outline of the report map
        extra_layers = {**(extra_layers or {}), "boundary": boundary}
    hourly = None
    if cfg.outputs.hourly:  # issue 14: a light second energy pass over the build-year sites' roofs
        from .plan import hourly_note, plan_hourly, resource_hourly
        from .resources import REGISTRY
        with timer.stage("hourly"):
            hourly = plan_hourly(planres.plan, roofs, wx, energy_params=energy_params(cfg),
                                 flat_max_tilt_deg=cfg.roofs.flat_max_tilt_deg)
            others = {n: f for n, f in (extra_layers or {}).items() if n in REGISTRY and n != "roofs"}
            hourly.resources = resource_hourly(
                others, wx, flat_max_tilt_deg=cfg.roofs.flat_max_tilt_deg,
                params_by_name={n: {**energy_params(cfg), **REGISTRY[n].rules(cfg).energy_overrides} for n in others})
        summary["notes"].append(hourly_note(hourly))
    manifest = make_manifest(cfg, started, timer, summary)
    from .outputs.spool import ResultLayers
    result = SurveyResult(buildings=buildings, roofs=roofs, plan=planres, summary=summary, manifest=manifest,
                          layers=ResultLayers(extra_layers), hourly=hourly)
    if out_path is not None:
        from .outputs import write_outputs
        with timer.stage("outputs"):
            result.paths = write_outputs(
                out_path, buildings=buildings, roofs=roofs, plan=planres.plan,
                targets=planres.targets, coverage=planres.coverage, category_shares=planres.category_shares,
                summary=summary, manifest=manifest, crs=cfg.survey.metric_crs, overwrite=overwrite,
                shortlist_size=cfg.outputs.shortlist_size, workbook_max_rows=cfg.outputs.workbook_max_rows,
                extra_layers=extra_layers or None,
                progress=progress, pdf=cfg.outputs.report_pdf, flux=flux,
                hourly=hourly, hourly_sites_format=cfg.outputs.hourly_sites_format,
                report_interactive=cfg.outputs.report_interactive,
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


def layout_output_layers(cfg: Config, units, modules) -> dict:
    """The ``modules`` layer as ``roofs.modules_layer`` asks: one polygon per module, per row segment, or none
    (``units``: row segments with ``built``, :func:`pv_survey.sites.fill_sites`)."""
    if cfg.roofs.modules_layer == "none":
        return {}
    if cfg.roofs.modules_layer == "modules" and modules is not None:
        built = units.set_index("segment_id")["built"]
        return {"modules": modules.assign(built=built.reindex(modules["segment_id"]).fillna(False).to_numpy(bool))}
    return {"modules": units.drop(columns=["x_m", "y_m"])}


def survey_zones(cfg: Config, buildings: gpd.GeoDataFrame):
    """Each building's zone (``zone_<layer>`` columns) and the zones table, for every ``inputs.zones`` file."""
    if not cfg.inputs.zones:
        return buildings, None
    from . import inputs, zones as zones_mod
    b, tables = buildings.copy(), []
    for path in cfg.inputs.zones:
        z = inputs.read_zones(path, field=cfg.inputs.zone_field, target_crs=cfg.survey.metric_crs)
        name = zones_mod.zone_layer_name(path)
        b[f"zone_{name}"] = zones_mod.assign_zones(b.geometry.to_numpy(), z)
        tables.append(zones_mod.zone_table(b, z, b[f"zone_{name}"].to_numpy(), layer=name))
    table = gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), geometry="geometry", crs=tables[0].crs)
    return b, table


def survey_boundary(cfg: Config, buildings: gpd.GeoDataFrame):
    """The ``inputs.boundary`` layer (None when not given) and the note on buildings outside it."""
    if not cfg.inputs.boundary:
        return None, ""
    from . import inputs, zones as zones_mod
    b = inputs.read_boundary(cfg.inputs.boundary, source_crs=None, target_crs=cfg.survey.metric_crs)
    outside = zones_mod.outside_boundary(buildings.geometry, b.geometry)
    return b, zones_mod.boundary_note(buildings["building_id"].to_numpy(), outside, cfg.inputs.boundary)


def energy_params(cfg: Config) -> dict:
    """Keyword arguments of :func:`pv_survey.energy.simulate_roofs` from the config (one place: the energy stage)."""
    from .energy import params_from_config

    return params_from_config(cfg.energy)


def plan_params(cfg: Config) -> dict:
    """Keyword arguments of :func:`pv_survey.plan.build_plan` from the config."""
    from .presets import module_preset

    out = dict(settings=cfg.plan, economics=cfg.economics,
               weather=cfg.inputs.weather,  # the TOU valuation's profile ('' = embedded default year)
               module_kwp_per_m2=module_preset(cfg.roofs.module).kwp_per_m2)  # kWp per m2 of the roofs' module
    if cfg.plan.pins_file:
        from .plan import read_pins
        out["pins"] = read_pins(cfg.plan.pins_file)
    return out


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
