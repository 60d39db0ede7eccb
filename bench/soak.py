"""Soak: many consecutive small surveys in one process through the Python API (issue 18, item 3).

``python -m bench.soak [--runs 200] [--buildings 60] [--warmup 20]``

A synthetic district (:func:`pv_survey.citygen.write_city`, Guangzhou-like block mix) of
``--buildings`` footprints is written to GeoParquet once. Then :func:`pv_survey.run_survey`
runs on it ``--runs`` times in this one process, each run writing every output (GeoPackage,
CSVs, workbook, charts, report, manifest) into one of two folders in turn (``overwrite=True``),
as a notebook or a service calling the API would. After every run the process's resident memory
(psutil ``memory_info().rss``), its open file descriptors (``num_fds()``) and threads are recorded.

A leak shows as growth after the first runs (``--warmup``: numba kernels compile or load,
matplotlib builds its font cache, the weather year is read once and kept): reported are the
least-squares slope of RSS against run number after the warm-up (MB per 100 runs), the median
RSS of the first and last 20 runs after it, and the smallest and largest count of open files
and threads after it. Results go to ``bench/results/soak.json`` (with every run's figures) and
``bench/results/soak.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _extent(path: Path) -> list[float]:
    """A survey extent (lon/lat) around the city, so no building is reported as far outside."""
    import geopandas as gpd
    from pyproj import Transformer

    b = gpd.read_parquet(path, columns=["geometry"]).total_bounds
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)
    lon0, lat0 = tr.transform(b[0], b[1])
    lon1, lat1 = tr.transform(b[2], b[3])
    pad = 0.01  # [deg]
    return [round(lon0 - pad, 4), round(lat0 - pad, 4), round(lon1 + pad, 4), round(lat1 + pad, 4)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--buildings", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=20)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    if not 0 < args.warmup < args.runs - 20:
        ap.error("--warmup must leave at least 20 runs after it")

    import psutil
    import pv_survey
    from pv_survey.citygen import write_city
    from pv_survey.config import Config

    proc = psutil.Process()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pv-soak-") as tmp:
        d = Path(tmp)
        city = d / "city.parquet"
        write_city(city, args.buildings)
        cfg = Config().replace(inputs={"buildings": str(city)}, survey={"name": "soak", "extent_lon_lat": _extent(city)})
        t_all = time.perf_counter()
        for k in range(1, args.runs + 1):
            t0 = time.perf_counter()
            res = pv_survey.run_survey(cfg, out_dir=d / f"out{k % 2}", overwrite=True)
            wall = time.perf_counter() - t0
            n_paths = len(res.paths)
            del res
            gc.collect()
            rows.append({"run": k, "wall_s": round(wall, 3), "rss_mb": proc.memory_info().rss / 2**20,
                         "open_fds": proc.num_fds(), "threads": proc.num_threads(), "files_written": n_paths})
            if k % 10 == 0 or k == 1:
                r = rows[-1]
                print(f"run {k:4d}: {wall:5.2f} s, rss {r['rss_mb']:7.1f} MB, fds {r['open_fds']}, "
                      f"threads {r['threads']}", flush=True)
        total_s = time.perf_counter() - t_all
    after = rows[args.warmup:]
    run = np.array([r["run"] for r in after], dtype=float)
    rss = np.array([r["rss_mb"] for r in after])
    slope = float(np.polyfit(run, rss, 1)[0]) * 100.0  # [MB per 100 runs]
    summary = {
        "runs": args.runs, "buildings": args.buildings, "warmup_runs": args.warmup,
        "total_s": round(total_s, 1), "median_run_s": round(float(np.median([r["wall_s"] for r in rows])), 3),
        "rss_first_run_mb": round(rows[0]["rss_mb"], 1),
        "rss_median_first20_after_warmup_mb": round(float(np.median(rss[:20])), 1),
        "rss_median_last20_mb": round(float(np.median(rss[-20:])), 1),
        "rss_slope_mb_per_100_runs": round(slope, 2),
        "rss_max_mb": round(float(rss.max()), 1),
        "open_fds_min_max_after_warmup": [min(r["open_fds"] for r in after), max(r["open_fds"] for r in after)],
        "threads_min_max_after_warmup": [min(r["threads"] for r in after), max(r["threads"] for r in after)],
        "files_written_per_run": rows[-1]["files_written"],
        "measured": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "command": " ".join(["python -m bench.soak", *argv]),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps({"summary": summary, "runs": [
        {**r, "rss_mb": round(r["rss_mb"], 2)} for r in rows]}, indent=1) + "\n", encoding="utf-8")
    s = summary
    md = [
        "# Soak: consecutive runs in one process (bench/soak.py)", "",
        f"`{s['command'].strip()}` -- {s['runs']} runs of `pv_survey.run_survey` on a {s['buildings']}-building "
        f"synthetic district, every output written each run; measured {s['measured']} on {s['cpus']} CPUs "
        f"(load average at the end {s['load_average_at_end'][0]}).", "",
        "| figure | value |", "|---|---:|",
        f"| runs (warm-up excluded from the figures below) | {s['runs']} ({s['warmup_runs']}) |",
        f"| total time / median run | {s['total_s']:,.0f} s / {s['median_run_s']:.2f} s |",
        f"| resident memory after run 1 | {s['rss_first_run_mb']:,.1f} MB |",
        f"| resident memory, median of the first 20 runs after warm-up | {s['rss_median_first20_after_warmup_mb']:,.1f} MB |",
        f"| resident memory, median of the last 20 runs | {s['rss_median_last20_mb']:,.1f} MB |",
        f"| resident memory, least-squares slope after warm-up | {s['rss_slope_mb_per_100_runs']:+.2f} MB per 100 runs |",
        f"| open file descriptors after warm-up (min - max) | {s['open_fds_min_max_after_warmup'][0]} - "
        f"{s['open_fds_min_max_after_warmup'][1]} |",
        f"| threads after warm-up (min - max) | {s['threads_min_max_after_warmup'][0]} - "
        f"{s['threads_min_max_after_warmup'][1]} |",
        "",
    ]
    (RESULTS / "soak.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
