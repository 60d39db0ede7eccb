"""Scale benchmark: a whole synthetic city end to end, 10,000 to 1,000,000 buildings.

``python -m bench.bench_scale [--sizes 10000,100000,1000000] [--quick] [--workers N]``

For each size a synthetic city (:func:`pv_survey.citygen.write_city`, Guangzhou-like block mix)
is written to GeoParquet first (not timed). Then ``pv-survey run`` runs on it in a subprocess
(every run is tiled, so memory stays bounded: no tiling option by default, tiles in this process,
or ``--workers N`` for a dask LocalCluster), end to end: inputs read and validated, roofs, DSM built per tile,
shading, energy, plan, GeoPackage / CSV / report written. Measured per size:

* ``wall_s``: wall-clock time of the subprocess (interpreter start included);
* ``peak_tree_rss_mb``: the largest sum of resident memory over the subprocess and its children
  (dask workers, writer processes), sampled every 0.2 s with psutil; a child between fork and
  exec, which shows its parent's pages, is not counted;
* ``max_process_rss_mb``: ``ru_maxrss`` of ``resource.getrusage(RUSAGE_CHILDREN)`` (largest single
  process, exact, not sampled);
* the stage timings from the run's ``manifest.json``.

Targets (issue 13): 100,000 buildings <= 45 s and <= 2 GB peak, 1,000,000 <= 5 min and <= 4 GB
peak, time growing no faster than linearly (``growth_exponent`` = slope of log time against log size
between consecutive sizes; 1.0 = linear). Results go to ``bench/results/scale.json`` and ``.md``.
``--quick`` runs 2,000 and 10,000 buildings as a smoke test.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Targets of issue 13 (seconds and peak memory [MB] by size).
TARGET_S = {100_000: 45.0, 1_000_000: 5 * 60.0}
TARGET_PEAK_MB = {100_000: 2 * 1024.0, 1_000_000: 4 * 1024.0}
#: Margin around the city for the survey extent check (config survey.extent_lon_lat) [deg].
EXTENT_PAD_DEG = 0.01


def _city_config(city_path: Path, cfg_path: Path, name: str) -> None:
    """A scenario TOML for the city: its buildings file and an extent that covers it."""
    import geopandas as gpd
    from pyproj import Transformer

    b = gpd.read_parquet(city_path, columns=["geometry"]).total_bounds
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)
    lon0, lat0 = tr.transform(b[0], b[1])
    lon1, lat1 = tr.transform(b[2], b[3])
    ext = [round(lon0 - EXTENT_PAD_DEG, 4), round(lat0 - EXTENT_PAD_DEG, 4),
           round(lon1 + EXTENT_PAD_DEG, 4), round(lat1 + EXTENT_PAD_DEG, 4)]
    cfg_path.write_text(
        "# written by bench/bench_scale.py\n"
        f"[survey]\nname = \"{name}\"\nextent_lon_lat = {json.dumps(ext)}\n\n"
        f"[inputs]\nbuildings = \"{city_path.as_posix()}\"\n", encoding="utf-8")


def _tree_rss_bytes(proc) -> int:
    """Resident memory of ``proc`` and its children, a process between fork and exec not counted.

    A child started by ``subprocess`` (vfork or fork) shows its parent's resident memory until it
    runs the new program: the same pages, not more memory (seen as a 4 GB "child" for a few
    milliseconds at 1,000,000 buildings). It is known by its command line, still its parent's.
    """
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except Exception:  # the process ended between two samples
        return 0
    for p in procs:
        try:
            if p is not proc and p.cmdline() == p.parent().cmdline():
                continue  # not yet exec'd: its parent's pages
            total += p.memory_info().rss
        except Exception:  # a child ended
            pass
    return total


def run_size(n: int, *, work: Path, workers: int | None, keep: bool) -> dict:
    """Write the city of ``n`` buildings, run ``pv-survey run`` on it in a subprocess, measure."""
    import psutil

    from pv_survey.citygen import write_city

    city = work / f"city_{n}.parquet"
    t0 = time.perf_counter()
    write_city(city, n)
    gen_s = time.perf_counter() - t0
    cfg = work / f"city_{n}.toml"
    _city_config(city, cfg, f"city-{n}")
    out = work / f"out_{n}"
    exe = Path(sys.executable).with_name("pv-survey")
    cmd = [str(exe) if exe.exists() else "pv-survey", "run", "--config", str(cfg), "--out", str(out),
           "--overwrite"]
    cmd += ["--workers", str(workers)] if workers else []  # no tiling option: every run is tiled
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0
    t0 = time.perf_counter()
    log_path = work / f"run_{n}.log"  # the run's log (stage starts and ends), kept on failure
    log_fh = log_path.open("w", encoding="utf-8")
    proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(ps))
            stop.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    proc.wait()
    wall = time.perf_counter() - t0
    log_fh.close()
    stop.set()
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise RuntimeError(f"pv-survey run failed on {n} buildings after {wall:.0f} s (exit {proc.returncode}, "
                           f"log {log_path}):\n{tail}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    gpkg_mb = (out / "survey.gpkg").stat().st_size / 2 ** 20
    res = {
        "n_buildings": n,
        "command": " ".join(cmd[1:]),
        "mode": f"LocalCluster({workers} workers x 1 thread)" if workers else "tiles in one process (two tile threads, numba threads)",
        "wall_s": round(wall, 1),
        "s_per_1000_buildings": round(wall / n * 1000, 3),
        "peak_tree_rss_mb": round(peak / 2 ** 20),
        # ru_maxrss is in KiB on Linux; the largest single child process (not a sum)
        "max_process_rss_mb": round(after.ru_maxrss / 1024),
        "children_cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "city_generated_s": round(gen_s, 2),
        "roofs_total": manifest["counts"]["roofs_total"],
        "roofs_kept": manifest["counts"]["roofs_kept"],
        "gpkg_mb": round(gpkg_mb, 1),
        "stages_s": manifest.get("timings_s", {}),
    }
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
        city.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)
    return res


def _verdicts(all_cases: list[dict]) -> list[str]:
    out = [f"{c['n_buildings']:,} buildings: FAILED ({c['error'].splitlines()[-1]})" for c in all_cases if "error" in c]
    cases = [c for c in all_cases if "error" not in c]
    for c in cases:
        t = TARGET_S.get(c["n_buildings"])
        if t is not None:
            out.append(f"{c['n_buildings']:,} buildings: {c['wall_s']:.0f} s (target <= {t:.0f} s) -> "
                       f"{'MET' if c['wall_s'] <= t else 'NOT MET'}")
        m = TARGET_PEAK_MB.get(c["n_buildings"])
        if m is not None:
            out.append(f"{c['n_buildings']:,} buildings: peak {c['peak_tree_rss_mb']:,} MB (target <= "
                       f"{m:,.0f} MB) -> {'MET' if c['peak_tree_rss_mb'] <= m else 'NOT MET'}")
    for a, b in zip(cases, cases[1:]):
        if b["n_buildings"] > a["n_buildings"]:
            k = math.log(b["wall_s"] / a["wall_s"]) / math.log(b["n_buildings"] / a["n_buildings"])
            b["growth_exponent"] = round(k, 2)
            out.append(f"{a['n_buildings']:,} -> {b['n_buildings']:,}: time grows as n^{k:.2f} "
                       f"(target <= 1, linear) -> {'MET' if k <= 1.0 else 'NOT MET'}")
    return out


def _markdown(doc: dict) -> str:
    lines = [
        "# Scale benchmark (issue 13)", "",
        f"Command: `{doc['command']}`  ",
        f"Generated {doc['generated']} on {doc['machine']['cpus']} CPUs ({doc['machine']['platform']}), "
        f"load average at start {doc['machine']['load_avg_start']}.", "",
    ]
    if doc.get("note"):
        lines += [doc["note"], ""]
    lines += ["| buildings | mode | wall [s] | s / 1000 bldg | peak memory, process tree [MB] | "
              "largest process [MB] | roofs kept | GeoPackage [MB] | stages [s] |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in (c for c in doc["cases"] if "error" not in c):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in c["stages_s"].items() if not k.endswith("_sum_over_tiles"))
        lines.append(f"| {c['n_buildings']:,} | {c['mode']} | {c['wall_s']:.1f} | {c['s_per_1000_buildings']:.2f} | "
                     f"{c['peak_tree_rss_mb']:,} | {c['max_process_rss_mb']:,} | {c['roofs_kept']:,} | "
                     f"{c['gpkg_mb']:.0f} | {stages} |")
    lines += ["", "Verdicts:", ""] + [f"- {v}" for v in doc["verdicts"]] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated building counts")
    ap.add_argument("--quick", action="store_true", help="2,000 and 10,000 buildings (a smoke run)")
    ap.add_argument("--workers", type=int, default=None,
                    help="run on a dask LocalCluster of N workers (default: tiles in one process)")
    ap.add_argument("--work-dir", default=None, help="where cities and outputs go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the cities and outputs")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--note", default="", help="free text written into the results (e.g. machine load)")
    args = ap.parse_args(argv)
    sizes = [2_000, 10_000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    import numba

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="pv-survey-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = []
    try:
        for n in sizes:
            print(f"scale bench: {n:,} buildings ...", flush=True)
            try:
                res = run_size(n, work=work, workers=args.workers, keep=args.keep)
            except RuntimeError as exc:  # a failed size is recorded, the others still run
                print(f"  failed: {exc}", flush=True)
                cases.append({"n_buildings": n, "error": str(exc)})
                continue
            print(f"  {res['wall_s']:.1f} s, peak {res['peak_tree_rss_mb']:,} MB (tree), "
                  f"{res['roofs_kept']:,} roofs kept; stages {res['stages_s']}", flush=True)
            cases.append(res)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    doc = {
        "benchmark": "scale",
        "command": "python -m bench.bench_scale" + "".join(" " + a for a in (sys.argv[1:] if argv is None else argv)),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numba": numba.__version__,
                    "platform": platform.platform(), "load_avg_start": [round(x, 2) for x in load]},
        "cases": cases,
        "note": args.note,
    }
    doc["verdicts"] = _verdicts(cases)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scale.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "scale.md").write_text(_markdown(doc), encoding="utf-8")
    for v in doc["verdicts"]:
        print(v, flush=True)
    print(f"wrote {out_dir / 'scale.json'} and scale.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
