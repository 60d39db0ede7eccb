"""Economics against hand calculations and closed-form annuity formulas.

Reference formulas (standard engineering economics, e.g. Short, Packey & Holt 1995,
NREL/TP-462-5173, "A Manual for the Economic Evaluation of Energy Efficiency and Renewable
Energy Technologies"):
- present value of 1 per year for N years at rate r:  A = (1 - (1 + r)^-N) / r
- present value of a degrading stream E (1-d)^(t-1):  B = (1 / (1 + r)) (1 - q^N) / (1 - q),
  q = (1 - d) / (1 + r)   (geometric series)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pv_survey.config import Config, config_from_dict
from pv_survey.economics import (
    EconomicsParams,
    capex_cny,
    capex_rate_cny_per_w,
    economics_totals,
    lcoe_cny_per_kwh,
    npv_cny,
    site_economics,
)
from pv_survey.errors import ConfigError, InputError


def _params(**kw) -> EconomicsParams:
    base = dict(
        capex_band_upper_kwp=(100.0, 1000.0),
        capex_cny_per_w=(3.8, 3.5, 3.2),
        opex_cny_per_w_yr=0.05,
        export_tariff_cny_per_kwh=0.453,
        self_consumption_frac={"government": 0.8, "other": 0.5},
        tariff_cny_per_kwh={"government": 0.7, "other": 0.6},
        first_year_degradation_frac=0.0,
        degradation_frac_per_yr=0.0,
        discount_rate_frac=0.0,
        lifetime_yr=25,
        grid_emission_factor_t_per_mwh=0.4042,
        grid_emission_factor_source="test",
    )
    base.update(kw)
    return EconomicsParams(**base)


def test_capex_bands_closed_on_the_right():
    p = _params()
    # 100 kWp is in the "<= 100" band (3.8), 100.1 in the next (3.5), 1000 still 3.5, 1000.1 -> 3.2
    rates = capex_rate_cny_per_w([50, 100, 100.1, 1000, 1000.1], p.capex_band_upper_kwp, p.capex_cny_per_w)
    np.testing.assert_allclose(rates, [3.8, 3.8, 3.5, 3.5, 3.2])
    # 100 kWp x 1000 W/kW x 3.8 CNY/W = 380,000 CNY; 2000 kWp x 1000 x 3.2 = 6,400,000 CNY
    np.testing.assert_allclose(capex_cny([100, 2000], p.capex_band_upper_kwp, p.capex_cny_per_w),
                               [380_000.0, 6_400_000.0])


def test_undiscounted_lcoe_npv_payback_by_hand():
    p = _params()
    # 100 kWp government site, 100,000 kWh/yr:
    # CAPEX 380,000 CNY; O&M 100 kWp x 1000 x 0.05 = 5,000 CNY/yr
    # LCOE (r = 0, no degradation) = (380,000 + 25 x 5,000) / (25 x 100,000) = 0.202 CNY/kWh
    # value of a kWh = 0.8 x 0.70 + 0.2 x 0.453 = 0.6506 CNY/kWh -> revenue 65,060 CNY/yr
    # NPV (r = 0) = -380,000 + 25 x (65,060 - 5,000) = 1,121,500 CNY
    # payback = 380,000 / 60,060 = 6.3270 yr; CO2 = 100 MWh x 0.4042 t/MWh = 40.42 t/yr
    e = site_economics([100.0], [100_000.0], ["government"], p).iloc[0]
    assert e["capex_cny"] == pytest.approx(380_000.0)
    assert e["opex_cny_per_yr"] == pytest.approx(5_000.0)
    assert e["value_cny_per_kwh"] == pytest.approx(0.6506)
    assert e["lcoe_cny_per_kwh"] == pytest.approx(0.202)
    assert e["npv_cny"] == pytest.approx(1_121_500.0)
    assert e["simple_payback_yr"] == pytest.approx(380_000.0 / 60_060.0)
    assert e["simple_payback_yr"] == pytest.approx(6.3270, abs=1e-4)
    assert e["co2_avoided_t_per_yr"] == pytest.approx(40.42)


def test_discounted_degrading_lcoe_and_npv_match_annuity_formulas():
    r, d, n = 0.06, 0.005, 25
    p = _params(discount_rate_frac=r, degradation_frac_per_yr=d, lifetime_yr=n)
    a = (1 - (1 + r) ** -n) / r  # = 12.7834 (annuity factor, 6%, 25 yr)
    assert a == pytest.approx(12.7834, abs=1e-4)
    q = (1 - d) / (1 + r)
    b = (1 / (1 + r)) * (1 - q ** n) / (1 - q)  # discounted degrading energy factor
    capex, opex, kwh, value = 380_000.0, 5_000.0, 100_000.0, 0.6506
    lcoe_hand = (capex + opex * a) / (kwh * b)
    npv_hand = -capex + kwh * value * b - opex * a
    assert float(lcoe_cny_per_kwh(capex, opex, kwh, p)) == pytest.approx(lcoe_hand, rel=1e-12)
    assert float(npv_cny(capex, opex, kwh, value, p)) == pytest.approx(npv_hand, rel=1e-12)
    # without degradation the LCOE is CAPEX / (E A) + O&M / E = 380,000 / (100,000 x 12.7834)
    # + 0.05 = 0.2973 + 0.05 = 0.3473 CNY/kWh
    p0 = _params(discount_rate_frac=r, lifetime_yr=n)
    assert float(lcoe_cny_per_kwh(capex, opex, kwh, p0)) == pytest.approx(0.3473, abs=1e-4)
    # degradation makes energy dearer
    assert lcoe_hand > 0.3473


def test_first_year_degradation_reduces_year_one():
    # d1 = 2%: first-year output 98,000 kWh; CO2 = 98 MWh x 0.4042 = 39.6116 t;
    # payback = 380,000 / (98,000 x 0.6506 - 5,000) = 380,000 / 58,758.8
    p = _params(first_year_degradation_frac=0.02)
    e = site_economics([100.0], [100_000.0], ["government"], p).iloc[0]
    assert e["co2_avoided_t_per_yr"] == pytest.approx(39.6116)
    assert e["simple_payback_yr"] == pytest.approx(380_000.0 / 58_758.8)
    # undiscounted LCOE = 505,000 / (25 x 98,000)
    assert e["lcoe_cny_per_kwh"] == pytest.approx(505_000.0 / 2_450_000.0)


def test_payback_never_and_zero_energy():
    p = _params(export_tariff_cny_per_kwh=0.0, tariff_cny_per_kwh={"other": 0.0})
    e = site_economics([100.0, 50.0], [100_000.0, 0.0], ["other", "other"], p)
    # value 0 -> net revenue -5,000 CNY/yr: never pays back
    assert np.isnan(e["simple_payback_yr"]).all()
    assert np.isnan(e["lcoe_cny_per_kwh"].iloc[1])  # no energy -> no LCOE


def test_category_fallback_and_missing_other():
    p = _params()
    # 'school' not listed -> 'other' row: 0.5 x 0.6 + 0.5 x 0.453 = 0.5265 CNY/kWh
    e = site_economics([10.0], [10_000.0], ["school"], p)
    assert e["value_cny_per_kwh"].iloc[0] == pytest.approx(0.5265)
    p2 = _params(self_consumption_frac={"government": 0.8}, tariff_cny_per_kwh={"government": 0.7})
    with pytest.raises(InputError, match="school"):
        site_economics([10.0], [10_000.0], ["school"], p2)


def test_totals_are_sums_and_lcoe_of_the_summed_system():
    r, n = 0.06, 25
    p = _params(discount_rate_frac=r, lifetime_yr=n)
    cap = np.array([100.0, 2000.0])
    kwh = np.array([100_000.0, 2_100_000.0])
    e = site_economics(cap, kwh, ["government", "other"], p)
    sites = pd.concat([pd.DataFrame({"capacity_kwp": cap, "annual_kwh": kwh}), e], axis=1)
    tot = economics_totals(sites, p)
    a = (1 - (1 + r) ** -n) / r
    # CAPEX 380,000 + 6,400,000; O&M 5,000 + 100,000; energy 2,200,000 kWh/yr
    assert tot["capex_cny"] == pytest.approx(6_780_000.0)
    assert tot["lcoe_cny_per_kwh"] == pytest.approx((6_780_000.0 + 105_000.0 * a) / (2_200_000.0 * a))
    assert tot["npv_cny"] == pytest.approx(e["npv_cny"].sum())
    # lifetime CO2 without degradation = 25 x 2,200 MWh x 0.4042 = 22,231 t
    assert tot["co2_avoided_lifetime_t"] == pytest.approx(22_231.0)


def test_params_validation():
    with pytest.raises(ConfigError, match="one rate more"):
        _params(capex_cny_per_w=(3.8, 3.5))
    with pytest.raises(ConfigError, match="rise"):
        _params(capex_band_upper_kwp=(1000.0, 100.0))


def test_config_defaults_and_checks():
    cfg = Config()
    p = EconomicsParams.from_config(cfg.economics)
    # documented defaults: Southern grid 2023 factor; export below the 0.453 CNY/kWh coal
    # benchmark, which is an upper bound after 发改价格〔2025〕136号 (REFERENCES.md)
    assert p.grid_emission_factor_t_per_mwh == 0.4042
    assert p.export_tariff_cny_per_kwh < 0.453
    # 2025-26 C&I rooftop EPC 2.5-3.0 CNY/W (REFERENCES.md, secondary)
    assert all(2.5 <= r <= 3.0 for r in p.capex_cny_per_w)
    assert set(p.self_consumption_frac) >= {"government", "hospital", "school", "industrial", "other"}
    with pytest.raises(ConfigError, match="capex_cny_per_w"):
        config_from_dict({"economics": {"capex_cny_per_w": [3.0, 3.0]}})
    with pytest.raises(ConfigError, match="self_consumption_frac"):
        config_from_dict({"economics": {"categories": [
            {"category": "x", "self_consumption_frac": 1.5, "tariff_cny_per_kwh": 0.7}]}})
    with pytest.raises(ConfigError, match="twice"):
        config_from_dict({"economics": {"categories": [
            {"category": "x", "self_consumption_frac": 0.5, "tariff_cny_per_kwh": 0.7},
            {"category": "x", "self_consumption_frac": 0.6, "tariff_cny_per_kwh": 0.7}]}})
    with pytest.raises(ConfigError, match="mode"):
        config_from_dict({"plan": {"mode": "cheapest"}})
    assert math.isclose(config_from_dict({"economics": {"discount_rate_frac": 0.08}}).economics.discount_rate_frac, 0.08)


# --------------------------------------------------------------------------- time of use, grid class


GD_TOU = dict(peak_hours=(10, 11, 14, 15, 16, 17, 18), valley_hours=tuple(range(8)), peak_ratio=1.7,
              valley_ratio=0.38, critical_uplift_frac=0.25, critical_hours=(11, 15, 16), critical_months=(7, 8, 9))


def test_tou_multipliers_follow_the_guangdong_periods():
    # Guangdong 2021 TOU notice (REFERENCES.md): peak 10-12 and 14-19 h, valley 0-8 h, the rest
    # flat; 1.7 : 1 : 0.38; critical peak = peak x 1.25 at 11-12 and 15-17 h in July-September
    from pv_survey.economics import tou_multipliers

    h = np.arange(24)
    jan = tou_multipliers(np.full(24, 1), h, **GD_TOU)
    expect = np.array([0.38] * 8 + [1, 1] + [1.7, 1.7] + [1, 1] + [1.7] * 5 + [1] * 5)
    np.testing.assert_allclose(jan, expect)
    aug = tou_multipliers(np.full(24, 8), h, **GD_TOU)
    expect[[11, 15, 16]] = 1.7 * 1.25
    np.testing.assert_allclose(aug, expect)
    # the daily mean of January: (8 x 0.38 + 9 x 1 + 7 x 1.7) / 24 = 23.94 / 24
    assert jan.mean() == pytest.approx((8 * 0.38 + 9 + 7 * 1.7) / 24)


def test_tou_value_factor_by_hand_and_applied_to_tou_categories_only():
    from pv_survey.economics import tou_multipliers, tou_value_factor

    # output only at 10-11 h (peak) and 12-13 h (flat), equal amounts: (1.7 + 1) / 2 = 1.35
    m = tou_multipliers([3, 3], [10, 12], **GD_TOU)
    assert tou_value_factor([5.0, 5.0], m) == pytest.approx(1.35)
    assert tou_value_factor([0.0, 0.0], m) == 1.0
    # site economics: TOU category's avoided price = 0.5 x 1.35; the other category keeps 0.6
    p = EconomicsParams(capex_band_upper_kwp=(), capex_cny_per_w=(3.0,), opex_cny_per_w_yr=0.0,
                        export_tariff_cny_per_kwh=0.4, self_consumption_frac={"other": 1.0},
                        tariff_cny_per_kwh={"industrial": 0.5, "school": 0.6, "other": 0.5},
                        first_year_degradation_frac=0.0, degradation_frac_per_yr=0.0, discount_rate_frac=0.0,
                        lifetime_yr=1, grid_emission_factor_t_per_mwh=0.5, tou_categories=("industrial",),
                        tou_value_factor=1.35, grid_class_upper_kw=(8.0, 400.0, 6000.0),
                        grid_class_names=("220 V", "380 V", "10 kV", "35 kV"))
    e = site_economics([8.0, 400.0, 400.1, 7000.0], [1.0] * 4, ["industrial", "school", "school", "industrial"], p)
    np.testing.assert_allclose(e["value_cny_per_kwh"], [0.675, 0.6, 0.6, 0.675])
    # limits closed on the right: 8 kW -> 220 V, 400 -> 380 V, 400.1 -> 10 kV, 7 MW -> 35 kV
    assert list(e["grid_class"]) == ["220 V", "380 V", "10 kV", "35 kV"]


def test_weather_profile_is_pvlib_poa_normalised_and_csv_profile(tmp_path):
    # the profile is the plane-of-array irradiance of pvlib's own transposition, summing to 1;
    # at night it is zero, so valley hours before 6 h carry (almost) no weight
    import pvlib
    from pv_survey.economics import read_profile, weather_profile
    from pv_survey.weather import default_weather

    w = default_weather()
    prof = weather_profile(w)
    assert prof["kwh"].sum() == pytest.approx(1.0)
    sp = pvlib.solarposition.get_solarposition(w.data.index, w.latitude_deg, w.longitude_deg, altitude=w.altitude_m)
    poa = pvlib.irradiance.get_total_irradiance(15, 180, sp["apparent_zenith"], sp["azimuth"], w.data["dni"],
                                                w.data["ghi"], w.data["dhi"], albedo=0.2)["poa_global"]
    noon = (prof["hour"] == 12).to_numpy()
    assert prof["kwh"][noon].sum() == pytest.approx(poa[noon].clip(lower=0).sum() / poa.clip(lower=0).sum())
    assert prof.loc[prof["hour"] < 5, "kwh"].sum() < 1e-3
    # a CSV profile: month, hour, kwh
    f = tmp_path / "p.csv"
    f.write_text("month,hour,kwh\n1,10,2\n1,13,2\n", encoding="utf-8")
    assert list(read_profile(f)["kwh"]) == [2, 2]
    f.write_text("month,hour,kwh\n13,10,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="month 1-12"):
        read_profile(f)
