"""Partitioned survey: square tiles with a shading halo, run as dask.distributed tasks.

A large area is cut into square tiles by building centroid (:func:`plan_tiles`). Each tile's
roofs, shading and energy come from :func:`pv_survey.pipeline.assess_roofs` on the tile's
*core* buildings plus a *halo*: every usable building whose bounding box comes within
``shading.search_radius_m`` plus a margin of the core's bounding box. The halo buildings cast
shade but get no roofs, so each tile's DSM covers every cell the core's horizon rays can reach,
and each roof is computed exactly once. The roof tables of the tiles are concatenated and put in
the single-process order (building_id, then the order of the roofs stage), and the plan, the
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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from .config import Config
from .errors import ConfigError, PVSurveyError

log = logging.getLogger("pv_survey")

__all__ = ["Tile", "plan_tiles", "run_partitioned", "assess_tile", "check_tile_size", "dask_client",
           "DEFAULT_TILE_SIZE_M", "HALO_MARGIN_CELLS"]

#: Default tile side [m]: with the default 300 m search radius a 2 km tile's DSM is 2.7 km square,
#: so the halo adds about 80 % cells (vs 180 % for 1 km tiles) and one tile's rasters stay near
#: 100 MB (project choice; same default as ``shading.iter_roof_tiles``).
DEFAULT_TILE_SIZE_M = 2000.0
#: Margin added to the search radius around a tile, in DSM cells: two blocks of the coarsest
#: pyramid level of the horizon ray march (``shading.PYRAMID_BLOCK_CELLS`` = 32 cells). The tile's
#: DSM is snapped outward to whole blocks (``pipeline.build_dsm``), up to one block past the search
#: radius; every cell of it must hold the same buildings as the whole-area DSM (project choice).
HALO_MARGIN_CELLS = 64
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
    """One tile of a partitioned run.

    Attributes
    ----------
    key : tuple of int
        (column, row) of the tile in the grid of ``tile_size_m`` squares (column = floor(x / size)).
    core : numpy.ndarray
        Positions (``iloc``) of the buildings whose centroid falls in the tile, ascending.
    halo : numpy.ndarray
        Positions of every building the tile's assessment needs (core included), ascending.
    bounds : tuple of float
        (min x, min y, max x, max y) of the core buildings' bounding boxes. [m]
    """

    key: tuple[int, int]
    core: np.ndarray
    halo: np.ndarray
    bounds: tuple[float, float, float, float]


def plan_tiles(geometry: Any, usable: Any, *, tile_size_m: float, halo_m: float) -> list[Tile]:
    """Group buildings into square tiles by centroid and find each tile's halo.

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
    ok = np.asarray(usable, dtype=bool) & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return []
    g = geoms[idx]
    bb = shapely.bounds(g)
    cen = shapely.centroid(g)
    tx = np.floor(shapely.get_x(cen) / tile_size_m).astype(np.int64)
    ty = np.floor(shapely.get_y(cen) / tile_size_m).astype(np.int64)
    order = np.lexsort((idx, tx, -ty))  # north to south, west to east, then input order
    keys = np.stack([tx[order], ty[order]], axis=1)
    cut = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    tree = shapely.STRtree(g)
    tiles = []
    for part in np.split(order, cut):
        b = bb[part]
        bounds = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
        reach = shapely.box(bounds[0] - halo_m, bounds[1] - halo_m, bounds[2] + halo_m, bounds[3] + halo_m)
        near = tree.query(reach)  # bounding boxes intersecting: a superset of what can cast shade
        tiles.append(Tile(key=(int(tx[part[0]]), int(ty[part[0]])), core=np.sort(idx[part]),
                          halo=np.sort(idx[np.union1d(near, part)]), bounds=bounds))
    return tiles


def _set_worker_threads() -> None:
    """Let numba use the cores of this dask worker only (threads_per_worker), not all of the machine."""
    try:
        from distributed import get_worker

        nthreads = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return  # not inside a dask worker: keep numba's default
    import numba

    numba.set_num_threads(max(1, min(nthreads, numba.config.NUMBA_NUM_THREADS)))


def assess_tile(cfg: Config, buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None, wx: Any,
                core_ids: np.ndarray, key: tuple[int, int]) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """One task: :func:`pv_survey.pipeline.assess_roofs` on a tile's core and halo.

    Returns the roofs of the core buildings and the tile's stage timings [s]. A
    :class:`~pv_survey.errors.PVSurveyError` is re-raised with the tile's key in its message.
    """
    from .pipeline import _Timer, assess_roofs

    _set_worker_threads()
    timer = _Timer()
    try:
        roofs = assess_roofs(cfg, buildings, planes, wx, core_ids=core_ids, timer=timer)
    except PVSurveyError as exc:
        try:
            wrapped = type(exc)(f"tile {key} ({len(core_ids)} buildings): {exc}")
        except Exception:  # an error class with another signature: keep the original
            raise exc from None
        raise wrapped from None
    return roofs, dict(timer.timings_s)


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
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"scheduler {scheduler}: cannot connect ({exc}); start one with "
                              "`dask scheduler` and `dask worker ADDRESS`, or use --workers N") from None
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


def _tile_inputs(buildings: gpd.GeoDataFrame, planes: gpd.GeoDataFrame | None, tile: Tile):
    tb = buildings.iloc[tile.halo]
    core_ids = buildings["building_id"].to_numpy()[tile.core]
    tp = None
    if planes is not None:
        tp = planes[planes["building_id"].isin(core_ids)]
    return tb, tp, core_ids


def _run_tiles(cfg, buildings, planes, wx, tiles, client, progress) -> list:
    """Roof frames of every tile, in tile order; tiles are dispatched largest first."""
    n = len(tiles)
    results: list = [None] * n
    # largest tiles first: the last tasks to finish are small ones, so the workers end together
    dispatch = sorted(range(n), key=lambda i: (-tiles[i].core.size, i))
    if progress is not None:
        progress("tiles", 0, n)
    if client is None:
        for done, i in enumerate(dispatch, start=1):
            tb, tp, core_ids = _tile_inputs(buildings, planes, tiles[i])
            results[i] = assess_tile(cfg, tb, tp, wx, core_ids, tiles[i].key)
            if progress is not None:
                progress("tiles", done, n)
        return results

    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    limit = IN_FLIGHT_PER_THREAD * threads
    [wx_f] = client.scatter([wx], broadcast=True, hash=False)
    pending = iter(dispatch)
    index_of = {}

    def submit(i):
        tb, tp, core_ids = _tile_inputs(buildings, planes, tiles[i])
        tb_f, tp_f = client.scatter([tb, tp], hash=False)
        fut = client.submit(assess_tile, cfg, tb_f, tp_f, wx_f, core_ids, tiles[i].key, pure=False,
                            key=f"pv-survey-tile-{tiles[i].key[0]}_{tiles[i].key[1]}-{time.time_ns()}")
        index_of[fut.key] = i
        return fut

    first = [submit(i) for _, i in zip(range(limit), pending)]
    ac = as_completed(first)
    done = 0
    try:
        for fut in ac:
            results[index_of[fut.key]] = fut.result()
            fut.release()
            done += 1
            if progress is not None:
                progress("tiles", done, n)
            nxt = next(pending, None)
            if nxt is not None:
                ac.add(submit(nxt))
    except BaseException:
        for f in ac.futures:
            f.cancel()
        raise
    return results


def _concat_roofs(frames: list[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    """Concatenate tile roofs in the single-process order: building_id, then the roofs stage's order."""
    parts = [f for f in frames if len(f)] or frames[:1]
    roofs = pd.concat(parts, ignore_index=True)
    roofs = roofs.sort_values("building_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(roofs, geometry="geometry", crs=crs)


def run_partitioned(config: Config | None = None, *, out_dir: str | Path | None = None,
                    workers: int | None = None, scheduler: Any = None,
                    tile_size_m: float = DEFAULT_TILE_SIZE_M, overwrite: bool = False, write: bool = True,
                    progress: Any = None):
    """Run the whole survey tile by tile, on a dask cluster or in this process.

    Gives the same roofs, plan and outputs as :func:`pv_survey.pipeline.run_survey` (same
    per-roof results), with memory per task bounded by one tile and its halo.

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
    tile_size_m : float
        Side of a square tile. [m]
    overwrite : bool
        Replace existing outputs; without it an existing output is an error.
    write : bool
        Write the output files.
    progress : callable(stage, done, total), optional
        Receives ``("tiles", tiles_done, tiles_total)`` as tiles finish (``tiles_done`` from 0).

    Returns
    -------
    SurveyResult

    Raises
    ------
    ConfigError
        Both ``workers`` and ``scheduler``, a bad worker count or tile size, an unreachable
        scheduler, or facades / carports asked for (``resources.kinds``): partitioned runs
        survey roofs only.
    PVSurveyError
        Whatever a stage raises (a tile's error names the tile).
    """
    from .pipeline import _Timer, finish_survey, resolve_inputs, start_run

    cfg = resolve_inputs(config or Config())
    others = [k for k in cfg.resources.kinds if k != "roofs"]
    if others:
        raise ConfigError(f"resources.kinds = {list(cfg.resources.kinds)}: a partitioned run (--workers / "
                          f"--scheduler) surveys roofs only, not {', '.join(others)}; run without --workers, "
                          "or set resources.kinds = ['roofs']")
    timer = _Timer()
    started = datetime.now(timezone.utc)
    out_path = Path(out_dir or cfg.outputs.out_dir or Path("outputs") / cfg.survey.name)
    halo_m = float(cfg.shading.search_radius_m) + HALO_MARGIN_CELLS * float(cfg.shading.dsm_resolution_m)
    tile_size_m = check_tile_size(tile_size_m)
    with dask_client(workers, scheduler) as client:
        buildings, planes, wx, notes = start_run(cfg, out_path if write else None, overwrite=overwrite,
                                                 timer=timer)
        usable = buildings["excluded_reason"].fillna("").to_numpy() == ""
        with timer.stage("tiles"):
            tiles = plan_tiles(buildings.geometry, usable, tile_size_m=tile_size_m, halo_m=halo_m)
            where = "in this process" if client is None else f"on {len(client.nthreads())} dask workers"
            log.info("%d tiles of %.0f m (halo %.0f m) %s", len(tiles), tile_size_m, halo_m, where)
            if tiles:
                out = _run_tiles(cfg, buildings, planes, wx, tiles, client, progress)
                for _, t in out:
                    for stage, sec in t.items():
                        key = f"{stage}_sum_over_tiles"
                        timer.timings_s[key] = round(timer.timings_s.get(key, 0.0) + sec, 3)
                frames = [r for r, _ in out]
                del out  # the tile frames are freed as soon as they are concatenated
                roofs = _concat_roofs(frames, buildings.crs)
                del frames
            else:  # nothing usable: the single-process step says what is wrong
                from .pipeline import assess_roofs
                roofs = assess_roofs(cfg, buildings, planes, wx, timer=timer)
        n_halo = sum(t.halo.size for t in tiles)
        notes.append(f"partitioned run: {len(tiles)} tiles of {tile_size_m:.0f} m with a {halo_m:.0f} m halo "
                     f"({n_halo - int(usable.sum())} halo building copies), {where}")
    return finish_survey(cfg, buildings, roofs, wx, notes=notes, n_in=len(buildings), timer=timer,
                         started=started, out_path=out_path if write else None, overwrite=overwrite,
                         progress=progress)


