"""PostGIS faults and credentials against a real server (issue 18, items 2 and 5).

The tests start their own PostgreSQL + PostGIS server (tests/_postgis.py) that asks for a
password (scram-sha-256), so that

* the password can come from ``PGPASSWORD``, a pgpass file (``PGPASSFILE``), a service file
  (``PGSERVICEFILE`` with ``?service=``) or a percent-encoded URL, and never appears in the
  outputs, the database, the log (``-vv``) or an error -- with a password holding the
  characters a URL, a pgpass line and a connection string treat specially;
* the server can be stopped at once (``pg_ctl stop -m immediate``, as a crash) in the middle of
  ``--postgis`` writing: the transaction is lost with it, the tables of the earlier run are
  there after the restart and none of the new run's, and the run ends in one error line;
* a connection can be dropped by the server in the middle of reading a table
  (``pg_terminate_backend``): one error line, nothing written.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import _badinputs as bi
from _postgis import PostgisServer, find_postgres, load_table
from pv_survey.cli import main

psycopg = pytest.importorskip("psycopg", reason="psycopg (PyPI 'psycopg[binary]') is needed to talk to PostGIS")

#: A password with the characters URLs (@ : / ? # & % + =), pgpass lines (: and \), connection
#: strings (' and space) and shells ($ ;) treat specially, and Chinese text.
PASSWORD = "p@ss:w/rd?#&%+=' \\$;天河"


@pytest.fixture(scope="module")
def server():
    bindir, why = find_postgres()
    if bindir is None:
        pytest.skip(f"PostGIS server unavailable: {why}")
    srv = PostgisServer(bindir, password=PASSWORD)
    try:
        srv.start()
    except Exception as exc:  # noqa: BLE001 - any start failure becomes a skip with its reason
        srv.stop()
        pytest.skip(f"PostGIS server could not start: {type(exc).__name__}: {exc}")
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, restore_root_logging):
    for var in ("PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _forms(secret: str) -> list[bytes]:
    """Every form the password could leak in: as typed, percent-encoded, escaped for pgpass."""
    forms = {secret, quote(secret, safe=""), secret.replace("\\", "\\\\").replace(":", "\\:"),
             secret.encode("unicode_escape").decode("ascii")}
    return sorted({f.encode("utf-8") for f in forms})


def _leaks(blob: bytes, secret: str = PASSWORD) -> list[bytes]:
    return [f for f in _forms(secret) if f in blob]


def _db_text(server: PostgisServer) -> bytes:
    """Every text the database holds about the written layers: table contents, comments, styles."""
    out = []
    with server._connect(autocommit=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "WHERE table_schema = 'pv_survey' OR table_name = 'layer_styles'").fetchall()
        for schema, name in tables:
            rows = conn.execute(psycopg.sql.SQL("SELECT * FROM {}").format(psycopg.sql.Identifier(schema, name)))
            out.append(repr(rows.fetchall()))
            out.append(repr(conn.execute("SELECT obj_description(%s::regclass)", (f'"{schema}"."{name}"',))
                            .fetchall()))
    return "\n".join(out).encode("utf-8")


def _table(server: PostgisServer, name: str) -> None:
    load_table(server.url, name, bi.base_frame(), password=PASSWORD)


def _credentials(how: str, server: PostgisServer, tmp_path: Path, monkeypatch) -> str:
    """Set the password up ``how`` and return the connection URL (without ?table=) to use."""
    host = f"127.0.0.1:{server.port}"
    if how == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", PASSWORD)
        return f"postgresql://postgres@{host}/pvsurvey"
    if how == "pgpass":
        pgpass = tmp_path / "pgpass"
        escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")  # libpq: escape : and \ in .pgpass
        pgpass.write_text(f"127.0.0.1:{server.port}:pvsurvey:postgres:{escaped}\n", encoding="utf-8")
        pgpass.chmod(0o600)  # libpq ignores a pgpass file others can read
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        return f"postgresql://postgres@{host}/pvsurvey"
    if how == "service":
        svc = tmp_path / "pg_service.conf"
        svc.write_text(f"[pvtest]\nhost=127.0.0.1\nport={server.port}\ndbname=pvsurvey\nuser=postgres\n"
                       f"password={PASSWORD}\n", encoding="utf-8")
        monkeypatch.setenv("PGSERVICEFILE", str(svc))
        return "postgresql:///?service=pvtest"
    assert how == "url"
    return f"postgresql://postgres:{quote(PASSWORD, safe='')}@{host}/pvsurvey"


def _with_table(url: str, table: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}table={table}"


@pytest.mark.parametrize("how", ["PGPASSWORD", "pgpass", "service", "url"])
def test_password_from_each_source_never_shows(server, tmp_path, monkeypatch, capsys, how):
    url = _credentials(how, server, tmp_path, monkeypatch)
    table = f"public.bldg_{how.lower()}"
    _table(server, table)
    out = tmp_path / "out"
    code, stdout, err = _cli(["-vv", "run", "--buildings", _with_table(url, table), "--postgis", url,
                              "--out", str(out), "--overwrite"], capsys)
    assert code == 0, err[-3000:]
    assert "buildings read from" in err  # the debug log did run
    assert _leaks((stdout + err).encode("utf-8")) == []
    for f in sorted(out.rglob("*")):
        if f.is_file():
            assert _leaks(f.read_bytes()) == [], f.name
    assert _leaks(_db_text(server)) == []
    if how == "url":  # the manifest names the source, with the password hidden
        assert "postgres:***@" in (out / "manifest.json").read_text(encoding="utf-8")
    with server._connect() as conn:  # the layers are there
        n = conn.execute("SELECT count(*) FROM pv_survey.buildings").fetchone()[0]
    assert n == 6


def test_errors_never_show_the_password(server, tmp_path, capsys):
    wrong = "x" + PASSWORD  # a wrong password, URL-encoded, still special in every way
    url = f"postgresql://postgres:{quote(wrong, safe='')}@127.0.0.1:{server.port}/pvsurvey"
    for argv in (["-v", "run", "--buildings", _with_table(url, "public.nosuch"), "--out", str(tmp_path / "a")],
                 ["-v", "validate", _with_table(url, "public.nosuch")]):
        code, stdout, err = _cli(argv, capsys)
        assert code == 2 and "Traceback" not in err
        assert "password authentication failed" in err
        assert _leaks((stdout + err).encode("utf-8"), wrong) == [], err


def test_server_stopped_while_writing_leaves_the_earlier_tables(server, tmp_path, monkeypatch, capsys):
    """The server stops (crash) after two of the new tables were written: after its restart the
    earlier run's tables are there, unchanged, and none of the new run's; the run says so in one line."""
    from pv_survey.outputs import postgis as pg_out

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    url = f"postgresql://postgres@127.0.0.1:{server.port}/pvsurvey"
    b = tmp_path / "b.gpkg"
    bi.base_frame().to_file(b, layer="buildings", driver="GPKG")
    schema_arg = tmp_path / "s.toml"
    schema_arg.write_text('[outputs]\npostgis_schema = "crash"\n', encoding="utf-8")
    code, _o, err = _cli(["-q", "run", "--config", str(schema_arg), "--buildings", str(b), "--postgis", url,
                          "--out", str(tmp_path / "first")], capsys)
    assert code == 0, err
    with server._connect() as conn:
        before = conn.execute("SELECT table_name, obj_description(('crash.' || table_name)::regclass) FROM "
                              "information_schema.tables WHERE table_schema = 'crash' ORDER BY 1").fetchall()
        n_before = conn.execute("SELECT count(*) FROM crash.buildings").fetchone()[0]
    assert len(before) >= 5 and n_before == 6
    real = pg_out._write_table
    written = []

    def write_then_crash(cur, sql, schema, name, frame, epsg):
        if len(written) == 2:
            server.halt()  # the server dies with the transaction open
        written.append(name)
        return real(cur, sql, schema, name, frame.iloc[:2] if name == "buildings" else frame, epsg)

    monkeypatch.setattr(pg_out, "_write_table", write_then_crash)
    try:
        code, _o, err = _cli(["-q", "run", "--config", str(schema_arg), "--buildings", str(b), "--postgis", url,
                              "--out", str(tmp_path / "second"), "--overwrite"], capsys)
    finally:
        if len(written) > 2:
            server.restart()
    assert len(written) == 3, err  # the crash came after two tables
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and "writing to schema crash failed" in lines[0]
    assert "nothing was changed in the database" in lines[0]
    with server._connect() as conn:
        after = conn.execute("SELECT table_name, obj_description(('crash.' || table_name)::regclass) FROM "
                             "information_schema.tables WHERE table_schema = 'crash' ORDER BY 1").fetchall()
        n_after = conn.execute("SELECT count(*) FROM crash.buildings").fetchone()[0]
    assert after == before and n_after == n_before  # the two new tables (2 rows of buildings) are gone


def test_connection_dropped_while_reading(server, tmp_path, monkeypatch, capsys):
    """The server ends the session in the middle of the table read: one line, nothing written."""
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    _table(server, "public.bldg_slow_src")
    with server._connect(autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION pv_slow(g geometry) RETURNS geometry AS $$ "
                     "BEGIN PERFORM pg_sleep(0.5); RETURN g; END $$ LANGUAGE plpgsql")
        conn.execute("CREATE OR REPLACE VIEW public.bldg_slow AS SELECT building_id, name, category, height_m, "
                     "pv_slow(geom)::geometry(Geometry, 4547) AS geom FROM public.bldg_slow_src")
    url = f"postgresql://postgres@127.0.0.1:{server.port}/pvsurvey?table=public.bldg_slow"
    killed = []

    def terminate():
        deadline = time.monotonic() + 60
        with server._connect(autocommit=True) as conn:
            while not killed and time.monotonic() < deadline:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                                    "AND query LIKE '%bldg_slow%' AND pid <> pg_backend_pid()").fetchall()
                for (pid,) in rows:
                    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)
                time.sleep(0.05)

    t = threading.Thread(target=terminate, daemon=True)
    t.start()
    out = tmp_path / "out"
    code, _o, err = _cli(["-q", "run", "--buildings", url, "--out", str(out)], capsys)
    t.join(60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert killed, "the read was never seen running"
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("Error: postgresql://postgres@")
    assert "reading table bldg_slow failed" in lines[0] and "terminat" in lines[0]
    assert not out.exists()
