"""Shading benchmark: horizons and sky-view factors of a synthetic Tianhe-sized district.

``python -m bench.bench_shading [--quick]`` generates its own seeded district (boxes of realistic
sizes and heights on a street grid), then times

* ``district``: about 30,000 buildings, a 1 m DSM rasterised in memory (``dsm_from_buildings``),
  then ``roof_horizons`` on every roof (issue 4 item 6: at most 15 s on 2 cores once the DSM is in
  memory);
* ``million``: 1,000,000 buildings, tile by tile (``roof_horizons_tiled`` with
  ``buildings_dsm_source``: each tile's DSM is rasterised with a 300 m halo and dropped after use;
  issue 4 item 6: at most 5 minutes).

Each case runs in its own process so its peak memory (``ru_maxrss``) is its own. Results go to
``bench/results/shading.json`` and ``.md``. ``--quick`` runs small sizes (3,000 and 20,000
buildings) as a smoke test.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

#: Default shading settings benchmarked: the documented defaults of pv_survey.config.ShadingConfig.
SETTINGS = {"n_sectors": 72, "radius_m": 300.0, "points_per_100m2": 1.0, "max_points": 16, "n_quantiles": 3,
            "resolution_m": 1.0, "tile_size_m": 3000.0}
#: Roof usable area = footprint minus a 1 m edge strip (RoofsConfig.edge_setback_m default).
SETBACK_M = 1.0

# Block types of the synthetic district (project assumptions for a benchmark, not survey data),
# loosely modelled on Tianhe: plots per block side, share of blocks, median height [m], lognormal
# sigma. CBD towers (8 % of blocks, median 120 m, a few above 300 m), residential towers (30 %,
# ~27 floors x 3 m), older mid-rise (30 %, ~8 floors), urban villages (20 %, dense 6-7 floor
# "handshake" buildings), low sheds and schools (12 %).
_GRID = np.array([2, 3, 3, 5, 2])
_SHARE = np.array([0.08, 0.30, 0.30, 0.20, 0.12])
_MEDIAN_H_M = np.array([120.0, 80.0, 25.0, 20.0, 15.0])
_SIGMA = np.array([0.5, 0.3, 0.25, 0.3, 0.3])


def synthetic_district(n_buildings: int, *, seed: int = 0, block_pitch_m: float = 120.0, street_m: float = 20.0,
                       origin_xy_m: tuple[float, float] = (500_000.0, 2_550_000.0)):
    """Seeded boxes on a square street grid: (footprints, height_m) in EPSG:4547 metres.

    Blocks of ``block_pitch_m`` with ``street_m`` streets; each block is split into g x g plots
    (g by block type) holding one box covering 50-85 % of the plot side in each direction.
    """
    rng = np.random.default_rng(seed)
    mean_per_block = float((_GRID ** 2 * _SHARE).sum())
    nb = int(np.ceil(np.sqrt(n_buildings / mean_per_block))) + 1
    bx, by = np.meshgrid(np.arange(nb), np.arange(nb))
    bx, by = bx.ravel(), by.ravel()
    kind = rng.choice(_GRID.size, size=bx.size, p=_SHARE)
    g = _GRID[kind]
    cnt = g * g
    blk = np.repeat(np.arange(bx.size), cnt)
    loc = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    gr, k = g[blk], kind[blk]
    plot = (block_pitch_m - street_m) / gr
    w = plot * rng.uniform(0.5, 0.85, size=loc.size)
    d = plot * rng.uniform(0.5, 0.85, size=loc.size)
    x0 = origin_xy_m[0] + bx[blk] * block_pitch_m + street_m / 2 + (loc % gr) * plot + rng.uniform(size=loc.size) * (plot - w)
    y0 = origin_xy_m[1] + by[blk] * block_pitch_m + street_m / 2 + (loc // gr) * plot + rng.uniform(size=loc.size) * (plot - d)
    height = np.clip(rng.lognormal(np.log(_MEDIAN_H_M[k]), _SIGMA[k]), 4.0, 450.0)
    geoms = shapely.box(x0, y0, x0 + w, y0 + d)
    return geoms[:n_buildings], height[:n_buildings]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _warm_up() -> float:
    """Compile (or load from cache) the numba kernels on a tiny scene; returns seconds."""
    from pv_survey import shading

    t = time.perf_counter()
    g, h = synthetic_district(20, seed=1)
    dsm = shading.dsm_from_buildings(g, h, pad_m=50.0)
    shading.roof_horizons(dsm, shapely.buffer(g, -SETBACK_M, join_style="mitre"), h, np.arange(len(g)),
                          radius_m=50.0)
    return time.perf_counter() - t


def run_case(name: str, n_buildings: int, *, tiled: bool) -> dict:
    """Time one case in this process; returns a JSON-ready dict."""
    import numba

    from pv_survey import shading

    out: dict = {"case": name, "n_buildings": int(n_buildings), "tiled": tiled, "threads": numba.get_num_threads()}
    out["compile_or_cache_load_s"] = round(_warm_up(), 3)
    t = time.perf_counter()
    geoms, height = synthetic_district(n_buildings)
    roofs = shapely.buffer(geoms, -SETBACK_M, join_style="mitre")
    out["generate_s"] = round(time.perf_counter() - t, 3)
    owner = np.arange(len(geoms))
    s = SETTINGS
    kw = dict(n_sectors=s["n_sectors"], radius_m=s["radius_m"], points_per_100m2=s["points_per_100m2"],
              max_points=s["max_points"], n_quantiles=s["n_quantiles"])
    x, _, _ = shading.sample_roof_points(roofs, points_per_100m2=s["points_per_100m2"], max_points=s["max_points"])
    out["n_points"] = int(x.size)
    del x
    if not tiled:
        t, c = time.perf_counter(), time.process_time()
        dsm = shading.dsm_from_buildings(geoms, height, resolution_m=s["resolution_m"], pad_m=s["radius_m"],
                                         crs="EPSG:4547")
        out["dsm_s"] = round(time.perf_counter() - t, 3)
        out["dsm_cpu_s"] = round(time.process_time() - c, 3)
        out["dsm_cells"] = int(dsm.height_m.size)
        out["dsm_shape"] = list(dsm.shape)
        t, c = time.perf_counter(), time.process_time()
        hz, svf = shading.roof_horizons(dsm, roofs, height, owner, **kw)
        out["shade_s"] = round(time.perf_counter() - t, 3)
        out["shade_cpu_s"] = round(time.process_time() - c, 3)
        out["total_s"] = round(out["dsm_s"] + out["shade_s"], 3)
    else:
        src = shading.buildings_dsm_source(geoms, height, resolution_m=s["resolution_m"], crs="EPSG:4547")
        dsm_time = [0.0, 0, 0]

        def timed_source(bounds):
            t0 = time.perf_counter()
            d = src(bounds)
            dsm_time[0] += time.perf_counter() - t0
            dsm_time[1] += 1
            dsm_time[2] += d.height_m.size
            return d

        t, c = time.perf_counter(), time.process_time()
        hz, svf = shading.roof_horizons_tiled(roofs, height, owner, timed_source, tile_size_m=s["tile_size_m"], **kw)
        out["total_s"] = round(time.perf_counter() - t, 3)
        out["total_cpu_s"] = round(time.process_time() - c, 3)
        out["dsm_s"] = round(dsm_time[0], 3)
        out["shade_s"] = round(out["total_s"] - dsm_time[0], 3)
        out["tiles"] = dsm_time[1]
        out["dsm_cells"] = int(dsm_time[2])
    out.setdefault("total_cpu_s", round(out.get("dsm_cpu_s", 0) + out.get("shade_cpu_s", 0), 3))
    out["cpu_per_wall"] = round(out["total_cpu_s"] / out["total_s"], 2)
    out["roofs_per_s_shading"] = round(n_buildings / out["shade_s"], 1)
    out["roofs_per_s_total"] = round(n_buildings / out["total_s"], 1)
    out["points_per_s_shading"] = round(out["n_points"] / out["shade_s"], 1)
    out["mean_sky_view_frac"] = round(float(np.nanmean(svf)), 4)
    out["mean_median_horizon_deg"] = round(float(np.nanmean(hz[:, hz.shape[1] // 2, :])), 3)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def _run_in_child(name: str, n: int, tiled: bool) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_shading", "--child", name, str(n), "1" if tiled else "0"]
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed:\n{res.stderr[-4000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _markdown(doc: dict) -> str:
    lines = [
        "# Shading benchmark",
        "",
        f"Command: `{doc['command']}`; {doc['generated']}; {doc['machine']['cpus']} CPUs, "
        f"numba {doc['machine']['numba']}, Python {doc['machine']['python']}.",
        "Settings: " + ", ".join(f"{k} = {v}" for k, v in doc["settings"].items()) + ".",
        "",
        "| case | buildings | sample points | DSM cells | DSM build [s] | shading [s] | total [s] | roofs/s (shading) "
        "| CPU / wall | peak memory [MB] | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in doc["cases"]:
        lines.append(
            f"| {c['case']}{' (tiled, ' + str(c['tiles']) + ' tiles)' if c['tiled'] else ''} | {c['n_buildings']:,} | "
            f"{c['n_points']:,} | {c['dsm_cells']:,} | {c['dsm_s']:.1f} | {c['shade_s']:.1f} | {c['total_s']:.1f} | "
            f"{c['roofs_per_s_shading']:,.0f} | {c['cpu_per_wall']:.2f} | {c['peak_rss_mb']:,.0f} | {c.get('target', '')} |"
        )
    lines += ["", "Shading time includes sampling roof points, the max-pyramid, the ray march and the per-roof "
              "aggregation; numba compilation (or cache load) is timed separately and excluded. "
              "Peak memory is the case's own process (ru_maxrss). CPU / wall is the process's CPU time "
              "over wall time (2.0 = both cores busy with this run alone; lower = shared machine).", ""]
    if doc.get("note"):
        lines += [doc["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (3,000 in memory, 20,000 tiled)")
    ap.add_argument("--case", choices=("district", "million", "all"), default="all")
    ap.add_argument("--buildings", type=int, default=None, help="override the building count of every case")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--note", default="", help="free text written into the results (e.g. machine load)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        name, n, tiled = args.child
        print(json.dumps(run_case(name, int(n), tiled=tiled == "1")))
        return 0
    sizes = {"district": (3_000 if args.quick else 30_000, False, "<= 15 s shading on 2 cores"),
             "million": (20_000 if args.quick else 1_000_000, True, "<= 300 s total on 2 cores")}
    names = ("district", "million") if args.case == "all" else (args.case,)
    cases = []
    for name in names:
        n, tiled, target = sizes[name]
        if args.buildings:
            n = args.buildings
        print(f"shading bench: {name}, {n:,} buildings{' tile by tile' if tiled else ''} ...", flush=True)
        res = _run_in_child(name, n, tiled)
        res["target"] = target if not args.quick and not args.buildings else "(smoke run)"
        print(f"  DSM {res['dsm_s']:.1f} s, shading {res['shade_s']:.1f} s, total {res['total_s']:.1f} s, "
              f"{res['roofs_per_s_shading']:,.0f} roofs/s, peak {res['peak_rss_mb']:,.0f} MB", flush=True)
        cases.append(res)
    import numba

    doc = {
        "benchmark": "shading",
        "command": shlex.join(["python", "-m", "bench.bench_shading", *(sys.argv[1:] if argv is None else argv)]),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numba": numba.__version__,
                    "platform": platform.platform()},
        "settings": SETTINGS,
        "cases": cases,
        "note": args.note,
    }
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shading.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out_dir / "shading.md").write_text(_markdown(doc), encoding="utf-8")
    print(f"wrote {out_dir / 'shading.json'} and shading.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
