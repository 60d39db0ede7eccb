"""``pv-survey run``: the whole survey on one scenario."""

from __future__ import annotations

import logging
import sys

import click

from . import cli
from .options import (config_opt, encoding_opt, layer_opt, overwrite_opt, scheduler_opt, source_crs_opt,
                      weather_opt, workers_opt)

log = logging.getLogger("pv_survey")


class _Progress:
    """A progress bar on a terminal, plain log lines (every 10%) otherwise."""

    def __init__(self, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # the current one, not the one at import
        self.tty = stream.isatty()
        self.bar = None
        self.stage = None
        self.last_decile = -1
        self.done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.last_decile, self.done = stage, -1, 0
            if self.tty:
                self.bar = click.progressbar(length=max(total, 1), label=f"{stage:8s}", file=sys.stderr,
                                             show_pos=True, show_eta=True)
                self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.done)
            self.done = done
        else:
            decile = int(10 * done / max(total, 1))
            if decile > self.last_decile:
                self.last_decile = decile
                log.info("[%s] %d/%d (%d%%)", stage, done, total, 10 * decile)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


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
        lines.append(f"    {t['target']} (by {t.get('due_year', t['year'])}): required {fmt(req)}, "
                     f"achieved {fmt(ach)} -> {met}")
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
@click.option("--name", default=None, help="Run name (default from the config: tianhe-demo).")
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
@click.option("--protected", default=None,
              help="Protected heritage buildings or areas (polygons): kept out of the build years ([roofs.constraints]).")
@click.option("--postgis", default=None, metavar="URL",
              help="Also write the result layers into PostGIS, e.g. postgresql://user@host:5432/db "
                   "(schema from outputs.postgis_schema, default pv_survey).")
@overwrite_opt
@workers_opt
@scheduler_opt
def run_cmd(config_path, buildings, layer, roofs, dsm, dem, obstacles, weather, source_crs, encoding, name, out_dir,
            resources, parking, pins, zones, zone_field, protected, postgis, overwrite, workers, scheduler):
    """Survey every roof, plan the installations, write the outputs.

    With no options it runs the embedded Tianhe demo district on the embedded
    Guangzhou weather year and writes outputs/tianhe-demo/. Options override
    the --config file.
    """
    from ..config import load_config
    from ..pipeline import run_survey

    cfg = load_config(config_path)
    ins = {k: v for k, v in dict(buildings=buildings, layer=layer, roofs=roofs, dsm=dsm, dem=dem, obstacles=obstacles,
                                 weather=weather, source_crs=source_crs, encoding=encoding,
                                 parking=parking, zones=list(zones), zone_field=zone_field,
                                 protected=protected).items() if v}
    changes = {}
    if ins:
        changes["inputs"] = ins
    if resources:
        changes["resources"] = {"kinds": [k.strip() for k in resources.split(",") if k.strip()]}
    if postgis:
        changes["outputs"] = {"postgis_url": postgis}
    if pins:
        changes["plan"] = {"pins_file": pins}
    if name:
        changes["survey"] = {"name": name}
    if changes:
        cfg = cfg.replace(**changes)
    progress = _Progress()
    try:
        result = run_survey(cfg, out_dir=out_dir, overwrite=overwrite, progress=progress, workers=workers,
                            scheduler=scheduler)
    finally:
        progress.close()
    click.echo(format_summary(result.summary))
    if result.paths:
        folder = next(iter(result.paths.values())).parent
        click.echo(f"Outputs in {folder}/: " + ", ".join(sorted(p.name for p in result.paths.values())))
