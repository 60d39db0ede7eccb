"""Per-roof annual PV yield: a fused engine and the plain pvlib reference with the same physics.

The physics, step by step (as pvlib's ``ModelChain.with_pvwatts`` does it, plus
the roof's own shading and diffuse IAM):

1. Solar position: :func:`pvlib.solarposition.get_solarposition` (``nrel_numpy``,
   Reda & Andreas 2004) at the middle of each hour, pressure from the altitude
   (:func:`pvlib.atmosphere.alt2pres`) and the hour's air temperature for the
   refraction correction, as ``ModelChain`` passes them. The *apparent*
   (refraction-corrected) zenith is used for transposition, angle of incidence
   and the horizon test, as ``ModelChain.prepare_inputs`` does.
2. Relative airmass (Kasten & Young 1989) and extraterrestrial DNI (Spencer
   1971, :func:`pvlib.irradiance.get_extra_radiation`).
3. Perez 1990 transposition (:func:`pvlib.irradiance.perez`, all-sites
   composite coefficients) split into isotropic, circumsolar and horizon-band
   parts; its F1/F2 coefficients do not depend on the plane, so they are
   computed once per hour. Ground-reflected irradiance
   (:func:`pvlib.irradiance.get_ground_diffuse`) with a configurable albedo.
4. Shading of the roof (not in ``ModelChain``):

   * horizon: in the sector of the sun's azimuth, the share of the roof's
     horizon quantile values above the apparent sun elevation is the shaded
     share of the roof; beam **and** circumsolar irradiance are reduced by it
     (circumsolar light comes from the sun's direction);
   * sky view: the isotropic sky diffuse is multiplied by the plane's own view
     factor of the sky above its horizon, relative to the open plane's
     ``(1 + cos tilt) / 2`` (:func:`pv_survey.shading.plane_sky_view_frac`, per
     quantile profile, averaged; a given ``sky_view_frac`` overrides it). A
     horizontal sky-view factor would count obstructions behind a tilted plane
     that it cannot see;
   * horizon band: Perez's horizon-brightening term is multiplied by the open
     share of the 6.5 deg band in front of the plane (Perez et al. 1987), so a
     horizon above it blocks it;
   * ground-reflected light: the open plane's ``albedo GHI (1 - cos tilt) / 2``
     times the plane's relative sky view (the street and walls that a plane in
     a canyon sees below the horizontal are as obstructed as the plane itself;
     a first-order model, no explicit ground shadows);
   * racked rows on flat roofs (``mount = "rack"`` with a ``gcr``): the beam and
     circumsolar share shaded by the row in front, from
     :func:`pvlib.shading.shaded_fraction1d` for equal fixed rows (Anderson &
     Jensen 2024; linear, i.e. no extra electrical mismatch loss); sky and
     ground diffuse by the row-averaged 2-D view factors of pvlib's
     infinite-sheds model (:func:`pvlib.bifacial.utils.vf_row_sky_2d_integ`,
     :func:`pvlib.bifacial.utils.vf_row_ground_2d_integ`, relative to the open
     plane's); the horizon band is hidden by the row in front. Infinite rows
     are assumed (the front row's gain is ignored).

   Beam shading from horizon and rows combine as independent shares:
   ``1 - (1 - f_horizon)(1 - f_rows)``. Sky diffuse is clipped at 0 after
   shading, as pvlib clips ``poa_sky_diffuse``.
5. Incidence-angle modifier: :func:`pvlib.iam.physical` on beam and circumsolar
   light (``aoi_model='physical'`` as in ``ModelChain.with_pvwatts``; no
   spectral loss); Marion's integrated IAMs of the same model
   (:func:`pvlib.iam.marion_diffuse`, Marion 2017) on the isotropic sky, the
   horizon band and the ground-reflected light, which also reach the module at
   high incidence (``ModelChain`` leaves them unmodified).
6. Cell temperature: SAPM (:func:`pvlib.temperature.sapm_cell`, King et al.
   2004) from plane-of-array global irradiance, racked rows
   (``open_rack_glass_polymer``) or flush modules (``close_mount_glass_glass``).
7. PVWatts DC (:func:`pvlib.pvsystem.pvwatts_dc`, Dobos 2014) with the
   temperature coefficient, then PVWatts losses
   (:func:`pvlib.pvsystem.pvwatts_losses` with the shading term 0, because
   shading is modelled above).
8. PVWatts inverter (:func:`pvlib.inverter.pvwatts`) with
   ``pdc0 = capacity / dc_ac_ratio``: part-load efficiency and clipping.

Speed: everything that depends only on the hour is computed once per weather
year; the per-roof part is a fused numba loop over the hours with light
(:mod:`pv_survey._energy_kernel`), parallel over roofs, processed in chunks so
that memory stays bounded. The physical IAM is tabulated at 2049 points of
cos(aoi) and interpolated linearly (error below 1e-6). Everything after the
irradiance scales with capacity, so the loop works per kWp.

:func:`reference_roof_energy` computes one roof the plain way, with explicit
pvlib calls on whole series; it is the independent reference for the tests and
the benchmark.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import EnergyConfig, RoofsConfig
from .errors import InputError, WeatherError
from .weather import WEATHER_COLUMNS, Weather

__all__ = [
    "simulate_roofs",
    "simulate_by_orientation",
    "plane_irradiation_kwh_m2",
    "reference_roof_energy",
    "params_from_config",
    "roof_table_inputs",
    "simulate_roof_table",
    "hourly_profiles_of_kept",
    "losses_frac_from_pct",
    "sector_index",
    "horizon_shaded_frac",
    "ENERGY_COLUMNS",
    "MONTH_COLUMNS",
    "DEFAULT_LOSSES_FRAC",
]

#: Monthly AC energy columns, January..December. [kWh]
MONTH_COLUMNS = [f"kwh_{m:02d}" for m in range(1, 13)]
#: Result columns of :func:`simulate_roofs`.
ENERGY_COLUMNS = [
    "annual_kwh", "specific_yield_kwh_kwp", "poa_kwh_m2", "shading_loss_frac", "performance_ratio",
    *MONTH_COLUMNS,
]


def losses_frac_from_pct(**pct: float) -> float:
    """Combined PVWatts system losses as a fraction.

    Parameters
    ----------
    **pct : float
        Keywords of :func:`pvlib.pvsystem.pvwatts_losses` (soiling, shading, snow,
        mismatch, wiring, connections, lid, nameplate_rating, age, availability),
        each in percent; omitted ones take pvlib's defaults. [%]

    Returns
    -------
    float
        ``pvwatts_losses(**pct) / 100``, the losses combined multiplicatively. [0-1]
    """
    from pvlib.pvsystem import pvwatts_losses

    return float(pvwatts_losses(**pct)) / 100.0


#: pvlib.pvsystem.pvwatts_losses defaults with the shading term set to 0 (shading is modelled):
#: soiling 2, mismatch 2, wiring 2, connections 0.5, LID 1.5, nameplate 1, availability 3 % -> 11.42 %.
DEFAULT_LOSSES_FRAC = losses_frac_from_pct(shading=0)
#: pvlib.inverter.pvwatts reference efficiency eta_inv_ref (Dobos 2014, NREL/TP-6A20-62641).
ETA_INV_REF = 0.9637
#: Intervals of the cos(aoi) table of pvlib.iam.physical (interpolation error < 1e-6).
IAM_TABLE_INTERVALS = 2048
#: Default roofs per chunk: outputs and per-roof arrays of a chunk stay below ~20 MB.
DEFAULT_CHUNK_SIZE = 65536
#: Roofs per chunk when hourly profiles are accumulated: one chunk's (roofs x ~4,400 light hours)
#: float64 array is about 72 MB (project choice).
HOURLY_CHUNK_ROOFS = 2048
#: Mount names.
MOUNTS = ("rack", "flush")


# --------------------------------------------------------------------------- hour-only work


@dataclass(frozen=True)
class _Hours:
    """Everything that depends only on the hour, for the hours with light."""

    cos_zen: np.ndarray
    sun_x: np.ndarray
    sun_y: np.ndarray
    sun_elev_deg: np.ndarray
    sun_az_deg: np.ndarray
    dni: np.ndarray
    ghi: np.ndarray
    d_iso: np.ndarray
    d_circ: np.ndarray
    d_hor: np.ndarray
    t_air_c: np.ndarray
    wind_fac: np.ndarray  # (2, n): rack, flush
    month: np.ndarray
    month_start: np.ndarray  # (13,) first hour of each month in the arrays above
    light: np.ndarray  # (n_all_hours,) bool: which hours of the weather year these are


def _solar_position(weather: Weather) -> pd.DataFrame:
    """Solar position as ModelChain computes it (nrel_numpy, pressure from altitude, hourly air temperature)."""
    from pvlib import atmosphere, solarposition

    data = weather.data
    return solarposition.get_solarposition(
        data.index, weather.latitude_deg, weather.longitude_deg, altitude=weather.altitude_m,
        pressure=atmosphere.alt2pres(weather.altitude_m), temperature=data["temp_air"], method="nrel_numpy",
    )


def _check_weather(weather: Weather) -> None:
    data = weather.data
    missing = [c for c in WEATHER_COLUMNS if c not in data.columns]
    if missing:
        raise WeatherError(f"weather {weather.source}: column '{missing[0]}' missing; build it with read_weather")
    if not isinstance(data.index, pd.DatetimeIndex) or data.index.tz is None:
        raise WeatherError(f"weather {weather.source}: index must be tz-aware timestamps; build it with read_weather")
    if not data.index.is_monotonic_increasing:
        raise WeatherError(f"weather {weather.source}: timestamps not in order; sort the data by time")
    bad = data[list(WEATHER_COLUMNS)].isna().any(axis=1)
    if bad.any():
        raise WeatherError(
            f"weather {weather.source}: {int(bad.sum())} hours with NaN (first {data.index[bad][0]}); "
            "read the file with read_weather, which repairs gaps"
        )


def _sapm_params(name: str) -> dict[str, float]:
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    try:
        return dict(TEMPERATURE_MODEL_PARAMETERS["sapm"][name])
    except KeyError:
        known = ", ".join(TEMPERATURE_MODEL_PARAMETERS["sapm"])
        raise InputError(f"temperature model '{name}' unknown; use one of {known}") from None


#: The last few hourly inputs, by the weather year's content and the temperature models: every tile
#: of a run (and each resource of a tile) shares one weather year, whose sun positions and Perez
#: coefficients are the same for all (a digest of the table, so an edited table is never mistaken
#: for the one cached).
_HOURS_CACHE: dict[tuple, _Hours] = {}
_HOURS_CACHE_SIZE = 4


def _hourly_inputs(weather: Weather, temp_model_rack: str, temp_model_flush: str) -> _Hours:
    """:func:`_compute_hourly_inputs`, computed once per weather year and temperature models."""
    import hashlib

    data = weather.data
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(data.index.asi8).tobytes())
    for col in WEATHER_COLUMNS:
        if col in data:
            digest.update(np.ascontiguousarray(data[col].to_numpy(dtype=float)).tobytes())
    key = (digest.hexdigest(), str(data.index.tz), weather.latitude_deg, weather.longitude_deg, weather.altitude_m,
           temp_model_rack, temp_model_flush)
    hours = _HOURS_CACHE.get(key)
    if hours is None:
        hours = _compute_hourly_inputs(weather, temp_model_rack, temp_model_flush)
        if len(_HOURS_CACHE) >= _HOURS_CACHE_SIZE:
            _HOURS_CACHE.pop(next(iter(_HOURS_CACHE)))
        _HOURS_CACHE[key] = hours
    return hours


def _compute_hourly_inputs(weather: Weather, temp_model_rack: str, temp_model_flush: str) -> _Hours:
    from pvlib import atmosphere, irradiance

    _check_weather(weather)
    data = weather.data
    sp = _solar_position(weather)
    zen = sp["apparent_zenith"].to_numpy(dtype=float)
    saz = sp["azimuth"].to_numpy(dtype=float)
    ghi = data["ghi"].to_numpy(dtype=float)
    dni = data["dni"].to_numpy(dtype=float)
    dhi = data["dhi"].to_numpy(dtype=float)
    airmass = np.asarray(atmosphere.get_relative_airmass(zen, "kastenyoung1989"), dtype=float)
    dni_extra = np.asarray(irradiance.get_extra_radiation(data.index), dtype=float)
    # Perez F1/F2 exactly as pvlib.irradiance.perez computes them (orientation independent)
    kappa = 1.041  # pvlib.irradiance.perez, for zenith in radians
    z = np.radians(zen)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = dhi * airmass / dni_extra
        eps = (np.divide(dhi + dni, dhi) + kappa * z**3) / (1 + kappa * z**3)
    ebin = np.digitize(eps, (0.0, 1.065, 1.23, 1.5, 1.95, 2.8, 4.5, 6.2))
    ebin[np.isnan(eps)] = 0
    ebin -= 1
    f1c, f2c = irradiance._get_perez_coefficients("allsitescomposite1990")  # pvlib's own table
    valid = (ebin >= 0) & np.isfinite(airmass) & np.isfinite(delta)
    b = np.where(valid, ebin, 0)
    with np.errstate(invalid="ignore"):
        f1 = np.maximum(f1c[b, 0] + f1c[b, 1] * delta + f1c[b, 2] * z, 0)
        f2 = f2c[b, 0] + f2c[b, 1] * delta + f2c[b, 2] * z
    bb = np.maximum(np.cos(z), math.cos(math.radians(85.0)))  # pvlib: max(cosd(zenith), cosd(85))
    d_iso = np.where(valid, dhi * 0.5 * (1 - f1), 0.0)
    d_circ = np.where(valid, dhi * f1 / bb, 0.0)
    d_hor = np.where(valid, dhi * f2, 0.0)
    # SAPM: T_cell = E * exp(a + b ws) + T_air + E / 1000 * deltaT
    ws = data["wind_speed"].to_numpy(dtype=float)
    wind_fac = np.empty((2, len(ws)))
    for i, name in enumerate((temp_model_rack, temp_model_flush)):
        prm = _sapm_params(name)
        wind_fac[i] = np.exp(prm["a"] + prm["b"] * ws) + prm["deltaT"] / 1000.0
    light = (ghi > 0) | (dni > 0) | (dhi > 0)  # other hours give exactly 0 W
    month = (data.index.month.to_numpy() - 1)[light].astype(np.int64)
    sin_z = np.sin(z)
    az_r = np.radians(saz)
    return _Hours(
        cos_zen=np.ascontiguousarray(np.cos(z)[light]),
        sun_x=np.ascontiguousarray((sin_z * np.sin(az_r))[light]),
        sun_y=np.ascontiguousarray((sin_z * np.cos(az_r))[light]),
        sun_elev_deg=np.ascontiguousarray((90.0 - zen)[light]),
        sun_az_deg=np.ascontiguousarray(saz[light]),
        dni=np.ascontiguousarray(dni[light]),
        ghi=np.ascontiguousarray(ghi[light]),
        d_iso=np.ascontiguousarray(d_iso[light]),
        d_circ=np.ascontiguousarray(d_circ[light]),
        d_hor=np.ascontiguousarray(d_hor[light]),
        t_air_c=np.ascontiguousarray(data["temp_air"].to_numpy(dtype=float)[light]),
        wind_fac=np.ascontiguousarray(wind_fac[:, light]),
        month=month,
        month_start=np.searchsorted(month, np.arange(13)).astype(np.int64),
        light=light,
    )


@functools.lru_cache(maxsize=1)
def _iam_table() -> np.ndarray:
    """pvlib.iam.physical (n=1.526, K=4, L=0.002) at cos(aoi) = 0, 1/N, ..., 1."""
    from pvlib import iam

    cos_aoi = np.linspace(0.0, 1.0, IAM_TABLE_INTERVALS + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tab = np.asarray(iam.physical(np.degrees(np.arccos(cos_aoi))), dtype=float)
    tab[0] = 0.0  # grazing incidence: nothing enters
    return np.ascontiguousarray(tab)


def sector_index(sun_az_deg: np.ndarray, n_sectors: int) -> np.ndarray:
    """Horizon sector of each sun azimuth: sector k is centred on k * 360 / n_sectors.

    Parameters
    ----------
    sun_az_deg : array
        Sun azimuth, clockwise from north. [deg]
    n_sectors : int

    Returns
    -------
    numpy.ndarray of int64
        Nearest sector centre, in 0..n_sectors-1.
    """
    step = 360.0 / n_sectors
    return (np.floor(np.asarray(sun_az_deg) / step + 0.5).astype(np.int64)) % n_sectors


def horizon_shaded_frac(horizon_deg: np.ndarray, sun_elev_deg: np.ndarray, sun_az_deg: np.ndarray) -> np.ndarray:
    """Shaded share of one roof for each sun position, from its horizon quantile profile.

    Parameters
    ----------
    horizon_deg : array (n_quantiles, n_sectors) or (n_sectors,)
        Horizon elevation per sector (sector k centred on azimuth k * 360 / n_sectors,
        clockwise from north) at quantiles of the roof's sample points. [deg]
    sun_elev_deg, sun_az_deg : array (n_times,)
        Apparent sun elevation and azimuth. [deg]

    Returns
    -------
    numpy.ndarray (n_times,)
        Share of the quantile values above the sun in the sun's sector. [0-1]
    """
    prof = np.atleast_2d(np.asarray(horizon_deg, dtype=np.float64))
    k = sector_index(sun_az_deg, prof.shape[1])
    return (prof[:, k] > np.asarray(sun_elev_deg)[None, :]).mean(axis=0)


# --------------------------------------------------------------------------- validation


def _as_roof_array(name: str, value: Any, n: int, *, dtype: Any = float) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr.item(), dtype=dtype)
    if arr.shape != (n,):
        raise InputError(f"{name}: {arr.shape[0] if arr.ndim else 1} values for {n} roofs; give one value per roof")
    return arr


def _first_bad(name: str, arr: np.ndarray, bad: np.ndarray, what: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        val = arr[i].item() if isinstance(arr[i], np.generic) else arr[i]
        raise InputError(
            f"{name} of roof {i} = {val!r} {what} ({int(bad.sum())} roofs affected); fix the roof table"
        )


def _validate_roofs(tilt_deg, azimuth_deg, capacity_kwp, mount, gcr, sky_view_frac):
    tilt = np.asarray(tilt_deg, dtype=float).ravel()
    n = tilt.shape[0]
    az = _as_roof_array("azimuth_deg", azimuth_deg, n)
    cap = _as_roof_array("capacity_kwp", capacity_kwp, n)
    mnt = _as_roof_array("mount", mount, n, dtype=object)
    _first_bad("tilt_deg", tilt, ~np.isfinite(tilt) | (tilt < 0) | (tilt > 90), "is outside 0..90 deg")
    _first_bad("azimuth_deg", az, ~np.isfinite(az), "is not a number (degrees clockwise from north)")
    _first_bad("capacity_kwp", cap, ~np.isfinite(cap) | (cap < 0), "is not a capacity >= 0 kWp")
    # each distinct value normalised once (a million module segments share two mount names)
    codes, uniq = pd.factorize(pd.Series(mnt, dtype=object))
    mnt_str = np.array([str(m).strip().lower() for m in uniq] + [""], dtype=object)[codes]
    na = codes < 0  # None / NaN: named as the value itself
    mnt_str[na] = [str(m).strip().lower() for m in mnt[na]]
    _first_bad("mount", mnt_str, ~np.isin(mnt_str, MOUNTS), "is not 'rack' or 'flush'")
    rack = mnt_str == "rack"
    if gcr is None:
        g = np.full(n, np.nan)
    else:
        g = _as_roof_array("gcr", gcr, n)
    g = np.where(rack, g, np.nan)  # gcr only drives racked rows
    _first_bad("gcr", g, np.isfinite(g) & ((g <= 0) | (g > 1)), "is outside 0 < gcr <= 1")
    if sky_view_frac is None:
        svf = np.full(n, np.nan)
    else:
        svf = np.array(_as_roof_array("sky_view_frac", sky_view_frac, n), dtype=float)  # a copy
        # NaN = not given for that roof: taken from its horizon (or 1)
        _first_bad("sky_view_frac", svf, np.isinf(svf) | (svf < 0) | (svf > 1), "is outside 0..1")
    return n, tilt, az % 360.0, cap, rack, g, svf


def _horizon_view(horizon_deg: Any, n: int) -> np.ndarray | None:
    """(n, n_quantiles, n_sectors) view of the horizon input, no copy of the whole array."""
    if horizon_deg is None:
        return None
    hz = np.asarray(horizon_deg)
    if hz.ndim == 2:
        hz = hz[:, None, :]
    if hz.ndim != 3 or hz.shape[0] != n or hz.shape[2] < 1 or hz.shape[1] < 1:
        raise InputError(
            f"horizon_deg has shape {np.shape(horizon_deg)}; give (n_roofs={n}, n_quantiles, n_sectors) "
            "or (n_roofs, n_sectors)"
        )
    return hz


#: Tilt step of the table of Marion's diffuse IAMs (interpolation error below 1e-5). [deg]
MARION_TABLE_STEP_DEG = 0.25
#: The table, shipped with the package: computing it takes pvlib 7-20 s (three numerical
#: integrals over the sphere per tilt), which every run would pay. ``tests/test_energy.py``
#: checks it against pvlib at sample tilts; :func:`write_marion_table` regenerates it.
MARION_TABLE_FILE = "marion_iam_physical.csv"


def marion_table_rows(tilts_deg: Any) -> pd.DataFrame:
    """pvlib.iam.marion_diffuse('physical') for sky, horizon and ground light at ``tilts_deg``.

    A horizontal plane sees no ground (its ground term is 0 anyway): pvlib's NaN there becomes 0.
    """
    from pvlib import iam

    tilts = np.asarray(tilts_deg, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = iam.marion_diffuse("physical", tilts)
    cols = {k: np.nan_to_num(np.asarray(d[k], dtype=float), nan=0.0) for k in ("sky", "horizon", "ground")}
    return pd.DataFrame({"tilt_deg": tilts, **cols})


def write_marion_table(path: Any) -> None:
    """Regenerate the shipped table (tilts 0, 0.25, ..., 90 deg) with the installed pvlib."""
    from importlib import metadata

    tilts = np.arange(0.0, 90.0 + MARION_TABLE_STEP_DEG / 2, MARION_TABLE_STEP_DEG)
    rows = marion_table_rows(tilts)
    head = (f"# pvlib.iam.marion_diffuse('physical', tilts) at tilts 0..90 deg every {MARION_TABLE_STEP_DEG} deg; "
            f"pvlib {metadata.version('pvlib')}; written by pv_survey.energy.write_marion_table\n")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(head)
        rows.to_csv(fh, index=False, float_format="%.17g", lineterminator="\n")


@functools.lru_cache(maxsize=1)
def _marion_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The shipped table of Marion's physical diffuse IAMs for sky, horizon and ground light."""
    from importlib import resources

    with resources.files("pv_survey.presets").joinpath(MARION_TABLE_FILE).open("r", encoding="utf-8") as fh:
        t = pd.read_csv(fh, comment="#")
    return (t["tilt_deg"].to_numpy(float), t["sky"].to_numpy(float), t["horizon"].to_numpy(float),
            t["ground"].to_numpy(float))


def diffuse_iam(tilt_deg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marion's integrated IAMs of the physical model for sky, horizon-band and ground light.

    :func:`pvlib.iam.marion_diffuse` (Marion 2017, Solar Energy 147:344-348) with
    :func:`pvlib.iam.physical`'s defaults, tabulated over tilt and interpolated.

    Parameters
    ----------
    tilt_deg : array
        Plane tilt. [deg]

    Returns
    -------
    (sky, horizon, ground) : numpy.ndarray each
        IAMs [0-1], shape of ``tilt_deg``.
    """
    tilts, sky, hor, gnd = _marion_table()
    t = np.clip(np.asarray(tilt_deg, dtype=float), 0.0, 90.0)
    return np.interp(t, tilts, sky), np.interp(t, tilts, hor), np.interp(t, tilts, gnd)


#: Grid of the ground view-factor table of racked rows: tilt step [deg] and GCR step [-].
ROW_GROUND_TABLE_STEPS = (0.5, 0.005)


@functools.lru_cache(maxsize=1)
def _row_ground_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pvlib.bifacial.utils.vf_row_ground_2d_integ on a (GCR x tilt) grid, for bilinear interpolation."""
    from pvlib.bifacial import utils as bu

    dt, dg = ROW_GROUND_TABLE_STEPS
    tilts = np.arange(0.0, 90.0 + dt / 2, dt)
    gcrs = np.arange(dg, 1.0 + dg / 2, dg)
    with np.errstate(invalid="ignore", divide="ignore"):
        tab = np.array([np.asarray(bu.vf_row_ground_2d_integ(tilts, float(g)), dtype=float).ravel() for g in gcrs])
    return tilts, gcrs, np.nan_to_num(tab, nan=0.0)


def _interp2(x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray, tab: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of tab[len(ys), len(xs)] at (x, y), clipped to the grid."""
    x = np.clip(x, xs[0], xs[-1])
    y = np.clip(y, ys[0], ys[-1])
    i = np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2)
    j = np.clip(np.searchsorted(ys, y) - 1, 0, len(ys) - 2)
    fx = (x - xs[i]) / (xs[i + 1] - xs[i])
    fy = (y - ys[j]) / (ys[j + 1] - ys[j])
    return ((1 - fy) * ((1 - fx) * tab[j, i] + fx * tab[j, i + 1])
            + fy * ((1 - fx) * tab[j + 1, i] + fx * tab[j + 1, i + 1]))


def row_view_factors(tilt_deg: np.ndarray, gcr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sky and ground seen by the front of a row among infinite equal rows, relative to an open plane.

    The row-averaged 2-D view factors of pvlib's infinite-sheds model, relative to
    the open plane's ``(1 + cos b) / 2`` and ``(1 - cos b) / 2``. Sky: the closed
    form of :func:`pvlib.bifacial.utils.vf_row_sky_2d_integ` over the whole row,
    ``(1 + a - sqrt(a^2 - 2 a cos b + 1)) / 2`` with ``a = 1 / gcr`` (crossed
    strings; equal to pvlib's to 1e-15). Ground:
    :func:`pvlib.bifacial.utils.vf_row_ground_2d_integ` tabulated on a grid of
    :data:`ROW_GROUND_TABLE_STEPS` and interpolated (pvlib takes one GCR per call).
    1 without rows (``gcr`` NaN).

    Parameters
    ----------
    tilt_deg : array (n,)
        [deg]
    gcr : array (n,)
        Ground coverage ratio; NaN = no rows. [0-1]

    Returns
    -------
    (sky_frac, ground_frac) : numpy.ndarray each
        [0-1]
    """
    tilt = np.asarray(tilt_deg, dtype=float)
    g = np.asarray(gcr, dtype=float)
    sky = np.ones_like(tilt)
    gnd = np.ones_like(tilt)
    rows = np.isfinite(g) & (tilt > 0)
    if rows.any():
        t, gg = tilt[rows], g[rows]
        c = np.cos(np.radians(t))
        a = 1.0 / gg
        vs = 0.5 * (1.0 + a - np.sqrt(a * a - 2.0 * a * c + 1.0))
        tilts, gcrs, tab = _row_ground_table()
        vg = _interp2(t, gg, tilts, gcrs, tab)
        sky[rows] = vs / (0.5 * (1 + c))
        gnd[rows] = vg / (0.5 * (1 - c))
    return np.clip(sky, 0.0, 1.0), np.clip(gnd, 0.0, 1.0)


# --------------------------------------------------------------------------- engine


def simulate_roofs(
    weather: Weather,
    tilt_deg: Any,
    azimuth_deg: Any,
    capacity_kwp: Any,
    *,
    mount: Any,
    gcr: Any = None,
    horizon_deg: Any = None,
    sky_view_frac: Any = None,
    horizon_band_open_frac: Any = None,
    albedo: float = EnergyConfig.albedo,
    gamma_pdc_per_c: float = EnergyConfig.gamma_pdc_per_c,
    dc_ac_ratio: float = EnergyConfig.dc_ac_ratio,
    eta_inv_nom: float = EnergyConfig.eta_inv_nom,
    losses_frac: float = DEFAULT_LOSSES_FRAC,
    temp_model_rack: str = EnergyConfig.temperature_model_rack,
    temp_model_flush: str = EnergyConfig.temperature_model_flush,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
    hourly_groups: Any = None,
    reference: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Annual and monthly AC energy of many roofs (see the module docstring for the physics).

    Parameters
    ----------
    weather : Weather
        Hourly weather year (:func:`pv_survey.weather.read_weather`).
    tilt_deg : array (n_roofs,)
        Module tilt from horizontal. [deg]
    azimuth_deg : array (n_roofs,)
        Module azimuth, clockwise from north (180 = south). [deg]
    capacity_kwp : array (n_roofs,)
        DC capacity. [kWp]
    mount : array of str (n_roofs,) or str
        ``"rack"`` (rows on a flat roof, open-rack temperature) or ``"flush"``.
    gcr : array (n_roofs,), optional
        Ground coverage ratio of racked rows; drives inter-row shading. NaN, or a
        flush roof, means no rows. [0-1]
    horizon_deg : array (n_roofs, n_quantiles, n_sectors) or (n_roofs, n_sectors), optional
        Horizon elevation per sector (sector k centred on azimuth k * 360 / n_sectors)
        at quantiles of the roof's sample points. [deg]
    sky_view_frac : array (n_roofs,), optional
        Sky view of the plane relative to the open sky; scales the isotropic sky
        diffuse and the ground-reflected light. Default: the plane's own view
        factor from ``horizon_deg`` (:func:`pv_survey.shading.plane_sky_view_frac`),
        1 without a horizon. A value given overrides it. [0-1]
    horizon_band_open_frac : array (n_roofs,), optional
        Open share of the Perez horizon band. Default: from ``horizon_deg``
        (:func:`pv_survey.shading.plane_sky_view_frac`), 1 without a horizon. [0-1]
    albedo : float
        Ground / roof albedo. [0-1]
    gamma_pdc_per_c : float
        Temperature coefficient of DC power. [1/degC]
    dc_ac_ratio : float
        DC capacity over inverter AC-side DC rating (``pdc0_inverter = capacity / dc_ac_ratio``). [-]
    eta_inv_nom : float
        Nominal inverter efficiency. [0-1]
    losses_frac : float
        PVWatts system losses without shading. [0-1]
    temp_model_rack, temp_model_flush : str
        pvlib SAPM temperature parameter sets for racked and flush modules.
    chunk_size : int
        Roofs per chunk (memory bound).
    progress : callable(n_done, n_total), optional
        Called after each chunk.
    hourly_groups : array of int (n_roofs,), optional
        Group number 0..G-1 of each roof (e.g. build phase, district = all 0). When
        given, the hourly AC energy summed per group is returned too; roofs are
        processed in chunks of at most :data:`HOURLY_CHUNK_ROOFS`, so no
        (roofs x hours) array larger than one chunk's is held. Negative = in no group.
    reference : bool
        Also compute each roof without horizon and with sky view 1 (``shading_loss_frac``). False
        is the fast path of many surfaces sharing a few orientations (module segments): it skips
        that second model chain per hour and leaves ``shading_loss_frac`` NaN (the caller takes the
        reference once per orientation instead).

    Returns
    -------
    pandas.DataFrame
        One row per roof, same order (index of ``tilt_deg`` when it is a Series):
        ``annual_kwh`` [kWh], ``specific_yield_kwh_kwp`` [kWh/kWp] (defined for
        capacity 0 too), ``poa_kwh_m2`` (plane-of-array irradiation after shading,
        before IAM) [kWh/m2], ``shading_loss_frac`` (1 - energy / energy of the
        same roof without horizon and with sky view 1; row shading is part of the
        layout and stays in both) [0-1], ``performance_ratio`` (specific yield /
        (poa_kwh_m2 / 1 kW/m2)) [-], ``kwh_01``..``kwh_12`` [kWh].

    (pandas.DataFrame, pandas.DataFrame)
        With ``hourly_groups``: the results above and the hourly AC energy per group,
        indexed by the weather's timestamps, one column per group 0..G-1. [kWh]

    Raises
    ------
    InputError
        A roof value out of range, arrays of different lengths, a bad horizon.
    WeatherError
        Weather with NaN or without the required columns.
    """
    from ._energy_kernel import simulate_chunk

    n, tilt, az, cap, rack, gcr_arr, svf = _validate_roofs(
        tilt_deg, azimuth_deg, capacity_kwp, mount, gcr, sky_view_frac)
    band = (np.full(n, np.nan) if horizon_band_open_frac is None else
            np.clip(np.array(_as_roof_array("horizon_band_open_frac", horizon_band_open_frac, n), dtype=float),
                    0.0, 1.0))
    hz = _horizon_view(horizon_deg, n)
    if chunk_size < 1:
        raise InputError(f"chunk_size = {chunk_size} must be >= 1")
    hours = _hourly_inputs(weather, temp_model_rack, temp_model_flush)
    want_hourly = hourly_groups is not None
    if want_hourly:
        groups = _as_roof_array("hourly_groups", hourly_groups, n, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if n and groups.max() >= 0 else 0
        hourly_acc = np.zeros((n_groups, len(hours.cos_zen)))
        chunk_size = min(chunk_size, HOURLY_CHUNK_ROOFS)
    hourly_dummy = np.zeros((1, 1))
    n_sectors = hz.shape[2] if hz is not None else 1
    sector = np.ascontiguousarray(sector_index(hours.sun_az_deg, n_sectors))
    iam_tab = _iam_table()
    iam_sky, iam_hor, iam_gnd = diffuse_iam(tilt)
    row_sky, row_gnd = row_view_factors(tilt, gcr_arr)
    rows_all = np.isfinite(gcr_arr)
    # the row in front hides the horizon band (it lies within a few degrees of the horizon)
    row_band = np.where(rows_all, 0.0, 1.0)
    t_r = np.radians(tilt)
    a_r = np.radians(az)
    per_kwp = np.empty((n, 12))
    poa = np.empty(n)
    base = np.empty(n)
    eta_ratio = eta_inv_nom / ETA_INV_REF
    pac0_per_kwp = eta_inv_nom / dc_ac_ratio
    loss_keep = 1.0 - losses_frac
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        m = sl.stop - sl.start
        if hz is not None:
            h_chunk = np.ascontiguousarray(hz[sl], dtype=np.float32)
            if not np.isfinite(h_chunk).all():
                bad = ~np.isfinite(h_chunk).reshape(m, -1).all(axis=1)
                i = int(np.flatnonzero(bad)[0]) + start
                raise InputError(
                    f"horizon_deg of roof {i} contains NaN or inf ({int(bad.sum())} roofs in rows "
                    f"{start}..{sl.stop - 1}); use 0 for an open horizon"
                )
            hz_max = h_chunk.reshape(m, -1).max(axis=1).astype(np.float64)
            need_base = np.full(m, bool(reference), dtype=np.bool_)
            if np.isnan(svf[sl]).any() or np.isnan(band[sl]).any():
                from .shading import plane_sky_view_frac

                svf_hz, band_hz = plane_sky_view_frac(h_chunk, tilt[sl], az[sl])
                svf[sl] = np.where(np.isnan(svf[sl]), svf_hz, svf[sl])
                band[sl] = np.where(np.isnan(band[sl]), band_hz, band[sl])
        else:
            h_chunk = np.full((m, 1, 1), -90.0, dtype=np.float32)  # never above the sun
            hz_max = np.full(m, -90.0)
            svf[sl] = np.where(np.isnan(svf[sl]), 1.0, svf[sl])
            band[sl] = np.where(np.isnan(band[sl]), 1.0, band[sl])
            need_base = ((svf[sl] < 1.0) | (band[sl] < 1.0)) & bool(reference)
        g_sl = gcr_arr[sl]
        rows = np.isfinite(g_sl)
        h_out = np.zeros((m, len(hours.cos_zen))) if want_hourly else hourly_dummy
        gnd_open = albedo * (1.0 - np.cos(t_r[sl])) * 0.5 * row_gnd[sl]
        simulate_chunk(
            hours.cos_zen, hours.sun_x, hours.sun_y, hours.sun_elev_deg, sector, hours.dni, hours.ghi,
            hours.d_iso, hours.d_circ, hours.d_hor, hours.t_air_c, hours.wind_fac, hours.month,
            np.cos(t_r[sl]), np.sin(t_r[sl]), np.cos(a_r[sl]), np.sin(a_r[sl]),
            gnd_open * svf[sl], gnd_open,
            svf[sl] * row_sky[sl], row_sky[sl],
            band[sl] * row_band[sl], row_band[sl],
            iam_sky[sl], iam_hor[sl], iam_gnd[sl],
            np.where(rows, 1.0 / np.where(rows, g_sl, 1.0), 0.0),
            np.where(rack[sl], 0, 1).astype(np.int64),
            need_base, hz_max, h_chunk,
            iam_tab, float(gamma_pdc_per_c), float(loss_keep), float(dc_ac_ratio), float(eta_ratio),
            float(pac0_per_kwp),
            per_kwp[sl], poa[sl], base[sl], want_hourly, h_out,
        )
        if want_hourly:
            g_chunk = groups[sl]
            inside = g_chunk >= 0
            # per kWp -> kWh, summed per group (one chunk's roofs x hours at a time)
            np.add.at(hourly_acc, g_chunk[inside], h_out[inside] * cap[sl][inside, None])
        if progress is not None:
            progress(sl.stop, n)
    results = _results_frame(per_kwp, poa, base, cap, _index_of(tilt_deg, n))
    if not reference:
        results["shading_loss_frac"] = np.nan
    if not want_hourly:
        return results
    full = np.zeros((len(hours.light), hourly_acc.shape[0]))
    full[hours.light] = hourly_acc.T
    return results, pd.DataFrame(full, index=weather.data.index, columns=pd.RangeIndex(hourly_acc.shape[0]))


def _index_of(values: Any, n: int) -> pd.Index:
    if isinstance(values, (pd.Series, pd.Index)) and len(values) == n:
        return pd.Index(values.index) if isinstance(values, pd.Series) else pd.RangeIndex(n)
    return pd.RangeIndex(n)


def _results_frame(per_kwp_month: np.ndarray, poa_kwh_m2: np.ndarray, base_per_kwp: np.ndarray,
                   capacity_kwp: np.ndarray, index: pd.Index) -> pd.DataFrame:
    spec = per_kwp_month.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.where(base_per_kwp > 0, 1.0 - spec / base_per_kwp, 0.0)
        pr = np.where(poa_kwh_m2 > 0, spec / poa_kwh_m2, np.nan)
    cols: dict[str, np.ndarray] = {
        "annual_kwh": spec * capacity_kwp,
        "specific_yield_kwh_kwp": spec,
        "poa_kwh_m2": poa_kwh_m2,
        "shading_loss_frac": np.clip(loss, 0.0, 1.0),
        "performance_ratio": pr,
    }
    for i, name in enumerate(MONTH_COLUMNS):
        cols[name] = per_kwp_month[:, i] * capacity_kwp
    return pd.DataFrame(cols, index=index)


#: Points per task of :func:`simulate_by_orientation`: a larger orientation group is cut, after
#: sorting its points by sky view, into tasks of this many points (both cores get work; a narrower
#: box of sky views leaves fewer hours to simulate per point). Tuning only: results do not depend on it.
ORIENTATION_TASK_POINTS = 1024
#: Smallest orientation group that :func:`simulate_by_orientation` sums by sectors; smaller groups go
#: to the per-point engine: building a group's tables costs about as much as 7 points in the engine
#: (measured by bench/bench_segments.py: groups of 6 points run at 0.8 x the engine's speed, of 8 at
#: 1.05 x, of 12 at 1.6 x). Tuning only: results do not depend on it (to rounding).
ORIENTATION_MIN_POINTS = 8


def orientation_groups(tilt_deg: np.ndarray, azimuth_deg: np.ndarray, rack: np.ndarray,
                       gcr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each plane by its orientation (tilt, azimuth, mount, rows).

    A horizontal plane has no azimuth: all horizontal planes of one mount and row spacing share a group.

    Parameters
    ----------
    tilt_deg, azimuth_deg : array (n,)
        [deg]
    rack : array of bool (n,)
        Racked (open-rack temperature model) rather than flush.
    gcr : array (n,)
        Ground coverage ratio of racked rows, NaN without rows. [0-1]

    Returns
    -------
    group : numpy.ndarray of int64 (n,)
        0..G-1.
    first : numpy.ndarray of int64 (G,)
        A member (the first) of each group.
    """
    tilt = np.asarray(tilt_deg, dtype=float)
    if tilt.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    key = pd.DataFrame({"t": tilt, "a": np.where(tilt == 0.0, 180.0, np.mod(np.asarray(azimuth_deg, float), 360.0)),
                        "m": np.asarray(rack, dtype=bool), "g": np.nan_to_num(np.asarray(gcr, float), nan=-1.0)})
    group = key.groupby(["t", "a", "m", "g"], sort=False).ngroup().to_numpy(np.int64)
    first = np.full(int(group.max()) + 1, tilt.size, dtype=np.int64)
    np.minimum.at(first, group, np.arange(tilt.size, dtype=np.int64))
    return group, first


def _hours_by_sector(sun_az_deg: np.ndarray, sun_elev_deg: np.ndarray,
                     n_sectors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The hours sorted by (horizon sector, sun elevation) and where each sector and elevation starts.

    Parameters
    ----------
    sun_az_deg, sun_elev_deg : array (n_hours,)
        Sun azimuth and apparent elevation of the hours with light. [deg]
    n_sectors : int

    Returns
    -------
    order : numpy.ndarray of int64 (n_hours,)
        The hours in that order.
    seg_start : numpy.ndarray of int64 (n_sectors + 1,)
        First sorted hour of each sector (and the end).
    bucket_start : numpy.ndarray of int64 (n_sectors, n_buckets)
        First sorted hour of sector k with elevation >= ``e0 + i * _BUCKET_DEG``.
    e0 : float
        Lowest bucket edge: the lowest elevation, rounded down to a whole degree. [deg]
    """
    from ._energy_kernel import _BUCKET_DEG

    sector = sector_index(sun_az_deg, n_sectors)
    order = np.lexsort((sun_elev_deg, sector))
    seg_start = np.searchsorted(sector[order], np.arange(n_sectors + 1)).astype(np.int64)
    elev = np.asarray(sun_elev_deg)[order]
    e0 = float(math.floor(float(elev.min()))) if elev.size else 0.0
    edges = e0 + _BUCKET_DEG * np.arange(int(math.ceil((90.0 - e0) / _BUCKET_DEG)) + 2)
    bucket_start = np.stack([seg_start[k] + np.searchsorted(elev[seg_start[k]:seg_start[k + 1]], edges, side="left")
                             for k in range(n_sectors)]).astype(np.int64)
    return order, seg_start, np.ascontiguousarray(bucket_start), e0


def _orientation_tasks(group: np.ndarray, members: np.ndarray,
                       sky_view_frac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of the summed groups in task order and the tasks (group, first, end) over that order.

    ``members`` are the points to sum; they are sorted by group, then by sky view, and each group cut
    into slices of at most :data:`ORIENTATION_TASK_POINTS` (a narrow range of sky views per task).
    """
    order = members[np.lexsort((sky_view_frac[members], group[members]))]
    g_sorted = group[order]
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(g_sorted)) + 1, [order.size]]).astype(np.int64)
    starts = [np.arange(a, b, ORIENTATION_TASK_POINTS, dtype=np.int64) for a, b in zip(bounds[:-1], bounds[1:])]
    task_a = np.concatenate(starts) if starts else np.empty(0, np.int64)
    ends = np.repeat(bounds[1:], [len(x) for x in starts]) if starts else np.empty(0, np.int64)
    task_b = np.minimum(task_a + ORIENTATION_TASK_POINTS, ends)
    return order, g_sorted[task_a].astype(np.int64), task_a, task_b.astype(np.int64)


def simulate_by_orientation(
    weather: Weather,
    tilt_deg: Any,
    azimuth_deg: Any,
    capacity_kwp: Any,
    *,
    mount: Any,
    gcr: Any = None,
    horizon_deg: Any,
    sky_view_frac: Any = None,
    horizon_band_open_frac: Any = None,
    albedo: float = EnergyConfig.albedo,
    gamma_pdc_per_c: float = EnergyConfig.gamma_pdc_per_c,
    dc_ac_ratio: float = EnergyConfig.dc_ac_ratio,
    eta_inv_nom: float = EnergyConfig.eta_inv_nom,
    losses_frac: float = DEFAULT_LOSSES_FRAC,
    temp_model_rack: str = EnergyConfig.temperature_model_rack,
    temp_model_flush: str = EnergyConfig.temperature_model_flush,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    min_group_points: int = ORIENTATION_MIN_POINTS,
) -> pd.DataFrame:
    """Annual yield of many small surfaces sharing a few orientations, each behind its own horizon.

    The physics and results of :func:`simulate_roofs` with ``reference=False`` (annual figures
    only) for surfaces with one horizon profile each (module row segments: every segment of a roof
    has the roof's tilt, azimuth, mount and rows and its own horizon), without the hour loop per
    surface. Surfaces are grouped by orientation (:func:`orientation_groups`); per group, and per
    hour, the AC power per kWp with the sun visible and with the sun behind the horizon is an exact
    polynomial of degree 4 in the surface's sky view and open horizon-band share (irradiances are
    linear in them, the SAPM cell temperature linear in the plane-of-array irradiance, PVWatts DC
    and the PVWatts inverter's efficiency curve quadratic). The coefficients of each sector's hours,
    sorted by sun elevation, are summed from the top, so a surface adds, per sector, the sum of the
    hours above its horizon (binary search) and evaluates one polynomial. The hours in which a
    clipping rule could act for some surface of the group (AC power at 0 or at the inverter limit,
    shaded sky diffuse below 0) are simulated per surface as the engine does
    (:func:`pv_survey._energy_kernel.yield_by_orientation`). So the result equals the engine's to
    rounding: on the demo district's 52,089 row segments the relative difference of ``annual_kwh``
    is at most 2.7e-15 (mean 4.7e-16) and of ``poa_kwh_m2`` at most 8.3e-15 (mean 1.4e-15)
    (``python -m bench.bench_segments``); tests/test_energy_orientation.py asserts 1e-9. On the
    demo district it runs 12-21 x faster than :func:`simulate_roofs` (bench/results/segments.md).

    Parameters
    ----------
    weather : Weather
        Hourly weather year.
    tilt_deg, azimuth_deg : array (n,)
        Module tilt from horizontal and azimuth clockwise from north. [deg]
    capacity_kwp : array (n,)
        DC capacity. [kWp]
    mount : array of str (n,) or str
        ``"rack"`` or ``"flush"``.
    gcr : array (n,), optional
        Ground coverage ratio of racked rows (NaN or flush: no rows). [0-1]
    horizon_deg : array (n, n_sectors) or (n, 1, n_sectors)
        One horizon profile per surface, sector k centred on azimuth ``k * 360 / n_sectors``. [deg]
    sky_view_frac, horizon_band_open_frac : array (n,), optional
        As in :func:`simulate_roofs` (default from ``horizon_deg``). [0-1]
    albedo, gamma_pdc_per_c, dc_ac_ratio, eta_inv_nom, losses_frac, temp_model_rack, temp_model_flush
        As in :func:`simulate_roofs`.
    chunk_size : int
        Surfaces per chunk of :func:`simulate_roofs` for the small groups (memory bound).
    min_group_points : int
        Groups with fewer surfaces go to :func:`simulate_roofs` (same results; see
        :data:`ORIENTATION_MIN_POINTS`).

    Returns
    -------
    pandas.DataFrame
        One row per surface, same order: ``annual_kwh`` [kWh], ``specific_yield_kwh_kwp``
        [kWh/kWp], ``poa_kwh_m2`` (after shading, before IAM) [kWh/m2], ``performance_ratio`` [-].
        Its ``attrs`` say how the work went (for benchmarks): ``grouped_frac``, the share of surfaces
        summed by sectors, and ``exact_hours_per_point``, the mean number of hours those surfaces
        simulated one by one.

    Raises
    ------
    InputError
        A value out of range, arrays of different lengths, a horizon with more than one quantile
        profile or with NaN.
    """
    from ._energy_kernel import yield_by_orientation

    n, tilt, az, cap, rack, gcr_arr, svf = _validate_roofs(
        tilt_deg, azimuth_deg, capacity_kwp, mount, gcr, sky_view_frac)
    hz = _horizon_view(horizon_deg, n)
    if hz is None or hz.shape[1] != 1:
        raise InputError(f"simulate_by_orientation: horizon_deg has shape {np.shape(horizon_deg)}; give one "
                         "profile per surface, (n, n_sectors) or (n, 1, n_sectors) (simulate_roofs takes quantiles)")
    hz = np.ascontiguousarray(hz[:, 0, :], dtype=np.float32)
    if not np.isfinite(hz).all():
        bad = int(np.flatnonzero(~np.isfinite(hz).all(axis=1))[0])
        raise InputError(f"horizon_deg of surface {bad} contains NaN or inf; use 0 for an open horizon")
    band = (np.full(n, np.nan) if horizon_band_open_frac is None else
            np.clip(np.array(_as_roof_array("horizon_band_open_frac", horizon_band_open_frac, n), dtype=float),
                    0.0, 1.0))
    if np.isnan(svf).any() or np.isnan(band).any():
        from .shading import plane_sky_view_frac

        svf_hz, band_hz = plane_sky_view_frac(hz[:, None, :], tilt, az)
        svf = np.where(np.isnan(svf), svf_hz, svf)
        band = np.where(np.isnan(band), band_hz, band)
    kw = dict(albedo=albedo, gamma_pdc_per_c=gamma_pdc_per_c, dc_ac_ratio=dc_ac_ratio, eta_inv_nom=eta_inv_nom,
              losses_frac=losses_frac, temp_model_rack=temp_model_rack, temp_model_flush=temp_model_flush,
              chunk_size=chunk_size)
    spec = np.zeros(n)
    poa = np.zeros(n)
    group, first = orientation_groups(tilt, az, rack, gcr_arr)
    size = np.bincount(group, minlength=first.size)
    small = size[group] < max(int(min_group_points), 1)
    if small.any():
        res = simulate_roofs(weather, tilt[small], az[small], np.ones(int(small.sum())),
                             mount=np.where(rack[small], "rack", "flush"), gcr=gcr_arr[small], horizon_deg=hz[small],
                             sky_view_frac=svf[small], horizon_band_open_frac=band[small], reference=False, **kw)
        spec[small] = res["specific_yield_kwh_kwp"].to_numpy()
        poa[small] = res["poa_kwh_m2"].to_numpy()
    big = np.flatnonzero(~small)
    if big.size:
        hours = _hourly_inputs(weather, temp_model_rack, temp_model_flush)
        h_order, seg_start, bucket_start, e0 = _hours_by_sector(hours.sun_az_deg, hours.sun_elev_deg, hz.shape[1])
        order, task_g, task_a, task_b = _orientation_tasks(group, big, svf)
        gt = tilt[first]
        t_r = np.radians(gt)
        a_r = np.radians(az[first])
        row_sky, row_gnd = row_view_factors(gt, gcr_arr[first])
        rows = np.isfinite(gcr_arr[first])
        iam_sky, iam_hor, iam_gnd = diffuse_iam(gt)
        ac = np.empty(order.size)
        poa_o = np.empty(order.size)
        risky = np.zeros(task_g.size, dtype=np.int64)
        yield_by_orientation(
            *(np.ascontiguousarray(getattr(hours, f)[h_order]) for f in
              ("cos_zen", "sun_x", "sun_y", "sun_elev_deg", "dni", "ghi", "d_iso", "d_circ", "d_hor", "t_air_c")),
            np.ascontiguousarray(hours.wind_fac[:, h_order]), seg_start, bucket_start, float(e0),
            np.cos(t_r), np.sin(t_r), np.cos(a_r), np.sin(a_r), albedo * (1.0 - np.cos(t_r)) * 0.5 * row_gnd,
            row_sky, np.where(rows, 0.0, 1.0), iam_sky, iam_hor, iam_gnd,
            np.where(rows, 1.0 / np.where(rows, gcr_arr[first], 1.0), 0.0),
            np.where(rack[first], 0, 1).astype(np.int64),
            task_g, task_a, task_b,
            np.ascontiguousarray(hz[order]), np.ascontiguousarray(svf[order]), np.ascontiguousarray(band[order]),
            _iam_table(), float(gamma_pdc_per_c), 1.0 - float(losses_frac), float(dc_ac_ratio),
            float(eta_inv_nom) / ETA_INV_REF, float(eta_inv_nom) / float(dc_ac_ratio),
            ac, poa_o, risky,
        )
        spec[order] = ac
        poa[order] = poa_o
        hours_per_point = float((risky * (task_b - task_a)).sum()) / order.size
    else:
        hours_per_point = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        pr = np.where(poa > 0, spec / poa, np.nan)
    out = pd.DataFrame({"annual_kwh": spec * cap, "specific_yield_kwh_kwp": spec, "poa_kwh_m2": poa,
                        "performance_ratio": pr}, index=_index_of(tilt_deg, n))
    out.attrs["grouped_frac"] = float(big.size) / n if n else 0.0
    out.attrs["exact_hours_per_point"] = hours_per_point
    return out


#: Cells per task of :func:`plane_irradiation_kwh_m2`: an orientation shared by more cells is split
#: so both cores get work; each task rebuilds its orientation's table (~4,400 hours x 12 months,
#: a few % of the task) (tuning only; results do not depend on it).
IRRADIATION_TASK_CELLS = 8192


def plane_irradiation_kwh_m2(
    weather: Weather,
    tilt_deg: Any,
    azimuth_deg: Any,
    *,
    horizon_deg: Any,
    sky_view_frac: Any = None,
    horizon_band_open_frac: Any = None,
    albedo: float = EnergyConfig.albedo,
) -> np.ndarray:
    """Monthly plane-of-array irradiation of many small surfaces (raster cells) behind their horizons.

    The irradiance of :func:`simulate_roofs` (its ``poa_kwh_m2``: Perez transposition, beam and
    circumsolar light cut by the horizon, isotropic sky and ground light by the plane's sky view,
    the horizon band by its open share; before IAM), without rows, modules or temperature, for
    millions of cells: cells are grouped by orientation and each group's hours are sorted by
    sector and sun elevation once, so a cell costs one look-up per horizon sector
    (:func:`pv_survey._energy_kernel.poa_by_orientation`). Equal to ``simulate_roofs(...)
    ["poa_kwh_m2"]`` for the same plane and horizon, except in the rare hours where Perez's
    horizon-band term is negative and the shaded sky diffuse would fall below 0 (the engine clips
    it; tests/test_flux.py bounds the difference).

    Parameters
    ----------
    weather : Weather
        Hourly weather year.
    tilt_deg, azimuth_deg : array (n,)
        Plane tilt from horizontal and azimuth clockwise from north. [deg]
    horizon_deg : array (n, n_quantiles, n_sectors) or (n, n_sectors)
        Horizon per sector, sector k centred on azimuth ``k * 360 / n_sectors``. [deg]
    sky_view_frac, horizon_band_open_frac : array (n,), optional
        The plane's sky view relative to the open plane and the open share of the horizon band;
        default from ``horizon_deg`` (:func:`pv_survey.shading.plane_sky_view_frac`). [0-1]
    albedo : float
        Ground albedo. [0-1]

    Returns
    -------
    numpy.ndarray
        float64 (n, 12): irradiation in the plane, January..December. [kWh/m2]
    """
    from ._energy_kernel import poa_by_orientation

    tilt = np.asarray(tilt_deg, dtype=np.float64).reshape(-1)
    n = tilt.size
    az = np.mod(np.broadcast_to(np.asarray(azimuth_deg, dtype=np.float64), (n,)), 360.0)
    if not (np.isfinite(tilt).all() and np.isfinite(az).all()) or ((tilt < 0) | (tilt > 90)).any():
        bad = int(np.flatnonzero(~np.isfinite(tilt) | ~np.isfinite(az) | (tilt < 0) | (tilt > 90))[0])
        raise InputError(f"plane_irradiation_kwh_m2: cell {bad} has tilt_deg = {tilt[bad]!r}, azimuth_deg = "
                         f"{az[bad]!r}; give tilts in 0..90 deg and finite azimuths")
    hz = _horizon_view(horizon_deg, n)
    if hz is None:
        raise InputError("plane_irradiation_kwh_m2: give horizon_deg (zeros for an open horizon)")
    hz = np.ascontiguousarray(hz, dtype=np.float32)
    if not np.isfinite(hz).all():
        raise InputError("plane_irradiation_kwh_m2: horizon_deg contains NaN or inf; use 0 for an open horizon")
    if sky_view_frac is None or horizon_band_open_frac is None:
        from .shading import plane_sky_view_frac

        svf_hz, band_hz = plane_sky_view_frac(hz, tilt, az)
        sky_view_frac = svf_hz if sky_view_frac is None else sky_view_frac
        horizon_band_open_frac = band_hz if horizon_band_open_frac is None else horizon_band_open_frac
    svf = np.clip(_as_roof_array("sky_view_frac", sky_view_frac, n), 0.0, 1.0)
    band = np.clip(_as_roof_array("horizon_band_open_frac", horizon_band_open_frac, n), 0.0, 1.0)
    out = np.zeros((n, 12))
    if n == 0:
        return out
    hours = _hourly_inputs(weather, EnergyConfig.temperature_model_rack, EnergyConfig.temperature_model_flush)
    n_sectors = hz.shape[2]
    sector = sector_index(hours.sun_az_deg, n_sectors)
    order = np.lexsort((hours.sun_elev_deg, sector))
    seg_start = np.searchsorted(sector[order], np.arange(n_sectors + 1)).astype(np.int64)
    # a horizontal plane has no azimuth: one group for all of them
    az_key = np.where(tilt == 0.0, 180.0, az)
    keys, group = np.unique(np.stack([tilt, az_key], axis=1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    by_group = np.argsort(group, kind="stable")
    g_sorted = group[by_group]
    starts = np.searchsorted(g_sorted, np.arange(len(keys) + 1))
    task_g, task_a, task_b = [], [], []
    for g in range(len(keys)):
        for a in range(int(starts[g]), int(starts[g + 1]), IRRADIATION_TASK_CELLS):
            task_g.append(g)
            task_a.append(a)
            task_b.append(min(a + IRRADIATION_TASK_CELLS, int(starts[g + 1])))
    t_r = np.radians(keys[:, 0])
    a_r = np.radians(keys[:, 1])
    res = np.empty((n, 12))
    poa_by_orientation(
        *(np.ascontiguousarray(getattr(hours, f)[order]) for f in
          ("cos_zen", "sun_x", "sun_y", "sun_elev_deg", "dni", "ghi", "d_iso", "d_circ", "d_hor", "month")),
        seg_start, np.cos(t_r), np.sin(t_r), np.cos(a_r), np.sin(a_r), albedo * (1.0 - np.cos(t_r)) * 0.5,
        np.asarray(task_g, dtype=np.int64), np.asarray(task_a, dtype=np.int64), np.asarray(task_b, dtype=np.int64),
        np.ascontiguousarray(hz[by_group]), np.ascontiguousarray(svf[by_group]), np.ascontiguousarray(band[by_group]),
        res,
    )
    out[by_group] = res
    return out


# --------------------------------------------------------------------------- reference


def reference_roof_energy(
    weather: Weather,
    tilt_deg: float,
    azimuth_deg: float,
    capacity_kwp: float,
    *,
    mount: str,
    gcr: float | None = None,
    horizon_deg: Any = None,
    sky_view_frac: float | None = None,
    horizon_band_open_frac: float | None = None,
    albedo: float = EnergyConfig.albedo,
    gamma_pdc_per_c: float = EnergyConfig.gamma_pdc_per_c,
    dc_ac_ratio: float = EnergyConfig.dc_ac_ratio,
    eta_inv_nom: float = EnergyConfig.eta_inv_nom,
    losses_frac: float = DEFAULT_LOSSES_FRAC,
    temp_model_rack: str = EnergyConfig.temperature_model_rack,
    temp_model_flush: str = EnergyConfig.temperature_model_flush,
) -> dict[str, float]:
    """One roof the plain way: explicit pvlib calls on the whole hourly series.

    Same physics and parameters as :func:`simulate_roofs` (see the module
    docstring), written independently of the engine: no precomputation shared
    with it, pvlib's public functions for every step, the horizon rule applied
    with numpy on whole series.

    Parameters
    ----------
    weather : Weather
    tilt_deg, azimuth_deg : float
        Module tilt and azimuth (clockwise from north). [deg]
    capacity_kwp : float
        DC capacity. [kWp]
    mount : str
        ``"rack"`` or ``"flush"``.
    gcr : float, optional
        Ground coverage ratio of racked rows. [0-1]
    horizon_deg : array (n_quantiles, n_sectors) or (n_sectors,), optional
        The roof's horizon. [deg]
    sky_view_frac, horizon_band_open_frac : float, optional
        As in :func:`simulate_roofs` (default: from the horizon, 1 without one). [0-1]
    albedo, gamma_pdc_per_c, dc_ac_ratio, eta_inv_nom, losses_frac, temp_model_rack, temp_model_flush
        As in :func:`simulate_roofs`.

    Returns
    -------
    dict
        The :data:`ENERGY_COLUMNS` of this roof.
    """
    from pvlib import atmosphere, iam, inverter, irradiance, pvsystem, shading, solarposition, temperature

    _check_weather(weather)
    mount = str(mount).strip().lower()
    if mount not in MOUNTS:
        raise InputError(f"mount = {mount!r} is not 'rack' or 'flush'")
    data = weather.data
    times = data.index
    sp = solarposition.get_solarposition(
        times, weather.latitude_deg, weather.longitude_deg, altitude=weather.altitude_m,
        pressure=atmosphere.alt2pres(weather.altitude_m), temperature=data["temp_air"], method="nrel_numpy")
    zen = sp["apparent_zenith"]
    saz = sp["azimuth"]
    airmass = atmosphere.get_relative_airmass(zen, "kastenyoung1989")
    dni_extra = irradiance.get_extra_radiation(times)
    comps = irradiance.perez(tilt_deg, azimuth_deg, data["dhi"], data["dni"], dni_extra, zen, saz, airmass,
                             model="allsitescomposite1990", return_components=True)
    comps = comps.fillna(0.0)  # pvlib gives NaN when DHI = DNI = 0 with the sun up: no sky diffuse
    ground = irradiance.get_ground_diffuse(tilt_deg, data["ghi"], albedo=albedo)
    aoi = irradiance.aoi(tilt_deg, azimuth_deg, zen, saz)
    beam0 = np.maximum(data["dni"] * np.cos(np.radians(aoi)), 0)
    rows = mount == "rack" and gcr is not None and np.isfinite(gcr)
    if rows:
        from pvlib.bifacial import utils as bifacial_utils

        f_row = shading.shaded_fraction1d(zen, saz, azimuth_deg - 90.0, tilt_deg,
                                          collector_width=1.0, pitch=1.0 / gcr)
        cos_t = math.cos(math.radians(tilt_deg))
        # infinite-sheds 2-D view factors of the row's front, relative to the open plane's
        row_sky = float(bifacial_utils.vf_row_sky_2d_integ(tilt_deg, gcr)) / (0.5 * (1 + cos_t)) if tilt_deg > 0 else 1.0
        row_gnd = (float(bifacial_utils.vf_row_ground_2d_integ(tilt_deg, gcr)) / (0.5 * (1 - cos_t))
                   if tilt_deg > 0 else 1.0)
        row_band = 0.0  # the row in front hides the horizon band
    else:
        f_row, row_sky, row_gnd, row_band = 0.0, 1.0, 1.0, 1.0
    if horizon_deg is not None:
        from .shading import plane_sky_view_frac

        prof = np.atleast_2d(np.asarray(horizon_deg, dtype=float))
        f_hz = pd.Series(horizon_shaded_frac(prof, 90.0 - zen.to_numpy(), saz.to_numpy()), index=times)
        svf_hz, band_hz = plane_sky_view_frac(prof[None, :, :], tilt_deg, azimuth_deg)
        svf = float(svf_hz[0]) if _not_given(sky_view_frac) else float(sky_view_frac)
        band = float(band_hz[0]) if _not_given(horizon_band_open_frac) else float(horizon_band_open_frac)
    else:
        f_hz = 0.0
        svf = 1.0 if _not_given(sky_view_frac) else float(sky_view_frac)
        band = 1.0 if _not_given(horizon_band_open_frac) else float(horizon_band_open_frac)
    tparams = _sapm_params(temp_model_rack if mount == "rack" else temp_model_flush)
    pdc0_w = capacity_kwp * 1000.0
    iam_beam = iam.physical(aoi)
    with np.errstate(invalid="ignore", divide="ignore"):
        marion = iam.marion_diffuse("physical", tilt_deg)  # Marion 2017: sky, horizon, ground
    iam_sky, iam_hor = float(marion["sky"]), float(marion["horizon"])
    iam_gnd = float(np.nan_to_num(marion["ground"], nan=0.0))

    def chain(keep_hz, sky_view, band_open):
        keep = (1.0 - f_row) * keep_hz
        poa_direct = beam0 * keep
        iso = comps["poa_isotropic"] * sky_view * row_sky
        circ = comps["poa_circumsolar"] * keep
        hor = comps["poa_horizon"] * band_open * row_band
        total_sky = iso + circ + hor
        poa_sky = np.maximum(total_sky, 0)
        sky_eff = (iso * iam_sky + circ * iam_beam + hor * iam_hor).where(total_sky >= 0, 0.0)
        gnd = ground * row_gnd * sky_view
        poa_global = poa_direct + poa_sky + gnd
        eff = poa_direct * iam_beam + sky_eff + gnd * iam_gnd
        t_cell = temperature.sapm_cell(poa_global, data["temp_air"], data["wind_speed"], **tparams)
        if pdc0_w == 0:
            return poa_global * 0.0, poa_global
        pdc = pvsystem.pvwatts_dc(eff, t_cell, pdc0_w, gamma_pdc_per_c) * (1.0 - losses_frac)
        pac = inverter.pvwatts(pdc, pdc0_w / dc_ac_ratio, eta_inv_nom=eta_inv_nom, eta_inv_ref=ETA_INV_REF)
        return pac, poa_global

    pac, poa_global = chain(1.0 - f_hz, svf, band)
    annual_kwh = float(pac.sum()) / 1000.0
    if horizon_deg is not None or svf < 1.0 or band < 1.0:
        pac_base, _ = chain(1.0, 1.0, 1.0)
        base_kwh = float(pac_base.sum()) / 1000.0
    else:
        base_kwh = annual_kwh
    poa_kwh_m2 = float(poa_global.sum()) / 1000.0
    monthly = pac.groupby(times.month).sum().reindex(range(1, 13), fill_value=0.0) / 1000.0
    spec = annual_kwh / capacity_kwp if capacity_kwp > 0 else float("nan")
    out = {
        "annual_kwh": annual_kwh,
        "specific_yield_kwh_kwp": spec,
        "poa_kwh_m2": poa_kwh_m2,
        "shading_loss_frac": 1.0 - annual_kwh / base_kwh if base_kwh > 0 else 0.0,
        "performance_ratio": spec / poa_kwh_m2 if poa_kwh_m2 > 0 else float("nan"),
    }
    for m, name in enumerate(MONTH_COLUMNS, start=1):
        out[name] = float(monthly.loc[m])
    return out


def _not_given(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


# --------------------------------------------------------------------------- roof tables

#: Horizon value used for a roof without a profile in a table where others have one: never above the sun.
_OPEN_HORIZON_DEG = -90.0


def _horizon_from_strings(values: pd.Series, where: str) -> np.ndarray | None:
    """(n, 1, n_sectors) from a column of comma-separated profiles; rows without one are open."""
    texts = ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v).strip() for v in values]
    if not any(texts):
        return None
    profiles: list[np.ndarray | None] = []
    n_sectors = None
    for i, t in enumerate(texts):
        if not t:
            profiles.append(None)
            continue
        try:
            prof = np.array([float(x) for x in t.replace(";", ",").split(",") if x.strip()], dtype=float)
        except ValueError:
            raise InputError(
                f"{where}: horizon_deg of row {i} = {t[:40]!r} is not comma-separated numbers; "
                "give one elevation per sector in degrees, e.g. '12.5,10,8'"
            ) from None
        if n_sectors is None:
            n_sectors = len(prof)
        if len(prof) != n_sectors or len(prof) == 0:
            raise InputError(
                f"{where}: horizon_deg of row {i} has {len(prof)} values, other rows {n_sectors}; "
                "give every roof the same number of sectors"
            )
        profiles.append(prof)
    out = np.full((len(texts), 1, n_sectors), _OPEN_HORIZON_DEG, dtype=np.float32)
    for i, prof in enumerate(profiles):
        if prof is not None:
            out[i, 0] = prof
    return out


def _horizon_from_columns(table: pd.DataFrame, where: str) -> np.ndarray | None:
    """(n, 1, n_sectors) from columns horizon_deg_<azimuth or index>."""
    cols = [c for c in table.columns if str(c).startswith("horizon_deg_") and str(c)[12:].isdigit()]
    if not cols:
        return None
    keys = np.array([int(str(c)[12:]) for c in cols])
    order = np.argsort(keys)
    keys, cols = keys[order], [cols[i] for i in order]
    n = len(cols)
    as_azimuth = np.allclose(keys, np.arange(n) * 360.0 / n)
    as_index = np.array_equal(keys, np.arange(n))
    if not (as_azimuth or as_index):
        raise InputError(
            f"{where}: horizon columns {cols[0]}..{cols[-1]} are neither sector azimuths k*360/{n} "
            f"nor sector numbers 0..{n - 1}; name them horizon_deg_000, horizon_deg_005, ..."
        )
    vals = table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    vals = np.where(np.isnan(vals).all(axis=1, keepdims=True), _OPEN_HORIZON_DEG, vals)
    if np.isnan(vals).any():
        i = int(np.flatnonzero(np.isnan(vals).any(axis=1))[0])
        raise InputError(f"{where}: row {i} has empty or non-numeric horizon columns; fill every sector or none")
    return vals.astype(np.float32)[:, None, :]


def roof_table_inputs(table: pd.DataFrame, *, flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg,
                      where: str = "roofs") -> tuple[np.ndarray, dict[str, Any]]:
    """Arguments of :func:`simulate_roofs` from a table of roofs.

    Columns: ``tilt_deg``, ``azimuth_deg``, ``capacity_kwp`` (``module_tilt_deg`` /
    ``module_azimuth_deg`` are used instead where present, as in the roofs layer of a
    survey, whose flat roofs carry tilted modules); optional ``mount`` (default
    ``flush`` if the plane's tilt is above ``flat_max_tilt_deg``, else ``rack``),
    ``gcr``, ``sky_view_frac`` and a horizon: either ``horizon_deg`` holding one
    profile per roof as comma-separated numbers (sector k centred on azimuth
    k * 360 / n) or columns ``horizon_deg_000`` .. (suffix = sector azimuth in
    degrees or sector number).

    Parameters
    ----------
    table : pandas.DataFrame
    flat_max_tilt_deg : float
        Planes at or below this tilt are flat and get racked rows by default
        (City Energy Analyst: 5 deg). [deg]
    where : str
        Name of the table's file, for messages.

    Returns
    -------
    (numpy.ndarray of bool, dict)
        Rows that can be simulated (tilt, azimuth and capacity given) and the keyword
        arguments of :func:`simulate_roofs` for those rows.

    Raises
    ------
    InputError
        A required column missing or a value that cannot be used.
    """
    missing = [c for c in ("tilt_deg", "azimuth_deg", "capacity_kwp") if c not in table.columns]
    if missing:
        raise InputError(
            f"{where}: column '{missing[0]}' missing; a roofs table needs tilt_deg, azimuth_deg, capacity_kwp "
            f"(columns present: {', '.join(map(str, table.columns[:12]))})"
        )

    def num(col: str) -> np.ndarray:
        vals = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        bad = table[col].notna().to_numpy() & np.isnan(vals)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{where}: {col} of row {i} = {table[col].iloc[i]!r} is not a number; fix the table")
        return vals

    plane_tilt = num("tilt_deg")
    tilt = plane_tilt.copy()
    az = num("azimuth_deg").copy()  # written below; a column view may be read-only (pandas copy-on-write)
    for col, arr in (("module_tilt_deg", tilt), ("module_azimuth_deg", az)):
        if col in table.columns:
            mod = num(col)
            arr[:] = np.where(np.isnan(mod), arr, mod)
    cap = num("capacity_kwp")
    ok = ~(np.isnan(tilt) | np.isnan(az) | np.isnan(cap))
    if "mount" in table.columns:
        given = table["mount"].astype(object).where(table["mount"].notna(), "").astype(str).str.strip().str.lower()
        mount = np.where(given.to_numpy() == "", None, given.to_numpy())
    else:
        mount = np.full(len(table), None, dtype=object)
    default_mount = np.where(plane_tilt > flat_max_tilt_deg, "flush", "rack")
    mount = np.where(pd.isna(mount), default_mount, mount).astype(object)
    gcr = num("gcr") if "gcr" in table.columns else np.full(len(table), np.nan)
    # sky view: given per roof, else (NaN) the plane's own from its horizon
    svf = num("sky_view_frac") if "sky_view_frac" in table.columns else np.full(len(table), np.nan)
    hz_str = _horizon_from_strings(table["horizon_deg"], where) if "horizon_deg" in table.columns else None
    hz_col = _horizon_from_columns(table, where)
    if hz_str is not None and hz_col is not None:
        raise InputError(f"{where}: both horizon_deg and horizon_deg_000.. columns given; keep one of them")
    hz = hz_str if hz_str is not None else hz_col
    kwargs = {
        "tilt_deg": tilt[ok], "azimuth_deg": az[ok], "capacity_kwp": cap[ok], "mount": mount[ok],
        "gcr": gcr[ok], "sky_view_frac": svf[ok], "horizon_deg": hz[ok] if hz is not None else None,
    }
    return ok, kwargs


def simulate_roof_table(table: pd.DataFrame, weather: Weather, *, flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg,
                        where: str = "roofs", hourly_labels: Any = None, hourly_total: bool = False,
                        **params: Any) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`simulate_roofs` on a table of roofs, results joined to the table's own columns.

    Parameters
    ----------
    table : pandas.DataFrame or geopandas.GeoDataFrame
        See :func:`roof_table_inputs` for the columns.
    weather : Weather
    flat_max_tilt_deg : float
        See :func:`roof_table_inputs`. [deg]
    where : str
        Name of the table's file, for messages.
    hourly_labels : array (n_rows,), optional
        A label per row (e.g. build phase): hourly AC profiles are summed per label.
    hourly_total : bool
        Sum one hourly profile over all rows (ignored when ``hourly_labels`` is given).
    **params
        Other keywords of :func:`simulate_roofs`.

    Returns
    -------
    DataFrame of the same type as ``table``
        Every input column (result columns already present are replaced) plus the
        :data:`ENERGY_COLUMNS`; rows without tilt, azimuth or capacity get NaN.
        With hourly profiles, also a DataFrame of 8,760 hours: ``total_kwh`` and one
        ``<label>_kwh`` column per label. [kWh]
    """
    ok, kwargs = roof_table_inputs(table, flat_max_tilt_deg=flat_max_tilt_deg, where=where)
    hourly = None
    if hourly_labels is not None:
        labels = np.asarray(hourly_labels, dtype=object)[ok]
        names, codes = np.unique(labels.astype(str), return_inverse=True)
        res, hourly = simulate_roofs(weather, **kwargs, hourly_groups=codes, **params)
        hourly.columns = [f"{nm}_kwh" for nm in names][:hourly.shape[1]]
        hourly.insert(0, "total_kwh", hourly.sum(axis=1))
    elif hourly_total:
        res, hourly = simulate_roofs(weather, **kwargs, hourly_groups=np.zeros(int(ok.sum()), np.int64), **params)
        hourly.columns = ["total_kwh"]
    else:
        res = simulate_roofs(weather, **kwargs, **params)
    out = table.copy()
    for col in ENERGY_COLUMNS:
        vals = np.full(len(out), np.nan)
        vals[ok] = res[col].to_numpy()
        out[col] = vals
    return out if hourly is None else (out, hourly)


def hourly_profiles_of_kept(table: pd.DataFrame, weather: Weather, groups: Any, *,
                            flat_max_tilt_deg: float = RoofsConfig.flat_max_tilt_deg, where: str = "roofs",
                            **params: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """Hourly AC energy per group of assessed surfaces, each surface's year equal to its ``annual_kwh``.

    A light second pass for surfaces already assessed (a survey's roofs after the tiles): the
    hour-by-hour shape of each surface comes from :func:`simulate_roofs` on its table row —
    plane, mount, rows, its ``sky_view_frac`` and its *median* horizon profile (the
    ``horizon_deg`` text the assessment keeps; the quantile profiles of the tiles are not
    kept) — and is scaled so the surface's year equals the ``annual_kwh`` of the full
    assessment. The hourly energy is linear in the capacity, so the scale goes into the
    capacity of a second, accumulating pass (:func:`simulate_roofs` with ``hourly_groups``):
    no (surfaces x hours) array is held beyond one chunk.

    Parameters
    ----------
    table : pandas.DataFrame
        Surfaces with the columns of :func:`roof_table_inputs` and ``annual_kwh`` [kWh].
    weather : Weather
    groups : array of int (n_rows,)
        Group 0..G-1 of each row (e.g. its site); negative = in no group.
    flat_max_tilt_deg, where
        See :func:`roof_table_inputs`.
    **params
        Other keywords of :func:`simulate_roofs` (the run's energy parameters).

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        Hourly AC energy per group (weather timestamps x groups 0..G-1) [kWh], and the scale
        of each simulated row (``annual_kwh`` / year of the light pass; NaN where a row was
        not simulated) [-]. A row whose light pass gives no energy gets scale 0.
    """
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if len(groups) and groups.max() >= 0 else 0
    target = pd.to_numeric(table["annual_kwh"], errors="coerce").to_numpy(float)
    has_year = np.isfinite(target)
    ok_sub, kwargs = roof_table_inputs(table[has_year], flat_max_tilt_deg=flat_max_tilt_deg, where=where)
    rows = np.flatnonzero(has_year)[ok_sub]  # the rows simulated, in table order
    scale = np.full(len(table), np.nan)
    index = weather.data.index
    if rows.size == 0:
        return pd.DataFrame(np.zeros((len(index), n_groups)), index=index, columns=pd.RangeIndex(n_groups)), scale
    light = simulate_roofs(weather, **kwargs, **params)["annual_kwh"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(light > 0, target[rows] / light, 0.0)
    scale[rows] = k
    kwargs = {**kwargs, "capacity_kwp": np.asarray(kwargs["capacity_kwp"], float) * k}
    _, hourly = simulate_roofs(weather, **kwargs, hourly_groups=groups[rows], **params)
    hourly = hourly.reindex(columns=pd.RangeIndex(n_groups), fill_value=0.0)  # groups without a row: zeros
    return hourly, scale


# --------------------------------------------------------------------------- config


def params_from_config(energy: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`simulate_roofs` from a :class:`pv_survey.config.EnergyConfig`.

    Parameters
    ----------
    energy : EnergyConfig

    Returns
    -------
    dict
        ``albedo, gamma_pdc_per_c, dc_ac_ratio, eta_inv_nom, losses_frac,
        temp_model_rack, temp_model_flush`` (and ``chunk_size``).
    """
    losses = losses_frac_from_pct(
        soiling=energy.losses_soiling_pct, shading=0, snow=0, mismatch=energy.losses_mismatch_pct,
        wiring=energy.losses_wiring_pct, connections=energy.losses_connections_pct, lid=energy.losses_lid_pct,
        nameplate_rating=energy.losses_nameplate_pct, age=energy.losses_age_pct,
        availability=energy.losses_availability_pct,
    )
    out = {
        "albedo": energy.albedo,
        "gamma_pdc_per_c": energy.gamma_pdc_per_c,
        "dc_ac_ratio": energy.dc_ac_ratio,
        "eta_inv_nom": energy.eta_inv_nom,
        "losses_frac": losses,
        "temp_model_rack": energy.temperature_model_rack,
        "temp_model_flush": energy.temperature_model_flush,
    }
    if hasattr(energy, "chunk_roofs"):
        out["chunk_size"] = energy.chunk_roofs
    return out
