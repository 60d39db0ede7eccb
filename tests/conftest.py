"""Shared pytest fixtures.

``postgis_url``: a real PostgreSQL + PostGIS server started once per test session on a
free port of 127.0.0.1 (see ``tests/_postgis.py``); the value is a URL of an empty
database with the ``postgis`` extension, e.g. ``postgresql://postgres@127.0.0.1:54321/pvsurvey``.
Tests create their own uniquely named tables (``tests._postgis.load_table`` helps). Tests
using it are skipped, with the reason and the apt-get line, where the Debian packages are
not installed.
"""

from __future__ import annotations

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
