"""PostGIS tables as a buildings source.

Municipal GIS departments keep footprints in PostgreSQL/PostGIS. Two ways to name a table:

* a URL, the table in the ``table`` query parameter (``schema.name``; the first schema on
  the search path that has it when the schema is left out; a ``#schema.name`` fragment is
  accepted too), other parameters passed on to libpq::

      postgresql://user:password@host:5432/gis?table=survey.buildings
      postgresql://user@host/gis?table=buildings&sslmode=require

* a GDAL connection string, the table in GDAL's ``tables=`` option (``schema.name`` or
  ``schema.name(geometry_column)``)::

      PG:dbname=gis host=localhost port=5432 user=gis tables=survey.buildings

In both the ``layer`` argument of ``read_buildings`` may name the table instead.

The table is read with psycopg 3 (``ST_AsBinary`` of the geometry column, every other
column as is), not through GDAL: the GDAL bundled in pyogrio's wheels has no PostgreSQL
driver. The geometry column and its SRID come from PostGIS's ``geometry_columns`` view.
"""

from __future__ import annotations

import dataclasses
import decimal
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import InputError, InputFileError

__all__ = ["PostgisSource", "is_postgis_source", "parse_postgis_source", "read_postgis", "postgis_crs"]

# GDAL PG: options that are not libpq connection keywords (GDAL PostgreSQL driver docs).
_GDAL_ONLY_KEYS = {"tables", "schemas", "active_schema", "list_all_tables"}
# Seconds to wait for a server before giving up (libpq connect_timeout).
_CONNECT_TIMEOUT_S = 10
_PG_KV = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


@dataclasses.dataclass(frozen=True)
class PostgisSource:
    """A parsed PostGIS source: libpq connection info and the table."""

    conninfo: str
    schema: str | None
    table: str
    geometry_column: str | None
    display: str  # the source with any password replaced by '***', for messages


def is_postgis_source(source) -> bool:
    """True for ``postgresql://`` / ``postgres://`` URLs and GDAL ``PG:`` strings."""
    s = str(source)
    return s.startswith(("postgresql://", "postgres://", "PG:", "pg:"))


def _split_table(name: str) -> tuple[str | None, str, str | None]:
    """'schema.table(geom)' -> (schema, table, geom)."""
    m = re.fullmatch(r"\s*(?:([^.()]+)\.)?([^.()]+?)\s*(?:\(([^()]+)\))?\s*", name)
    if m is None:
        raise InputError(f"PostGIS table {name!r} is not 'schema.table' or 'table'; name it so")
    return m.group(1), m.group(2), m.group(3)


def parse_postgis_source(source: str, layer: str | None = None) -> PostgisSource:
    """Split a PostGIS URL or GDAL ``PG:`` string into libpq conninfo and table.

    Parameters
    ----------
    source : str
        ``postgresql://...?table=schema.name`` or ``PG:... tables=schema.name``.
    layer : str, optional
        Table name (``schema.name``); used when the source names none.

    Raises
    ------
    InputError
        When no table is named.
    """
    s = str(source)
    table_spec = None
    if s[:3].lower() == "pg:":
        pairs = _PG_KV.findall(s[3:])
        keep, display = [], []
        for key, val in pairs:
            if key == "tables":
                table_spec = val.strip("'").split(",")[0]
                continue
            if key in _GDAL_ONLY_KEYS:
                continue
            keep.append(f"{key}={val}")
            display.append(f"{key}={'***' if key == 'password' else val}")
        conninfo = " ".join(keep)
        shown = "PG:" + " ".join(display)
    else:
        parts = urlsplit(s)
        query = parse_qsl(parts.query, keep_blank_values=True)
        rest = []
        for key, val in query:
            if key in ("table", "layer"):
                table_spec = val
            else:
                rest.append((key, val))
        netloc = parts.netloc
        # built by hand: urlunsplit drops the '//' of a URL without host (postgresql:///?service=name),
        # which libpq needs
        conninfo = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{urlencode(rest)}" if rest else "")
        if parts.fragment and table_spec is None:
            table_spec = parts.fragment
        shown_netloc = re.sub(r":[^@/]*@", ":***@", netloc)
        shown = (f"{parts.scheme}://{shown_netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
                 + (f"#{parts.fragment}" if parts.fragment else ""))
    if layer:
        table_spec = layer if table_spec is None else table_spec
    if not table_spec:
        raise InputError(
            f"{shown}: no table named; add ?table=schema.name to the URL (or tables=schema.name to a PG: "
            "string) or pass --layer schema.name"
        )
    schema, table, geom = _split_table(table_spec)
    return PostgisSource(conninfo=conninfo, schema=schema, table=table, geometry_column=geom, display=shown)


def postgis_crs(conn, srid: int) -> pyproj.CRS | None:
    """CRS of a PostGIS SRID from ``spatial_ref_sys`` (``None`` for SRID 0)."""
    if not srid:
        return None
    row = conn.execute("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s",
                       (srid,)).fetchone()
    if row is None:
        return pyproj.CRS.from_epsg(srid)
    auth, code, wkt = row
    if auth and code and str(auth).upper() in ("EPSG", "ESRI"):
        return pyproj.CRS.from_authority(str(auth).upper(), int(code))
    return pyproj.CRS.from_wkt(wkt)


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def read_postgis(src: PostgisSource):
    """Read a PostGIS table into a GeoDataFrame (geometry in the table's SRID).

    Parameters
    ----------
    src : PostgisSource
        From :func:`parse_postgis_source`.

    Returns
    -------
    geopandas.GeoDataFrame
        Every column of the table, geometry from the geometry column; CRS from its SRID
        (``None`` when the SRID is 0).

    Raises
    ------
    InputFileError
        Server unreachable, PostGIS missing, or no such table / geometry column.
    """
    import geopandas as gpd
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(src.conninfo, connect_timeout=_CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise InputFileError(
            f"{src.display}: cannot connect ({server_says(exc, src.conninfo)}); check host, port, database, user "
            "and password (or PGPASSWORD, ~/.pgpass, the service file)"
        ) from exc
    try:
        return _read_table(conn, src, sql, gpd)
    except psycopg.Error as exc:  # the server went away, or refused a statement, in the middle of the read
        raise InputFileError(f"{src.display}: reading table {src.table} failed ({server_says(exc, src.conninfo)}); "
                             "check the server and run again") from exc
    finally:
        conn.close()


def server_says(exc: BaseException, conninfo: str = "") -> str:
    """The first line of a psycopg error, with the connection's password (if any) replaced by '***'.

    libpq's messages do not quote passwords, but a malformed connection string is echoed back;
    this keeps a password out of every message whatever libpq says.
    """
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    secret = _password_of(conninfo)
    return first.replace(secret, "***") if secret else first


def _password_of(conninfo: str) -> str:
    if not conninfo:
        return ""
    try:
        from psycopg.conninfo import conninfo_to_dict

        return str(conninfo_to_dict(conninfo).get("password") or "")
    except Exception:  # noqa: BLE001 - a string libpq cannot parse has no password to hide here
        return ""


def _read_table(conn, src: PostgisSource, sql, gpd):
    """The body of :func:`read_postgis` on an open connection."""
    with conn:
        has = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if has is None:
            raise InputFileError(f"{src.display}: the database has no PostGIS extension; run CREATE EXTENSION postgis")
        rows = conn.execute(
            "SELECT f_table_schema, f_geometry_column, srid FROM geometry_columns "
            "WHERE f_table_name = %s AND (%s::text IS NULL OR f_table_schema = %s) "
            "ORDER BY (f_table_schema = current_schema()) DESC, f_table_schema",
            (src.table, src.schema, src.schema),
        ).fetchall()
        if src.geometry_column:
            rows = [r for r in rows if r[1] == src.geometry_column]
        if not rows:
            avail = conn.execute(
                "SELECT f_table_schema || '.' || f_table_name FROM geometry_columns ORDER BY 1").fetchall()
            names = ", ".join(r[0] for r in avail[:30]) or "(none)"
            want = f"{src.schema + '.' if src.schema else ''}{src.table}"
            raise InputFileError(
                f"{src.display}: no geometry table '{want}'"
                f"{' with column ' + src.geometry_column if src.geometry_column else ''}; "
                f"tables with geometry: {names}"
            )
        schema, geom_col, srid = rows[0]
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position", (schema, src.table)).fetchall()]
        other = [c for c in cols if c != geom_col]
        query = sql.SQL("SELECT {cols}ST_AsBinary({g}) FROM {t}").format(
            cols=sql.SQL("").join(sql.SQL("{}, ").format(sql.Identifier(c)) for c in other),
            g=sql.Identifier(geom_col),
            t=sql.Identifier(schema, src.table),
        )
        data = conn.execute(query).fetchall()
        crs = postgis_crs(conn, srid)
    frame = pd.DataFrame([[_plain(v) for v in r[:-1]] for r in data], columns=other)
    wkb = np.array([bytes(r[-1]) if r[-1] is not None else None for r in data], dtype=object)
    geoms = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs)
