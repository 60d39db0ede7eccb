"""The embedded default data: a synthetic Tianhe demo district and a default Guangzhou weather year.

Everything here is deterministic: the same seed gives the same buildings, roof planes and
weather year, and :func:`write_demo_data` writes them byte-for-byte identically on the same
library versions (numpy, pyproj/PROJ, GDAL). ``pv-survey demo-data`` calls it.

Two independent parts:

* **District** -- :func:`generate_demo_district` lays out zones of street blocks modelled on
  Tianhe's land use (Zhujiang New Town CBD in the south-west, residential estates, urban
  villages, universities, industrial parks in the east and north-east, public institutions),
  in metres in EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E), then transforms to
  CGCS2000 geographic (EPSG:4490). The buildings are synthetic; only the zone positions and the
  size ranges follow the real district.
* **Weather** -- :func:`synthesize_year` makes an hourly year whose monthly GHI and DHI sums,
  mean temperature, mean daily temperature range and mean wind speed equal the values in a
  climate-facts TOML file. :func:`climate_facts_from_epw` computes those facts from a real EPW;
  the committed ``data/guangzhou_climate_facts.toml`` holds them for the Guangzhou TMYx
  2009-2023 file, so the generator needs nothing outside the repository.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pandas as pd

from .data_files import CHECKOUT_DATA_DIR, data_path
from .errors import InputError, InputFileError, OutputError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "DATA_DIR",
    "DEFAULT_SEED",
    "DEFAULT_WEATHER_SEED",
    "BUILDINGS_FILE",
    "ROOFS_FILE",
    "PARKING_FILE",
    "generate_demo_parking",
    "WEATHER_FILE",
    "FACTS_FILE",
    "CATEGORIES",
    "ClimateFacts",
    "climate_facts_from_epw",
    "read_climate_facts",
    "format_climate_facts",
    "synthesize_year",
    "format_weather_csv",
    "generate_demo_district",
    "write_demo_data",
    "DemoFile",
    "DemoDataReport",
    "file_sha256",
    "METRIC_CRS",
    "STORAGE_CRS",
]

#: The repository's ``data/`` directory: where ``pv-survey demo-data`` writes by default. Runs read the
#: embedded data through :func:`pv_survey.data_files.data_dir` (package data in an installed wheel).
DATA_DIR = CHECKOUT_DATA_DIR
#: Seed of the demo district (the date the work started, 2024-08-01; any fixed integer would do).
DEFAULT_SEED = 20240801
#: Seed of the default weather year.
DEFAULT_WEATHER_SEED = 20240801
BUILDINGS_FILE = "tianhe_demo_buildings.gpkg"
ROOFS_FILE = "tianhe_demo_roofs.gpkg"
PARKING_FILE = "tianhe_demo_parking.gpkg"
PARKING_LAYER = "parking"
WEATHER_FILE = "guangzhou_default_year.csv"
FACTS_FILE = "guangzhou_climate_facts.toml"
BUILDINGS_LAYER = "buildings"
ROOFS_LAYER = "roof_planes"
#: Category vocabulary of the buildings data model (docs/ARCHITECTURE.md).
CATEGORIES = ("government", "hospital", "school", "public", "industrial", "commercial", "residential", "other")

#: CRS the district is laid out in (CGCS2000 / 3-degree GK CM 114E, EPSG registry).
METRIC_CRS = "EPSG:4547"
#: CRS the district is stored in (CGCS2000 geographic, EPSG registry).
STORAGE_CRS = "EPSG:4490"
#: Fixed timestamp GDAL writes into GeoPackage metadata (gpkg_contents.last_change), so that two
#: writes are byte-identical (GDAL configuration option OGR_CURRENT_DATE, GPKG driver docs).
GPKG_FIXED_DATE = "2024-08-01T00:00:00.000Z"

_WEATHER_COLUMNS = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s")
_MONTHLY_KEYS = ("ghi_kwh_m2", "dhi_kwh_m2", "temp_air_mean_c", "temp_air_daily_range_c", "wind_speed_mean_m_s")


# =========================================================================== climate facts


@dataclass(frozen=True)
class ClimateFacts:
    """Monthly climate statistics of a site, the only input of :func:`synthesize_year`.

    Attributes
    ----------
    latitude_deg, longitude_deg : float
        Site of the synthetic year (north, east positive). [deg]
    altitude_m : float
        Site altitude above sea level. [m]
    source : str
        Where the monthly values come from and how they were computed.
    site_source : str
        Where the site coordinates come from.
    ghi_kwh_m2, dhi_kwh_m2 : tuple of 12 float
        Monthly sums of global and diffuse horizontal irradiation, January first. [kWh/m2]
    temp_air_mean_c : tuple of 12 float
        Monthly mean air temperature. [degC]
    temp_air_daily_range_c : tuple of 12 float
        Monthly mean of the daily range (max - min) of hourly air temperature. [degC]
    wind_speed_mean_m_s : tuple of 12 float
        Monthly mean wind speed. [m/s]
    """

    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    source: str
    site_source: str
    ghi_kwh_m2: tuple[float, ...]
    dhi_kwh_m2: tuple[float, ...]
    temp_air_mean_c: tuple[float, ...]
    temp_air_daily_range_c: tuple[float, ...]
    wind_speed_mean_m_s: tuple[float, ...]


#: Synthetic-year site: Tianhe District centre (rounded; the district spans about
#: 113.30-113.44 E, 23.10-23.25 N, DataV boundary in ../shared/data/PROVENANCE.md) and the EPW
#: station altitude 15.2 m rounded (Tianhe's built-up south lies 10-20 m above sea level).
TIANHE_SITE = {
    "latitude_deg": 23.13,
    "longitude_deg": 113.36,
    "altitude_m": 15.0,
    "source": "Tianhe District centre, 23.13 N 113.36 E (rounded), altitude 15 m (EPW station 15.2 m, rounded).",
}


def climate_facts_from_epw(path: str | os.PathLike) -> ClimateFacts:
    """Compute the monthly climate facts of an EPW weather file.

    GHI and DHI: monthly sums of the hourly values (EPW fields 14 and 16) / 1000.
    Temperature: monthly mean of the hourly dry-bulb values, and monthly mean of each day's
    (max - min) of the hourly values. Wind: monthly mean of the hourly speeds. The site of the
    synthetic year is Tianhe's centre (:data:`TIANHE_SITE`), not the EPW station.

    Parameters
    ----------
    path : path-like
        EPW file, e.g. ``CHN_GD_Guangzhou.592870_TMYx.2009-2023.epw``.

    Returns
    -------
    ClimateFacts
        Values rounded to 0.01 (kWh/m2, degC, m/s).

    Raises
    ------
    InputFileError
        The file is missing or pvlib cannot parse it as EPW.
    """
    import pvlib

    path = Path(path)
    try:
        data, meta = pvlib.iotools.read_epw(path, coerce_year=2023)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise InputFileError(f"{path}: cannot read as EPW ({exc}); give an EnergyPlus .epw weather file") from exc
    month = data.index.month
    day = data.index.day_of_year
    daily = data["temp_air"].groupby(day).agg(["min", "max"])
    daily_month = data["temp_air"].groupby(day).apply(lambda s: s.index.month[0])
    daily_range = (daily["max"] - daily["min"]).groupby(daily_month.values).mean()

    def r2(values) -> tuple[float, ...]:
        return tuple(round(float(v), 2) for v in values)

    sha = file_sha256(path)
    source = (
        f"Computed by pv_survey.demo.climate_facts_from_epw from {path.name} (sha256 {sha[:16]}...): "
        f"Climate.OneBuilding.Org TMYx 2009-2023, WMO station {meta.get('WMO_code', '?')}, "
        f"{meta['latitude']:.4f} N {meta['longitude']:.4f} E, {meta['altitude']} m; temperature and wind "
        "from NCEI ISD station observations, solar radiation from the ERA5 reanalysis. Monthly sums of "
        "hourly GHI and DHI / 1000, monthly means of hourly dry-bulb temperature and wind speed, monthly "
        "mean of the daily max - min of hourly temperature."
    )
    return ClimateFacts(
        latitude_deg=TIANHE_SITE["latitude_deg"],
        longitude_deg=TIANHE_SITE["longitude_deg"],
        altitude_m=TIANHE_SITE["altitude_m"],
        source=source,
        site_source=TIANHE_SITE["source"],
        ghi_kwh_m2=r2(data["ghi"].groupby(month).sum() / 1000.0),
        dhi_kwh_m2=r2(data["dhi"].groupby(month).sum() / 1000.0),
        temp_air_mean_c=r2(data["temp_air"].groupby(month).mean()),
        temp_air_daily_range_c=r2(daily_range),
        wind_speed_mean_m_s=r2(data["wind_speed"].groupby(month).mean()),
    )


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_climate_facts(facts: ClimateFacts) -> str:
    """Render climate facts as TOML text (deterministic; read back by :func:`read_climate_facts`).

    Parameters
    ----------
    facts : ClimateFacts

    Returns
    -------
    str
        TOML document with a top-level ``source``, a ``[site]`` and a ``[monthly]`` table.
    """
    lines = [
        "# Monthly climate facts for Guangzhou: the only input of pv_survey.demo.synthesize_year,",
        "# which makes data/guangzhou_default_year.csv from them (`pv-survey demo-data`).",
        "# Recompute from an EPW with `pv-survey demo-data --facts-from-epw FILE.epw`.",
        f"source = {_toml_str(facts.source)}",
        "",
        "[site]",
        "# Site of the synthetic year (solar geometry), not the weather station.",
        f"latitude_deg = {facts.latitude_deg!r}",
        f"longitude_deg = {facts.longitude_deg!r}",
        f"altitude_m = {facts.altitude_m!r}",
        f"source = {_toml_str(facts.site_source)}",
        "",
        "[monthly]",
        "# Twelve values each, January first.",
        "# ghi_kwh_m2, dhi_kwh_m2: monthly sums of global / diffuse horizontal irradiation [kWh/m2]",
        "# temp_air_mean_c: monthly mean air temperature [degC]",
        "# temp_air_daily_range_c: monthly mean of the daily max - min of hourly temperature [degC]",
        "# wind_speed_mean_m_s: monthly mean wind speed [m/s]",
    ]
    for key in _MONTHLY_KEYS:
        lines.append(f"{key} = [" + ", ".join(f"{v:.2f}" for v in getattr(facts, key)) + "]")
    return "\n".join(lines) + "\n"


def read_climate_facts(path: str | os.PathLike) -> ClimateFacts:
    """Read a climate-facts TOML file (as written by :func:`format_climate_facts`).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ClimateFacts

    Raises
    ------
    InputFileError
        The file is missing or not valid TOML.
    InputError
        A key is missing, or a monthly list does not hold 12 numbers.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read climate facts ({exc}); regenerate with `pv-survey demo-data "
                             "--facts-from-epw FILE.epw`") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    try:
        site, monthly = doc["site"], doc["monthly"]
        kwargs = {
            "latitude_deg": float(site["latitude_deg"]),
            "longitude_deg": float(site["longitude_deg"]),
            "altitude_m": float(site["altitude_m"]),
            "source": str(doc["source"]),
            "site_source": str(site.get("source", "")),
        }
    except KeyError as exc:
        raise InputError(f"{path}: key {exc} missing; the file needs source, [site] latitude_deg, longitude_deg, "
                         "altitude_m and a [monthly] table") from exc
    for key in _MONTHLY_KEYS:
        values = monthly.get(key)
        if not isinstance(values, list) or len(values) != 12 or not all(isinstance(v, (int, float)) for v in values):
            raise InputError(f"{path}: [monthly] {key} = {values!r}; give a list of 12 numbers, January first")
        kwargs[key] = tuple(float(v) for v in values)
    return ClimateFacts(**kwargs)


# =========================================================================== weather year

#: Year of the synthetic weather (non-leap, 8760 hours).
WEATHER_YEAR = 2023
#: Hourly GHI may exceed clear-sky GHI by at most 10 % (cloud enhancement in hourly means is
#: rarely larger; project assumption).
_GHI_CAP_CLEARSKY_FRAC = 1.10
#: Day-to-day persistence of the daily clearness (lag-1 autocorrelation), project assumption
#: typical of subtropical monsoon climates (clear and overcast spells last several days).
_DAILY_CLEARNESS_AR1 = 0.5
#: Concentration (a + b) of the Beta distribution of daily clearness; 4 gives the broad,
#: partly bimodal spread of daily clearness in a humid subtropical climate (project assumption).
_DAILY_CLEARNESS_CONCENTRATION = 4.0
#: Largest hour-to-hour multiplicative spread (log-normal sigma) of clearness on half-cloudy
#: days; zero on clear and fully overcast days (project assumption).
_HOURLY_CLEARNESS_SIGMA = 0.25
#: Clock hours (UTC+8) of the daily temperature minimum and maximum (the Guangzhou TMYx EPW's
#: mean diurnal cycle has its minimum in 05:00-06:00 and its maximum in 13:00-16:00).
_T_MIN_HOUR = 6.0
_T_MAX_HOUR = 14.0


def _weather_times() -> pd.DatetimeIndex:
    """Interval midpoints of every hour of :data:`WEATHER_YEAR`, Asia/Shanghai (UTC+8, no DST)."""
    return pd.date_range(f"{WEATHER_YEAR}-01-01 00:30", periods=8760, freq="h", tz="Asia/Shanghai")


def _fit_sum(shape: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: float, where: str) -> np.ndarray:
    """Scale ``shape`` by one factor s, clipped to ``[lower, upper]``, so that the sum is ``target``.

    The clipped sum is continuous and non-decreasing in s, so bisection finds s. Raises
    :class:`InputError` when ``target`` is outside ``[sum(lower), sum(upper)]``.
    """
    lo_sum, hi_sum = float(lower.sum()), float(upper.sum())
    if not (lo_sum - 1e-9 <= target <= hi_sum + 1e-9):
        raise InputError(
            f"climate facts, {where}: the monthly sum {target / 1000:.2f} kWh/m2 cannot be met "
            f"(feasible {lo_sum / 1000:.2f}-{hi_sum / 1000:.2f}); check the facts file"
        )
    s_lo, s_hi = 0.0, 1.0
    while np.clip(s_hi * shape, lower, upper).sum() < target and s_hi < 1e9:
        s_hi *= 2.0
    for _ in range(200):
        s_mid = 0.5 * (s_lo + s_hi)
        if np.clip(s_mid * shape, lower, upper).sum() < target:
            s_lo = s_mid
        else:
            s_hi = s_mid
    return np.clip(s_hi * shape, lower, upper)


def _daily_clearness(rng: np.random.Generator, mean_frac: np.ndarray) -> np.ndarray:
    """Daily clearness (GHI / clear-sky GHI) for each day: AR(1) Gaussian copula into a Beta law.

    Parameters
    ----------
    rng : numpy.random.Generator
    mean_frac : ndarray, shape (n_days,)
        Target mean clearness of each day's month, in (0, 1). [-]

    Returns
    -------
    ndarray, shape (n_days,)
        Daily clearness in (0, 1). [-]
    """
    from scipy import stats

    n = mean_frac.size
    eps = rng.standard_normal(n)
    z = np.empty(n)
    z[0] = eps[0]
    rho = _DAILY_CLEARNESS_AR1
    for i in range(1, n):
        z[i] = rho * z[i - 1] + math.sqrt(1.0 - rho * rho) * eps[i]
    u = stats.norm.cdf(z)
    a = mean_frac * _DAILY_CLEARNESS_CONCENTRATION
    b = (1.0 - mean_frac) * _DAILY_CLEARNESS_CONCENTRATION
    return stats.beta.ppf(u, a, b)


def _diurnal_shape(clock_hour: np.ndarray) -> np.ndarray:
    """Daily temperature shape in [-0.5, 0.5]: minimum at :data:`_T_MIN_HOUR`, maximum at :data:`_T_MAX_HOUR`.

    Half a cosine rising over the 8 h from minimum to maximum and half a cosine falling over the
    other 16 h; each half averages to zero, so the daily mean of the shape is 0 and max - min is 1.
    """
    t = np.mod(clock_hour - _T_MIN_HOUR, 24.0)
    rise_h = _T_MAX_HOUR - _T_MIN_HOUR
    rising = -0.5 * np.cos(np.pi * t / rise_h)
    falling = 0.5 * np.cos(np.pi * (t - rise_h) / (24.0 - rise_h))
    return np.where(t < rise_h, rising, falling)


def synthesize_year(facts: ClimateFacts, seed: int = DEFAULT_WEATHER_SEED) -> pd.DataFrame:
    """Make an hourly weather year whose monthly statistics equal ``facts``.

    Method: Ineichen clear sky (pvlib, Linke turbidity from pvlib's bundled monthly table) at each
    interval midpoint, times a daily clearness drawn from a Beta law with the month's mean
    clearness (AR(1) day-to-day persistence) and an hourly log-normal spread, then scaled (capped at
    110 % of clear sky) so each month's GHI sum equals the fact. Erbs (pvlib.irradiance.erbs)
    splits GHI; DHI is scaled per month to the fact, kept within [GHI - clear-sky DNI cos(zenith),
    GHI], and DNI = (GHI - DHI) / cos(zenith). Temperature is the monthly mean plus a daily cycle
    of the month's mean range (minimum 06:00, maximum 14:00 local time); wind is the monthly mean.

    Parameters
    ----------
    facts : ClimateFacts
        Site and monthly statistics (see :func:`read_climate_facts`).
    seed : int
        Seed of numpy's default generator; the result depends on nothing else.

    Returns
    -------
    pandas.DataFrame
        8760 rows indexed by interval midpoints of 2023 (Asia/Shanghai, UTC+8), columns
        ``ghi_w_m2, dni_w_m2, dhi_w_m2`` [W/m2], ``temp_air_c`` [degC], ``wind_speed_m_s`` [m/s],
        rounded to 0.1.

    Raises
    ------
    InputError
        A monthly sum cannot be met (e.g. GHI above the clear-sky cap).
    """
    import pvlib

    rng = np.random.default_rng(seed)
    times = _weather_times()
    loc = pvlib.location.Location(facts.latitude_deg, facts.longitude_deg, tz="Asia/Shanghai",
                                  altitude=facts.altitude_m)
    solpos = loc.get_solarposition(times)
    clear = loc.get_clearsky(times, model="ineichen", solar_position=solpos)
    zenith = solpos["zenith"].to_numpy()
    cos_zen = np.cos(np.radians(zenith))
    ghi_cs = clear["ghi"].to_numpy()
    dni_cs = clear["dni"].to_numpy()
    month = times.month.to_numpy()
    day = times.day_of_year.to_numpy() - 1

    ghi_target_wh = np.asarray(facts.ghi_kwh_m2) * 1000.0
    dhi_target_wh = np.asarray(facts.dhi_kwh_m2) * 1000.0
    cs_month_wh = np.bincount(month - 1, weights=ghi_cs, minlength=12)
    mean_clearness = np.clip(ghi_target_wh / cs_month_wh, 0.05, 0.95)

    day_month = pd.date_range(f"{WEATHER_YEAR}-01-01", periods=365, freq="D").month.to_numpy()
    k_day = _daily_clearness(rng, mean_clearness[day_month - 1])
    k_d = k_day[day]
    sigma = _HOURLY_CLEARNESS_SIGMA * 4.0 * k_d * (1.0 - k_d)
    k_hour = k_d * np.exp(sigma * rng.standard_normal(times.size) - 0.5 * sigma**2)

    ghi = np.zeros(times.size)
    dhi = np.zeros(times.size)
    raw_ghi = ghi_cs * k_hour
    doy = times.day_of_year.to_numpy()
    for m in range(1, 13):
        sel = month == m
        ghi[sel] = _fit_sum(raw_ghi[sel], np.zeros(sel.sum()), _GHI_CAP_CLEARSKY_FRAC * ghi_cs[sel],
                            ghi_target_wh[m - 1], f"month {m} GHI")
    erbs = pvlib.irradiance.erbs(ghi, zenith, doy)
    dhi_erbs = np.nan_to_num(np.asarray(erbs["dhi"], dtype=float))
    beam_max = np.maximum(dni_cs * np.clip(cos_zen, 0.0, None), 0.0)
    dhi_lower = np.maximum(ghi - beam_max, 0.0)
    for m in range(1, 13):
        sel = month == m
        dhi[sel] = _fit_sum(dhi_erbs[sel], dhi_lower[sel], ghi[sel], dhi_target_wh[m - 1], f"month {m} DHI")
    with np.errstate(divide="ignore", invalid="ignore"):
        dni = np.where(cos_zen > 0.0, (ghi - dhi) / cos_zen, 0.0)
    dni = np.clip(np.nan_to_num(dni), 0.0, dni_cs)

    clock_hour = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    t_mean = np.asarray(facts.temp_air_mean_c)[month - 1]
    t_range = np.asarray(facts.temp_air_daily_range_c)[month - 1]
    temp_air = t_mean + t_range * _diurnal_shape(clock_hour)
    wind = np.asarray(facts.wind_speed_mean_m_s)[month - 1]

    out = pd.DataFrame(
        {"ghi_w_m2": ghi, "dni_w_m2": dni, "dhi_w_m2": dhi, "temp_air_c": temp_air, "wind_speed_m_s": wind},
        index=pd.DatetimeIndex(times, name="time"),
    )
    # + 0.0 turns -0.0 into 0.0 so the CSV never shows "-0.0"
    return out.round(1) + 0.0


def format_weather_csv(year: pd.DataFrame, facts: ClimateFacts, *, source: str) -> str:
    """Render a weather year in the default-year CSV format.

    Format: UTF-8; leading ``# key: value`` lines (latitude_deg, longitude_deg, altitude_m,
    source, time_convention), then the header ``time,ghi_w_m2,dni_w_m2,dhi_w_m2,temp_air_c,
    wind_speed_m_s`` and one row per hour, ``time`` in ISO 8601 with offset at the middle of the
    hour (``2023-01-01T00:30:00+08:00``), values with one decimal.

    Parameters
    ----------
    year : pandas.DataFrame
        As returned by :func:`synthesize_year`.
    facts : ClimateFacts
        Gives the site written into the header.
    source : str
        One line saying how the year was made.

    Returns
    -------
    str
    """
    header = [
        f"# latitude_deg: {facts.latitude_deg!r}",
        f"# longitude_deg: {facts.longitude_deg!r}",
        f"# altitude_m: {facts.altitude_m!r}",
        f"# source: {source}",
        "# time_convention: time is the middle of each hourly interval, local standard time UTC+08:00; "
        "values are means over the hour (irradiance W/m2, temperature degC, wind m/s)",
        "time," + ",".join(_WEATHER_COLUMNS),
    ]
    stamps = [ts.isoformat() for ts in year.index]
    cols = [year[c].to_numpy() for c in _WEATHER_COLUMNS]
    rows = [
        f"{stamps[i]}," + ",".join(f"{col[i]:.1f}" for col in cols)
        for i in range(len(stamps))
    ]
    return "\n".join(header + rows) + "\n"


# =========================================================================== demo district
#
# Layout: zones (rectangles in EPSG:4547 metres, each rotated like its street grid) hold a grid of
# street blocks; each block gets one block type, and a block filler places non-overlapping
# rectangles (a few L-shapes) in the block's own frame with gaps of at least 1.5 m. Blocks are
# separated by streets of 18-30 m, so buildings never overlap across blocks either.


@dataclass(frozen=True)
class _Zone:
    """A district zone: a rotated rectangle of street blocks with a fixed mix of block types."""

    name: str
    lon_deg: float
    lat_deg: float
    width_m: float
    depth_m: float
    rotation_deg: float  # counter-clockwise, of the street grid against grid east
    block_w_m: float
    block_h_m: float
    street_m: float
    blocks: tuple[tuple[str, int], ...]  # (block type, number of blocks); the rest stays open space


#: Zones modelled on Tianhe's land use (positions from general maps of the district: Zhujiang New
#: Town CBD south-west, Tianhe Road commerce, Shipai/Wushan universities, urban villages such as
#: Shipai, Xiancun, Chebei, Tangxia, Cencun, industrial land at Dongpu/Huangcun, the Tianhe
#: Software Park and the Tianhe Science and Technology Park at Gaotang in the east and north-east,
#: the forested north left empty). Each zone lies inside the district boundary (checked against
#: ../shared/data/440106_tianhe_boundary_wgs84.geojson by tests/test_demo.py).
_ZONES: tuple[_Zone, ...] = (
    _Zone("zhujiang_new_town_cbd", 113.3235, 23.1210, 1900, 1250, -3.0, 170, 150, 30,
          (("cbd_towers", 30), ("commercial_mixed", 6), ("government", 4), ("public_venue", 8),
           ("estate_high", 9), ("school_campus", 2), ("hospital", 1))),
    _Zone("liede_xiancun", 113.3440, 23.1215, 900, 1100, 4.0, 160, 150, 28,
          (("village", 2), ("estate_high", 9), ("commercial_mixed", 3), ("hospital", 1),
           ("school_campus", 1), ("public_venue", 2), ("government", 1), ("other_utility", 1))),
    _Zone("yuancun_huangpu_ave", 113.3640, 23.1230, 1400, 1000, 7.0, 160, 150, 25,
          (("estate_old", 8), ("estate_high", 8), ("village", 2), ("hospital", 1), ("school_campus", 2),
           ("government", 2), ("other_utility", 3), ("commercial_mixed", 3), ("public_venue", 1))),
    _Zone("chebei_tangde", 113.3920, 23.1245, 1500, 1150, 11.0, 160, 150, 22,
          (("village", 6), ("estate_high", 8), ("estate_old", 8), ("commercial_mixed", 4),
           ("school_campus", 3), ("hospital", 1), ("government", 2), ("other_utility", 4), ("public_venue", 2),
           ("industrial_multi", 2))),
    _Zone("dongpu_huangcun", 113.4140, 23.1300, 900, 1000, 15.0, 160, 150, 22,
          (("industrial_shed", 11), ("industrial_multi", 4), ("village", 2), ("other_utility", 3),
           ("school_campus", 1))),
    _Zone("tianhe_road_tiyu", 113.3230, 23.1400, 1500, 1000, 0.0, 170, 150, 28,
          (("commercial_mixed", 12), ("cbd_towers", 7), ("public_venue", 3), ("government", 3),
           ("hospital", 2), ("estate_high", 4), ("school_campus", 1))),
    _Zone("shipai_village", 113.3390, 23.1375, 500, 650, 2.0, 150, 140, 18,
          (("village", 6), ("estate_old", 2), ("school_campus", 1))),
    _Zone("university_a", 113.3490, 23.1385, 700, 800, 0.0, 200, 180, 25, (("university", 9),)),
    _Zone("tianhe_park_tangxia", 113.3770, 23.1440, 1500, 900, 9.0, 160, 150, 25,
          (("village", 3), ("estate_high", 14), ("estate_old", 8), ("school_campus", 2), ("hospital", 1),
           ("government", 2), ("public_venue", 4), ("commercial_mixed", 3), ("other_utility", 2))),
    _Zone("keyun_software_park", 113.4045, 23.1495, 1100, 900, 18.0, 160, 150, 25,
          (("commercial_mixed", 8), ("industrial_multi", 9), ("estate_high", 5), ("other_utility", 3),
           ("school_campus", 1), ("hospital", 1), ("government", 1))),
    _Zone("tianhe_sci_tech_park", 113.4190, 23.1535, 800, 900, 14.0, 170, 160, 25,
          (("industrial_shed", 13), ("industrial_multi", 4), ("other_utility", 1))),
    _Zone("shahe_yantang", 113.3225, 23.1600, 1000, 900, -5.0, 160, 150, 25,
          (("estate_old", 8), ("estate_high", 5), ("commercial_mixed", 5), ("other_utility", 3),
           ("government", 2), ("hospital", 1), ("school_campus", 1))),
    _Zone("university_b", 113.3440, 23.1570, 1000, 900, 0.0, 200, 180, 25, (("university", 14),)),
    _Zone("university_c", 113.3610, 23.1680, 900, 800, 6.0, 200, 180, 25, (("university", 10),)),
    _Zone("gaotang_cencun", 113.4040, 23.1745, 1300, 1000, 10.0, 170, 160, 25,
          (("industrial_shed", 15), ("industrial_multi", 5), ("village", 3), ("other_utility", 3),
           ("estate_high", 2), ("school_campus", 1), ("government", 1))),
    _Zone("longdong", 113.3840, 23.1955, 1100, 850, 5.0, 160, 150, 25,
          (("village", 2), ("estate_high", 6), ("estate_old", 7), ("school_campus", 2),
           ("other_utility", 3), ("hospital", 1), ("public_venue", 1), ("government", 1),
           ("industrial_shed", 3))),
    _Zone("university_d", 113.3640, 23.2010, 700, 700, -4.0, 200, 180, 25, (("university", 8),)),
    _Zone("fenghuang", 113.3730, 23.2200, 700, 600, 3.0, 160, 150, 25,
          (("village", 1), ("industrial_shed", 5), ("other_utility", 2))),
)

# Module of the existing PV systems: 550 Wp, 2.278 m x 1.134 m = 2.58 m2 (typical 2021-2024
# 72-cell mono-Si module datasheets, e.g. LONGi Hi-MO 5m LR5-72HPH-550M; secondary).
_EXISTING_PV_MODULE_KWP = 0.55
_EXISTING_PV_MODULE_AREA_M2 = 2.58
# Existing PV systems by category: (number of buildings, min kWp, max kWp). Project assumption
# giving about 1 MW in total, in line with the Tianhe plan's premise that the district starts
# far below its 3 MW 2025 target (Tianhe carbon-peak plan 2024, s.2(1) item 1).
_EXISTING_PV_PLAN = {
    "industrial": (8, 40.0, 150.0),
    "school": (4, 10.0, 50.0),
    "public": (2, 10.0, 50.0),
    "government": (2, 10.0, 50.0),
    "hospital": (2, 10.0, 50.0),
    "commercial": (2, 10.0, 50.0),
}
# Share of buildings completed 2022 or later, by category (project assumption, giving 5-10 % new
# buildings overall, with new public institutions and factories for the 2025 coverage target).
_P_NEW = {
    "government": 0.15, "hospital": 0.15, "school": 0.15, "public": 0.25, "industrial": 0.22,
    "commercial": 0.12, "residential": 0.08, "other": 0.08,
}
# Existing PV only on roofs up to 60 m high (project assumption: rooftop PV on super-tall towers is rare).
_EXISTING_PV_MAX_HEIGHT_M = 60.0
_NEW_YEARS = (2022, 2024)  # first and last completion year of "new" buildings (data set made in 2024)

# Institution types: Chinese name, English name, owner pattern ({n} = institution number).
_INSTITUTIONS = {
    "tower": ("示例商务大厦", "Demo Office Tower", "示例置业有限公司 {n} / Demo Property Co. {n}"),
    "mall": ("示例商业中心", "Demo Commercial Centre", "示例商业管理有限公司 {n} / Demo Retail Management Co. {n}"),
    "estate": ("示例小区", "Demo Estate", "示例小区 {n} 业主委员会 / Demo Estate {n} Owners' Committee"),
    "village": ("示例村", "Demo Village", "示例村 {n} 经济联合社 / Demo Village {n} Economic Cooperative"),
    "factory": ("示例工业园", "Demo Industrial Park", "示例制造有限公司 {n} / Demo Manufacturing Co. {n}"),
    "school": ("示例学校", "Demo School", "示例学校 {n} / Demo School {n}"),
    "kindergarten": ("示例幼儿园", "Demo Kindergarten", "示例幼儿园 {n} / Demo Kindergarten {n}"),
    "university": ("示例大学", "Demo University", "示例大学 {n} / Demo University {n}"),
    "hospital": ("示例医院", "Demo Hospital", "示例医院 {n} / Demo Hospital {n}"),
    "gov_office": ("示例机关办公区", "Demo Government Offices",
                   "示例区机关事务管理局 / Demo District Government Affairs Bureau"),
    "subdistrict": ("示例街道办事处", "Demo Sub-district Office", "示例街道办事处 {n} / Demo Sub-district Office {n}"),
    "party_centre": ("示例党群服务中心", "Demo Party-Masses Service Centre",
                     "示例党群服务中心 {n} / Demo Party-Masses Service Centre {n}"),
    "library": ("示例图书馆", "Demo Library", "示例区文化广电旅游局 / Demo District Culture Bureau"),
    "museum": ("示例博物馆", "Demo Museum", "示例区文化广电旅游局 / Demo District Culture Bureau"),
    "culture": ("示例文化馆", "Demo Cultural Centre", "示例区文化广电旅游局 / Demo District Culture Bureau"),
    "sports": ("示例体育中心", "Demo Sports Centre", "示例区体育局 / Demo District Sports Bureau"),
    "utility": ("示例配套设施", "Demo Service Site", "示例公用事业有限公司 {n} / Demo Utilities Co. {n}"),
}


@dataclass
class _Proto:
    """One building in its block's frame (metres): a rectangle, optionally with one corner cut off."""

    x0: float
    y0: float
    x1: float
    y1: float
    category: str
    floors: int
    height_m: float
    roof_type: str = "flat"
    tilt_deg: float = 0.0
    label: tuple[str, str] = ("", "")
    inst: str = "utility"
    inst_local: int = 0
    year_range: tuple[int, int] = (1990, 2021)
    corner_cut: tuple[int, float, float] | None = None  # (corner 0-3, cut width frac, cut depth frac)


def _rect_in(rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float,
             w_range: tuple[float, float], d_range: tuple[float, float], gap_m: float = 4.0):
    """A rectangle of random size inside a slot, long side along the slot's long side, placed at random."""
    sw, sh = (x1 - x0) - 2 * gap_m, (y1 - y0) - 2 * gap_m
    long_, short_ = (sw, sh) if sw >= sh else (sh, sw)
    a = min(rng.uniform(*w_range), long_)
    b = min(rng.uniform(*d_range), short_, a)
    w, h = (a, b) if sw >= sh else (b, a)
    cx = x0 + gap_m + rng.uniform(0, sw - w)
    cy = y0 + gap_m + rng.uniform(0, sh - h)
    return cx, cy, cx + w, cy + h


def _slots(bw: float, bh: float, nx: int, ny: int) -> list[tuple[float, float, float, float]]:
    """Split a block into an nx x ny grid of slots (row-major from the south-west corner)."""
    xs = np.linspace(0, bw, nx + 1)
    ys = np.linspace(0, bh, ny + 1)
    return [(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(ny) for i in range(nx)]


def _pitched_height(eave_m: float, short_side_m: float, tilt_deg: float) -> float:
    """Mean roof height of a gable roof: eaves plus half the rise over half the span. [m]"""
    return eave_m + 0.5 * (0.5 * short_side_m) * math.tan(math.radians(tilt_deg))


def _fill_cbd_towers(rng, bw, bh):
    n = int(rng.choice([1, 2, 2, 3, 4]))
    nx, ny = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}[n]
    out = []
    for k, (x0, y0, x1, y1) in enumerate(_slots(bw, bh, nx, ny)):
        rx = _rect_in(rng, x0, y0, x1, y1, (32, 60), (28, 50), gap_m=8)
        # heights: log-normal around 170 m, limited to 100-400 m (Zhujiang New Town's office towers
        # are mostly 100-300 m; a few exceed 400 m, capped here)
        height = float(np.clip(rng.lognormal(math.log(170), 0.35), 100, 400))
        out.append(_Proto(*rx, "commercial", max(1, round(height / 4.2)), height, label=("", ""),
                          inst="tower", inst_local=k, year_range=(1998, 2021)))
    return out


def _fill_commercial_mixed(rng, bw, bh):
    out = []
    nx, ny = (3, 2) if rng.random() < 0.5 else (2, 2)
    for k, (x0, y0, x1, y1) in enumerate(_slots(bw, bh, nx, ny)):
        r = rng.random()
        if r < 0.3:  # shopping podium / mall
            rx = _rect_in(rng, x0, y0, x1, y1, (50, 90), (40, 70))
            floors = int(rng.integers(3, 7))
            p = _Proto(*rx, "commercial", floors, floors * 5.0, label=("商场", "Mall"), inst="mall", inst_local=k,
                       year_range=(1990, 2021))
        elif r < 0.42:  # multi-storey car park or service building
            rx = _rect_in(rng, x0, y0, x1, y1, (40, 60), (30, 45))
            floors = int(rng.integers(3, 7))
            p = _Proto(*rx, "other", floors, floors * 3.2, label=("停车楼", "Car Park Building"), inst="utility",
                       inst_local=k, year_range=(1995, 2021))
        else:  # office / hotel, mid- to high-rise
            rx = _rect_in(rng, x0, y0, x1, y1, (30, 55), (20, 40))
            floors = int(rng.integers(6, 21)) if rng.random() < 0.7 else int(rng.integers(20, 41))
            p = _Proto(*rx, "commercial", floors, floors * 4.0, label=("办公楼", "Office Building"), inst="tower",
                       inst_local=k, year_range=(1985, 2021))
        if p.category == "commercial" and rng.random() < 0.2:
            p.corner_cut = (int(rng.integers(0, 4)), float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.3, 0.5)))
        out.append(p)
    return out


def _fill_estate_high(rng, bw, bh):
    out = []
    margin = 8.0
    row_pitch = rng.uniform(40, 52)
    n_rows = max(1, int((bh - 2 * margin + 8) // row_pitch))
    kg_row = n_rows - 1 if rng.random() < 0.4 else -1
    for r in range(n_rows):
        y0 = margin + r * row_pitch
        depth = rng.uniform(16, 22)
        x = margin
        first = True
        while True:
            width = rng.uniform(24, 34)
            if x + width > bw - margin:
                break
            if r == kg_row and first:  # kindergarten, 3 floors
                w = min(40.0, bw - margin - x)
                out.append(_Proto(x, y0, x + w, y0 + min(depth + 6, row_pitch - 14), "school", 3, 10.5,
                                  label=("教学楼", "Building"), inst="kindergarten", year_range=(2000, 2021)))
                x += w + rng.uniform(12, 18)
                first = False
                continue
            first = False
            floors = int(rng.integers(18, 34))
            # 3.0 m storeys (GB 50096-2011 residential floor-to-floor height, commonly 2.8-3.0 m)
            out.append(_Proto(x, y0, x + width, y0 + depth, "residential", floors, floors * 3.0,
                              label=("住宅楼", "Residential Block"), inst="estate", year_range=(1998, 2021)))
            x += width + rng.uniform(12, 20)
    return out


def _fill_estate_old(rng, bw, bh):
    out = []
    margin = 6.0
    y = margin
    while True:
        depth = rng.uniform(11, 13)
        if y + depth > bh - margin:
            break
        x = margin
        while True:
            length = rng.uniform(36, 60)
            if x + length > bw - margin:
                break
            floors = int(rng.integers(6, 10))
            p = _Proto(x, y, x + length, y + depth, "residential", floors, floors * 2.9,
                       label=("住宅楼", "Residential Block"), inst="estate", year_range=(1980, 1999))
            if rng.random() < 0.08:  # flat-to-pitched retrofit (平改坡), tile roof 20-30 deg
                p.roof_type, p.tilt_deg = "pitched", float(rng.uniform(20, 30))
                p.height_m = _pitched_height(floors * 2.9, depth, p.tilt_deg)
            out.append(p)
            x += length + rng.uniform(8, 12)
        y += depth + rng.uniform(11, 16)
    return out


def _fill_village(rng, bw, bh, *, with_centre: bool):
    """Dense 5-8 storey 'handshake' houses of ~80-200 m2 with 1.5-2.5 m gaps and 4-6 m lanes."""
    out = []
    margin = 4.0
    civic = []
    if with_centre:  # village committee (government) and ancestral hall (other) in the south-west corner
        civic = [(margin, margin, margin + 30, margin + 20), (margin + 34, margin, margin + 54, margin + 15)]
        out.append(_Proto(*civic[0], "government", 5, 5 * 3.3, label=("办公楼", "Office"), inst="village",
                          inst_local=1, year_range=(1995, 2021)))
        tilt = float(rng.uniform(25, 30))
        out.append(_Proto(*civic[1], "other", 1, _pitched_height(6.0, 15.0, tilt), roof_type="pitched",
                          tilt_deg=tilt, label=("祠堂", "Ancestral Hall"), inst="village", year_range=(1900, 1990)))
    y = margin
    rows_since_lane = 0
    while True:
        depth = rng.uniform(9, 15)
        if y + depth > bh - margin:
            break
        x = margin
        cols_since_lane = 0
        lane_every = int(rng.integers(4, 7))
        while True:
            width = rng.uniform(8, 14)
            if x + width > bw - margin:
                break
            box = (x, y, x + width, y + depth)
            if not any(box[0] < c[2] + 2 and box[2] > c[0] - 2 and box[1] < c[3] + 2 and box[3] > c[1] - 2
                       for c in civic):
                if rng.random() < 0.03:  # old 2-3 storey house with a tile roof
                    floors = int(rng.integers(2, 4))
                    tilt = float(rng.uniform(22, 30))
                    out.append(_Proto(*box, "residential", floors, _pitched_height(floors * 3.0, min(width, depth), tilt),
                                      roof_type="pitched", tilt_deg=tilt, label=("民居", "House"), inst="village",
                                      year_range=(1960, 1990)))
                else:
                    floors = int(rng.integers(5, 9))
                    out.append(_Proto(*box, "residential", floors, floors * 3.0, label=("民居", "House"),
                                      inst="village", year_range=(1985, 2015)))
            cols_since_lane += 1
            gap = rng.uniform(4, 6) if cols_since_lane % lane_every == 0 else rng.uniform(1.5, 2.5)
            x += width + gap
        rows_since_lane += 1
        y += depth + (rng.uniform(4, 6) if rows_since_lane % 3 == 0 else rng.uniform(1.5, 2.5))
    return out


def _fill_industrial_shed(rng, bw, bh):
    out = []
    margin = 8.0
    # factory office building along the south edge
    ow = rng.uniform(30, 45)
    floors = int(rng.integers(4, 7))
    out.append(_Proto(margin, margin, margin + ow, margin + 15, "industrial", floors, floors * 3.8,
                      label=("办公楼", "Office Building"), inst="factory", year_range=(1990, 2021)))
    y = margin + 15 + rng.uniform(12, 18)
    while True:
        depth = rng.uniform(24, 55)
        if y + depth > bh - margin:
            break
        x = margin
        while True:
            length = rng.uniform(45, 130)
            if x + length > bw - margin:
                if bw - margin - x >= 45:
                    length = bw - margin - x
                else:
                    break
            eave = float(rng.uniform(8, 13))
            if rng.random() < 0.7:  # light-steel shed, metal roof 5-10 deg (typical portal-frame pitch)
                tilt = float(rng.uniform(5, 10))
                p = _Proto(x, y, x + length, y + depth, "industrial", 1, _pitched_height(eave, depth, tilt),
                           roof_type="pitched", tilt_deg=tilt, label=("厂房", "Factory Building"), inst="factory",
                           year_range=(1990, 2021))
            else:
                p = _Proto(x, y, x + length, y + depth, "industrial", 1 if eave < 11 else 2, eave + 2.0,
                           label=("厂房", "Factory Building"), inst="factory", year_range=(1990, 2021))
            if rng.random() < 0.12:
                p.category, p.label = "other", ("仓库", "Warehouse")
            out.append(p)
            x += length + rng.uniform(14, 20)
        y += depth + rng.uniform(14, 20)
    return out


def _fill_industrial_multi(rng, bw, bh):
    out = []
    for k, (x0, y0, x1, y1) in enumerate(_slots(bw, bh, 2, 3)):
        if rng.random() < 0.2:
            rx = _rect_in(rng, x0, y0, x1, y1, (30, 45), (16, 22))
            floors = int(rng.integers(8, 16))
            out.append(_Proto(*rx, "commercial", floors, floors * 3.9, label=("研发楼", "R&D Building"),
                              inst="factory", year_range=(2000, 2021)))
        else:
            rx = _rect_in(rng, x0, y0, x1, y1, (55, 80), (20, 30))
            floors = int(rng.integers(4, 9))
            out.append(_Proto(*rx, "industrial", floors, floors * 4.5, label=("厂房", "Factory Building"),
                              inst="factory", year_range=(1995, 2021)))
    return out


def _campus(rng, bw, bh, nx, ny, specs, *, inst, category, year_range, pitched_frac=0.0,
            pitched_tilt=(20.0, 30.0)):
    """Fill slots of an nx x ny grid with buildings from ``specs`` (None = open space)."""
    out = []
    slots = _slots(bw, bh, nx, ny)
    order = rng.permutation(len(slots))
    for spec, si in zip(specs, order):
        if spec is None:
            continue
        label, w_range, d_range, floors_range, storey_m = spec
        rx = _rect_in(rng, *slots[si], w_range, d_range, gap_m=6)
        floors = int(rng.integers(floors_range[0], floors_range[1] + 1))
        p = _Proto(*rx, category, floors, floors * storey_m, label=label, inst=inst, year_range=year_range)
        if rng.random() < pitched_frac:
            tilt = float(rng.uniform(*pitched_tilt))
            p.roof_type, p.tilt_deg = "pitched", tilt
            p.height_m = _pitched_height(floors * storey_m, min(rx[2] - rx[0], rx[3] - rx[1]), tilt)
        out.append(p)
    return out


def _fill_school_campus(rng, bw, bh):
    specs = [
        (("教学楼", "Teaching Building"), (45, 70), (14, 16), (4, 6), 3.6),
        (("教学楼", "Teaching Building"), (45, 70), (14, 16), (4, 6), 3.6),
        (("综合楼", "Administration Building"), (30, 40), (14, 16), (4, 6), 3.6),
        (("体育馆", "Gymnasium"), (35, 45), (28, 35), (1, 1), 12.0),
        (("饭堂", "Canteen"), (30, 40), (18, 24), (2, 2), 4.5),
        (("宿舍楼", "Dormitory"), (40, 55), (12, 14), (5, 7), 3.0) if rng.random() < 0.5 else None,
        None,  # sports field
        None,
        None,
    ]
    return _campus(rng, bw, bh, 3, 3, specs, inst="school", category="school", year_range=(1985, 2021),
                   pitched_frac=0.1, pitched_tilt=(15, 25))


def _fill_university(rng, bw, bh):
    specs = [
        (("教学楼", "Teaching Building"), (55, 75), (16, 20), (5, 7), 3.9),
        (("实验楼", "Laboratory Building"), (45, 60), (18, 22), (6, 10), 4.2),
        (("宿舍楼", "Dormitory"), (50, 60), (12, 14), (6, 8), 3.0),
        (("宿舍楼", "Dormitory"), (50, 60), (12, 14), (6, 8), 3.0),
        (("图书馆", "Library"), (45, 55), (40, 50), (5, 7), 4.5) if rng.random() < 0.25 else
        (("学院楼", "Faculty Building"), (40, 55), (16, 20), (5, 8), 3.9),
        (("体育馆", "Gymnasium"), (45, 52), (35, 45), (1, 1), 15.0) if rng.random() < 0.3 else None,
        None,
        (("宿舍楼", "Dormitory"), (50, 60), (12, 14), (6, 8), 3.0) if rng.random() < 0.5 else None,
        None,
    ]
    # older campuses keep buildings with Chinese-style tile roofs, 25-32 deg
    return _campus(rng, bw, bh, 3, 3, specs, inst="university", category="school", year_range=(1955, 2021),
                   pitched_frac=0.1, pitched_tilt=(25, 32))


def _fill_hospital(rng, bw, bh):
    specs = [
        (("住院楼", "Inpatient Building"), (40, 55), (22, 28), (15, 28), 3.9),
        (("门诊楼", "Outpatient Building"), (45, 70), (35, 50), (4, 6), 4.5),
        (("医技楼", "Medical Technology Building"), (35, 45), (25, 32), (5, 8), 4.5),
        (("行政楼", "Administration Building"), (25, 35), (14, 16), (4, 6), 3.6),
        (("职工宿舍", "Staff Housing"), (35, 45), (13, 15), (10, 18), 3.0) if rng.random() < 0.6 else None,
        None,
    ]
    return _campus(rng, bw, bh, 3, 2, specs, inst="hospital", category="hospital", year_range=(1980, 2021))


def _fill_government(rng, bw, bh):
    inst = str(rng.choice(["gov_office", "subdistrict", "party_centre"]))
    specs = [
        (("办公楼", "Office Building"), (50, 65), (20, 28), (8, 18), 3.8),
        (("附楼", "Annex"), (35, 45), (16, 22), (4, 6), 3.8),
        (("政务服务中心", "Public Service Centre"), (40, 60), (30, 45), (3, 5), 4.5) if rng.random() < 0.6 else None,
        None,
    ]
    out = _campus(rng, bw, bh, 2, 2, specs, inst=inst, category="government", year_range=(1985, 2021))
    for p in out:
        if p.corner_cut is None and rng.random() < 0.2 and min(p.x1 - p.x0, p.y1 - p.y0) > 25:
            p.corner_cut = (int(rng.integers(0, 4)), 0.4, 0.4)
    return out


def _fill_public_venue(rng, bw, bh):
    inst = str(rng.choice(["library", "museum", "culture", "sports"]))
    if inst == "sports":
        specs = [
            (("体育馆", "Sports Hall"), (70, 90), (55, 70), (1, 1), 20.0),
            (("游泳馆", "Swimming Hall"), (50, 60), (30, 40), (1, 1), 14.0),
            (("综合楼", "Service Building"), (30, 40), (14, 18), (3, 5), 4.0) if rng.random() < 0.5 else None,
        ]
        return _campus(rng, bw, bh, 1, 3, specs, inst=inst, category="public", year_range=(1985, 2021),
                       pitched_frac=0.35, pitched_tilt=(8, 15))
    label = {"library": ("图书馆", "Library"), "museum": ("展馆", "Exhibition Building"),
             "culture": ("文化中心", "Cultural Centre")}[inst]
    specs = [
        (label, (70, 100), (50, 70), (4, 8), 5.0),
        (("配套楼", "Service Building"), (30, 45), (15, 20), (3, 5), 4.0) if rng.random() < 0.6 else None,
    ]
    return _campus(rng, bw, bh, 1, 2, specs, inst=inst, category="public", year_range=(1985, 2021))


def _fill_other_utility(rng, bw, bh):
    kinds = [
        (("变电站", "Substation"), (35, 45), (25, 32), (2, 3), 5.0, 0.0),
        (("公交场站", "Bus Depot Shed"), (70, 95), (25, 35), (1, 1), 8.0, 0.9),
        (("停车楼", "Car Park Building"), (50, 65), (35, 45), (4, 6), 3.2, 0.0),
        (("仓库", "Warehouse"), (45, 65), (22, 30), (1, 1), 9.0, 0.7),
        (("环卫站", "Sanitation Depot"), (25, 35), (15, 20), (1, 2), 4.5, 0.3),
    ]
    out = []
    for k, slot in enumerate(_slots(bw, bh, 2, 2)):
        if rng.random() < 0.25:
            continue
        label, w_range, d_range, floors_range, storey_m, p_pitched = kinds[int(rng.integers(0, len(kinds)))]
        rx = _rect_in(rng, *slot, w_range, d_range, gap_m=6)
        floors = int(rng.integers(floors_range[0], floors_range[1] + 1))
        p = _Proto(*rx, "other", floors, floors * storey_m, label=label, inst="utility", inst_local=k,
                   year_range=(1985, 2021))
        if rng.random() < p_pitched:  # light metal roof, 6-12 deg
            tilt = float(rng.uniform(6, 12))
            p.roof_type, p.tilt_deg = "pitched", tilt
            p.height_m = _pitched_height(floors * storey_m, min(rx[2] - rx[0], rx[3] - rx[1]), tilt)
        out.append(p)
    return out


_FILLERS = {
    "cbd_towers": _fill_cbd_towers,
    "commercial_mixed": _fill_commercial_mixed,
    "estate_high": _fill_estate_high,
    "estate_old": _fill_estate_old,
    "industrial_shed": _fill_industrial_shed,
    "industrial_multi": _fill_industrial_multi,
    "school_campus": _fill_school_campus,
    "university": _fill_university,
    "hospital": _fill_hospital,
    "government": _fill_government,
    "public_venue": _fill_public_venue,
    "other_utility": _fill_other_utility,
}


def _proto_polygon_local(p: _Proto):
    """Footprint of a proto in its block frame: the rectangle, or an L-shape when a corner is cut."""
    import shapely

    if p.corner_cut is None:
        return shapely.box(p.x0, p.y0, p.x1, p.y1)
    corner, fw, fd = p.corner_cut
    w, d = (p.x1 - p.x0) * fw, (p.y1 - p.y0) * fd
    cx = p.x0 if corner in (0, 3) else p.x1 - w
    cy = p.y0 if corner in (0, 1) else p.y1 - d
    return shapely.box(p.x0, p.y0, p.x1, p.y1).difference(shapely.box(cx, cy, cx + w, cy + d))


def _gable_planes_local(p: _Proto):
    """Two halves of a gable roof, split along the ridge over the long axis, with their local facing.

    Returns ``[(polygon, (dx, dy)), ...]``: each plane and the unit vector of its downslope
    direction in the block frame.
    """
    import shapely

    if (p.x1 - p.x0) >= (p.y1 - p.y0):
        ym = 0.5 * (p.y0 + p.y1)
        return [(shapely.box(p.x0, p.y0, p.x1, ym), (0.0, -1.0)), (shapely.box(p.x0, ym, p.x1, p.y1), (0.0, 1.0))]
    xm = 0.5 * (p.x0 + p.x1)
    return [(shapely.box(p.x0, p.y0, xm, p.y1), (-1.0, 0.0)), (shapely.box(xm, p.y0, p.x1, p.y1), (1.0, 0.0))]


def _zone_blocks(zone: _Zone, rng: np.random.Generator):
    """Block types and placements of a zone: list of (block type, centre dx, dy in zone frame, jitter deg)."""
    nx = int((zone.width_m + zone.street_m) // (zone.block_w_m + zone.street_m))
    ny = int((zone.depth_m + zone.street_m) // (zone.block_h_m + zone.street_m))
    types: list[str] = [t for t, n in zone.blocks for _ in range(n)]
    if len(types) > nx * ny:
        raise InputError(f"demo zone {zone.name}: {len(types)} blocks do not fit its {nx} x {ny} grid; "
                         "enlarge the zone or reduce its block counts")
    types += ["open"] * (nx * ny - len(types))
    types = [types[i] for i in rng.permutation(len(types))]
    pitch_x, pitch_y = zone.block_w_m + zone.street_m, zone.block_h_m + zone.street_m
    out = []
    for j in range(ny):
        for i in range(nx):
            dx = (i - 0.5 * (nx - 1)) * pitch_x
            dy = (j - 0.5 * (ny - 1)) * pitch_y
            out.append((types[j * nx + i], dx, dy, float(rng.uniform(-1.5, 1.5))))
    return out


def _affine(angle_deg: float, x0: float, y0: float) -> list[float]:
    """shapely affine matrix [a, b, d, e, xoff, yoff]: rotate by angle (counter-clockwise), then translate."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return [c, -s, s, c, x0, y0]


def _layout_district(seed: int) -> tuple[list[dict], list[dict]]:
    """Lay out every zone in EPSG:4547.

    Returns
    -------
    buildings : list of dict
        ``proto`` (:class:`_Proto`), ``geometry`` (metric polygon), ``inst`` (type, number),
        ``road_no``, ``house_no``.
    planes : list of dict
        ``index`` (into buildings), ``geometry``, ``tilt_deg``, ``azimuth_deg`` (true, clockwise from north).
    """
    from shapely import affinity
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    to_metric = Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
    inst_counter: dict[str, int] = {}
    zone_shared: dict[tuple[str, str], int] = {}
    buildings: list[dict] = []
    planes: list[dict] = []
    road_no = 0
    for zone in _ZONES:
        zx, zy = to_metric.transform(zone.lon_deg, zone.lat_deg)
        # grid bearing of true north at the zone (meridian convergence), to turn grid into true azimuths
        nx_, ny_ = to_metric.transform(zone.lon_deg, zone.lat_deg + 0.001)
        north_grid_deg = math.degrees(math.atan2(nx_ - zx, ny_ - zy))
        zc, zs = math.cos(math.radians(zone.rotation_deg)), math.sin(math.radians(zone.rotation_deg))
        village_centre_done = False
        for btype, dx, dy, jitter in _zone_blocks(zone, rng):
            if btype == "open":
                continue
            road_no += 1
            bw, bh = zone.block_w_m, zone.block_h_m
            if btype == "village":
                protos = _fill_village(rng, bw, bh, with_centre=not village_centre_done)
                village_centre_done = True
            else:
                protos = _FILLERS[btype](rng, bw, bh)
            angle = zone.rotation_deg + jitter
            matrix = _affine(angle, zx + zc * dx - zs * dy, zy + zs * dx + zc * dy)
            ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            block_numbers: dict[tuple[str, int], int] = {}
            for k, p in enumerate(protos):
                key = (p.inst, p.inst_local)
                if key not in block_numbers:
                    if p.inst in ("village", "university"):  # one per zone, spread over its blocks
                        zkey = (zone.name, p.inst)
                        if zkey not in zone_shared:
                            inst_counter[p.inst] = inst_counter.get(p.inst, 0) + 1
                            zone_shared[zkey] = inst_counter[p.inst]
                        block_numbers[key] = zone_shared[zkey]
                    else:
                        inst_counter[p.inst] = inst_counter.get(p.inst, 0) + 1
                        block_numbers[key] = inst_counter[p.inst]
                poly_local = affinity.translate(_proto_polygon_local(p), -bw / 2, -bh / 2)
                buildings.append({
                    "proto": p, "geometry": affinity.affine_transform(poly_local, matrix),
                    "inst": (p.inst, block_numbers[key]), "road_no": road_no, "house_no": k + 1,
                })
                if p.roof_type != "pitched":
                    continue
                for plane_local, (fx, fy) in _gable_planes_local(p):
                    gx, gy = ca * fx - sa * fy, sa * fx + ca * fy
                    planes.append({
                        "index": len(buildings) - 1,
                        "geometry": affinity.affine_transform(affinity.translate(plane_local, -bw / 2, -bh / 2),
                                                              matrix),
                        "tilt_deg": p.tilt_deg,
                        "azimuth_deg": (math.degrees(math.atan2(gx, gy)) - north_grid_deg) % 360.0,
                    })
    return buildings, planes


def _institution_names(layout: list[dict]) -> tuple[list[str], list[str]]:
    """Plainly synthetic bilingual names and owners, numbered per institution."""
    total: dict[tuple[str, int], int] = {}
    for b in layout:
        total[b["inst"]] = total.get(b["inst"], 0) + 1
    seen: dict[tuple[str, int], int] = {}
    names, owners = [], []
    for b in layout:
        kind, n = b["inst"]
        cn, en, owner = _INSTITUTIONS[kind]
        seen[b["inst"]] = k = seen.get(b["inst"], 0) + 1
        label_cn, label_en = b["proto"].label
        if total[b["inst"]] == 1 or not label_cn:
            names.append(f"{cn} {n} / {en} {n}")
        else:
            names.append(f"{cn} {n} {k}号{label_cn} / {en} {n} {label_en} {k}")
        owners.append(owner.format(n=n))
    return names, owners


def _years_built(rng: np.random.Generator, layout: list[dict]) -> np.ndarray:
    """Completion year of each building: uniform in its type's range, or new (2022-2024) with a category share."""
    years = np.empty(len(layout), dtype=np.int64)
    for i, b in enumerate(layout):
        p = b["proto"]
        year = int(rng.integers(p.year_range[0], p.year_range[1] + 1))
        new_year = int(rng.integers(_NEW_YEARS[0], _NEW_YEARS[1] + 1))
        # village houses and halls are not rebuilt any more (urban-village renewal replaces whole villages)
        can_be_new = p.inst != "village"
        years[i] = new_year if (can_be_new and rng.random() < _P_NEW[p.category]) else year
    return years


def _existing_pv_kwp(rng: np.random.Generator, category: np.ndarray, area_m2: np.ndarray, height_m: np.ndarray,
                     year_built: np.ndarray) -> np.ndarray:
    """Existing PV per building [kWp]: a few systems per category (:data:`_EXISTING_PV_PLAN`), a third on new buildings.

    A system of P kWp needs P / 0.55 modules of 2.58 m2; it goes only on a footprint at least
    twice that module area, and only on a building up to 60 m high.
    """
    kwp = np.zeros(category.size)
    for cat, (n, lo_kwp, hi_kwp) in _EXISTING_PV_PLAN.items():
        need_m2 = 2.0 * hi_kwp / _EXISTING_PV_MODULE_KWP * _EXISTING_PV_MODULE_AREA_M2
        fits = (category == cat) & (area_m2 >= need_m2) & (height_m <= _EXISTING_PV_MAX_HEIGHT_M)
        new_idx = np.flatnonzero(fits & (year_built >= _NEW_YEARS[0]))
        old_idx = np.flatnonzero(fits & (year_built < _NEW_YEARS[0]))
        n_new = min(n // 3, new_idx.size)
        chosen = np.concatenate([rng.choice(new_idx, n_new, replace=False),
                                 rng.choice(old_idx, min(n - n_new, old_idx.size), replace=False)])
        for i in chosen:
            modules = round(rng.uniform(lo_kwp, hi_kwp) / _EXISTING_PV_MODULE_KWP)
            kwp[i] = round(modules * _EXISTING_PV_MODULE_KWP, 2)
    return kwp


def _round_coords(geoms: np.ndarray, decimals: int = 7) -> np.ndarray:
    """Round every coordinate (1e-7 deg is about 1 cm), so that files do not carry float noise."""
    import shapely

    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


def generate_demo_district(seed: int = DEFAULT_SEED) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Generate the synthetic Tianhe demo district.

    Parameters
    ----------
    seed : int
        Seed of numpy's default generator; the result depends on nothing else.

    Returns
    -------
    buildings : geopandas.GeoDataFrame
        CRS EPSG:4490, one row per building: ``building_id`` ('TH000001'...), ``name``,
        ``category`` (one of :data:`CATEGORIES`), ``height_m`` [m] (roof height above ground; for
        pitched roofs the mean of eaves and ridge), ``floors``, ``roof_type`` ('flat' | 'pitched'),
        ``year_built``, ``existing_pv_kwp`` [kWp] (0 when none), ``owner``, ``address``, geometry
        (Polygon).
    roof_planes : geopandas.GeoDataFrame
        CRS EPSG:4490, two gable planes per pitched building: ``building_id``, ``plane_id``
        ('TH000123-P1'), ``tilt_deg`` [deg from horizontal], ``azimuth_deg`` [deg clockwise from
        true north, downslope direction], geometry (plan-view Polygon).
    """
    import geopandas as gpd

    layout, planes = _layout_district(seed)
    rng = np.random.default_rng([seed, 1])  # attributes: a stream apart from the layout's
    protos = [b["proto"] for b in layout]
    category = np.array([p.category for p in protos])
    metric = gpd.GeoSeries([b["geometry"] for b in layout], crs=METRIC_CRS)
    area_m2 = metric.area.to_numpy()
    year_built = _years_built(rng, layout)
    height_m = np.round([p.height_m for p in protos], 1)
    names, owners = _institution_names(layout)
    ids = [f"TH{i + 1:06d}" for i in range(len(layout))]
    buildings = gpd.GeoDataFrame(
        {
            "building_id": ids,
            "name": names,
            "category": category,
            "height_m": height_m,
            "floors": np.array([p.floors for p in protos], dtype=np.int64),
            "roof_type": [p.roof_type for p in protos],
            "year_built": year_built,
            "existing_pv_kwp": _existing_pv_kwp(rng, category, area_m2, height_m, year_built),
            "owner": owners,
            "address": [f"广州市天河区示例{b['road_no']}路{b['house_no']}号 / No. {b['house_no']}, "
                        f"Demo Road {b['road_no']}, Tianhe District, Guangzhou" for b in layout],
        },
        geometry=metric.to_crs(STORAGE_CRS).to_numpy(),
        crs=STORAGE_CRS,
    )
    buildings["geometry"] = _round_coords(buildings.geometry.to_numpy())
    plane_no: dict[int, int] = {}
    plane_ids = []
    for pl in planes:
        plane_no[pl["index"]] = plane_no.get(pl["index"], 0) + 1
        plane_ids.append(f"{ids[pl['index']]}-P{plane_no[pl['index']]}")
    plane_geoms = gpd.GeoSeries([pl["geometry"] for pl in planes], crs=METRIC_CRS).to_crs(STORAGE_CRS)
    roof_planes = gpd.GeoDataFrame(
        {
            "building_id": [ids[pl["index"]] for pl in planes],
            "plane_id": plane_ids,
            "tilt_deg": np.round([pl["tilt_deg"] for pl in planes], 1),
            "azimuth_deg": np.mod(np.round([pl["azimuth_deg"] for pl in planes], 1), 360.0),
        },
        geometry=_round_coords(plane_geoms.to_numpy()),
        crs=STORAGE_CRS,
    )
    return buildings, roof_planes


#: Categories whose sites get a surface car park in the demo (factories, hospitals, malls, campuses).
#: Surface car parks in the demo district (a synthetic figure: about one per 40 buildings).
DEMO_MAX_LOTS = 120

_PARKING_CATEGORIES = ("industrial", "hospital", "commercial", "school", "public", "government")


def generate_demo_parking(buildings: "gpd.GeoDataFrame", seed: int = DEFAULT_SEED,
                          max_lots: int = DEMO_MAX_LOTS) -> "gpd.GeoDataFrame":
    """Surface car parks beside the larger non-residential buildings of the demo district.

    For each candidate building (footprint at least 1,500 m2, of a category in
    ``_PARKING_CATEGORIES``) a lot of 30-70 m x 20-45 m is proposed next to its
    longest side, 4 m away; the footprints of every building (grown by 2 m) are cut
    out, the largest remaining piece is kept when at least 400 m2, and lots that
    overlap an earlier lot are dropped. Deterministic for a seed.

    Parameters
    ----------
    buildings : GeoDataFrame
        The demo district (any CRS; worked in EPSG:4547).
    seed : int
        Seed of numpy's default generator.
    max_lots : int
        Upper bound of the number of lots.

    Returns
    -------
    GeoDataFrame
        EPSG:4490: ``parking_id``, ``name``, ``amenity`` ('parking'), ``parking`` ('surface'),
        geometry (Polygon).
    """
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng([seed, 7])
    metric = buildings.to_crs(METRIC_CRS)
    geoms = metric.geometry.to_numpy()
    area = shapely.area(geoms)
    cand = np.flatnonzero(metric["category"].isin(_PARKING_CATEGORIES).to_numpy() & (area >= 1500.0))
    cand = cand[rng.permutation(len(cand))][: max_lots * 2]
    cand.sort()
    rect = shapely.oriented_envelope(geoms[cand])
    ring = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(len(cand), 5, 2)[:, :4]
    e01, e12 = ring[:, 1] - ring[:, 0], ring[:, 2] - ring[:, 1]
    long01 = np.hypot(*e01.T) >= np.hypot(*e12.T)
    p = np.where(long01[:, None, None], ring, np.roll(ring, -1, axis=1))  # p0 -> p1 is a long side
    along = p[:, 1] - p[:, 0]
    along /= np.hypot(*along.T)[:, None]
    centre = p.mean(axis=1)
    mid01 = (p[:, 0] + p[:, 1]) / 2.0
    out_n = mid01 - centre
    out_n /= np.hypot(*out_n.T)[:, None]
    length = rng.uniform(30.0, 70.0, len(cand))
    depth = rng.uniform(20.0, 45.0, len(cand))
    base = mid01 + 4.0 * out_n
    corners = np.stack([base - along * length[:, None] / 2, base + along * length[:, None] / 2,
                        base + along * length[:, None] / 2 + out_n * depth[:, None],
                        base - along * length[:, None] / 2 + out_n * depth[:, None]], axis=1)
    lots = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1))
    blocked = shapely.union_all(shapely.buffer(geoms, 2.0, join_style="mitre"))
    lots = shapely.difference(lots, blocked)
    parts = [max(shapely.get_parts(g), key=shapely.area) if not shapely.is_empty(g) else g for g in lots]
    kept: list = []
    for g in parts:
        if shapely.is_empty(g) or shapely.area(g) < 400.0:
            continue
        if any(shapely.intersects(g, k) for k in kept):
            continue
        kept.append(g)
        if len(kept) >= max_lots:
            break
    n = len(kept)
    gs = gpd.GeoSeries(kept, crs=METRIC_CRS).to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame({
        "parking_id": [f"PK{i + 1:04d}" for i in range(n)],
        "name": [f"示例停车场 {i + 1} / Demo car park {i + 1}" for i in range(n)],
        "amenity": ["parking"] * n,
        "parking": ["surface"] * n,
    }, geometry=_round_coords(gs.to_numpy()), crs=STORAGE_CRS)


# =========================================================================== files


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, as lowercase hex.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    """Make GDAL stamp GeoPackages with :data:`GPKG_FIXED_DATE` (OGR_CURRENT_DATE) for the duration."""
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _write_gpkg(gdf, path: Path, layer: str) -> None:
    import pyogrio

    with _fixed_gpkg_date():
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")


@dataclass(frozen=True)
class DemoFile:
    """One file written by :func:`write_demo_data`: path, SHA-256 and 'written' | 'replaced' | 'unchanged'."""

    path: Path
    sha256: str
    status: str


@dataclass(frozen=True)
class DemoDataReport:
    """What :func:`write_demo_data` did, and a summary of the district.

    Attributes
    ----------
    files : tuple of DemoFile
    n_buildings, n_roof_planes : int
    category_counts : dict of str to int
    footprint_area_m2 : float
        Total footprint area, computed in EPSG:4547. [m2]
    existing_pv_kwp : float
        Total existing PV capacity. [kWp]
    n_existing_pv : int
        Buildings with existing PV.
    n_new_buildings : int
        Buildings completed 2022 or later.
    """

    files: tuple[DemoFile, ...]
    n_buildings: int
    n_roof_planes: int
    category_counts: dict
    footprint_area_m2: float
    existing_pv_kwp: float
    n_existing_pv: int
    n_new_buildings: int


def write_demo_data(out_dir: str | os.PathLike | None = None, *, overwrite: bool = False,
                    seed: int = DEFAULT_SEED, weather_seed: int = DEFAULT_WEATHER_SEED,
                    facts: ClimateFacts | None = None) -> DemoDataReport:
    """Write the embedded default data set: district, roof planes, climate facts and weather year.

    Files (in ``out_dir``): :data:`BUILDINGS_FILE` (layer ``buildings``), :data:`ROOFS_FILE`
    (layer ``roof_planes``), :data:`FACTS_FILE` and :data:`WEATHER_FILE`. Everything is first
    written to a temporary directory inside ``out_dir``; a file whose bytes are unchanged is left
    alone, a different existing file is replaced only with ``overwrite``.

    Parameters
    ----------
    out_dir : path-like, optional
        Target directory; default :data:`DATA_DIR` (the repository's ``data/``). Created if missing.
    overwrite : bool
        Replace existing files whose content differs.
    seed, weather_seed : int
        Seeds of the district and of the weather year.
    facts : ClimateFacts, optional
        Climate facts; default: read from ``DATA_DIR / FACTS_FILE``.

    Returns
    -------
    DemoDataReport

    Raises
    ------
    OutputError
        A file exists with different content and ``overwrite`` is false, or ``out_dir`` is not writable.
    InputFileError
        The climate-facts file cannot be read.
    """
    out = Path(out_dir) if out_dir is not None else DATA_DIR
    if facts is None:
        facts = read_climate_facts(data_path(FACTS_FILE))
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-data-", dir=out))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output directory ({exc}); choose another --out") from exc
    try:
        buildings, roof_planes = generate_demo_district(seed)
        _write_gpkg(buildings, tmp / BUILDINGS_FILE, BUILDINGS_LAYER)
        _write_gpkg(roof_planes, tmp / ROOFS_FILE, ROOFS_LAYER)
        _write_gpkg(generate_demo_parking(buildings, seed), tmp / PARKING_FILE, PARKING_LAYER)
        (tmp / FACTS_FILE).write_bytes(format_climate_facts(facts).encode("utf-8"))
        year = synthesize_year(facts, weather_seed)
        source = (f"synthetic hourly year made by pv_survey.demo.synthesize_year (seed {weather_seed}) from "
                  f"{FACTS_FILE} (monthly statistics of the Guangzhou TMYx 2009-2023 EPW, WMO 592870, ERA5 "
                  "radiation); not measured data")
        (tmp / WEATHER_FILE).write_bytes(format_weather_csv(year, facts, source=source).encode("utf-8"))

        names = (BUILDINGS_FILE, ROOFS_FILE, PARKING_FILE, FACTS_FILE, WEATHER_FILE)
        new_sha = {n: file_sha256(tmp / n) for n in names}
        old_sha = {n: file_sha256(out / n) for n in names if (out / n).exists()}
        conflicts = [n for n in names if n in old_sha and old_sha[n] != new_sha[n]]
        if conflicts and not overwrite:
            raise OutputError(f"{out}: {', '.join(conflicts)} already exist with different content; "
                              "pass --overwrite (overwrite=True) to replace them")
        files = []
        for n in names:
            if old_sha.get(n) == new_sha[n]:
                files.append(DemoFile(out / n, new_sha[n], "unchanged"))
                continue
            os.replace(tmp / n, out / n)
            files.append(DemoFile(out / n, new_sha[n], "replaced" if n in old_sha else "written"))
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the demo data ({exc}); check permissions and free space") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    area_m2 = float(buildings.to_crs(METRIC_CRS).area.sum())
    counts = {c: int((buildings["category"] == c).sum()) for c in CATEGORIES}
    return DemoDataReport(
        files=tuple(files),
        n_buildings=len(buildings),
        n_roof_planes=len(roof_planes),
        category_counts=counts,
        footprint_area_m2=area_m2,
        existing_pv_kwp=float(buildings["existing_pv_kwp"].sum()),
        n_existing_pv=int((buildings["existing_pv_kwp"] > 0).sum()),
        n_new_buildings=int((buildings["year_built"] >= _NEW_YEARS[0]).sum()),
    )
