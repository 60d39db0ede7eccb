"""shortlists.xlsx written by a child process beside the other files (pv_survey/outputs/xlsx_process.py).

The hand-made district of test_outputs (8 buildings) is written with the workbook's process
threshold set to 0, so the child writes the workbook, and compared with the same outputs written in
this process: the workbook must be the same bytes. Faults are real ones: the child's write refused
by the kernel (a file-size limit set on the child alone, as a full disk refuses it), a child killed
with SIGKILL. The machinery shared with the GeoPackage's writer (a fresh interpreter, its own
session, ended with its parent, Ctrl-C) is tested in test_outputs_gpkg_process.py.
"""

from __future__ import annotations

import errno
import os
import signal

import psutil  # installed with dask.distributed
import pytest

from pv_survey.errors import OutputError
from pv_survey.outputs import write_outputs, xlsx_process
from pv_survey.outputs.atomic import write_failure

from test_outputs import make_district
from test_outputs_gpkg_process import _no_children_left, scratch_root  # noqa: F401 - a fixture

#: The file-size limit set on the child (bytes): an .xlsx file is a ZIP of several kB, so its write
#: fails part way, as on a full disk (the kernel's EFBIG; Python ignores SIGXFSZ).
_CHILD_FSIZE_LIMIT_B = 1024


@pytest.fixture
def in_child(monkeypatch):
    """The (pid, scratch kind) of every child handed a shortlist, the workbook's threshold left as it
    is; :func:`_here_then_in_child` sets it."""
    handed: list[tuple[int, str]] = []
    real = xlsx_process.XlsxProcess._file

    def spy(self, name, frame, **kw):
        spec = real(self, name, frame, **kw)
        handed.append((self.pid, "pickle" if "pickle" in spec else "parquet"))
        return spec

    monkeypatch.setattr(xlsx_process.XlsxProcess, "_file", spy)
    return handed


def _here_then_in_child(out, monkeypatch, district=make_district) -> dict:
    """Write ``district`` into ``out`` in this process; every later workbook is written by a child
    (whatever the cores)."""
    monkeypatch.setattr(xlsx_process, "XLSX_PROCESS_MIN_SITES", 10**9)
    paths = write_outputs(out, **district(), chart_font=None)
    monkeypatch.setattr(xlsx_process, "XLSX_PROCESS_MIN_SITES", 0)
    monkeypatch.setattr(xlsx_process, "XLSX_PROCESS_MIN_CORES", 0)
    return paths


def _mixed_years() -> dict:
    """The district with a year given as text among numbers, which Arrow will not store in one
    column: the shortlist goes to the child as a pickle."""
    d = make_district()
    years = d["plan"]["year_built"].astype(object).to_list()
    years[1] = "约 1990"  # B002's year: NaN in make_district
    d["plan"]["year_built"] = years
    return d


@pytest.mark.parametrize("district, kind", [(make_district, "parquet"), (_mixed_years, "pickle")],
                         ids=["parquet", "pickle"])
def test_child_writes_the_same_workbook_bytes_as_this_process(tmp_path, scratch_root, in_child, monkeypatch,
                                                              district, kind):
    here = _here_then_in_child(tmp_path / "here", monkeypatch, district)
    assert in_child == []
    there = write_outputs(tmp_path / "there", **district(), chart_font=None)
    assert len(in_child) == 1 and in_child[0][0] != os.getpid() and in_child[0][1] == kind
    assert here["shortlists.xlsx"].read_bytes() == there["shortlists.xlsx"].read_bytes()
    for name in ("shortlist.csv", "survey.gpkg", "summary.md", "README.txt"):
        assert here[name].read_bytes() == there[name].read_bytes(), name
    assert list(scratch_root.iterdir()) == [] and _no_children_left()


def test_a_write_refused_in_the_child_is_one_line_and_nothing_is_committed(tmp_path, scratch_root, in_child,
                                                                          monkeypatch):
    """The kernel refuses the child's write of the workbook past a file-size limit (EFBIG): the
    line the in-process writer gives for it; the earlier outputs stay as they were."""
    out = tmp_path / "run"
    first = _here_then_in_child(out, monkeypatch)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = xlsx_process.XlsxProcess.write

    def write(self, shortlist):
        psutil.Process(self.pid).rlimit(psutil.RLIMIT_FSIZE, (_CHILD_FSIZE_LIMIT_B, _CHILD_FSIZE_LIMIT_B))
        return real(self, shortlist)

    monkeypatch.setattr(xlsx_process.XlsxProcess, "write", write)
    with pytest.raises(OutputError) as err:
        write_outputs(out, **make_district(), chart_font=None, overwrite=True)
    assert in_child  # the child was handed the shortlist
    assert str(err.value) == write_failure(out / "shortlists.xlsx", "writing",
                                           OSError(errno.EFBIG, os.strerror(errno.EFBIG)))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file, nothing replaced
    assert first["shortlists.xlsx"].is_file()
    assert list(scratch_root.iterdir()) == [] and _no_children_left()


@pytest.mark.parametrize("when", ["before the hand-over", "after the hand-over"])
def test_a_killed_child_is_named_and_nothing_is_committed(tmp_path, scratch_root, in_child, monkeypatch, when):
    out = tmp_path / "run"
    _here_then_in_child(out, monkeypatch)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = xlsx_process.XlsxProcess.write

    def write(self, shortlist):
        if when == "after the hand-over":
            real(self, shortlist)  # the child is reading it or writing the workbook: it has not answered
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait()
        if when == "before the hand-over":
            real(self, shortlist)

    monkeypatch.setattr(xlsx_process.XlsxProcess, "write", write)
    with pytest.raises(OutputError) as err:
        write_outputs(out, **make_district(), chart_font=None, overwrite=True)
    assert str(err.value) == (f"{out / 'shortlists.xlsx'}: the workbook writer process ended unexpectedly "
                              "(exit -9); run again, and if it recurs check free memory (a killed process) or "
                              "report it as a bug")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert list(scratch_root.iterdir()) == [] and _no_children_left()


def test_small_plans_and_few_cores_write_the_workbook_in_this_process(tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("no child process below the threshold")

    import pv_survey.outputs as outputs_mod

    monkeypatch.setattr(outputs_mod, "XlsxProcess", refuse)
    paths = write_outputs(tmp_path / "run", **make_district(), chart_font=None)  # 8 sites
    assert paths["shortlists.xlsx"].read_bytes()[:2] == b"PK"  # a ZIP file
    monkeypatch.setattr(xlsx_process, "usable_cores", lambda: xlsx_process.XLSX_PROCESS_MIN_CORES)
    assert xlsx_process.use_process(xlsx_process.XLSX_PROCESS_MIN_SITES) == (os.name == "posix")
    assert not xlsx_process.use_process(xlsx_process.XLSX_PROCESS_MIN_SITES - 1)
    monkeypatch.setattr(xlsx_process, "usable_cores", lambda: xlsx_process.XLSX_PROCESS_MIN_CORES - 1)
    assert not xlsx_process.use_process(xlsx_process.XLSX_PROCESS_MIN_SITES)  # a large plan on too few cores
