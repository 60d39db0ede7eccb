"""Faults while the outputs are written (issue 18, item 2): disk full and permission denied.

For every output file of a run and each step of putting it on disk -- *write* (the bytes go to
the file's temporary name), *flush* (fsync before the commit) and *rename* (the temporary name
replaces the final one) -- an OSError is injected by monkeypatching that one step for that one
file: ENOSPC ("No space left on device") and EACCES ("Permission denied") at write, ENOSPC at
flush (fsync reports no EACCES; EIO in a fresh folder), EACCES and ENOSPC at rename. A write
fails half way: half of the bytes reach the temporary file first, as on a disk that fills up.

Every case must end in one OutputError line naming the file, the reason and what to do, with
the folder exactly as before: the previous run's outputs byte for byte, no new output, no
temporary file left. The survey is computed once (module fixture); each case calls
:func:`pv_survey.outputs.write_outputs` with that result, as the pipeline does. The charts are
rendered once and reused (they are pure computation; the faults are in writing them).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import types
from pathlib import Path

import pyogrio
import pytest

import _badinputs as bi
from pv_survey import outputs as outputs_mod
from pv_survey.config import Config
from pv_survey.errors import OutputError
from pv_survey.outputs import atomic, gpkg as gpkg_mod
from pv_survey.pipeline import run_survey

#: (step, errno) pairs injected for every output file (see the module docstring).
FAULTS = (("write", errno.ENOSPC), ("write", errno.EACCES), ("flush", errno.ENOSPC), ("rename", errno.EACCES),
          ("rename", errno.ENOSPC))
#: Words of the advice expected for each errno (atomic.write_failure).
ADVICE = {errno.ENOSPC: "free disk space", errno.EACCES: "check the folder's permissions",
          errno.EIO: "check free space and permissions"}


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """One survey of twelve boxes with zones (so zones.csv is written too), not yet written."""
    d = tmp_path_factory.mktemp("faults")
    buildings = d / "b.gpkg"
    bi.base_frame(12).to_file(buildings, layer="buildings", driver="GPKG")
    zones = d / "zones.gpkg"
    import geopandas as gpd
    import shapely
    gpd.GeoDataFrame({"name": ["天河南"]}, geometry=[shapely.box(bi.X0_M - 50, bi.Y0_M - 50, bi.X0_M + 300,
                                                                     bi.Y0_M + 300)],
                     crs="EPSG:4547").to_file(zones, layer="zones", driver="GPKG")
    cfg = Config().replace(inputs={"buildings": str(buildings), "zones": [str(zones)]}, survey={"name": "faults"})
    res = run_survey(cfg, write=False)
    kwargs = dict(buildings=res.buildings, roofs=res.roofs, plan=res.plan.plan, targets=res.plan.targets,
                  coverage=res.plan.coverage, category_shares=res.plan.category_shares, summary=res.summary,
                  manifest=res.manifest, crs=cfg.survey.metric_crs, extra_layers=res.layers)
    charts = outputs_mod.render_charts
    cache = {}

    def render_once(**kw):
        if "v" not in cache:
            cache["v"] = charts(**kw)
        return cache["v"]

    previous = d / "previous"
    mp = pytest.MonkeyPatch()
    mp.setattr(outputs_mod, "render_charts", render_once)
    paths = outputs_mod.write_outputs(previous, **kwargs)
    mp.undo()
    # the faulty run writes other bytes: another name and start time than the previous run
    kwargs["summary"] = {**res.summary, "name": "faults-second-run"}
    kwargs["manifest"] = {**res.manifest, "started_utc": "2030-01-01T00:00:00+00:00"}
    return kwargs, previous, sorted(paths), render_once


NAMES = ("survey.gpkg", "shortlist.csv", "shortlists.xlsx", "cumulative_capacity.png", "report.html", "zones.csv",
         "summary.md", "README.txt", "manifest.json")


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every entry of ``folder`` (hidden ones too): name -> (sha256, mtime_ns)."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


def _oserror(code: int, path: Path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


def _is_temp_of(path: Path, name: str) -> bool:
    stem, suffix = os.path.splitext(name)
    return path.name.startswith(f".{stem}.tmp-") and path.name.endswith(suffix)


def _inject(monkeypatch, step: str, code: int, name: str) -> dict:
    """Make ``step`` fail with ``code`` for the output ``name`` only (once); returns a hit counter."""
    hits = {"n": 0}
    if step == "write" and name == "survey.gpkg":
        real = pyogrio.write_dataframe

        def write_dataframe(df, path, **kw):
            # the first layer is written whole, the second fails as GDAL does on a full disk
            if _is_temp_of(Path(path), name) and kw.get("layer") != "buildings" and not hits["n"]:
                hits["n"] += 1
                raise pyogrio.errors.DataSourceError(f"sqlite3_exec() failed: {os.strerror(code)}") \
                    from _oserror(code, Path(path))
            return real(df, path, **kw)

        monkeypatch.setattr(gpkg_mod.pyogrio, "write_dataframe", write_dataframe)
    elif step == "write" and name.startswith("shortlist") and name.endswith(".csv"):
        from pv_survey.outputs import csv_out

        real = csv_out._create  # the shortlists are written side by side, chunk by chunk

        class Failing:
            """The list's file: its first bytes reach the disk, then the write fails."""

            def __init__(self, path):
                self.fh = real(path)

            def write(self, data):
                hits["n"] += 1
                self.fh.write(data[:3])
                self.fh.flush()
                raise _oserror(code, Path(self.fh.name))

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

        def create(path):
            return Failing(path) if _is_temp_of(Path(path), name) and not hits["n"] else real(path)

        monkeypatch.setattr(csv_out, "_create", create)
    elif step == "write":
        real = Path.write_bytes

        def write_bytes(self, data):
            if _is_temp_of(self, name) and not hits["n"]:
                hits["n"] += 1
                real(self, data[: len(data) // 2])  # half of it reached the disk
                raise _oserror(code, self)
            return real(self, data)

        monkeypatch.setattr(Path, "write_bytes", write_bytes)
    elif step == "flush":
        real = atomic._fsync_file

        def fsync(path):
            if _is_temp_of(Path(path), name) and not hits["n"]:
                hits["n"] += 1
                raise _oserror(code, Path(path))
            return real(path)

        monkeypatch.setattr(atomic, "_fsync_file", fsync)
    else:
        proxy = types.ModuleType("os")
        proxy.__dict__.update(os.__dict__)

        def replace(src, dst):
            if Path(dst).name == name and _is_temp_of(Path(src), name) and not hits["n"]:
                hits["n"] += 1
                raise _oserror(code, Path(dst))
            return os.replace(src, dst)

        proxy.replace = replace
        monkeypatch.setattr(atomic, "os", proxy)
    return hits


def _assert_one_line(msg: str, out: Path, name: str, code: int) -> None:
    assert "\n" not in msg
    assert msg.startswith(f"{out / name}: "), msg
    assert os.strerror(code) in msg and ADVICE[code] in msg, msg
    assert "the earlier outputs in this folder" in msg, msg


@pytest.mark.parametrize("step,code", FAULTS, ids=[f"{s}-{errno.errorcode[c]}" for s, c in FAULTS])
@pytest.mark.parametrize("name", NAMES)
def test_fault_leaves_previous_outputs_untouched(survey, tmp_path, monkeypatch, name, step, code):
    kwargs, previous, written, render_once = survey
    assert name in written
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _snapshot(out)
    monkeypatch.setattr(outputs_mod, "render_charts", render_once)
    hits = _inject(monkeypatch, step, code, name)
    with pytest.raises(OutputError) as info:
        outputs_mod.write_outputs(out, overwrite=True, **kwargs)
    assert hits["n"] == 1, "the fault was never reached"
    _assert_one_line(str(info.value), out, name, code)
    assert _snapshot(out) == before  # same files, same bytes, same times; no temporary file left


@pytest.mark.parametrize("step,code", [("write", errno.ENOSPC), ("flush", errno.EIO), ("rename", errno.EACCES)])
@pytest.mark.parametrize("name", ("survey.gpkg", "report.html", "manifest.json"))
def test_fault_in_an_empty_folder_leaves_it_empty(survey, tmp_path, monkeypatch, name, step, code):
    """A first run that fails leaves no output and no temporary file behind."""
    kwargs, _previous, _written, render_once = survey
    out = tmp_path / "fresh"
    monkeypatch.setattr(outputs_mod, "render_charts", render_once)
    _inject(monkeypatch, step, code, name)
    with pytest.raises(OutputError) as info:
        outputs_mod.write_outputs(out, **kwargs)
    _assert_one_line(str(info.value), out, name, code)
    assert list(out.iterdir()) == []


def test_a_rename_failure_half_way_restores_the_files_already_replaced(survey, tmp_path, monkeypatch):
    """The fourth rename fails: the three files already replaced get their earlier bytes back."""
    kwargs, previous, written, render_once = survey
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _snapshot(out)
    monkeypatch.setattr(outputs_mod, "render_charts", render_once)
    proxy = types.ModuleType("os")
    proxy.__dict__.update(os.__dict__)
    calls = []

    def replace(src, dst):
        if ".tmp-" in Path(src).name and Path(dst).parent == out and not Path(dst).name.startswith("."):
            calls.append(Path(dst).name)
            if len(calls) == 4:
                raise _oserror(errno.EACCES, Path(dst))
        return os.replace(src, dst)

    proxy.replace = replace
    monkeypatch.setattr(atomic, "os", proxy)
    with pytest.raises(OutputError, match="were restored"):
        outputs_mod.write_outputs(out, overwrite=True, **kwargs)
    assert len(calls) >= 4  # three new files were in place before the failure (and then put back)
    assert {k: v[0] for k, v in _snapshot(out).items()} == {k: v[0] for k, v in before.items()}


def test_cli_reports_a_full_disk_in_one_line(survey, tmp_path, monkeypatch, capsys, restore_root_logging):
    """Through the command line: exit 2, one line, no traceback, the earlier run intact."""
    from pv_survey.cli import main

    _kwargs, previous, _written, _render = survey
    buildings = tmp_path / "b.gpkg"
    bi.base_frame(12).to_file(buildings, layer="buildings", driver="GPKG")
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _snapshot(out)
    _inject(monkeypatch, "write", errno.ENOSPC, "shortlists.xlsx")
    with pytest.raises(SystemExit) as info:
        main(["-q", "run", "--buildings", str(buildings), "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(f"Error: {out / 'shortlists.xlsx'}: writing failed "
                                                   "(No space left on device); free disk space"), lines
    assert _snapshot(out) == before
