"""A dask worker killed in the middle of a partitioned run (issue 18, item 2).

A real two-worker ``LocalCluster`` (the cluster ``--workers 2`` starts, here owned by the test so
it can find the workers' processes) runs a survey cut into several tiles. While a tile is being
processed, its worker process gets SIGKILL:

* with dask's default ``allowed-failures`` the scheduler runs the tile again on a live worker
  and the run ends with the roofs of the run in this process, row for row: no tile is missing;
* with ``allowed-failures = 0`` the lost tile is not retried and the run stops with one
  :class:`~pv_survey.errors.ClusterError` naming the tile, before the plan, writing nothing.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import numpy as np
import pytest
import shapely
import geopandas as gpd

import _badinputs as bi
from pv_survey.config import Config
from pv_survey.errors import ClusterError
from pv_survey.pipeline import run_survey

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")

#: Tile side for the scene below: four clusters of boxes 1 km apart fall in four tiles or more. [m]
TILE_M = 500.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Four clusters of six boxes, 1 km apart (at least four tiles of 500 m), and their roofs run in this process."""
    d = tmp_path_factory.mktemp("dask")
    frames = []
    for k, (dx, dy) in enumerate([(0, 0), (1000, 0), (0, 1000), (1000, 1000)]):
        f = bi.base_frame()
        f["building_id"] = [f"T{k}-{b}" for b in f["building_id"]]
        f = f.set_geometry(gpd.GeoSeries(shapely.transform(f.geometry.to_numpy(), lambda c: c + [dx, dy]),
                                         crs="EPSG:4547"))
        frames.append(f)
    p = d / "four.gpkg"
    gpd.GeoDataFrame(__import__("pandas").concat(frames, ignore_index=True), crs="EPSG:4547").to_file(
        p, layer="buildings", driver="GPKG")
    cfg = Config().replace(inputs={"buildings": str(p)}, survey={"name": "dask-faults"})
    ref = run_survey(cfg, write=False, tile_size_m=TILE_M)
    n_tiles = int(re.search(r"tiled run: (\d+) tiles", " ".join(ref.summary["notes"]))[1])
    assert n_tiles >= 4  # four clusters, each in one tile or two (tiles cut at multiples of 500 m)
    return cfg, ref.roofs


def _kill_a_worker_running_a_tile(client, done: threading.Event) -> dict:
    """Start a thread that SIGKILLs the worker process of the first tile seen processing."""
    pids = client.run(os.getpid)  # worker address -> pid of its process
    seen: dict = {}

    def watch():
        deadline = time.monotonic() + 300
        while not done.is_set() and time.monotonic() < deadline:
            for addr, keys in client.processing().items():
                tiles = [k for k in keys if str(k).startswith("pv-survey-tile-")]
                if tiles and addr in pids:
                    os.kill(pids[addr], signal.SIGKILL)
                    seen.update(addr=addr, keys=tiles)
                    return
            time.sleep(0.01)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    seen["thread"] = t
    return seen


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


def test_tile_of_a_killed_worker_is_retried(scene, tmp_path):
    cfg, ref_roofs = scene
    out = tmp_path / "out"
    done = threading.Event()
    with _cluster() as cluster, distributed.Client(cluster) as client:
        seen = _kill_a_worker_running_a_tile(client, done)
        try:
            res = run_survey(cfg, out_dir=out, scheduler=client, tile_size_m=TILE_M)
        finally:
            done.set()
            seen["thread"].join(30)
    assert seen.get("keys"), "no tile was seen processing: the kill never happened"
    # every roof of every tile, with the numbers of the run in this process
    assert res.roofs["roof_id"].tolist() == ref_roofs["roof_id"].tolist()
    for col in ("annual_kwh", "capacity_kwp", "shading_loss_frac"):
        np.testing.assert_allclose(res.roofs[col].to_numpy(float), ref_roofs[col].to_numpy(float), rtol=1e-9,
                                   equal_nan=True, err_msg=col)
    assert (out / "manifest.json").is_file()


def test_tile_lost_for_good_stops_the_run_cleanly(scene, tmp_path):
    import dask

    cfg, _ = scene
    out = tmp_path / "out"
    done = threading.Event()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with _cluster() as cluster, distributed.Client(cluster) as client:
            seen = _kill_a_worker_running_a_tile(client, done)
            try:
                with pytest.raises(ClusterError) as info:
                    run_survey(cfg, out_dir=out, scheduler=client, tile_size_m=TILE_M)
            finally:
                done.set()
                seen["thread"].join(30)
    msg = str(info.value)
    assert seen.get("keys")
    assert msg.startswith("tile (") and "its dask worker died" in msg and "wrote nothing" in msg
    assert "\n" not in msg
    assert not out.exists()  # the run created the folder and removed it again: nothing written
