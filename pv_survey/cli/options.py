"""Options shared by several subcommands, defined once (as rasterio's ``rio/options.py``)."""

from __future__ import annotations

from pathlib import Path

import click


def resolve_out(path, overwrite: bool) -> Path:
    """The output path of a stage command; :class:`OutputError` when it exists without ``--overwrite``.

    One guard for every subcommand that writes a file (as ``rio``'s ``resolve_inout``).
    """
    from ..errors import OutputError

    out = Path(path)
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: exists; pass --overwrite to replace it")
    return out


config_opt = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Scenario TOML file (see scenarios/tianhe-default.toml). Command-line options override it.",
)
weather_opt = click.option(
    "--weather", type=click.Path(dir_okay=False), default=None,
    help="Weather file: EPW, TMY3, PVGIS TMY (CSV/JSON) or PVGIS hourly. Default: embedded Guangzhou year.",
)
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace existing outputs (never done silently).")
layer_opt = click.option("--layer", default=None, help="Layer name in a multi-layer source (GeoPackage, FileGDB).")
source_crs_opt = click.option(
    "--source-crs", default=None,
    help="CRS of an input that declares none (e.g. EPSG:4490), or gcj02 / bd09 for web-map coordinates.",
)
encoding_opt = click.option("--encoding", default=None, help="Attribute encoding of a shapefile without .cpg (e.g. gbk).")
workers_opt = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Run the tiles on a local dask cluster of N worker processes (one thread each).",
)
scheduler_opt = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Run the tiles on an existing dask cluster, e.g. tcp://10.0.0.5:8786 (workers must see the input "
         "files), or 'synchronous' for tiles in this process (the default: every run is tiled).",
)
