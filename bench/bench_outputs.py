"""Outputs-stage benchmark: :func:`pv_survey.outputs.write_outputs` alone on a synthetic city.

``python -m bench.bench_outputs [--buildings 40000] [--repeat 2] [--work DIR] [--profile]``

A synthetic city (:func:`pv_survey.citygen.write_city`, the scenario of :mod:`bench.bench_scale`)
is run once through ``pv-survey run`` in this process, and the arguments the pipeline hands to
``write_outputs`` are captured (pickled into ``--work``, a scratch folder, default under the
system's temporary folder; reused by later runs of the same size). Then ``write_outputs`` alone
is timed ``--repeat`` times into a fresh folder each time, with the time of each part:

* ``gpkg_s``: survey.gpkg alone (:func:`pv_survey.outputs.gpkg.write_gpkg` of every layer);
* ``csv_s``: the CSV shortlists; ``xlsx_s``: shortlists.xlsx; ``charts_s``: the report's charts;
  ``report_s``: report.html (its map included);
* ``outputs_s``: the whole stage as the pipeline runs it (a large survey's survey.gpkg, and on
  enough cores shortlists.xlsx, written by child processes beside the other files,
  :mod:`pv_survey.outputs.gpkg_process`, :mod:`pv_survey.outputs.xlsx_process`), with
  ``outputs_gpkg_wait_s`` / ``outputs_xlsx_wait_s`` the time it then waited for each child;
  ``outputs_xlsxchild_s``: both files written by children whatever the cores;
  ``outputs_gpkgchild_s``: only survey.gpkg written by a child (the workbook here);
  ``outputs_inproc_s``: every file written in this process, survey.gpkg first.

The parts are timed one after the other in one thread, in CPU seconds of the process (steadier than
wall time while other jobs share the cores); the ``outputs_*_s`` are wall time and their ``_cpu_s``
their CPU time (this process and the children).
``--profile`` records the stage with py-spy instead (``py-spy record -r 25 -f raw``, needs py-spy on
the PATH or beside the interpreter). Results go to ``bench/results/outputs.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def capture(n: int, work: Path) -> Path:
    """Run the city of ``n`` buildings once and pickle the arguments of ``write_outputs``."""
    path = work / f"outputs_{n}.pkl"
    if path.exists():
        return path
    import pv_survey.outputs as outputs_mod
    from pv_survey.citygen import write_city
    from pv_survey.cli import main

    from .bench_scale import _city_config

    city = work / f"city_{n}.parquet"
    if not city.exists():
        write_city(city, n)
    cfg = work / f"city_{n}.toml"
    _city_config(city, cfg, f"city-{n}")
    real = outputs_mod.write_outputs

    def keep(out_dir, **kwargs):
        with open(path, "wb") as fh:
            pickle.dump(_portable({k: v for k, v in kwargs.items() if k != "progress"}, work / f"spool_{n}"), fh,
                        protocol=5)
        return real(out_dir, **kwargs)

    outputs_mod.write_outputs = keep  # the pipeline imports it when the outputs stage starts
    try:
        main(["run", "--config", str(cfg), "--out", str(work / f"run_{n}"), "--overwrite"])
    finally:
        outputs_mod.write_outputs = real
    return path


def _portable(kwargs: dict, spool_dir: Path) -> dict:
    """``kwargs`` with spooled layers (scratch Parquet parts removed after the run) copied into
    ``spool_dir`` and kept as their parts' list, so the pickle can be loaded later."""
    from pv_survey.outputs.spool import SpooledLayer

    extra = dict(kwargs.get("extra_layers") or {})
    spooled = {}
    for name, layer in extra.items():
        if isinstance(layer, SpooledLayer):
            spool_dir.mkdir(parents=True, exist_ok=True)
            parts = {}
            for key, (part, rows) in layer.spool._parts[name].items():
                shutil.copy2(part, spool_dir / part.name)
                parts[key] = (spool_dir / part.name, rows)
            spooled[name] = {"parts": parts, "empty": layer.empty_frame}
    for name in spooled:
        extra[name] = None
    return {**kwargs, "extra_layers": extra or None, "_spooled": spooled}


def _restore(kw: dict) -> dict:
    """The arguments of ``write_outputs`` from :func:`_portable`'s form (spooled layers as spools again)."""
    kw = dict(kw)
    spooled = kw.pop("_spooled", {})
    if spooled:
        from pv_survey.outputs.spool import LayerSpool

        spool = LayerSpool()  # its own scratch folder stays empty; the parts are the copies
        for name, d in spooled.items():
            spool._empty[name] = d["empty"]
            spool._parts[name] = dict(d["parts"])
        kw["extra_layers"] = {**(kw.get("extra_layers") or {}), **{name: spool.layer(name) for name in spooled}}
    return kw


def _parts(kw: dict, tmp: Path) -> dict[str, float]:
    """Seconds of each part of the stage, one after the other."""
    from pv_survey.outputs import charts as charts_mod
    from pv_survey.outputs.charts import ChartText, cjk_font
    from pv_survey.outputs import csv_out
    from pv_survey.outputs.csv_out import shortlist_frame, shortlist_lists, write_csv
    from pv_survey.outputs.gpkg import gpkg_timestamp, layer_builders, plan_layer, write_gpkg
    from pv_survey.outputs.report import render_charts, report_html
    from pv_survey.outputs.xlsx_out import shortlists_xlsx

    import pv_survey.outputs as outputs_mod

    # as write_outputs does (getattr: the same bench times older code, which had neither)
    lines = getattr(csv_out, "with_csv_lines", lambda f: f)
    report_curves = getattr(outputs_mod, "_report_curves", lambda curves, plan: curves)
    t: dict[str, float] = {}
    clock = time.process_time  # CPU seconds: steadier than wall time on a shared machine
    t0 = clock()
    plan_l = plan_layer(kw["plan"], kw["buildings"], crs=kw["crs"])
    t["plan_layer_s"] = clock() - t0
    layers = layer_builders(buildings=kw["buildings"], roofs=kw["roofs"], plan=kw["plan"], targets=kw["targets"],
                            coverage=kw.get("coverage"), category_shares=kw.get("category_shares"),
                            extra_layers=kw.get("extra_layers"), crs=kw["crs"], plan_frame=plan_l)
    t0 = clock()
    write_gpkg(tmp / "survey.gpkg", layers, crs=kw["crs"], timestamp=gpkg_timestamp())
    t["gpkg_s"] = clock() - t0
    t0 = clock()
    sl = shortlist_frame(plan_l)
    t["shortlist_frame_s"] = clock() - t0
    t0 = clock()
    for name, rows in shortlist_lists(plan_l, shortlist_size=kw["shortlist_size"], shortlist=lines(sl)).items():
        write_csv(rows, tmp / name)
    t["csv_s"] = clock() - t0
    t0 = clock()
    shortlists_xlsx(plan_l, max_rows=kw["workbook_max_rows"], shortlist=sl)
    t["xlsx_s"] = clock() - t0
    text = ChartText(cjk_font())
    extra = kw.get("extra_layers") or {}
    t0 = clock()
    charts = render_charts(plan=plan_l, roofs=kw["roofs"], targets=kw["targets"], existing_kwp=0.0, text=text,
                           curves=report_curves(extra.get("site_curves"), plan_l))
    t["charts_s"] = clock() - t0
    t0 = clock()
    report_html(summary=kw["summary"], targets=kw["targets"], coverage=kw.get("coverage"),
                category_shares=kw.get("category_shares"), plan=plan_l, buildings=kw["buildings"], charts=charts,
                generated="", version="", zones=extra.get("zones"),
                interactive=len(kw["buildings"]) <= charts_mod.MAP_MAX_VECTOR_FOOTPRINTS)
    t["report_s"] = clock() - t0
    return {k: round(v, 2) for k, v in t.items()}


#: The writer processes: module of pv_survey.outputs, its thresholds (size first, then any other), its
#: class (older code lacks some).
_WRITERS = {"gpkg": ("gpkg_process", ("GPKG_PROCESS_MIN_FEATURES",), "GpkgProcess"),
            "xlsx": ("xlsx_process", ("XLSX_PROCESS_MIN_SITES", "XLSX_PROCESS_MIN_CORES"), "XlsxProcess")}


def _stage(out: Path, kw: dict, *, children: tuple[str, ...] | None, key: str) -> dict:
    """Wall and CPU time (this process and its children) of ``write_outputs`` with the writer processes
    ``children`` (of :data:`_WRITERS`) used whatever the survey's size and the cores, and the others'
    files written here; ``children=None``: as the pipeline chooses."""
    import importlib
    import resource

    from pv_survey.outputs import write_outputs

    waited: dict[str, list[float]] = {}
    undo = []
    for name, (module, thresholds, cls) in _WRITERS.items():
        try:
            mod = importlib.import_module(f"pv_survey.outputs.{module}")
        except ImportError:
            continue
        klass = getattr(mod, cls)
        real_wait = klass.wait

        def wait(self, _real=real_wait, _log=waited.setdefault(name, [])):
            t0 = time.perf_counter()
            try:
                return _real(self)
            finally:
                _log.append(time.perf_counter() - t0)

        klass.wait = wait
        undo.append((klass, "wait", real_wait))
        for k, threshold in enumerate(t for t in thresholds if hasattr(mod, t)):
            undo.append((mod, threshold, getattr(mod, threshold)))
            if children is not None and name not in children and k == 0:
                setattr(mod, threshold, float("inf"))
            elif children is not None and name in children:
                setattr(mod, threshold, 0)
    load0 = os.getloadavg()[0]
    own0 = time.process_time()
    child0 = _children_cpu(resource)
    t0 = time.perf_counter()
    try:
        write_outputs(out, **kw)
    finally:
        for obj, attr, value in undo:
            setattr(obj, attr, value)
    wall = time.perf_counter() - t0
    own, child = time.process_time() - own0, _children_cpu(resource) - child0
    tag = key.removesuffix("_s")
    res = {key: round(wall, 2), f"{tag}_cpu_s": round(own + child, 2),
           f"{tag}_load": f"{load0:.2f} / {os.getloadavg()[0]:.2f}"}
    if children is None or children:
        res.update({f"{tag}_{name}_wait_s": round(sum(w), 2) for name, w in waited.items() if w})
        res[f"{tag}_children_cpu_s"] = round(child, 2)
    return res


def _children_cpu(resource) -> float:
    """CPU seconds (user + system) of this process's ended, waited-for children."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(n: int, *, work: Path, repeat: int) -> dict:

    with open(capture(n, work), "rb") as fh:
        kw = _restore(pickle.load(fh))
    layers = {"buildings": len(kw["buildings"]), "roofs": len(kw["roofs"]), "plan": len(kw["plan"]),
              **{k: len(v) for k, v in (kw.get("extra_layers") or {}).items()}}
    runs = []
    for i in range(repeat):
        out = work / f"bench_out_{n}_{i}"
        r = {}
        for key, children in (("outputs_s", None), ("outputs_xlsxchild_s", ("gpkg", "xlsx")),
                              ("outputs_gpkgchild_s", ("gpkg",)), ("outputs_inproc_s", ())):
            shutil.rmtree(out, ignore_errors=True)
            r.update(_stage(out, kw, children=children, key=key))
            shutil.rmtree(out, ignore_errors=True)
        tmp = work / f"bench_parts_{n}_{i}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        parts = _parts(kw, tmp)
        runs.append({**r, **parts})
        shutil.rmtree(tmp, ignore_errors=True)
    return {"buildings": n, "layers": layers, "runs": runs,
            "best_outputs_s": min(r["outputs_s"] for r in runs)}


def profile(n: int, *, work: Path) -> Path:
    """py-spy record of ``write_outputs`` alone (raw collapsed stacks, 25 Hz) -> ``work``."""
    capture(n, work)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    dest = work / f"outputs_{n}.pyspy.txt"
    code = ("import pickle, shutil, sys; from pv_survey.outputs import write_outputs; "
            "from bench.bench_outputs import _restore; "
            f"kw = _restore(pickle.load(open({str(work / f'outputs_{n}.pkl')!r}, 'rb'))); "
            f"shutil.rmtree({str(work / 'profile_out')!r}, ignore_errors=True); "
            f"write_outputs({str(work / 'profile_out')!r}, **kw)")
    subprocess.run([spy, "record", "-r", "25", "-f", "raw", "-o", str(dest), "--", sys.executable, "-c", code],
                   check=True)
    return dest


def _markdown(res: dict, cmd: str) -> str:
    lines = [f"# Outputs stage alone ({res['buildings']:,} buildings)", "",
             f"Command: `{cmd}`  ", f"Measured {res['when']} on {res['machine']}.", "",
             "Layers: " + ", ".join(f"{k} {v:,}" for k, v in res["layers"].items()), ""]
    keys = list(res["runs"][0])
    lines += ["| run | " + " | ".join(keys) + " |", "|" + "---|" * (1 + len(keys))]
    for i, r in enumerate(res["runs"], start=1):
        lines.append(f"| {i} | " + " | ".join(f"**{r[k]}**" if k == "outputs_s" else str(r[k]) for k in keys) + " |")
    lines += ["", "outputs_s: the whole stage as the pipeline runs it, wall time (survey.gpkg in a child process "
              "beside the other files when the survey has GPKG_PROCESS_MIN_FEATURES features or more, "
              "shortlists.xlsx in another when the plan has XLSX_PROCESS_MIN_SITES sites or more and "
              "XLSX_PROCESS_MIN_CORES usable cores), "
              "outputs_cpu_s its CPU time (this process and the children), outputs_gpkg_wait_s / "
              "outputs_xlsx_wait_s the time this process then waited for each child, outputs_children_cpu_s "
              "the children's CPU time; outputs_xlsxchild_s: both files in children whatever the cores; "
              "outputs_gpkgchild_s: only survey.gpkg in a child "
              "(the workbook written here); outputs_inproc_s: every file written in this process, "
              "survey.gpkg first; load: the 1-minute load average before / after; the parts are "
              "CPU seconds, timed one after the other in one thread."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=40_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pv-survey-bench-outputs")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.profile:
        print(profile(a.buildings, work=a.work))
        return 0
    res = run(a.buildings, work=a.work, repeat=a.repeat)
    res["when"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    cmd = "python -m bench.bench_outputs " + " ".join(argv if argv is not None else sys.argv[1:])
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / "outputs.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    (a.results / "outputs.md").write_text(_markdown(res, cmd.strip()), encoding="utf-8")
    print(_markdown(res, cmd.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
