"""Per-segment yield benchmark: the per-point engine against the sums by orientation (issue 13).

``python -m bench.bench_segments [--quick] [--city N] [--repeat R]``

1. The demo district's module row segments (or, with ``--quick``, those of its 600 central
   buildings) are collected as a survey assesses them: ``run_survey(Config())`` once with
   :func:`pv_survey.energy.simulate_by_orientation` recorded (inputs of each call). On them, best
   of ``--repeat`` after a warm-up:

   * ``engine``: :func:`pv_survey.energy.simulate_roofs` with ``reference=False`` (one pass over the
     hours with light per segment; what ``assess_units`` used before);
   * ``grouped``: :func:`pv_survey.energy.simulate_by_orientation` as ``assess_units`` calls it, and
     with every group summed (``min_group_points=1``) or only groups of 16 and more;

   with segments/s and the largest and mean relative difference of ``annual_kwh`` and
   ``poa_kwh_m2`` between the two; and both methods by orientation group size (4,096 of the
   recorded horizons on flush planes in groups of 1 to 64 points), which sets
   :data:`pv_survey.energy.ORIENTATION_MIN_POINTS`.
2. With ``--city N`` (e.g. 20000): a synthetic city of N buildings
   (:func:`pv_survey.citygen.write_city`, as ``bench.bench_scale``) surveyed in this process twice
   after a warm-up on the demo subset, with the segments' yield by the per-point engine (before)
   and by orientation (after); the run's ``modules`` stage (``assess_units``: horizons, sky view,
   yield, unshaded reference) and the time inside the yield call are reported.

The machine is shared: the load average is recorded. Results go to ``bench/results/segments.json``
and ``.md`` (``segments-quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import write_results


def _record_segments(cfg, tmp: Path) -> list[tuple[tuple, dict]]:
    """The arguments of every simulate_by_orientation call of one survey run."""
    from pv_survey import energy
    from pv_survey.pipeline import run_survey

    calls = []
    grouped = energy.simulate_by_orientation

    def record(*args, **kw):
        calls.append((args, kw))
        return grouped(*args, **kw)

    energy.simulate_by_orientation = record
    try:
        run_survey(cfg, out_dir=tmp / "record", overwrite=True)
    finally:
        energy.simulate_by_orientation = grouped
    return calls


def _concat(calls):
    """One call's arguments from all recorded calls (they share the weather and energy settings)."""
    (w, *_), kw0 = calls[0]
    pos = [np.concatenate([np.asarray(c[0][i]) for c in calls]) for i in (1, 2, 3)]
    kw = {k: (np.concatenate([np.asarray(c[1][k]) for c in calls]) if isinstance(kw0[k], np.ndarray) else kw0[k])
          for k in kw0}
    return (w, *pos), kw


def _best(fn, repeat: int) -> tuple[float, object]:
    out, best = None, float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def segment_rates(args, kw, repeat: int) -> dict:
    from pv_survey import energy

    kw_engine = {k: v for k, v in kw.items() if k != "min_group_points"}
    n = len(args[1])
    energy.simulate_roofs(*[a[:64] if isinstance(a, np.ndarray) else a for a in args], reference=False,
                          **{k: (v[:64] if isinstance(v, np.ndarray) else v) for k, v in kw_engine.items()})
    energy.simulate_by_orientation(*args, **kw)  # warm-up (numba cache load)
    t_eng, eng = _best(lambda: energy.simulate_roofs(*args, reference=False, **kw_engine), repeat)
    out = {"n_segments": n, "engine_s": round(t_eng, 3), "engine_per_s": round(n / t_eng)}
    for label, mg in (("grouped", None), ("grouped_all", 1), ("grouped_min16", 16)):
        extra = {} if mg is None else {"min_group_points": mg}
        t, got = _best(lambda: energy.simulate_by_orientation(*args, **{**kw_engine, **extra}), repeat)
        out[f"{label}_s"] = round(t, 3)
        out[f"{label}_per_s"] = round(n / t)
        if mg is None:
            out["grouped_frac"] = round(got.attrs["grouped_frac"], 4)
            out["exact_hours_per_point"] = round(got.attrs["exact_hours_per_point"], 2)
            for col in ("annual_kwh", "poa_kwh_m2"):
                a = eng[col].to_numpy()
                rel = np.abs(got[col].to_numpy() - a) / np.maximum(np.abs(a), 1e-300)
                out[f"{col}_max_rel_dev"] = float(f"{rel.max():.3g}")
                out[f"{col}_mean_rel_dev"] = float(f"{rel.mean():.3g}")
    n_groups = energy.orientation_groups(args[1], args[2], np.asarray(kw["mount"]) == "rack", kw["gcr"])[1].size
    out["n_orientations"] = int(n_groups)
    out["speedup"] = round(t_eng / out["grouped_s"], 1)
    return out


def group_sizes(args, kw, sizes=(1, 4, 6, 8, 12, 16, 32, 64), n: int = 4096, seed: int = 1) -> list[dict]:
    """Segments/s of both methods by orientation group size: ``n`` of the recorded segments' horizons
    on flush planes in groups of k points (random tilts 5-40 deg, azimuths 90-270 deg)."""
    from pv_survey import energy

    rng = np.random.default_rng(seed)
    w = args[0]
    pick = rng.choice(len(args[1]), n)
    hz, svf, band = (np.asarray(kw[k])[pick] for k in ("horizon_deg", "sky_view_frac", "horizon_band_open_frac"))
    out = []
    for k in sizes:
        m = (n // k) * k
        tilt = np.repeat(rng.uniform(5, 40, n // k), k)
        az = np.repeat(rng.uniform(90, 270, n // k), k)
        one = dict(mount="flush", horizon_deg=hz[:m], sky_view_frac=svf[:m], horizon_band_open_frac=band[:m])
        t_e, _ = _best(lambda: energy.simulate_roofs(w, tilt, az, np.ones(m), reference=False, **one), 2)
        t_g, _ = _best(lambda: energy.simulate_by_orientation(w, tilt, az, np.ones(m), min_group_points=1, **one), 2)
        out.append({"group_points": k, "engine_per_s": round(m / t_e), "grouped_per_s": round(m / t_g),
                    "ratio": round(t_e / t_g, 2)})
    return out


def city_modules(n_buildings: int, tmp: Path) -> dict:
    """The modules stage of an N-building synthetic city, segments by the engine (before) and grouped (after)."""
    from pv_survey import energy
    from pv_survey.citygen import write_city
    from pv_survey.config import load_config
    from pv_survey.pipeline import run_survey

    from bench.bench_scale import _city_config

    city = tmp / f"city_{n_buildings}.parquet"
    write_city(city, n_buildings)
    toml = tmp / f"city_{n_buildings}.toml"
    _city_config(city, toml, f"city-{n_buildings}")
    cfg = load_config(toml)
    grouped = energy.simulate_by_orientation
    spent = []

    def by_engine(*args, **kw):
        t0 = time.perf_counter()
        kw = {k: v for k, v in kw.items() if k != "min_group_points"}
        out = energy.simulate_roofs(*args, reference=False, **kw)[["annual_kwh", "specific_yield_kwh_kwp",
                                                                   "poa_kwh_m2", "performance_ratio"]]
        spent.append((time.perf_counter() - t0, len(out)))
        return out

    def by_orientation(*args, **kw):
        t0 = time.perf_counter()
        out = grouped(*args, **kw)
        spent.append((time.perf_counter() - t0, len(out)))
        return out

    res = {}
    for label, fn in (("before", by_engine), ("after", by_orientation)):
        spent.clear()
        energy.simulate_by_orientation = fn
        load0 = os.getloadavg()[0]
        try:
            t0 = time.perf_counter()
            run = run_survey(cfg, out_dir=tmp / f"out_{label}", overwrite=True, write=False)
            wall = time.perf_counter() - t0
        finally:
            energy.simulate_by_orientation = grouped
        t = run.summary["timings_s"]
        res[label] = {"modules_s": round(float(t.get("modules", 0.0)), 2),
                      "yield_call_s": round(sum(s for s, _ in spent), 2), "n_segments": sum(k for _, k in spent),
                      "run_wall_s": round(wall, 1), "load_before": round(load0, 2),
                      "load_after": round(os.getloadavg()[0], 2)}
    res["n_buildings"] = n_buildings
    return res


def _markdown(doc: dict) -> str:
    s = doc["segments"]
    lines = [
        "# Per-segment yield benchmark",
        "",
        f"Command: `{doc['command']}`; {doc['when']}; {doc['cpus']} CPUs, Python {doc['python']}; "
        f"load average before {doc['load_before']:.1f}.",
        f"Case: {doc['case']}: {s['n_segments']:,} row segments in {s['n_orientations']:,} orientations. "
        f"Best of {doc['repeat']} after a warm-up.",
        "",
        "| method | time [s] | segments/s |",
        "|---|---:|---:|",
        f"| per-point engine (`simulate_roofs`, `reference=False`) | {s['engine_s']:.3f} | {s['engine_per_s']:,} |",
        f"| by orientation (`simulate_by_orientation`, as `assess_units` calls it) | {s['grouped_s']:.3f} | "
        f"{s['grouped_per_s']:,} |",
        f"| by orientation, every group summed (`min_group_points=1`) | {s['grouped_all_s']:.3f} | "
        f"{s['grouped_all_per_s']:,} |",
        f"| by orientation, groups of 16 and more summed | {s['grouped_min16_s']:.3f} | {s['grouped_min16_per_s']:,} |",
        "",
        f"Speed-up {s['speedup']:g} x; {100 * s['grouped_frac']:.2f}% of the segments summed by sectors, which "
        f"simulated {s['exact_hours_per_point']:g} hours each one by one (the hours where a clipping rule could act). "
        f"Deviation from the engine: annual_kwh largest {s['annual_kwh_max_rel_dev']:.2g}, mean "
        f"{s['annual_kwh_mean_rel_dev']:.2g} relative; poa_kwh_m2 largest {s['poa_kwh_m2_max_rel_dev']:.2g}, "
        f"mean {s['poa_kwh_m2_mean_rel_dev']:.2g}.",
        "",
        "By orientation group size (4,096 of these horizons on flush planes in groups of k; every group summed):",
        "",
        "| points per orientation | engine [segments/s] | by orientation [segments/s] | by orientation / engine |",
        "|---:|---:|---:|---:|",
        *(f"| {r['group_points']} | {r['engine_per_s']:,} | {r['grouped_per_s']:,} | {r['ratio']:.2f} |"
          for r in doc["group_sizes"]),
        "",
    ]
    c = doc.get("city")
    if c:
        b, a = c["before"], c["after"]
        lines += [
            f"## Synthetic city of {c['n_buildings']:,} buildings (`assess_units`, the run's `modules` stage)",
            "",
            "| segments' yield | modules stage [s] | of which the yield call [s] | segments | run wall, no outputs [s] | "
            "load avg before / after |",
            "|---|---:|---:|---:|---:|---|",
            f"| before: per-point engine | {b['modules_s']:.2f} | {b['yield_call_s']:.2f} | {b['n_segments']:,} | "
            f"{b['run_wall_s']:.1f} | {b['load_before']:.1f} / {b['load_after']:.1f} |",
            f"| after: by orientation | {a['modules_s']:.2f} | {a['yield_call_s']:.2f} | {a['n_segments']:,} | "
            f"{a['run_wall_s']:.1f} | {a['load_before']:.1f} / {a['load_after']:.1f} |",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the 600 central buildings of the demo district")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--city", type=int, default=0, help="also a synthetic city of this many buildings")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    from pv_survey.config import Config

    from bench.bench_modules import _subset_config

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _subset_config(600, Path(tmp)) if args.quick else Config()
        case = "the 600 central buildings of the demo district" if args.quick else "demo district (4,834 buildings)"
        seg_args, seg_kw = _concat(_record_segments(cfg, Path(tmp)))
        segments = segment_rates(seg_args, seg_kw, max(args.repeat, 1))
        sizes = group_sizes(seg_args, seg_kw)
        city = city_modules(args.city, Path(tmp)) if args.city else None
    cmd = "python -m bench.bench_segments" + (" --quick" if args.quick else "") + \
        (f" --city {args.city}" if args.city else "") + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
    doc = {"command": cmd, "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "cpus": os.cpu_count(), "python": platform.python_version(), "case": case, "repeat": args.repeat,
           "load_before": round(load0, 2), "segments": segments, "group_sizes": sizes, "city": city}
    write_results(args.out_dir, "segments-quick" if args.quick else "segments", doc, _markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
