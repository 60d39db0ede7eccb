"""The bad-input matrix of issue 18: every input kind x every corruption, through the command line.

``tests/_badinputs.py`` generates the cases (:func:`_badinputs.matrix_cases`): buildings in each
format, roof planes, DSM, DEM, canopy raster, obstacles, car parks, zones, weather in each format,
pins, scenario TOML and batch matrix files, crossed with empty, truncated at several points,
random bytes, wrong type in a field, NaN / inf / negative / absurd values, wrong or missing CRS,
duplicate ids, mixed geometry types, huge values, control characters, wrong encoding and names
that lead outside the output folder, wherever the corruption can exist in that kind. Each case states its outcome from how it is built, and ends in exactly one of:

``error``
    exit code 2; stderr is one line, ``Error: ...``, naming the file and saying what to do (one of
    :data:`ACTION_WORDS`); no traceback; nothing written (no output folder, or an empty one).
``repair``
    exit code 0, no traceback; the repair counted in the run's notes (summary.md, and so the
    report) and, for table inputs, flagged row by row in the buildings layer of survey.gpkg.

The cases run in this process through :func:`pv_survey.cli.main`, the console-script entry point
(warnings are errors in the suite, so a stray warning fails a case too); a subset runs as separate
processes to see exactly what a user sees.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

import _badinputs as bi
from pv_survey.cli import main

ROOT = Path(__file__).resolve().parents[1]
CASES = bi.matrix_cases()

#: Verbs of the "what to do" part of an error line: every error must hold one of them.
ACTION_WORDS = ("check", "use", "give", "pass", "fix", "copy", "export", "re-export", "download", "add", "save",
                "remove", "choose", "declare", "assign", "name", "rename", "fill", "delete", "keep", "send", "write",
                "map", "request")
_ACTION_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in ACTION_WORDS) + r")\b")

#: Cases also run as a separate process (one of each family, errors and repairs).
SUBPROCESS_IDS = ("dsm:header-only", "buildings.geojson:wrong-encoding", "weather.epw:truncated-50",
                  "matrix:name-traversal", "buildings.shp:text-in-number", "canopy:truncated-90")


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logging):
    """The CLI points the root logger at a captured stream; put it back after each test."""


def _in_process(argv: list[str], capsys) -> tuple[int, str]:
    try:
        main(["-q", *argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def _subprocess(argv: list[str]) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "-q", *argv], capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stderr


def _argv(case: bi.Case, tmp_path: Path) -> tuple[list[str], Path]:
    out = tmp_path / "out"
    return [*bi.build_case(case, tmp_path / "in"), "--out", str(out)], out


def assert_error(case: bi.Case, code: int, err: str, out: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, f"{case.id}: traceback\n{err[-3000:]}"
    assert code == 2, f"{case.id}: exit {code}, stderr: {err[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"{case.id}: {lines}"
    line = lines[0]
    assert case.names in line, f"{case.id}: the file {case.names!r} is not named in {line!r}"
    rest = line[line.index(case.names) + len(case.names):]
    assert _ACTION_RE.search(rest), f"{case.id}: no 'what to do' after the file name in {line!r}"
    assert not out.exists() or not any(out.iterdir()), f"{case.id}: wrote {sorted(p.name for p in out.iterdir())}"


def assert_repair(case: bi.Case, code: int, err: str, out: Path) -> None:
    assert "Traceback" not in err, f"{case.id}: traceback\n{err[-3000:]}"
    assert code == 0, f"{case.id}: exit {code}, stderr: {err[-2000:]}"
    md = (out / "summary.md").read_text(encoding="utf-8")
    notes = md[md.index("## 说明 / Notes"):]
    assert case.note in notes, f"{case.id}: {case.note!r} not among the notes:\n{notes}"
    if case.flag is not None:
        column, text, rows = case.flag
        b = pyogrio.read_dataframe(out / "survey.gpkg", layer="buildings", read_geometry=False)
        flagged = b[column].fillna("").astype(str).str.contains(text, regex=False)
        assert int(flagged.sum()) == rows, (f"{case.id}: {int(flagged.sum())} rows of {column} hold {text!r}, "
                                            f"want {rows}:\n{b[column].tolist()}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matrix_case(case, tmp_path, capsys):
    argv, out = _argv(case, tmp_path)
    code, err = _in_process(argv, capsys)
    if case.expect == "error":
        assert_error(case, code, err, out)
    else:
        assert_repair(case, code, err, out)


@pytest.mark.parametrize("case_id", SUBPROCESS_IDS)
def test_matrix_case_as_the_user_runs_it(case_id, tmp_path):
    """The real console entry in its own process: same outcome, no traceback, no Python warning."""
    case = next(c for c in CASES if c.id == case_id)
    argv, out = _argv(case, tmp_path)
    code, err = _subprocess(argv)
    if case.expect == "error":
        assert_error(case, code, err, out)
    else:
        assert_repair(case, code, err, out)
        assert "Warning" not in err and "warn(" not in err


def test_matrix_covers_every_kind_and_corruption():
    """The matrix spans the kinds and corruptions the issue lists (each kind where it can exist)."""
    kinds = {c.kind.split(".")[0] for c in CASES}
    assert kinds == {"buildings", "roofs", "dsm", "dem", "canopy", "obstacles", "parking", "zones", "weather",
                     "pins", "scenario", "matrix"}
    formats = {c.kind for c in CASES if c.kind.startswith(("buildings.", "weather."))}
    assert {f"buildings.{f}" for f in bi.VECTOR_FORMATS} <= formats
    assert {f"weather.{f}" for f in bi.WEATHER_FORMATS} <= formats
    families = {re.sub(r"-\d+$", "", c.corruption) for c in CASES}
    for want in ("empty", "truncated", "random-bytes", "text-in-number", "bad-values", "missing-crs", "wrong-crs",
                 "duplicate-ids", "mixed-geometry", "huge-values", "wrong-encoding", "nan", "inf", "negative"):
        assert want in families, want
    # truncated at several points, for every file-based buildings format
    for fmt in bi.VECTOR_FORMATS:
        cuts = {c.corruption for c in CASES if c.kind == f"buildings.{fmt}" and c.corruption.startswith("truncated")}
        assert len(cuts) == len(bi.TRUNCATE_AT), fmt


def test_readme_quotes_the_matrix_figures():
    """The README's reliability section states the size and result of this matrix."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())  # line breaks as spaces
    n_err = sum(c.expect == "error" for c in CASES)
    n_rep = sum(c.expect == "repair" for c in CASES)
    want = f"{len(CASES)} cases: {n_err} one-line errors, {n_rep} counted repairs, 0 tracebacks"
    assert want in text, f"README should say: {want}"
