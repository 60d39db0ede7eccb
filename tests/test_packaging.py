"""Packaging: a wheel carries the demo district and the default weather year and runs outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from pv_survey.data_files import CHECKOUT_DATA_DIR, data_dir

ROOT = Path(__file__).resolve().parents[1]
#: What `pv-survey run` needs with no input given (the demo district, its car parks, the weather year).
EMBEDDED = ("tianhe_demo_buildings.gpkg", "tianhe_demo_roofs.gpkg", "tianhe_demo_parking.gpkg",
            "guangzhou_default_year.csv")


def test_checkout_reads_the_repository_data():
    assert data_dir().resolve() == CHECKOUT_DATA_DIR.resolve()
    for name in EMBEDDED:
        assert (data_dir() / name).is_file(), name


@pytest.mark.slow
def test_wheel_runs_outside_the_checkout(tmp_path):
    """Build a wheel, install it into a fresh venv outside the checkout, run `pv-survey run` there."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, cwd=tmp_path)
    [wheel] = list(dist.glob("pv_survey-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in EMBEDDED:
        assert f"pv_survey/data/{name}" in names, name

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True)
    # the dependencies come from this environment's site-packages (a path line; the editable
    # install's own .pth hook there is not run), pv-survey itself only from the wheel
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(py), "-c", "import pv_survey, pv_survey.data_files as d; "
                            "print(pv_survey.__file__); print(d.data_dir())"],
                           check=True, capture_output=True, text=True, cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(site) and Path(where[1]) == site / "pv_survey" / "data"

    r = subprocess.run([str(venv / "bin" / "pv-survey"), "-q", "run", "--out", str(work / "out")],
                       capture_output=True, text=True, cwd=work, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((work / "out" / "manifest.json").read_text(encoding="utf-8"))
    # the demo district has 4,834 buildings (data/README.md), every one accounted for
    assert manifest["counts"]["buildings_in"] == 4834
    assert Path(manifest["inputs"]["weather"]["path"]).is_relative_to(site)
