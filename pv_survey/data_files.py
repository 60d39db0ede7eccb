"""Where the embedded data lives: the demo district, its car parks and the default weather year.

An installed wheel carries them as package data of ``pv_survey.data`` (found with
:mod:`importlib.resources`); a source checkout (editable install, tests) reads the
repository's ``data/``, which ``pyproject.toml`` maps onto that package and
``pv-survey demo-data`` regenerates.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["data_dir", "data_path", "CHECKOUT_DATA_DIR"]

#: The repository's ``data/`` folder (exists in a source checkout only).
CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[1] / "data"
#: A file every copy of the embedded data holds, used to recognise one.
_MARKER = "guangzhou_default_year.csv"


def data_dir() -> Path:
    """Folder of the embedded data: the package data of an installed wheel, else the checkout's ``data/``."""
    try:
        pkg = resources.files("pv_survey.data")
    except ModuleNotFoundError:  # a checkout without the mapped package: the repository's data/
        return CHECKOUT_DATA_DIR
    for candidate in getattr(pkg, "_paths", [pkg]):  # a namespace package may span several folders
        path = Path(str(candidate))
        if (path / _MARKER).is_file():
            return path
    return CHECKOUT_DATA_DIR


def data_path(name: str) -> Path:
    """Path of one embedded data file (it may be missing; the caller says what to do)."""
    return data_dir() / name
