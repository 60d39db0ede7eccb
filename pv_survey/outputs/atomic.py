"""Atomic writes and the never-overwrite-silently rule for the output folder.

Every file is written under a temporary name in its own folder and renamed into place
with :func:`os.replace` (atomic on POSIX and Windows within one file system), so a
reader never sees half a file. A run stages all its files first and replaces the old
ones only when every new file is complete (:class:`Staging`); an interrupted run leaves
the previous outputs as they were.

A write, flush or rename that fails (disk full, permission denied, I/O error) is one
:class:`~pv_survey.errors.OutputError` naming the file and what to do
(:func:`write_failure`). The files a commit replaces are kept as hard links until every new
file is in place, so a rename failing half way puts the earlier outputs back.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import OutputError
from ..scratch import pid_alive

__all__ = [
    "OUTPUT_NAMES",
    "OUTPUT_PATTERNS",
    "existing_outputs",
    "other_files",
    "remove_stale_temps",
    "prepare_out_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "Staging",
    "write_failure",
]

#: Files a run writes into its output folder (checked before anything is computed).
OUTPUT_NAMES: tuple[str, ...] = (
    "survey.gpkg", "shortlist.csv", "report.html", "summary.md", "manifest.json", "cumulative_capacity.png",
    "zones.csv", "shortlists.xlsx", "README.txt", "report.pdf",
    "flux_annual.tif", "flux_annual.qml", "flux_monthly.tif", "flux_monthly.qml",
)
#: Name patterns of the per-phase and per-class shortlists.
OUTPUT_PATTERNS: tuple[str, ...] = ("shortlist_*.csv",)


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _os_error_in(exc: BaseException) -> OSError | None:
    """The first OSError with an errno in ``exc`` and its causes (GDAL and sqlite errors wrap them)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno is not None:
            return e
        e = e.__cause__ or e.__context__
    return None


def write_failure(path: str | Path, action: str, exc: BaseException, *, restored: bool = False) -> str:
    """One line saying that ``action`` (writing, flushing, replacing) ``path`` failed, why, and what to do.

    Disk full (ENOSPC, EDQUOT, EFBIG, or a GDAL / SQLite "disk is full") and permission
    denied (EACCES, EPERM, EROFS) get their own advice. The line ends by saying that the
    earlier outputs are as they were (``restored``: put back after a partial commit).
    """
    os_err = _os_error_in(exc)
    text = " ".join(str(exc).split())
    if os_err is not None:
        reason = os_err.strerror or errno.errorcode.get(os_err.errno, str(os_err.errno))
        code = os_err.errno
    else:
        reason, code = text or type(exc).__name__, None
    if code in _FULL or "disk is full" in text or "No space left" in text:
        advice = "free disk space or choose another --out"
    elif code in _DENIED or "ermission denied" in text or "read-only" in text.lower():
        advice = "check the folder's permissions or choose another --out"
    else:
        advice = "check free space and permissions or choose another --out"
    state = "were restored" if restored else "are as they were"
    return f"{path}: {action} failed ({reason}); {advice}; the earlier outputs in this folder {state}"


def _temp_name(path: Path) -> Path:
    """A hidden temporary name beside ``path`` that keeps its extension (GDAL picks drivers by it)."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.stem}.tmp-{token}{path.suffix}")


_TEMP_RE = re.compile(r"^\..+\.tmp-(?P<pid>\d+)-[0-9a-f]{8}(\.[^.]*)?(-journal|-wal|-shm)?$")


def remove_stale_temps(out_dir: str | Path) -> list[Path]:
    """Remove temporary files left in ``out_dir`` by a run that was killed (its process is gone)."""
    d = Path(out_dir)
    removed = []
    for p in d.glob(".*.tmp-*"):
        m = _TEMP_RE.match(p.name)
        if m and p.is_file() and not pid_alive(int(m["pid"])):
            p.unlink()
            removed.append(p)
    return removed


def existing_outputs(out_dir: str | Path) -> list[Path]:
    """Output files of an earlier run present in ``out_dir`` (sorted)."""
    d = Path(out_dir)
    if not d.is_dir():
        return []
    found = {d / n for n in OUTPUT_NAMES if (d / n).exists()}
    for pattern in OUTPUT_PATTERNS:
        found.update(p for p in d.glob(pattern) if p.is_file())
    return sorted(found)


def other_files(out_dir: str | Path) -> list[Path]:
    """Entries of ``out_dir`` that are neither pv-survey outputs nor its temporary files (sorted)."""
    d = Path(out_dir)
    if not d.is_dir():
        return []
    from .runlock import LOCK_NAME

    ours = set(existing_outputs(d))
    return sorted(p for p in d.iterdir() if p not in ours and not _TEMP_RE.match(p.name) and p.name != LOCK_NAME)


def prepare_out_dir(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Create the output folder and refuse to reuse one that holds outputs without ``overwrite``.

    Called before a run starts (so a long run does not fail at its end) and again by
    :func:`pv_survey.outputs.write_outputs`.

    Parameters
    ----------
    out_dir : path
        Output folder; created with its parents when missing.
    overwrite : bool
        Allow replacing the outputs of an earlier run and writing beside other files (which
        are left alone: only pv-survey's own file names are ever replaced or removed).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        The path is a file, cannot be created or written, or is not empty (holds outputs or
        other files) and ``overwrite`` is false.
    """
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise OutputError(f"{d}: output path exists and is not a folder; choose another --out")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{d}: cannot create the output folder ({exc.strerror}); choose another --out") from None
    if not os.access(d, os.W_OK | os.X_OK):
        raise OutputError(f"{d}: output folder is not writable; choose another --out or fix its permissions")
    remove_stale_temps(d)
    old = existing_outputs(d)
    if old and not overwrite:
        names = ", ".join(p.name for p in old[:4]) + (", ..." if len(old) > 4 else "")
        raise OutputError(
            f"{d}: already holds outputs ({names}); pass --overwrite to replace them "
            f"or choose another --out"
        )
    others = other_files(d)
    if others and not overwrite:
        names = ", ".join(p.name for p in others[:4]) + (", ..." if len(others) > 4 else "")
        raise OutputError(
            f"{d}: folder is not empty ({names}); choose another --out, or pass --overwrite to write "
            f"pv-survey's files beside them (other files are left alone)"
        )
    return d


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is untouched::

        with atomic_path("out/survey.gpkg") as tmp:
            write_something(tmp)

    Parameters
    ----------
    path : path
        Final file name; its folder must exist.
    """
    final = Path(path)
    tmp = _temp_name(final)
    action = "writing"
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"{final}: nothing was written to the temporary file {tmp.name}")
        action = "flushing to disk"
        _fsync_file(tmp)
        action = "renaming into place"
        os.replace(tmp, final)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(write_failure(final, action, exc)) from exc
    finally:
        _remove_quietly(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return final


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (``newline`` untranslated); returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def _remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal"),
              path.with_name(path.name + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class Staging:
    """Stage a set of files in one folder, then put them all in place.

    ``temp(name)`` gives the temporary path to write ``name`` to; ``commit()`` replaces
    the final files only after every staged file was written; leaving the ``with`` block
    by an exception removes every temporary file and leaves the old outputs as they were.

    Parameters
    ----------
    out_dir : path
        Folder of the final files.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self._staged: dict[str, Path] = {}

    def temp(self, name: str) -> Path:
        """Temporary path for the output file ``name`` (a bare file name)."""
        if Path(name).name != name:
            raise OutputError(f"{name}: an output name must be a bare file name, not a path")
        if name in self._staged:
            raise OutputError(f"{self.out_dir / name}: staged twice in one run; output names must be unique")
        tmp = _temp_name(self.out_dir / name)
        self._staged[name] = tmp
        return tmp

    @property
    def staged(self) -> dict[str, Path]:
        """Output name -> temporary path, in staging order."""
        return dict(self._staged)

    def commit(self, *, remove: Iterable[Path] = ()) -> dict[str, Path]:
        """Replace the final files by the staged ones; returns name -> final path.

        The file staged last seals the set (``write_outputs`` stages manifest.json, which
        hashes every other file, last): its old copy is removed before any file is replaced
        and the new one goes in place last, so a process killed half way through the renames
        leaves no seal that describes a mix of old and new files.

        Parameters
        ----------
        remove : iterable of paths
            Files of an earlier run that this set does not replace (e.g. a phase's shortlist
            that no longer exists); deleted after the old seal and before the renames.
        """
        missing = [n for n, t in self._staged.items() if not t.is_file()]
        if missing:
            raise OutputError(f"{self.out_dir / missing[0]}: was staged but never written; nothing was replaced")
        for name, tmp in self._staged.items():
            try:
                _fsync_file(tmp)
            except OSError as exc:
                raise OutputError(write_failure(self.out_dir / name, "flushing to disk", exc)) from exc
        seal = [self.out_dir / next(reversed(self._staged))] if self._staged else []
        finals = [self.out_dir / n for n in self._staged]
        # the files this commit replaces or removes are kept (hard links, no copy) until every new
        # file is in place, so a failed rename puts the earlier outputs back as they were
        backups: dict[Path, Path] = {}
        for old in dict.fromkeys([*finals, *remove]):
            if old.is_file():
                b = _temp_name(old)
                try:
                    os.link(old, b)
                except OSError as exc:
                    self._drop(backups)
                    backups = {}
                    if exc.errno in _FULL or exc.errno in (errno.EACCES, errno.EROFS):
                        raise OutputError(write_failure(old, "keeping the earlier file", exc)) from exc
                    break  # a file system without hard links (EPERM, EXDEV...): replace without a way back
                backups[old] = b
        done: dict[str, Path] = {}
        gone: list[Path] = []
        where, action = self.out_dir, "removing an earlier file"
        try:
            for old in (*seal, *remove):
                try:
                    where = old
                    old.unlink()
                    gone.append(old)
                except FileNotFoundError:
                    pass
            action = "renaming into place"
            for name, tmp in self._staged.items():
                where = final = self.out_dir / name
                os.replace(tmp, final)
                done[name] = final
        except OSError as exc:
            restored = self._roll_back(list(done.values()), gone, backups)
            raise OutputError(write_failure(where, action, exc, restored=restored)) from exc
        self._drop(backups)
        self._staged.clear()
        return done

    @staticmethod
    def _drop(backups: dict[Path, Path]) -> None:
        for b in backups.values():
            _remove_quietly(b)

    @staticmethod
    def _roll_back(placed: list[Path], gone: list[Path], backups: dict[Path, Path]) -> bool:
        """Put the earlier files back after a failed commit; True when every one was restored."""
        ok = True
        for final in placed:
            try:
                if final in backups:
                    os.replace(backups.pop(final), final)
                else:
                    final.unlink()  # a new file where there was none before
            except OSError:
                ok = False
        for final in gone:
            try:
                os.replace(backups.pop(final), final)
            except (KeyError, OSError):
                ok = False
        Staging._drop(backups)
        return ok

    def discard(self) -> None:
        """Remove every staged temporary file."""
        for tmp in self._staged.values():
            _remove_quietly(tmp)
        self._staged.clear()

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()
