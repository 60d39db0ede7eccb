"""Write the result layers into a PostGIS schema (``pv-survey run --postgis URL``).

For departments that share results through their database. Every layer becomes a
table ``<schema>.<layer>`` with ``fid bigint`` primary key, typed columns and (for
feature layers) a ``geom`` column with its SRID and a GiST index; the QGIS default
styles go to ``public.layer_styles`` (QGIS's own table and schema) so the layers open
styled in QGIS. All tables are written in one transaction: either every layer is
replaced or none is.

Uses psycopg 3 (the GDAL inside pyogrio's wheels has no PostgreSQL driver).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..errors import OutputError
from ..inputs.postgis import server_says
from .manifest import redact_url
from .styles import qml_for_layer

__all__ = ["write_postgis", "postgres_type"]

#: Seconds to wait for the database server before giving up with a clear error (project choice;
#: libpq waits forever by default).
CONNECT_TIMEOUT_S = 15


_QGIS_LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS public.layer_styles (
  id serial PRIMARY KEY,
  f_table_catalog varchar,
  f_table_schema varchar,
  f_table_name varchar,
  f_geometry_column varchar,
  stylename text,
  styleqml xml,
  stylesld xml,
  useasdefault boolean,
  description text,
  owner varchar(63) DEFAULT CURRENT_USER,
  ui xml,
  update_time timestamp DEFAULT CURRENT_TIMESTAMP,
  type varchar
)
"""


def postgres_type(series: pd.Series) -> str:
    """PostgreSQL column type of a pandas column (bool, bigint, double precision, timestamptz, text)."""
    dt = series.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "boolean"
    if pd.api.types.is_integer_dtype(dt):
        return "bigint"
    if pd.api.types.is_float_dtype(dt):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "timestamptz"
    if dt == object:
        vals = series.dropna()
        if len(vals) and all(isinstance(v, (bool, np.bool_)) for v in vals):
            return "boolean"
    return "text"


def _py(v: Any) -> Any:
    """A value psycopg can COPY: NaN / NA -> None, numpy scalars -> Python."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def _ewkb_hex(geoms: np.ndarray, srid: int, multi: bool) -> list[str | None]:
    g = np.asarray(geoms, dtype=object)
    if multi:
        g = np.array([shapely.MultiPolygon([x]) if x is not None and x.geom_type == "Polygon" else x for x in g],
                     dtype=object)
    g = shapely.set_srid(g, srid)
    out = shapely.to_wkb(g, hex=True, include_srid=True)
    return [None if x is None else str(x) for x in out]


def write_postgis(url: str, schema: str, layers: Mapping[str, pd.DataFrame], crs, *,
                  overwrite: bool = False, styles: bool = True,
                  connect_timeout_s: int = CONNECT_TIMEOUT_S) -> list[str]:
    """Write ``layers`` into ``schema`` of the PostGIS database at ``url``.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/dbname`` (or a libpq key=value string).
    schema : str
        Target schema; created when missing.
    layers : mapping
        Layer name -> frame with a ``fid`` column, as from
        :func:`pv_survey.outputs.gpkg.result_layers`.
    crs : CRS-like
        CRS of the feature layers (must have an EPSG code, e.g. EPSG:4547).
    overwrite : bool
        Replace tables of the same names; without it an existing table is an error.
    styles : bool
        Store each layer's QGIS default style in ``public.layer_styles``.
    connect_timeout_s : int
        Seconds to wait for the server. [s]

    Returns
    -------
    list of str
        The qualified table names written.

    Raises
    ------
    OutputError
        psycopg missing, no connection, no PostGIS extension, a table exists without
        ``overwrite``, or the database refused a statement.
    """
    try:
        import psycopg
        from psycopg import sql
    except ImportError:  # pragma: no cover - depends on the environment
        raise OutputError("--postgis needs the psycopg package; install it with pip install 'psycopg[binary]'") \
            from None
    epsg = CRS.from_user_input(crs).to_epsg() if crs is not None else None
    if epsg is None:
        raise OutputError(f"--postgis: CRS {crs!r} has no EPSG code; use a metric EPSG CRS such as EPSG:4547")
    if not schema:
        raise OutputError("--postgis: empty schema name; pass e.g. --postgis-schema pv_survey")
    where = redact_url(url)
    try:
        conn = psycopg.connect(url, connect_timeout=connect_timeout_s)
    except psycopg.Error as exc:
        raise OutputError(f"{where}: cannot connect to PostgreSQL ({server_says(exc, url)}); check host, port, "
                          "database, user and password (or PGPASSWORD, ~/.pgpass, the service file)") from exc
    written: list[str] = []
    try:
        with conn.transaction():
            cur = conn.cursor()
            has_postgis = cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
            if not has_postgis and any(isinstance(f, gpd.GeoDataFrame) for f in layers.values()):
                raise OutputError(f"{where}: the database has no PostGIS extension; "
                                  f"run CREATE EXTENSION postgis as its owner")
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            existing = {r[0] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
                (schema, list(layers))).fetchall()}
            if existing and not overwrite:
                raise OutputError(f"{where}: schema {schema} already has table(s) {', '.join(sorted(existing))}; "
                                  f"pass --overwrite to replace them or choose another schema")
            for name, frame in layers.items():
                written.append(_write_table(cur, sql, schema, name, frame, epsg))
            if styles:
                _write_styles(cur, schema, layers)
    except OutputError:
        raise
    except psycopg.Error as exc:  # the transaction rolled back (or died with the connection): no partial tables
        raise OutputError(f"{where}: writing to schema {schema} failed ({server_says(exc, url)}); nothing was "
                          "changed in the database: check the server and run again") from exc
    finally:
        conn.close()
    return written


def _write_table(cur, sql, schema: str, name: str, frame: pd.DataFrame, epsg: int) -> str:
    table = sql.Identifier(schema, name)
    is_geo = isinstance(frame, gpd.GeoDataFrame)
    geom_name = frame.geometry.name if is_geo else None
    cols = [c for c in frame.columns if c not in ("fid", geom_name)]
    defs = [sql.SQL("fid bigint PRIMARY KEY")]
    defs += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(postgres_type(frame[c]))) for c in cols]
    multi = False
    if is_geo:
        kinds = set(frame.geometry.geom_type.dropna().unique())
        multi = not kinds or kinds <= {"Polygon", "MultiPolygon"}
        gtype = "MultiPolygon" if multi else "Geometry"
        defs.append(sql.SQL("geom geometry({}, {})").format(sql.SQL(gtype), sql.Literal(epsg)))
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(defs)))
    names = [sql.Identifier("fid"), *[sql.Identifier(c) for c in cols]] + ([sql.Identifier("geom")] if is_geo else [])
    data = [frame["fid"].to_numpy()] + [frame[c].to_numpy(dtype=object) for c in cols]
    if is_geo:
        data.append(np.asarray(_ewkb_hex(frame.geometry.to_numpy(), epsg, multi), dtype=object))
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(names))
    with cur.copy(copy_sql) as cp:
        for i in range(len(frame)):
            cp.write_row([_py(col[i]) for col in data])
    if is_geo:
        cur.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{name}_geom_idx"), table))
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(f"pv-survey layer '{name}'")))
    return f"{schema}.{name}"


def _write_styles(cur, schema: str, layers: Mapping[str, pd.DataFrame]) -> None:
    cur.execute(_QGIS_LAYER_STYLES_DDL)
    for name, frame in layers.items():
        geom = "geom" if isinstance(frame, gpd.GeoDataFrame) else None
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_catalog = current_database() "
                    "AND f_table_schema = %s AND f_table_name = %s", (schema, name))
        cur.execute(
            "INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "stylename, styleqml, stylesld, useasdefault, description, ui) "
            "VALUES (current_database(), %s, %s, %s, %s, XMLPARSE(DOCUMENT %s), NULL, true, %s, NULL)",
            (schema, name, geom, name, qml_for_layer(name, frame), f"pv-survey default style of '{name}'"),
        )
