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

    @classmethod
    def from_config(cls, econ: Any) -> "EconomicsParams":
        """Unpack a :class:`pv_survey.config.EconomicsConfig` (for the pipeline)."""
        return cls(
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
