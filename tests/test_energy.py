"""The energy engine against the plain pvlib reference, the reference against ModelChain, and
analytic properties (capacity scaling, full horizon, sector convention, monthly sums).

Weather: the embedded default Guangzhou year (data/guangzhou_default_year.csv); the real
TMYx EPW where ../shared/data is present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _pvlib_reference import modelchain_annual_kwh as _modelchain_annual_kwh
from pv_survey import energy as E
from pv_survey import weather as W
from pv_survey.errors import InputError, OutputError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EPW_GZ = SHARED / "CHN_GD_Guangzhou.592870_TMYx.2009-2023.epw"


@pytest.fixture(scope="module")
def wx() -> W.Weather:
    return W.default_weather()


# --------------------------------------------------------------------------- the reference is trustworthy


@pytest.mark.parametrize("tilt, az, mount", [(20, 180, "flush"), (35, 90, "flush"), (0, 180, "rack"),
                                             (45, 270, "flush"), (15, 135, "rack")])
def test_reference_equals_modelchain(wx, tilt, az, mount):
    temp = "open_rack_glass_polymer" if mount == "rack" else "close_mount_glass_glass"
    expected = _modelchain_annual_kwh(wx, tilt, az, 7.5, temp)
    ref = E.reference_roof_energy(wx, tilt, az, 7.5, mount=mount)
    assert ref["annual_kwh"] == pytest.approx(expected, rel=0.001)
    assert ref["shading_loss_frac"] == 0.0
    assert sum(ref[c] for c in E.MONTH_COLUMNS) == pytest.approx(ref["annual_kwh"], rel=1e-12)


@pytest.mark.shared_data
def test_reference_and_engine_equal_modelchain_on_real_epw():
    if not EPW_GZ.is_file():
        pytest.skip(f"{EPW_GZ} absent (../shared/data not beside the repository)")
    w = W.read_weather(EPW_GZ)
    expected = _modelchain_annual_kwh(w, 20, 180, 10.0, "close_mount_glass_glass")
    ref = E.reference_roof_energy(w, 20, 180, 10.0, mount="flush")
    res = E.simulate_roofs(w, [20.0], [180.0], [10.0], mount="flush")
    assert ref["annual_kwh"] == pytest.approx(expected, rel=0.001)
    assert res["annual_kwh"].iloc[0] == pytest.approx(expected, rel=0.001)


# --------------------------------------------------------------------------- exactness, issue 3 item 3


def _roof_set(n: int = 240, seed: int = 20241124):
    """Seeded roofs: tilt 0-60, all azimuths, both mounts, some rows, half with horizons."""
    rng = np.random.default_rng(seed)
    tilt = rng.uniform(0, 60, n)
    k = min(n, 8)
    tilt[:k] = [0, 0, 5, 10, 60, 60, 30, 15][:k]                   # edges of the range
    az = rng.uniform(0, 360, n)
    az[:k] = [180, 0, 90, 270, 0, 180, 359.9, 45][:k]
    mount = np.where(rng.random(n) < 0.5, "rack", "flush")
    gcr = np.where((mount == "rack") & (rng.random(n) < 0.7), rng.uniform(0.3, 0.95, n), np.nan)
    cap = rng.uniform(0.5, 500, n)
    with_hz = rng.random(n) < 0.5
    n_q, n_sec = 3, 72
    base = rng.uniform(0, 30, (n, 1, n_sec)) * (rng.random((n, 1, n_sec)) < 0.4)
    spread = np.sort(rng.uniform(-5, 5, (n, n_q, 1)), axis=1)
    hz = np.clip(base + spread, 0, 89).astype(np.float32)
    hz[~with_hz] = -90.0                                            # never above the sun: no horizon
    svf = np.where(with_hz, rng.uniform(0.5, 1.0, n), 1.0)
    return tilt, az, cap, mount, gcr, hz, svf, with_hz


@pytest.mark.slow
def test_engine_within_half_percent_of_reference_for_every_roof(wx):
    tilt, az, cap, mount, gcr, hz, svf, with_hz = _roof_set()
    res = E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, sky_view_frac=svf)
    assert list(res.columns) == E.ENERGY_COLUMNS and len(res) == len(tilt)
    worst = 0.0
    for i in range(len(tilt)):
        ref = E.reference_roof_energy(
            wx, tilt[i], az[i], cap[i], mount=mount[i], gcr=gcr[i],
            horizon_deg=hz[i] if with_hz[i] else None, sky_view_frac=svf[i] if with_hz[i] else None)
        dev = abs(res["annual_kwh"].iloc[i] / ref["annual_kwh"] - 1)
        worst = max(worst, dev)
        assert dev <= 0.005, f"roof {i}: engine {res['annual_kwh'].iloc[i]:.3f} vs reference {ref['annual_kwh']:.3f}"
        assert res["poa_kwh_m2"].iloc[i] == pytest.approx(ref["poa_kwh_m2"], rel=0.005)
        assert res["shading_loss_frac"].iloc[i] == pytest.approx(ref["shading_loss_frac"], abs=0.005)
        np.testing.assert_allclose(res[E.MONTH_COLUMNS].iloc[i].to_numpy(),
                                   [ref[c] for c in E.MONTH_COLUMNS], rtol=0.005, atol=1e-6)
    assert worst <= 0.005
    # the set really exercises shading: horizons and rows cost energy on many roofs
    assert (res["shading_loss_frac"][with_hz] > 0.01).mean() > 0.5


# --------------------------------------------------------------------------- analytic checks


def test_capacity_scaling_and_zero_capacity(wx):
    res = E.simulate_roofs(wx, [25.0, 25.0, 25.0], [200.0] * 3, [0.0, 1.0, 3.0], mount="flush")
    # everything after the irradiance scales with capacity (PVWatts DC, losses, inverter pdc0 = P/ratio)
    assert res["annual_kwh"].iloc[0] == 0.0 and (res[E.MONTH_COLUMNS].iloc[0] == 0).all()
    assert res["annual_kwh"].iloc[2] == pytest.approx(3 * res["annual_kwh"].iloc[1], rel=1e-12)
    assert res["specific_yield_kwh_kwp"].iloc[0] == pytest.approx(res["annual_kwh"].iloc[1], rel=1e-12)
    assert res["performance_ratio"].iloc[1] == pytest.approx(
        res["annual_kwh"].iloc[1] / res["poa_kwh_m2"].iloc[1], rel=1e-12)


def test_monthly_sums_equal_annual(wx):
    tilt, az, cap, mount, gcr, hz, svf, _ = _roof_set(30, seed=3)
    res = E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, sky_view_frac=svf)
    np.testing.assert_allclose(res[E.MONTH_COLUMNS].sum(axis=1), res["annual_kwh"], rtol=1e-12)
    assert (res[E.MONTH_COLUMNS] > 0).all().all()


def test_full_horizon_leaves_only_diffuse(wx):
    """A 90 deg horizon all round blocks beam, circumsolar light and the horizon band; with the sky
    view given as 1 (overriding the horizon's), POA = isotropic sky + ground (pvlib's own components)."""
    tilt, az = 30.0, 160.0
    res = E.simulate_roofs(wx, [tilt], [az], [1.0], mount="flush", horizon_deg=np.full((1, 1, 36), 90.0),
                           sky_view_frac=[1.0])
    comps, ground = _perez_components_and_ground(wx, tilt, az)
    expected = (comps["poa_isotropic"] + ground).sum() / 1000
    assert res["poa_kwh_m2"].iloc[0] == pytest.approx(expected, rel=1e-6)
    assert 0.3 < res["shading_loss_frac"].iloc[0] < 0.9  # beam, circumsolar and band are most of the light
    # left to the horizon, the plane sees no sky at all: nothing arrives
    walled = E.simulate_roofs(wx, [tilt], [az], [1.0], mount="flush", horizon_deg=np.full((1, 1, 36), 90.0))
    assert walled["poa_kwh_m2"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_dark_roof_makes_nothing(wx):
    # horizontal, walled in (90 deg horizon) and no sky view: no beam, no sky, no ground view
    res = E.simulate_roofs(wx, [0.0], [180.0], [5.0], mount="rack", horizon_deg=np.full((1, 72), 90.0),
                           sky_view_frac=[0.0])
    assert res["annual_kwh"].iloc[0] == 0.0 and res["poa_kwh_m2"].iloc[0] == 0.0
    assert res["shading_loss_frac"].iloc[0] == 1.0


def test_sector_convention_clockwise_from_north(wx):
    """At 23 N the sun never stands within 60 deg of north (solstice sunrise azimuth
    arccos(sin 23.44 / cos 23.13) = 64.4 deg), so a wall in the north costs nothing. For an
    east-facing roof a wall in the east (azimuth 90, clockwise from north) costs far more than
    the same wall in the west."""
    n_sec = 72
    centres = np.arange(n_sec) * 360.0 / n_sec
    wall = lambda c: np.where(np.abs((centres - c + 180) % 360 - 180) <= 40, 80.0, 0.0)  # noqa: E731
    hz = np.stack([np.full(n_sec, -90.0), wall(0), wall(90), wall(270)])[:, None, :]
    # the beam rule is under test: sky view and horizon band held open (given), so only the sun's sector counts
    res = E.simulate_roofs(wx, [20.0] * 4, [180.0, 180.0, 90.0, 90.0], [1.0] * 4, mount="flush", horizon_deg=hz,
                           sky_view_frac=[1.0] * 4, horizon_band_open_frac=[1.0] * 4)
    assert res["annual_kwh"].iloc[1] == pytest.approx(res["annual_kwh"].iloc[0], rel=1e-12)
    assert res["shading_loss_frac"].iloc[1] == pytest.approx(0.0, abs=1e-12)
    east, west = res["shading_loss_frac"].iloc[2], res["shading_loss_frac"].iloc[3]
    assert east > 1.5 * west > 0


def test_quantile_rule_is_a_share_of_the_roof(wx):
    """Quantiles (0, 0, 90) shade a third of the roof whenever the sun is up: POA (linear in the
    shaded share) is two thirds of the open roof's plus one third of the walled-in roof's."""
    prof = lambda *q: np.repeat(np.array(q, dtype=float)[:, None], 36, axis=1)  # noqa: E731
    hz = np.stack([prof(0, 0, 0), prof(90, 90, 90), prof(0, 0, 90)])
    res = E.simulate_roofs(wx, [25.0] * 3, [150.0] * 3, [1.0] * 3, mount="flush", horizon_deg=hz)
    poa = res["poa_kwh_m2"].to_numpy()
    assert poa[2] == pytest.approx(2 / 3 * poa[0] + 1 / 3 * poa[1], rel=1e-6)
    assert poa[1] < poa[2] < poa[0]


def test_rows_shade_only_tilted_modules(wx):
    res = E.simulate_roofs(wx, [0.0, 0.0, 15.0, 15.0, 15.0], [180.0] * 5, [1.0] * 5, mount="rack",
                           gcr=[np.nan, 0.9, np.nan, 0.5, 0.9])
    y = res["annual_kwh"].to_numpy()
    assert y[1] == pytest.approx(y[0], rel=1e-12)  # flat modules cast no shadow on each other
    assert y[4] < y[3] < y[2]                     # denser rows, more shade
    np.testing.assert_allclose(res["shading_loss_frac"], 0.0, atol=1e-12)  # rows belong to the layout


def test_no_horizon_equals_horizon_below_the_sun_and_2d_form(wx):
    tilt, az = [10.0, 40.0], [100.0, 250.0]
    plain = E.simulate_roofs(wx, tilt, az, [2.0, 2.0], mount=["rack", "flush"], gcr=[0.6, np.nan])
    low = E.simulate_roofs(wx, tilt, az, [2.0, 2.0], mount=["rack", "flush"], gcr=[0.6, np.nan],
                           horizon_deg=np.full((2, 3, 72), -90.0))
    pd.testing.assert_frame_equal(plain, low, rtol=1e-12)
    prof = np.random.default_rng(0).uniform(0, 40, (2, 24))
    a = E.simulate_roofs(wx, tilt, az, [2.0, 2.0], mount="flush", horizon_deg=prof)
    b = E.simulate_roofs(wx, tilt, az, [2.0, 2.0], mount="flush", horizon_deg=prof[:, None, :])
    pd.testing.assert_frame_equal(a, b)


def test_sky_view_scales_isotropic_diffuse(wx):
    res = E.simulate_roofs(wx, [0.0] * 3, [180.0] * 3, [1.0] * 3, mount="rack", sky_view_frac=[1.0, 0.8, 0.5])
    y = res["annual_kwh"].to_numpy()
    assert y[2] < y[1] < y[0]
    assert res["shading_loss_frac"].iloc[0] == 0.0 and 0 < res["shading_loss_frac"].iloc[1] < res["shading_loss_frac"].iloc[2]


def test_chunks_progress_and_index(wx):
    tilt, az, cap, mount, gcr, hz, svf, _ = _roof_set(7, seed=5)
    calls = []
    a = E.simulate_roofs(wx, pd.Series(tilt, index=list("abcdefg")), az, cap, mount=mount, gcr=gcr,
                         horizon_deg=hz, sky_view_frac=svf, chunk_size=3, progress=lambda d, t: calls.append((d, t)))
    b = E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, sky_view_frac=svf)
    assert calls == [(3, 7), (6, 7), (7, 7)]
    assert list(a.index) == list("abcdefg")
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@pytest.mark.parametrize("kwargs, match", [
    ({"tilt_deg": [95.0]}, r"tilt_deg of roof 0 = 95\.0 is outside 0\.\.90"),
    ({"capacity_kwp": [-1.0]}, "capacity_kwp of roof 0"),
    ({"mount": ["roof"]}, "mount of roof 0 = 'roof' is not 'rack' or 'flush'"),
    ({"mount": ["rack"], "gcr": [1.5]}, "gcr of roof 0"),
    ({"sky_view_frac": [1.2]}, "sky_view_frac of roof 0"),
    ({"azimuth_deg": [180.0, 90.0]}, "azimuth_deg: 2 values for 1 roofs"),
    ({"horizon_deg": np.full((1, 1, 8), np.nan)}, "horizon_deg of roof 0 contains NaN"),
    ({"horizon_deg": np.zeros((2, 8))}, r"horizon_deg has shape \(2, 8\)"),
])
def test_bad_inputs_name_the_roof(wx, kwargs, match):
    args = {"tilt_deg": [20.0], "azimuth_deg": [180.0], "capacity_kwp": [1.0], "mount": ["flush"]}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        E.simulate_roofs(wx, args.pop("tilt_deg"), args.pop("azimuth_deg"), args.pop("capacity_kwp"), **args)


def test_params_from_config_match_pvwatts_defaults():
    from pvlib.pvsystem import pvwatts_losses

    from pv_survey.config import Config

    p = E.params_from_config(Config().energy)
    assert p["losses_frac"] == pytest.approx(pvwatts_losses(shading=0) / 100, rel=1e-12)  # 11.42 %
    assert p["losses_frac"] == pytest.approx(E.DEFAULT_LOSSES_FRAC)
    assert (p["dc_ac_ratio"], p["eta_inv_nom"], p["albedo"]) == (1.2, 0.96, 0.2)


# --------------------------------------------------------------------------- the energy command


def _cli():
    from pv_survey.cli import _register, cli

    _register()
    return cli


def test_cli_csv_with_profiles(tmp_path, wx):
    src = tmp_path / "roofs.csv"
    src.write_text(
        "roof_id,name,tilt_deg,azimuth_deg,capacity_kwp,gcr,sky_view_frac,horizon_deg\n"
        'r1,天河小学,20,180,10,,0.9,"10,20,30,20,10,5,5,5"\n'
        "r2,仓库,0,180,50,0.6,,\n"
        "r3,无数据,,180,5,,,\n",
        encoding="utf-8-sig")
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, encoding="utf-8-sig")
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 BOM for Excel
    assert list(got["name"]) == ["天河小学", "仓库", "无数据"] and list(got["roof_id"]) == ["r1", "r2", "r3"]
    # r1: flush (tilt 20 > 5), horizon profile of 8 sectors; r2: flat -> racked rows at gcr 0.6
    hz = np.full((2, 1, 8), -90.0)
    hz[0, 0] = [10, 20, 30, 20, 10, 5, 5, 5]
    expected = E.simulate_roofs(wx, [20.0, 0.0], [180.0, 180.0], [10.0, 50.0], mount=["flush", "rack"],
                                gcr=[np.nan, 0.6], sky_view_frac=[0.9, np.nan], horizon_deg=hz)
    np.testing.assert_allclose(got[E.ENERGY_COLUMNS].iloc[:2].to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert got[E.ENERGY_COLUMNS].iloc[2].isna().all()
    # never overwrite silently
    again = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(out)])
    assert again.exit_code != 0 and isinstance(again.exception, OutputError)
    assert CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(out), "--overwrite"]).exit_code == 0


def test_cli_geopackage_and_parquet_carry_columns(tmp_path, wx):
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame(
        {"roof_id": ["a", "b"], "tilt_deg": [30.0, 2.0], "azimuth_deg": [90.0, 180.0], "capacity_kwp": [4.0, 9.0],
         "mount": ["flush", "rack"]} | {f"horizon_deg_{k * 90:03d}": [5.0 * k, 0.0] for k in range(4)},
        geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)], crs="EPSG:4547")
    src = tmp_path / "roofs.gpkg"
    gdf.to_file(src, layer="roofs", driver="GPKG")
    for name in ("out.gpkg", "out.parquet"):
        out = tmp_path / name
        res = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(out)])
        assert res.exit_code == 0, res.output
        got = gpd.read_file(out) if name.endswith(".gpkg") else gpd.read_parquet(out)
        assert got.crs.to_epsg() == 4547 and list(got["roof_id"]) == ["a", "b"]
        assert got.geometry.area.tolist() == pytest.approx([100.0, 100.0])
        hz = np.array([[0.0, 5.0, 10.0, 15.0], [0.0, 0.0, 0.0, 0.0]])[:, None, :]
        expected = E.simulate_roofs(wx, [30.0, 2.0], [90.0, 180.0], [4.0, 9.0], mount=["flush", "rack"],
                                    horizon_deg=hz)
        np.testing.assert_allclose(got["annual_kwh"].to_numpy(), expected["annual_kwh"].to_numpy(), rtol=1e-9)
    bad = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2


def test_roof_table_errors_name_the_row():
    with pytest.raises(InputError, match="column 'capacity_kwp' missing"):
        E.roof_table_inputs(pd.DataFrame({"tilt_deg": [1.0], "azimuth_deg": [2.0]}), where="t.csv")
    with pytest.raises(InputError, match="horizon_deg of row 1 has 3 values, other rows 2"):
        E.roof_table_inputs(pd.DataFrame({"tilt_deg": [1.0, 2.0], "azimuth_deg": [2.0, 3.0],
                                          "capacity_kwp": [1.0, 1.0], "horizon_deg": ["1,2", "1,2,3"]}))
    with pytest.raises(InputError, match="tilt_deg of row 0 = 'steep' is not a number"):
        E.roof_table_inputs(pd.DataFrame({"tilt_deg": ["steep"], "azimuth_deg": [2.0], "capacity_kwp": [1.0]}))


# --------------------------------------------------------------------------- issue 14: view factors, IAM


def test_plane_sky_view_closed_forms():
    """Closed forms of the view factor from a plane to the sky above its horizon (relative to the
    open plane's (1 + cos b) / 2): uniform h on a horizontal plane -> cos^2 h (Dozier & Frew 1990);
    h = 0 on a plane of any tilt -> 1; a vertical plane facing an infinite wall seen at elevation h0
    straight ahead (tan h = tan h0 cos(dphi)) -> the 2-D view factor (1 - sin h0) / 2 over 1/2."""
    from pv_survey.shading import plane_sky_view_frac, sky_view_factor

    n = 72
    for h in (0.0, 10.0, 30.0, 60.0):
        sky, _ = plane_sky_view_frac(np.full((1, n), h), 0.0, 180.0)
        assert sky[0] == pytest.approx(np.cos(np.radians(h)) ** 2, abs=1e-9)
        assert sky[0] == pytest.approx(sky_view_factor(np.full(n, h)), abs=1e-9)
    for tilt in (10.0, 30.0, 60.0, 90.0):
        sky, band = plane_sky_view_frac(np.zeros((1, n)), tilt, 123.0)
        assert sky[0] == pytest.approx(1.0, abs=1e-4) and band[0] == pytest.approx(1.0)  # midpoint-rule error
    phi = np.radians(np.arange(n) * 360.0 / n - 180.0)  # facing south
    for h0 in (10.0, 30.0, 60.0):
        wall = np.where(np.cos(phi) > 0, np.degrees(np.arctan(np.tan(np.radians(h0)) * np.cos(phi))), 0.0)
        sky, _ = plane_sky_view_frac(wall[None], 90.0, 180.0)
        assert 0.5 * sky[0] == pytest.approx((1 - np.sin(np.radians(h0))) / 2, abs=2e-3)
    # an obstruction behind a tilted plane (which it cannot see) costs nothing; in front it does
    behind = np.where(np.cos(phi) < -0.5, 40.0, 0.0)  # north wall, plane faces south at 30 deg
    front = np.roll(behind, n // 2)
    s_b, _ = plane_sky_view_frac(behind[None], 30.0, 180.0)
    s_f, _ = plane_sky_view_frac(front[None], 30.0, 180.0)
    assert s_f[0] < s_b[0] < 1.0 and s_b[0] > 0.97


def test_horizon_band_open_share():
    """The Perez band (6.5 deg, Perez et al. 1987) is half open behind a uniform 3.25 deg horizon,
    closed behind 6.5 deg, and only the sectors in front of the plane count."""
    from pv_survey.shading import HORIZON_BAND_WIDTH_DEG, plane_sky_view_frac

    n = 72
    _, half = plane_sky_view_frac(np.full((1, n), HORIZON_BAND_WIDTH_DEG / 2), 90.0, 180.0)
    _, shut = plane_sky_view_frac(np.full((1, n), HORIZON_BAND_WIDTH_DEG), 90.0, 180.0)
    assert half[0] == pytest.approx(0.5) and shut[0] == 0.0
    phi = np.radians(np.arange(n) * 360.0 / n - 180.0)
    _, back = plane_sky_view_frac(np.where(np.cos(phi) < 0, 30.0, 0.0)[None], 90.0, 180.0)
    assert back[0] == pytest.approx(1.0)


def test_row_sky_diffuse_matches_pvlib_infinite_sheds():
    """Row masking of sky diffuse: the engine's factor times the open plane's (1 + cos b)/2 equals the
    front-side sky diffuse of pvlib's infinite-sheds model per unit DHI (isotropic sky)."""
    from pvlib.bifacial import infinite_sheds

    tilt = np.array([5.0, 10.0, 15.0, 25.0, 35.0])
    for gcr in (0.3, 0.5, 0.751, 0.9):
        sky, gnd = E.row_view_factors(tilt, np.full(len(tilt), gcr))
        for t, f in zip(tilt, sky):
            out = infinite_sheds.get_irradiance_poa(t, 180.0, 60.0, 180.0, gcr, 1.0, 1.0 / gcr, ghi=100.0,
                                                    dhi=100.0, dni=0.0, albedo=0.0, model="isotropic")
            assert f * 0.5 * (1 + np.cos(np.radians(t))) == pytest.approx(out["poa_sky_diffuse"] / 100.0, rel=1e-9)
        assert ((0 < gnd) & (gnd < 1)).all() and ((0 < sky) & (sky < 1)).all()
    # 15 deg at GCR 0.751 (issue 14): about 4% of the isotropic sky masked, not Passias' 0.4%
    s, _ = E.row_view_factors(np.array([15.0]), np.array([0.751]))
    assert 0.02 < 1 - s[0] < 0.06


def test_diffuse_iam_is_marions():
    import pvlib

    tilts = np.array([0.0, 7.3, 15.0, 26.0, 44.4, 90.0])
    sky, hor, gnd = E.diffuse_iam(tilts)
    with np.errstate(invalid="ignore"):
        m = pvlib.iam.marion_diffuse("physical", tilts)
    np.testing.assert_allclose(sky, m["sky"], atol=1e-5)
    np.testing.assert_allclose(hor[1:], m["horizon"][1:], atol=1e-4)
    np.testing.assert_allclose(gnd[1:], m["ground"][1:], atol=1e-4)


def test_shipped_marion_table_is_pvlibs():
    # the table shipped in pv_survey/presets (computing it costs pvlib seconds every run) holds
    # pvlib.iam.marion_diffuse('physical') itself at its grid tilts
    tilts, sky, hor, gnd = E._marion_table()
    assert tilts[0] == 0.0 and tilts[-1] == 90.0 and np.allclose(np.diff(tilts), E.MARION_TABLE_STEP_DEG)
    rows = [1, 60, 104, 181, 359, 360]  # 0.25, 15, 26, 45.25, 89.75, 90 deg
    live = E.marion_table_rows(tilts[rows])
    np.testing.assert_allclose(sky[rows], live["sky"], rtol=1e-12)
    np.testing.assert_allclose(hor[rows], live["horizon"], rtol=1e-12)
    np.testing.assert_allclose(gnd[rows], live["ground"], rtol=1e-12)


def test_given_sky_view_scales_sky_and_ground(wx):
    """A given sky view s (no horizon) scales the isotropic sky and the ground-reflected light:
    POA(s) = POA(1) - (1 - s) (isotropic + ground), with pvlib's own Perez and ground terms."""
    tilt, az = 90.0, 180.0
    res = E.simulate_roofs(wx, [tilt, tilt], [az, az], [1.0, 1.0], mount="flush", sky_view_frac=[1.0, 0.4])
    comps, ground = _perez_components_and_ground(wx, tilt, az)
    lost = 0.6 * (comps["poa_isotropic"] + ground).sum() / 1000
    poa = res["poa_kwh_m2"].to_numpy()
    assert poa[0] - poa[1] == pytest.approx(lost, rel=1e-3)


def test_hourly_profiles_sum_to_annual_and_group(wx):
    """Hourly AC per group sums to the roofs' annual energy; chunks of HOURLY_CHUNK_ROOFS change nothing."""
    tilt, az, cap, mount, gcr, hz, svf, _ = _roof_set(40, seed=5)
    groups = np.arange(40) % 3
    groups[0] = -1  # in no group
    res, hourly = E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, sky_view_frac=svf,
                                   hourly_groups=groups, chunk_size=7)
    plain = E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, sky_view_frac=svf)
    pd.testing.assert_frame_equal(res, plain)
    assert hourly.shape == (8760, 3) and hourly.index.equals(wx.data.index)
    for g in range(3):
        assert hourly[g].sum() == pytest.approx(res["annual_kwh"][groups == g].sum(), rel=1e-10)
    # monthly sums of the hourly profile are the monthly columns
    m = hourly.groupby(hourly.index.month).sum()
    np.testing.assert_allclose(m[1].to_numpy(), res[E.MONTH_COLUMNS][groups == 1].sum().to_numpy(), rtol=1e-10)
    # night hours give nothing
    assert (hourly[wx.data["ghi"].to_numpy() + wx.data["dni"].to_numpy() + wx.data["dhi"].to_numpy() == 0] == 0).all().all()


def test_cli_hourly_profile(tmp_path, wx):
    src = tmp_path / "roofs.csv"
    src.write_text("roof_id,phase,tilt_deg,azimuth_deg,capacity_kwp\n"
                   "a,一期,20,180,10\nb,二期,30,90,5\nc,一期,0,180,8\n", encoding="utf-8-sig")
    out, hourly = tmp_path / "out.csv", tmp_path / "hourly.csv"
    res = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(out), "--hourly", str(hourly),
                                      "--hourly-by", "phase"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, encoding="utf-8-sig")
    h = pd.read_csv(hourly, encoding="utf-8-sig")
    assert len(h) == 8760 and list(h.columns) == ["time", "total_kwh", "一期_kwh", "二期_kwh"]
    assert h["total_kwh"].sum() == pytest.approx(got["annual_kwh"].sum(), rel=1e-5)
    assert h["一期_kwh"].sum() == pytest.approx(got["annual_kwh"][got["phase"] == "一期"].sum(), rel=1e-5)
    bad = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(tmp_path / "o2.csv"), "--hourly",
                                      str(tmp_path / "h2.csv"), "--hourly-by", "nope"])
    assert bad.exit_code != 0 and isinstance(bad.exception, InputError) and "nope" in str(bad.exception)


def _perez_components_and_ground(wx, tilt, az):
    """pvlib's own Perez components and isotropic ground-reflected term (albedo 0.2) for one plane. [W/m2]"""
    import pvlib

    d = wx.data
    sp = pvlib.solarposition.get_solarposition(d.index, wx.latitude_deg, wx.longitude_deg, wx.altitude_m,
                                               pressure=pvlib.atmosphere.alt2pres(wx.altitude_m),
                                               temperature=d["temp_air"])
    comps = pvlib.irradiance.perez(tilt, az, d["dhi"], d["dni"], pvlib.irradiance.get_extra_radiation(d.index),
                                   sp["apparent_zenith"], sp["azimuth"],
                                   pvlib.atmosphere.get_relative_airmass(sp["apparent_zenith"]),
                                   return_components=True).fillna(0)
    return comps, pvlib.irradiance.get_ground_diffuse(tilt, d["ghi"], albedo=0.2)


def test_cli_quiet_prints_the_output_paths_only(tmp_path, wx, restore_root_logging):
    # issue 17 item 6: -q prints errors and where the outputs are, nothing else
    src = tmp_path / "roofs.csv"
    src.write_text("roof_id,tilt_deg,azimuth_deg,capacity_kwp\na,20,180,10\n", encoding="utf-8-sig")
    out, hourly = tmp_path / "out.csv", tmp_path / "hourly.csv"
    res = CliRunner().invoke(_cli(), ["-q", "energy", str(src), "--out", str(out), "--hourly", str(hourly)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [str(out), str(hourly)]
    loud = CliRunner().invoke(_cli(), ["energy", str(src), "--out", str(tmp_path / "o2.csv")])
    assert loud.exit_code == 0 and "MWh/yr" in loud.output
