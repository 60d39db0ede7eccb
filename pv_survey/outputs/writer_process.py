"""Output files written by child processes while this one writes the other output files.

GDAL (pyogrio) holds Python's GIL while it writes, and XlsxWriter is pure Python, so a thread gains
nothing on either; a process does. :class:`WriterProcess` starts a writer process (a fresh
interpreter, as multiprocessing's ``spawn``, not a ``fork`` of a parent that holds numba's OpenMP
threads and GDAL's state) that writes one output file into its staged temporary name, with the same
function this process would call, so the file is the same, byte for byte. Its data is handed over as
scratch files (:meth:`WriterProcess._file`: Parquet, GeoParquet for feature layers, or a pickle when
Parquet would not give the frame back as it was); the pipe carries only small messages (names,
paths, CRS, timestamp). Each kind of file is a subclass naming its job, the function the child runs
(:mod:`pv_survey.outputs.gpkg_process` for survey.gpkg, :mod:`pv_survey.outputs.xlsx_process` for
shortlists.xlsx).

Failures are one line: the child sends back the message :func:`~pv_survey.outputs.write_outputs`
gives in-process (:func:`~pv_survey.outputs.atomic.write_failure`), raised here as an
``OutputError``; a child that dies without one (killed, out of memory) is named as such. When this
process fails or is interrupted while the child writes, the child is terminated and joined; the
scratch folder is removed in every case, and the staged file is left to
:class:`~pv_survey.outputs.atomic.Staging` to discard.
"""

from __future__ import annotations

import importlib
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from ..errors import OutputError
from ..scratch import scratch_dir
from .atomic import write_failure

__all__ = ["WriterProcess", "can_start", "usable_cores", "ChildSide", "read_scratch"]

#: Seconds the child is given to end after SIGTERM before it is killed.
_TERMINATE_WAIT_S = 5.0


def can_start() -> bool:
    """Whether a writer process can be started here: on POSIX systems (the pipe is handed to the child
    as an inherited file descriptor), with a Python executable to start."""
    return os.name == "posix" and bool(sys.executable)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class WriterProcess:
    """A child process writing one output file; a context manager that always ends it.

    The child is a fresh interpreter (``python -c``, the effect of multiprocessing's ``spawn``
    without its two side effects: spawn runs the caller's main script again in the child unless it
    is guarded by ``if __name__ == "__main__"``, which a survey script need not be, and it leaves a
    resource-tracker process running for the rest of the session). It gets this interpreter's
    ``sys.path`` and its own session, so a Ctrl-C at the terminal reaches only this process, which
    ends the child. It runs :attr:`job` once the parent has said what to write.

    Parameters
    ----------
    path : path
        File to create (the staged temporary name of the output).
    final : path
        The output's final name, for error messages.
    args : tuple
        Further arguments of :attr:`job` (small, picklable).
    scratch_in : path, optional
        Folder in which the scratch folder of the handed-over files is made (default: the
        system's temporary folder).
    """

    #: The child's work, ``"module:function"``, called as ``function(side, path, final, *args)`` with
    #: a :class:`ChildSide`; it writes ``path`` or raises.
    job: str = ""
    #: What the child writes, in messages ("the GeoPackage writer process ...").
    what: str = "output"
    #: Kind in the scratch folder's name (``pv-survey-<kind>-<pid>-...``, :func:`pv_survey.scratch.scratch_dir`).
    scratch_kind: str = "writer"

    def __init__(self, path: str | Path, *, final: str | Path, args: tuple = (),
                 scratch_in: str | Path | None = None) -> None:
        self.path = Path(path)
        self.final = Path(final)
        self.scratch = scratch_dir(self.scratch_kind, scratch_in)
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
            self._send(("start", self.job, self.what, str(path), str(self.final), os.getpid(), tuple(args)))
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """Process id of the writer."""
        return self.process.pid

    def wait(self) -> None:
        """Wait until the file is written.

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
            raise OutputError(f"{self.final}: the {self.what} writer process ended unexpectedly (exit {code}); "
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

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    # ------------------------------------------------------------------ this side

    def _send(self, msg: tuple) -> None:
        try:
            self._conn.send(msg)
        except (BrokenPipeError, ConnectionError):  # the child has ended: its reason, or that it died
            self.wait()
            raise OutputError(f"{self.final}: the {self.what} writer process stopped reading; run again") from None

    def _file(self, name: str, frame: pd.DataFrame, *, pickle_ok: bool = True) -> dict | None:
        """Save ``frame`` as a scratch (Geo)Parquet file, or a pickle when Parquet would not give it back
        as it was (None instead when ``pickle_ok`` is False); the spec :func:`read_scratch` takes."""
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
            raise OutputError(f"{path}: writing a scratch copy of '{name}' for the {self.what} writer failed "
                              f"({exc}); check free space in the temporary folder (TMPDIR)") from exc


def _parquet(frame: pd.DataFrame, path: Path) -> bool:
    """Save ``frame`` as (Geo)Parquet when it reads back with the same columns and dtypes.

    Arrow refuses some object columns (mixed numbers and text) and may read a few types back as
    others; such a frame is pickled instead (False), so the output is the same either way.
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


def read_scratch(spec: dict) -> pd.DataFrame:
    """A frame saved by :meth:`WriterProcess._file`, read back as it was."""
    if "pickle" in spec:
        with open(spec["pickle"], "rb") as fh:
            return pickle.load(fh)
    if not spec["geo"]:
        return pd.read_parquet(spec["parquet"])
    frame = gpd.read_parquet(spec["parquet"])
    return frame.set_crs(spec["crs"], allow_override=True) if spec["crs"] is not None else frame


# ---------------------------------------------------------------------- the child


#: The child's command (``python -c``): this interpreter's sys.path, then :func:`_child_main`.
_BOOT = ("import sys; sys.path[:0] = sys.argv[2:]; "
         "from pv_survey.outputs.writer_process import _child_main; _child_main(int(sys.argv[1]))")


class _ParentGone(Exception):
    pass


class ChildSide:
    """The child's end of the pipe: messages from the parent, which must still be alive."""

    def __init__(self, conn, parent_pid: int, what: str) -> None:
        self.conn, self.parent_pid, self.what = conn, parent_pid, what

    def recv(self, kind: str) -> tuple:
        """The parent's next message, which must be of ``kind``."""
        try:
            while not self.conn.poll(1.0):
                if os.getppid() != self.parent_pid:
                    raise _ParentGone
            msg = self.conn.recv()
        except (EOFError, OSError):
            raise _ParentGone from None
        if msg[0] != kind:
            raise OutputError(f"{self.what} writer: expected '{kind}', got '{msg[0]}'; report this as a bug")
        return msg


def _child_main(fd: int) -> None:
    """The writer process: run the job the parent names; report one line.

    Parameters
    ----------
    fd : int
        File descriptor of its end of the pipe to the parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends this process
    conn = multiprocessing.connection.Connection(fd)
    try:
        _, job, what, path, final, parent_pid, args = conn.recv()
    except (EOFError, OSError):  # the parent ended before it said what to write
        os._exit(1)
    _die_with_parent(parent_pid)
    try:
        module, func = job.split(":")
        getattr(importlib.import_module(module), func)(ChildSide(conn, parent_pid, what), path, final, *args)
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


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel sends SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG (linux/prctl.h)
        except (OSError, AttributeError):
            pass  # polled instead, between messages (ChildSide.recv)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
