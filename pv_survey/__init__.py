"""pv-survey: rooftop solar potential survey and installation planning.

The Python API mirrors the command line (for notebooks)::

    import pv_survey
    cfg = pv_survey.load_config("scenarios/tianhe-default.toml")
    result = pv_survey.run_survey(cfg, out_dir="outputs/my-run")
    result.plan.targets

=====================  ==============================================================
command                Python
=====================  ==============================================================
``pv-survey run``      :func:`run_survey` (``--workers`` / ``--scheduler``: :func:`run_partitioned`)
``pv-survey batch``    :func:`run_batch` with :func:`load_scenarios`
``pv-survey validate`` :func:`validate_buildings` (and :func:`read_buildings`)
``pv-survey energy``   :func:`simulate_roof_table` / :func:`simulate_roofs` with :func:`read_weather`
``pv-survey shade``    :func:`horizon_at_points` and :func:`sky_view_factor` on a :func:`dsm_from_buildings` / :func:`read_dsm`
``pv-survey demo-data`` :func:`write_demo_data`
=====================  ==============================================================

The heavy modules are imported on first use, so ``import pv_survey`` stays quick.
"""

from __future__ import annotations

import importlib

from .config import Config, load_config
from .errors import PVSurveyError

__version__ = "0.1.0"

#: public name -> module that defines it (imported lazily, PEP 562)
_LAZY = {
    "run_survey": "pipeline",
    "SurveyResult": "pipeline",
    "run_partitioned": "partition",
    "run_batch": "batch",
    "load_scenarios": "batch",
    "read_buildings": "inputs",
    "validate_buildings": "inputs",
    "read_weather": "weather",
    "default_weather": "weather",
    "simulate_roofs": "energy",
    "simulate_roof_table": "energy",
    "dsm_from_buildings": "shading",
    "read_dsm": "shading",
    "horizon_at_points": "shading",
    "sky_view_factor": "shading",
    "roof_horizons": "shading",
    "roof_flux": "flux",
    "plane_irradiation_kwh_m2": "energy",
    "build_plan": "plan",
    "write_demo_data": "demo",
}

__all__ = ["Config", "load_config", "PVSurveyError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pv_survey' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
