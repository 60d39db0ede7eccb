"""Atomic outputs under SIGKILL, and the never-overwrite-silently rule (issue 9, item 2).

A small survey is run as a user runs it (``python cli.py run``, its own process) and killed
with SIGKILL at seeded random moments spread over the run's measured duration, plus moments
chosen while its output files are being staged, and once in the middle of the final renames.
After every kill, any file present under its final name must be complete: it must equal the
file of an uninterrupted reference run (the outputs are deterministic, see
test_reliability_determinism.py) -- the GeoPackage opens with every layer and the reference
counts and content, CSVs and the chart byte for byte, summary.md and report.html apart from
timings and the generation stamp -- and a manifest.json present must parse and hash every file
it lists exactly. Then the next run (with --overwrite when outputs exist) completes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest

import _badinputs as bi
from pv_survey.outputs.atomic import existing_outputs

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240901
N_SPREAD_KILLS = 6  # kill moments spread over the run's duration
N_STAGING_KILLS = 2  # kill moments while output files are being staged

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")


def _cmd(buildings: Path, out: Path, *, overwrite: bool) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "-q", "run", "--buildings", str(buildings), "--out", str(out),
            *(["--overwrite"] if overwrite else [])]


def _run(buildings: Path, out: Path, *, overwrite: bool) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(buildings, out, overwrite=overwrite), capture_output=True, text=True, timeout=180)


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


_TIMINGS_RE = re.compile(r"^Timings / .*$", re.M)
_STAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def _gpkg_content(path: Path) -> dict:
    layers = {str(name): None for name, _ in pyogrio.list_layers(path)}
    for name in layers:
        if name == "layer_styles":
            continue
        df = pyogrio.read_dataframe(path, layer=name, read_geometry=True, fid_as_index=True)
        layers[name] = df.to_wkb() if hasattr(df, "to_wkb") else df
    return layers


def _same_gpkg(path: Path, ref: Path) -> None:
    got, want = _gpkg_content(path), _gpkg_content(ref)
    assert got.keys() == want.keys(), f"{path.name}: layers {sorted(got)} != {sorted(want)}"
    for name, frame in want.items():
        if frame is None:
            continue
        assert len(got[name]) == len(frame), f"{path.name}:{name}: {len(got[name])} rows, want {len(frame)}"
        assert got[name].equals(frame), f"{path.name}:{name}: content differs from the reference"


def assert_nothing_looks_complete_but_is_not(out: Path, ref: Path) -> list[str]:
    """Check every output present under its final name; return their names."""
    names = []
    for p in existing_outputs(out):
        name = p.name
        names.append(name)
        r = ref / name
        if name == "survey.gpkg":
            _same_gpkg(p, r)
        elif name == "manifest.json":
            m = json.loads(p.read_text(encoding="utf-8"))
            for listed, meta in m["outputs"].items():
                f = out / listed
                assert f.is_file(), f"manifest lists {listed}, which is missing"
                assert _sha256(f) == meta["sha256"] and f.stat().st_size == meta["bytes"], \
                    f"manifest hash of {listed} does not match the file"
        elif name == "summary.md":
            assert _TIMINGS_RE.sub("", p.read_text("utf-8")) == _TIMINGS_RE.sub("", r.read_text("utf-8"))
        elif name == "report.html":
            assert _STAMP_RE.sub("", p.read_text(encoding="utf-8")) == _STAMP_RE.sub("", r.read_text(encoding="utf-8"))
        else:  # CSV shortlists, the chart
            assert p.read_bytes() == r.read_bytes(), f"{name} differs from the reference"
    return names


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of twelve boxes: its outputs and its wall time [s]."""
    d = tmp_path_factory.mktemp("atomic")
    buildings = d / "b.gpkg"
    bi.base_frame(12).to_file(buildings, layer="buildings", driver="GPKG")
    ref = d / "ref"
    proc = _run(buildings, ref, overwrite=False)  # may compile and cache numba kernels: not timed
    assert proc.returncode == 0, proc.stderr
    assert (ref / "manifest.json").is_file()
    t0 = time.perf_counter()
    assert _run(buildings, d / "timed", overwrite=False).returncode == 0
    wall_s = time.perf_counter() - t0
    return buildings, ref, wall_s


def _kill_at(buildings: Path, out: Path, *, overwrite: bool, delay_s: float | None, staging: bool = False,
             rng: random.Random | None = None) -> int | None:
    """Start a run, SIGKILL it after ``delay_s`` (or once a staged temp file appears); its return code."""
    proc = subprocess.Popen(_cmd(buildings, out, overwrite=overwrite), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        if staging:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if out.is_dir() and any(p.name.startswith(".") and ".tmp-" in p.name for p in out.iterdir()):
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.6))
        else:
            time.sleep(delay_s)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assertion above failed
            proc.kill()
            proc.wait()


def _main_in_process(argv: list[str]) -> int:
    """Exit code of ``pv_survey.cli.main(argv)`` run in this process (root logging restored after)."""
    from pv_survey.cli import main

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        main(argv)
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _prefill(out: Path, ref: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in ref.iterdir():
        shutil.copy2(p, out / p.name)


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_nothing_half_written(reference, tmp_path):
    buildings, ref, wall_s = reference
    rng = random.Random(SEED)
    # stratified: one moment in each of N equal slices of the run, so early and late moments are both hit
    moments = [wall_s * (0.05 + 0.95 * (k + rng.random()) / N_SPREAD_KILLS) for k in range(N_SPREAD_KILLS)]
    plan = [(m, False) for m in moments] + [(None, True)] * N_STAGING_KILLS
    killed = 0
    for k, (moment, staging) in enumerate(plan):
        out = tmp_path / f"kill{k}"
        previous = k % 2 == 1  # every other kill hits a folder holding a previous complete run
        for _attempt in range(3):
            if previous:
                _prefill(out, ref)
            code = _kill_at(buildings, out, overwrite=previous, delay_s=moment, staging=staging, rng=rng)
            if code == -signal.SIGKILL or moment is None:
                break
            # the run finished before the moment (a busy machine made the reference run slower than
            # this one): start again from the same folder state, killing earlier in the run
            shutil.rmtree(out, ignore_errors=True)
            moment *= 0.5
        killed += code == -signal.SIGKILL
        present = assert_nothing_looks_complete_but_is_not(out, ref) if out.exists() else []
        temps = [p.name for p in out.iterdir() if ".tmp-" in p.name] if out.exists() else []
        print(f"kill {k}: at {moment if moment is not None else 'staging'} s, code {code}, "
              f"{len(present)} outputs, {len(temps)} temp files")
        # the next run completes (in this process, to keep the test short): --overwrite when the
        # killed run left (or found) outputs
        assert _main_in_process(["-q", "run", "--buildings", str(buildings), "--out", str(out),
                                 *(["--overwrite"] if present else [])]) == 0, f"kill {k}: the next run failed"
        assert assert_nothing_looks_complete_but_is_not(out, ref) == sorted(p.name for p in existing_outputs(ref))
        assert not [p.name for p in out.iterdir() if ".tmp-" in p.name], "temporary files left behind"
    assert killed >= N_SPREAD_KILLS  # the moments fell inside the runs (else the test proves nothing)


KILL_DURING_COMMIT = """
import os, signal, sys, types
from pv_survey.outputs import atomic

count = [0]

def replace_then_die(src, dst):
    count[0] += 1
    if count[0] > int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace(src, dst)

# only the output module's renames die (numba's cache, say, also renames files)
proxy = types.ModuleType("os")
proxy.__dict__.update(os.__dict__)
proxy.replace = replace_then_die
atomic.os = proxy
from pv_survey.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("n_renamed", [0, 3])
def test_sigkill_between_the_final_renames(reference, tmp_path, n_renamed):
    """Killed after some of a run's files replaced the previous run's: no manifest vouches for the mix."""
    buildings, ref, _ = reference
    out = tmp_path / "out"
    _prefill(out, ref)
    stale = out / "shortlist_2025.csv"  # a shortlist of an earlier run that this run does not write
    stale.write_bytes((ref / "shortlist.csv").read_bytes())
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_COMMIT, str(n_renamed), "-q", "run", "--buildings",
                           str(buildings), "--out", str(out), "--overwrite"], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == -signal.SIGKILL
    present = assert_nothing_looks_complete_but_is_not(out, ref)
    assert "manifest.json" not in present  # the old seal went first, the new one never came
    assert not stale.exists()  # removed with the old seal, before any file was replaced
    assert _run(buildings, out, overwrite=True).returncode == 0
    assert "manifest.json" in assert_nothing_looks_complete_but_is_not(out, ref)


def test_existing_outputs_are_not_overwritten_without_overwrite(reference, tmp_path):
    buildings, ref, _ = reference
    out = tmp_path / "out"
    _prefill(out, ref)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    proc = _run(buildings, out, overwrite=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and str(out) in err[0] and "--overwrite" in err[0]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_a_single_output_file_blocks_too(reference, tmp_path):
    """Even one result file of an earlier run (say, the GeoPackage alone) is never replaced silently."""
    buildings, ref, _ = reference
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy2(ref / "survey.gpkg", out / "survey.gpkg")
    before = _sha256(out / "survey.gpkg")
    proc = _run(buildings, out, overwrite=False)
    assert proc.returncode == 2 and "survey.gpkg" in proc.stderr and "--overwrite" in proc.stderr
    assert _sha256(out / "survey.gpkg") == before and sorted(os.listdir(out)) == ["survey.gpkg"]
