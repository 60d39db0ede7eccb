"""What the command line shows while a run works: progress with units and a rate, quiet mode,
solver text captured.

Only the CLI talks to the user (see :mod:`pv_survey.cli`); the library calls
``progress(stage, done, total)`` and logs, and this module decides how that looks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from typing import Iterator

import click

log = logging.getLogger("pv_survey")

#: What one progress step counts, per stage (the stages the pipeline, partition and batch report).
STAGE_UNITS: dict[str, str] = {
    "shading": "roofs",
    "energy": "roofs",
    "tiles": "buildings",
    "outputs": "files",
    "flux": "roof cells",
}


def stage_unit(stage: str) -> str:
    """Unit of a progress step of ``stage``: listed, a resource's (``"facades shading"``), else 'items'."""
    from ..resources import stage_unit as resource_unit

    return STAGE_UNITS.get(stage) or resource_unit(stage) or "items"


def quiet() -> bool:
    """Whether ``-q`` was given (the root logger shows warnings and errors only)."""
    return logging.getLogger().getEffectiveLevel() >= logging.WARNING


def progress_line(stage: str, done: int, total: int, elapsed_s: float) -> str:
    """``[shading] 22,789 of 22,789 roofs, 2,100 roofs/s`` (the rate once some time has passed)."""
    unit = stage_unit(stage)
    # a rate only for bulk stages (roofs, tiles); "0 files/s" would say nothing
    rate = f", {done / elapsed_s:,.0f} {unit}/s" if elapsed_s > 0.05 and done > 0 and total >= 100 else ""
    return f"[{stage}] {done:,} of {total:,} {unit}{rate}"


class Progress:
    """A bar on a terminal, plain log lines (every 10 %) otherwise, nothing with ``-q``.

    Parameters
    ----------
    stream : file, optional
        Where a terminal bar goes (default: the current stderr).
    """

    def __init__(self, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # the current one, not the one at import
        self.quiet = quiet()
        self.tty = stream.isatty() and not self.quiet
        self.bar = None
        self.stage: str | None = None
        self.last_decile = -1
        self.done = 0
        self.t0 = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.last_decile, self.done, self.t0 = stage, -1, 0, time.perf_counter()
            if self.tty:
                unit = stage_unit(stage)
                self.bar = click.progressbar(length=max(total, 1), label=f"{stage:8s}", file=sys.stderr,
                                             show_pos=True, show_eta=True,
                                             item_show_func=lambda _: self._rate(unit))
                self.bar.__enter__()
        if self.quiet:
            self.done = done
            return
        if self.bar is not None:
            self.bar.update(done - self.done)
            self.done = done
        else:
            self.done = done
            decile = int(10 * done / max(total, 1))
            if decile > self.last_decile:
                self.last_decile = decile
                log.info("%s", progress_line(stage, done, total, time.perf_counter() - self.t0))

    def _rate(self, unit: str) -> str:
        dt = time.perf_counter() - self.t0
        return f"{self.done / dt:,.0f} {unit}/s" if dt > 0.05 and self.done else unit

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextlib.contextmanager
def captured_native_output() -> Iterator[None]:
    """Send what native code prints to file descriptor 1 (HiGHS's ``HighsMipSolverData::...``
    lines) to the debug log instead of the console.

    Python's own ``print`` / ``click.echo`` to stdout inside the block are captured too, so
    the CLI prints its results after the block. Not used when stdout is not a real file.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, a StringIO: nothing native to catch
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace").strip()
            if text:
                log.debug("native solver output:\n%s", text)
