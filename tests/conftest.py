"""Shared pytest fixtures.

``clearsky_weather``: a synthetic Guangzhou year (pvlib Ineichen clear sky, Linke turbidity 4,
40% of the beam moved to the diffuse with GHI unchanged, so diffuse is about half of GHI as in
Guangzhou), for tests that need a weather year built independently of pv_survey's readers.

``postgis_url``: a real PostgreSQL + PostGIS server started once per test session on a
free port of 127.0.0.1 (see ``tests/_postgis.py``); the value is a URL of an empty
database with the ``postgis`` extension, e.g. ``postgresql://postgres@127.0.0.1:54321/pvsurvey``.
Tests create their own uniquely named tables (``tests._postgis.load_table`` helps). Tests
using it are skipped, with the reason and the apt-get line, where the Debian packages are
not installed.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def postgis_url():
    """URL of a throw-away PostGIS database (session-scoped; skipped when unavailable)."""
    pytest.importorskip("psycopg", reason="psycopg (PyPI 'psycopg[binary]') is needed to talk to PostGIS")
    from _postgis import PostgisServer, find_postgres

    bindir, why = find_postgres()
    if bindir is None:
        pytest.skip(f"PostGIS server unavailable: {why}")
    server = PostgisServer(bindir)
    try:
        url = server.start()
    except Exception as exc:  # noqa: BLE001 - any start failure becomes a skip with its reason
        server.stop()
        pytest.skip(f"PostGIS server could not start: {type(exc).__name__}: {exc}")
    yield url
    server.stop()


#: Site of :func:`clearsky_weather`: Tianhe, Guangzhou (latitude, longitude [deg], altitude [m]).
CLEARSKY_LAT, CLEARSKY_LON, CLEARSKY_ALT = 23.13, 113.37, 10.0


@pytest.fixture(scope="session")
def clearsky_weather():
    """A synthetic Guangzhou year: pvlib Ineichen clear sky (Linke turbidity 4) with 40% of the beam
    moved to the diffuse (GHI unchanged), so diffuse is about half of GHI as in Guangzhou."""
    import numpy as np
    import pandas as pd
    import pvlib
    from pv_survey.weather import Weather

    lat, lon, alt = CLEARSKY_LAT, CLEARSKY_LON, CLEARSKY_ALT
    times = pd.date_range("2023-01-01 00:30", periods=8760, freq="h", tz="Asia/Shanghai")
    loc = pvlib.location.Location(lat, lon, "Asia/Shanghai", alt)
    cs = loc.get_clearsky(times, model="ineichen", linke_turbidity=4.0)
    cos_z = np.cos(np.radians(loc.get_solarposition(times)["apparent_zenith"])).clip(lower=0.0)
    dni = 0.6 * cs["dni"]
    dhi = cs["dhi"] + 0.4 * cs["dni"] * cos_z
    data = pd.DataFrame({"ghi": dni * cos_z + dhi, "dni": dni, "dhi": dhi, "temp_air": 25.0, "wind_speed": 1.0},
                        index=times)
    return Weather(data, lat, lon, alt, "synthetic clear-sky test year")


@pytest.fixture
def restore_root_logging():
    """The CLI points the root logger at a captured stream; put its handlers and level back after a test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
