"""The console and the output folder of `pv-survey run` (issue 17): a run named after its data,
folders never mixed with other files silently, -q quiet, progress with units, solver text
captured, no folder left behind by a failed run."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

from pv_survey.errors import OutputError
from pv_survey.outputs import prepare_out_dir
from pv_survey.pipeline import DEFAULT_BUILDINGS, DEFAULT_ROOFS
from pv_survey.cli.console import progress_line
from pv_survey.cli.run import name_from_source


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logging):
    """The CLI points the root logger at a captured stream; put it back after each test."""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The 40 demo buildings nearest the district's median building (and their roof planes)."""
    d = tmp_path_factory.mktemp("small")
    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    r = gpd.read_file(DEFAULT_ROOFS, layer="roof_planes")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    dist = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    sub = b[dist <= np.sort(dist.to_numpy())[39]]
    sub.to_file(d / "real_district.gpkg", layer="buildings")
    r[r["building_id"].isin(sub["building_id"])].to_file(d / "r.gpkg", layer="roof_planes")
    return d / "real_district.gpkg", d / "r.gpkg"


def _invoke(args):
    from pv_survey.cli import _register, cli

    _register()
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize("source, name", [
    ("real.geojson", "real"),                       # plain file: its stem
    ("/data/tianhe.osm.pbf", "tianhe"),             # double suffix of an OSM extract
    ("delivery/广州 天河.gpkg", "广州-天河"),          # Chinese kept, space made safe for a folder
    ("bld.shp.zip", "bld"),                         # zipped shapefile
    ("postgresql://u@h/db?table=gis.footprints", "footprints"),  # PostGIS: the table
])
def test_name_from_source(source, name):
    assert name_from_source(source) == name


def test_run_is_named_after_its_data_and_quiet(small, tmp_path, monkeypatch):
    b, r = small
    monkeypatch.chdir(tmp_path)
    res = _invoke(["-q", "run", "--buildings", str(b), "--roofs", str(r)])
    assert res.exit_code == 0, res.output
    # -q: the output path only (CliRunner mixes stderr in: nothing else was printed)
    assert res.output.strip().splitlines() == ["outputs/real_district/"]
    out = tmp_path / "outputs" / "real_district"
    assert (out / "summary.md").read_text(encoding="utf-8").splitlines()[0].endswith("— real_district")
    assert "tianhe-demo" not in (out / "report.html").read_text(encoding="utf-8")
    # a second run into the same folder is refused, in CLI words
    again = _invoke(["run", "--buildings", str(b), "--roofs", str(r)])
    assert again.exit_code != 0
    assert "--overwrite" in str(again.exception) + again.output
    assert "overwrite=True" not in str(again.exception) + again.output
    named = _invoke(["-q", "run", "--buildings", str(b), "--roofs", str(r), "--name", "试点-2026"])
    assert named.exit_code == 0, named.output
    assert (tmp_path / "outputs" / "试点-2026" / "report.html").is_file()


def test_non_empty_folder_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"someone's file")
    with pytest.raises(OutputError, match="not empty.*notes.docx.*--overwrite"):
        prepare_out_dir(tmp_path)
    prepare_out_dir(tmp_path, overwrite=True)
    assert (tmp_path / "notes.docx").read_bytes() == b"someone's file"  # left alone


def test_failed_run_leaves_no_folder_and_no_done(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "points.csv"
    csv.write_text("building_id,x,y\nB1,113.33,23.13\n", encoding="utf-8")
    res = _invoke(["run", "--buildings", str(csv)])
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "WKT" in msg and "--source-crs" in msg and "--layer" not in msg  # advice that fits a CSV
    assert not (tmp_path / "outputs" / "points").exists()
    assert "done in" not in res.output


def test_progress_line_has_units_and_a_rate():
    # 22,789 roofs in 22,789 / 2,100 s -> 2,100 roofs/s (the example)
    assert progress_line("shading", 22789, 22789, 22789 / 2100) == "[shading] 22,789 of 22,789 roofs, 2,100 roofs/s"
    assert progress_line("outputs", 1, 8, 0.0) == "[outputs] 1 of 8 files"  # no rate before any time passed


def test_native_solver_output_is_captured():
    code = ("import os, sys\n"
            "from pv_survey.cli.console import captured_native_output\n"
            "with captured_native_output():\n"
            "    os.write(1, b'HighsMipSolverData::something\\n')\n"
            "print('after')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "after\n"
