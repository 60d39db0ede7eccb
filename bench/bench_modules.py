"""Module layout benchmark: layout and per-module yield on the embedded demo district (issue 19 item 5).

``python -m bench.bench_modules [--quick]`` runs the default survey of the demo district
(``run_survey(Config())``, outputs written to a temporary folder) ``--repeat`` times after one
warm-up run (numba compilation and caches), and reads the run's stage timers:

* ``layout``: placing the modules on every kept roof plane (:func:`pv_survey.layout.place_modules`);
* ``modules``: the per-segment yield (a horizon from each row segment's centre and the engine's
  fast path, :func:`pv_survey.assessment.assess_units`);
* the rest of the tiles stage is the roofs-only run: roof planes, their sample points, horizons and
  yield (what a run did before issue 19).

Target (issue 19 item 5): layout and per-module yield within 2 x the roofs-only run. Three ratios
are reported: (layout + yield) / roofs-only tiles, tiles / roofs-only tiles, and the whole run over
the same run less the module stages and the time to write the module layers (timed apart).
The machine is shared: the load average before and after each run and the process's CPU / wall
are recorded. Results go to ``bench/results/modules.json`` and ``.md``. ``--quick`` runs a 600-building
subset once (a smoke test).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

from bench import write_results

TARGET_RATIO = 2.0


def _subset_config(n_buildings: int, tmp: Path):
    import geopandas as gpd
    import numpy as np

    from pv_survey.config import Config
    from pv_survey.pipeline import DEFAULT_BUILDINGS

    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    d = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    path = tmp / "subset.gpkg"
    b[d <= np.sort(d.to_numpy())[n_buildings - 1]].to_file(path, layer="buildings")
    return Config().replace(inputs={"buildings": str(path)})


def _layer_write_s(layers: dict, tmp: Path) -> float:
    """Seconds to write the module layers alone (what the outputs stage spends on them)."""
    from pv_survey.outputs.gpkg import table_layer, write_gpkg

    path = tmp / "module_layers.gpkg"
    if path.exists():
        path.unlink()
    t0 = time.perf_counter()
    write_gpkg(path, {k: table_layer(v) for k, v in layers.items() if k in ("modules", "site_curves")})
    return time.perf_counter() - t0


def run_once(cfg, tmp: Path) -> dict:
    from pv_survey.pipeline import run_survey

    load0 = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    res = run_survey(cfg, out_dir=tmp / "run", overwrite=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    t = res.summary["timings_s"]
    kept = res.roofs["excluded_reason"].fillna("") == ""
    seg = res.layers.get("modules")
    layout_s, modules_s, tiles_s = float(t.get("layout", 0.0)), float(t.get("modules", 0.0)), float(t["tiles"])
    write_s = _layer_write_s(res.layers, tmp)
    roofs_only = tiles_s - layout_s - modules_s
    extra = layout_s + modules_s
    run_roofs_only = wall - extra - write_s
    return {"wall_s": round(wall, 2), "cpu_over_wall": round(cpu / wall, 2), "tiles_s": tiles_s,
            "layout_s": layout_s, "modules_s": modules_s, "layers_write_s": round(write_s, 2),
            "roofs_only_s": round(roofs_only, 3), "run_roofs_only_s": round(run_roofs_only, 2),
            "ratio": round(tiles_s / roofs_only, 3) if roofs_only > 0 else float("nan"),
            "extra_ratio": round(extra / roofs_only, 3) if roofs_only > 0 else float("nan"),
            "run_ratio": round(wall / run_roofs_only, 3) if run_roofs_only > 0 else float("nan"),
            "roofs_kept": int(kept.sum()), "n_modules": int(res.roofs.loc[kept, "n_modules"].sum()),
            "n_segments": int(len(seg)) if seg is not None else 0,
            "capacity_kwp": round(float(res.roofs.loc[kept, "capacity_kwp"].sum()), 1),
            "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2)}


def _markdown(doc: dict) -> str:
    s = doc["settings"]
    lines = [
        "# Module layout benchmark",
        "",
        f"Command: `{doc['command']}`; {doc['when']}; {doc['cpus']} CPUs, Python {doc['python']}.",
        f"Case: {doc['case']}; module {s['module']}, row segments of at most {s['segment_max_modules']} modules, "
        f"`modules_layer = {s['modules_layer']}`.",
        "",
        "| run | run wall [s] | tiles [s] | layout [s] | per-segment yield [s] | writing the module layers [s] | "
        "roofs-only tiles [s] | roofs-only run [s] | (layout + yield) / roofs-only tiles | tiles / roofs-only tiles | "
        "run / roofs-only run | modules | segments | capacity [kWp] | CPU / wall | load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(doc["runs"], 1):
        lines.append(f"| {i} | {r['wall_s']:.1f} | {r['tiles_s']:.1f} | {r['layout_s']:.1f} | {r['modules_s']:.1f} | "
                     f"{r['layers_write_s']:.1f} | {r['roofs_only_s']:.1f} | {r['run_roofs_only_s']:.1f} | "
                     f"{r['extra_ratio']:.2f} | {r['ratio']:.2f} | {r['run_ratio']:.2f} | {r['n_modules']:,} | "
                     f"{r['n_segments']:,} | {r['capacity_kwp']:,.0f} | "
                     f"{r['cpu_over_wall']:.2f} | {r['load_before']:.1f} / {r['load_after']:.1f} |")
    best = doc["best"]
    met_extra = best["extra_ratio"] <= TARGET_RATIO
    met_total = best["ratio"] <= TARGET_RATIO
    lines += [
        "",
        f"Best run (least tiles time): tiles {best['tiles_s']:.1f} s = roofs-only {best['roofs_only_s']:.1f} s + layout "
        f"{best['layout_s']:.1f} s + per-segment yield {best['modules_s']:.1f} s. Layout and per-segment yield take "
        f"{best['extra_ratio']:.2f} x the roofs-only time ({'within' if met_extra else 'NOT within'} "
        f"{TARGET_RATIO:g} x); the whole tiles stage with them takes {best['ratio']:.2f} x the roofs-only one "
        f"({'within' if met_total else 'NOT within'} {TARGET_RATIO:g} x); the whole run (inputs to outputs) "
        f"takes {best['run_ratio']:.2f} x the same run without the module stages and without writing the module "
        f"layers. Medians over the runs: {doc['median_extra_ratio']:.2f}, {doc['median_ratio']:.2f} and "
        f"{doc['median_run_ratio']:.2f}.",
        "",
        "The roofs-only time is the same run's tiles stage without the two module stages (roof planes, "
        "sample points, horizons, yield: what a run did before issue 19). CPU / wall is the process's CPU time "
        "over its wall time (2.0 = both cores busy with this run alone; lower = the machine was shared). The "
        "load average is the 1-minute figure of the whole machine.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a 600-building subset, one run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    import tempfile

    from pv_survey.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        cfg = _subset_config(600, Path(tmp)) if args.quick else Config()
        case = "600-building subset of the demo district" if args.quick else "demo district (4,834 buildings)"
        run_once(cfg, Path(tmp))  # warm-up: numba compilation / cache load, weather and IAM tables
        runs = [run_once(cfg, Path(tmp)) for _ in range(1 if args.quick else max(args.repeat, 1))]
    best = min(runs, key=lambda r: r["tiles_s"])
    ratios = sorted(r["ratio"] for r in runs)
    extra = sorted(r["extra_ratio"] for r in runs)
    whole = sorted(r["run_ratio"] for r in runs)
    doc = {"command": "python -m bench.bench_modules" + (" --quick" if args.quick else ""),
           "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
           "python": platform.python_version(), "case": case,
           "settings": {"module": cfg.roofs.module, "segment_max_modules": cfg.roofs.segment_max_modules,
                        "modules_layer": cfg.roofs.modules_layer},
           "runs": runs, "best": best, "median_ratio": ratios[len(ratios) // 2],
           "median_extra_ratio": extra[len(extra) // 2], "median_run_ratio": whole[len(whole) // 2],
           "target_ratio": TARGET_RATIO}
    write_results(args.out_dir, "modules-quick" if args.quick else "modules", doc, _markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
