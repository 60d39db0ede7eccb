"""Flux benchmark: the roof irradiation raster of the embedded demo district at 1 m.

``python -m bench.bench_flux [--quick]`` runs the whole survey of the demo district (the
embedded Tianhe buildings and weather year, the documented defaults) twice in this process:
with ``flux.enabled`` (``pv-survey run --flux``) and without, and reports

* ``flux`` stage: every roof cell's horizon, the plane's sky view and the irradiation in its plane,
  summed over the tiles (issue 19 item 5: the flux at 1 m over the demo district's roofs in under
  60 s on 2 cores);
* ``raster``: the scratch GeoTIFF to Cloud-Optimized GeoTIFF copy and the QGIS style;
* the whole run with and without the raster.

numba kernels are compiled (or loaded from their cache) by a warm-up on a hand-made roof first.
The machine is shared: the load average before and after and the process's CPU time over wall
time are written down with the figures. Results go to ``bench/results/flux.json`` and ``.md``.
``--quick`` runs the 400 demo buildings nearest the district's median building instead.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = "<= 60 s on 2 cores (flux stage + raster)"


def _warm_up() -> float:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from pv_survey import flux, shading
    from pv_survey.weather import default_weather

    t = time.perf_counter()
    box = shapely.box(435_000, 2_563_000, 435_010, 2_563_010)
    dsm = shading.dsm_from_buildings([box], [10.0], resolution_m=1.0, pad_m=50.0, crs="EPSG:4547")
    planes = gpd.GeoDataFrame({"building_id": ["a"], "tilt_deg": [0.0], "azimuth_deg": [180.0], "height_m": [10.0]},
                              geometry=[box], crs="EPSG:4547")
    flux.roof_flux(dsm, planes, default_weather(), owner_of=pd.Series([0], index=["a"]), radius_m=40.0)
    return time.perf_counter() - t


def _config(quick: bool, tmp: Path):
    from pv_survey.config import Config

    cfg = Config()
    if not quick:
        return cfg, "demo district (embedded, all buildings)"
    import geopandas as gpd

    from pv_survey.pipeline import DEFAULT_BUILDINGS

    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    dist = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    b[dist <= np.sort(dist.to_numpy())[399]].to_file(tmp / "b.gpkg", layer="buildings")
    return cfg.replace(inputs={"buildings": str(tmp / "b.gpkg")}), "400 demo buildings (--quick)"


def _run(cfg, out: Path) -> dict:
    from pv_survey.outputs import flux_raster
    from pv_survey.pipeline import run_survey

    from pv_survey import flux

    spent = {"raster_s": 0.0, "flux_cpu_s": 0.0}
    original = flux_raster.FluxRaster.write_into
    original_flux = flux.roof_flux

    def timed_flux(*args, **kwargs):  # CPU time of every thread of this process during the flux stage
        c = time.process_time()
        try:
            return original_flux(*args, **kwargs)
        finally:
            spent["flux_cpu_s"] += time.process_time() - c

    def timed(self, staging):
        t = time.perf_counter()
        try:
            return original(self, staging)
        finally:
            spent["raster_s"] += time.perf_counter() - t

    flux_raster.FluxRaster.write_into = timed
    flux.roof_flux = timed_flux
    try:
        c, t = time.process_time(), time.perf_counter()
        res = run_survey(cfg, out_dir=out, overwrite=True)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    finally:
        flux_raster.FluxRaster.write_into = original
        flux.roof_flux = original_flux
    timings = res.summary["timings_s"]
    return {"total_s": round(wall, 2), "cpu_s": round(cpu, 2), "cpu_per_wall": round(cpu / wall, 2),
            "flux_s": round(float(timings.get("flux", 0.0)), 2), "raster_s": round(spent["raster_s"], 2),
            "flux_cpu_s": round(spent["flux_cpu_s"], 2),
            "shading_s": round(float(timings.get("shading", 0.0)), 2),
            "notes": [n for n in res.summary["notes"] if n.startswith("flux raster")]}


def _cells(out: Path) -> tuple[int, list[float], int]:
    import rasterio

    with rasterio.open(out / "flux_annual.tif") as src:
        a = src.read(1)
        size = (out / "flux_annual.tif").stat().st_size
    f = a[np.isfinite(a)]
    return int(f.size), [round(float(v), 1) for v in np.percentile(f, [1, 50, 99])], size


def _markdown(doc: dict) -> str:
    w, wo = doc["with_flux"], doc["without_flux"]
    flux_total = w["flux_s"] + w["raster_s"]
    return "\n".join([
        "# Flux benchmark",
        "",
        f"Command: `{doc['command']}`; {doc['generated']}; {doc['machine']['cpus']} CPUs "
        f"({doc['machine']['numba_threads']} numba threads), numba {doc['machine']['numba']}, "
        f"GDAL {doc['machine']['gdal']}, Python {doc['machine']['python']}.",
        f"Scene: {doc['scene']}; settings: {doc['settings']}.",
        f"Load average (1, 5, 15 min) before / after: {doc['load_before']} / {doc['load_after']} "
        "(the machine is shared with other jobs: a CPU / wall ratio below 2 means this run did not have "
        "both cores).",
        "",
        "| roof cells | flux stage [s] | flux stage CPU [s] | raster (COG + style) [s] | flux total [s] | "
        "run with --flux [s] | run without [s] | CPU / wall (with) | COG size [MB] | P1 / P50 / P99 [kWh/m2] | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        f"| {doc['roof_cells']:,} | {w['flux_s']:.1f} | {w['flux_cpu_s']:.1f} | {w['raster_s']:.1f} | {flux_total:.1f} | "
        f"{w['total_s']:.1f} | "
        f"{wo['total_s']:.1f} | {w['cpu_per_wall']:.2f} | {doc['cog_bytes'] / 1e6:.1f} | "
        f"{' / '.join(f'{v:,.0f}' for v in doc['percentiles_kwh_m2'])} | {TARGET} |",
        "",
        "Flux stage: per tile, the roof planes rasterised on the 1 m grid, every roof cell's horizon "
        "ray-marched through the tile's DSM, the plane's sky view above it and the irradiation in its "
        "plane (pv_survey.flux.roof_flux), summed over the tiles; raster: the scratch GeoTIFF copied by "
        "GDAL's COG driver (DEFLATE, overviews) and the QGIS style. Flux stage CPU: the process's CPU time "
        "(both numba threads) during the flux stage; on an idle machine the stage's wall time is about half of "
        "it (the kernels keep both cores busy). Timings exclude numba compilation "
        f"(warm-up {doc['warm_up_s']:.1f} s).",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="400 demo buildings (a smoke run)")
    args = ap.parse_args(argv)
    import numba
    import rasterio

    from pv_survey.config import FluxConfig, ShadingConfig

    warm = _warm_up()
    with tempfile.TemporaryDirectory(prefix="bench-flux-") as tmp:
        tmp = Path(tmp)
        cfg, scene = _config(args.quick, tmp)
        load_before = [round(v, 2) for v in os.getloadavg()]
        with_flux = _run(cfg.replace(flux={"enabled": True}), tmp / "with")
        cells, pct, size = _cells(tmp / "with")
        without = _run(cfg, tmp / "without")
        load_after = [round(v, 2) for v in os.getloadavg()]
    doc = {
        "command": "python -m bench.bench_flux" + (" --quick" if args.quick else ""),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "numba_threads": numba.get_num_threads(), "numba": numba.__version__,
                    "gdal": rasterio.__gdal_version__, "python": platform.python_version()},
        "scene": scene,
        "settings": (f"resolution {FluxConfig.resolution_m} m, {FluxConfig.n_sectors} horizon sectors, search radius "
                     f"{ShadingConfig.search_radius_m:.0f} m, tiles of {ShadingConfig.tile_size_m:.0f} m"),
        "load_before": load_before, "load_after": load_after,
        "warm_up_s": round(warm, 2), "roof_cells": cells, "percentiles_kwh_m2": pct, "cog_bytes": size,
        "with_flux": with_flux, "without_flux": without,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target": TARGET,
    }
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    name = "flux_quick" if args.quick else "flux"
    (out_dir / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{name}.md").write_text(_markdown(doc), encoding="utf-8")
    print(_markdown(doc), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def figure(tif: str | Path, png: str | Path, *, centre_rc: tuple[int, int] | None = None, size_m: float = 500.0) -> Path:
    """A picture of a window of a flux raster, coloured as its QGIS style (README figure).

    ``python -c "from bench.bench_flux import figure; figure('outputs/x/flux_annual.tif', 'docs/flux_demo.png')"``
    draws the ``size_m`` square around ``centre_rc`` (default: the window with the most roof cells).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from matplotlib.colors import LinearSegmentedColormap
    from rasterio.windows import Window

    from pv_survey.outputs.flux_raster import FLUX_COLOURS, RAMP_LOW_PERCENTILE, ramp_range

    with rasterio.open(tif) as src:
        res = src.res[0]
        n = int(size_m / res)
        if centre_rc is None:  # the window with the most roof cells, on a coarse overview
            step = 32
            ov = src.read(1, out_shape=(max(1, src.height // step), max(1, src.width // step)))
            k = max(1, n // step)
            counts = np.isfinite(ov).astype(float)
            cs = counts.cumsum(0).cumsum(1)
            best, rc = -1.0, (src.height // 2, src.width // 2)
            for r in range(k, ov.shape[0]):
                for c in range(k, ov.shape[1]):
                    s = cs[r, c] - cs[r - k, c] - cs[r, c - k] + cs[r - k, c - k]
                    if s > best:
                        best, rc = s, ((r - k // 2) * step, (c - k // 2) * step)
            centre_rc = rc
        r0, c0 = max(0, centre_rc[0] - n // 2), max(0, centre_rc[1] - n // 2)
        a = src.read(1, window=Window(c0, r0, n, n))
        whole = src.read(1, out_shape=(max(1, src.height // 8), max(1, src.width // 8)))
    lo, hi = ramp_range(float(np.nanpercentile(whole, RAMP_LOW_PERCENTILE)), float(np.nanmax(whole)))
    cmap = LinearSegmentedColormap.from_list("flux", list(FLUX_COLOURS))
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    ax.set_facecolor("#d9d9d9")
    im = ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest",
                   extent=(0, a.shape[1] * res, 0, a.shape[0] * res))
    ax.set_xlabel("m")
    ax.set_ylabel("m")
    ax.set_title(f"Roof irradiation, kWh/m² a year in each cell's plane ({res:g} m cells)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.85, label="kWh/m² a year")
    fig.tight_layout()
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
