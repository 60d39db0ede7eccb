"""The one exception hierarchy of pv-survey.

Every error a user can cause derives from :class:`PVSurveyError`. Subclasses
also inherit the matching builtin (as rasterio's ``RasterioIOError(RasterioError,
OSError)`` does), so library users can catch either. The CLI turns a
``PVSurveyError`` into one line on stderr and exit code 2 -- in one place,
:func:`pv_survey.cli.main`.

Messages say what was wrong, the value seen, and how to fix it, and name the
file, row or field.
"""

from __future__ import annotations


class PVSurveyError(Exception):
    """Root of all pv-survey errors caused by input, configuration or environment."""


class ConfigError(PVSurveyError, ValueError):
    """A scenario configuration is invalid (unknown key, wrong type, out of range)."""


class InputError(PVSurveyError, ValueError):
    """An input dataset (buildings, roofs, DSM, weather) cannot be used."""


class InputFileError(PVSurveyError, OSError):
    """An input file is missing, unreadable, truncated or of an unknown format."""


class CRSError(InputError):
    """Coordinates are missing a CRS, in an unsupported CRS, or implausible."""


class WeatherError(InputError):
    """A weather file cannot be used (format, gaps, impossible values)."""


class OutputError(PVSurveyError, OSError):
    """An output cannot be written (exists without --overwrite, not writable)."""


class RunLockedError(OutputError):
    """Another run is writing to the same output folder (its lock is held)."""


class ClusterError(PVSurveyError, RuntimeError):
    """The dask cluster lost a task's worker too often, or went away, so the run cannot finish."""


class AccountingError(PVSurveyError, RuntimeError):
    """End-of-run accounting does not balance (buildings lost, totals disagree)."""
