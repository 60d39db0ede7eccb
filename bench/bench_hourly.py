"""Hourly profiles of the plan (issue 14): time and memory of the second, light energy pass.

``python -m bench.bench_hourly``

The embedded demo is surveyed once without writing (:func:`pv_survey.run_survey`,
``write=False``); then :func:`pv_survey.plan.plan_hourly` runs on its plan twice: the plan's own
build-year sites, and every site of the district put in one build year (the most a plan of
this district can hold). Reported: sites, roofs, wall time, the largest relative gap between a
site's hours and its plan ``annual_kwh``, the range of the roofs' scales (median horizon ->
assessed year) and the process's peak resident memory. Results go to
``bench/results/hourly.md``.
"""

from __future__ import annotations

import platform
import resource
import time
from pathlib import Path

import numpy as np

from pv_survey import plan as P
from pv_survey.config import Config
from pv_survey.pipeline import energy_params, load_weather, run_survey

RESULTS = Path(__file__).resolve().parent / "results" / "hourly.md"


def _measure(plan, roofs, wx, cfg) -> str:
    t0 = time.perf_counter()
    hp = P.plan_hourly(plan, roofs, wx, energy_params=energy_params(cfg), flat_max_tilt_deg=cfg.roofs.flat_max_tilt_deg)
    dt = time.perf_counter() - t0
    want = hp.site_info.set_index("building_id")["annual_kwh"].reindex(hp.sites.columns)
    rel = float((hp.sites.sum() / want - 1).abs().max())
    k = hp.scale[np.isfinite(hp.scale)]
    return (f"| {hp.sites.shape[1]:,} | {k.size:,} | {len(hp.sites):,} | {dt:.2f} | {rel:.1e} | "
            f"{k.min():.3f}-{k.max():.3f} (median {np.median(k):.4f}) | "
            f"{hp.sites.to_numpy().nbytes / 2**20:,.0f} |")


def main() -> None:
    cfg = Config()
    res = run_survey(cfg, write=False)
    wx, _ = load_weather(cfg)
    plan = res.plan.plan
    every = plan[plan["phase"] != P.PINNED_OUT].copy()
    every["build_year"] = every["build_year"].fillna(every["build_year"].max())
    every["phase"] = every["build_year"].astype(int).astype(str)
    rows = [_measure(plan, res.roofs, wx, cfg), _measure(every, res.roofs, wx, cfg)]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = "\n".join([
        "# Hourly profiles of the plan (`python -m bench.bench_hourly`)", "",
        f"{platform.platform()}, Python {platform.python_version()}; embedded demo district and weather year.", "",
        "| sites | roofs | hours | time (s) | max rel. gap to plan annual_kwh | roof scales | per-site table (MB) |",
        "|---|---|---|---|---|---|---|", *rows, "",
        "First row: the plan's build-year sites; second: every site of the district in one build year.",
        f"Peak resident memory of the whole process (survey included): {rss:,.0f} MB.", ""])
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
