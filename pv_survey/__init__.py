"""pv-survey: rooftop solar potential survey and installation planning.

The Python API mirrors the command line::

    import pv_survey
    cfg = pv_survey.load_config("scenarios/tianhe-default.toml")
    result = pv_survey.run_survey(cfg, out_dir="outputs/my-run")
"""

from __future__ import annotations

from .config import Config, load_config
from .errors import PVSurveyError

__version__ = "0.1.0"

__all__ = ["Config", "load_config", "PVSurveyError", "__version__"]
