"""Partitioned survey: square tiles with a shading halo, run as dask.distributed tasks.

A large area is cut into square tiles by building centroid (:func:`plan_tiles`). Each tile's
resources (roofs, and the facades and carports a scenario asks for) come from
:func:`pv_survey.assessment.assess` on the tile's *core* buildings and car parks plus a *halo*: every usable building whose bounding box comes within
``shading.search_radius_m`` plus a margin of the core's bounding box. The halo buildings cast
shade but get no roofs, so each tile's DSM covers every cell the core's horizon rays can reach,
and each surface is computed exactly once. The tables of the tiles are concatenated and put in
the single-process order (each resource's ``merge_by``), and the plan, the
accounting and the outputs run once on the whole table (:func:`pv_survey.pipeline.finish_survey`).
Memory of a worker is bounded by one tile plus its halo; the driver holds the whole building and
roof tables (the plan is global).

Schedulers: ``workers=N`` starts a ``LocalCluster(n_workers=N, threads_per_worker=1)``,
``scheduler="tcp://host:8786"`` uses an existing cluster (workers must see the input files at the
same paths), a ``distributed.Client`` is used as given, and neither runs the tiles one after the
other in this process (``scheduler="synchronous"``, no dask needed). At most two tiles per worker
thread are in flight, so worker memory stays bounded however many tiles there are.

Why not dask-geopandas partitions: a tile needs its neighbours' buildings (the halo), which
``map_partitions`` over spatially shuffled partitions does not provide, and the halo query needs an
index of all buildings anyway; the plan and the GeoPackage need every roof in one process, so the
driver reads the input once (with the inputs stage's validation) and ships each tile its rows.
Hilbert-ordered equal-count partitions would balance tasks, but their bounding boxes (the extent
of a tile's DSM) are irregular; square tiles bound the DSM of every task by
``(tile_size_m + 2 * halo) ** 2`` and many tiles per worker balance the load dynamically.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from .config import Config
from .errors import ClusterError, ConfigError, PVSurveyError
from .keys import positions as key_positions
from .memory import return_free_pages

log = logging.getLogger("pv_survey")

__all__ = ["Tile", "plan_tiles", "run_partitioned", "assess_tile", "assess_stored_tile", "check_tile_size", "dask_client",
           "HALO_MARGIN_CELLS"]

#: Margin added to the search radius around a tile, in DSM cells: two blocks of the coarsest
#: pyramid level of the horizon ray march (``shading.PYRAMID_BLOCK_CELLS`` = 32 cells). The tile's
#: DSM is snapped outward to whole blocks (``pipeline.build_dsm``), up to one block past the search
#: radius; every cell of it must hold the same buildings as the whole-area DSM (project choice).
HALO_MARGIN_CELLS = 64
#: Tiles run at a time in this process (no cluster): while one tile's compiled kernels use the
#: cores, the other's Python steps (its DSM burn, roof planes, module layout, frames) run beside
#: them instead of leaving a core idle; the kernels release the GIL (``nogil``). Two tiles' working
#: sets in memory. Measured on the 100,000-building bench city, 2 cores: the tiles stage used
#: 1.67 cores on average with one tile at a time. Project choice.
TILE_THREADS = 2
#: Tiles in flight per worker thread: enough to keep a worker busy while the next tile's data
#: arrives, few enough that worker memory stays bounded (project choice).
IN_FLIGHT_PER_THREAD = 2


def check_tile_size(tile_size_m: Any) -> float:
    """``tile_size_m`` as a float; :class:`ConfigError` naming the value unless finite and > 0. [m]"""
    try:
        v = float(tile_size_m)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(tile_size_m, bool) or not (v > 0 and math.isfinite(v)):
        raise ConfigError(f"tile_size_m = {tile_size_m!r}: give a tile side in metres > 0 (default 2000)")
    return v


@dataclass(frozen=True)
class Tile:
    """One tile of a survey.

    Attributes
    ----------
    key : tuple of int
        (column, row) of the tile in the grid of ``tile_size_m`` squares (column = floor(x / size)).
    core : numpy.ndarray
        Positions (``iloc``) of the buildings whose centroid falls in the tile, ascending.
    halo : numpy.ndarray
        Positions of every building the tile's assessment needs (core included), ascending.
    bounds : tuple of float
        (min x, min y, max x, max y) of the core buildings' and car parks' bounding boxes. [m]
    parking : numpy.ndarray
        Positions of the car parks whose centroid falls in the tile, ascending (empty without car parks).
    """

    key: tuple[int, int]
    core: np.ndarray
    halo: np.ndarray
    bounds: tuple[float, float, float, float]
    parking: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def _present(geoms: np.ndarray) -> np.ndarray:
    return ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)


def plan_tiles(geometry: Any, usable: Any, *, tile_size_m: float, halo_m: float,
               parking: Any = None) -> list[Tile]:
    """Group buildings (and car parks) into square tiles by centroid and find each tile's halo.

    Parameters
    ----------
    geometry : GeoSeries or array of polygons
        Building footprints in a metric CRS.
    usable : array-like of bool
        Buildings that take part (no ``excluded_reason``); the others belong to no tile.
    tile_size_m : float
        Side of a tile. [m]
    halo_m : float
        Reach of the halo around the core's bounding box (search radius plus margin). [m]
    parking : GeoSeries or array of polygons, optional
        Car parks (same CRS); each belongs to the tile of its centroid, and the tile's
        bounds and halo cover it.

    Returns
    -------
    list of Tile
        Non-empty tiles, ordered by row from the north, then by column from the west.

    Raises
    ------
    ConfigError
        ``tile_size_m`` or ``halo_m`` not positive / negative.
    """
    tile_size_m = check_tile_size(tile_size_m)
    if not halo_m >= 0:
        raise ConfigError(f"halo_m = {halo_m!r}: give a halo in metres >= 0")
    geoms = np.asarray(getattr(geometry, "values", geometry), dtype=object)
    idx = np.flatnonzero(np.asarray(usable, dtype=bool) & _present(geoms))
    pgeoms = np.asarray(getattr(parking, "values", parking if parking is not None else []), dtype=object)
    pidx = np.flatnonzero(_present(pgeoms)) if pgeoms.size else np.empty(0, dtype=np.int64)
    if idx.size == 0 and pidx.size == 0:
        return []
    g, pg = geoms[idx], pgeoms[pidx]
    bb = np.concatenate([shapely.bounds(g).reshape(-1, 4), shapely.bounds(pg).reshape(-1, 4)])
    cen = shapely.centroid(np.concatenate([g, pg]))
    tx = np.floor(shapely.get_x(cen) / tile_size_m).astype(np.int64)
    ty = np.floor(shapely.get_y(cen) / tile_size_m).astype(np.int64)
    is_lot = np.r_[np.zeros(idx.size, bool), np.ones(pidx.size, bool)]
    pos = np.r_[idx, pidx]
    # north to south, west to east, buildings before car parks, then input order
    order = np.lexsort((pos, is_lot, tx, -ty))
    keys = np.stack([tx[order], ty[order]], axis=1)
    cut = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    tree = shapely.STRtree(g)
    tiles = []
    for part in np.split(order, cut):
        b = bb[part]
        bounds = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
        reach = shapely.box(bounds[0] - halo_m, bounds[1] - halo_m, bounds[2] + halo_m, bounds[3] + halo_m)
        near = tree.query(reach)  # bounding boxes intersecting: a superset of what can cast shade
        own = part[~is_lot[part]]
        tiles.append(Tile(key=(int(tx[part[0]]), int(ty[part[0]])), core=np.sort(idx[own]),
                          halo=np.sort(idx[np.union1d(near, own)]), bounds=bounds,
                          parking=np.sort(pos[part[is_lot[part]]])))
    return tiles


def _set_worker_threads() -> None:
    """Let numba use the cores of this dask worker only (threads_per_worker), not all of the machine;
    the worker's cyclic garbage collector runs as seldom as the driver's (:func:`pipeline.fewer_collections`)
    and its rasterio scratch datasets stay quiet (:func:`pipeline.quiet_scratch_dataset_warnings`)."""
    try:
        from distributed import get_worker

        nthreads = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return  # not inside a dask worker: keep numba's default
    import gc

    import numba

    from . import pipeline

    numba.set_num_threads(max(1, min(nthreads, numba.config.NUMBA_NUM_THREADS)))
    gc.set_threshold(pipeline.GC_YOUNG_THRESHOLD, 20, 10)  # a worker process runs tiles only
    pipeline.quiet_scratch_dataset_warnings()


@dataclass
class TileResult:
    """What one tile hands back to the driver.

    Attributes
    ----------
    roofs : GeoDataFrame or None
        Roofs of the tile's core buildings (None when the tile holds car parks only).
    layers : dict
        The other resources of the tile (``{"facades": frame, "carports": frame}``).
    timings_s : dict
        Stage timings of the tile. [s]
    dsm_filled_cells : int
        DSM cells without data filled in the tile's DSM (halos overlap, so tiles count some twice).
    units, modules : GeoDataFrame or None
        The roofs' module layout: row segments with their own yield, and the modules when asked for.
    flux : pv_survey.flux.FluxCells or None
        Irradiation of the core's roof cells (``flux.enabled``); the driver writes it into the
        run's raster as the tile arrives and drops it.
    """

    roofs: Any
    layers: dict
    timings_s: dict
    dsm_filled_cells: int = 0
    units: Any = None
    modules: Any = None
    flux: Any = None


def _area_bounds(core: gpd.GeoDataFrame, parking: gpd.GeoDataFrame | None, buildings: gpd.GeoDataFrame) -> tuple:
    """Bounds of the tile's core buildings and car parks: the area its DSM must cover plus the radius.

    A tile without either (a run where no building is usable) covers all its buildings.
    """
    parts = [core.total_bounds] if len(core) else []
    if parking is not None and len(parking):
        parts.append(parking.total_bounds)
    if not parts:
        parts.append(buildings.total_bounds)
    b = np.array(parts, dtype=float)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def assess_tile(cfg: Config, buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None, wx: Any,
                core_ids: np.ndarray, key: tuple[int, int], *, parking: gpd.GeoDataFrame | None = None,
                timer: Any = None, progress: Any = None) -> TileResult:
    """One task: every resource of a tile's core, the halo casting shade.

    One DSM over the core buildings and car parks plus the search radius
    (:func:`pv_survey.pipeline.build_dsm`, snapped to the run's global grid) serves every
    resource the scenario asks for (:func:`pv_survey.assessment.assess`: roofs always). A
    :class:`~pv_survey.errors.PVSurveyError` is re-raised with the tile's key in its message.
    """
    from . import assessment, pipeline
    from .resources import TileData

    _set_worker_threads()
    own_timer = timer is None
    timer = timer or pipeline._Timer()
    try:
        core = buildings[buildings["building_id"].isin(core_ids)]
        with timer.stage("shading"):
            dsm, owner_of, absolute = pipeline.build_dsm(cfg, buildings, _area_bounds(core, parking, buildings),
                                                         planes)
        tile = TileData(buildings=buildings, core_ids=core_ids, weather=wx, dsm=dsm, owner_of=owner_of,
                        absolute=absolute, energy_params=pipeline.energy_params(cfg), planes=planes,
                        parking=parking)
        assessed = assessment.assess(cfg, tile, timer=timer, progress=progress)
        cells = None
        if cfg.flux.enabled:
            cells = _tile_flux(cfg, dsm, assessed["roofs"].frame, wx, owner_of, absolute, timer, progress)
    except PVSurveyError as exc:
        try:
            wrapped = type(exc)(f"tile {key} ({len(core_ids)} buildings): {exc}")
        except Exception:  # an error class with another signature: keep the original
            raise exc from None
        raise wrapped from exc
    layers = {name: a.frame for name, a in assessed.items()}
    roofs = layers.pop("roofs")
    return TileResult(roofs=roofs, layers=layers, timings_s=dict(timer.timings_s) if own_timer else {},
                      dsm_filled_cells=int(getattr(dsm, "filled_cells", 0) or 0), flux=cells,
                      units=assessed["roofs"].units, modules=assessed["roofs"].modules)


def _tile_flux(cfg: Config, dsm: Any, roofs: gpd.GeoDataFrame, wx: Any, owner_of: Any, absolute: bool,
               timer: Any, progress: Any) -> Any:
    """The irradiation of the tile's roof cells (:func:`pv_survey.flux.roof_flux`) with the run's settings.

    A DSM read from file gives each cell its own slope, aspect and height; a rasterised DSM (flat
    prisms) leaves them to the roof planes.
    """
    from . import flux

    fc = cfg.flux
    report = None if progress is None else (lambda done, total: progress("flux", done, total))
    with timer.stage("flux"):
        cells = flux.roof_flux(dsm, roofs, wx, resolution_m=fc.resolution_m, owner_of=owner_of,
                               from_dsm=bool(cfg.inputs.dsm), n_sectors=fc.n_sectors,
                               radius_m=cfg.shading.search_radius_m, albedo=cfg.energy.albedo, progress=report)
    return cells if fc.monthly else cells.year_only()


@contextmanager
def dask_client(workers: int | None, scheduler: Any) -> Iterator[Any]:
    """The distributed Client to use, or None to run the tiles in this process."""
    if scheduler is not None and workers is not None:
        raise ConfigError(f"workers = {workers!r} and scheduler = {scheduler!r}: give one of them "
                          "(--workers starts a local cluster, --scheduler uses an existing one)")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers = {workers!r}: give a whole number of worker processes >= 1")
    if scheduler is None and workers is None or scheduler == "synchronous":
        yield None
        return
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ConfigError(f"scheduler = {scheduler!r}: give an address such as tcp://127.0.0.1:8786")
        from distributed.comm.addressing import get_address_host_port

        try:  # before a Client exists: one that fails on its address deadlocks the next one's start when collected
            if not scheduler.startswith("inproc://"):  # in-process schedulers have no host and port
                get_address_host_port(scheduler)
        except ValueError as exc:  # no port, an unknown protocol
            raise ConfigError(f"scheduler {scheduler}: not a scheduler address ({exc}); give one such as "
                              "tcp://127.0.0.1:8786") from exc
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"scheduler {scheduler}: cannot connect ({exc}); start one with "
                              "`dask scheduler` and `dask worker ADDRESS`, or use --workers N") from exc
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def assess_stored_tile(cfg: Config, store: Any, positions: np.ndarray, reach: tuple, planes, wx: Any,
                       core_ids: np.ndarray, key: tuple[int, int], *, parking=None, timer: Any = None,
                       progress: Any = None) -> TileResult:
    """:func:`assess_tile` on buildings the task reads itself from the run's scratch store.

    ``store`` is the :class:`pv_survey.inputs.store.BuildingStore` of a buildings file read in
    windows; the task reads the row groups meeting ``reach`` (the tile's core box plus the halo)
    and keeps ``positions`` (the tile's halo): the rows ``buildings.iloc[positions]`` of the
    city table, so the driver ships no buildings.
    """
    buildings = store.read(reach, positions)
    return assess_tile(cfg, buildings, planes, wx, core_ids, key, parking=parking, timer=timer, progress=progress)


def _reach(tile: Tile, halo_m: float) -> tuple:
    b = tile.bounds
    return (b[0] - halo_m, b[1] - halo_m, b[2] + halo_m, b[3] + halo_m)


def _tile_inputs(buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None,
                 parking: gpd.GeoDataFrame | None, tile: Tile, stored: bool = False):
    """The tile's buildings (None when ``stored``: the task reads them from the store), planes,
    car parks and core ids."""
    tb = None if stored else buildings.iloc[tile.halo]
    core_ids = buildings["building_id"].to_numpy()[tile.core]
    tp = None
    if planes is not None:
        tp = planes[planes["building_id"].isin(core_ids)]
    tl = parking.iloc[tile.parking] if parking is not None else None
    return tb, tp, tl, core_ids


def _in_threads(task: Callable[[int], Any], order: list[int], n_threads: int) -> Iterator[tuple[int, Any]]:
    """``(i, task(i))`` for each ``i`` of ``order``, computed by ``n_threads`` threads, as they finish.

    At most ``n_threads`` tasks are in flight (memory holds that many tiles); a failed task is
    raised here once the tasks already running have ended (none is abandoned half-done). One thread
    runs the tasks in this thread, in ``order``.
    """
    if n_threads <= 1:
        for i in order:
            yield i, task(i)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = iter(order)
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="pv-survey-tile") as pool:
        running = {pool.submit(task, i): i for _, i in zip(range(n_threads), pending)}
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=lambda f: order.index(running[f])):
                    i = running.pop(fut)
                    result = fut.result()  # a tile's error: raised after the pool has ended the others
                    nxt = next(pending, None)
                    if nxt is not None:
                        running[pool.submit(task, nxt)] = nxt
                    yield i, result
        finally:
            for fut in running:  # an error or Ctrl-C here: no new tile starts; those running end
                fut.cancel()


def _run_tiles(cfg, buildings, planes, parking, wx, tiles, client, progress, timer, on_result=None, store=None,
               halo_m: float = 0.0) -> list:
    """:class:`TileResult` of every tile, in tile order; tiles are dispatched largest first.

    In this process the tiles add their stage times to ``timer``; a single tile also
    reports the progress of its long stages. ``on_result(tile position, result)`` is called as
    each tile arrives (the module layout and the flux raster take theirs then). With a ``store``
    (a buildings file read in
    windows) each tile reads its buildings from it (:func:`assess_stored_tile`).
    """
    n = len(tiles)
    results: list = [None] * n
    # largest tiles first: the last tasks to finish are small ones, so the workers end together
    dispatch = sorted(range(n), key=lambda i: (-(tiles[i].core.size + tiles[i].parking.size), i))
    from . import pipeline

    # progress counts the buildings of the finished tiles' cores (a rate in buildings/s says more
    # than tiles of different sizes would)
    total = int(sum(t.core.size for t in tiles))
    if progress is not None:
        progress("tiles", 0, total)
    if client is None:
        inner = progress if n == 1 else None
        # one tile tells its stages as a run of one piece did; many tiles only their progress
        tile_timer = timer if n == 1 else pipeline._Timer(level=logging.DEBUG, timings_s=timer.timings_s)

        def run(i: int):
            tb, tp, tl, core_ids = _tile_inputs(buildings, planes, parking, tiles[i], store is not None)
            if store is not None:
                return assess_stored_tile(cfg, store, tiles[i].halo, _reach(tiles[i], halo_m), tp, wx, core_ids,
                                          tiles[i].key, parking=tl, timer=tile_timer, progress=inner)
            return assess_tile(cfg, tb, tp, wx, core_ids, tiles[i].key, parking=tl, timer=tile_timer, progress=inner)

        done = 0
        for i, res in _in_threads(run, dispatch, TILE_THREADS if n > 1 else 1):
            results[i] = res
            if on_result is not None:
                on_result(i, results[i])
            done += int(tiles[i].core.size)
            if progress is not None:
                progress("tiles", done, total)
        return results

    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    limit = IN_FLIGHT_PER_THREAD * threads
    wx_box = client.scatter([wx], broadcast=True, hash=False)
    pending = iter(dispatch)
    index_of: dict = {}
    tries: dict[int, int] = {}

    def submit(i):
        # a worker that dies takes the data scattered to it along: a tile whose inputs or task were
        # lost is sent again from here (the driver holds every tile's rows), TILE_TRIES times at most
        tries[i] = tries.get(i, 0) + 1
        tb, tp, tl, core_ids = _tile_inputs(buildings, planes, parking, tiles[i], store is not None)
        try:
            if wx_box[0].status != "finished":  # every copy of the weather went with its workers
                wx_box[:] = client.scatter([wx], broadcast=True, hash=False)
            tb_f, tp_f, tl_f = client.scatter([tb, tp, tl], hash=False)
            task_key = f"pv-survey-tile-{tiles[i].key[0]}_{tiles[i].key[1]}-{time.time_ns()}"
            if store is not None:  # the worker reads the tile's buildings from the scratch store
                fut = client.submit(assess_stored_tile, cfg, store, tiles[i].halo, _reach(tiles[i], halo_m), tp_f,
                                    wx_box[0], core_ids, tiles[i].key, parking=tl_f, pure=False, key=task_key)
            else:
                fut = client.submit(assess_tile, cfg, tb_f, tp_f, wx_box[0], core_ids, tiles[i].key, parking=tl_f,
                                    pure=False, key=task_key)
        except Exception as exc:  # noqa: BLE001 - sending our own frames fails only on the cluster's side
            if tries[i] >= TILE_TRIES:
                raise ClusterError(f"tile {tiles[i].key}: the dask cluster could not take it {TILE_TRIES} times "
                                   f"({type(exc).__name__}: {exc}); the run stopped before the plan and wrote "
                                   "nothing: check the scheduler and workers and run again") from exc
            log.warning("tile %s: a dask worker went away while the tile was sent (%s); sending it again",
                        tiles[i].key, type(exc).__name__)
            time.sleep(0.5)
            return submit(i)
        index_of[fut.key] = i
        return fut

    first = [submit(i) for _, i in zip(range(limit), pending)]
    ac = as_completed(first)
    done = 0
    try:
        for fut in ac:
            i = index_of.pop(fut.key)
            try:
                res = fut.result()
            except PVSurveyError:
                raise
            except Exception as exc:  # noqa: BLE001 - sorted by _lost_worker
                if not _lost_worker(exc) or tries[i] >= TILE_TRIES:
                    raise _cluster_error(tiles[i], exc) from exc
                log.warning("tile %s: its dask worker went away (%s); running the tile again", tiles[i].key,
                            type(exc).__name__)
                ac.add(submit(i))
                continue
            results[i] = res
            fut.release()
            if on_result is not None:
                on_result(i, res)
            for stage, sec in res.timings_s.items():  # summed over the tiles (worker time, not wall time)
                timer.timings_s[stage] = round(timer.timings_s.get(stage, 0.0) + sec, 3)
            done += int(tiles[i].core.size)
            if progress is not None:
                progress("tiles", done, total)
            nxt = next(pending, None)
            if nxt is not None:
                ac.add(submit(nxt))
    except BaseException:
        with ac.lock:  # the client's thread updates the set while results arrive
            in_flight = list(ac.futures)
        for f in in_flight:
            f.cancel()
        raise
    missing = [tiles[i].key for i, r in enumerate(results) if r is None]
    if missing:  # never a plan over part of the area
        raise ClusterError(f"tiles {missing[:5]} came back from no worker; the run stopped before the plan and "
                           "wrote nothing: run it again (without --workers / --scheduler to stay in this process)")
    return results


#: Times a tile is sent to the cluster when its worker goes away with its data (project choice;
#: dask itself re-runs a task whose worker died ``distributed.scheduler.allowed-failures`` times).
TILE_TRIES = 3


def _lost_worker(exc: BaseException) -> bool:
    """A worker (and the data on it) went away: the tile can be sent again. A task that killed its
    workers again and again (KilledWorker) is not retried here."""
    return isinstance(exc, TimeoutError) or type(exc).__name__ in ("CommClosedError", "FutureCancelledError",
                                                                   "CancelledError", "StreamClosedError")


def _cluster_error(tile: Tile, exc: BaseException) -> BaseException:
    """The one-line error of a tile the cluster could not run (other exceptions pass through)."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return ClusterError(
            f"tile {tile.key} ({tile.core.size} buildings): its dask worker died each time it ran the tile (out of "
            "memory or killed); the run stopped before the plan and wrote nothing: give the workers more memory, "
            "use a smaller shading.tile_size_m, or run without --workers")
    if _lost_worker(exc):
        return ClusterError(
            f"tile {tile.key}: the dask cluster lost it {TILE_TRIES} times ({type(exc).__name__}); the run stopped "
            "before the plan and wrote nothing: check the scheduler and workers and run again")
    return exc


#: Columns joined between two hand-backs of freed pages while the tiles' frames are merged (project
#: choice; the roofs have ~40 columns: at 100,000 buildings the merge took 0.3 s with and without them).
_MERGE_TRIM_COLUMNS = 8


def _concat_layer(frames: list[gpd.GeoDataFrame], key: list[np.ndarray], crs: Any) -> gpd.GeoDataFrame:
    """Concatenate one resource's tile frames in the single-piece order given by the sort ``key``.

    ``frames`` is emptied; the tiles' frames are joined column by column, each column dropped from
    them once joined, so a city's table is held about once, not the tiles' frames beside the joined
    table beside its rows put in order.
    """
    parts = [f for f in frames if len(f)] or frames[:1]
    k = np.concatenate([p for f, p in zip(frames, key) if len(f)] or [np.empty(0, np.int64)])
    frames.clear()
    order = np.argsort(k, kind="stable")
    if np.array_equal(order, np.arange(order.size)):
        order = None
    columns = list(parts[0].columns)
    if len(parts) < 2 or any(list(f.columns) != columns for f in parts):  # other columns: pandas aligns them
        out = pd.concat(parts)
        parts.clear()
        return gpd.GeoDataFrame(out if order is None else out.iloc[order], geometry="geometry", crs=crs)
    # column by column, each dropped from the tiles' frames once joined: the tiles' frames and the city's
    # table are then not both held whole (a city's roofs were: 1,000,000 buildings, ~1.3 GB above the rest)
    index = parts[0].index.append([f.index for f in parts[1:]])
    tile_columns = [{c: f[c].array for c in columns} for f in parts]  # the columns, not the frames
    parts.clear()
    data = {}
    for i, c in enumerate(columns):
        col = pd.concat([pd.Series(t.pop(c), copy=False) for t in tile_columns], ignore_index=True)
        data[c] = col.array if order is None else col.array.take(order)
        del col
        if i % _MERGE_TRIM_COLUMNS == _MERGE_TRIM_COLUMNS - 1:
            return_free_pages()  # the tiles' columns freed so far, scattered between live ones
    out = pd.DataFrame(data, index=index if order is None else index.take(order), copy=False)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def _merge(name: str, frames: list[gpd.GeoDataFrame], buildings: gpd.GeoDataFrame, parking) -> gpd.GeoDataFrame:
    """One resource's frames of all tiles, in the order a single piece gives them.

    By the resource's ``merge_by``: sorted building ids (roofs: the roofs stage's order), the
    owner building's input position (a building's facades stay together in its tile), or the
    car park's input position (one row per input car park, by the frame's index).
    """
    from .resources import REGISTRY

    how = REGISTRY[name].merge_by
    if how == "parking":
        return _concat_layer(frames, [parking.index.get_indexer(f.index) for f in frames], frames[0].crs)
    ids = [f["building_id"].to_numpy() for f in frames]
    if how == "building_id":
        order = pd.Index(np.unique(np.concatenate(ids))) if frames else pd.Index([])
    else:
        order = pd.Index(buildings["building_id"].to_numpy())
    out = _concat_layer(frames, [order.get_indexer(i) for i in ids], buildings.crs)
    return out.reset_index(drop=True)


def _merge_layers(results: list[TileResult], buildings: gpd.GeoDataFrame, parking) -> tuple:
    """Roofs and the other resources' frames of all tiles, in the order a single piece gives them.

    The frames are taken out of ``results`` (their ``roofs`` and ``layers`` emptied) as they are merged.
    """
    frames = []
    for r in results:
        frames.append(r.roofs)
        r.roofs = None
    roofs = _merge("roofs", frames, buildings, parking)
    names = list(dict.fromkeys(n for r in results for n in r.layers))
    extra = {}
    for n in names:
        extra[n] = _merge(n, [r.layers.pop(n) for r in results if n in r.layers], buildings, parking)
    return roofs, extra


def run_partitioned(config: Config | None = None, *, out_dir: str | Path | None = None,
                    workers: int | None = None, scheduler: Any = None,
                    tile_size_m: float | None = None, overwrite: bool = False, write: bool = True,
                    progress: Any = None):
    """Run the whole survey tile by tile, in this process or on a dask cluster.

    The one flow of every run (:func:`pv_survey.pipeline.run_survey` calls it): the
    buildings and car parks are cut into square tiles with a halo of the shading search
    radius (one tile when the area is small); each tile's roofs, facades and carports
    come from :func:`assess_tile`; the plan, the accounting and the outputs run once on
    the whole tables. Results do not depend on the tile size or the scheduler; memory
    of a task is bounded by one tile plus its halo.

    Parameters
    ----------
    config : Config, optional
        Scenario; ``None`` = the documented defaults on the embedded demo district.
    out_dir : path, optional
        Output folder; default ``config.outputs.out_dir`` or ``outputs/<survey.name>``.
    workers : int, optional
        Start a ``LocalCluster`` of this many worker processes (one thread each).
    scheduler : str or distributed.Client, optional
        Address of an existing dask scheduler (``tcp://host:8786``), a Client, or
        ``"synchronous"`` (tiles one after the other in this process, the default when
        ``workers`` is not given either).
    tile_size_m : float, optional
        Side of a square tile; default ``config.shading.tile_size_m``. [m]
    overwrite : bool
        Replace existing outputs; without it an existing output is an error.
    write : bool
        Write the output files.
    progress : callable(stage, done, total), optional
        Receives ``("tiles", buildings_done, buildings_total)`` as tiles finish (from 0; the
        buildings of the finished tiles' cores); with one tile in this process also the progress
        of its shading and energy stages.

    Returns
    -------
    SurveyResult

    Raises
    ------
    ConfigError
        Both ``workers`` and ``scheduler``, a bad worker count or tile size, or an unreachable
        scheduler.
    PVSurveyError
        Whatever a stage raises (a tile's error names the tile).
    """
    from .pipeline import (LayoutSpooler, _Timer, finish_survey, quiet_scratch_dataset_warnings, resolve_inputs,
                           start_run)

    quiet_scratch_dataset_warnings()  # before the tile and writer threads start
    cfg = resolve_inputs(config or Config())
    timer = _Timer()
    started = datetime.now(timezone.utc)
    out_path = Path(out_dir or cfg.outputs.out_dir or Path("outputs") / cfg.survey.name)
    halo_m = float(cfg.shading.search_radius_m) + HALO_MARGIN_CELLS * float(cfg.shading.dsm_resolution_m)
    tile_size_m = check_tile_size(cfg.shading.tile_size_m if tile_size_m is None else tile_size_m)
    flux_raster = None
    with dask_client(workers, scheduler) as client:
        buildings, planes, wx, notes, store = start_run(cfg, out_path if write else None, overwrite=overwrite,
                                                        timer=timer)
        if cfg.flux.enabled and write:  # scratch files removed when the run ends, or at exit after a failure
            flux_raster = _flux_raster(cfg, buildings, out_path)
            if flux_raster is None:
                notes.append("flux raster: no building to put on it; flux_annual.tif not written")
        layout = LayoutSpooler(cfg)
        takers = [layout.take] + ([] if flux_raster is None else [_flux_taker(flux_raster)])

        def on_result(key, res):
            for take in takers:
                take(key, res)

        try:
            result = _run_and_merge_tiles(cfg, buildings, planes, wx, notes, store, client, workers,
                                          tile_size_m, halo_m, timer, progress, on_result)
        except BaseException:
            if flux_raster is not None:
                flux_raster.close()
            layout.spool.remove()
            raise
        finally:
            if store is not None:
                store.remove()
    buildings, roofs, extra, notes = result
    if "roofs" not in cfg.resources.kinds:
        # roofs are still assessed (the plan and the accounting are rooftop-led) but say so
        notes.append("resources: roofs were not selected; the rooftop plan is shown for reference")
    if flux_raster is not None:
        notes.append(f"flux raster: {flux_raster.cells:,} roof cells of {cfg.flux.resolution_m:g} m, "
                     f"{flux_raster.lo:,.0f}-{flux_raster.hi:,.0f} kWh/m2 a year in each cell's plane "
                     f"({cfg.flux.n_sectors} horizon sectors)" if flux_raster.cells else
                     "flux raster: no roof cell; flux_annual.tif holds no data")
    try:
        return finish_survey(cfg, buildings, roofs, wx, notes=notes, n_in=len(buildings), timer=timer,
                             started=started, out_path=out_path if write else None, overwrite=overwrite,
                             extra_layers=extra, progress=progress, flux=flux_raster, layout=layout)
    finally:
        if flux_raster is not None:
            flux_raster.close()


def share_footprints(roofs: gpd.GeoDataFrame | None, footprints: np.ndarray, building_ids: pd.Series,
                     core: np.ndarray) -> int:
    """Let a tile's roofs that are their building's whole footprint hold the city table's polygon.

    A tile reads its buildings from the scratch store or gets them pickled on a worker, so its
    flat roofs (``footprint (flat)``: the footprint itself) are copies of polygons the city table
    already holds; replacing each copy that is identical (:func:`shapely.equals_identical`:
    the same type, rings and coordinates, Z included) by the table's object frees the copies.
    On the 1,000,000-building bench city 90 % of the roofs are such copies (the polygons of all
    1,055,037 roofs took 0.40 GB of the driver, measured by dropping them).

    Parameters
    ----------
    roofs : GeoDataFrame or None
        The tile's roofs (``building_id``, geometry); changed in place. None = nothing to do.
    footprints : numpy.ndarray of geometry
        The city table's footprints, by position.
    building_ids : Series
        The city table's ``building_id``, by position.
    core : numpy.ndarray of int
        Positions of the tile's core buildings (every roof's building is among them).

    Returns
    -------
    int
        Roofs that now share their building's polygon.
    """
    if roofs is None or len(roofs) == 0 or core.size == 0:
        return 0
    at = key_positions(building_ids.iloc[core], roofs["building_id"])  # Arrow look-up when the ids are Arrow text
    theirs = footprints[core[np.maximum(at, 0)]]
    mine = roofs.geometry.to_numpy()
    same = (at >= 0) & shapely.equals_identical(mine, theirs)
    if same.any():
        roofs[roofs.geometry.name] = gpd.array.from_shapely(np.where(same, theirs, mine), crs=roofs.crs)
    return int(same.sum())


def _flux_raster(cfg: Config, buildings: gpd.GeoDataFrame, out_path: Path) -> Any:
    """The run's empty flux raster over every building (None without one), scratch files in ``out_path``."""
    from .flux import grid_window
    from .outputs.flux_raster import FluxRaster

    geoms = buildings.geometry
    present = ~(geoms.isna() | geoms.is_empty)
    if not present.any():
        return None
    transform, shape = grid_window(tuple(geoms[present].total_bounds), cfg.flux.resolution_m)
    return FluxRaster(out_path, transform=transform, shape=shape, crs=cfg.survey.metric_crs,
                      monthly=cfg.flux.monthly)


def _flux_taker(raster: Any):
    def take(key: int, result: TileResult) -> None:
        raster.add(result.flux)
        result.flux = None  # one tile's cells in the driver at a time
    return take


def _run_and_merge_tiles(cfg, buildings, planes, wx, notes, store, client, workers, tile_size_m, halo_m,
                         timer, progress, on_result=None):
    """Plan the tiles, run them and merge their layers: ``(buildings, roofs, other layers, notes)``
    (``on_result(tile position, result)`` takes each tile's module layout and flux cells as it arrives)."""
    from . import pipeline
    from .pipeline import load_parking

    parking = load_parking(cfg)
    if parking is not None and "carport_id" not in parking:
        # ids by position among all car parks, whatever tile a car park falls in
        parking = parking.assign(carport_id=[f"CP{i + 1}" for i in range(len(parking))])
    usable = buildings["excluded_reason"].fillna("").to_numpy() == ""
    with timer.stage("tiles"):
        tiles = plan_tiles(buildings.geometry, usable, tile_size_m=tile_size_m, halo_m=halo_m,
                           parking=None if parking is None else parking.geometry)
        where = "in this process" if client is None else f"on {len(client.nthreads())} dask workers"
        log.info("%d tiles of %.0f m (halo %.0f m) %s", len(tiles), tile_size_m, halo_m, where)
        if not tiles:  # no usable building nor car park: one empty tile says what is left
            tiles = [Tile(key=(0, 0), core=np.empty(0, np.int64), halo=np.arange(len(buildings)),
                          bounds=tuple(buildings.total_bounds))]
        # tiles read the scratch store of a file read in windows, in this process or on a local cluster
        # (workers of an existing cluster may not see this machine's temporary folder: they get slices)
        use_store = store if store is not None and (client is None or workers is not None) \
            and tiles[0].core.size + tiles[0].parking.size > 0 else None
        footprints = buildings.geometry.to_numpy()

        def take(i, res):
            share_footprints(res.roofs, footprints, buildings["building_id"], tiles[i].core)
            if on_result is not None:
                on_result(i, res)

        out = _run_tiles(cfg, buildings, planes, parking, wx, tiles, client, progress, timer, take, use_store,
                         halo_m)
        roofs, extra = _merge_layers(out, buildings, parking)
        filled = sum(r.dsm_filled_cells for r in out)
        del out  # the tile frames are freed as soon as they are concatenated
        pipeline.release_freed_memory()
        if filled and cfg.inputs.dsm:
            fill = "ground (the DEM)" if cfg.inputs.dem else "the lowest valid height of the window"
            counted = "" if len(tiles) == 1 else " (counted per tile; halos overlap)"
            notes.append(f"{cfg.inputs.dsm}: {filled:,} DSM cells had no data{counted}; filled with {fill}")
    if len(tiles) > 1 or client is not None:
        n_halo = sum(t.halo.size for t in tiles)
        notes.append(f"tiled run: {len(tiles)} tiles of {tile_size_m:.0f} m with a {halo_m:.0f} m halo "
                     f"({n_halo - int(usable.sum())} halo building copies), {where}")
    return buildings, roofs, extra, notes
