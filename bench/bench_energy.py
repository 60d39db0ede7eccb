"""Energy benchmark: the fused engine against the plain per-roof pvlib computation.

``python -m bench.bench_energy [--quick]`` on the embedded default Guangzhou year (or
``--weather FILE``):

* ``side_by_side`` (one process): the same seeded roofs through
  :func:`pv_survey.energy.reference_roof_energy` (explicit pvlib calls on whole series, one
  roof at a time: the plain path) and :func:`pv_survey.energy.simulate_roofs` (the engine),
  without and with horizons (72 sectors x 3 quantiles). Prints roofs per second of each, their
  ratio and the largest relative deviation of annual energy over the roofs both computed.
  Issue 3 target: >= 1000x at <= 0.5 %.
* ``million`` (its own process, so its peak memory is its own): 1,000,000 roofs with horizons
  (72 sectors x 3 quantiles, float32) and sky-view factors, in chunks. Issue 3 target: <= 120 s
  on 2 cores, peak memory <= 4 GB.

numba compilation (or loading it from the cache) is timed separately and excluded. Results go
to ``bench/results/energy.json`` and ``.md``. ``--quick`` runs small sizes as a smoke test.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: Horizon layout benchmarked: the ShadingConfig default of 72 sectors, 3 quantiles per roof.
N_SECTORS = 72
N_QUANTILES = 3


def synthetic_roofs(n: int, *, seed: int = 0, horizons: bool = True):
    """Seeded roofs (project assumptions for a benchmark, not survey data).

    Half flat roofs with racked rows (module tilt 5-25 deg, gcr 0.4-0.8, south +- 60 deg), half
    pitched planes with flush modules (tilt 10-45 deg, any azimuth); capacity lognormal around
    20 kWp. Horizons: an urban skyline per roof (each sector blocked up to 35 deg with
    probability 0.4) plus a sorted spread over the three quantiles; sky view = mean cos^2 of the
    middle profile. Horizons are written block by block into one float32 array, so generating
    a million roofs needs no float64 temporary of full size.
    """
    rng = np.random.default_rng(seed)
    flat = rng.random(n) < 0.5
    tilt = np.where(flat, rng.uniform(5, 25, n), rng.uniform(10, 45, n))
    az = np.where(flat, rng.uniform(120, 240, n), rng.uniform(0, 360, n))
    mount = np.where(flat, "rack", "flush")
    gcr = np.where(flat, rng.uniform(0.4, 0.8, n), np.nan)
    cap = rng.lognormal(np.log(20.0), 0.8, n)
    if not horizons:
        return dict(tilt_deg=tilt, azimuth_deg=az, capacity_kwp=cap, mount=mount, gcr=gcr)
    hz = np.empty((n, N_QUANTILES, N_SECTORS), dtype=np.float32)
    svf = np.empty(n)
    block = 50_000
    for s in range(0, n, block):
        m = min(block, n - s)
        base = rng.uniform(0, 35, (m, 1, N_SECTORS)) * (rng.random((m, 1, N_SECTORS)) < 0.4)
        spread = np.sort(rng.uniform(-6, 6, (m, N_QUANTILES, 1)), axis=1)
        blockhz = np.clip(base + spread, 0, 89)
        hz[s:s + m] = blockhz
        svf[s:s + m] = np.mean(np.cos(np.radians(blockhz[:, N_QUANTILES // 2, :])) ** 2, axis=1)
    return dict(tilt_deg=tilt, azimuth_deg=az, capacity_kwp=cap, mount=mount, gcr=gcr, horizon_deg=hz,
                sky_view_frac=svf)


def _weather(path: str | None):
    from pv_survey import weather

    return weather.read_weather(path) if path else weather.default_weather()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _take(roofs: dict, n: int) -> dict:
    return {k: v[:n] for k, v in roofs.items()}


def _warm_up(wx) -> float:
    """Compile (or load from the numba cache) the engine; returns seconds."""
    from pv_survey import energy

    t = time.perf_counter()
    for hz in (False, True):
        energy.simulate_roofs(wx, **synthetic_roofs(8, seed=99, horizons=hz))
    return time.perf_counter() - t


def side_by_side(wx, *, n_plain: int, n_engine: int) -> list[dict]:
    """Plain path and engine on the same roofs, without and with horizons."""
    from pv_survey import energy

    cases = []
    for label, horizons in (("no horizon", False), ("horizons 72x3", True)):
        roofs = synthetic_roofs(max(n_plain, n_engine), seed=1, horizons=horizons)
        plain = _take(roofs, n_plain)
        t, c = time.perf_counter(), time.process_time()
        ref = []
        for i in range(n_plain):
            one = {k: v[i] for k, v in plain.items()}
            ref.append(energy.reference_roof_energy(
                wx, one["tilt_deg"], one["azimuth_deg"], one["capacity_kwp"], mount=one["mount"], gcr=one["gcr"],
                horizon_deg=one.get("horizon_deg"), sky_view_frac=one.get("sky_view_frac"))["annual_kwh"])
        plain_s = time.perf_counter() - t
        plain_cpu = time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        res = energy.simulate_roofs(wx, **_take(roofs, n_engine))
        engine_s = time.perf_counter() - t
        engine_cpu = time.process_time() - c
        dev = np.abs(res["annual_kwh"].to_numpy()[:n_plain] / np.asarray(ref) - 1.0)
        plain_rps = n_plain / plain_s
        engine_rps = n_engine / engine_s
        cases.append({
            "case": label, "n_plain": n_plain, "n_engine": n_engine,
            "plain_s": round(plain_s, 3), "plain_cpu_s": round(plain_cpu, 3), "plain_ms_per_roof": round(1000 * plain_s / n_plain, 2),
            "plain_roofs_per_s": round(plain_rps, 2),
            "engine_s": round(engine_s, 3), "engine_cpu_s": round(engine_cpu, 3), "engine_roofs_per_s": round(engine_rps, 1),
            "speedup": round(engine_rps / plain_rps, 1),
            "max_abs_rel_deviation": float(f"{dev.max():.3g}"),
            "mean_specific_yield_kwh_kwp": round(float(res["specific_yield_kwh_kwp"].mean()), 2),
        })
    return cases


def million(wx, *, n: int, chunk_size: int) -> dict:
    """``n`` roofs with horizons through the engine in chunks."""
    from pv_survey import energy

    t = time.perf_counter()
    roofs = synthetic_roofs(n, seed=2, horizons=True)
    gen_s = time.perf_counter() - t
    rss_inputs = _peak_rss_mb()
    t, c = time.perf_counter(), time.process_time()
    res = energy.simulate_roofs(wx, **roofs, chunk_size=chunk_size)
    wall = time.perf_counter() - t
    cpu = time.process_time() - c
    return {
        "case": "million", "n_roofs": n, "chunk_size": chunk_size, "n_sectors": N_SECTORS, "n_quantiles": N_QUANTILES,
        "generate_s": round(gen_s, 2), "engine_s": round(wall, 2), "engine_cpu_s": round(cpu, 2),
        "cpu_per_wall": round(cpu / wall, 2), "roofs_per_s": round(n / wall, 1),
        "horizon_input_mb": round(roofs["horizon_deg"].nbytes / 2**20, 1),
        "peak_rss_after_inputs_mb": round(rss_inputs, 1), "peak_rss_mb": round(_peak_rss_mb(), 1),
        "mean_specific_yield_kwh_kwp": round(float(res["specific_yield_kwh_kwp"].mean()), 2),
        "mean_shading_loss_frac": round(float(res["shading_loss_frac"].mean()), 4),
        "total_gwh": round(float(res["annual_kwh"].sum()) / 1e6, 3),
    }


def _child(which: str, args) -> dict:
    import numba

    wx = _weather(args.weather)
    out = {"threads": numba.get_num_threads(), "weather": wx.source, "compile_or_cache_load_s": round(_warm_up(wx), 3)}
    if which == "side_by_side":
        out["cases"] = side_by_side(wx, n_plain=args.plain, n_engine=args.engine)
    else:
        out.update(million(wx, n=args.million, chunk_size=args.chunk_size))
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def _run_in_child(which: str, argv: list[str]) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_energy", "--child", which, *argv]
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark case {which} failed:\n{res.stderr[-4000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _markdown(doc: dict) -> str:
    sbs, mil = doc["side_by_side"], doc["million"]
    lines = [
        "# Energy benchmark",
        "",
        f"Command: `{doc['command']}`; {doc['generated']}; {doc['machine']['cpus']} CPUs "
        f"({sbs['threads']} numba threads), numba {doc['machine']['numba']}, pvlib {doc['machine']['pvlib']}, "
        f"Python {doc['machine']['python']}. Weather: {sbs['weather']}.",
        f"Load average before / after: {doc['loadavg_before']} / {doc['loadavg_after']}.",
        "",
        "## Engine and plain pvlib path on the same roofs (one process)",
        "",
        "| roofs | plain path: roofs | plain [ms/roof] | plain roofs/s | engine: roofs | engine [s] | engine roofs/s "
        "| speed-up | max deviation | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in sbs["cases"]:
        lines.append(
            f"| {c['case']} | {c['n_plain']:,} | {c['plain_ms_per_roof']:.1f} | {c['plain_roofs_per_s']:.1f} | "
            f"{c['n_engine']:,} | {c['engine_s']:.2f} | {c['engine_roofs_per_s']:,.0f} | {c['speedup']:,.0f}x | "
            f"{100 * c['max_abs_rel_deviation']:.2g} % | {doc['targets']['speedup']} |")
    lines += [
        "",
        "The plain path is `reference_roof_energy`: explicit pvlib calls (solar position, Perez with "
        "components, ground diffuse, IAM, SAPM, PVWatts DC, losses, inverter) on the whole hourly series, "
        "one roof at a time; with a horizon it also computes the unshaded roof for the shading loss, as the "
        "engine does. Deviation: largest |engine / plain - 1| of annual AC energy over the roofs both computed.",
        "",
        "## 1,000,000 roofs with horizons",
        "",
        "| roofs | sectors x quantiles | chunk | engine [s] | roofs/s | CPU / wall | horizon input [MB] "
        "| peak memory [MB] | target |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
        f"| {mil['n_roofs']:,} | {mil['n_sectors']} x {mil['n_quantiles']} | {mil['chunk_size']:,} | "
        f"{mil['engine_s']:.1f} | {mil['roofs_per_s']:,.0f} | {mil['cpu_per_wall']:.2f} | "
        f"{mil['horizon_input_mb']:,.0f} | {mil['peak_rss_mb']:,.0f} | {doc['targets']['million']} |",
        "",
        f"Mean specific yield {mil['mean_specific_yield_kwh_kwp']} kWh/kWp, mean shading loss "
        f"{100 * mil['mean_shading_loss_frac']:.1f} %. Peak memory is the case's own process (ru_maxrss), "
        "including the roof arrays it generated (the float32 horizon array is most of it). "
        f"numba compile / cache load: {mil['compile_or_cache_load_s']} s, excluded. CPU / wall 2.0 = both cores "
        "busy with this run alone; lower means the machine was shared.",
        "",
    ]
    if doc.get("note"):
        lines += [doc["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--plain", type=int, default=None, help="roofs through the plain path per case (default 200)")
    ap.add_argument("--engine", type=int, default=None, help="roofs through the engine per case (default 200,000)")
    ap.add_argument("--million", type=int, default=None, help="roofs of the scale case (default 1,000,000)")
    ap.add_argument("--chunk-size", type=int, default=65536)
    ap.add_argument("--weather", default=None, help="weather file; default the embedded Guangzhou year")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--note", default="", help="free text written into the results (e.g. machine load)")
    ap.add_argument("--child", choices=("side_by_side", "million"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.plain = args.plain or (10 if args.quick else 200)
    args.engine = args.engine or (2_000 if args.quick else 200_000)
    args.million = args.million or (20_000 if args.quick else 1_000_000)
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return 0
    passthru = ["--plain", str(args.plain), "--engine", str(args.engine), "--million", str(args.million),
                "--chunk-size", str(args.chunk_size)] + (["--weather", args.weather] if args.weather else [])
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"energy bench: side by side, plain {args.plain} roofs, engine {args.engine:,} roofs ...", flush=True)
    sbs = _run_in_child("side_by_side", passthru)
    for c in sbs["cases"]:
        print(f"  {c['case']:14s} plain {c['plain_roofs_per_s']:8.1f} roofs/s ({c['plain_ms_per_roof']:.1f} ms/roof), "
              f"engine {c['engine_roofs_per_s']:10,.0f} roofs/s, ratio {c['speedup']:,.0f}x, "
              f"max deviation {100 * c['max_abs_rel_deviation']:.2g} %", flush=True)
    print(f"energy bench: {args.million:,} roofs with horizons ({N_SECTORS} sectors x {N_QUANTILES} quantiles) ...",
          flush=True)
    mil = _run_in_child("million", passthru)
    print(f"  {mil['engine_s']:.1f} s, {mil['roofs_per_s']:,.0f} roofs/s, CPU/wall {mil['cpu_per_wall']:.2f}, "
          f"peak {mil['peak_rss_mb']:,.0f} MB", flush=True)
    import numba
    import pvlib

    smoke = args.quick or args.million != 1_000_000
    doc = {
        "benchmark": "energy",
        "command": "python -m bench.bench_energy" + "".join(" " + a for a in (sys.argv[1:] if argv is None else argv)),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numba": numba.__version__,
                    "pvlib": pvlib.__version__, "platform": platform.platform()},
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "targets": {"speedup": ">= 1000x at <= 0.5 %" if not args.quick else "(smoke run)",
                    "million": "<= 120 s, <= 4096 MB on 2 cores" if not smoke else "(smoke run)"},
        "side_by_side": sbs,
        "million": mil,
        "note": args.note,
    }
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "energy.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out_dir / "energy.md").write_text(_markdown(doc), encoding="utf-8")
    print(f"wrote {out_dir / 'energy.json'} and energy.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
