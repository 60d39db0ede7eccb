"""survey.gpkg written by a child process beside the other files (pv_survey/outputs/gpkg_process.py).

The hand-made district of test_outputs (8 buildings) is written with the process threshold set
to 0, so the child writes it, and compared with the same outputs written in this process: the
GeoPackage must be the same bytes. Faults are real ones: a layer GDAL refuses, a child killed with
SIGKILL, a writer of this process failing while the child runs, a parent that dies.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil  # installed with dask.distributed
import pyogrio
import pytest
import shapely

from pv_survey.errors import OutputError
from pv_survey.outputs import gpkg_process, write_outputs, writer_process
from pv_survey.outputs.spool import LayerSpool

from test_outputs import METRIC_CRS, make_district

STAMP_EPOCH = "1700000000"  # any fixed time: the GeoPackage's timestamps are then this one


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """The system's temporary folder for this test (where the scratch folder goes)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", STAMP_EPOCH)
    return root


@pytest.fixture
def in_child(monkeypatch):
    """Every survey written through the child process; the pids of the children started."""
    monkeypatch.setattr(gpkg_process, "GPKG_PROCESS_MIN_FEATURES", 0)
    pids: list[int] = []
    real = gpkg_process.GpkgProcess.write

    def write(self, layers):
        pids.append(self.pid)
        return real(self, layers)

    monkeypatch.setattr(gpkg_process.GpkgProcess, "write", write)
    return pids


def _no_children_left() -> bool:
    return not [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]


def _modules_spool(n: int = 30) -> LayerSpool:
    """A spooled feature layer in three parts, with the yields its style classes."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 500, n)
    seg = gpd.GeoDataFrame({
        "segment_id": [f"B{i // 3:03d}-S{i % 3}" for i in range(n)],
        "building_id": [f"B{i // 3:03d}" for i in range(n)],
        "n_modules": rng.integers(1, 20, n), "specific_yield_kwh_kwp": rng.uniform(600, 1250, n),
    }, geometry=shapely.box(x, x, x + 3.4, x + 1.7), crs=METRIC_CRS)
    spool = LayerSpool()
    for k, rows in enumerate(np.split(np.arange(n), [8, 19])):
        spool.add("modules", k, seg.iloc[rows])
    return spool


def _awkward_table() -> pd.DataFrame:
    """Every column kind a layer carries: text with None, pandas strings, booleans, nullable ints,
    float32, a categorical, dates, an all-None column and (not storable in Parquet) mixed objects."""
    return pd.DataFrame({
        "label": pd.Series(["甲", None, "=1+1"], dtype=object),
        "s": pd.array(["a", None, "c"], dtype="string"),
        "ok": [True, False, True],
        "maybe": pd.array([True, None, False], dtype="boolean"),
        "n": pd.array([1, None, 3], dtype="Int64"),
        "x_m": np.array([1.5, np.nan, -0.0], dtype=np.float32),
        "kind": pd.Categorical(["flat", "pitched", None]),
        "when": pd.to_datetime(["2025-01-01", "2025-06-30", None]),
        "nothing": [None, None, None],
        "mixed": pd.Series([1, "a", None], dtype=object),
    })


def _extra_layers(spool: LayerSpool) -> dict:
    carports = gpd.GeoDataFrame({"carport_id": ["C1", "C2"], "capacity_kwp": [12.5, 3.0]},
                                geometry=[shapely.box(0, 0, 10, 5), shapely.box(20, 0, 30, 5)], crs=METRIC_CRS)
    return {"carports": carports, "edge": _awkward_table(), "modules": spool.layer("modules")}


def test_child_writes_the_same_geopackage_bytes_as_this_process(tmp_path, scratch_root, monkeypatch):
    """Demo district with a spooled layer, a feature layer and a table of every column kind:
    survey.gpkg (layers, fids, styles in layer_styles, timestamps) is the same file both ways."""
    spool = _modules_spool()
    extra = _extra_layers(spool)
    here = write_outputs(tmp_path / "here", **make_district(), extra_layers=extra, chart_font=None)
    assert _no_children_left()
    monkeypatch.setattr(gpkg_process, "GPKG_PROCESS_MIN_FEATURES", 0)
    started = []
    real = gpkg_process.GpkgProcess.wait

    def wait(self):
        started.append(self.pid)
        return real(self)

    monkeypatch.setattr(gpkg_process.GpkgProcess, "wait", wait)
    there = write_outputs(tmp_path / "there", **make_district(), extra_layers=extra, chart_font=None)
    assert started and started[0] != os.getpid()  # written by another process
    a, b = here["survey.gpkg"].read_bytes(), there["survey.gpkg"].read_bytes()
    assert a == b
    layers = dict(pyogrio.list_layers(there["survey.gpkg"]))
    assert {"buildings", "roofs", "plan", "carports", "edge", "modules", "layer_styles"} <= set(layers)
    assert pyogrio.read_info(there["survey.gpkg"], layer="modules")["features"] == 30
    # every other output is the same too (the report and manifest carry the run's timings)
    for name in ("shortlist.csv", "shortlists.xlsx", "summary.md", "README.txt"):
        assert here[name].read_bytes() == there[name].read_bytes(), name
    # the layers' scratch folder was made in the spool's and is gone; the spool's parts are untouched
    assert [p.name for p in scratch_root.iterdir()] == [spool.dir.name]
    assert sorted(p.name for p in spool.dir.iterdir()) == [f"modules-{k:07d}.parquet" for k in range(3)]
    assert _no_children_left()


@pytest.mark.parametrize("shuffled", [False, True])
def test_large_layers_go_to_the_child_in_chunks_and_give_the_same_bytes(tmp_path, scratch_root, monkeypatch,
                                                                        shuffled):
    """Layers longer than a GDAL write go over in chunk files with their style made here (the child
    then holds one chunk): survey.gpkg is still the file this process writes, byte for byte. With the
    buildings and roofs held out of id order, the child's chunks are taken in id order from the rows
    as held (no reordered copy of the table)."""
    from pv_survey.outputs import gpkg as G

    def district():
        d = make_district()
        rng = np.random.default_rng(11)
        for key, id_col in (("buildings", "building_id"), ("roofs", "roof_id")):
            rows = rng.permutation(len(d[key])) if shuffled else \
                np.argsort(d[key][id_col].astype(str).to_numpy(), kind="stable")
            d[key] = d[key].iloc[rows]
        return d

    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", 4)  # demo layers of 6 to dozens of rows: several chunks
    here = write_outputs(tmp_path / "here", **district(), chart_font=None)
    monkeypatch.setattr(gpkg_process, "GPKG_PROCESS_MIN_FEATURES", 0)
    chunked = []
    real = gpkg_process.GpkgProcess._chunks

    def spy(self, name, frame, rows=None):
        spec = real(self, name, frame, rows)
        ordered = rows is None or np.array_equal(rows, np.arange(len(frame)))
        chunked.append((name, len(frame), len(spec["chunks"]) if spec else 0, ordered))
        return spec

    monkeypatch.setattr(gpkg_process.GpkgProcess, "_chunks", spy)
    there = write_outputs(tmp_path / "there", **district(), chart_font=None)
    names = {name for name, *_ in chunked}
    assert {"buildings", "roofs", "plan"} <= names
    assert all(k == -(-n // 4) for _, n, k, _ in chunked)  # every row in a chunk of at most 4
    held_out_of_order = {name for name, _, _, ordered in chunked if not ordered}
    assert held_out_of_order == ({"buildings", "roofs"} if shuffled else set())
    assert here["survey.gpkg"].read_bytes() == there["survey.gpkg"].read_bytes()
    assert list(scratch_root.iterdir()) == [] and _no_children_left()


def test_a_chunked_layer_holds_one_chunk_and_the_child_hands_memory_back_before_each_layer(tmp_path, monkeypatch):
    """write_gpkg drops each chunk before the next is read (no view of it kept for the style), and the
    writer child hands freed memory back before it receives each layer: its resident memory is then
    one chunk's, not every layer's fragments."""
    import weakref

    from pv_survey.outputs import gpkg as G

    frame = G.table_layer(make_district()["buildings"].assign(fid=lambda d: np.arange(1, len(d) + 1)))
    step = 3
    alive: list[weakref.ref] = []

    def chunks():
        for a in range(0, len(frame), step):
            assert all(r() is None for r in alive), "the chunk before this one is still held"
            chunk = frame.iloc[a:a + step].copy()
            alive.append(weakref.ref(chunk))
            yield chunk
            del chunk  # this generator's own reference

    monkeypatch.setattr(G, "WRITE_CHUNK_FEATURES", step)
    G.write_gpkg(tmp_path / "chunked.gpkg", {"buildings": G.FrameChunks(chunks, qml="<qgis/>", arrow=False)},
                 crs=METRIC_CRS, timestamp="2026-01-01T00:00:00.000Z")
    assert len(alive) == -(-len(frame) // step) >= 2
    back = pyogrio.read_dataframe(tmp_path / "chunked.gpkg", layer="buildings", fid_as_index=True)
    assert back.index.tolist() == frame["fid"].tolist()

    # the child side: the memory of the layer before is handed back before the next is received
    calls: list[str] = []
    monkeypatch.setattr(gpkg_process, "release_freed_memory", lambda: calls.append("release"))
    path = tmp_path / "layer.parquet"
    assert writer_process._parquet(frame, path)

    class Side:  # the parent's messages for one layer
        def recv(self, kind):
            calls.append("recv")
            return ("layer", "buildings", {"file": {"parquet": str(path), "geo": True, "crs": frame.crs}})

    back = gpkg_process._receive_layer(Side(), "buildings")
    assert calls == ["release", "recv"]
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_scratch_copies_read_back_as_the_frames_they_were(tmp_path):
    """Parquet where it gives back the same columns, dtypes and values; a pickle where it cannot
    (mixed objects); a feature layer with its geometry and CRS."""
    from pv_survey.outputs.gpkg import table_layer

    table = table_layer(_awkward_table())
    for frame, stored in ((table.drop(columns="mixed"), "parquet"), (table, "pickle"),
                          (table_layer(_extra_layers(_modules_spool())["carports"]), "parquet")):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.parquet"
        used = "parquet" if writer_process._parquet(frame, path) else "pickle"
        assert used == stored
        if used == "pickle":
            continue
        geo = isinstance(frame, gpd.GeoDataFrame)
        back = writer_process.read_scratch({"parquet": str(path), "geo": geo, "crs": frame.crs if geo else None})
        assert type(back) is type(frame)
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
        if geo:
            assert back.crs == frame.crs


def _without_tokens(text: str) -> str:
    return re.sub(r"\.survey\.tmp-\d+-[0-9a-f]{8}\.gpkg", ".survey.tmp.gpkg", text)


def test_a_layer_gdal_refuses_in_the_child_is_one_line_and_nothing_is_committed(tmp_path, scratch_root,
                                                                                 monkeypatch):
    """Two columns differing only by case: GDAL refuses the second (GeoPackage names are
    case-insensitive). The child's error is the one line the in-process path gives."""
    bad = {"notes": pd.DataFrame({"Name": ["a"], "name": ["b"]})}
    out = tmp_path / "run"
    first = write_outputs(out, **make_district(), chart_font=None)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OutputError) as here:
        write_outputs(out, **make_district(), extra_layers=bad, chart_font=None, overwrite=True)
    monkeypatch.setattr(gpkg_process, "GPKG_PROCESS_MIN_FEATURES", 0)
    with pytest.raises(OutputError) as there:
        write_outputs(out, **make_district(), extra_layers=bad, chart_font=None, overwrite=True)
    message = str(there.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{out / 'survey.gpkg'}: writing failed (")
    assert "A field with the same name already exists" in message
    assert _without_tokens(message) == _without_tokens(str(here.value))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file, nothing replaced
    assert first["survey.gpkg"].is_file()
    assert list(scratch_root.iterdir()) == []
    assert _no_children_left()


@pytest.mark.parametrize("when", ["before the layers", "after the first layer"])
def test_a_child_killed_mid_write_is_named_and_nothing_is_committed(tmp_path, scratch_root, monkeypatch, when):
    monkeypatch.setattr(gpkg_process, "GPKG_PROCESS_MIN_FEATURES", 0)
    real = gpkg_process.GpkgProcess._save
    saved = []

    def save(self, name, layer):
        if len(saved) == (0 if when == "before the layers" else 1):
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait()
        saved.append(name)
        return real(self, name, layer)

    monkeypatch.setattr(gpkg_process.GpkgProcess, "_save", save)
    out = tmp_path / "run"
    with pytest.raises(OutputError) as err:
        write_outputs(out, **make_district(), chart_font=None)
    assert str(err.value) == (f"{out / 'survey.gpkg'}: the GeoPackage writer process ended unexpectedly (exit -9); "
                              "run again, and if it recurs check free memory (a killed process) or report it as a bug")
    assert list(out.iterdir()) == []
    assert list(scratch_root.iterdir()) == []
    assert _no_children_left()


@pytest.mark.parametrize("fault", ["disk full", "Ctrl-C"])
def test_a_failure_here_ends_the_child_and_removes_the_scratch(tmp_path, scratch_root, in_child, monkeypatch,
                                                               fault):
    """Disk full, or a Ctrl-C, while this process writes the CSV lists: the children (the GeoPackage's
    and, handed the shortlist just before, the workbook's) ended, nothing placed."""
    import pv_survey.outputs as outputs_mod
    from pv_survey.outputs import xlsx_process

    monkeypatch.setattr(xlsx_process, "XLSX_PROCESS_MIN_SITES", 0)
    monkeypatch.setattr(xlsx_process, "XLSX_PROCESS_MIN_CORES", 0)
    handed = []
    real = xlsx_process.XlsxProcess.write
    monkeypatch.setattr(xlsx_process.XlsxProcess, "write", lambda self, sl: (handed.append(self.pid), real(self, sl)))

    from pv_survey.outputs import csv_out

    def full(path):
        if fault == "Ctrl-C":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(csv_out, "_create", full)
    out = tmp_path / "run"
    if fault == "Ctrl-C":
        with pytest.raises(KeyboardInterrupt):
            write_outputs(out, **make_district(), chart_font=None)
    else:
        with pytest.raises(OutputError, match=r"shortlist\.csv: writing failed \(No space left on device\); free"):
            write_outputs(out, **make_district(), chart_font=None)
    assert in_child and handed  # the children were started, and are gone
    assert list(out.iterdir()) == []
    assert list(scratch_root.iterdir()) == []
    assert _no_children_left()


def test_ctrl_c_at_the_terminal_does_not_reach_the_child(tmp_path, scratch_root, in_child, monkeypatch):
    """Ctrl-C signals the terminal's foreground process group; the child has its own session, so only
    this process is interrupted (and ends the child), and the child ignores SIGINT as well."""
    groups = []
    real = gpkg_process.GpkgProcess.wait

    def wait(self):
        groups.append((os.getpgid(self.pid), os.getsid(self.pid)))
        return real(self)

    monkeypatch.setattr(gpkg_process.GpkgProcess, "wait", wait)
    paths = write_outputs(tmp_path / "run", **make_district(), chart_font=None)
    assert groups and groups[0][0] != os.getpgid(0) and groups[0][1] != os.getsid(0)
    assert pyogrio.read_info(paths["survey.gpkg"], layer="buildings")["features"] == 8
    assert _no_children_left()


def test_the_child_ends_when_its_parent_dies(tmp_path):
    """A parent killed before it hands over any layer: the child does not linger (PR_SET_PDEATHSIG)."""
    code = textwrap.dedent(f"""
        import os, sys
        from pv_survey.outputs.gpkg_process import GpkgProcess
        child = GpkgProcess({str(tmp_path / 'x.gpkg')!r}, final="survey.gpkg", crs=None,
                            timestamp="2025-01-01T00:00:00.000Z")
        print(child.pid, flush=True)
        os._exit(0)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    pid = int(run.stdout.split()[0])
    try:
        psutil.Process(pid).wait(timeout=60)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_small_surveys_write_in_this_process(tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("no child process below the threshold")

    monkeypatch.setattr(gpkg_process, "GpkgProcess", refuse)
    import pv_survey.outputs as outputs_mod

    monkeypatch.setattr(outputs_mod, "GpkgProcess", refuse)
    write_outputs(tmp_path / "run", **make_district(), chart_font=None)  # 8 buildings, 9 roofs, ...
    assert gpkg_process.use_process(gpkg_process.GPKG_PROCESS_MIN_FEATURES) == (os.name == "posix")
    assert not gpkg_process.use_process(gpkg_process.GPKG_PROCESS_MIN_FEATURES - 1)
