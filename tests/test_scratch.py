"""Scratch folders carry their process id; a new one sweeps those of ended processes (a killed run's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import shapely

from pv_survey.inputs.store import BuildingStore
from pv_survey.outputs.spool import LayerSpool
from pv_survey.scratch import remove_stale_scratch, scratch_dir


def _ended_pid() -> int:
    """The id of a process that has run and ended (no process has it now, barring reuse)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _leftover(base: Path, kind: str, pid: int) -> Path:
    d = base / f"pv-survey-{kind}-{pid}-abc123"
    d.mkdir()
    (d / "modules-0000000.parquet").write_bytes(b"part of a killed run")
    return d


def test_a_new_scratch_folder_sweeps_the_ended_processes_folders_of_its_kind(tmp_path):
    dead = _ended_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = _leftover(tmp_path, "spool", dead)
        running = _leftover(tmp_path, "spool", sleeper.pid)
        mine = _leftover(tmp_path, "spool", os.getpid())
        other_kind = _leftover(tmp_path, "gpkg", dead)
        old_style = tmp_path / "pv-survey-spool-02t_nmdw"  # an earlier version's name: no process id
        old_style.mkdir()
        a_file = tmp_path / f"pv-survey-spool-{dead}-file"
        a_file.write_text("not a folder")
        new = scratch_dir("spool", tmp_path)
        assert new.is_dir() and new.name.startswith(f"pv-survey-spool-{os.getpid()}-")
        assert not gone.exists()
        for kept in (running, mine, other_kind, old_style, a_file):
            assert kept.exists(), kept.name
        assert remove_stale_scratch(tmp_path, "gpkg") == [other_kind] and not other_kind.exists()
        assert remove_stale_scratch(tmp_path / "missing", "spool") == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_spool_and_store_sweep_what_a_killed_run_left(tmp_path):
    """The run's scratch makers name their folders by process id and clear a killed run's."""
    dead = _ended_pid()
    spool_left, store_left = _leftover(tmp_path, "spool", dead), _leftover(tmp_path, "buildings", dead)
    spool = LayerSpool(tmp_path)
    assert spool.dir.name.startswith(f"pv-survey-spool-{os.getpid()}-") and not spool_left.exists()
    store = BuildingStore.create(tmp_path)
    assert store.path.parent.name.startswith(f"pv-survey-buildings-{os.getpid()}-") and not store_left.exists()
    store.add(gpd.GeoDataFrame({"building_id": ["B1"]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:4547"))
    store.close()
    store.remove()
    spool.remove()
    assert list(tmp_path.iterdir()) == []
