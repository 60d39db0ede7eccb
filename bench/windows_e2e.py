"""A whole run on a buildings file read in windows against the same run read in one go (issue 18, item 4).

``python -m bench.windows_e2e [--buildings 60000] [--window 25000]``

A synthetic city (:func:`pv_survey.citygen.write_city`, GeoParquet) is surveyed twice through
:func:`pv_survey.run_survey` (``write=False``, tiles in this process, default 3 km tiles): once with
``inputs.read_window_features`` above the file's size (read in one go, tiles get slices of the
city table) and once with ``--window`` (read in windows, tiles read their buildings from the scratch
store). The roofs (ids, annual energy, capacity, sky view, shading loss, exclusion reasons) and the
buildings table must be equal exactly; the wall times, stage times and the time the tiles spent
reading the store are recorded in ``bench/results/windows_e2e.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    from pv_survey.citygen import write_city
    from pv_survey.config import Config
    from pv_survey.inputs.store import BuildingStore
    from pv_survey.pipeline import run_survey

    from .soak import _extent

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=60_000)
    ap.add_argument("--window", type=int, default=25_000)
    args = ap.parse_args(argv)
    read_s = [0.0]
    real_read = BuildingStore.read

    def timed_read(self, *a, **k):
        t = time.perf_counter()
        try:
            return real_read(self, *a, **k)
        finally:
            read_s[0] += time.perf_counter() - t

    BuildingStore.read = timed_read
    runs = {}
    with tempfile.TemporaryDirectory(prefix="pv-bench-windows-") as tmp:
        path = write_city(Path(tmp) / "city.parquet", args.buildings)
        base = Config().replace(inputs={"buildings": str(path)},
                                survey={"name": "windows-e2e", "extent_lon_lat": _extent(path)})
        for label, window in (("one go", args.buildings + 1), ("windows", args.window)):
            read_s[0] = 0.0
            t = time.perf_counter()
            res = run_survey(base.replace(inputs={"read_window_features": window}), write=False)
            runs[label] = {"window_features": window, "wall_s": round(time.perf_counter() - t, 1),
                           "timings_s": res.summary["timings_s"], "store_read_s": round(read_s[0], 2),
                           "notes": [n for n in res.summary["notes"] if "window" in n or "tiled run" in n],
                           "result": res}
            print(label, runs[label]["wall_s"], "s", runs[label]["notes"], flush=True)
    a, b = runs["one go"].pop("result"), runs["windows"].pop("result")
    same = a.roofs["roof_id"].tolist() == b.roofs["roof_id"].tolist() and all(
        np.array_equal(a.roofs[c].to_numpy(float), b.roofs[c].to_numpy(float), equal_nan=True)
        for c in ("annual_kwh", "capacity_kwp", "sky_view_frac", "shading_loss_frac")) and \
        a.roofs["excluded_reason"].tolist() == b.roofs["excluded_reason"].tolist()
    pd.testing.assert_frame_equal(pd.DataFrame(a.buildings.drop(columns="geometry")),
                                  pd.DataFrame(b.buildings.drop(columns="geometry")))
    doc = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "command": "python -m bench.windows_e2e " + " ".join(sys.argv[1:] if argv is None else argv),
           "buildings": args.buildings, "roofs": len(a.roofs), "roofs_equal": bool(same), "buildings_equal": True,
           "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "windows_e2e.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = ["# A run read in windows against the same run read in one go", "",
             f"{doc['date']}; `{doc['command']}`; {args.buildings:,} buildings, {len(a.roofs):,} roofs; "
             f"roofs equal: {same}; buildings table equal: True", "",
             "| read | wall s | inputs s | tiles s | of which reading the store s | notes |", "|---|---:|---:|---:|---:|---|"]
    for label, r in runs.items():
        lines.append(f"| {label} | {r['wall_s']} | {r['timings_s'].get('inputs', 0)} | {r['timings_s'].get('tiles', 0)} | "
                     f"{r['store_read_s']} | {'; '.join(r['notes'])} |")
    (RESULTS / "windows_e2e.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not same:
        print("roofs differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
