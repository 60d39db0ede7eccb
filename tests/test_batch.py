"""Batches of scenarios: matrix expansion, resume by manifest, errors per scenario, comparison table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
from click.testing import CliRunner

from pv_survey.batch import (STATE_FILE, comparison_markdown, comparison_row, config_sha256, expand_matrix,
                             is_finished, load_scenarios, run_batch)
from pv_survey.config import Config
from pv_survey.errors import ConfigError
from pv_survey.pipeline import DEFAULT_BUILDINGS

#: Module presets of the scenarios (pv_survey/presets/modules.toml): 440 W, 620 W, 450 W.
SMALL, LARGE, MID = "jinko-tiger-neo-54hl4r-bdv-440", "ja-deepblue4-jam66d45-620", "trina-vertex-s-plus-neg9rc27-450"

MATRIX = """
name = "sens"
[matrix]
"roofs.pitched_gcr" = [0.19, 0.21]
"roofs.edge_setback_m" = [0.5, 1.0]
"shading.min_output_frac" = [0.6, 0.7]
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- scenarios


def test_matrix_is_the_cartesian_product(tmp_path):
    scs = expand_matrix(_write(tmp_path / "m.toml", MATRIX))
    assert len(scs) == 2 * 2 * 2  # product of the list lengths
    first = scs[0]
    assert first.name == "sens__pitched_gcr-0.19__edge_setback_m-0.5__min_output_frac-0.6"
    assert first.config.roofs.pitched_gcr == 0.19
    assert first.config.roofs.edge_setback_m == 0.5
    assert first.config.shading.min_output_frac == 0.6
    assert first.config.survey.name == first.name
    assert first.varied == {"roofs.pitched_gcr": 0.19, "roofs.edge_setback_m": 0.5,
                            "shading.min_output_frac": 0.6}
    combos = {(s.config.roofs.pitched_gcr, s.config.roofs.edge_setback_m,
               s.config.shading.min_output_frac) for s in scs}
    assert len(combos) == 8 and len({s.name for s in scs}) == 8
    # untouched settings keep their defaults
    assert all(s.config.energy == Config().energy for s in scs)


def test_matrix_saved_with_a_utf8_bom_expands(tmp_path):
    """A matrix file (and its base) saved as "UTF-8 with BOM" expands like the plain file."""
    plain = expand_matrix(_write(tmp_path / "m.toml", MATRIX))
    bom = tmp_path / "b" / "m.toml"
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + MATRIX.encode("utf-8"))
    assert [(s.name, s.varied) for s in expand_matrix(bom)] == [(s.name, s.varied) for s in plain]


def test_matrix_base_single_values_and_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "base.toml", '[roofs]\nflat_gcr = 0.5\n[inputs]\nweather = "w.epw"\n')
    m = _write(tmp_path / "m.toml", 'base = "sub/base.toml"\n[matrix]\n"inputs.buildings" = ["b.gpkg"]\n'
                                    '"roofs.edge_setback_m" = [0.5, 1.5]\n')
    scs = expand_matrix(m)
    # the file stem is the default prefix; a single-valued key applies to all and is not in the names
    assert [s.name for s in scs] == ["m__edge_setback_m-0.5", "m__edge_setback_m-1.5"]
    assert all(s.config.roofs.flat_gcr == 0.5 for s in scs)  # from the base
    assert scs[0].config.inputs.buildings == str((tmp_path / "b.gpkg").resolve())  # relative to m.toml
    assert scs[0].config.inputs.weather == str((tmp_path / "sub" / "w.epw").resolve())  # relative to base


def test_matrix_same_field_in_two_sections_uses_section_in_name(tmp_path):
    m = _write(tmp_path / "m.toml", '[matrix]\n"roofs.pitched_gcr" = [0.2, 0.22]\n'
                                    '"resources.carport_module_efficiency_frac" = [0.2]\n'
                                    '"shading.n_sectors" = [36, 72]\n')
    names = [s.name for s in expand_matrix(m)]
    assert names[0] == "m__pitched_gcr-0.2__n_sectors-36"


@pytest.mark.parametrize("text, match", [
    ('[matrix]\n"roofs" = [1]\n', "must be 'section.field'"),
    ('[matrix]\n"roofs.edge_setback_m" = []\n', "non-empty list"),
    ('[matrix]\n"roofs.edge_setback_m" = 1.0\n', "non-empty list"),
    ('[matrix]\n"roofs.edge_setback_m" = [1.0, 99.0]\n', "roofs.edge_setback_m"),
    ('[matrix]\n"roofs.no_such_field" = [1.0]\n', "no_such_field"),
    ('colour = "red"\n[matrix]\n"roofs.edge_setback_m" = [1.0]\n', "unknown key 'colour'"),
    ('base = "missing.toml"\n[matrix]\n"roofs.edge_setback_m" = [1.0]\n', "not found"),
])
def test_matrix_errors_name_the_key(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        expand_matrix(_write(tmp_path / "m.toml", text))


def test_load_scenarios_from_folder_and_duplicates(tmp_path):
    d = tmp_path / "scen"
    d.mkdir()
    _write(d / "a.toml", "[roofs]\nedge_setback_m = 0.5\n")
    _write(d / "b.toml", "[roofs]\nedge_setback_m = 1.5\n")
    scs = load_scenarios([d])
    assert [s.name for s in scs] == ["a", "b"]
    assert scs[1].config.roofs.edge_setback_m == 1.5
    _write(tmp_path / "a.toml", "")
    with pytest.raises(ConfigError, match="scenario name 'a'"):
        load_scenarios([d, tmp_path / "a.toml"])
    with pytest.raises(ConfigError, match="no such scenario"):
        load_scenarios([tmp_path / "nope.toml"])


def test_config_hash_tracks_every_setting():
    a = config_sha256(Config())
    assert a == config_sha256(Config())
    assert a != config_sha256(Config().replace(energy={"albedo": 0.25}))


def test_comparison_row_from_a_summary():
    summary = {"buildings_in": 10, "buildings_with_site": 7, "roofs_kept": 9, "total_capacity_kwp": 200.0,
               "existing_kwp": 5.0, "annual_mwh": 240.0,
               "targets": [{"target": "T2025", "required_kwp": 100.0, "achieved_kwp": 205.0, "met": True}]}
    row = comparison_row(summary)
    # specific yield = 240 MWh x 1000 kWh/MWh / 200 kWp = 1200 kWh/kWp
    assert row["specific_yield_kwh_kwp"] == pytest.approx(1200.0)
    assert row["T2025: achieved_kwp"] == 205.0 and row["T2025: met"] is True
    md = comparison_markdown(pd.DataFrame([{"scenario": "x", **row}]))
    assert "| x |" in md and "1,200.0" in md and "| yes |" in md


def test_comparison_row_plan_totals_and_share_targets():
    summary = {"total_capacity_kwp": 200.0, "annual_mwh": 240.0,
               "plan_totals": {"capex_cny": 12_345_678.9, "npv_cny": 1.0e6, "lcoe_cny_per_kwh": 0.23456,
                               "sites_per_year": {"2027": 3, "2028": 0}},
               "targets": [{"target": "cov", "kind": "coverage", "required_kwp": float("nan"),
                            "achieved_plan": 0.5, "met": "n/a"}]}
    row = comparison_row(summary)
    assert row["plan capex_cny"] == 12_345_678.9 and row["sites 2027"] == 3 and row["sites 2028"] == 0
    assert row["cov: met"] == "n/a" and row["cov: achieved_frac"] == 0.5 and "cov: required_kwp" not in row
    md = comparison_markdown(pd.DataFrame([{"scenario": "x", **row}]))
    # read-friendly: CAPEX in millions to 0.01, LCOE to 0.001; the CSV keeps full precision
    assert "12.35 M" in md and "0.235" in md and "| n/a |" in md


# --------------------------------------------------------------------------- running a batch


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The 60 demo buildings nearest the district's median building."""
    d = tmp_path_factory.mktemp("tiny")
    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    dist = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    b[dist <= np.sort(dist.to_numpy())[59]].to_file(d / "b.gpkg", layer="buildings")
    return d / "b.gpkg"


def _scenarios(tmp_path, tiny):
    d = tmp_path / "scen"
    d.mkdir(exist_ok=True)
    _write(d / "low.toml", f'[inputs]\nbuildings = "{tiny.as_posix()}"\n[roofs]\nmodule = "{SMALL}"\n')
    _write(d / "high.toml", f'[inputs]\nbuildings = "{tiny.as_posix()}"\n[roofs]\nmodule = "{LARGE}"\n')
    _write(d / "broken.toml", '[inputs]\nbuildings = "no_such_file.gpkg"\n')
    return d


def test_batch_runs_resumes_and_reports_failures(tmp_path, tiny):
    d = _scenarios(tmp_path, tiny)
    out = tmp_path / "out"
    res = run_batch(load_scenarios([d]), out_dir=out)
    status = {o.name: o.status for o in res.outcomes}
    assert status == {"broken": "failed", "high": "done", "low": "done"}
    broken = res.failed[0]
    assert "no_such_file.gpkg" in broken.error
    for name in ("high", "low"):
        assert (out / name / "manifest.json").is_file() and (out / name / "survey.gpkg").is_file()
    # comparison table: UTF-8 with BOM, one row per scenario, totals from each run
    raw = (out / "comparison.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(out / "comparison.csv", encoding="utf-8-sig")
    assert table["scenario"].tolist() == ["broken", "high", "low"]
    t = table.set_index("scenario")
    # capacity is a module count x the module's Wp (issue 19): a whole number of 440 W and of 620 W modules
    for name, w in (("low", 440.0), ("high", 620.0)):
        n = t.loc[name, "total_capacity_kwp"] * 1000.0 / w
        assert n > 0 and n == pytest.approx(round(n), abs=1e-6)
    assert "no_such_file.gpkg" in t.loc["broken", "error"]
    assert "| high | done |" in (out / "comparison.md").read_text(encoding="utf-8")
    assert json.loads((out / STATE_FILE).read_text(encoding="utf-8"))["scenarios"].keys() == {"high", "low"}

    # re-run: finished scenarios are skipped (their rows kept), the broken one is tried again
    manifest_before = (out / "low" / "manifest.json").read_bytes()
    res2 = run_batch(load_scenarios([d]), out_dir=out)
    assert {o.name: o.status for o in res2.outcomes} == {"broken": "failed", "high": "skipped", "low": "skipped"}
    assert (out / "low" / "manifest.json").read_bytes() == manifest_before
    pd.testing.assert_frame_equal(res2.comparison.drop(columns="status"), res.comparison.drop(columns="status"))

    # an interrupted run (no manifest) is run again; a changed scenario needs --overwrite
    (out / "low" / "manifest.json").unlink()
    _write(d / "high.toml", f'[inputs]\nbuildings = "{tiny.as_posix()}"\n[roofs]\nmodule = "{MID}"\n')
    (d / "broken.toml").unlink()
    res3 = run_batch(load_scenarios([d]), out_dir=out)
    by = {o.name: o for o in res3.outcomes}
    assert by["low"].status == "done"
    assert by["high"].status == "failed" and "--overwrite" in by["high"].error
    res4 = run_batch(load_scenarios([d]), out_dir=out, overwrite=True)
    assert {o.name: o.status for o in res4.outcomes} == {"high": "done", "low": "skipped"}
    assert is_finished(out / "high", load_scenarios([d / "high.toml"])[0].config)[0]


def test_changed_input_file_is_not_finished(tmp_path, tiny):
    d = tmp_path / "scen"
    d.mkdir()
    local = tmp_path / "b.gpkg"
    shutil.copy(tiny, local)
    _write(d / "one.toml", f'[inputs]\nbuildings = "{local.as_posix()}"\n')
    out = tmp_path / "out"
    [sc] = load_scenarios([d])
    run_batch([sc], out_dir=out)
    assert is_finished(out / "one", sc.config) == (True, "")
    with local.open("ab") as fh:  # any change of the bytes changes the SHA-256
        fh.write(b"\0")
    done, why = is_finished(out / "one", sc.config)
    assert not done and "buildings" in why


def test_cli_batch_exit_code_2_on_failure(tmp_path, tiny):
    from pv_survey.cli import _register, cli

    _register()
    m = _write(tmp_path / "m.toml", f'name = "x"\n[matrix]\n"inputs.buildings" = ["{tiny.as_posix()}", "nope.gpkg"]\n')
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["-q", "batch", str(m), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Error: scenario x__buildings-nope:" in r.output
    assert (out / "comparison.md").is_file()
    # -q: the output folder and the errors, nothing else (issue 17 item 6)
    lines = r.output.splitlines()
    assert lines[0] == f"{out}/" and all(x.startswith("Error: ") for x in lines[1:]) and len(lines) == 2


def test_shipped_sensitivity_matrix_expands():
    """scenarios/sensitivity-matrix.toml (the README's batch example) gives its 2 x 2 x 2 scenarios."""
    from pathlib import Path
    from pv_survey.batch import load_scenarios

    path = Path(__file__).resolve().parents[1] / "scenarios" / "sensitivity-matrix.toml"
    scen = load_scenarios([str(path)])
    assert len(scen) == 8
    mods = sorted({s.config.roofs.module for s in scen})
    assert mods == ["ja-deepblue4-jam66d45-620", "jinko-tiger-neo-54hl4r-bdv-440"]
    assert all(s.name.startswith("sens__") for s in scen)
