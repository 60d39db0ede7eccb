"""The resource registry: each resource's settings reach its survey, totals add up by hand."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pv_survey import assessment, pipeline, resources
from pv_survey.carports import EXCLUDED as CARPORT_EXCLUDED
from pv_survey.config import Config

CRS = "EPSG:4547"


@pytest.fixture(scope="module")
def scene(clearsky_weather):
    """One 20 m x 20 m, 30 m tall building and two car parks of 50 m2 and 400 m2 east of it."""
    b = gpd.GeoDataFrame({"building_id": ["B1"], "height_m": [30.0], "excluded_reason": [""]},
                         geometry=[shapely.box(0, 0, 20, 20)], crs=CRS)
    lots = gpd.GeoDataFrame({"carport_id": ["small", "big"]},
                            geometry=[shapely.box(100, 0, 105, 10), shapely.box(100, 50, 120, 70)], crs=CRS)
    return b, lots, clearsky_weather


def test_carport_min_area_is_the_config_setting(scene):
    b, lots, wx = scene
    cfg = Config().replace(resources={"kinds": ["roofs", "carports"], "carport_min_area_m2": 100.0})
    dsm, owner_of, _ = pipeline.build_dsm(cfg, b, (0.0, 0.0, 120.0, 70.0))
    out = assessment.assess_resource("carports", cfg, b, dsm, wx, parking=lots, owner_of=owner_of)
    # 5 m x 10 m = 50 m2 < 100 m2: no canopy; 20 m x 20 m = 400 m2 >= 100 m2: a canopy
    assert out["excluded_reason"].tolist() == [CARPORT_EXCLUDED["small"], ""]
    cfg0 = cfg.replace(resources={"carport_min_area_m2": 10.0})
    out0 = assessment.assess_resource("carports", cfg0, b, dsm, wx, parking=lots, owner_of=owner_of)
    assert out0["excluded_reason"].tolist() == ["", ""]


def test_totals_cost_is_kept_capacity_times_capex():
    cfg = Config().replace(resources={"facade_capex_cny_per_w": 5.0, "carport_capex_cny_per_w": 4.0})
    fac = pd.DataFrame({"capacity_kwp": [10.0, 2.0, 3.0], "annual_kwh": [5000.0, 1000.0, 900.0],
                        "excluded_reason": ["", "x", ""]})
    car = pd.DataFrame({"capacity_kwp": [100.0], "annual_kwh": [120000.0], "excluded_reason": [""]})
    tot = resources.totals({"facades": fac, "carports": car}, cfg.resources)
    # by hand: kept facades 10 + 3 = 13 kWp, 5.9 MWh, 13 kWp x 1000 W/kWp x 5 CNY/W = 65,000 CNY
    assert tot["facades"] == {"n_total": 3, "n_kept": 2, "capacity_kwp": 13.0, "annual_mwh": pytest.approx(5.9),
                              "capex_cny": pytest.approx(65_000.0)}
    assert tot["carports"]["capex_cny"] == pytest.approx(400_000.0)  # 100 kWp x 1000 x 4 CNY/W
    lines = resources.summary_lines(tot)
    assert lines[0].startswith("Facades (BIPV) / 立面光伏: 2 of 3 usable, 13 kWp, 6 MWh/yr, about 0.1 M CNY")
    assert "不计入屋顶光伏目标" in lines[1]


def test_registry_names_are_the_config_kinds():
    # every resource that resources.kinds accepts has a registry entry, and no other
    cfg = Config().replace(resources={"kinds": list(resources.REGISTRY)})
    assert set(cfg.resources.kinds) == set(resources.REGISTRY)
    for r in resources.REGISTRY.values():
        assert r.capex_field is None or hasattr(cfg.resources, r.capex_field)


def test_verbose_error_shows_the_gdal_cause(tmp_path):
    """An unreadable input is one line; with --verbose the GDAL error it came from follows (chained)."""
    import subprocess
    import sys
    from pathlib import Path

    cli_py = Path(__file__).resolve().parents[1] / "cli.py"
    bad = tmp_path / "bad.gpkg"
    bad.write_text("not a geopackage\n", encoding="utf-8")
    args = ["run", "--buildings", str(bad), "--out", str(tmp_path / "o")]
    plain = subprocess.run([sys.executable, str(cli_py), "-q", *args], capture_output=True, text=True)
    verbose = subprocess.run([sys.executable, str(cli_py), "-q", "-v", *args], capture_output=True, text=True)
    assert plain.returncode == verbose.returncode == 2
    err = [line for line in plain.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"Error: {bad}")
    extra = [line for line in verbose.stderr.splitlines() if line.startswith("  caused by ")]
    # pyogrio raises DataSourceError for a file GDAL does not recognise
    assert extra and "pyogrio.errors.DataSourceError" in extra[0]
    assert "Traceback" not in verbose.stderr


def test_profile_strings_are_the_median_profile_in_tenths():
    import numpy as np

    from pv_survey.assessment import profile_strings

    h = np.zeros((3, 3, 4))
    h[0, 1] = [0.0, 12.24, 12.26, 30.0]   # the middle quantile is written, rounded to tenths
    h[1, 1] = [5.04, 5.06, 89.96, 0.4]
    h[0, 0] = 99.0                         # other quantiles are not written
    assert profile_strings(h).tolist() == ["0,12.2,12.3,30", "5,5.1,90,0.4", "0,0,0,0"]
    h[2, 1, 0] = np.nan                    # a missing value is written as nan
    assert profile_strings(h)[2] == "nan,0,0,0"
    assert profile_strings(np.zeros((0, 3, 72))).size == 0
