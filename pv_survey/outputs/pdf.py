"""report.pdf: the report printed to A4 by a headless Chromium, where one is installed.

Chromium (or Google Chrome) is run as a separate process with a fresh profile in a
temporary folder, no network access (every host name resolves to nothing) and no
first-run, sync or update traffic; the report's own print CSS (A4, page breaks) lays it out.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import OutputError

__all__ = ["BROWSERS", "find_chromium", "print_pdf"]

log = logging.getLogger(__name__)

#: Executable names looked for on PATH, in order (Debian, other distributions, Google's build).
BROWSERS: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer")
_TIMEOUT_S = 180  # generous for a district report of a few MB on a slow machine [s]


def find_chromium() -> str | None:
    """Path of a Chromium / Chrome executable on PATH, or None."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, browser: str | None = None) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, from the page's print CSS) with headless Chromium.

    Raises
    ------
    OutputError
        No browser was found, or it failed or wrote nothing.
    """
    exe = browser or find_chromium()
    if exe is None:
        raise OutputError("report.pdf needs Chromium or Chrome (Debian: apt-get install chromium); "
                          "leave out --pdf or install one")
    html, pdf = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="pv-survey-chromium-") as profile:
        try:
            r = subprocess.run([exe, *_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()],
                               capture_output=True, text=True, timeout=_TIMEOUT_S,
                               env={"HOME": profile, "PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OutputError(f"{exe}: could not print report.pdf ({exc}); leave out --pdf") from exc
    if r.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (r.stderr or "").strip().splitlines()[-1:] or [""]
        raise OutputError(f"{exe}: printing report.pdf failed (exit {r.returncode}: {tail[0][:200]}); leave out --pdf")
    return pdf
