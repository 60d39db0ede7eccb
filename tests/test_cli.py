"""The command line: help texts, the thin top-level cli.py, errors as one line with exit code 2."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pv_survey.cli import _register, cli

ROOT = Path(__file__).resolve().parents[1]
_register()


def test_every_subcommand_has_help():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for name in cli.commands:
        res = runner.invoke(cli, [name, "--help"])
        assert res.exit_code == 0, name
        assert len(res.output.splitlines()) > 3


def test_top_level_cli_py_is_the_same_group():
    a = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--help"], capture_output=True, text=True)
    b = subprocess.run([str(Path(sys.executable).parent / "pv-survey"), "--help"], capture_output=True, text=True)
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout
    assert "run" in a.stdout and "demo-data" in a.stdout


def test_bad_config_is_one_line_exit_2(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[roofs]\nsetback = 1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "run", "--config", str(p), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(err) == 1 and "roofs.setback" in err[0]
    assert not (tmp_path / "o").exists()


def test_python_api_mirrors_every_command():
    """`import pv_survey` offers a function for every subcommand (issue 2: the API mirrors the CLI)."""
    import pv_survey

    counterpart = {"run": "run_survey", "batch": "run_batch", "validate": "validate_buildings",
                   "energy": "simulate_roof_table", "shade": "horizon_at_points", "demo-data": "write_demo_data"}
    assert set(counterpart) == set(cli.commands), "a new subcommand needs its API counterpart here"
    for name in counterpart.values():
        assert callable(getattr(pv_survey, name)), name
    for name in pv_survey.__all__:
        getattr(pv_survey, name)  # every advertised name resolves


def test_python_api_runs_a_survey(tmp_path):
    """The README's notebook example: load_config + run_survey on a few demo buildings."""
    import geopandas as gpd
    import pv_survey
    from pv_survey.pipeline import DEFAULT_BUILDINGS

    b = gpd.read_file(DEFAULT_BUILDINGS).iloc[:40]
    b.to_file(tmp_path / "b.gpkg", layer="buildings")
    cfg = pv_survey.load_config(ROOT / "scenarios" / "tianhe-default.toml").replace(
        inputs={"buildings": str(tmp_path / "b.gpkg")})
    res = pv_survey.run_survey(cfg, out_dir=tmp_path / "o")
    assert res.summary["buildings_in"] == 40
    assert len(res.plan.targets) == 3 and (tmp_path / "o" / "survey.gpkg").is_file()


def test_run_summary_says_why_a_share_target_has_no_number():
    """A coverage target over no buildings (the real Huacheng OSM sample has no new public or
    factory building) has no share: the summary says so instead of printing 'nan%'."""
    from pv_survey.cli.run import format_summary

    summary = {"name": "t", "buildings_in": 3, "buildings_with_site": 1, "roofs_kept": 1, "roofs_total": 2,
               "excluded_by_reason": {}, "total_capacity_kwp": 10.0, "existing_kwp": 0.0, "annual_mwh": 11.0,
               "targets": [
                   {"target": "cov", "year": 2025, "due_year": 2027, "passed": True, "unit": "buildings",
                    "required": 0.5, "achieved_plan": float("nan"), "met": "n/a"},
                   {"target": "cap", "year": 2030, "due_year": 2030, "passed": False, "unit": "kWp",
                    "required": 6000.0, "achieved_plan": 6788.0, "met": "yes"}]}
    text = format_summary(summary)
    assert "nan" not in text
    assert "cov (by 2027): required 50%, achieved none (no buildings in the target's set) -> n/a (year passed)" in text
    assert "cap (by 2030): required 6,000 kWp, achieved 6,788 kWp -> MET" in text
