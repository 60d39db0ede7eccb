"""Outputs people open: a styled GeoPackage for QGIS, CSV shortlists, a report, a manifest.

:func:`write_outputs` writes, into one folder:

- ``survey.gpkg`` — GeoPackage 1.2 with layers ``buildings``, ``roofs``, ``plan``, ``targets``,
  ``coverage``, ``category_shares`` (and any extra layers), stable feature ids, and each
  layer's QGIS default style in ``layer_styles``;
- ``shortlist.csv``, ``shortlist_<phase>.csv``, ``shortlist_class_<class>.csv`` — UTF-8 with
  BOM, bilingual headers;
- ``shortlists.xlsx`` — the procurement workbook (one sheet per build year, reserve and class,
  a summary sheet with totals);
- ``report.html`` (self-contained) and ``cumulative_capacity.png``;
- ``summary.md``, ``README.txt`` (bilingual index of the folder) and ``manifest.json``;
- with hourly profiles: ``hourly_district.csv``, ``hourly_phases.csv``, ``hourly_sites.csv``
  (or ``hourly_sites.parquet``).

Every file is staged under a temporary name and put in place only when all are written
(:mod:`pv_survey.outputs.atomic`); an existing output is never replaced without
``overwrite=True``. :func:`write_postgis` writes the same layers into a PostGIS schema.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

import geopandas as gpd
import pandas as pd

from ..config import OutputsConfig
from ..errors import OutputError
from ..memory import release_freed_memory
from .atomic import Staging, atomic_path, existing_outputs, prepare_out_dir, write_failure
from . import charts as charts_mod
from .charts import ChartText, cjk_font
from .csv_out import ListWriteError, shortlist_frame, shortlist_rows, write_csv_lists
from .gpkg import gpkg_timestamp, layer_builders, plan_layer, result_layers, write_gpkg
from .gpkg_process import GpkgProcess, use_process
from . import xlsx_process
from .xlsx_process import XlsxProcess
from .manifest import manifest_json
from .spool import SpooledLayer
from .postgis import write_postgis
from .report import render_charts, report_html, summary_md
from .index import readme_txt
from .hourly import hourly_tables, sites_geoparquet, typical_day_kw
from .xlsx_out import shortlists_xlsx, workbook_sheets

__all__ = [
    "write_outputs",
    "prepare_out_dir",
    "atomic_path",
    "result_layers",
    "write_gpkg",
    "write_postgis",
]

Progress = Callable[[str, int, int], None]


def _version() -> str:
    try:
        return metadata.version("pv-survey")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return ""


def _source_date() -> datetime | None:
    """The time set by ``SOURCE_DATE_EPOCH`` (reproducible-builds.org convention), if any.

    With it set, the timestamps inside survey.gpkg and report.html are that time, so
    the same inputs give byte-identical files; without it they carry the run's time.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    try:
        return datetime.fromtimestamp(int(raw), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise OutputError(f"SOURCE_DATE_EPOCH = {raw!r} is not a whole number of seconds since 1970; "
                          "unset it or give e.g. 1700000000") from None


def _stamp_from(manifest: Mapping[str, Any]) -> str:
    fixed = _source_date()
    if fixed is not None:
        return gpkg_timestamp(fixed.isoformat(timespec="seconds"))
    when = manifest.get("started_utc") if isinstance(manifest, Mapping) else None
    try:
        return gpkg_timestamp(when) if when else gpkg_timestamp()
    except OutputError:
        return gpkg_timestamp()


def _map_outlines(extra_layers: Mapping[str, pd.DataFrame] | None) -> dict[str, gpd.GeoSeries]:
    """``boundary`` / ``zones`` geometries for the report map, from extra layers of those names."""
    found = {}
    for key in ("boundary", "zones"):
        layer = (extra_layers or {}).get(key)
        if isinstance(layer, gpd.GeoDataFrame) and len(layer):
            found[key] = layer.geometry
    return found


def write_outputs(out_dir: str | Path, *, buildings: gpd.GeoDataFrame, roofs: gpd.GeoDataFrame,
                  plan: pd.DataFrame, targets: pd.DataFrame, coverage: pd.DataFrame | None = None,
                  category_shares: pd.DataFrame | None = None, summary: Mapping[str, Any],
                  manifest: Mapping[str, Any], crs: Any, overwrite: bool = False,
                  shortlist_size: int = OutputsConfig.shortlist_size,
                  workbook_max_rows: int = OutputsConfig.workbook_max_rows,
                  progress: Progress | None = None, extra_layers: Mapping[str, pd.DataFrame] | None = None,
                  plan_result: Any = None, chart_font: str | None | bool = True,
                  pdf: bool = False, hourly: Any = None,
                  hourly_sites_format: str = OutputsConfig.hourly_sites_format,
                  report_interactive: str = OutputsConfig.report_interactive,
                  flux: Any = None) -> dict[str, Path]:
    """Write every output file of a survey into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created when missing).
    buildings : GeoDataFrame
        Every input building with ``excluded_reason``, ``phase``, ``capacity_kwp``,
        ``annual_kwh``; metric CRS.
    roofs : GeoDataFrame
        Every roof plane with its layout, energy results and ``excluded_reason``.
    plan : DataFrame
        Ranked sites, one row per building (``rank``, ``building_id``, ``phase``, ...).
    targets, coverage, category_shares : DataFrame
        Plan tables, written as attribute layers and shown in the report.
    summary : mapping
        Counts and totals (``name``, ``buildings_in``, ``roofs_total``, ``roofs_kept``,
        ``excluded_by_reason``, ``total_capacity_kwp``, ``existing_kwp``, ``annual_mwh``,
        ``targets``, ``notes``, ``weather_source``, ``timings_s``, optional ``plan_lines``).
    manifest : mapping
        Re-run information; written as manifest.json with the SHA-256 of every other file.
        Its ``started_utc`` stamps the GeoPackage (same inputs and manifest -> same bytes).
    crs : CRS-like
        Metric CRS of the layers (e.g. ``"EPSG:4547"``).
    overwrite : bool
        Replace the outputs of an earlier run (all new files are written first).
    shortlist_size : int
        Rows of shortlist.csv; 0 = every planned site.
    workbook_max_rows : int
        Sites on the reserve and class sheets of shortlists.xlsx at most (0 = all).
    progress : callable(stage, done, total), optional
        Called as ``progress("outputs", i, n)`` after each file.
    extra_layers : mapping, optional
        Further layers (name -> DataFrame / GeoDataFrame), e.g. resource layers; layers named
        ``boundary`` and ``zones`` are also outlined on the report's map.
    plan_result : object, optional
        The plan stage's result; its ``summary_lines`` and ``notes`` are used when the
        summary has none.
    chart_font : str, None or True
        CJK font for the charts: True = the shipped Noto Sans SC (or an installed CJK font),
        None = English-only charts.
    pdf : bool
        Also print the report to ``report.pdf`` (A4) with a headless Chromium.
    hourly : pv_survey.plan.HourlyPlan, optional
        Hourly AC profiles of the plan: written as ``hourly_district.csv``, ``hourly_phases.csv``
        and ``hourly_sites.csv`` / ``.parquet`` (:mod:`pv_survey.outputs.hourly`), the district's
        typical day per month charted in the report.
    hourly_sites_format : str
        ``"csv"`` or ``"parquet"`` (GeoParquet) for the per-site profiles.
    report_interactive : str
        Pan/zoom on the report's map: ``"on"``, ``"off"`` or ``"auto"`` (on while the map's
        footprints are vectors: at most :data:`pv_survey.outputs.charts.MAP_MAX_VECTOR_FOOTPRINTS`).
    flux : pv_survey.outputs.flux_raster.FluxRaster, optional
        The run's roof irradiation raster, filled tile by tile: written as the Cloud-Optimized
        GeoTIFF ``flux_annual.tif`` (and ``flux_monthly.tif``) with their QGIS styles.

    Returns
    -------
    dict
        File name -> final path of every file written.

    Raises
    ------
    OutputError
        Outputs exist without ``overwrite``, the folder cannot be written, or a writer failed
        (the earlier outputs are then left as they were).
    """
    t0 = time.perf_counter()
    out = prepare_out_dir(out_dir, overwrite=overwrite)
    summary = dict(summary)
    if plan_result is not None:
        summary.setdefault("plan_lines", list(getattr(plan_result, "summary_lines", []) or []))
        if not summary.get("notes"):
            summary["notes"] = list(getattr(plan_result, "notes", []) or [])
    stamp = _stamp_from(manifest)
    n_steps, step = 7, 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress("outputs", step, n_steps)

    # survey.gpkg of a large survey is written by a child process beside the other files (pyogrio holds
    # Python's GIL while GDAL writes, so a thread gains nothing); started first, so that its interpreter
    # starts while the plan layer is built. Smaller surveys write it here, before the other files.
    # shortlists.xlsx of a large plan likewise (XlsxWriter is pure Python) where there is a core for it:
    # its child is handed the shortlist frame as soon as it exists and writes the workbook while this
    # process writes the CSV lists, charts and report.
    n_features = sum(len(t) for t in (buildings, roofs, plan, targets, coverage, category_shares,
                                      *(extra_layers or {}).values()) if t is not None)
    spooled = [v for v in (extra_layers or {}).values() if isinstance(v, SpooledLayer)]
    with Staging(out) as st, contextlib.ExitStack() as running:
        gpkg_tmp = st.temp("survey.gpkg")
        scratch_in = spooled[0].spool.dir if spooled else None
        child = running.enter_context(GpkgProcess(
            gpkg_tmp, final=out / "survey.gpkg", crs=crs, timestamp=stamp,
            scratch_in=scratch_in)) if use_process(n_features) else None
        xlsx_child = running.enter_context(XlsxProcess(
            st.temp("shortlists.xlsx"), final=out / "shortlists.xlsx", title=str(summary.get("name", "")),
            when=_source_date(), max_rows=workbook_max_rows,
            scratch_in=scratch_in)) if xlsx_process.use_process(len(plan)) else None
        plan_l = plan_layer(plan, buildings, crs=crs)  # the plan layer feeds every list, the report and the map
        layers = layer_builders(buildings=buildings, roofs=roofs, plan=plan, targets=targets, coverage=coverage,
                                category_shares=category_shares, extra_layers=extra_layers, crs=crs,
                                plan_frame=plan_l, lazy_order=child is not None)

        def put(name: str, data: bytes) -> Path:
            """Stage ``data`` as the output ``name``; a failed write is one OutputError naming the file."""
            tmp = st.temp(name)
            try:
                tmp.write_bytes(data)
            except OSError as exc:
                raise OutputError(write_failure(out / name, "writing", exc)) from exc
            return tmp

        if child is not None:
            child.write(layers)  # one layer in memory at a time, handed over as a scratch file
            release_freed_memory()  # the layers built for it, before the lists and the report
        else:  # survey.gpkg first, then the other files: one working set at a time
            try:
                write_gpkg(gpkg_tmp, layers, crs=crs, timestamp=stamp)  # one layer in memory at a time
            except (OSError, sqlite3.Error) as exc:  # OutputError is an OSError: GDAL's and SQLite's failures
                raise OutputError(write_failure(out / "survey.gpkg", "writing", exc)) from exc
        others = _write_other_files(
            st, put, out, plan_l=plan_l, buildings=buildings, roofs=roofs, targets=targets, coverage=coverage,
            category_shares=category_shares, summary=summary, shortlist_size=shortlist_size,
            workbook_max_rows=workbook_max_rows, chart_font=chart_font, hourly=hourly,
            hourly_sites_format=hourly_sites_format, report_interactive=report_interactive,
            extra_layers=extra_layers, xlsx_child=xlsx_child,
            pdf=pdf, tick=tick)
        tick()
        if flux is not None:  # issue 19: the roof irradiation raster, a COG with its QGIS style
            flux.write_into(st)
        index = readme_txt([*st.staged, "manifest.json"], survey=str(summary.get("name", "")),
                           layers=list(layers), sheets=others["sheets"])
        put("README.txt", index.encode("utf-8-sig"))
        if child is not None or xlsx_child is not None:
            release_freed_memory()  # the lists', charts' and report's working memory, while the children end
        for writer in (child, xlsx_child):
            if writer is not None:
                writer.wait()  # nothing is put in place unless survey.gpkg and shortlists.xlsx were written
        tick()
        # the manifest is written last, so it can time the outputs stage itself
        timings = {**dict(manifest.get("timings_s", {})), "outputs": round(time.perf_counter() - t0, 3)}
        manifest = {**manifest, "timings_s": timings}
        manifest_text = manifest_json(manifest, outputs=st.staged)  # hashes of every other file
        put("manifest.json", manifest_text.encode("utf-8"))
        tick()
        # shortlists of an earlier run that this run does not write would mislead: removed in the commit
        stale = [old for old in existing_outputs(out) if old.name not in st.staged] if overwrite else []
        paths = st.commit(remove=stale)
    return paths


#: Plan sites whose curves are looked up at a time in a spooled ``site_curves`` layer (project choice).
_CURVE_LOOKUP_SITES = 500


def _report_curves(curves, plan: pd.DataFrame):
    """The curves the report can draw: a spooled ``site_curves`` layer is read only for the first
    plan sites, in rank order, until :data:`charts.CURVE_SITES` sites with a curve are found."""
    if not isinstance(curves, SpooledLayer):
        return curves
    ids = plan[["rank", "building_id"]].sort_values("rank", kind="stable")["building_id"].astype(str).to_numpy() \
        if len(plan) else []
    found, have = [], 0
    for start in range(0, len(ids), _CURVE_LOOKUP_SITES):
        part = curves.read(building_ids=ids[start:start + _CURVE_LOOKUP_SITES])
        found.append(part)
        have += part["building_id"].nunique()
        if have >= charts_mod.CURVE_SITES:
            break
    return pd.concat(found, ignore_index=True) if found else curves.empty_frame


def _write_other_files(st, put, out, *, plan_l, buildings, roofs, targets, coverage, category_shares, summary,
                       shortlist_size, workbook_max_rows, chart_font, hourly, hourly_sites_format,
                       report_interactive, extra_layers, xlsx_child, pdf, tick) -> dict:
    """The lists, workbook (or its hand-over to ``xlsx_child``), charts, report, zone and hourly tables and
    summary of :func:`write_outputs`."""
    sl = shortlist_frame(plan_l)  # once, for the CSV lists, the workbook and the index
    if xlsx_child is not None:
        xlsx_child.write(sl)  # the workbook is written by the child from here on
    # every list in one pass over the sites, chunk by chunk: each site's CSV line is formatted once (a
    # site is in up to three lists: all, its year, its class) and a chunk's lines are held at a time
    lists = shortlist_rows(plan_l, shortlist_size=shortlist_size, shortlist=sl)
    try:
        write_csv_lists(sl, {name: (st.temp(name), rows) for name, rows in lists.items()})
    except ListWriteError as exc:
        raise OutputError(write_failure(out / exc.name, "writing", exc.__cause__)) from exc.__cause__
    release_freed_memory()  # the lists' chunks, before the workbook, charts and report take theirs
    if xlsx_child is None:
        put("shortlists.xlsx", shortlists_xlsx(plan_l, title=str(summary.get("name", "")), when=_source_date(),
                                               max_rows=workbook_max_rows, shortlist=sl))
    # the shortlist frame (every build-year and reserve site) goes before the charts and the report: the
    # index only names the workbook's sheets
    sheets = workbook_sheets(plan_l, shortlist=sl)
    del sl, lists
    release_freed_memory()
    tick()
    text = ChartText(cjk_font() if chart_font is True else (chart_font or None))
    existing = float(summary.get("existing_kwp", buildings["existing_pv_kwp"].sum()
                                 if "existing_pv_kwp" in buildings else 0.0))
    day_kw = typical_day_kw(hourly.district) if hourly is not None else None
    charts = render_charts(plan=plan_l, roofs=roofs, targets=targets,
                           existing_kwp=existing, text=text, typical_day=day_kw,
                           curves=_report_curves((extra_layers or {}).get("site_curves"), plan_l))
    put("cumulative_capacity.png", charts["cumulative"])
    release_freed_memory()  # the charts' tables, before the report's map
    tick()
    html = report_html(summary=summary, targets=targets, coverage=coverage, category_shares=category_shares,
                       plan=plan_l, buildings=buildings, charts=charts,
                       generated=(_source_date() or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
                       version=_version(), zones=(extra_layers or {}).get("zones"),
                       boundary=_map_outlines(extra_layers).get("boundary"),
                       interactive=report_interactive == "on" or (
                           report_interactive == "auto" and len(buildings) <= charts_mod.MAP_MAX_VECTOR_FOOTPRINTS))
    html_tmp = put("report.html", html.encode("utf-8"))
    if pdf:
        from .pdf import print_pdf
        print_pdf(html_tmp, st.temp("report.pdf"))
    tick()
    if extra_layers and "zones" in extra_layers:  # per-zone table (issue 16), UTF-8 with BOM like the shortlists
        z = pd.DataFrame(extra_layers["zones"]).drop(columns=["geometry", "fid"], errors="ignore")
        put("zones.csv", z.to_csv(index=False).encode("utf-8-sig"))
    if hourly is not None:  # issue 14: the plan's hourly AC profiles
        for name, data in hourly_tables(hourly).items():
            if name == "hourly_sites.csv" and hourly_sites_format == "parquet":
                try:
                    sites_geoparquet(hourly, plan_l, st.temp("hourly_sites.parquet"))
                except OSError as exc:
                    raise OutputError(write_failure(out / "hourly_sites.parquet", "writing", exc)) from exc
                continue
            put(name, data)
    md = summary_md(summary=summary, targets=targets, coverage=coverage, plan=plan_l)
    put("summary.md", md.encode("utf-8"))
    tick()
    return {"sheets": sheets}
