"""survey.gpkg written by a child process while this one writes the other output files.

pyogrio holds Python's GIL while GDAL writes (py-spy ``--gil``), so a thread gains nothing; a
process does. :class:`GpkgProcess` starts a writer process (a fresh interpreter, as multiprocessing's
``spawn``, not a ``fork`` of a parent that holds numba's OpenMP threads and GDAL's state), and hands it
the layers one at a time in layer order: each is built here (:func:`~pv_survey.outputs.gpkg.layer_builders`),
saved as a scratch Parquet file (GeoParquet for feature layers) and dropped -- a large one in files
of the rows GDAL takes per write, with its QGIS style made here, so the child holds one of them at a
time (:class:`~pv_survey.outputs.gpkg.FrameChunks`); a spooled layer's parts, already on disk, are
passed by path. The child reads each layer back and writes it with
:func:`~pv_survey.outputs.gpkg.write_gpkg` itself, so the file is the same, byte for byte, as the one
written in this process. The pipe carries only small messages (names, paths, CRS, timestamp).

Failures are one line: the child sends back the message :func:`write_outputs` gives in-process
(:func:`~pv_survey.outputs.atomic.write_failure`), raised here as an ``OutputError``; a child that
dies without one (killed, out of memory) is named as such. When this process fails or is interrupted
while the child writes, the child is terminated and joined; the scratch folder is removed in every
case, and the staged survey.gpkg is left to :class:`~pv_survey.outputs.atomic.Staging` to discard.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import geopandas as gpd
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from ..errors import OutputError
from .atomic import write_failure
from . import gpkg as _gpkg
from .gpkg import FrameChunks, arrow_whole, chunkable, write_gpkg
from .spool import LayerSpool, SpooledLayer
from .styles import qml_for_layer

__all__ = ["GPKG_PROCESS_MIN_FEATURES", "GpkgProcess", "use_process"]

#: Features (rows summed over every layer) from which survey.gpkg is written by a child process
#: (project choice: below it the child's start-up, ~1-2 s for a fresh interpreter and its imports,
#: costs more than writing the file beside the others saves; a 100,000-building city's GeoPackage
#: takes ~12 s, bench/bench_outputs.py).
GPKG_PROCESS_MIN_FEATURES = 50_000

#: Seconds the child is given to end after SIGTERM before it is killed.
_TERMINATE_WAIT_S = 5.0


def use_process(n_features: int) -> bool:
    """Whether a survey of ``n_features`` rows (over every layer) writes survey.gpkg in a child process
    (on POSIX systems: the pipe is handed to the child as an inherited file descriptor; and with a
    Python executable to start)."""
    return os.name == "posix" and bool(sys.executable) and n_features >= GPKG_PROCESS_MIN_FEATURES


class GpkgProcess:
    """A child process writing one GeoPackage; a context manager that always ends it.

    The child is a fresh interpreter (``python -c``, the effect of multiprocessing's ``spawn``
    without its two side effects: spawn runs the caller's main script again in the child unless it
    is guarded by ``if __name__ == "__main__"``, which a survey script need not be, and it leaves a
    resource-tracker process running for the rest of the session). It gets this interpreter's
    ``sys.path`` and its own session, so a Ctrl-C at the terminal reaches only this process, which
    ends the child.

    Parameters
    ----------
    path : path
        File to create (the staged temporary name of survey.gpkg).
    final : path
        The output's final name, for error messages.
    crs : CRS-like, optional
        As :func:`~pv_survey.outputs.gpkg.write_gpkg`'s ``crs`` (sent as given, or as a
        ``pyproj.CRS``, which pickles as its definition).
    timestamp : str
        GeoPackage timestamp (:func:`~pv_survey.outputs.gpkg.gpkg_timestamp`).
    scratch_in : path, optional
        Folder in which the scratch folder of the layers' Parquet files is made (default: the
        system's temporary folder).
    """

    def __init__(self, path: str | Path, *, final: str | Path, crs: Any, timestamp: str,
                 scratch_in: str | Path | None = None) -> None:
        self.final = Path(final)
        if crs is not None and not isinstance(crs, (str, int)):
            import pyproj

            crs = pyproj.CRS.from_user_input(crs)
        self.scratch = Path(tempfile.mkdtemp(prefix="pv-survey-gpkg-", dir=scratch_in))
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno()), *sys.path], pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            ours.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self._conn = multiprocessing.connection.Connection(ours.detach())
        self._n = 0
        try:
            self._send(("start", str(path), str(self.final), crs, timestamp, os.getpid()))
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """Process id of the writer."""
        return self.process.pid

    def write(self, layers: Mapping[str, Callable[[], Any]]) -> None:
        """Hand the child every layer in order: built here one at a time, saved, dropped.

        Parameters
        ----------
        layers : mapping
            Layer name -> function building its frame, or a frame, or a
            :class:`~pv_survey.outputs.spool.SpooledLayer` (as :func:`write_gpkg` takes).
        """
        self._send(("names", list(layers)))
        for name, build in layers.items():
            layer = build() if callable(build) else build
            spec = self._save(name, layer)
            del layer
            self._send(("layer", name, spec))

    def wait(self) -> None:
        """Wait until the GeoPackage is written.

        Raises
        ------
        OutputError
            The child's one-line failure, or that it ended without one.
        """
        try:
            msg = self._conn.recv()  # its one message, or the end of the pipe when it died
        except (EOFError, OSError):
            msg = None
        code = self.process.wait()
        if msg is not None and msg[0] == "error":
            raise OutputError(msg[1])
        if msg is None or msg[0] != "ok" or code != 0:
            raise OutputError(f"{self.final}: the GeoPackage writer process ended unexpectedly (exit {code}); "
                              "run again, and if it recurs check free memory (a killed process) or report it "
                              "as a bug")

    def close(self) -> None:
        """End the child if it still runs (terminate, then kill) and remove the scratch folder."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(_TERMINATE_WAIT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self._conn.close()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "GpkgProcess":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    # ------------------------------------------------------------------ this side

    def _send(self, msg: tuple) -> None:
        try:
            self._conn.send(msg)
        except (BrokenPipeError, ConnectionError):  # the child has ended: its reason, or that it died
            self.wait()
            raise OutputError(f"{self.final}: the GeoPackage writer process stopped reading; run again") from None

    def _save(self, name: str, layer: Any) -> dict:
        """Where the child reads ``layer`` from (a spooled layer's parts stay where they are)."""
        if isinstance(layer, SpooledLayer):
            return {"parts": [(str(p), n) for p, n in layer.parts], "empty": self._file(name, layer.empty_frame)}
        if isinstance(layer, pd.DataFrame) and chunkable(layer):
            spec = self._chunks(name, layer)
            if spec is not None:
                return spec
        return {"file": self._file(name, layer)}

    def _chunks(self, name: str, frame: pd.DataFrame) -> dict | None:
        """A large layer as scratch files of :data:`~pv_survey.outputs.gpkg.WRITE_CHUNK_FEATURES` rows
        with its style (the child then holds one chunk, not the layer: :class:`FrameChunks`); None when
        a chunk would not read back as it was (the layer then goes whole)."""
        files = []
        step = _gpkg.WRITE_CHUNK_FEATURES
        for a in range(0, len(frame), step):
            spec = self._file(name, frame.iloc[a:a + step], pickle_ok=False)
            if spec is None:
                for f in files:
                    Path(f["parquet"]).unlink(missing_ok=True)
                return None
            files.append(spec)
        return {"chunks": files, "qml": qml_for_layer(name, frame), "arrow": arrow_whole(frame)}

    def _file(self, name: str, frame: pd.DataFrame, *, pickle_ok: bool = True) -> dict | None:
        """Save ``frame`` as a scratch (Geo)Parquet file, or a pickle when Parquet would not give it back
        as it was (None instead when ``pickle_ok`` is False)."""
        self._n += 1
        path = self.scratch / f"{self._n:03d}.parquet"
        try:
            if _parquet(frame, path):
                geo = isinstance(frame, gpd.GeoDataFrame)  # its CRS set back as it was (pyproj pickles
                return {"parquet": str(path), "geo": geo, "crs": frame.crs if geo else None}  # its definition)
            if not pickle_ok:
                return None
            path = path.with_suffix(".pickle")
            with open(path, "wb") as fh:
                pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
            return {"pickle": str(path)}
        except OSError as exc:
            raise OutputError(f"{path}: writing a scratch copy of layer '{name}' failed ({exc}); check free space "
                              "in the temporary folder (TMPDIR)") from exc


def _parquet(frame: pd.DataFrame, path: Path) -> bool:
    """Save ``frame`` as (Geo)Parquet when it reads back with the same columns and dtypes.

    Arrow refuses some object columns (mixed numbers and text) and may read a few types back as
    others; such a frame is pickled instead (False), so the GeoPackage is the same either way.
    """
    try:
        frame.to_parquet(path)
    except (pyarrow.ArrowException, TypeError, ValueError):
        path.unlink(missing_ok=True)
        return False
    back = pq.read_schema(path).empty_table().to_pandas()
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    same = list(back.columns) == list(frame.columns) and all(
        col == geom or back[col].dtype == frame[col].dtype for col in frame.columns)
    if not same:
        path.unlink()
    return same


# ---------------------------------------------------------------------- the child


#: The child's command (``python -c``): this interpreter's sys.path, then :func:`_child_main`.
_BOOT = ("import sys; sys.path[:0] = sys.argv[2:]; "
         "from pv_survey.outputs.gpkg_process import _child_main; _child_main(int(sys.argv[1]))")


def _child_main(fd: int) -> None:
    """The writer process: receive the layers and write them with :func:`write_gpkg`; report one line.

    Parameters
    ----------
    fd : int
        File descriptor of its end of the pipe to the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends this process
    conn = multiprocessing.connection.Connection(fd)
    try:
        _, path, final, crs, timestamp, parent_pid = conn.recv()
    except (EOFError, OSError):  # the parent ended before it said what to write
        os._exit(1)
    _die_with_parent(parent_pid)
    try:
        names = _recv(conn, parent_pid, "names")[1]
        write_gpkg(path, {name: partial(_receive_layer, conn, parent_pid, name) for name in names},
                   crs=crs, timestamp=timestamp)
    except (OSError, sqlite3.Error) as exc:  # OutputError is an OSError: GDAL's and SQLite's failures
        reply = ("error", write_failure(final, "writing", exc))
    except _ParentGone:
        os._exit(1)
    except Exception as exc:  # noqa: BLE001 - one line for the parent, never a traceback
        reply = ("error", f"{final}: writing failed ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                          "report this as a bug; the earlier outputs in this folder are as they were")
    else:
        reply = ("ok", None)
    try:
        conn.send(reply)
    except OSError:
        os._exit(1)


class _ParentGone(Exception):
    pass


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel sends SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG (linux/prctl.h)
        except (OSError, AttributeError):
            pass  # polled instead, between layers (_recv)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _recv(conn, parent_pid: int, kind: str) -> tuple:
    try:
        while not conn.poll(1.0):
            if os.getppid() != parent_pid:
                raise _ParentGone
        msg = conn.recv()
    except (EOFError, OSError):
        raise _ParentGone from None
    if msg[0] != kind:
        raise OutputError(f"GeoPackage writer: expected '{kind}', got '{msg[0]}'; report this as a bug")
    return msg


def _receive_layer(conn, parent_pid: int, name: str) -> Any:
    """The next layer from the parent (it must be ``name``), read back from its scratch file."""
    _, got, spec = _recv(conn, parent_pid, "layer")
    if got != name:
        raise OutputError(f"GeoPackage writer: expected layer '{name}', got '{got}'; report this as a bug")
    if "parts" in spec:
        return LayerSpool.of_parts(name, spec["parts"], _read(spec["empty"]))
    if "chunks" in spec:
        files = spec["chunks"]
        return FrameChunks(lambda: (_read(f) for f in files), qml=spec["qml"], arrow=spec["arrow"])
    return _read(spec["file"])


def _read(spec: dict) -> pd.DataFrame:
    if "pickle" in spec:
        with open(spec["pickle"], "rb") as fh:
            return pickle.load(fh)
    if not spec["geo"]:
        return pd.read_parquet(spec["parquet"])
    frame = gpd.read_parquet(spec["parquet"])
    return frame.set_crs(spec["crs"], allow_override=True) if spec["crs"] is not None else frame
