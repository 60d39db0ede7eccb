"""One run at a time per output folder: a lock file, with stale locks of killed runs cleared.

A run holds ``<out>/.pv-survey.lock`` from before it looks at the folder until its outputs are in
place. A second run on the same folder is refused with a message naming the holder (pid, host,
start time); a batch process waits for it instead (``wait=True``). The lock is an advisory
``flock`` on the file, which the kernel drops when the holding process dies, however it dies
(SIGKILL, a crash, the power): a lock file left by a killed run is *stale*, detected because no
process holds its lock, and cleared by the next run, which says so in its log. The file's text
(pid, host, start time) is only for messages.

Within one process the lock is re-entrant for the thread that holds it (a batch claims a
scenario's folder, then runs the scenario there); another thread of the same process is refused
like another process.

On systems without ``fcntl`` (Windows) the lock is the file's existence (``O_EXCL``) and a lock
whose pid no longer runs on this host is stale.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import OutputError, RunLockedError
from ..scratch import pid_alive

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("pv_survey")

__all__ = ["LOCK_NAME", "LockInfo", "run_lock", "lock_holder", "is_locked", "file_lock"]

#: Name of the lock file in an output folder (hidden; never an output, never "another file").
LOCK_NAME = ".pv-survey.lock"
#: Seconds between tries while waiting for a lock without flock (the O_EXCL fallback).
_POLL_S = 0.2

_held: dict[str, list] = {}  # resolved folder -> [fd, count, thread id, created]
_held_guard = threading.Lock()


@dataclass(frozen=True)
class LockInfo:
    """The lock of one output folder as this run holds it.

    Attributes
    ----------
    folder : Path
        The output folder.
    created : bool
        This run created the folder (so a failed run may remove it again).
    stale : dict or None
        What the lock file said when this run found it unheld (a run that was killed), else None.
    """

    folder: Path
    created: bool
    stale: dict | None = None


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lock_holder(out_dir: str | Path) -> dict:
    """What the lock file of ``out_dir`` says (pid, host, started_utc, command); {} when none."""
    return _read(Path(out_dir) / LOCK_NAME)


def _describe(holder: dict) -> str:
    bits = []
    if holder.get("pid"):
        bits.append(f"pid {holder['pid']}")
    if holder.get("host"):
        bits.append(f"on {holder['host']}")
    if holder.get("started_utc"):
        bits.append(f"since {holder['started_utc']}")
    return " ".join(bits) or "another process"


def _refused(folder: Path, holder: dict) -> RunLockedError:
    return RunLockedError(f"{folder}: another pv-survey run ({_describe(holder)}) is writing to this folder; wait "
                          "for it to finish or choose another --out")


def _make_folder(folder: Path) -> bool:
    """Create ``folder`` (and parents); True when this call created it."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: output path exists and is not a folder; choose another --out")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir()
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror}); choose another --out") \
            from exc


def _stamp(fd: int, command: str) -> None:
    text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                       "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8"), 0)


def _acquire_flock(folder: Path, wait: bool, command: str) -> tuple[int, bool, dict | None]:
    """(fd, created, stale holder) with the flock held; RunLockedError when held and not ``wait``."""
    while True:
        created = _make_folder(folder)
        path = folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the folder was removed in between (a failed run cleaning up): again
            continue
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the lock file {LOCK_NAME} ({exc.strerror}); check the "
                              "folder's permissions or choose another --out") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = _read(path)
            os.close(fd)
            raise _refused(folder, holder) from None
        except OSError as exc:
            os.close(fd)
            raise OutputError(f"{folder}: cannot lock {LOCK_NAME} ({exc.strerror}); the file system may not support "
                              "locks: choose another --out") from exc
        # the holder before us may have removed the file between our open and our lock: then the
        # lock we hold is on a file no one else will see; take the lock of the file that is there
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        previous = os.pread(fd, 4096, 0)
        stale = None
        if previous.strip():
            try:
                stale = json.loads(previous.decode("utf-8"))
            except ValueError:
                stale = {"text": previous[:200].decode("utf-8", "replace")}
        _stamp(fd, command)
        return fd, created, stale


def _acquire_excl(folder: Path, wait: bool, command: str) -> tuple[int, bool, dict | None]:  # pragma: no cover
    """The O_EXCL fallback: the file's existence is the lock; a dead pid's file is stale."""
    stale = None
    while True:
        created = _make_folder(folder)
        path = folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder.get("host") == socket.gethostname() and holder.get("pid") \
                    and not pid_alive(int(holder["pid"])):
                stale = holder
                path.unlink(missing_ok=True)
                continue
            if not wait:
                raise _refused(folder, holder) from None
            time.sleep(_POLL_S)
            continue
        _stamp(fd, command)
        return fd, created, stale


def _clean_up(folder: Path) -> None:
    """Remove a folder this run created when it holds nothing but pv-survey's own files."""
    from .atomic import other_files

    if folder.is_dir() and not other_files(folder):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def run_lock(out_dir: str | Path, *, wait: bool = False, command: str = "run",
             remove_if_created: bool = True) -> Iterator[LockInfo]:
    """Hold the lock of the output folder ``out_dir`` (created when missing) for the block.

    Parameters
    ----------
    out_dir : path
        Output folder.
    wait : bool
        Wait for a run holding the lock to finish instead of refusing.
    command : str
        What holds the lock, for other runs' messages (``run``, ``batch``).
    remove_if_created : bool
        When the block fails (any exception, an interrupt too) and this call created the folder,
        remove it again, unless it holds files that are not pv-survey's.

    Yields
    ------
    LockInfo

    Raises
    ------
    RunLockedError
        Another run holds the lock and ``wait`` is false.
    OutputError
        The folder cannot be created or locked.
    """
    folder = Path(out_dir)
    key = str(folder.resolve())
    me = threading.get_ident()
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            if entry[2] != me:
                raise _refused(folder, {"pid": os.getpid(), "host": socket.gethostname()})
            entry[1] += 1
    if entry is not None:  # re-entered by the thread that holds it
        try:
            yield LockInfo(folder, created=False)
        finally:
            with _held_guard:
                entry[1] -= 1
        return
    fd, created, stale = (_acquire_flock if fcntl is not None else _acquire_excl)(folder, wait, command)
    if stale:
        log.info("%s: a stale lock of a run that no longer runs (%s) was found and cleared", folder, _describe(stale))
    with _held_guard:
        _held[key] = [fd, 1, me, created]
    try:
        yield LockInfo(folder, created=created, stale=stale)
    except BaseException:
        if created and remove_if_created:
            _clean_up(folder)  # under the lock: no other run is in the folder
        raise
    finally:
        with _held_guard:
            _held.pop(key, None)
        try:
            (folder / LOCK_NAME).unlink()  # while still locked: a waiting run then sees a new file
        except OSError:
            pass
        os.close(fd)


def is_locked(out_dir: str | Path) -> bool:
    """Whether a run (another process, or another thread of this one) holds the lock of ``out_dir``."""
    folder = Path(out_dir)
    if str(folder.resolve()) in _held:
        return True
    path = folder / LOCK_NAME
    if not path.is_file():
        return False
    if fcntl is None:  # pragma: no cover
        holder = _read(path)
        return bool(holder.get("pid")) and pid_alive(int(holder["pid"]))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created, kept) for a short read-modify-write.

    Waits for another holder. For bookkeeping files that several processes update (a batch's
    ``batch_state.json``); the lock file stays in place, so there is no race on its inode.
    """
    p = Path(path)
    if fcntl is None:  # pragma: no cover - the O_EXCL fallback
        while True:
            try:
                fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            os.close(fd)
            p.unlink(missing_ok=True)
        return
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
