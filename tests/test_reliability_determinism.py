"""Determinism (issue 9, item 3): the same inputs and config give identical outputs, run after run.

Two runs of the same small district, each in its own process with a different
``PYTHONHASHSEED`` (so nothing may depend on set or dict-of-str ordering), must agree:

* survey.gpkg: every layer identical (features, fids, attributes, geometries; the QGIS
  ``layer_styles`` apart from its update time) -- the file's bytes differ only by the run's
  timestamp, which test_outputs.py shows by writing twice with one manifest;
* every CSV and the chart byte for byte;
* summary.md apart from the timings line, report.html apart from its generation stamp;
* manifest.json apart from the start / finish times, the timings and the hashes of the three
  files that carry them (survey.gpkg, summary.md, report.html).

(Partitioned versus single-process runs are compared in test_partition.py.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
import shapely.affinity

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "tianhe_demo_buildings.gpkg"

_TIMINGS_RE = re.compile(r"^Timings / .*$", re.M)
_STAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
#: Files that carry the run's time (GeoPackage timestamps, summary timings, report stamp).
TIMED = {"survey.gpkg", "summary.md", "report.html"}


def _district(path: Path) -> Path:
    """60 demo buildings, 10 further pitched ones, a repeated id and a bow-tie footprint (a repair each)."""
    g = gpd.read_file(DEMO)
    rest = g.iloc[60:]
    part = pd.concat([g.iloc[:60], rest[rest["roof_type"] == "pitched"].iloc[:10]], ignore_index=True)
    extra = part.iloc[[0, 1]].copy()
    extra["building_id"] = [part["building_id"].iloc[0], "BOWTIE"]  # the first repeats building 0's id
    x0, y0, x1, y1 = part.geometry.iloc[5].bounds
    extra["geometry"] = [shapely.affinity.translate(part.geometry.iloc[0], 0.0004, 0.0),  # 40 m east [deg]
                         shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])]
    gpd.GeoDataFrame(pd.concat([part, extra], ignore_index=True), crs=g.crs).to_file(path, layer="buildings")
    return path


def _run(buildings: Path, out: Path, seed: int) -> None:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    env.pop("SOURCE_DATE_EPOCH", None)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "-q", "run", "--buildings", str(buildings),
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("determinism")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL: mixed geometry types in the extra rows
        buildings = _district(d / "district.gpkg")
    a, b = d / "run_a", d / "run_b"
    _run(buildings, a, seed=1)
    _run(buildings, b, seed=2)
    return a, b


def test_same_files(two_runs):
    a, b = two_runs
    assert sorted(os.listdir(a)) == sorted(os.listdir(b))
    assert any(n.endswith(".csv") for n in os.listdir(a))


def test_geopackage_layers_identical(two_runs):
    a, b = two_runs
    la = [str(n) for n, _ in pyogrio.list_layers(a / "survey.gpkg")]
    assert la == [str(n) for n, _ in pyogrio.list_layers(b / "survey.gpkg")]
    assert {"buildings", "roofs", "plan", "targets"} <= set(la)
    for name in la:
        fa = pyogrio.read_dataframe(a / "survey.gpkg", layer=name, fid_as_index=True)
        fb = pyogrio.read_dataframe(b / "survey.gpkg", layer=name, fid_as_index=True)
        if name == "layer_styles":
            fa, fb = fa.drop(columns="update_time"), fb.drop(columns="update_time")
        if isinstance(fa, gpd.GeoDataFrame):
            assert fa.geometry.to_wkb().equals(fb.geometry.to_wkb()), name
            fa, fb = pd.DataFrame(fa.drop(columns="geometry")), pd.DataFrame(fb.drop(columns="geometry"))
        pd.testing.assert_frame_equal(fa, fb, check_exact=True, obj=name)


def test_buildings_layer_holds_every_input_row(two_runs):
    a, _ = two_runs
    b = pyogrio.read_dataframe(a / "survey.gpkg", layer="buildings")
    assert len(b) == 72  # 60 + 10 + 2 extra rows (one repeated id, one bow-tie), none lost
    assert b["building_id"].is_unique


def test_other_files_identical(two_runs):
    a, b = two_runs
    for p in sorted(a.iterdir()):
        q = b / p.name
        if p.name == "summary.md":
            assert _TIMINGS_RE.sub("", p.read_text("utf-8")) == _TIMINGS_RE.sub("", q.read_text("utf-8"))
        elif p.name == "report.html":
            assert _STAMP_RE.sub("", p.read_text(encoding="utf-8")) == _STAMP_RE.sub("", q.read_text(encoding="utf-8"))
        elif p.name not in ("survey.gpkg", "manifest.json"):
            assert p.read_bytes() == q.read_bytes(), p.name


def test_manifest_identical_apart_from_times(two_runs):
    a, b = two_runs
    ma, mb = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (a, b))
    for m in (ma, mb):
        for key in ("started_utc", "finished_utc", "timings_s"):
            m.pop(key)
        for name in TIMED:
            m["outputs"].pop(name)
    assert ma == mb
    assert any(n.endswith(".csv") for n in ma["outputs"])  # the CSVs' hashes are compared too


@pytest.fixture(scope="module")
def two_runs_fixed_date(tmp_path_factory):
    """Two runs with SOURCE_DATE_EPOCH set (reproducible-builds convention) and different hash seeds."""
    d = tmp_path_factory.mktemp("determinism_fixed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        buildings = _district(d / "district.gpkg")
    outs = []
    for seed, name in ((3, "run_a"), (4, "run_b")):
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "SOURCE_DATE_EPOCH": "1730000000"}
        proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "-q", "run", "--buildings", str(buildings),
                               "--out", str(d / name)], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(d / name)
    return outs


def test_byte_identical_with_source_date_epoch(two_runs_fixed_date):
    """With SOURCE_DATE_EPOCH every file but manifest.json is byte for byte the same; the manifest
    differs only in its start / finish times and per-stage timings (issue 9, item 3)."""
    a, b = two_runs_fixed_date
    for p in sorted(a.iterdir()):
        if p.name != "manifest.json":
            assert p.read_bytes() == (b / p.name).read_bytes(), p.name
    ma, mb = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (a, b))
    for m in (ma, mb):
        for key in ("started_utc", "finished_utc", "timings_s"):
            m.pop(key)
    assert ma == mb
