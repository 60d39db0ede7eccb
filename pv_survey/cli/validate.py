"""``pv-survey validate``: check a buildings source before a survey."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli
from .options import config_opt, encoding_opt, layer_opt, overwrite_opt, source_crs_opt
from .tables import check_format, write_table


class NotUsable(click.ClickException):
    """The input cannot be surveyed as it is: exit code 2."""

    exit_code = 2


@cli.command("validate")
@click.argument("input_path", metavar="INPUT")
@layer_opt
@source_crs_opt
@encoding_opt
@config_opt
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report table to this file (.csv, .json, .parquet or .md).")
@overwrite_opt
def validate(input_path: str, layer: str | None, source_crs: str | None, encoding: str | None,
             config_path: str | None, out_path: Path | None, overwrite: bool) -> None:
    """Check a buildings file (or PostGIS table) and report what a survey would make of it.

    INPUT is a GeoPackage, Shapefile (or .zip), GeoJSON, FlatGeobuf, GeoParquet, File
    Geodatabase, .osm.pbf, a postgresql://user@host/db?table=schema.name URL or a GDAL
    "PG:... tables=schema.name" string. Counts features, invalid / empty / duplicate /
    non-polygon geometries, duplicate ids, attribute problems, the CRS and extent, and
    swapped or far-away coordinates. The field and value maps and the survey extent come
    from --config (default: the Tianhe defaults).

    Exit code 0 when the input is usable, 2 when it is not.
    """
    from ..config import load_config
    from ..inputs import validate_buildings

    if out_path is not None:
        check_format(out_path, (".csv", ".json", ".parquet", ".md"))
    cfg = load_config(config_path)
    ins = cfg.inputs
    report = validate_buildings(
        input_path, layer=layer or ins.layer or None, source_crs=source_crs or ins.source_crs or None,
        encoding=encoding or ins.encoding or None, field_map=ins.field_map, value_map=ins.value_map,
        extent_lon_lat=cfg.survey.extent_lon_lat,
    )
    frame = report.to_frame()
    width = max(len(c) for c in frame["check"])
    for check, value in zip(frame["check"], frame["value"]):
        click.echo(f"{check:<{width}}  {value}")
    if out_path is not None:
        write_table(frame, out_path, overwrite=overwrite)
        click.echo(f"report written to {out_path}", err=True)
    if not report.usable:
        raise NotUsable(f"{report.source} is not usable: {'; '.join(report.problems)}")
