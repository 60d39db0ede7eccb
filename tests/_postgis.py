"""A throw-away PostgreSQL + PostGIS server for tests (used by the ``postgis_url`` fixture).

The server runs from Debian's binaries (``apt-get install postgresql postgis`` --
packages ``postgresql-15`` and ``postgresql-15-postgis-3`` on bookworm): ``initdb`` into
a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1 with trust
authentication, one database ``pvsurvey`` with the ``postgis`` extension. ``initdb``
refuses to run as root, so under root the server runs as the ``postgres`` system user
(created by the Debian package). :func:`find_postgres` says why it cannot start when it
cannot, for the skip message.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

APT_HINT = "apt-get install postgresql postgresql-15-postgis-3 (Debian bookworm)"
# Seconds allowed for initdb / server start / stop (pg_ctl -t).
_START_TIMEOUT_S = 60


def find_postgres() -> tuple[Path | None, str]:
    """(bin directory of initdb/pg_ctl, '') or (None, reason it cannot run here)."""
    cands = []
    on_path = shutil.which("initdb")
    if on_path:
        cands.append(Path(os.path.realpath(on_path)).parent)
    cands += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for bindir in cands:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            version = bindir.parent.name
            controls = glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control")
            if not controls:
                return None, f"PostgreSQL {version} found but not PostGIS; {APT_HINT}"
            if os.geteuid() == 0:
                try:
                    import pwd
                    pwd.getpwnam("postgres")
                except KeyError:
                    return None, "running as root and no 'postgres' user to run the server as"
            return bindir, ""
    return None, f"PostgreSQL server binaries (initdb, pg_ctl) not found; {APT_HINT}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgisServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` names the test database.

    With ``password`` the server asks every client for it (scram-sha-256, also on the loopback);
    ``url`` then holds no password: tests give it through PGPASSWORD, a pgpass or service file,
    or a percent-encoded URL. :meth:`halt` stops the server at once, as a crash or a power cut
    would (``pg_ctl stop -m immediate``: no transaction is finished), keeping its data for
    :meth:`restart`.
    """

    def __init__(self, bindir: Path, password: str | None = None):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pvsurvey-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.password = password
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/pvsurvey"

    def _connect(self, dbname: str = "pvsurvey", **kw):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
                               password=self.password, **kw)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=_START_TIMEOUT_S,
                              cwd=str(self.root))

    def start(self) -> str:
        if self.as_root:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres")
        auth = ["-A", "trust"]
        if self.password is not None:
            pwfile = self.root / "pw"
            pwfile.write_text(self.password + "\n", encoding="utf-8")
            if self.as_root:
                shutil.chown(pwfile, "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        self._run("initdb", "-D", str(self.data), *auth, "-U", "postgres", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        if self.password is not None:
            (self.root / "pw").unlink()
        self._pg_start()
        import psycopg

        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                with self._connect("postgres", autocommit=True, connect_timeout=5) as conn:
                    conn.execute("CREATE DATABASE pvsurvey")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with self._connect(autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        return self.url

    def _pg_start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"),
                  "-w", "-t", str(_START_TIMEOUT_S), "start")

    def halt(self) -> None:
        """Stop at once, as a crash would: open transactions are lost, the data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        """Start again after :meth:`halt` (crash recovery replays the committed work only)."""
        self._pg_start()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def load_table(url: str, table: str, frame, *, srid: int | None = None, geometry_column: str = "geom",
               password: str | None = None) -> None:
    """Create ``table`` (``schema.name`` or ``name``) from a GeoDataFrame through psycopg.

    Text columns become ``text``, integers ``bigint``, floats ``double precision``; the
    geometry is a PostGIS ``geometry(Geometry, srid)`` column filled from WKB. ``srid``
    defaults to the frame's EPSG code (0 when it has no CRS).
    """
    import psycopg
    from psycopg import sql

    if srid is None:
        srid = frame.crs.to_epsg() if frame.crs is not None else 0
    schema, _, name = table.rpartition(".")
    ident = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    cols = [c for c in frame.columns if c != frame.geometry.name]

    def pg_type(dtype) -> str:
        if pd.api.types.is_integer_dtype(dtype):
            return "bigint"
        if pd.api.types.is_float_dtype(dtype):
            return "double precision"
        return "text"

    defs = sql.SQL(", ").join(
        [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(frame[c].dtype))) for c in cols]
        + [sql.SQL("{} geometry(Geometry, {})").format(sql.Identifier(geometry_column), sql.Literal(srid))]
    )
    with psycopg.connect(url, autocommit=True, password=password) as conn:
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, defs))
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}, ST_SetSRID(ST_GeomFromWKB(%s), {}))").format(
            ident,
            sql.SQL(", ").join([sql.Identifier(c) for c in cols] + [sql.Identifier(geometry_column)]),
            sql.SQL(", ").join([sql.Placeholder()] * len(cols)),
            sql.Literal(srid),
        )
        rows = []
        for rec, geom in zip(frame[cols].itertuples(index=False), frame.geometry.values):
            vals = [None if (isinstance(v, float) and np.isnan(v)) else (v.item() if hasattr(v, "item") else v)
                    for v in rec]
            rows.append([*vals, None if geom is None else shapely.to_wkb(geom)])
        with conn.cursor() as cur:
            cur.executemany(insert, rows)
