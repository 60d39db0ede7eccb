"""Economics of rooftop PV sites: CAPEX, O&M, LCOE, simple payback, NPV and CO2 avoided.

Conventions (all documented defaults and their sources are in
:class:`pv_survey.config.EconomicsConfig`):

- Money in CNY of the price year (2023-2024), real terms: prices and O&M stay flat, the
  discount rate is real. CAPEX is paid at the start of year 0; energy, revenue and O&M arrive
  at the end of years 1..N.
- CAPEX of a site = its capacity x the rate of its size band (one contract per building, the
  whole system at one rate; bands are closed on the right: 100 kWp is in the "<= 100" band).
- Yearly output ``E_t = E_1 * (1 - d)^(t - 1)`` with ``E_1 = annual_kwh * (1 - d_1)``:
  ``annual_kwh`` is the energy stage's first-year yield (it already deducts light-induced
  degradation), ``d_1`` an optional extra first-year loss, ``d`` the yearly degradation.
- Value of a kWh = ``s * p_self + (1 - s) * p_export``: ``s`` the self-consumed share,
  ``p_self`` the grid price the building no longer pays, ``p_export`` the price of surplus.
  For categories on a time-of-use tariff, ``p_self = flat price x f_TOU`` with
  ``f_TOU = sum_h E_h m_h / sum_h E_h``: ``E_h`` an hourly generation profile, ``m_h`` the
  tariff multiplier of hour ``h`` (peak / flat / valley ratio, critical-peak uplift in its
  months and hours; Guangdong 2021 provincial notice as reprinted, see
  :class:`pv_survey.config.EconomicsConfig`). The profile is a given CSV, or pvlib
  plane-of-array irradiance of the weather year on a 15 deg south-facing plane, normalised
  (:func:`weather_profile`).
- Grid-connection class of a site from its capacity (:func:`grid_class`): at or below each
  configured threshold, the class named for it.
- ``LCOE = (CAPEX + sum_t OPEX / (1 + r)^t) / sum_t E_t / (1 + r)^t``.
- ``NPV = -CAPEX + sum_t (E_t * value - OPEX) / (1 + r)^t``.
- Simple payback = CAPEX / (first-year revenue - OPEX), undiscounted; NaN when that yearly
  net revenue is not positive (the system never pays back).
- CO2 avoided per year = first-year output x grid emission factor.

Because every site shares the same discount and degradation factors, totals over many sites
(:func:`economics_totals`) are exact sums, and the LCOE of a set of sites is the LCOE of the
summed CAPEX, O&M and energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .config import RoofsConfig
from .errors import ConfigError, InputError

__all__ = [
    "EconomicsParams",
    "ECONOMICS_COLUMNS",
    "capex_rate_cny_per_w",
    "capex_cny",
    "output_factors",
    "discount_factors",
    "lcoe_cny_per_kwh",
    "npv_cny",
    "simple_payback_yr",
    "site_economics",
    "economics_totals",
    "weather_profile",
    "read_profile",
    "tou_multipliers",
    "tou_value_factor",
    "grid_class",
]

#: Columns added by :func:`site_economics`, in order.
ECONOMICS_COLUMNS = (
    "capex_cny",
    "opex_cny_per_yr",
    "value_cny_per_kwh",
    "lcoe_cny_per_kwh",
    "simple_payback_yr",
    "npv_cny",
    "co2_avoided_t_per_yr",
    "grid_class",
)


@dataclass(frozen=True)
class EconomicsParams:
    """Plain economic parameters (see :class:`pv_survey.config.EconomicsConfig` for sources).

    Parameters
    ----------
    capex_band_upper_kwp : tuple of float
        Upper ends of the system-size bands, rising. [kWp]
    capex_cny_per_w : tuple of float
        CAPEX rate of each band, one more than there are upper ends. [CNY/W]
    opex_cny_per_w_yr : float
        Operation and maintenance per watt and year. [CNY/W/yr]
    export_tariff_cny_per_kwh : float
        Price paid for exported surplus. [CNY/kWh]
    self_consumption_frac : mapping of str to float
        Self-consumed share of output by building category; key ``'other'`` is the fallback. [0-1]
    tariff_cny_per_kwh : mapping of str to float
        Grid price avoided by self-consumed output, by category; ``'other'`` is the fallback. [CNY/kWh]
    first_year_degradation_frac : float
        Extra loss in year 1 on top of the energy stage's yield. [0-1]
    degradation_frac_per_yr : float
        Relative output loss per year after year 1. [0-1]
    discount_rate_frac : float
        Real discount rate. [0-1]
    lifetime_yr : int
        Economic life. [yr]
    grid_emission_factor_t_per_mwh : float
        CO2 emitted per MWh of grid electricity displaced. [tCO2/MWh]
    grid_emission_factor_source : str
        Where the emission factor comes from, for reports.
    """

    capex_band_upper_kwp: tuple[float, ...]
    capex_cny_per_w: tuple[float, ...]
    opex_cny_per_w_yr: float
    export_tariff_cny_per_kwh: float
    self_consumption_frac: Mapping[str, float]
    tariff_cny_per_kwh: Mapping[str, float]
    first_year_degradation_frac: float
    degradation_frac_per_yr: float
    discount_rate_frac: float
    lifetime_yr: int
    grid_emission_factor_t_per_mwh: float
    grid_emission_factor_source: str = ""
    tou_categories: tuple[str, ...] = ()
    tou_value_factor: float = 1.0
    grid_class_upper_kw: tuple[float, ...] = ()
    grid_class_names: tuple[str, ...] = ("",)

    def __post_init__(self) -> None:
        if len(self.capex_cny_per_w) != len(self.capex_band_upper_kwp) + 1:
            raise ConfigError(
                f"economics: capex_cny_per_w has {len(self.capex_cny_per_w)} rates for "
                f"{len(self.capex_band_upper_kwp)} band limits; give one rate more than limits"
            )
        if list(self.capex_band_upper_kwp) != sorted(self.capex_band_upper_kwp):
            raise ConfigError(
                f"economics: capex_band_upper_kwp = {list(self.capex_band_upper_kwp)} must rise"
            )
        if self.lifetime_yr < 1:
            raise ConfigError(f"economics: lifetime_yr = {self.lifetime_yr} must be >= 1")
        if len(self.grid_class_names) != len(self.grid_class_upper_kw) + 1:
            raise ConfigError(f"economics: grid_class_names needs one name more than grid_class_upper_kw "
                              f"has thresholds ({len(self.grid_class_upper_kw) + 1}), got {len(self.grid_class_names)}")

    @classmethod
    def from_config(cls, econ: Any, weather: Any = None) -> "EconomicsParams":
        """Unpack a :class:`pv_survey.config.EconomicsConfig` (for the pipeline).

        The time-of-use factor comes from ``econ.hourly_profile_file`` when given, else from
        ``weather`` (a :class:`pv_survey.weather.Weather`; None = the embedded default year).
        """
        if econ.hourly_profile_file:
            prof = read_profile(econ.hourly_profile_file)
        else:
            if weather is None:
                from .weather import default_weather
                weather = default_weather()
            prof = weather_profile(weather)
        mult = tou_multipliers(prof["month"], prof["hour"], peak_hours=econ.tou_peak_hours,
                               valley_hours=econ.tou_valley_hours, peak_ratio=econ.tou_peak_ratio,
                               valley_ratio=econ.tou_valley_ratio,
                               critical_uplift_frac=econ.tou_critical_peak_uplift_frac,
                               critical_hours=econ.tou_critical_peak_hours,
                               critical_months=econ.tou_critical_peak_months)
        return cls(
            tou_categories=tuple(econ.tou_categories),
            tou_value_factor=tou_value_factor(prof["kwh"], mult),
            grid_class_upper_kw=tuple(econ.grid_class_upper_kw),
            grid_class_names=tuple(econ.grid_class_names),
            capex_band_upper_kwp=tuple(econ.capex_band_upper_kwp),
            capex_cny_per_w=tuple(econ.capex_cny_per_w),
            opex_cny_per_w_yr=econ.opex_cny_per_w_yr,
            export_tariff_cny_per_kwh=econ.export_tariff_cny_per_kwh,
            self_consumption_frac={c.category: c.self_consumption_frac for c in econ.categories},
            tariff_cny_per_kwh={c.category: c.tariff_cny_per_kwh for c in econ.categories},
            first_year_degradation_frac=econ.first_year_degradation_frac,
            degradation_frac_per_yr=econ.degradation_frac_per_yr,
            discount_rate_frac=econ.discount_rate_frac,
            lifetime_yr=econ.lifetime_yr,
            grid_emission_factor_t_per_mwh=econ.grid_emission_factor_t_per_mwh,
            grid_emission_factor_source=econ.grid_emission_factor_source,
        )


# --------------------------------------------------------------------------- building blocks


def capex_rate_cny_per_w(capacity_kwp, band_upper_kwp: Sequence[float],
                         rate_cny_per_w: Sequence[float]) -> np.ndarray:
    """CAPEX rate of each system from its size band.

    Parameters
    ----------
    capacity_kwp : array_like
        System size. [kWp]
    band_upper_kwp : sequence of float
        Rising upper ends of the bands; a size equal to an end belongs to the lower band. [kWp]
    rate_cny_per_w : sequence of float
        Rate of each band, ``len(band_upper_kwp) + 1`` values. [CNY/W]

    Returns
    -------
    numpy.ndarray
        Rate per system. [CNY/W]
    """
    cap = np.asarray(capacity_kwp, dtype=float)
    idx = np.searchsorted(np.asarray(band_upper_kwp, dtype=float), cap, side="left")
    return np.asarray(rate_cny_per_w, dtype=float)[idx]


def capex_cny(capacity_kwp, band_upper_kwp: Sequence[float], rate_cny_per_w: Sequence[float]) -> np.ndarray:
    """Turnkey investment of each system: size x band rate. [CNY]"""
    cap = np.asarray(capacity_kwp, dtype=float)
    return cap * 1000.0 * capex_rate_cny_per_w(cap, band_upper_kwp, rate_cny_per_w)


def output_factors(lifetime_yr: int, first_year_degradation_frac: float,
                   degradation_frac_per_yr: float) -> np.ndarray:
    """Output of years 1..N relative to the energy stage's first-year yield.

    Returns
    -------
    numpy.ndarray
        ``(1 - d_1) * (1 - d)^(t - 1)`` for t = 1..N. [-]
    """
    t = np.arange(1, int(lifetime_yr) + 1, dtype=float)
    return (1.0 - first_year_degradation_frac) * (1.0 - degradation_frac_per_yr) ** (t - 1.0)


def discount_factors(discount_rate_frac: float, lifetime_yr: int) -> np.ndarray:
    """``1 / (1 + r)^t`` for t = 1..N (end-of-year cash flows). [-]"""
    t = np.arange(1, int(lifetime_yr) + 1, dtype=float)
    return (1.0 + discount_rate_frac) ** -t


def _sums(params: EconomicsParams) -> tuple[float, float, float]:
    """(sum of discount factors, discounted output factors, first-year output factor)."""
    df = discount_factors(params.discount_rate_frac, params.lifetime_yr)
    of = output_factors(params.lifetime_yr, params.first_year_degradation_frac, params.degradation_frac_per_yr)
    return float(df.sum()), float((df * of).sum()), float(of[0])


def lcoe_cny_per_kwh(capex, opex_cny_per_yr, annual_kwh, params: EconomicsParams) -> np.ndarray:
    """Levelised cost of electricity.

    Parameters
    ----------
    capex : array_like
        Investment at year 0. [CNY]
    opex_cny_per_yr : array_like
        Yearly O&M. [CNY/yr]
    annual_kwh : array_like
        First-year yield from the energy stage. [kWh/yr]
    params : EconomicsParams

    Returns
    -------
    numpy.ndarray
        LCOE; NaN where ``annual_kwh`` is 0. [CNY/kWh]
    """
    sum_df, sum_dof, _ = _sums(params)
    capex = np.asarray(capex, dtype=float)
    opex = np.asarray(opex_cny_per_yr, dtype=float)
    energy = np.asarray(annual_kwh, dtype=float) * sum_dof
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(energy > 0, (capex + opex * sum_df) / np.where(energy > 0, energy, 1.0), np.nan)


def npv_cny(capex, opex_cny_per_yr, annual_kwh, value_cny_per_kwh, params: EconomicsParams) -> np.ndarray:
    """Net present value over the lifetime: ``-CAPEX + sum_t (E_t value - OPEX) / (1+r)^t``. [CNY]"""
    sum_df, sum_dof, _ = _sums(params)
    return (-np.asarray(capex, dtype=float)
            + np.asarray(annual_kwh, dtype=float) * np.asarray(value_cny_per_kwh, dtype=float) * sum_dof
            - np.asarray(opex_cny_per_yr, dtype=float) * sum_df)


def simple_payback_yr(capex, opex_cny_per_yr, annual_kwh, value_cny_per_kwh,
                      params: EconomicsParams) -> np.ndarray:
    """Undiscounted years to repay CAPEX from the first year's net revenue; NaN if never. [yr]"""
    _, _, of1 = _sums(params)
    net = (np.asarray(annual_kwh, dtype=float) * of1 * np.asarray(value_cny_per_kwh, dtype=float)
           - np.asarray(opex_cny_per_yr, dtype=float))
    capex = np.asarray(capex, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(net > 0, capex / np.where(net > 0, net, 1.0), np.nan)


def _by_category(category: pd.Series, table: Mapping[str, float], what: str) -> np.ndarray:
    cats = category.astype(str)
    missing = sorted(set(cats) - set(table))
    if missing and "other" not in table:
        raise InputError(
            f"economics: no {what} for building category {missing[0]!r} and no 'other' row; "
            f"add it to [[economics.categories]]"
        )
    return cats.map(lambda c: table.get(c, table.get("other", np.nan))).to_numpy(dtype=float)


# --------------------------------------------------------------------------- per site / totals


def site_economics(capacity_kwp, annual_kwh, category, params: EconomicsParams) -> pd.DataFrame:
    """Economics of each site.

    Parameters
    ----------
    capacity_kwp : array_like
        New PV capacity of each site. [kWp]
    annual_kwh : array_like
        First-year yield of each site. [kWh/yr]
    category : array_like of str
        Building category (selects self-consumption share and avoided price).
    params : EconomicsParams

    Returns
    -------
    pandas.DataFrame
        One row per site, columns :data:`ECONOMICS_COLUMNS`: ``capex_cny`` [CNY],
        ``opex_cny_per_yr`` [CNY/yr], ``value_cny_per_kwh`` (blended value of a kWh) [CNY/kWh],
        ``lcoe_cny_per_kwh`` [CNY/kWh], ``simple_payback_yr`` [yr], ``npv_cny`` [CNY],
        ``co2_avoided_t_per_yr`` (first year) [tCO2/yr].
    """
    cap = np.asarray(capacity_kwp, dtype=float)
    kwh = np.asarray(annual_kwh, dtype=float)
    cat = pd.Series(np.asarray(category, dtype=object))
    if cap.shape != kwh.shape or cap.shape != cat.shape:
        raise InputError(
            f"economics: capacity_kwp, annual_kwh and category have lengths {cap.size}, {kwh.size}, "
            f"{cat.size}; pass one value per site"
        )
    s = _by_category(cat, params.self_consumption_frac, "self-consumption share")
    p_self = _by_category(cat, params.tariff_cny_per_kwh, "tariff")
    p_self = np.where(cat.astype(str).isin(list(params.tou_categories)).to_numpy(),
                      p_self * params.tou_value_factor, p_self)
    value = s * p_self + (1.0 - s) * params.export_tariff_cny_per_kwh
    capex = capex_cny(cap, params.capex_band_upper_kwp, params.capex_cny_per_w)
    opex = cap * 1000.0 * params.opex_cny_per_w_yr
    _, _, of1 = _sums(params)
    return pd.DataFrame({
        "capex_cny": capex,
        "opex_cny_per_yr": opex,
        "value_cny_per_kwh": value,
        "lcoe_cny_per_kwh": lcoe_cny_per_kwh(capex, opex, kwh, params),
        "simple_payback_yr": simple_payback_yr(capex, opex, kwh, value, params),
        "npv_cny": npv_cny(capex, opex, kwh, value, params),
        "co2_avoided_t_per_yr": kwh * of1 * params.grid_emission_factor_t_per_mwh / 1000.0,
        "grid_class": grid_class(cap, params.grid_class_upper_kw, params.grid_class_names),
    })


def economics_totals(sites: pd.DataFrame, params: EconomicsParams) -> dict[str, float]:
    """Totals over a set of sites that carry :func:`site_economics` columns.

    Parameters
    ----------
    sites : pandas.DataFrame
        Needs ``capacity_kwp``, ``annual_kwh``, ``capex_cny``, ``opex_cny_per_yr``, ``npv_cny``,
        ``co2_avoided_t_per_yr``.
    params : EconomicsParams

    Returns
    -------
    dict
        ``n_sites``, ``planned_kwp`` [kWp], ``annual_kwh`` [kWh/yr], ``capex_cny`` [CNY],
        ``opex_cny_per_yr`` [CNY/yr], ``npv_cny`` [CNY], ``lcoe_cny_per_kwh`` (of the summed
        system) [CNY/kWh], ``co2_avoided_t_per_yr`` [tCO2/yr], ``co2_avoided_lifetime_t`` [tCO2].
    """
    capex = float(sites["capex_cny"].sum())
    opex = float(sites["opex_cny_per_yr"].sum())
    kwh = float(sites["annual_kwh"].sum())
    of = output_factors(params.lifetime_yr, params.first_year_degradation_frac, params.degradation_frac_per_yr)
    return {
        "n_sites": int(len(sites)),
        "planned_kwp": float(sites["capacity_kwp"].sum()),
        "annual_kwh": kwh,
        "capex_cny": capex,
        "opex_cny_per_yr": opex,
        "npv_cny": float(sites["npv_cny"].sum()),
        "lcoe_cny_per_kwh": float(lcoe_cny_per_kwh(capex, opex, kwh, params)),
        "co2_avoided_t_per_yr": float(sites["co2_avoided_t_per_yr"].sum()),
        "co2_avoided_lifetime_t": kwh * float(of.sum()) * params.grid_emission_factor_t_per_mwh / 1000.0,
    }


# --------------------------------------------------------------------------- time of use, grid class


def weather_profile(weather: Any, *, tilt_deg: float = RoofsConfig.flat_module_tilt_deg,
                    azimuth_deg: float = RoofsConfig.flat_module_azimuth_deg) -> pd.DataFrame:
    """Normalised hourly generation profile from a weather year (pvlib, plane of array).

    Plane-of-array global irradiance (``pvlib.irradiance.get_total_irradiance``, isotropic
    sky, albedo 0.2) on a ``tilt_deg`` plane facing ``azimuth_deg``, with the sun from
    ``pvlib.solarposition.get_solarposition`` at each stamp. Output is proportional to it to
    first order, which is all the time-of-use factor needs (a ratio).

    Parameters
    ----------
    weather : pv_survey.weather.Weather
        Hourly ``ghi``, ``dni``, ``dhi`` [W/m2], tz-aware local index.
    tilt_deg, azimuth_deg : float
        Plane (default 15 deg, south: the flat-roof racking default). [deg]

    Returns
    -------
    pandas.DataFrame
        ``month`` (1-12), ``hour`` (0-23, local clock hour of the stamp), ``kwh`` (share of the
        year's plane-of-array irradiation, sums to 1). [-]
    """
    import pvlib

    d = weather.data
    sp = pvlib.solarposition.get_solarposition(d.index, weather.latitude_deg, weather.longitude_deg,
                                               altitude=weather.altitude_m)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg, azimuth_deg, sp["apparent_zenith"], sp["azimuth"], d["dni"], d["ghi"], d["dhi"],
        albedo=0.2)["poa_global"].clip(lower=0).fillna(0.0).to_numpy(float)
    tot = poa.sum()
    return pd.DataFrame({"month": d.index.month.to_numpy(), "hour": d.index.hour.to_numpy(),
                         "kwh": poa / tot if tot > 0 else poa})


def read_profile(path: Any) -> pd.DataFrame:
    """An hourly generation profile CSV with columns ``month``, ``hour`` (0-23, local) and ``kwh``
    (any scale), e.g. 8,760 rows of a metered or simulated year."""
    from pathlib import Path

    from .inputs.encoding import read_text_csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: hourly profile not found; give a CSV with columns month, hour, kwh")
    try:
        df = read_text_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the hourly profile ({exc}); save it as UTF-8 CSV") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("month", "hour", "kwh") if c not in df.columns]
    if missing:
        raise InputError(f"{p}: hourly profile lacks column '{missing[0]}'; give month, hour, kwh")
    out = pd.DataFrame({c: pd.to_numeric(df[c], errors="coerce") for c in ("month", "hour", "kwh")})
    bad = out.isna().any(axis=1) | ~out["month"].between(1, 12) | ~out["hour"].between(0, 23) | (out["kwh"] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{p}: row {i + 2}: month 1-12, hour 0-23 and kwh >= 0 expected")
    if not out["kwh"].sum() > 0:
        raise InputError(f"{p}: the hourly profile's kwh sum to 0")
    return out.astype({"month": int, "hour": int})


def tou_multipliers(month, hour, *, peak_hours: Sequence[int], valley_hours: Sequence[int],
                    peak_ratio: float, valley_ratio: float, critical_uplift_frac: float,
                    critical_hours: Sequence[int], critical_months: Sequence[int]) -> np.ndarray:
    """Tariff multiplier of each hour relative to the flat price.

    Parameters
    ----------
    month, hour : array_like of int
        Month 1-12 and clock hour 0-23 (the hour starting at ``hour``).
    peak_hours, valley_hours : sequence of int
        Clock hours in the peak / valley periods; every other hour is flat.
    peak_ratio, valley_ratio : float
        Peak and valley price over the flat price. [-]
    critical_uplift_frac : float
        Critical-peak price = peak x (1 + this), in ``critical_hours`` of ``critical_months``. [-]

    Returns
    -------
    numpy.ndarray
        Multiplier per hour. [-]
    """
    m = np.asarray(month, dtype=int)
    h = np.asarray(hour, dtype=int)
    out = np.ones(h.shape, dtype=float)
    out[np.isin(h, list(peak_hours))] = peak_ratio
    out[np.isin(h, list(valley_hours))] = valley_ratio
    crit = np.isin(h, list(critical_hours)) & np.isin(m, list(critical_months))
    out[crit] = peak_ratio * (1.0 + critical_uplift_frac)
    return out


def tou_value_factor(kwh, multipliers) -> float:
    """Generation-weighted tariff multiplier ``sum E_h m_h / sum E_h``; 1 when there is no output. [-]"""
    e = np.asarray(kwh, dtype=float)
    tot = e.sum()
    return float((e * np.asarray(multipliers, dtype=float)).sum() / tot) if tot > 0 else 1.0


def grid_class(capacity_kwp, upper_kw: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """Grid-connection class of each site: the first class whose upper limit the capacity does
    not exceed (limits closed on the right), the last class above every limit.

    Parameters
    ----------
    capacity_kwp : array_like
        System size (DC, used as the connection size). [kWp]
    upper_kw : sequence of float
        Rising upper limits. [kW]
    names : sequence of str
        One more name than limits.
    """
    cap = np.asarray(capacity_kwp, dtype=float)
    idx = np.searchsorted(np.asarray(upper_kw, dtype=float), cap, side="left")
    return np.asarray(names, dtype=object)[idx]
