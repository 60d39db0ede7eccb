"""``pv-survey run``: the whole survey on one scenario."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import click

from . import cli
from .console import Progress, captured_native_output, quiet
from .options import (config_opt, encoding_opt, layer_opt, overwrite_opt, scheduler_opt, source_crs_opt,
                      weather_opt, workers_opt)

log = logging.getLogger("pv_survey")


_Progress = Progress  # the name batch.py imports


def name_from_source(source: str) -> str:
    """A survey name from a buildings source: the file stem (``real.geojson`` -> ``real``,
    ``tianhe.osm.pbf`` -> ``tianhe``), the table of a PostGIS URL, '' when nothing is left."""
    src = str(source).strip()
    if src.lower().startswith(("postgresql://", "postgres://")):
        tail = src.split("table=", 1)[1] if "table=" in src else src.rstrip("/").rsplit("/", 1)[-1]
        stem = tail.split("&", 1)[0].split(".")[-1]
    else:
        stem = Path(src.rstrip("/\\")).name
        for suffix in (".zip", ".pbf", ".osm", ".gz", ".bz2"):
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
        stem = Path(stem).stem if "." in stem else stem
    return re.sub(r"[\\/:*?\"<>|\s]+", "-", stem).strip("-. ")


def survey_name(cfg, name: str | None) -> str:
    """The run's name: ``--name``, else the config's ``survey.name`` when it is not the
    built-in demo name, else the buildings file's stem, else the demo name."""
    from ..config import SurveyConfig

    if name:
        return name
    default = SurveyConfig().name
    if cfg.survey.name != default:
        return cfg.survey.name
    return (name_from_source(cfg.inputs.buildings) if cfg.inputs.buildings else "") or default


def format_summary(summary: dict) -> str:
    """The short summary the CLI prints at the end (plain text table)."""
    lines = [
        f"Survey '{summary['name']}'",
        f"  buildings read                  {summary['buildings_in']:>12,d}",
        f"  buildings with a PV site        {summary['buildings_with_site']:>12,d}",
        f"  roof planes kept / total        {summary['roofs_kept']:>7,d} / {summary['roofs_total']:,d}",
        "  buildings excluded, by reason:",
    ]
    for reason, n in sorted(summary["excluded_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {n:>8,d}  {reason}")
    lines += [
        f"  new capacity                    {summary['total_capacity_kwp']:>12,.1f} kWp",
        f"  existing PV                     {summary['existing_kwp']:>12,.1f} kWp",
        f"  annual generation (new)         {summary['annual_mwh']:>12,.1f} MWh",
        "  targets:",
    ]
    for t in summary["targets"]:
        met = {"yes": "MET", "n/a": "n/a"}.get(str(t.get("met")), "NOT MET")
        if t.get("passed"):
            met += f" (year passed; closed in {t.get('due_year')})" if met == "MET" else " (year passed)"
        unit = t.get("unit", "kWp")
        req, ach = (t["required"], t["achieved_plan"]) if "required" in t else (t["required_kwp"], t["achieved_kwp"])
        fmt = (lambda v: f"{v:,.0f} kWp") if unit == "kWp" else (lambda v: f"{v:.0%}")
        # a share of no buildings is no number: say why rather than print 'nan%'
        got = fmt(ach) if ach is not None and math.isfinite(float(ach)) else "none (no buildings in the target's set)"
        lines.append(f"    {t['target']} (by {t.get('due_year', t['year'])}): required {fmt(req)}, "
                     f"achieved {got} -> {met}")
    for name, tot in (summary.get("resources") or {}).items():
        lines.append(f"  {name} (reported separately)      {tot['capacity_kwp']:>12,.1f} kWp, "
                     f"{tot['annual_mwh']:,.1f} MWh/yr, {tot['n_kept']:,} of {tot['n_total']:,} usable")
    lines.append("  (plain-words plan, coverage, category shares and economics: summary.md / report.html)")
    return "\n".join(lines)


@cli.command("run")
@config_opt
@click.option("--buildings", type=str, default=None, help="Building footprints (any GIS format, OSM, postgresql:// URL).")
@layer_opt
@click.option("--roofs", type=str, default=None, help="Optional roof-planes layer (tilt_deg, azimuth_deg per plane).")
@click.option("--dsm", type=click.Path(dir_okay=False), default=None, help="DSM GeoTIFF; default: rasterise footprints x heights.")
@click.option("--dem", type=click.Path(dir_okay=False), default=None, help="DEM GeoTIFF subtracted from --dsm.")
@click.option("--obstacles", default=None,
              help="Trees and other obstacles: polygons with height_m above ground, or a height raster (with --dsm).")
@weather_opt
@source_crs_opt
@encoding_opt
@click.option("--name", default=None,
              help="Run name (default: the config's survey.name, else the --buildings file name, else tianhe-demo).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default outputs/<name>).")
@click.option("--resources", default=None, metavar="KINDS",
              help="Resource classes, comma separated: roofs, facades, carports (default: roofs only; the "
                   "3 MW / 6 MW targets are rooftop-led, facades and carports are reported separately).")
@click.option("--parking", default=None, help="Car parks for the carport survey (polygons or OSM amenity=parking).")
@click.option("--pins", type=click.Path(dir_okay=False), default=None,
              help="CSV with building_id, pin ('in' = build first, 'out' = never plan); the plan marks pinned sites.")
@click.option("--zones", "zones", multiple=True, type=str,
              help="Reporting zones (街道, communities, parks; any GIS format); repeat for several layers.")
@click.option("--zone-field", default=None, help="Field with the zone name in the --zones layers (default: name).")
@click.option("--boundary", default=None,
              help="District boundary (polygons, any GIS format; DataV.GeoAtlas files are GCJ-02): drawn on the "
                   "report map, written as the 'boundary' layer; buildings outside it are counted in the notes.")
@click.option("--protected", default=None,
              help="Protected heritage buildings or areas (polygons): kept out of the build years ([roofs.constraints]).")
@click.option("--postgis", default=None, metavar="URL",
              help="Also write the result layers into PostGIS, e.g. postgresql://user@host:5432/db "
                   "(schema from outputs.postgis_schema, default pv_survey).")
@click.option("--hourly", is_flag=True, default=False,
              help="Also write 8,760-hour AC profiles of the plan: per build-year site, per build year and for the "
                   "district (hourly_*.csv), and chart a typical day per month in the report ([outputs] hourly).")
@click.option("--pdf", is_flag=True, default=False,
              help="Also print the report to report.pdf (A4) with a headless Chromium or Chrome.")
@click.option("--flux/--no-flux", "flux", default=None,
              help="Also write flux_annual.tif: kWh/m2 a year in the plane of every roof cell, a Cloud-Optimized "
                   "GeoTIFF with its QGIS style flux_annual.qml (config [flux] enabled).")
@click.option("--flux-resolution-m", type=float, default=None, metavar="M",
              help="Cell size of the flux raster (default [flux] resolution_m, 1 m).")
@click.option("--flux-monthly", is_flag=True, default=False,
              help="With --flux: also flux_monthly.tif, 12 bands January..December.")
@overwrite_opt
@workers_opt
@scheduler_opt
def run_cmd(config_path, buildings, layer, roofs, dsm, dem, obstacles, weather, source_crs, encoding, name, out_dir,
            resources, parking, pins, zones, zone_field, boundary, protected, postgis, hourly, pdf, flux,
            flux_resolution_m, flux_monthly, overwrite, workers, scheduler):
    """Survey every roof, plan the installations, write the outputs.

    With no options it runs the embedded Tianhe demo district on the embedded
    Guangzhou weather year and writes outputs/tianhe-demo/. Options override
    the --config file. The run is named after --name, the config or the buildings
    file, and writes into outputs/<name>/ unless --out is given; a folder that is
    not empty is refused unless --overwrite.
    """
    from ..config import check_name, load_config
    from ..pipeline import run_survey

    if name is not None:
        check_name(name, "--name")
    cfg = load_config(config_path)
    ins = {k: v for k, v in dict(buildings=buildings, layer=layer, roofs=roofs, dsm=dsm, dem=dem, obstacles=obstacles,
                                 weather=weather, source_crs=source_crs, encoding=encoding,
                                 parking=parking, zones=list(zones), zone_field=zone_field,
                                 protected=protected, boundary=boundary).items() if v}
    changes = {}
    if ins:
        changes["inputs"] = ins
    if resources:
        changes["resources"] = {"kinds": [k.strip() for k in resources.split(",") if k.strip()]}
    outs = {**({"postgis_url": postgis} if postgis else {}), **({"report_pdf": True} if pdf else {}),
            **({"hourly": True} if hourly else {})}
    if outs:
        changes["outputs"] = outs
    if pins:
        changes["plan"] = {"pins_file": pins}
    fx = {k: v for k, v in dict(enabled=flux, resolution_m=flux_resolution_m,
                                monthly=True if flux_monthly else None).items() if v is not None}
    if fx:
        changes["flux"] = fx
    if changes:
        cfg = cfg.replace(**changes)
    run_name = survey_name(cfg, name)
    if run_name != cfg.survey.name:
        cfg = cfg.replace(survey={"name": run_name})
    out_path = Path(out_dir or cfg.outputs.out_dir or Path("outputs") / run_name)
    progress = Progress()
    try:
        # the run holds the folder's lock and removes the folder again if it created it and fails
        with captured_native_output():
            result = run_survey(cfg, out_dir=out_path, overwrite=overwrite, progress=progress, workers=workers,
                                scheduler=scheduler)
    finally:
        progress.close()
    folder = next(iter(result.paths.values())).parent if result.paths else out_path
    if quiet():  # -q: errors (stderr) and where the outputs are, nothing else
        click.echo(f"{folder}/")
        return
    click.echo(format_summary(result.summary))
    if result.paths:
        click.echo(f"Outputs in {folder}/: " + ", ".join(sorted(p.name for p in result.paths.values())))
