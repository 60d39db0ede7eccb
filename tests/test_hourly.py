"""Hourly AC profiles of the plan (issue 14, "Hourly output"): per build-year site, per build
phase and for the district; files, README index and the report's typical-day chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pv_survey import energy as E
from pv_survey import plan as P
from pv_survey.outputs.hourly import typical_day_kw
from pv_survey.weather import Weather


def _year(wx: Weather, year: int) -> Weather:
    """The clear-sky test weather moved to ``year`` (8,784 hours in a leap year: Feb 28 repeated)."""
    times = pd.date_range(f"{year}-01-01 00:30", periods=8784 if year % 4 == 0 else 8760, freq="h",
                          tz="Asia/Shanghai")
    src = wx.data.to_numpy()
    rows = np.r_[np.arange(59 * 24), np.arange(58 * 24, 59 * 24), np.arange(59 * 24, 8760)] \
        if len(times) == 8784 else np.arange(8760)
    return Weather(pd.DataFrame(src[rows], index=times, columns=wx.data.columns), wx.latitude_deg, wx.longitude_deg,
                   wx.altitude_m, f"test year {year}")


def _roofs():
    """Four kept roofs (two on building A, one each on B and C) and one excluded roof of B; each
    kept roof's annual_kwh from the engine with three quantile horizon profiles (as the
    assessment computes it), the table keeping only the median profile as text."""
    return pd.DataFrame({
        "roof_id": ["A1", "A2", "B1", "B2", "C1"],
        "building_id": ["A", "A", "B", "B", "C"],
        "tilt_deg": [0.0, 25.0, 0.0, 30.0, 10.0],
        "azimuth_deg": [180.0, 100.0, 180.0, 0.0, 250.0],
        "module_tilt_deg": [15.0, np.nan, 15.0, np.nan, np.nan],
        "module_azimuth_deg": [180.0, np.nan, 180.0, np.nan, np.nan],
        "mount": ["rack", "flush", "rack", "flush", "flush"],
        "gcr": [0.6, np.nan, 0.5, np.nan, np.nan],
        "capacity_kwp": [50.0, 20.0, 80.0, 10.0, 5.0],
        "excluded_reason": ["", "", "", "north-facing roof plane", ""],
    })


def _assess(roofs: pd.DataFrame, wx: Weather) -> pd.DataFrame:
    """Yield with (n, 3, 8) quantile horizons; the median profile kept as text, as the assessment does."""
    rng = np.random.default_rng(14)
    n = len(roofs)
    hz = np.sort(rng.uniform(0.0, 35.0, size=(n, 3, 8)), axis=1).astype(np.float32)
    ok, kw = E.roof_table_inputs(roofs)
    kw["horizon_deg"] = hz
    res = E.simulate_roofs(wx, **kw)
    out = roofs.copy()
    out["annual_kwh"] = res["annual_kwh"].to_numpy()
    out["horizon_deg"] = [",".join(f"{v:g}" for v in np.round(h[1], 1)) for h in hz]
    out.loc[out["excluded_reason"] != "", "annual_kwh"] = np.nan
    return out


def test_profiles_of_kept_surfaces_add_up_to_each_assessed_year(clearsky_weather):
    wx = clearsky_weather
    roofs = _assess(_roofs(), wx)
    kept = roofs[roofs["excluded_reason"] == ""].reset_index(drop=True)
    groups = np.array([0, 0, 1, -1])  # C1 in no group
    hourly, scale = E.hourly_profiles_of_kept(kept, wx, groups)
    assert hourly.shape == (8760, 2) and hourly.index.equals(wx.data.index)
    # each group's year is the sum of its surfaces' assessed years
    assert hourly[0].sum() == pytest.approx(kept["annual_kwh"][:2].sum(), rel=1e-9)
    assert hourly[1].sum() == pytest.approx(kept["annual_kwh"][2], rel=1e-9)
    # the shape of each surface is its own median-horizon simulation, scaled: B1 alone
    ok, kw = E.roof_table_inputs(kept.iloc[[2]])
    _, alone = E.simulate_roofs(wx, **kw, hourly_groups=[0])
    assert np.allclose(hourly[1].to_numpy(), scale[2] * alone[0].to_numpy(), rtol=1e-9, atol=1e-12)
    # the median profile is close to the three quantiles: scales near 1
    assert np.all(np.abs(scale - 1.0) < 0.1), scale


def _plan():
    return pd.DataFrame({
        "rank": [1, 2, 3, 4], "building_id": ["B", "A", "C", "D"], "name": ["乙", "甲", "丙", "丁"],
        "phase": ["2027", "2030", "reserve", "pinned out"],
        "build_year": pd.array([2027, 2030, pd.NA, pd.NA], dtype="Int64"),
    })


@pytest.mark.parametrize("year", [2023, 2024])
def test_plan_hourly_sites_phases_district(clearsky_weather, year):
    wx = _year(clearsky_weather, year)
    roofs = _assess(_roofs(), wx)
    plan = _plan()
    kept = roofs[roofs["excluded_reason"] == ""]
    plan["annual_kwh"] = plan["building_id"].map(kept.groupby("building_id")["annual_kwh"].sum())
    hp = P.plan_hourly(plan, roofs, wx, energy_params={})
    n_hours = 8784 if year == 2024 else 8760
    # the build-year sites only (no reserve, no pinned out), in rank order, every hour of the weather year
    assert list(hp.sites.columns) == ["B", "A"] and len(hp.sites) == n_hours == len(wx.data)
    assert hp.sites.index.equals(wx.data.index)
    # a site's hours add up to its annual_kwh in the plan (the excluded roof B2 not counted)
    for bid in ("A", "B"):
        want = float(plan.loc[plan["building_id"] == bid, "annual_kwh"].iloc[0])
        assert hp.sites[bid].sum() == pytest.approx(want, rel=1e-6)
    # phases in build-year order, each the sum of its sites; the district the sum of the phases
    assert list(hp.phases.columns) == ["2027", "2030"]
    assert np.allclose(hp.phases["2027"], hp.sites["B"]) and np.allclose(hp.phases["2030"], hp.sites["A"])
    assert np.allclose(hp.district, hp.phases.sum(axis=1))
    assert (hp.sites.to_numpy() >= 0).all() and (hp.district[wx.data["ghi"] == 0] == 0).all()
    # batches of one site give the same profiles
    one = P.plan_hourly(plan, roofs, wx, energy_params={}, sites_per_batch=1)
    assert np.allclose(one.sites.to_numpy(), hp.sites.to_numpy(), rtol=1e-12)
    assert np.allclose(one.phases.to_numpy(), hp.phases.to_numpy(), rtol=1e-12)
    assert "2 build-year sites (3 roofs)" in P.hourly_note(hp)


def test_typical_day_is_the_mean_of_each_hour_in_each_month():
    idx = pd.date_range("2023-01-01 00:30", periods=8760, freq="h", tz="Asia/Shanghai")
    # energy = month x 100 + hour of the day, plus 10 on odd days: the mean adds 10 x (odd days / days)
    kwh = idx.month * 100.0 + idx.hour + np.where(idx.day % 2 == 1, 10.0, 0.0)
    t = typical_day_kw(pd.Series(kwh, index=idx))
    assert t.shape == (12, 24)
    for m, days in ((1, 31), (2, 28), (4, 30)):
        odd = (days + 1) // 2
        assert t.loc[m, 13] == pytest.approx(m * 100 + 13 + 10.0 * odd / days)


def test_written_files_report_and_index(tmp_path, clearsky_weather):
    import geopandas as gpd

    from pv_survey.outputs import write_outputs
    from test_outputs import make_district

    d = make_district()
    hp = P.plan_hourly(d["plan"], d["roofs"], clearsky_weather, energy_params={})
    assert hp.sites.shape[1] == int((~d["plan"]["phase"].isin(["reserve", "pinned out", ""])).sum()) > 0
    paths = write_outputs(tmp_path / "csv", **d, chart_font=True, hourly=hp)
    for name in ("hourly_district.csv", "hourly_phases.csv", "hourly_sites.csv"):
        raw = paths[name].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, as the shortlists
        f = pd.read_csv(paths[name], encoding="utf-8-sig")
        assert len(f) == 8760 and f.columns[0] == "time" and f["time"][0] == "2023-01-01T00:30:00+08:00"
    sites = pd.read_csv(paths["hourly_sites.csv"], encoding="utf-8-sig").set_index("time")
    want = d["plan"].set_index("building_id")["annual_kwh"]
    for bid in sites.columns:  # written to 0.1 Wh: a year adds up within 1e-5
        assert sites[bid].sum() == pytest.approx(want[bid], rel=1e-5)
    phases = pd.read_csv(paths["hourly_phases.csv"], encoding="utf-8-sig").set_index("time")
    district = pd.read_csv(paths["hourly_district.csv"], encoding="utf-8-sig").set_index("time")
    assert np.allclose(phases.sum(axis=1), district["district_kwh"], atol=1e-3)
    assert np.allclose(sites.sum(axis=1), district["district_kwh"], atol=1e-3)
    index = paths["README.txt"].read_text(encoding="utf-8-sig")
    for name in ("hourly_district.csv", "hourly_phases.csv", "hourly_sites.csv"):
        assert f"\n{name}\n    " in index  # listed, with its description under it
    html = paths["report.html"].read_text(encoding="utf-8")
    assert 'alt="已规划项目各月典型日出力' in html and "Typical day of each month" in html
    # the per-site profiles as GeoParquet: one row per site with its footprint and the hours as a list
    paths = write_outputs(tmp_path / "pq", **d, chart_font=None, hourly=hp, hourly_sites_format="parquet")
    assert "hourly_sites.csv" not in paths
    g = gpd.read_parquet(paths["hourly_sites.parquet"])
    assert list(g["building_id"]) == list(hp.sites.columns) and g.crs == d["buildings"].crs
    assert g.geometry.notna().all() and set(g["hours"]) == {8760}
    for bid, kwh in zip(g["building_id"], g["kwh"]):
        assert len(kwh) == 8760 and float(np.sum(kwh)) == pytest.approx(want[bid], rel=1e-9)
    assert "hourly_sites.parquet" in paths["README.txt"].read_text(encoding="utf-8-sig")


@pytest.mark.slow
def test_demo_run_with_hourly_and_a_boundary_through_the_cli(tmp_path, capsys, restore_root_logging):
    """`pv-survey -q run --hourly --boundary B` on the embedded demo (issues 14 and 17)."""
    import sqlite3

    import geopandas as gpd
    import pyogrio
    import shapely

    from pv_survey.cli import main
    from pv_survey.pipeline import DEFAULT_BUILDINGS

    b = gpd.read_file(DEFAULT_BUILDINGS).to_crs("EPSG:4547")  # the survey CRS
    x0, y0, x1, y1 = b.total_bounds
    poly = shapely.box(x0 - 10, y0 - 10, (x0 + x1) / 2, y1 + 10)  # the western half of the district
    bpath = tmp_path / "west.geojson"
    gpd.GeoDataFrame({"name": ["西半区"]}, geometry=[poly], crs=b.crs).to_crs("EPSG:4326").to_file(bpath)
    out = tmp_path / "demo"
    main(["-q", "run", "--out", str(out), "--hourly", "--boundary", str(bpath)])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [f"{out}/"]  # -q: the output folder only
    plan = pyogrio.read_dataframe(out / "survey.gpkg", layer="plan")
    built = plan[plan["build_year"].notna()].sort_values("rank")
    sites = pd.read_csv(out / "hourly_sites.csv", encoding="utf-8-sig").set_index("time")
    assert list(sites.columns) == built["building_id"].tolist() and len(sites) == 8760
    got = sites.sum().to_numpy()
    assert np.allclose(got, built["annual_kwh"].to_numpy(), rtol=1e-5)
    phases = pd.read_csv(out / "hourly_phases.csv", encoding="utf-8-sig").set_index("time")
    for year, part in built.groupby("build_year"):
        assert np.allclose(phases[f"{int(year)}_kwh"], sites[part["building_id"]].sum(axis=1), atol=5e-3)
    district = pd.read_csv(out / "hourly_district.csv", encoding="utf-8-sig").set_index("time")
    assert np.allclose(district["district_kwh"], phases.sum(axis=1), atol=5e-3)
    # the boundary: its own styled layer, on the map, and the buildings outside it counted
    layer = pyogrio.read_dataframe(out / "survey.gpkg", layer="boundary")
    assert layer["name"].tolist() == ["西半区"] and layer.geometry.iloc[0].symmetric_difference(poly).area < 1.0
    with sqlite3.connect(out / "survey.gpkg") as con:
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles")}
    assert "boundary" in styled
    blds = pyogrio.read_dataframe(out / "survey.gpkg", layer="buildings")
    n_out = int((~blds.geometry.representative_point().within(poly)).sum())
    assert 0 < n_out < len(blds)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"{n_out:,} of {len(blds):,} buildings lie outside the district boundary" in summary
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="boundary"' in html and "Typical day of each month" in html and 'id="map-tools"' in html
    index = (out / "README.txt").read_text(encoding="utf-8-sig")
    assert all(n in index for n in ("hourly_sites.csv", "hourly_phases.csv", "hourly_district.csv"))
    assert "boundary" in index.split("survey.gpkg", 1)[1].split("\n\n", 1)[0]  # among the listed layers


def test_api_hourly_without_writing(tmp_path, monkeypatch):
    """`run_survey(cfg, write=False, hourly=True).hourly` on a small synthetic district: the
    profiles of the plan's build-year sites, in memory, nothing written."""
    from pv_survey import run_survey
    from pv_survey.citygen import write_city
    from pv_survey.config import Config

    monkeypatch.chdir(tmp_path)  # a run that wrote would write into ./outputs/city60
    city = write_city(tmp_path / "city.parquet", 60)
    cfg = Config().replace(inputs={"buildings": str(city)}, survey={"name": "city60"})
    res = run_survey(cfg, write=False, hourly=True)
    hp = res.hourly
    built = res.plan.plan[res.plan.plan["build_year"].notna()].sort_values("rank")
    assert list(hp.sites.columns) == built["building_id"].astype(str).tolist() and len(built) > 0
    assert np.allclose(hp.sites.sum().to_numpy(), built["annual_kwh"].to_numpy(), rtol=1e-6)
    assert np.allclose(hp.district, hp.phases.sum(axis=1))
    assert any(n.startswith("hourly profiles:") for n in res.summary["notes"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.parquet"]  # nothing written
    assert run_survey(cfg, write=False).hourly is None  # off by default



def test_facades_and_carports_hourly_beside_the_plan(tmp_path, clearsky_weather):
    from pv_survey.outputs import write_outputs
    from test_outputs import make_district

    wx = clearsky_weather
    facades = _assess(pd.DataFrame({
        "tilt_deg": [90.0, 90.0, 90.0], "azimuth_deg": [180.0, 90.0, 0.0], "mount": "flush",
        "gcr": np.nan, "capacity_kwp": [12.0, 8.0, 5.0],
        "excluded_reason": ["", "", "irradiation below 800 kWh/m2 a year / 辐照不足"]}), wx)
    carports = _assess(pd.DataFrame({
        "tilt_deg": [5.0], "azimuth_deg": [180.0], "mount": ["flush"], "gcr": [np.nan], "capacity_kwp": [40.0],
        "excluded_reason": [""]}), wx)
    got = P.resource_hourly({"facades": facades, "carports": carports}, wx,
                            params_by_name={"facades": {"temp_model_flush": "insulated_back_glass_polymer"}})
    assert list(got.columns) == ["facades_kwh", "carports_kwh"] and got.index.equals(wx.data.index)
    # every kept surface's year; the excluded facade not counted
    assert got["facades_kwh"].sum() == pytest.approx(facades["annual_kwh"][:2].sum(), rel=1e-9)
    assert got["carports_kwh"].sum() == pytest.approx(carports["annual_kwh"].sum(), rel=1e-9)
    assert P.resource_hourly({}, wx, params_by_name={}) is None
    d = make_district()
    hp = P.plan_hourly(d["plan"], d["roofs"], wx, energy_params={})
    hp.resources = got
    paths = write_outputs(tmp_path / "o", **d, chart_font=None, hourly=hp)
    f = pd.read_csv(paths["hourly_resources.csv"], encoding="utf-8-sig")
    assert list(f.columns) == ["time", "facades_kwh", "carports_kwh"] and len(f) == 8760
    assert "\nhourly_resources.csv\n    " in paths["README.txt"].read_text(encoding="utf-8-sig")
