"""Scratch folders of a run, named by its process id, and the sweep of those a killed run left.

A run keeps large scratch files outside its output folder: the module layout's spool
(:class:`pv_survey.outputs.spool.LayerSpool`, gigabytes for a city of a million buildings), the
buildings read in windows (:class:`pv_survey.inputs.store.BuildingStore`) and the layers handed to
the writer processes (:class:`pv_survey.outputs.writer_process.WriterProcess`). A run that ends,
fails or is interrupted removes them; one that is killed (SIGKILL, out of memory, the power)
cannot. Each folder is named ``pv-survey-<kind>-<pid>-<random>``, and making a new one first removes
the folders of the same kind whose process no longer runs on this machine, as the output folder's
temporary files are (:func:`pv_survey.outputs.atomic.remove_stale_temps`). Low level: imports nothing
of the package.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = ["scratch_dir", "remove_stale_scratch", "pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when it cannot be told: its files stay)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_scratch(directory: str | Path, kind: str) -> list[Path]:
    """Remove the ``pv-survey-<kind>-<pid>-*`` folders in ``directory`` whose process has ended.

    Only folders of this user whose name carries a process id are touched (folders of other users,
    of a running process, or of an older version without the id in their name are left).

    Returns
    -------
    list of Path
        The folders removed.
    """
    pattern = re.compile(rf"pv-survey-{re.escape(kind)}-(\d+)-[^/]+")
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for p in entries:
        m = pattern.fullmatch(p.name)
        if m is None or int(m[1]) == os.getpid():
            continue
        try:
            st = p.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid) or pid_alive(int(m[1])):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def scratch_dir(kind: str, directory: str | Path | None = None) -> Path:
    """A new scratch folder ``pv-survey-<kind>-<pid>-<random>`` in ``directory`` (default: the system's
    temporary folder), after removing the folders of that kind left by ended processes there."""
    base = Path(directory) if directory is not None else Path(tempfile.gettempdir())
    remove_stale_scratch(base, kind)
    return Path(tempfile.mkdtemp(prefix=f"pv-survey-{kind}-{os.getpid()}-", dir=base))
