"""Yield of many surfaces grouped by orientation (energy.simulate_by_orientation).

The expectations come from the per-point engine (energy.simulate_roofs with reference=False), whose
own agreement with plain pvlib calls is tested in tests/test_energy.py, and for one segment from
that plain-pvlib reference (energy.reference_roof_energy) directly. The grouped method is exact
algebra on the same model chain, so the tolerance is rounding: 1e-9 relative (measured on the
demo district's 52,089 row segments: largest 2.7e-15 for annual_kwh, 8.3e-15 for poa_kwh_m2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pv_survey import energy as E
from pv_survey import weather as W
from pv_survey.errors import InputError

#: Relative tolerance of the grouped sums against the per-point engine (rounding only).
RTOL = 1e-9
N_SECTORS = 72


@pytest.fixture(scope="module")
def wx() -> W.Weather:
    return W.default_weather()


def _segments(seed: int = 20261207):
    """Hand-made segments in six orientation groups of 12, plus two surfaces alone in theirs.

    Per group: open horizons, a wall of 35 deg over the southern half, and seeded mixed
    horizons (0-40 deg in 40% of the sectors). Groups: flat flush roof, pitched flush
    roof facing south-east, racked rows at gcr 0.5 and 0.8 (15 deg south), a facade-like
    90 deg wall facing west, a north-facing 30 deg plane.
    """
    rng = np.random.default_rng(seed)
    groups = [  # tilt, azimuth, mount, gcr
        (0.0, 180.0, "flush", np.nan),
        (25.0, 135.0, "flush", np.nan),
        (15.0, 180.0, "rack", 0.5),
        (15.0, 180.0, "rack", 0.8),
        (90.0, 270.0, "flush", np.nan),
        (30.0, 0.0, "flush", np.nan),
    ]
    per = 12
    south = (np.arange(N_SECTORS) * 360.0 / N_SECTORS > 90) & (np.arange(N_SECTORS) * 360.0 / N_SECTORS < 270)
    tilt, az, mount, gcr, hz = [], [], [], [], []
    for t, a, m, g in groups:
        h = np.zeros((per, N_SECTORS))
        h[2:4, south] = 35.0                                                  # behind a wall
        mixed = rng.uniform(0, 40, (per - 4, N_SECTORS)) * (rng.random((per - 4, N_SECTORS)) < 0.4)
        h[4:] = mixed                                                         # mixed horizons
        tilt += [t] * per
        az += [a] * per
        mount += [m] * per
        gcr += [g] * per
        hz.append(h)
    # two surfaces alone in their orientation (the per-point engine's path)
    tilt += [40.0, 10.0]
    az += [200.0, 95.0]
    mount += ["flush", "rack"]
    gcr += [np.nan, 0.6]
    hz.append(rng.uniform(0, 20, (2, N_SECTORS)))
    n = len(tilt)
    cap = rng.uniform(0.4, 8.0, n)
    return (np.array(tilt), np.array(az), cap, np.array(mount, dtype=object), np.array(gcr),
            np.vstack(hz).astype(np.float32))


def _engine(wx, tilt, az, cap, mount, gcr, hz, **kw):
    return E.simulate_roofs(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz[:, None, :], reference=False,
                            **kw)


def test_hand_made_segments_equal_the_engine(wx):
    tilt, az, cap, mount, gcr, hz = _segments()
    got = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz)
    exp = _engine(wx, tilt, az, cap, mount, gcr, hz)
    for col in ("annual_kwh", "specific_yield_kwh_kwp", "poa_kwh_m2", "performance_ratio"):
        np.testing.assert_allclose(got[col].to_numpy(), exp[col].to_numpy(), rtol=RTOL, err_msg=col)
    # 72 of 74 surfaces went through the grouped sums, and they simulated only a few hours one by one
    assert got.attrs["grouped_frac"] == pytest.approx(72 / 74)
    n_light = int(E._hourly_inputs(wx, E.EnergyConfig.temperature_model_rack,
                                   E.EnergyConfig.temperature_model_flush).light.sum())
    assert got.attrs["exact_hours_per_point"] < 0.2 * n_light
    # the cases differ: walls and mixed horizons cost energy, rows too
    y = got["specific_yield_kwh_kwp"].to_numpy().reshape(-1)[:72].reshape(6, 12)
    assert (y[:, 2] < y[:, 0]).all() and (y[:, 4:].mean(axis=1) < y[:, 0]).all()
    assert y[3, 0] < y[2, 0]                                                  # denser rows shade more


def test_every_surface_alone_or_all_grouped_give_the_same(wx):
    tilt, az, cap, mount, gcr, hz = _segments(7)
    grouped = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, min_group_points=1)
    alone = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz,
                                      min_group_points=len(tilt) + 1)
    assert grouped.attrs["grouped_frac"] == 1.0 and alone.attrs["grouped_frac"] == 0.0
    pd.testing.assert_frame_equal(grouped, alone, check_exact=False, rtol=RTOL)


def test_clipping_hours_are_simulated_point_by_point(wx):
    # a small inverter clips many hours; dense horizons make many hours cross 0 and the limit
    tilt, az, cap, mount, gcr, hz = _segments(11)
    kw = dict(dc_ac_ratio=1.8, albedo=0.4, losses_frac=0.05)
    got = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz, **kw)
    exp = _engine(wx, tilt, az, cap, mount, gcr, hz, **kw)
    np.testing.assert_allclose(got["annual_kwh"].to_numpy(), exp["annual_kwh"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(got["poa_kwh_m2"].to_numpy(), exp["poa_kwh_m2"].to_numpy(), rtol=RTOL)
    assert got.attrs["exact_hours_per_point"] > 0


def test_given_sky_view_and_band_are_used(wx):
    tilt, az, cap, mount, gcr, hz = _segments(3)
    rng = np.random.default_rng(5)
    svf = rng.uniform(0.3, 1.0, len(tilt))
    band = rng.uniform(0.0, 1.0, len(tilt))
    got = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz[:, None, :],
                                    sky_view_frac=svf, horizon_band_open_frac=band)
    exp = _engine(wx, tilt, az, cap, mount, gcr, hz, sky_view_frac=svf, horizon_band_open_frac=band)
    np.testing.assert_allclose(got["annual_kwh"].to_numpy(), exp["annual_kwh"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(got["poa_kwh_m2"].to_numpy(), exp["poa_kwh_m2"].to_numpy(), rtol=RTOL)


def test_one_segment_against_plain_pvlib(wx):
    # racked rows behind a wall: the plain pvlib chain (tests/test_energy.py's reference) within 0.5%
    tilt, az, cap, mount, gcr, hz = _segments()
    i = 2 * 12 + 2
    got = E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz)
    ref = E.reference_roof_energy(wx, tilt[i], az[i], cap[i], mount=mount[i], gcr=gcr[i], horizon_deg=hz[i])
    assert got["annual_kwh"].iloc[i] == pytest.approx(ref["annual_kwh"], rel=0.005)
    assert got["poa_kwh_m2"].iloc[i] == pytest.approx(ref["poa_kwh_m2"], rel=0.005)


def test_orientation_groups_merge_horizontal_planes_only():
    tilt = np.array([0.0, 0.0, 10.0, 10.0, 10.0, 10.0])
    az = np.array([180.0, 90.0, 180.0, 540.0, 180.0, 180.0])
    rack = np.array([False, False, False, False, True, True])
    gcr = np.array([np.nan, np.nan, np.nan, np.nan, 0.5, 0.6])
    group, first = E.orientation_groups(tilt, az, rack, gcr)
    assert group[0] == group[1] and group[2] == group[3]                     # no azimuth when flat; 540 = 180
    assert len(set(group.tolist())) == 4
    assert (group[first] == np.arange(first.size)).all()


def test_quantile_profiles_and_nan_are_refused(wx):
    tilt, az, cap, mount, gcr, hz = _segments()
    with pytest.raises(InputError, match="one\\s+profile per surface"):
        E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=np.repeat(hz[:, None], 3, 1))
    hz[5, 3] = np.nan
    with pytest.raises(InputError, match="surface 5"):
        E.simulate_by_orientation(wx, tilt, az, cap, mount=mount, gcr=gcr, horizon_deg=hz)


def test_empty_input(wx):
    got = E.simulate_by_orientation(wx, [], [], [], mount=[], horizon_deg=np.zeros((0, N_SECTORS)))
    assert len(got) == 0 and "annual_kwh" in got


@pytest.mark.slow
def test_demo_district_segments_equal_the_engine(tmp_path, monkeypatch):
    # the row segments of the demo district's 150 central buildings, as a survey assesses them
    import geopandas as gpd

    from pv_survey.config import Config
    from pv_survey.pipeline import DEFAULT_BUILDINGS, run_survey

    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    d = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    path = tmp_path / "subset.gpkg"
    b[d <= np.sort(d.to_numpy())[149]].to_file(path, layer="buildings")
    calls = []
    grouped = E.simulate_by_orientation

    def record(*args, **kw):
        out = grouped(*args, **kw)
        calls.append((args, kw, out))
        return out

    monkeypatch.setattr(E, "simulate_by_orientation", record)
    run_survey(Config().replace(inputs={"buildings": str(path)}), out_dir=tmp_path / "run", overwrite=True)
    assert calls and sum(len(c[2]) for c in calls) > 1000
    for args, kw, got in calls:
        kw = {k: v for k, v in kw.items() if k != "min_group_points"}
        exp = E.simulate_roofs(*args, reference=False, **kw)
        np.testing.assert_allclose(got["annual_kwh"].to_numpy(), exp["annual_kwh"].to_numpy(), rtol=RTOL)
        np.testing.assert_allclose(got["poa_kwh_m2"].to_numpy(), exp["poa_kwh_m2"].to_numpy(), rtol=RTOL)
        assert got.attrs["grouped_frac"] > 0.9
