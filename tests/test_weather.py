"""Weather files -> the internal form: formats, time conventions, leap days, repairs, location.

Fixtures are hand-built files in tmp_path following each format's published layout
(EnergyPlus EPW, NREL TMY3, PVGIS TMY / seriescalc CSV and JSON, the project's own
CSV), with marker values at known hours; the expected stamps follow from each
format's documented time convention, not from the code under test.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pv_survey import weather as W
from pv_survey.errors import WeatherError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EPW_GZ = SHARED / "CHN_GD_Guangzhou.592870_TMYx.2009-2023.epw"
PVGIS_GZ = SHARED / "CHN_Guangzhou_PVGIS_seriescalc_2019_raw.json"
TZ = "Asia/Shanghai"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


# --------------------------------------------------------------------------- builders


def write_epw(path: Path, *, tz_h: float = 8.0, lat: float = 23.13, lon: float = 113.36, year: int = 2021,
              edits: dict | None = None) -> Path:
    """An EPW (8 header lines, 35 fields a row, hour 1..24 = hour ending) of a quiet year.

    Default values: no irradiance, 25 C, 2 m/s. ``edits`` maps (month, day, hour) to
    {"ghi"|"dni"|"dhi"|"temp"|"wind": value}.
    """
    edits = edits or {}
    lines = [
        f"LOCATION,Testville,GD,CHN,TEST,000000,{lat},{lon},{tz_h},10.0",
        "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,hand-made test file", "COMMENTS 2,",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    for day in pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D"):
        for hour in range(1, 25):
            v = {"ghi": 0, "dni": 0, "dhi": 0, "temp": 25.0, "wind": 2.0}
            v.update(edits.get((day.month, day.day, hour), {}))
            fields = [year, day.month, day.day, hour, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9*9?9*9*9?9*9",
                      v["temp"], 20.0, 80, 101000, 0, 0, 400, v["ghi"], v["dni"], v["dhi"], 0, 0, 0, 0,
                      180, v["wind"], 5, 5, 20.0, 77777, 9, 999999999, 20, 0.1, 0, 88, 0.2, 0.0, 1.0]
            assert len(fields) == 35  # EPW data rows have 35 fields (EnergyPlus Auxiliary Programs)
            lines.append(",".join(str(f) for f in fields))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _pvgis_tmy_rows(edits: dict) -> tuple[list[dict], list[dict]]:
    """PVGIS TMY records at hh:00 UTC, each month from another source year."""
    years = [2018, 2011, 2019, 2014, 2015, 2016, 2013, 2012, 2017, 2009, 2008, 2010]
    rows = []
    for m, y in enumerate(years, start=1):
        for t in pd.date_range(f"{y}-{m:02d}-01", periods=pd.Period(f"{y}-{m:02d}").days_in_month * 24, freq="h"):
            stamp = t.strftime("%Y%m%d:%H%M")
            r = {"time(UTC)": stamp, "T2m": 25.0, "RH": 80.0, "G(h)": 0.0, "Gb(n)": 0.0, "Gd(h)": 0.0,
                 "IR(h)": 400.0, "WS10m": 2.0, "WD10m": 180.0, "SP": 101000.0}
            r.update(edits.get(stamp, {}))
            rows.append(r)
    return rows, [{"month": m, "year": y} for m, y in enumerate(years, start=1)]


# marker hours: 2016-06-21 04:00 UTC is 12:00-13:00 UTC+8 (mid 12:30); 2010-12-31 20:00 UTC is
# 1 January 04:00-05:00 UTC+8 of the next year, which a typical year wraps to its own 1 January
_TMY_EDITS = {
    "20160621:0400": {"G(h)": 900.0, "Gb(n)": 800.0, "Gd(h)": 150.0},
    "20101231:2000": {"T2m": 3.21},
}


def write_pvgis_tmy_csv(path: Path) -> Path:
    rows, months = _pvgis_tmy_rows(_TMY_EDITS)
    cols = ["time(UTC)", "T2m", "RH", "G(h)", "Gb(n)", "Gd(h)", "IR(h)", "WS10m", "WD10m", "SP"]
    lines = ["Latitude (decimal degrees): 23.130", "Longitude (decimal degrees): 113.360", "Elevation (m): 15.0",
             "Irradiance Time Offset (h): 0.1761", "month,year"]
    lines += [f"{m['month']},{m['year']}" for m in months]
    lines.append(",".join(cols))
    lines += [",".join(str(r[c]) for c in cols) for r in rows]
    lines += ["T2m: 2-m air temperature (degree Celsius)", "G(h): Global irradiance on the horizontal plane (W/m2)"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def write_pvgis_tmy_json(path: Path) -> Path:
    rows, months = _pvgis_tmy_rows(_TMY_EDITS)
    inputs = {"location": {"latitude": 23.13, "longitude": 113.36, "elevation": 15.0},
              "meteo_data": {"radiation_db": "PVGIS-SARAH3", "meteo_db": "ERA5"}}
    src = {"inputs": inputs, "outputs": {"months_selected": months, "tmy_hourly": rows},
           "meta": {"inputs": {"location": {"description": "Selected location"}}}}
    path.write_text(json.dumps(src), encoding="utf-8")
    return path


def write_pvgis_hourly_csv(path: Path, *, edits: dict) -> Path:
    """A PVGIS seriescalc CSV of a horizontal plane with components, SARAH stamps at hh:10 UTC."""
    lines = ["Latitude (decimal degrees):\t23.130", "Longitude (decimal degrees):\t113.360",
             "Elevation (m):\t15", "Radiation database:\tPVGIS-SARAH2", "", "Slope: 0 deg. ",
             "Azimuth: 0 deg. ", "time,Gb(i),Gd(i),Gr(i),H_sun,T2m,WS10m,Int"]
    for t in pd.date_range("2019-01-01 00:10", "2019-12-31 23:10", freq="h"):
        stamp = t.strftime("%Y%m%d:%H%M")
        v = {"Gb(i)": 0.0, "Gd(i)": 0.0, "Gr(i)": 0.0, "T2m": 25.0}
        v.update(edits.get(stamp, {}))
        lines.append(f"{stamp},{v['Gb(i)']},{v['Gd(i)']},{v['Gr(i)']},0.0,{v['T2m']},2.0,0.0")
    lines += ["", "Gb(i): Direct irradiance on the inclined plane (plane of the array) (W/m2)", ""]
    path.write_text("\r\n".join(lines), encoding="utf-8")
    return path


def write_pv_survey_csv(path: Path, *, convention: str, stamp_offset_min: int, edits: dict) -> Path:
    """The project's weather CSV (format of data/guangzhou_default_year.csv)."""
    lines = ["# latitude_deg: 23.13", "# longitude_deg: 113.36", "# altitude_m: 15.0",
             "# source: hand-made test year", f"# time_convention: {convention}",
             "time,ghi_w_m2,dni_w_m2,dhi_w_m2,temp_air_c,wind_speed_m_s"]
    for t in pd.date_range("2023-01-01 00:00", periods=8760, freq="h", tz=TZ):
        stamp = (t + pd.Timedelta(minutes=stamp_offset_min)).isoformat()
        v = {"ghi": 0.0, "dni": 0.0, "dhi": 0.0, "temp": 25.0}
        v.update(edits.get(stamp, {}))
        lines.append(f"{stamp},{v['ghi']},{v['dni']},{v['dhi']},{v['temp']},2.0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- EPW


def test_epw_hour_ending_goes_to_mid_interval(tmp_path):
    # EPW hour 13 of 21 June covers 12:00-13:00 local standard time (EnergyPlus Auxiliary
    # Programs, "data are for the preceding hour"): its middle is 12:30 UTC+8
    p = write_epw(tmp_path / "a.epw", edits={(6, 21, 13): {"ghi": 800, "dni": 700, "dhi": 150}})
    w = W.read_weather(p)
    d = w.data
    assert list(d.columns) == list(W.WEATHER_COLUMNS)
    assert len(d) == 8760 and str(d.index.tz) == TZ
    assert (d.index.minute == 30).all()
    assert d.index[0] == _ts("2023-01-01 00:30") and d.index[-1] == _ts("2023-12-31 23:30")
    row = d.loc[_ts("2023-06-21 12:30")]
    assert (row["ghi"], row["dni"], row["dhi"]) == (800, 700, 150)
    assert d["ghi"].sum() == 800  # nothing else moved
    assert (w.latitude_deg, w.longitude_deg, w.altitude_m) == (23.13, 113.36, 10.0)
    assert any("hour-ending" in n for n in w.notes)


def test_epw_of_another_time_zone_is_converted(tmp_path):
    # a file in UTC+7: its 12:00-13:00 is 13:00-14:00 in UTC+8, middle 13:30
    p = write_epw(tmp_path / "b.epw", tz_h=7.0, lon=105.0,
                  edits={(6, 21, 13): {"ghi": 800, "dni": 700, "dhi": 150}, (12, 31, 24): {"temp": 12.5}})
    d = W.read_weather(p).data
    assert d.loc[_ts("2023-06-21 13:30"), "ghi"] == 800
    assert d["ghi"].sum() == 800
    # 31 Dec 23:00-24:00 UTC+7 is 1 Jan 00:00-01:00 UTC+8 of the next year: a typical year wraps it
    assert d.loc[_ts("2023-01-01 00:30"), "temp_air"] == 12.5


def test_epw_leap_day_dropped(tmp_path):
    p = write_epw(tmp_path / "leap.epw", year=2020,
                  edits={(2, 29, h): {"temp": 35.0} for h in range(1, 25)} | {(3, 1, 1): {"temp": 31.5}})
    w = W.read_weather(p)
    assert len(w.data) == 8760
    assert (w.data["temp_air"] != 35.0).all()
    assert w.data.loc[_ts("2023-03-01 00:30"), "temp_air"] == 31.5
    assert any("24 rows of 29 February dropped" in n for n in w.notes)


def test_epw_repairs_are_counted(tmp_path):
    edits = {
        (1, 1, 1): {"ghi": -3},                                    # negative -> 0
        (1, 1, 3): {"ghi": 50},                                    # 02:30, sun far below the horizon
        (7, 1, 12): {"ghi": 500, "dni": 400, "dhi": 150},
        (7, 1, 13): {"ghi": 9999, "dni": 9999, "dhi": 9999},       # EPW missing-value code
        (7, 1, 14): {"ghi": 700, "dni": 600, "dhi": 170},
        (7, 2, 4): {"temp": 24.0}, (7, 2, 5): {"temp": 99.9}, (7, 2, 6): {"temp": 28.0},
    }
    edits |= {(8, 10, h): {"temp": 99.9} for h in range(1, 11)}   # 10-hour gap
    w = W.read_weather(write_epw(tmp_path / "r.epw", edits=edits))
    d = w.data
    assert not d.isna().any().any()
    assert d.loc[_ts("2023-01-01 00:30"), "ghi"] == 0
    # at 02:30 the sun is down all hour: extraterrestrial horizontal irradiance 0, limit = allowance
    assert d.loc[_ts("2023-01-01 02:30"), "ghi"] == pytest.approx(W.GHI_TWILIGHT_ALLOWANCE_W_M2)
    # linear interpolation across the one missing hour: (500 + 700) / 2, (400 + 600) / 2, (150 + 170) / 2
    row = d.loc[_ts("2023-07-01 12:30")]
    assert (row["ghi"], row["dni"], row["dhi"]) == pytest.approx((600, 500, 160))
    assert d.loc[_ts("2023-07-02 04:30"), "temp_air"] == pytest.approx(26.0)  # (24 + 28) / 2
    # the 10-hour gap takes the mean of the same month and hour: every other August day is 25 C
    assert (d.loc[_ts("2023-08-10 00:30"):_ts("2023-08-10 09:30"), "temp_air"] == 25.0).all()
    text = " | ".join(w.notes)
    assert "1 negative irradiance values set to 0" in text
    assert "1 hours with GHI above 1.5x" in text
    assert "1 hours with irradiance above 2049 W/m2" in text
    assert "11 hours with air temperature outside -40..60 C" in text
    m = re.search(r"repaired: (\d+) hours with gaps or impossible values filled \((\d+) by linear "
                  r"interpolation over gaps up to 3 h, (\d+) from the mean", text)
    assert m and m.groups() == ("12", "2", "10")


def test_too_few_valid_hours_is_an_error(tmp_path):
    # 800 hours of missing temperature leave 7960 valid hours, fewer than 8000
    edits = {(1 + i // 744, 1 + (i % 744) // 24, 1 + i % 24): {"temp": 99.9} for i in range(800)}
    with pytest.raises(WeatherError) as exc:
        W.read_weather(write_epw(tmp_path / "bad.epw", edits=edits))
    msg = str(exc.value)
    assert "bad.epw" in msg and "7960 of 8760 hours valid" in msg and "\n" not in msg


def test_unknown_format_and_missing_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("hello,world\n1,2\n", encoding="utf-8")
    with pytest.raises(WeatherError, match=r"x\.csv: unknown weather format"):
        W.read_weather(p)
    with pytest.raises(WeatherError, match="not found"):
        W.read_weather(tmp_path / "nope.epw")


# --------------------------------------------------------------------------- TMY3, PVGIS, own CSV


def test_tmy3_real_file_from_pvlib(tmp_path):
    """NREL TMY3 Greensboro NC (UTC-5), shipped with pvlib: hour-ending local standard time."""
    import pvlib

    p = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"
    # 21 June 13:00 (hour ending, UTC-5) covers 12:00-13:00 UTC-5 = 01:00-02:00 UTC+8 on 22 June
    raw = pd.read_csv(p, skiprows=1)
    src = raw[(raw["Date (MM/DD/YYYY)"].str.startswith("06/21/")) & (raw["Time (HH:MM)"] == "13:00")].iloc[0]
    w = W.read_weather(p)
    assert len(w.data) == 8760 and (w.latitude_deg, w.longitude_deg) == (36.1, -79.95)
    row = w.data.loc[_ts("2023-06-22 01:30")]
    assert row["ghi"] == src["GHI (W/m^2)"] and row["temp_air"] == src["Dry-bulb (C)"]
    assert "GREENSBORO" in w.source


@pytest.mark.parametrize("writer", [write_pvgis_tmy_csv, write_pvgis_tmy_json])
def test_pvgis_tmy(tmp_path, writer):
    p = writer(tmp_path / ("tmy.csv" if writer is write_pvgis_tmy_csv else "tmy.json"))
    w = W.read_weather(p)
    d = w.data
    assert len(d) == 8760 and not d.isna().any().any()
    # 2016-06-21 04:00 UTC names the hour 04:00-05:00 UTC = 12:00-13:00 UTC+8
    row = d.loc[_ts("2023-06-21 12:30")]
    assert (row["ghi"], row["dni"], row["dhi"]) == (900, 800, 150)
    assert d["ghi"].sum() == 900
    assert d.loc[_ts("2023-01-01 04:30"), "temp_air"] == pytest.approx(3.21)  # wrapped from 31 Dec 20:00 UTC
    assert (w.latitude_deg, w.longitude_deg, w.altitude_m) == (23.13, 113.36, 15.0)


def test_pvgis_hourly_horizontal_components(tmp_path):
    import pvlib

    edits = {"20190621:0410": {"Gb(i)": 600.0, "Gd(i)": 150.0},   # hour 04:00-05:00 UTC -> 12:30 UTC+8
             "20191231:2010": {"T2m": 13.7}}                      # -> 2020-01-01 04:30 UTC+8, wrapped
    w = W.read_weather(write_pvgis_hourly_csv(tmp_path / "Timeseries_23.130_113.360_SA2_0deg_0deg_2019_2019.csv",
                                              edits=edits))
    d = w.data
    assert len(d) == 8760 and d.index[0] == _ts("2019-01-01 00:30")
    t = _ts("2019-06-21 12:30")
    zen = float(pvlib.solarposition.get_solarposition(pd.DatetimeIndex([t]), 23.13, 113.36, altitude=15)[
        "apparent_zenith"].iloc[0])
    # horizontal plane: GHI = Gb + Gd + Gr, DHI = Gd, DNI = Gb / cos(zenith)
    assert d.loc[t, "ghi"] == pytest.approx(750.0)
    assert d.loc[t, "dhi"] == pytest.approx(150.0)
    assert d.loc[t, "dni"] == pytest.approx(600.0 / math.cos(math.radians(zen)), rel=1e-4)
    assert d.loc[_ts("2019-01-01 04:30"), "temp_air"] == pytest.approx(13.7)
    assert any("wrapped" in n for n in w.notes)


def test_pvgis_hourly_two_years_global_only(tmp_path):
    """2019-2020 series with G(i) only: the latest full year (leap year 2020) is used, its own
    1 January 00:30 UTC+8 comes from 31 Dec 2019 16:10 UTC (not wrapped), 29 February is dropped."""
    lines = ["Latitude (decimal degrees):\t23.130", "Longitude (decimal degrees):\t113.360", "Elevation (m):\t15",
             "Radiation database:\tPVGIS-SARAH2", "", "Slope: 0 deg. ", "Azimuth: 0 deg. ",
             "time,G(i),H_sun,T2m,WS10m,Int"]
    marks = {"20191231:1610": 11.1, "20201231:1510": 22.2, "20200229:0410": 33.3}
    for t in pd.date_range("2019-01-01 00:10", "2020-12-31 23:10", freq="h"):
        stamp = t.strftime("%Y%m%d:%H%M")
        g = 400.0 if 2 <= t.hour <= 7 else 0.0  # 10:00-16:00 UTC+8
        lines.append(f"{stamp},{g},0.0,{marks.get(stamp, 25.0)},2.0,0.0")
    lines += ["", "G(i): Global irradiance on the inclined plane (plane of the array) (W/m2)", ""]
    p = tmp_path / "two_years.csv"
    p.write_text("\r\n".join(lines), encoding="utf-8")
    w = W.read_weather(p, "convention")  # the stamp convention itself is under test (a block of light, not a sun)
    d = w.data
    assert len(d) == 8760 and d.index[0] == _ts("2020-01-01 00:30") and d.index[-1] == _ts("2020-12-31 23:30")
    assert d.loc[_ts("2020-01-01 00:30"), "temp_air"] == 11.1
    assert d.loc[_ts("2020-12-31 23:30"), "temp_air"] == 22.2
    assert (d["temp_air"] != 33.3).all()
    text = " | ".join(w.notes)
    assert "series covers 2019-2020: year 2020 used" in text and "wrapped" not in text and "duplicates" not in text
    assert "dirint" in text
    # GHI = G(i) on a horizontal plane; DHI + DNI cos(z) closes back to GHI (the split's definition)
    import pvlib

    assert d["ghi"].max() == 400.0
    cosz = np.cos(np.radians(pvlib.solarposition.get_solarposition(d.index, 23.13, 113.36, altitude=15)[
        "apparent_zenith"].to_numpy()))
    day = d["ghi"].to_numpy() > 0
    np.testing.assert_allclose((d["dhi"] + d["dni"] * cosz).to_numpy()[day], d["ghi"].to_numpy()[day], atol=0.5)


def test_pv_survey_csv_and_default_weather(tmp_path, monkeypatch):
    p = write_pv_survey_csv(tmp_path / "gz.csv", convention="middle of each hourly interval, UTC+08:00",
                            stamp_offset_min=30,
                            edits={"2023-06-21T12:30:00+08:00": {"ghi": 850.0, "dni": 700.0, "dhi": 160.0}})
    monkeypatch.setattr(W, "DEFAULT_WEATHER_PATH", p)
    w = W.default_weather()
    assert w.data.loc[_ts("2023-06-21 12:30"), "ghi"] == 850.0 and w.data["ghi"].sum() == 850.0
    assert (w.latitude_deg, w.longitude_deg, w.altitude_m, w.source) == (23.13, 113.36, 15.0, "hand-made test year")
    # the same file written hour-ending (stamps at the end of each hour) lands on the same hours
    q = write_pv_survey_csv(tmp_path / "end.csv", convention="hour-ending", stamp_offset_min=60,
                            edits={"2023-06-21T13:00:00+08:00": {"ghi": 850.0, "dni": 700.0, "dhi": 160.0}})
    assert W.read_weather(q).data.loc[_ts("2023-06-21 12:30"), "ghi"] == 850.0
    monkeypatch.setattr(W, "DEFAULT_WEATHER_PATH", tmp_path / "absent.csv")
    with pytest.raises(WeatherError, match="demo-data"):
        W.default_weather()


def test_embedded_default_year_reads():
    if not W.DEFAULT_WEATHER_PATH.is_file():
        pytest.skip("data/guangzhou_default_year.csv not generated yet (pv-survey demo-data)")
    w = W.default_weather()
    assert len(w.data) == 8760 and not w.data.isna().any().any()
    assert str(w.data.index.tz) == TZ and (w.data.index.minute == 30).all()
    # the file's own header says where it is
    head = W.DEFAULT_WEATHER_PATH.read_text(encoding="utf-8").splitlines()[:5]
    lat = float(next(h for h in head if h.startswith("# latitude_deg")).split(":")[1])
    assert w.latitude_deg == lat


# --------------------------------------------------------------------------- location


def _haversine_km(lon1, lat1, lon2, lat2, r_km=6371.0088):  # mean Earth radius (IUGG)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * r_km * math.asin(math.sqrt(a))


def test_distance_and_location_warning():
    wx = W.Weather(pd.DataFrame(), 23.2099, 113.4822, 15.2, "test station", [])
    centre = (113.37, 23.175)  # Tianhe centre (SurveyConfig default)
    d = W.distance_km(wx, *centre)
    assert d == pytest.approx(_haversine_km(113.4822, 23.2099, *centre), rel=0.005)  # sphere vs ellipsoid
    assert W.location_warning(wx, *centre) is None
    far = W.Weather(pd.DataFrame(), 36.1, -79.95, 273.0, "TMY3 Greensboro", [])
    msg = W.location_warning(far, *centre)
    assert msg is not None and "TMY3 Greensboro" in msg and "km" in msg
    assert W.location_warning(wx, *centre, max_distance_km=5.0) is not None  # ~12 km away


# --------------------------------------------------------------------------- real Guangzhou files


@pytest.mark.shared_data
def test_real_guangzhou_epw():
    if not EPW_GZ.is_file():
        pytest.skip(f"{EPW_GZ} absent (../shared/data not beside the repository)")
    w = W.read_weather(EPW_GZ)
    d = w.data
    assert len(d) == 8760 and str(d.index.tz) == TZ and not d.isna().any().any()
    assert (w.latitude_deg, w.longitude_deg, w.altitude_m) == (23.2099, 113.4822, 15.2)
    # PROVENANCE.md: annual GHI 1459.4, DNI 1247.7, DHI 602.6 kWh/m2, mean 23.15 C, monthly GHI
    assert d["ghi"].sum() / 1000 == pytest.approx(1459.4, rel=0.005)
    assert d["dni"].sum() / 1000 == pytest.approx(1247.7, rel=0.005)
    assert d["dhi"].sum() / 1000 == pytest.approx(602.6, rel=0.005)
    assert d["temp_air"].mean() == pytest.approx(23.15, abs=0.01)
    monthly = d["ghi"].groupby(d.index.month).sum().to_numpy() / 1000
    expected = [108.8, 91.1, 89.5, 120.4, 128.7, 128.7, 165.9, 155.4, 138.9, 130.4, 111.0, 90.4]
    np.testing.assert_allclose(monthly, expected, rtol=0.01)


@pytest.mark.shared_data
def test_real_guangzhou_pvgis_series():
    if not PVGIS_GZ.is_file():
        pytest.skip(f"{PVGIS_GZ} absent (../shared/data not beside the repository)")
    import pvlib

    w = W.read_weather(PVGIS_GZ)
    d = w.data
    assert len(d) == 8760 and not d.isna().any().any() and d.index[0] == _ts("2019-01-01 00:30")
    assert (w.latitude_deg, w.longitude_deg, w.altitude_m) == (23.2099, 113.4822, 65.0)
    # first raw record 20190101:0030 UTC -> 08:30 UTC+8 (read independently with json)
    first = json.loads(PVGIS_GZ.read_text())["outputs"]["hourly"][0]
    assert first["time"] == "20190101:0030"
    assert d.loc[_ts("2019-01-01 08:30"), "temp_air"] == first["T2m"]
    assert d["temp_air"].mean() == pytest.approx(22.94, abs=0.01)  # PROVENANCE.md: mean T2m 22.94 C
    assert any("gti_dirint" in n for n in w.notes)
    # GHI/DNI/DHI recovered with gti_dirint transpose back (Perez, pvlib's default albedo 0.25 that
    # gti_dirint assumed) to the PVGIS plane 26 deg / azimuth -3 deg from south: PROVENANCE.md gives
    # 1586.1 kWh/m2 in-plane irradiation
    sp = pvlib.solarposition.get_solarposition(d.index, w.latitude_deg, w.longitude_deg, w.altitude_m)
    poa = pvlib.irradiance.get_total_irradiance(
        26, 177, sp["apparent_zenith"], sp["azimuth"], d["dni"], d["ghi"], d["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(d.index),
        airmass=pvlib.atmosphere.get_relative_airmass(sp["apparent_zenith"]), albedo=0.25, model="perez")
    assert poa["poa_global"].fillna(0).sum() / 1000 == pytest.approx(1586.1, rel=0.01)


# --------------------------------------------------------------------------- time alignment


def _cloudy_clear_sky_year(shift_min: float, seed: int = 7) -> pd.DataFrame:
    """A year of hourly clear-sky irradiance (pvlib Ineichen, Guangzhou) whose light belongs to the
    sun at stamp + shift_min, times a random cloud factor per hour (same law morning and afternoon).

    Stamps at hh:30 (the pv-survey CSV's mid-interval convention); the known shift is the expectation.
    """
    import pvlib

    stamps = pd.date_range("2023-01-01 00:30", periods=8760, freq="h", tz=TZ)
    loc = pvlib.location.Location(23.13, 113.36, tz=TZ, altitude=15)
    cs = loc.get_clearsky(stamps + pd.Timedelta(minutes=shift_min), model="ineichen", linke_turbidity=3.5)
    rng = np.random.default_rng(seed)
    cloud = rng.uniform(0.2, 1.0, size=len(stamps))
    return pd.DataFrame({"ghi": cs["ghi"].to_numpy() * cloud, "dni": cs["dni"].to_numpy() * cloud**2,
                         "dhi": cs["dhi"].to_numpy()}, index=stamps)


def _write_year_csv(path: Path, frame: pd.DataFrame) -> Path:
    lines = ["# latitude_deg: 23.13", "# longitude_deg: 113.36", "# altitude_m: 15.0",
             "# source: synthetic shifted year", "# time_convention: middle of each hourly interval, UTC+08:00",
             "time,ghi_w_m2,dni_w_m2,dhi_w_m2,temp_air_c,wind_speed_m_s"]
    for t, r in frame.iterrows():
        lines.append(f"{t.isoformat()},{r.ghi:.2f},{r.dni:.2f},{r.dhi:.2f},25.0,2.0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("shift_min", [-60, -45, -30, -15, 0, 20, 30, 60])
def test_time_alignment_recovers_known_shift(tmp_path, shift_min):
    """Issue 14: files synthesised with known shifts of -60..+60 min are recovered within 10 min."""
    frame = _cloudy_clear_sky_year(shift_min)
    est = W.estimate_time_offset_min(frame.index, frame["ghi"].to_numpy(), 113.36)
    assert est == pytest.approx(shift_min, abs=10)
    w = W.read_weather(_write_year_csv(tmp_path / "y.csv", frame))
    assert w.time_offset_min == pytest.approx(shift_min, abs=10)
    note = next(n for n in w.notes if n.startswith("time alignment"))
    if abs(shift_min) >= W.MIN_APPLIED_OFFSET_MIN:
        assert "shifted by" in note
        # the rows now sit where their light belongs: first stamp moved by the applied shift
        assert w.data.index[0] == _ts("2023-01-01 00:30") + pd.Timedelta(minutes=w.time_offset_min)
    else:
        assert "not shifted" in note and w.data.index[0] == _ts("2023-01-01 00:30")
    # 'convention' keeps the stamps; a number of minutes moves them by exactly that much
    assert W.read_weather(tmp_path / "y.csv", "convention").data.index[0] == _ts("2023-01-01 00:30")
    assert W.read_weather(tmp_path / "y.csv", "-12").data.index[0] == _ts("2023-01-01 00:18")


def test_time_alignment_epw_reader(tmp_path):
    """The EPW reader is aligned too: a clear-sky EPW whose light is centred on the stamp h (not h - 0:30)."""
    frame = _cloudy_clear_sky_year(30.0)  # light of stamp hh:30 belongs to the sun at hh+1:00 = EPW hour h
    edits = {}
    for t, r in frame.iterrows():
        end = t + pd.Timedelta(minutes=30)  # EPW hour ending
        h = end.hour if end.hour else 24
        day = end if end.hour else end - pd.Timedelta(days=1)
        edits[(day.month, day.day, h)] = {"ghi": round(r.ghi), "dni": round(r.dni), "dhi": round(r.dhi)}
    w = W.read_weather(write_epw(tmp_path / "c.epw", year=2023, edits=edits))
    assert w.time_offset_min == pytest.approx(30, abs=10)


def test_time_alignment_settings():
    assert W.parse_time_alignment("AUTO") == "auto" and W.parse_time_alignment(" convention") == "convention"
    assert W.parse_time_alignment(30) == 30.0 and W.parse_time_alignment("-15") == -15.0
    with pytest.raises(WeatherError, match="time_alignment"):
        W.parse_time_alignment("soon")
    with pytest.raises(WeatherError, match="beyond"):
        W.parse_time_alignment(240)
    from pv_survey.config import config_from_dict
    from pv_survey.errors import ConfigError

    assert config_from_dict({"energy": {"time_alignment": 30}}).energy.time_alignment == 30.0
    assert config_from_dict({"energy": {"time_alignment": "convention"}}).energy.time_alignment == "convention"
    with pytest.raises(ConfigError, match="time_alignment"):
        config_from_dict({"energy": {"time_alignment": "soon"}})
    with pytest.raises(ConfigError, match="time_alignment"):
        config_from_dict({"energy": {"time_alignment": 200}})


def test_embedded_default_year_needs_no_shift():
    if not W.DEFAULT_WEATHER_PATH.is_file():
        pytest.skip("data/guangzhou_default_year.csv not generated yet (pv-survey demo-data)")
    w = W.default_weather()
    assert w.time_offset_min == 0.0 and any("not shifted" in n for n in w.notes)


@pytest.mark.shared_data
def test_real_epw_aligned_east_west_ratio_matches_pvgis():
    """REFERENCES.md: read by the EPW convention, the TMYx W/E ratio of 30 deg roofs is 1.073, on the
    PVGIS 2019 series 0.988. Aligned from the data, the EPW's ratio matches the PVGIS one within 1%."""
    if not (EPW_GZ.is_file() and PVGIS_GZ.is_file()):
        pytest.skip("../shared/data weather files absent")
    from pv_survey.energy import simulate_roofs

    def ratio(w):
        r = simulate_roofs(w, [30.0, 30.0], [90.0, 270.0], [1.0, 1.0], mount="flush")
        y = r["specific_yield_kwh_kwp"].to_numpy()
        return y[1] / y[0]

    conv = ratio(W.read_weather(EPW_GZ, "convention"))
    assert conv == pytest.approx(1.073, abs=0.01)  # REFERENCES.md, by the convention
    epw = W.read_weather(EPW_GZ)
    assert -35 <= epw.time_offset_min <= -15  # light centred before the convention's h - 0:30
    pvgis = W.read_weather(PVGIS_GZ)
    assert pvgis.time_offset_min == 0.0
    r_pvgis = ratio(pvgis)
    assert r_pvgis == pytest.approx(0.988, abs=0.01)  # REFERENCES.md
    assert ratio(epw) == pytest.approx(r_pvgis, rel=0.01)
