"""The command line: help texts, the thin top-level cli.py, errors as one line with exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pv_survey.cli import _register, cli, main

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
