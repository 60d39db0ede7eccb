"""Weather files -> one internal hourly form; the embedded default Guangzhou year.

Every reader maps its file to a :class:`Weather`: a DataFrame indexed by
tz-aware timestamps in Asia/Shanghai (UTC+8) at the **middle** of each hourly
interval (hh:30), columns ``ghi, dni, dhi`` [W/m2], ``temp_air`` [degC] and
``wind_speed`` [m/s], plus the file's location and a list of notes saying which
conventions were applied and what was repaired.

Conventions applied where the data enters (each recorded in ``Weather.notes``):

* EPW: the value of hour ``h`` (1-24, local standard time of the file's ``TZ``)
  covers the hour ending at ``h`` (EnergyPlus Auxiliary Programs, "Weather
  Converter Program": data are for the preceding hour), so it is placed at
  ``h - 0:30``.
* TMY3: timestamps are hour-ending local standard time (Wilcox & Marion 2008,
  NREL/TP-581-43156; pvlib.iotools.read_tmy3 warning), placed 30 min earlier.
* PVGIS TMY and hourly series: timestamps are UTC and name the hour that starts
  at ``hh:00`` (``hh:00`` for TMY with an "irradiance time offset", ``hh:10`` for
  SARAH, ``hh:30`` for ERA5; PVGIS user manual). Each value is placed at
  ``hh:30`` UTC and then converted to UTC+8.
* Typical years (EPW, TMY3, PVGIS TMY) mix source years; their rows are placed
  on the non-leap year :data:`TYPICAL_YEAR` by month, day and time of day, so
  hours that a time-zone conversion pushes past 31 December wrap to 1 January
  (the roll pvlib's ``coerce_year`` does for PVGIS TMY).
* Leap days: 29 February is dropped, so every year has 8760 hours and monthly
  sums stay comparable between years. The count of dropped rows is noted.
* Impossible values are counted and repaired: negative irradiance is set to 0;
  GHI or DHI above 1.5x the hour's extraterrestrial horizontal irradiance
  (+20 W/m2 for twilight) and DNI above extraterrestrial DNI are clipped to
  those limits (DNI while the sun is below the horizon all hour to 0). Missing
  hours, missing-value codes (irradiance above 1.5x the solar constant, e.g.
  EPW's 9999), air temperature outside -40..60 degC and wind speed outside
  0..60 m/s are gaps, filled by linear interpolation over gaps of up to 3 h,
  otherwise by the mean of the same month and hour of day. Fewer than
  :data:`MIN_VALID_HOURS` valid hours is an error.
* PVGIS hourly series carry plane-of-array irradiance ``G(i)`` only (or its
  components). A horizontal series is GHI (split into DNI/DHI by its components
  or by :func:`pvlib.irradiance.dirint`); a tilted one is turned back into
  GHI/DNI/DHI with :func:`pvlib.irradiance.gti_dirint` (Marion 2015).
* Time alignment (``time_alignment``): a file's stated convention is not always
  how its irradiance was made (the Guangzhou TMYx EPW is centred on the stamp,
  not 30 min before it; ../shared/REFERENCES.md). With ``"auto"`` the timing is
  estimated from the data itself (:func:`estimate_time_offset_min`: the
  (GHI + DNI)-weighted mean solar hour angle, 0 for irradiance symmetric about
  solar noon) and the rows are moved by it when it is at least
  :data:`MIN_APPLIED_OFFSET_MIN`; ``"convention"`` keeps the convention; a
  number of minutes moves the rows by that much. The index then holds the
  instant the irradiance is centred on, which is where the sun is computed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import EnergyConfig
from .data_files import data_path
from .errors import WeatherError

__all__ = [
    "Weather",
    "read_weather",
    "default_weather",
    "distance_km",
    "location_warning",
    "WEATHER_COLUMNS",
    "TIMEZONE",
    "TYPICAL_YEAR",
    "MIN_VALID_HOURS",
    "DEFAULT_WEATHER_PATH",
    "estimate_time_offset_min",
    "parse_time_alignment",
    "MIN_APPLIED_OFFSET_MIN",
]

#: Columns of :attr:`Weather.data` (pvlib names; W/m2, W/m2, W/m2, degC, m/s).
WEATHER_COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed")
#: Guangzhou civil time, UTC+8 without daylight saving (IANA tz database).
TIMEZONE = "Asia/Shanghai"
#: Non-leap year that typical-year files are placed on; the embedded default year uses it too.
TYPICAL_YEAR = 2023
#: Fewer valid hours than this makes a file unusable (issue 3: "fewer than 8000 valid hours").
MIN_VALID_HOURS = 8000
#: Longest gap [h] filled by linear interpolation; longer gaps take the month-hour mean (project choice).
MAX_INTERPOLATED_GAP_H = 3
#: Irradiance check: at most 1.5x the hour's extraterrestrial horizontal irradiance (issue 3) ...
GHI_MAX_EXTRATERRESTRIAL_RATIO = 1.5
#: ... plus this allowance [W/m2] for twilight and timestamp jitter at sunrise/sunset (project choice).
GHI_TWILIGHT_ALLOWANCE_W_M2 = 20.0
#: Irradiance above 1.5x the solar constant (1366.1 W/m2, pvlib get_extra_radiation) cannot be
#: measured anywhere; such values are missing-value codes (EPW uses 9999) and become gaps.
IRRADIANCE_CODE_LIMIT_W_M2 = 1.5 * 1366.1
#: Plausible air temperature [degC] (issue 3: -40..60).
TEMP_AIR_RANGE_C = (-40.0, 60.0)
#: Plausible hourly wind speed [m/s]; EPW codes missing wind as 999 (EnergyPlus Auxiliary Programs).
WIND_SPEED_RANGE_M_S = (0.0, 60.0)
#: ``"auto"`` time alignment moves the rows only when the estimated offset is at least this large:
#: the estimator's spread on real years is a few minutes (PVGIS-ERA5 2019: +0.9 min; project measurement,
#: README "Validation"), so smaller estimates are noise, not a timing error. [min]
MIN_APPLIED_OFFSET_MIN = 5.0
#: ``"auto"`` needs at least this many hours with sunlight (GHI > 0) to estimate the timing from;
#: a real year has about 4,400 (project choice: a quarter of them).
MIN_SUNLIT_HOURS_FOR_ALIGNMENT = 1000
#: Largest offset a file may be moved by (one hour either way covers every stamp convention). [min]
MAX_TIME_OFFSET_MIN = 90.0
#: The embedded default weather year (generated by ``pv-survey demo-data``).
DEFAULT_WEATHER_PATH = data_path("guangzhou_default_year.csv")
#: Header of the project's own weather CSV (the embedded default year).
PV_SURVEY_CSV_COLUMNS = {
    "ghi_w_m2": "ghi",
    "dni_w_m2": "dni",
    "dhi_w_m2": "dhi",
    "temp_air_c": "temp_air",
    "wind_speed_m_s": "wind_speed",
}


@dataclass
class Weather:
    """One hourly weather year in the internal form.

    Attributes
    ----------
    data : pandas.DataFrame
        Indexed by tz-aware timestamps (Asia/Shanghai) at the middle of each
        hourly interval; columns ``ghi, dni, dhi`` [W/m2], ``temp_air`` [degC],
        ``wind_speed`` [m/s]. No NaN.
    latitude_deg, longitude_deg : float
        Location of the data (WGS84). [deg]
    altitude_m : float
        Elevation of the data's location. [m]
    source : str
        What the data is (format, file name, station).
    notes : list of str
        Conventions applied and repairs made, with counts.
    """

    data: pd.DataFrame
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    source: str
    notes: list[str] = field(default_factory=list)
    #: Minutes the rows were moved from their stated convention (time alignment). [min]
    time_offset_min: float = 0.0


# --------------------------------------------------------------------------- public


def read_weather(path: str | Path, time_alignment: str | float = EnergyConfig.time_alignment) -> Weather:
    """Read any supported weather file into the internal form.

    The format is detected from the content: EPW, TMY3, PVGIS TMY (CSV or
    JSON), PVGIS hourly series (CSV or JSON) or the project's own CSV (the
    format of the embedded default year).

    Parameters
    ----------
    path : str or Path
        The weather file.
    time_alignment : {"auto", "convention"} or float
        ``"auto"``: estimate the irradiance timing from the data and move the rows
        by it (see the module docstring); ``"convention"``: keep the format's
        stated convention; a number: move the rows by that many minutes
        (positive = the irradiance is centred later than the convention says). [min]

    Returns
    -------
    Weather

    Raises
    ------
    WeatherError
        File missing, unknown format, unreadable, or fewer than
        :data:`MIN_VALID_HOURS` valid hours.
    """
    p = Path(path)
    alignment = parse_time_alignment(time_alignment)
    if not p.is_file():
        raise WeatherError(f"{p}: weather file not found; pass an EPW, TMY3 or PVGIS file")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, alignment)
    if key in _READ_CACHE:
        _READ_CACHE.move_to_end(key)
        return _copy_weather(_READ_CACHE[key])
    wx = _read_weather_file(p, alignment)
    _READ_CACHE[key] = wx
    while len(_READ_CACHE) > _READ_CACHE_SIZE:
        _READ_CACHE.popitem(last=False)
    return _copy_weather(wx)


#: Weather years read in this process, by (path, mtime, size, alignment): a run reads its year for
#: the energy stage and again for the tariff valuation of the plan, a batch once per scenario.
_READ_CACHE: "OrderedDict[tuple, Weather]" = OrderedDict()
_READ_CACHE_SIZE = 4


def _copy_weather(wx: Weather) -> Weather:
    """A copy the caller may change without touching the cached year."""
    return dataclasses.replace(wx, data=wx.data.copy(), notes=list(wx.notes))


def _read_weather_file(p: Path, alignment: str | float) -> Weather:
    """:func:`read_weather` without the cache."""
    raw = p.read_bytes()
    fmt = _detect_format(p, raw)
    readers = {
        "epw": _read_epw,
        "tmy3": _read_tmy3,
        "pvgis_tmy_json": _read_pvgis_tmy,
        "pvgis_tmy_csv": _read_pvgis_tmy,
        "pvgis_hourly_json": _read_pvgis_hourly,
        "pvgis_hourly_csv": _read_pvgis_hourly,
        "pv_survey_csv": _read_pv_survey_csv,
    }
    try:
        parsed = readers[fmt](p, raw, fmt)
    except WeatherError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeatherError(
            f"{p}: looks like {_FORMAT_NAMES[fmt]} but cannot be read ({msg}); "
            "re-export the file unmodified from its source"
        ) from exc
    return _finish(parsed, p, alignment)


def default_weather(time_alignment: str | float = EnergyConfig.time_alignment) -> Weather:
    """The embedded default Guangzhou weather year (``data/guangzhou_default_year.csv``).

    Parameters
    ----------
    time_alignment : {"auto", "convention"} or float
        As in :func:`read_weather`.

    Returns
    -------
    Weather

    Raises
    ------
    WeatherError
        The file is missing (regenerate it with ``pv-survey demo-data``) or broken.
    """
    if not DEFAULT_WEATHER_PATH.is_file():
        raise WeatherError(
            f"{DEFAULT_WEATHER_PATH}: embedded default weather year not found; "
            "regenerate it with `pv-survey demo-data` or pass --weather FILE"
        )
    return read_weather(DEFAULT_WEATHER_PATH, time_alignment)


def parse_time_alignment(value: str | float) -> str | float:
    """Check a ``time_alignment`` setting: ``"auto"``, ``"convention"`` or minutes.

    Parameters
    ----------
    value : str or float
        ``"auto"``, ``"convention"``, or a number of minutes (also as text, e.g. ``"30"``).

    Returns
    -------
    str or float
        ``"auto"``, ``"convention"`` or the offset in minutes. [min]

    Raises
    ------
    WeatherError
        Anything else, or more than :data:`MAX_TIME_OFFSET_MIN` minutes.
    """
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("auto", "convention"):
            return v
        try:
            minutes = float(v)
        except ValueError:
            raise WeatherError(
                f"time_alignment = {value!r}; use 'auto', 'convention' or a number of minutes such as 30"
            ) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        minutes = float(value)
    else:
        raise WeatherError(f"time_alignment = {value!r}; use 'auto', 'convention' or a number of minutes")
    if not np.isfinite(minutes) or abs(minutes) > MAX_TIME_OFFSET_MIN:
        raise WeatherError(
            f"time_alignment = {value!r} min is beyond +-{MAX_TIME_OFFSET_MIN:g} min; stamps are at most an hour off"
        )
    return minutes


def _solar_hour_angle_deg(index: pd.DatetimeIndex, longitude_deg: float) -> np.ndarray:
    """Solar hour angle [deg], 0 at solar noon, negative in the morning.

    Apparent solar time = UTC + longitude / 15 h + equation of time (Spencer 1971,
    :func:`pvlib.solarposition.equation_of_time_spencer71`, minutes).
    """
    from pvlib.solarposition import equation_of_time_spencer71

    utc = index.tz_convert("UTC")
    hours = utc.hour.to_numpy() + utc.minute.to_numpy() / 60.0 + utc.second.to_numpy() / 3600.0
    eot_min = np.asarray(equation_of_time_spencer71(utc.day_of_year.to_numpy()), dtype=float)
    solar_h = hours + longitude_deg / 15.0 + eot_min / 60.0
    return ((solar_h - 12.0 + 12.0) % 24.0 - 12.0) * 15.0


def estimate_time_offset_min(index: pd.DatetimeIndex, irradiance_w_m2: np.ndarray, longitude_deg: float) -> float:
    """Minutes by which a year's irradiance is centred later than its stamps.

    Over a year, irradiance is symmetric about solar noon to within minutes
    (morning and afternoon paths of the sun are mirror images; weather adds
    noise, not a systematic shift: the PVGIS-ERA5 2019 Guangzhou series gives
    +1.0 min for GHI). So the irradiance-weighted mean solar hour angle of the
    stamps, ``mean_omega = sum(E * omega) / sum(E)``, measures the
    stamps' offset: the irradiance is centred ``-4 min/deg * mean_omega``
    later than the stamps say (15 deg of hour angle per hour). Hourly sampling
    of the day's bell-shaped curve leaves no bias (the sum approximates the
    integral; sunrise and sunset hours are partial on both sides alike).

    Parameters
    ----------
    index : pandas.DatetimeIndex
        tz-aware instants the rows are placed at.
    irradiance_w_m2 : array
        Any irradiance series (GHI, DNI, their sum); NaN and values above
        :data:`IRRADIANCE_CODE_LIMIT_W_M2` (missing-value codes) are ignored. [W/m2]
    longitude_deg : float
        [deg east]

    Returns
    -------
    float
        Estimated offset; positive = irradiance centred later than the stamps. [min]

    Raises
    ------
    WeatherError
        No positive irradiance to estimate from.
    """
    g = np.asarray(irradiance_w_m2, dtype=float)
    ok = np.isfinite(g) & (g > 0) & (g <= IRRADIANCE_CODE_LIMIT_W_M2)
    if not ok.any():
        raise WeatherError("time alignment: the file has no positive irradiance to estimate its timing from")
    omega = _solar_hour_angle_deg(index, longitude_deg)
    mean_omega = float(np.sum(g[ok] * omega[ok]) / np.sum(g[ok]))
    return -4.0 * mean_omega


def _align(frame: pd.DataFrame, alignment: str | float, lon: float) -> tuple[pd.DataFrame, float, list[str]]:
    """Move the rows by the estimated or given offset; the note says what was done."""
    if alignment == "convention":
        return frame, 0.0, ["time alignment: the format's stated convention kept (time_alignment = 'convention')"]
    if alignment == "auto":
        ghi = frame["ghi"].to_numpy(dtype=float)
        dni = frame["dni"].to_numpy(dtype=float)
        n_sun = int(np.sum(np.isfinite(ghi) & (ghi > 0) & (ghi <= IRRADIANCE_CODE_LIMIT_W_M2)))
        if n_sun < MIN_SUNLIT_HOURS_FOR_ALIGNMENT:
            return frame, 0.0, [f"time alignment: only {n_sun} hours with sunlight, too few to estimate the "
                                f"timing from (at least {MIN_SUNLIT_HOURS_FOR_ALIGNMENT}); stated convention kept"]
        est_ghi = estimate_time_offset_min(frame.index, ghi, lon)
        est_dni = estimate_time_offset_min(frame.index, dni, lon) if np.nansum(dni) > 0 else est_ghi
        # beam (DNI) and diffuse (from GHI) light both reach a tilted plane, and a file's DNI may be
        # timed differently from its GHI (the TMYx EPW: GHI -30 min, DNI -20 min): one shift, weighted
        # by both series' irradiation (the centroid of GHI + DNI)
        both = np.where(np.isfinite(ghi), ghi, 0.0) + np.where(np.isfinite(dni) & (dni <= IRRADIANCE_CODE_LIMIT_W_M2),
                                                                  dni, 0.0)
        est = estimate_time_offset_min(frame.index, both, lon)
        if abs(est) > MAX_TIME_OFFSET_MIN:
            raise WeatherError(
                f"time alignment: the file's irradiance is centred {est:+.0f} min from its stamps, more than "
                f"+-{MAX_TIME_OFFSET_MIN:g} min; check the file's time zone, or set [energy] time_alignment"
            )
        shift = float(round(est)) if abs(est) >= MIN_APPLIED_OFFSET_MIN else 0.0
        if shift:
            word = "later" if shift > 0 else "earlier"
            note = (f"time alignment: irradiance centred {abs(shift):.0f} min {word} than the stated convention "
                    f"(estimated from the data's symmetry about solar noon: GHI {est_ghi:+.1f} min, DNI "
                    f"{est_dni:+.1f} min, both together {est:+.1f} min); "
                    f"rows shifted by {shift:+.0f} min")
        else:
            note = (f"time alignment: irradiance centred within {MIN_APPLIED_OFFSET_MIN:g} min of the stated "
                    f"convention (estimated from the symmetry about solar noon: {est:+.1f} min; GHI {est_ghi:+.1f}, "
                    f"DNI {est_dni:+.1f}); not shifted")
    else:
        shift = float(alignment)
        note = f"time alignment: rows shifted by {shift:+g} min (time_alignment = {shift:g})"
    if shift:
        frame = frame.set_axis(frame.index + pd.Timedelta(minutes=shift))
    return frame, shift, [note]


def distance_km(weather: Weather, lon_deg: float, lat_deg: float) -> float:
    """Geodesic distance between the weather data's location and a point.

    Parameters
    ----------
    weather : Weather
    lon_deg, lat_deg : float
        The point, WGS84 / CGCS2000 longitude and latitude. [deg]

    Returns
    -------
    float
        Distance on the WGS84 ellipsoid (pyproj.Geod). [km]
    """
    from pyproj import Geod

    _az12, _az21, dist_m = Geod(ellps="WGS84").inv(
        weather.longitude_deg, weather.latitude_deg, float(lon_deg), float(lat_deg)
    )
    return float(dist_m) / 1000.0


def location_warning(weather: Weather, lon_deg: float, lat_deg: float, *,
                           max_distance_km: float = EnergyConfig.weather_max_distance_km) -> str | None:
    """A warning when the weather data is far from the survey area.

    Parameters
    ----------
    weather : Weather
    lon_deg, lat_deg : float
        Survey centre. [deg]
    max_distance_km : float, default 50
        Distance beyond which to warn (issue 3: "a warning beyond 50 km"). [km]

    Returns
    -------
    str or None
        One line naming the source, the distance and what to do; None when close enough.
    """
    d_km = distance_km(weather, lon_deg, lat_deg)
    if d_km <= max_distance_km:
        return None
    return (
        f"weather {weather.source} is {d_km:.0f} km from the survey centre "
        f"({lat_deg:.4f} N, {lon_deg:.4f} E), more than {max_distance_km:.0f} km; "
        "use a weather file for the survey area"
    )


# --------------------------------------------------------------------------- detection

_FORMAT_NAMES = {
    "epw": "an EPW file",
    "tmy3": "a TMY3 file",
    "pvgis_tmy_json": "a PVGIS TMY JSON file",
    "pvgis_tmy_csv": "a PVGIS TMY CSV file",
    "pvgis_hourly_json": "a PVGIS hourly (seriescalc) JSON file",
    "pvgis_hourly_csv": "a PVGIS hourly (seriescalc) CSV file",
    "pv_survey_csv": "a pv-survey weather CSV",
}


def _decode(raw: bytes) -> str:
    """Bytes -> text: UTF-8 (with or without BOM), else Latin-1 (EPW comments may be anything)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _detect_format(p: Path, raw: bytes) -> str:
    head = _decode(raw[:4096])
    stripped = head.lstrip()
    first = stripped.splitlines()[0] if stripped else ""
    if stripped.startswith("{"):
        try:
            src = json.loads(_decode(raw))
        except json.JSONDecodeError as exc:
            raise WeatherError(f"{p}: starts like a PVGIS JSON file but is not valid JSON ({exc.msg} at line "
                               f"{exc.lineno}); the file looks truncated: download or export it again") from exc
        outputs = src.get("outputs", {}) if isinstance(src, dict) else {}
        if isinstance(outputs, dict) and "tmy_hourly" in outputs:
            return "pvgis_tmy_json"
        if isinstance(outputs, dict) and "hourly" in outputs:
            return "pvgis_hourly_json"
    elif first.upper().startswith("LOCATION,"):
        return "epw"
    elif first.startswith("#") and "time,ghi_w_m2" in head:
        return "pv_survey_csv"
    elif first.startswith("Latitude (decimal degrees)"):
        if "time(UTC)" in head or "month,year" in head:
            return "pvgis_tmy_csv"
        return "pvgis_hourly_csv"
    else:
        lines = stripped.splitlines()
        if len(lines) > 1 and lines[1].startswith("Date (MM/DD/YYYY)"):
            return "tmy3"
    shown = repr(first[:60]) if first[:60].isprintable() else "binary data, not text"
    raise WeatherError(
        f"{p}: unknown weather format (first line {shown}); "
        "pass an EPW, TMY3, PVGIS TMY (CSV/JSON) or PVGIS hourly (CSV/JSON) file"
    )


# --------------------------------------------------------------------------- readers
# Each reader returns a dict: frame (columns WEATHER_COLUMNS or poa_global, index = instants at
# mid-interval, tz-aware), typical (bool), latitude_deg, longitude_deg, altitude_m, source, notes,
# and for tilted PVGIS series surface_tilt_deg / surface_azimuth_deg.


def _read_epw(p: Path, raw: bytes, fmt: str) -> dict[str, Any]:
    from pvlib.iotools import read_epw

    data, meta = read_epw(io.StringIO(_decode(raw)))
    tz_h = float(meta["TZ"])
    # EPW hour h (1..24) is the hour ending at h, local standard time: mid-interval = h - 0:30
    keep, idx, leap_note = _typical_stamps(
        data["month"].to_numpy(), data["day"].to_numpy(), data["hour"].to_numpy() - 0.5, _fixed_tz(tz_h))
    data = data[keep]
    years = sorted(set(int(y) for y in data["year"]))
    frame = pd.DataFrame({c: data[c].to_numpy(dtype=float) for c in WEATHER_COLUMNS}, index=idx)
    name = ", ".join(str(meta.get(k, "")).strip() for k in ("city", "data_type", "WMO_code") if meta.get(k))
    return {
        "frame": frame, "typical": True,
        "latitude_deg": float(meta["latitude"]), "longitude_deg": float(meta["longitude"]),
        "altitude_m": float(meta["altitude"]),
        "source": f"EPW {p.name} ({name})" if name else f"EPW {p.name}",
        "notes": [
            f"EPW: hour-ending local standard time (UTC{tz_h:+g}) placed at mid-interval (h - 0:30)",
            f"typical year: rows from source years {_years_text(years)} placed on {TYPICAL_YEAR}",
        ] + leap_note,
    }


def _read_tmy3(p: Path, raw: bytes, fmt: str) -> dict[str, Any]:
    from pvlib.iotools import read_tmy3

    data, meta = read_tmy3(io.StringIO(_decode(raw)), map_variables=True)
    # each row covers the hour ENDING at 'Time (HH:MM)' local standard time (01:00..24:00) of its own
    # 'Date (MM/DD/YYYY)': mid-interval = HH:MM - 0:30 on that date (taken from the raw columns, since
    # pvlib's index moves 24:00 to the next day and a leap year's 28 Feb 24:00 to 1 March)
    date = pd.to_datetime(data["Date (MM/DD/YYYY)"], format="%m/%d/%Y")
    hhmm = data["Time (HH:MM)"].astype(str).str.split(":", expand=True).astype(float)
    keep, idx, leap_note = _typical_stamps(date.dt.month.to_numpy(), date.dt.day.to_numpy(),
                                           (hhmm[0] + hhmm[1] / 60.0 - 0.5).to_numpy(),
                                           _fixed_tz(float(meta["TZ"])))
    data = data[keep]
    frame = pd.DataFrame({c: data[c].to_numpy(dtype=float) for c in WEATHER_COLUMNS}, index=idx)
    return {
        "frame": frame, "typical": True,
        "latitude_deg": float(meta["latitude"]), "longitude_deg": float(meta["longitude"]),
        "altitude_m": float(meta["altitude"]),
        "source": f"TMY3 {p.name} ({str(meta.get('Name', '')).strip().strip(chr(34))}, USAF {meta.get('USAF', '')})",
        "notes": [f"TMY3: hour-ending local standard time (UTC{float(meta['TZ']):+g}) placed at mid-interval, "
                  f"typical year placed on {TYPICAL_YEAR}"] + leap_note,
    }


def _pvgis_mid_interval(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """PVGIS UTC stamps (hh:00, hh:10, hh:30 ...) name the hour starting hh:00 -> hh:30 UTC."""
    return index.floor("h") + pd.Timedelta(minutes=30)


def _read_pvgis_tmy(p: Path, raw: bytes, fmt: str) -> dict[str, Any]:
    from pvlib.iotools import read_pvgis_tmy

    if fmt == "pvgis_tmy_json":
        data, meta = read_pvgis_tmy(io.StringIO(_decode(raw)), pvgis_format="json", map_variables=True)
    else:
        data, meta = read_pvgis_tmy(io.BytesIO(raw), pvgis_format="csv", map_variables=True)
    loc = meta["inputs"].get("location", meta["inputs"])
    stamps = sorted(set(data.index.strftime("%M")))
    wall = _pvgis_mid_interval(data.index)
    keep, idx, leap_note = _typical_stamps(wall.month.to_numpy(), wall.day.to_numpy(),
                                           wall.hour.to_numpy() + wall.minute.to_numpy() / 60.0, _fixed_tz(0.0))
    data = data[keep]
    frame = pd.DataFrame({c: data[c].to_numpy(dtype=float) for c in WEATHER_COLUMNS}, index=idx)
    months = meta.get("months_selected", [])
    years = sorted({int(m["year"]) for m in months}) if months else []
    db = ""
    if isinstance(meta["inputs"].get("meteo_data"), dict):
        db = meta["inputs"]["meteo_data"].get("radiation_db", "")
    return {
        "frame": frame, "typical": True,
        "latitude_deg": float(loc["latitude"]), "longitude_deg": float(loc["longitude"]),
        "altitude_m": float(loc["elevation"]),
        "source": f"PVGIS TMY {p.name}" + (f" ({db})" if db else ""),
        "notes": [
            f"PVGIS TMY: UTC timestamps at hh:{'/'.join(stamps)} taken as the hour starting hh:00, "
            "placed at hh:30 and converted to UTC+8",
            f"typical year: months from source years {_years_text(years)} placed on {TYPICAL_YEAR}"
            if years else f"typical year placed on {TYPICAL_YEAR}",
        ] + leap_note,
    }


def _pvgis_mounting(meta: dict, fmt: str) -> tuple[float, float]:
    """(tilt_deg, azimuth_deg clockwise from north) of a PVGIS hourly series."""
    inputs = meta.get("inputs", {})
    if fmt == "pvgis_hourly_json":
        mounting = inputs.get("mounting_system", {})
        if "fixed" not in mounting:
            raise WeatherError(
                f"PVGIS series for a {', '.join(mounting) or 'unknown'} mounting; irradiance on a "
                "tracking plane cannot be turned back into GHI/DNI/DHI here: request a fixed plane "
                "(ideally angle=0, components=1)"
            )
        slope = float(mounting["fixed"]["slope"]["value"])
        aspect = float(mounting["fixed"]["azimuth"]["value"])
    else:
        def _num(key: str, default: float) -> float:
            for k, v in inputs.items():
                if k.strip().lower().startswith(key):
                    return float(str(v).split()[0])
            return default
        slope = _num("slope", 0.0)
        aspect = _num("azimuth", 0.0)
    # PVGIS aspect: 0 = south, 90 = west, -90 = east (PVGIS API "aspect"); pvlib: clockwise from north
    return slope, (aspect + 180.0) % 360.0


def _read_pvgis_hourly(p: Path, raw: bytes, fmt: str) -> dict[str, Any]:
    from pvlib.iotools import read_pvgis_hourly

    if fmt == "pvgis_hourly_json":
        data, meta = read_pvgis_hourly(io.StringIO(_decode(raw)), pvgis_format="json", map_variables=True)
        loc = meta["inputs"]["location"]
        lat, lon, alt = float(loc["latitude"]), float(loc["longitude"]), float(loc["elevation"])
        db = meta["inputs"].get("meteo_data", {}).get("radiation_db", "")
    else:
        data, meta = read_pvgis_hourly(io.StringIO(_decode(raw)), pvgis_format="csv", map_variables=True)
        lat = float(meta["inputs"]["latitude"])
        lon = float(meta["inputs"]["longitude"])
        alt = float(meta["inputs"]["elevation"])
        db = str(meta["inputs"].get("radiation_database", ""))
    tilt_deg, azimuth_deg = _pvgis_mounting(meta, fmt)
    stamps = sorted(set(data.index.strftime("%M")))
    idx = _pvgis_mid_interval(data.index)
    comps = ("poa_direct", "poa_sky_diffuse", "poa_ground_diffuse")
    if all(c in data for c in comps):
        poa = sum(data[c].to_numpy(dtype=float) for c in comps)
    elif "poa_global" in data:
        poa = data["poa_global"].to_numpy(dtype=float)
    else:
        raise WeatherError(
            f"{p}: PVGIS series has no irradiance column (G(i) or Gb(i)/Gd(i)/Gr(i)); "
            "request it again with pvcalculation or components"
        )
    frame = pd.DataFrame({"poa_global": poa, "temp_air": data["temp_air"].to_numpy(dtype=float),
                          "wind_speed": data["wind_speed"].to_numpy(dtype=float)}, index=idx)
    if tilt_deg == 0.0 and all(c in data for c in comps[:2]):
        frame["poa_direct"] = data["poa_direct"].to_numpy(dtype=float)
        frame["poa_sky_diffuse"] = data["poa_sky_diffuse"].to_numpy(dtype=float)
    return {
        "frame": frame, "typical": False, "pvgis_plane": (tilt_deg, azimuth_deg),
        "latitude_deg": lat, "longitude_deg": lon, "altitude_m": alt,
        "source": f"PVGIS hourly {p.name}" + (f" ({db})" if db else ""),
        "notes": [
            f"PVGIS hourly: UTC timestamps at hh:{'/'.join(stamps)} taken as the hour starting hh:00, "
            "placed at hh:30 and converted to UTC+8",
        ],
    }


def _read_pv_survey_csv(p: Path, raw: bytes, fmt: str) -> dict[str, Any]:
    text = _decode(raw)
    meta: dict[str, str] = {}
    body_start = 0
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                meta[key.strip()] = value.strip()
            continue
        body_start = i
        break
    missing = [k for k in ("latitude_deg", "longitude_deg", "altitude_m") if k not in meta]
    if missing:
        raise WeatherError(f"{p}: header line '# {missing[0]}: ...' missing; add it above the column header")
    df = pd.read_csv(io.StringIO("".join(lines[body_start:])))
    absent = [c for c in ["time", *PV_SURVEY_CSV_COLUMNS] if c not in df.columns]
    if absent:
        raise WeatherError(
            f"{p}: column '{absent[0]}' missing; the header must be "
            "time,ghi_w_m2,dni_w_m2,dhi_w_m2,temp_air_c,wind_speed_m_s"
        )
    times = pd.to_datetime(df["time"], utc=True)
    convention = meta.get("time_convention", "").lower()
    if "mid" in convention:
        shift, how = pd.Timedelta(0), "stamps at mid-interval, used as they are"
    elif "ending" in convention or "end of" in convention:
        shift, how = pd.Timedelta(minutes=-30), "hour-ending stamps moved 30 min back to mid-interval"
    elif "beginning" in convention or "start" in convention:
        shift, how = pd.Timedelta(minutes=30), "hour-beginning stamps moved 30 min on to mid-interval"
    elif (times.dt.minute == 30).all():
        shift, how = pd.Timedelta(0), "stamps at hh:30 taken as mid-interval"
    else:
        raise WeatherError(
            f"{p}: time_convention {meta.get('time_convention', '')!r} not understood and stamps are not "
            "at hh:30; write '# time_convention: middle of each hour' or stamps at mid-interval"
        )
    frame = pd.DataFrame({v: pd.to_numeric(df[k], errors="coerce").to_numpy(dtype=float)
                          for k, v in PV_SURVEY_CSV_COLUMNS.items()},
                         index=pd.DatetimeIndex(times) + shift)
    return {
        "frame": frame, "typical": False,
        "latitude_deg": float(meta["latitude_deg"]), "longitude_deg": float(meta["longitude_deg"]),
        "altitude_m": float(meta["altitude_m"]),
        "source": meta.get("source", "") or f"pv-survey CSV {p.name}",
        "notes": [f"pv-survey CSV {p.name}: {how}"],
    }


# --------------------------------------------------------------------------- normalisation


def _fixed_tz(hours: float):
    import datetime as _dt

    return _dt.timezone(_dt.timedelta(hours=hours))


def _typical_stamps(month: np.ndarray, day: np.ndarray, hour_of_day: np.ndarray,
                    tz: Any) -> tuple[np.ndarray, pd.DatetimeIndex, list[str]]:
    """Re-stamp typical-year rows on :data:`TYPICAL_YEAR` in the file's own time zone.

    Returns the mask of rows kept (29 February dropped), their stamps and a note.
    """
    month = np.asarray(month, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    leap = (month == 2) & (day == 29)
    keep = ~leap
    dates = pd.to_datetime(pd.DataFrame({"year": TYPICAL_YEAR, "month": month[keep], "day": day[keep]}))
    wall = pd.DatetimeIndex(dates) + pd.to_timedelta(np.asarray(hour_of_day, dtype=float)[keep] * 3600.0, unit="s")
    note = [f"leap day: {int(leap.sum())} rows of 29 February dropped (every year has 8760 hours)"] if leap.any() else []
    return keep, wall.tz_localize(tz), note


def _years_text(years: list[int]) -> str:
    if not years:
        return "unknown"
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])


def _year_grid(year: int) -> pd.DatetimeIndex:
    """Mid-interval hourly stamps of one year in Asia/Shanghai, 29 February left out."""
    idx = pd.date_range(f"{year}-01-01 00:30", f"{year}-12-31 23:30", freq="h", tz=TIMEZONE)
    return idx[~((idx.month == 2) & (idx.day == 29))]


def _wall_offset_h(local: pd.DatetimeIndex) -> np.ndarray:
    """Hours from 1 January 00:00 of a non-leap year to each stamp's month/day/time."""
    doy0 = pd.DatetimeIndex(
        pd.to_datetime(pd.DataFrame({"year": TYPICAL_YEAR, "month": local.month, "day": local.day}))
    ).day_of_year.to_numpy() - 1
    return doy0 * 24.0 + local.hour.to_numpy() + local.minute.to_numpy() / 60.0


def _place_on_grid(parsed: dict[str, Any], p: Path) -> tuple[pd.DataFrame, list[str]]:
    """Convert to UTC+8, drop 29 February, put rows on a full hourly grid (missing rows = NaN)."""
    notes: list[str] = []
    frame: pd.DataFrame = parsed["frame"]
    local = frame.index.tz_convert(TIMEZONE)
    frame = frame.set_axis(local)
    leap = (local.month == 2) & (local.day == 29) & (not parsed["typical"])
    if leap.any():
        notes.append(f"leap day: {int(leap.sum())} rows of 29 February dropped (every year has 8760 hours)")
        frame = frame[~leap]
        local = frame.index
    if parsed["typical"]:
        year = TYPICAL_YEAR
        # place by month/day/time of day: a conversion that pushed rows past 31 Dec wraps to 1 Jan
        slot = np.floor(_wall_offset_h(local)).astype(np.int64)
    else:
        counts = pd.Series(local.year).value_counts()
        full = sorted(int(y) for y, n in counts.items() if n >= MIN_VALID_HOURS)
        if full:
            year = full[-1]
        else:
            year = int(counts.idxmax())
        main_years = sorted(int(y) for y, n in counts.items() if n > 24)  # not just a time-zone spill
        if len(main_years) > 1:
            notes.append(f"series covers {main_years[0]}-{main_years[-1]}: year {year} used")
        year_start = pd.Timestamp(f"{year}-01-01 00:00", tz=TIMEZONE)
        rel_h = ((local - year_start) / pd.Timedelta(hours=1)).to_numpy()
        # leap-day removal shifts later hours of a leap year by one day
        if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            rel_h = np.where(local >= pd.Timestamp(f"{year}-03-01", tz=TIMEZONE), rel_h - 24.0, rel_h)
        slot = np.floor(rel_h).astype(np.int64)
        # a one-year UTC series spills its last hours into next year's 1 January (UTC -> UTC+8):
        # wrap them onto this year's 1 January (and a spill before 1 January onto 31 December),
        # but only into hours the year does not have from its own rows
        own = slot[(slot >= 0) & (slot < 8760)]
        spill_after = (slot >= 8760) & (slot < 8760 + 24) & ~np.isin(slot - 8760, own)
        spill_before = (slot < 0) & (slot >= -24) & ~np.isin(slot + 8760, own)
        n_wrap = int(spill_after.sum() + spill_before.sum())
        slot = np.where(spill_after, slot - 8760, np.where(spill_before, slot + 8760, slot))
        if n_wrap:
            notes.append(
                f"{n_wrap} hours that the UTC->UTC+8 conversion moved across the year boundary "
                f"wrapped into {year}"
            )
    inside = (slot >= 0) & (slot < 8760)
    frame = frame[inside]
    slot = slot[inside]
    dup = pd.Index(slot).duplicated(keep="first")
    if dup.any():
        wrapped_dups = int(dup.sum())
        notes.append(f"duplicates: {wrapped_dups} rows for an hour already present dropped")
        frame = frame[~dup]
        slot = slot[~dup]
    grid = _year_grid(year)
    out = pd.DataFrame(np.nan, index=grid, columns=frame.columns)
    out.iloc[slot] = frame.to_numpy()
    n_missing = int(8760 - len(slot))
    if n_missing:
        notes.append(f"gaps: {n_missing} of 8760 hours missing from the file")
    return out, notes


def _extraterrestrial(index: pd.DatetimeIndex, lat: float, lon: float, alt: float) -> tuple[np.ndarray, np.ndarray]:
    """(extraterrestrial DNI, hour-mean extraterrestrial horizontal irradiance) [W/m2].

    The horizontal value averages max(cos(apparent zenith), 0) over twelve 5-minute
    steps of each hour, so sunrise and sunset hours get their partial share.
    """
    from pvlib import atmosphere, irradiance, solarposition

    dni_extra = np.asarray(irradiance.get_extra_radiation(index), dtype=float)
    steps = (np.arange(12) + 0.5) / 12.0 - 0.5  # fractions of an hour around mid-interval
    base_ns = index.tz_convert("UTC").as_unit("ns").asi8
    sub_ns = (base_ns[:, None] + np.round(steps * 3600e9).astype(np.int64)[None, :]).ravel()
    sub = pd.DatetimeIndex(sub_ns.astype("datetime64[ns]")).tz_localize("UTC")
    sp = solarposition.get_solarposition(sub, lat, lon, altitude=alt,
                                         pressure=atmosphere.alt2pres(alt), method="nrel_numpy")
    cosz = np.maximum(np.cos(np.radians(sp["apparent_zenith"].to_numpy())), 0.0).reshape(len(index), 12)
    return dni_extra, dni_extra * cosz.mean(axis=1)


def _recover_from_poa(frame: pd.DataFrame, parsed: dict[str, Any], p: Path) -> tuple[pd.DataFrame, list[str]]:
    """PVGIS plane-of-array irradiance -> GHI/DNI/DHI (see module docstring)."""
    from pvlib import atmosphere, irradiance, solarposition

    tilt_deg, azimuth_deg = parsed["pvgis_plane"]
    lat, lon, alt = parsed["latitude_deg"], parsed["longitude_deg"], parsed["altitude_m"]
    pressure = atmosphere.alt2pres(alt)
    sp = solarposition.get_solarposition(frame.index, lat, lon, altitude=alt, pressure=pressure,
                                         method="nrel_numpy")
    zen = sp["apparent_zenith"]
    poa = frame["poa_global"].clip(lower=0)
    notes = []
    cosz = np.cos(np.radians(zen))
    if tilt_deg == 0.0:
        ghi = poa
        if "poa_direct" in frame:
            beam_h = frame["poa_direct"].clip(lower=0)
            # DNI = beam on horizontal / cos(zenith) while the sun is above 3 deg (dirint's 87 deg limit)
            ok = zen < 87.0
            dni = (beam_h / cosz).where(ok, 0.0)
            dhi = (ghi - dni * cosz).clip(lower=0)
            notes.append("PVGIS horizontal series: GHI = G(i); DNI = Gb(i) / cos(zenith); DHI = GHI - DNI cos(zenith)")
        else:
            dni = irradiance.dirint(ghi, zen, frame.index, pressure=pressure).fillna(0.0)
            dhi = (ghi - dni * cosz).clip(lower=0)
            notes.append("PVGIS horizontal series: GHI = G(i); DNI from pvlib.irradiance.dirint; DHI = GHI - DNI cos(zenith)")
    else:
        aoi = irradiance.aoi(tilt_deg, azimuth_deg, zen, sp["azimuth"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            out = irradiance.gti_dirint(poa, aoi, zen, sp["azimuth"], frame.index, tilt_deg, azimuth_deg,
                                        pressure=pressure)
        n_noconv = 0
        for wmsg in caught:
            m = re.match(r"\s*(\d+) points failed to converge", str(wmsg.message))
            if m:
                n_noconv = int(m.group(1))
        n_bad = int(out[["ghi", "dni", "dhi"]].isna().any(axis=1)[poa > 0].sum())
        ghi, dni, dhi = out["ghi"], out["dni"], out["dhi"]
        # night: no irradiance
        night = poa <= 0
        ghi, dni, dhi = ghi.where(~night, 0.0), dni.where(~night, 0.0), dhi.where(~night, 0.0)
        notes.append(
            f"PVGIS series on a plane tilted {tilt_deg:g} deg, azimuth {azimuth_deg:g} deg: GHI/DNI/DHI "
            "recovered from G(i) with pvlib.irradiance.gti_dirint (Marion 2015)"
            + (f"; {n_bad} daylight hours without a solution treated as gaps" if n_bad else "")
            + (f"; pvlib reported {n_noconv} hours (night included) not converged, best estimate kept"
               if n_noconv else "")
        )
    new = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi,
                        "temp_air": frame["temp_air"], "wind_speed": frame["wind_speed"]}, index=frame.index)
    return new, notes


def _check_and_repair(frame: pd.DataFrame, lat: float, lon: float, alt: float, p: Path) -> tuple[pd.DataFrame, list[str]]:
    """Flag impossible values, count them, fill them; raise when too few valid hours remain."""
    notes: list[str] = []
    df = frame[list(WEATHER_COLUMNS)].astype(float).copy()
    missing_rows = df.isna().all(axis=1)
    irr = ["ghi", "dni", "dhi"]
    # missing-value codes (EPW 9999) and anything above 1.5x the solar constant: a gap, filled below
    code = (df[irr] > IRRADIANCE_CODE_LIMIT_W_M2).any(axis=1).to_numpy()
    df.loc[code, irr] = np.nan
    neg = int((df[irr] < 0).sum().sum())
    df[irr] = df[irr].clip(lower=0)
    dni_extra, e0h = _extraterrestrial(df.index, lat, lon, alt)
    limit_h = GHI_MAX_EXTRATERRESTRIAL_RATIO * e0h + GHI_TWILIGHT_ALLOWANCE_W_M2
    over_ghi = (df["ghi"] > limit_h).to_numpy()
    over_dhi = (df["dhi"] > limit_h).to_numpy()
    over_dni = (df["dni"] > dni_extra).to_numpy()
    sun_down_dni = ((e0h <= 0) & (df["dni"] > 0)).to_numpy()
    df["ghi"] = np.minimum(df["ghi"], limit_h)
    df["dhi"] = np.minimum(df["dhi"], limit_h)
    df["dni"] = np.where(e0h <= 0, 0.0, np.minimum(df["dni"], dni_extra))
    t = df["temp_air"].to_numpy()
    bad_t = (t < TEMP_AIR_RANGE_C[0]) | (t > TEMP_AIR_RANGE_C[1])
    w = df["wind_speed"].to_numpy()
    bad_w = (w < WIND_SPEED_RANGE_M_S[0]) | (w > WIND_SPEED_RANGE_M_S[1])
    df.loc[bad_t, "temp_air"] = np.nan
    df.loc[bad_w, "wind_speed"] = np.nan
    clipped = []
    for n, what in (
        (neg, "negative irradiance values set to 0"),
        (over_ghi.sum(), "hours with GHI above 1.5x the hour's extraterrestrial horizontal irradiance "
                         f"(+{GHI_TWILIGHT_ALLOWANCE_W_M2:g} W/m2) clipped to it"),
        (over_dhi.sum(), "hours with DHI above that limit clipped to it"),
        (over_dni.sum(), "hours with DNI above extraterrestrial DNI clipped to it"),
        (sun_down_dni.sum(), "hours with DNI while the sun is below the horizon set to 0"),
    ):
        if n:
            clipped.append(f"{int(n)} {what}")
    if clipped:
        notes.append("repaired: " + "; ".join(clipped))
    gaps = []
    for n, what in (
        (code.sum() - (code & missing_rows.to_numpy()).sum(),
         f"irradiance above {IRRADIANCE_CODE_LIMIT_W_M2:.0f} W/m2 (a missing-value code)"),
        (bad_t.sum() - (bad_t & missing_rows.to_numpy()).sum(),
         f"air temperature outside {TEMP_AIR_RANGE_C[0]:g}..{TEMP_AIR_RANGE_C[1]:g} C"),
        (bad_w.sum() - (bad_w & missing_rows.to_numpy()).sum(),
         f"wind speed outside {WIND_SPEED_RANGE_M_S[0]:g}..{WIND_SPEED_RANGE_M_S[1]:g} m/s"),
    ):
        if n:
            gaps.append(f"{int(n)} hours with {what}")
    if gaps:
        notes.append("impossible values treated as gaps: " + "; ".join(gaps))
    invalid = df.isna().any(axis=1)
    n_valid = int((~invalid).sum())
    if n_valid < MIN_VALID_HOURS:
        raise WeatherError(
            f"{p}: only {n_valid} of 8760 hours valid ({int(missing_rows.sum())} missing, "
            f"{int(invalid.sum() - missing_rows.sum())} impossible), fewer than {MIN_VALID_HOURS}; "
            "use a complete hourly year"
        )
    n_invalid = int(invalid.sum())
    if n_invalid:
        before = df.isna()
        interp = df.interpolate(method="linear", limit=MAX_INTERPOLATED_GAP_H, limit_area="inside")
        # interpolate only gaps no longer than MAX_INTERPOLATED_GAP_H (pandas' limit fills the first
        # hours of longer gaps too, so mask those back)
        run_len = _nan_run_lengths(before)
        interp = interp.where(~(before & (run_len > MAX_INTERPOLATED_GAP_H)))
        n_interp = int((before.any(axis=1) & ~interp.isna().any(axis=1)).sum())
        still = interp.isna()
        month_hour = [interp.index.month, interp.index.hour]
        means = interp.groupby(month_hour).transform("mean")
        hour_means = interp.groupby(interp.index.hour).transform("mean")
        filled = interp.fillna(means).fillna(hour_means)
        filled[irr] = filled[irr].fillna(0.0)
        n_mean = int(still.any(axis=1).sum())
        df = filled
        notes.append(
            f"repaired: {n_invalid} hours with gaps or impossible values filled "
            f"({n_interp} by linear interpolation over gaps up to {MAX_INTERPOLATED_GAP_H} h, "
            f"{n_mean} from the mean of the same month and hour)"
        )
    return df, notes


def _nan_run_lengths(isna: pd.DataFrame) -> pd.DataFrame:
    """For each NaN cell, the length of the run of consecutive NaN it belongs to (0 elsewhere)."""
    out = {}
    for col in isna.columns:
        m = isna[col].to_numpy()
        lengths = np.zeros(len(m), dtype=np.int64)
        if m.any():
            edges = np.diff(np.concatenate(([0], m.astype(np.int8), [0])))
            starts = np.flatnonzero(edges == 1)
            ends = np.flatnonzero(edges == -1)
            for s, e in zip(starts, ends):
                lengths[s:e] = e - s
        out[col] = lengths
    return pd.DataFrame(out, index=isna.index)


def _finish(parsed: dict[str, Any], p: Path, alignment: str | float = "convention") -> Weather:
    frame, notes_grid = _place_on_grid(parsed, p)
    notes = list(parsed["notes"]) + notes_grid
    if "pvgis_plane" in parsed:
        # recover on the hours present; missing hours stay NaN and are counted as gaps below
        present = ~frame.isna().all(axis=1)
        rec, rec_notes = _recover_from_poa(frame[present], parsed, p)
        frame = rec.reindex(frame.index)
        notes += rec_notes
    lat, lon, alt = parsed["latitude_deg"], parsed["longitude_deg"], parsed["altitude_m"]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise WeatherError(f"{p}: location ({lat}, {lon}) is not a latitude/longitude; fix the file's header")
    frame, shift, align_notes = _align(frame, alignment, lon)
    data, rep_notes = _check_and_repair(frame, lat, lon, alt, p)
    data.index.name = "time"
    return Weather(data=data, latitude_deg=float(lat), longitude_deg=float(lon), altitude_m=float(alt),
                   source=parsed["source"], notes=notes + align_notes + rep_notes, time_offset_min=shift)
