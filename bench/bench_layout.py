"""Module layout alone: :func:`pv_survey.layout.place_modules` on every roof plane of a district or city.

``python -m bench.bench_layout [--city N] [--repeat R] [--quick]``

The roof planes are built once, in one piece (not timed), as the roofs resource does for a tile
(``resources._roof_surfaces``: planes from the buildings, usable polygons after the setback, mount,
tilt, GCR), for two cases: the embedded demo district and a synthetic city of ``--city`` buildings
(:func:`pv_survey.citygen.write_city`, default 20,000). Then ``place_modules`` runs on them ``--repeat``
times after a warm-up (numba compilation or cache load), as the pipeline calls it (no DSM file: the
obstacle-free share thins the grid; existing PV taken off), once with the default row-segment output
and once with one polygon per module (``roofs.modules_layer = "modules"``). Reported: the best and median
seconds, the modules and segments placed, and a fingerprint of the result (module count per roof,
segment ids and centres) so that two versions of the code can be checked to place the same modules.

To compare with another checkout, run this file as a script with that checkout on the path:
``PYTHONPATH=/path/to/other python bench/bench_layout.py --out-dir /tmp/x`` (the bench only uses
functions both have). Results go to ``bench/results/layout.json`` and ``.md``; ``--quick`` runs a
2,000-building city and the demo once each (a smoke test).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import write_results


def _roofs_of(cfg):
    """Roof planes ready for ``place_modules`` and its keywords, for every building of ``cfg``'s inputs."""
    from pv_survey import resources
    from pv_survey.pipeline import load_inputs, resolve_inputs
    from pv_survey.presets import module_preset

    cfg = resolve_inputs(cfg)
    buildings, planes, _ = load_inputs(cfg)
    tile = resources.TileData(buildings=buildings, core_ids=None, weather=None, dsm=None, owner_of=None,
                              absolute=False, energy_params={}, planes=planes)
    roofs = resources._roof_surfaces(cfg, tile).rename(columns={"_sample_geometry": "usable_geometry"})
    rc = cfg.roofs
    kw = dict(gap_m=rc.module_gap_m, obstacle_free_frac=rc.obstacle_free_frac,
              obstacle_height_m=rc.obstacle_height_m, obstacle_clearance_m=rc.obstacle_clearance_m,
              existing_pv_kwp=buildings.set_index("building_id")["existing_pv_kwp"].astype(float),
              segment_max_modules=rc.segment_max_modules)
    return roofs, module_preset(rc.module), kw, len(buildings)


def _fingerprint(lay) -> str:
    h = hashlib.sha256()
    h.update(lay.roofs["n_modules"].to_numpy().tobytes())
    h.update("|".join(lay.segments["segment_id"]).encode())
    h.update(lay.segments[["x_m", "y_m"]].to_numpy().tobytes())
    if lay.modules is not None:
        import shapely

        h.update(shapely.get_coordinates(lay.modules.geometry.to_numpy()).tobytes())
    return h.hexdigest()[:16]


def time_case(roofs, module, kw, *, with_modules: bool, repeat: int) -> dict:
    from pv_survey.layout import place_modules

    place_modules(roofs, module, with_modules=with_modules, **kw)  # warm-up
    times = []
    for _ in range(repeat):
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        lay = place_modules(roofs, module, with_modules=with_modules, **kw)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"with_modules": with_modules, "best_s": round(times[0], 3), "median_s": round(times[len(times) // 2], 3),
            "runs_s": [round(t, 3) for t in times], "planes": int(len(roofs)),
            "modules": int(lay.roofs["n_modules"].sum()), "segments": int(len(lay.segments)),
            "fingerprint": _fingerprint(lay), "load_before": round(load0, 2)}


def _code_version() -> str:
    import pv_survey

    root = Path(pv_survey.__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = "?"
    return f"{root} @ {out}"


def _markdown(doc: dict) -> str:
    lines = ["# Module layout benchmark (place_modules alone)", "",
             f"Command: `{doc['command']}`; {doc['when']}; {doc['cpus']} CPUs, Python {doc['python']}; "
             f"code {doc['code']}.",
             "", "| case | buildings | planes | modules layer | best [s] | median [s] | modules | segments | "
             "fingerprint | load avg before |", "|---|---:|---:|---|---:|---:|---:|---:|---|---:|"]
    for c in doc["cases"]:
        lines.append(f"| {c['case']} | {c['buildings']:,} | {c['planes']:,} | "
                     f"{'one polygon per module' if c['with_modules'] else 'row segments'} | {c['best_s']:.2f} | "
                     f"{c['median_s']:.2f} | {c['modules']:,} | {c['segments']:,} | `{c['fingerprint']}` | "
                     f"{c['load_before']:.1f} |")
    lines += ["", "Roof planes built once in one piece (not timed); `place_modules` as the pipeline calls it "
              "(no DSM file: thinning; existing PV taken off), after a warm-up run. The fingerprint hashes the "
              "module count per roof, the segment ids and centres (and the module polygons when written): equal "
              "fingerprints = the same modules.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--city", type=int, default=20_000, help="buildings of the synthetic city")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a 2,000-building city, one run each")
    ap.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    from pv_survey.citygen import write_city
    from pv_survey.config import Config, load_config

    from bench.bench_scale import _city_config

    n_city = 2_000 if args.quick else args.city
    repeat = 1 if args.quick else max(args.repeat, 1)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        city = write_city(Path(tmp) / "city.parquet", n_city)
        _city_config(city, Path(tmp) / "city.toml", "bench-layout")
        city_cfg = load_config(Path(tmp) / "city.toml")
        for name, cfg in (("demo district", Config()), (f"synthetic city of {n_city:,}", city_cfg)):
            roofs, module, kw, n_b = _roofs_of(cfg)
            for wm in (False, True):
                res = time_case(roofs, module, kw, with_modules=wm, repeat=repeat)
                cases.append({"case": name, "buildings": n_b, **res})
                print(cases[-1], flush=True)
    doc = {"command": "python -m bench.bench_layout" + (" --quick" if args.quick else
                                                         f" --city {n_city} --repeat {repeat}"),
           "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
           "python": platform.python_version(), "code": _code_version(), "cases": cases}
    write_results(args.out_dir, "layout-quick" if args.quick else "layout", doc, _markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
