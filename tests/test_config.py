"""Scenario config: defaults, unknown keys, types and ranges."""

import pytest

from pv_survey.config import Config, config_from_dict, describe_defaults, load_config
from pv_survey.errors import ConfigError


def test_defaults_have_sources():
    rows = describe_defaults()
    assert rows, "no settings described"
    missing = [key for key, _, src in rows if not src]
    assert not missing, f"settings without a documented source: {missing}"


def test_targets_default_to_district_plan():
    # Tianhe carbon-peak plan 2024: above 3 MW by 2025 and 6 MW by 2030 (s.2(1) item 1) and
    # 50% rooftop-PV coverage of new public-institution and factory buildings by 2025 (item 14)
    t = Config().plan.targets
    assert [(x.kind, x.year, x.capacity_kwp) for x in t if x.kind == "capacity"] == [
        ("capacity", 2025, 3000.0), ("capacity", 2030, 6000.0)]
    cov = [x for x in t if x.kind == "coverage"]
    assert len(cov) == 1 and (cov[0].year, cov[0].share_frac, cov[0].buildings) == (2025, 0.5, "new")
    assert set(cov[0].categories) == {"government", "hospital", "school", "public", "industrial"}
    assert all(x.source for x in t)


def test_target_records_from_toml(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[[plan.targets]]\nname = "roof"\nyear = 2030\nkind = "roof_share"\nshare_frac = 0.3\n'
                 'categories = ["industrial"]\nsource = "test"\n', encoding="utf-8")
    t = load_config(p).plan.targets
    assert len(t) == 1 and t[0].kind == "roof_share" and t[0].categories == ("industrial",)
    p.write_text('[[plan.targets]]\nname = "c"\nyear = 2030\nkind = "coverage"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="share_frac"):
        load_config(p)
    p.write_text('[[plan.targets]]\nname = "c"\nyear = 2030\nkind = "area"\nshare_frac = 0.5\n',
                 encoding="utf-8")
    with pytest.raises(ConfigError, match="kind"):
        load_config(p)


def test_utf8_bom_is_skipped_and_gbk_refused(tmp_path):
    """A scenario saved by Windows Notepad as "UTF-8 with BOM" loads like the same text without
    it (tomllib alone stops at line 1, column 1); GBK text stays a one-line error."""
    text = '[survey]\nname = "天河区-屋顶"\n[roofs]\nedge_setback_m = 1.5\n'
    plain, bom, gbk = tmp_path / "plain.toml", tmp_path / "bom.toml", tmp_path / "gbk.toml"
    plain.write_text(text, encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    gbk.write_bytes(text.encode("gbk"))
    assert load_config(bom) == load_config(plain)
    assert load_config(bom).survey.name == "天河区-屋顶" and load_config(bom).roofs.edge_setback_m == 1.5
    with pytest.raises(ConfigError, match="not UTF-8 text; save the config as UTF-8"):
        load_config(gbk)
    bom.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode("utf-8"))  # only one mark is a signature
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bom)


def test_unknown_key_named(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[roofs]\nedge_setbak_m = 1.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"roofs\.edge_setbak_m"):
        load_config(p)


def test_unknown_section_named():
    with pytest.raises(ConfigError, match="unknown key 'roof'"):
        config_from_dict({"roof": {}})


@pytest.mark.parametrize("toml, match", [
    ("[roofs]\nedge_setback_m = 'one'\n", "must be a number"),
    ("[roofs]\nedge_setback_m = -1\n", "must be >= 0"),
    ("[roofs]\nflat_layout = 'north'\n", "is not one of"),
    ("[[plan.targets]]\nname='x'\nyear=2025\ncapacity_kwp=0\n", "must be > 0"),
    ("[shading]\nn_sectors = 7.5\n", "whole number"),
    ("this is = not toml [", "not valid TOML"),
])
def test_bad_values_rejected(tmp_path, toml, match):
    p = tmp_path / "s.toml"
    p.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_relative_paths_resolved_against_config(tmp_path):
    p = tmp_path / "sub" / "s.toml"
    p.parent.mkdir()
    p.write_text("[inputs]\nweather = 'w.epw'\n", encoding="utf-8")
    cfg = load_config(p)
    assert cfg.inputs.weather == str((p.parent / "w.epw").resolve())


def test_replace_validates():
    cfg = Config().replace(roofs={"edge_setback_m": 2.0})
    assert cfg.roofs.edge_setback_m == 2.0
    with pytest.raises(ConfigError):
        Config().replace(roofs={"edge_setback_m": "x"})


def test_default_scenario_file_shows_every_setting():
    """scenarios/tianhe-default.toml is the documented default: it parses to Config() exactly."""
    from pathlib import Path
    import tomllib
    from pv_survey.config import default_scenario_toml

    path = Path(__file__).resolve().parents[1] / "scenarios" / "tianhe-default.toml"
    text = path.read_text(encoding="utf-8")
    assert text == default_scenario_toml(), "regenerate with pv_survey.config.default_scenario_toml()"
    assert config_from_dict(tomllib.loads(text)) == Config()


def test_guangdong_targets_scenario_loads():
    """scenarios/guangdong-2024-targets.toml: district capacity, Guangdong 2024 coverage targets and
    the NEA 2021 roof shares (50 / 40 / 30 / 20%, REFERENCES.md), the provincial and NEA ones
    marked secondary."""
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "scenarios" / "guangdong-2024-targets.toml")
    t = cfg.plan.targets
    assert [x.kind for x in t].count("capacity") == 2 and [x.kind for x in t].count("coverage") == 4
    assert sorted(x.share_frac for x in t if x.kind == "roof_share") == [0.2, 0.3, 0.4, 0.5]
    assert all("secondary" in x.source for x in t if x.kind != "capacity")
