"""Peak memory of reading a buildings file in one go and in windows (issue 18, item 4).

``python -m bench.bench_read [--sizes 100000 300000] [--windows 10000 50000]``

A synthetic city (:func:`pv_survey.citygen.generate_city`, input columns only) of each size is
written once to a GeoPackage (the common municipal exchange format). Each measurement runs in a
fresh Python process, so one cannot inherit another's heap: the process imports the inputs stage,
reads a 200-building file through both paths (lazy imports, the PROJ database and GDAL's
drivers loaded once), records its resident memory (psutil ``memory_info().rss``), reads the file, and reports the peak
resident memory above that baseline (``VmHWM`` of ``/proc/self/status``, the kernel's high-water
mark of the process, which sees GDAL's and numpy's allocations alike) and the wall time. Modes:

``one_go``
    ``read_buildings(path, window_features=None)``: the whole file at once (the behaviour of
    files smaller than ``inputs.read_window_features``).
``windows``
    ``BuildingWindows(path, window_features=W)`` iterated, each normalised window dropped after
    use (what a consumer that writes each window on, e.g. to a scratch file, holds): bounded by
    the window plus the ids and footprint digests carried across windows.
``windows_table``
    ``read_buildings(path, window_features=W)``: the windows concatenated into the city-wide
    table (what ``pv-survey run`` holds today): the table plus one window.

Results go to ``bench/results/read_windows.json`` and ``bench/results/read_windows.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process image [MB]: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage().ru_maxrss``: Linux carries the parent's resident size at ``fork`` into the
    child's ``ru_maxrss`` across ``exec``, so a child of the process that generated the city would
    report the parent's peak. ``VmHWM`` belongs to the child's own address space.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(path: str, mode: str, window: int) -> dict:
    """One measurement in this (fresh) process."""
    import psutil

    from pv_survey.inputs.read import BuildingWindows, read_buildings

    # warm-up on a small file through both paths: lazy imports, the PROJ database, GDAL's drivers
    warm = str(Path(path).with_name("warmup.gpkg"))
    read_buildings(warm, window_features=None)
    read_buildings(warm, window_features=50)
    proc = psutil.Process()
    base_mb = proc.memory_info().rss / 2**20
    t0 = time.perf_counter()
    n_rows = n_windows = 0
    if mode == "one_go":
        b, _ = read_buildings(path, window_features=None)
        n_rows, n_windows = len(b), 1
    elif mode == "windows":
        reader = BuildingWindows(path, window_features=window)
        for frame in reader:
            n_rows += len(frame)
            del frame
        n_windows = reader.n_windows
    else:
        b, _ = read_buildings(path, window_features=window)
        n_rows, n_windows = len(b), -(-len(b) // window)
    wall_s = time.perf_counter() - t0
    peak_mb = _vm_hwm_mb()
    return {"mode": mode, "window_features": window if mode != "one_go" else None, "rows": n_rows,
            "windows": n_windows, "baseline_rss_mb": round(base_mb, 1), "peak_above_baseline_mb": round(peak_mb - base_mb, 1),
            "wall_s": round(wall_s, 1)}


def _write_city(path: Path, n: int) -> None:
    from pv_survey.citygen import generate_city

    city = generate_city(n).drop(columns=["height_source", "excluded_reason"])
    city.to_file(path, driver="GPKG", layer="buildings", engine="pyogrio")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--windows", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], int(args.child[2]))))
        return 0
    rows = []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with tempfile.TemporaryDirectory(prefix="pv-bench-read-") as tmp:
        _write_city(Path(tmp) / "warmup.gpkg", 200)
        for n in args.sizes:
            path = Path(tmp) / f"city_{n}.gpkg"
            t0 = time.perf_counter()
            _write_city(path, n)
            print(f"{n:,} buildings written to {path.name} ({path.stat().st_size / 2**20:.0f} MB) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            runs = [("one_go", 0)] + [("windows", w) for w in args.windows] + [("windows_table", max(args.windows))]
            for mode, w in runs:
                out = subprocess.run([sys.executable, "-m", "bench.bench_read", "--child", str(path), mode, str(w)],
                                     capture_output=True, text=True, env=env, check=True)
                r = {"buildings": n, "file_mb": round(path.stat().st_size / 2**20, 1),
                     **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(r)
                print(json.dumps(r), flush=True)
    meta = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "python": sys.version.split()[0],
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "command": "python -m bench.bench_read " + " ".join(sys.argv[1:] if argv is None else argv)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "read_windows.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n",
                                               encoding="utf-8")
    lines = ["# Reading a buildings GeoPackage in one go and in windows", "",
             f"{meta['date']}, Python {meta['python']}, {meta['cpus']} CPUs; `{meta['command']}`", "",
             "| buildings | file MB | mode | window | windows | peak RSS above baseline MB | wall s |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['buildings']:,} | {r['file_mb']:.0f} | {r['mode']} | "
                     f"{r['window_features'] or '-'} | {r['windows']} | {r['peak_above_baseline_mb']:.0f} | "
                     f"{r['wall_s']:.1f} |")
    (RESULTS / "read_windows.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
