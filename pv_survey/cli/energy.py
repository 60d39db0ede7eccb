"""``pv-survey energy``: the energy stage alone, on a roofs table."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from . import cli
from .options import config_opt, layer_opt, overwrite_opt, resolve_out, weather_opt
from .tables import check_format, read_table, write_table

log = logging.getLogger("pv_survey")

#: Formats of the results table and of the hourly profiles (pv_survey.cli.tables).
_TABLE_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".csv")
_HOURLY_SUFFIXES = (".csv", ".parquet")


def _hourly_table(hourly):
    """The hourly profiles with the time as the first column (ISO 8601 with UTC offset)."""
    frame = hourly.copy()
    frame.insert(0, "time", frame.index.map(lambda t: t.isoformat()))
    return frame


@cli.command("energy")
@click.argument("roofs_path", metavar="ROOFS", type=click.Path(dir_okay=False, path_type=Path))
@weather_opt
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Result file; the format follows the extension: .gpkg, .parquet or .csv (UTF-8 with BOM).")
@click.option("--hourly", "hourly_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the 8,760-hour AC profile [kWh] summed over all roofs (.csv or .parquet).")
@click.option("--hourly-by", "hourly_by", default=None, metavar="COLUMN",
              help="With --hourly: one profile per value of this column of ROOFS (e.g. phase, category), "
                   "plus the total.")
@config_opt
@layer_opt
@overwrite_opt
def energy(roofs_path: Path, weather: str | None, out_path: Path, config_path: str | None, layer: str | None,
           overwrite: bool, hourly_path: Path | None = None, hourly_by: str | None = None) -> None:
    """Annual and monthly PV yield of every roof in ROOFS (the energy stage alone).

    ROOFS is a GeoPackage, GeoParquet or CSV table with tilt_deg, azimuth_deg and
    capacity_kwp (module_tilt_deg / module_azimuth_deg are used where present, as in a
    survey's roofs layer); optional: mount (rack | flush; default flush above 5 deg
    tilt, else rack), gcr (rows of racked modules), sky_view_frac, and a horizon --
    horizon_deg with one profile per roof as comma-separated degrees (sector k centred
    on azimuth k*360/n, clockwise from north) or columns horizon_deg_000, horizon_deg_005, ...

    Writes every input column plus annual_kwh, specific_yield_kwh_kwp, poa_kwh_m2,
    shading_loss_frac, performance_ratio and kwh_01..kwh_12. Model parameters come
    from --config (section [energy]); the weather from --weather (EPW, TMY3, PVGIS),
    default the embedded Guangzhou year.
    """
    from .. import energy as energy_mod
    from .. import weather as weather_mod
    from ..config import load_config
    from ..errors import InputError

    check_format(out_path, _TABLE_SUFFIXES)
    for path in (out_path, hourly_path):
        if path is not None:
            resolve_out(path, overwrite)
    if hourly_path is not None and hourly_path.suffix.lower() not in _HOURLY_SUFFIXES:
        raise click.BadParameter(f"{hourly_path}: use a .csv or .parquet file", param_hint="--hourly")
    if hourly_by and hourly_path is None:
        raise click.BadParameter("--hourly-by needs --hourly FILE", param_hint="--hourly-by")
    cfg = load_config(config_path)
    if weather is None and cfg.inputs.weather:
        weather = cfg.inputs.weather
    align = cfg.energy.time_alignment
    wx = weather_mod.read_weather(weather, align) if weather else weather_mod.default_weather(align)
    for note in wx.notes:
        log.info("weather: %s", note)
    warn = weather_mod.location_warning(wx, cfg.survey.centre_lon_deg, cfg.survey.centre_lat_deg,
                                        max_distance_km=cfg.energy.weather_max_distance_km)
    if warn:
        log.warning("Warning: %s", warn)
    table = read_table(roofs_path, layer=layer, what="roofs table")
    t0 = time.perf_counter()
    params = energy_mod.params_from_config(cfg.energy)
    if hourly_path is None:
        out = energy_mod.simulate_roof_table(table, wx, flat_max_tilt_deg=cfg.roofs.flat_max_tilt_deg,
                                             where=str(roofs_path), **params)
    else:
        if hourly_by and hourly_by not in table.columns:
            raise InputError(f"{roofs_path}: --hourly-by column '{hourly_by}' not in the table "
                             f"(columns: {', '.join(map(str, table.columns[:12]))})")
        labels = table[hourly_by].astype(str).to_numpy() if hourly_by else None
        out, hourly = energy_mod.simulate_roof_table(table, wx, flat_max_tilt_deg=cfg.roofs.flat_max_tilt_deg,
                                                     where=str(roofs_path), hourly_labels=labels,
                                                     hourly_total=True, **params)
    dt = time.perf_counter() - t0
    write_table(out, out_path, overwrite=overwrite, layer="roofs_energy")
    if hourly_path is not None:
        write_table(_hourly_table(hourly), hourly_path, overwrite=overwrite)
    from .console import quiet
    if quiet():  # -q: errors and where the outputs are, nothing else
        for path in (out_path, hourly_path):
            if path is not None:
                click.echo(str(path))
        return
    done = out["annual_kwh"].notna()
    n_skip = int((~done).sum())
    total_mwh = float(out.loc[done, "annual_kwh"].sum()) / 1000.0
    cap = float(out.loc[done, "capacity_kwp"].astype(float).sum()) if "capacity_kwp" in out else 0.0
    spec = f", {1000 * total_mwh / cap:,.0f} kWh/kWp" if cap > 0 else ""
    click.echo(f"{int(done.sum()):,d} roofs: {total_mwh:,.1f} MWh/yr{spec} ({dt:.1f} s; weather {wx.source})")
    if n_skip:
        click.echo(f"{n_skip:,d} rows without tilt_deg, azimuth_deg or capacity_kwp left without results")
    click.echo(f"wrote {out_path}")
