"""``pv-survey energy``: the energy stage alone, on a roofs table."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from . import cli
from .options import config_opt, layer_opt, overwrite_opt, resolve_out, weather_opt

log = logging.getLogger("pv_survey")

_TABLE_SUFFIXES = (".gpkg", ".parquet", ".geoparquet", ".csv")


def _read_table(path: Path, layer: str | None):
    """GeoPackage / other OGR source, (Geo)Parquet or CSV -> (Geo)DataFrame."""
    import pandas as pd

    from ..errors import InputFileError

    if not path.exists():
        raise InputFileError(f"{path}: roofs file not found; pass a .gpkg, .parquet or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, encoding="utf-8-sig")
        if suffix in (".parquet", ".geoparquet"):
            import pyarrow.parquet as pq

            if b"geo" in (pq.read_schema(path).metadata or {}):
                import geopandas as gpd

                return gpd.read_parquet(path)
            return pd.read_parquet(path)
        import geopandas as gpd

        return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot be read as a roofs table ({first}); check the file and --layer") from exc


def _write_table(frame, path: Path, overwrite: bool) -> None:
    """Write by extension, atomically; never overwrite silently."""
    import geopandas as gpd

    from ..errors import OutputError
    from ..outputs.atomic import atomic_path

    resolve_out(path, overwrite)
    suffix = path.suffix.lower()
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            out = frame.drop(columns=frame.geometry.name).copy() if is_geo else frame
            if is_geo:
                out["geometry_wkt"] = frame.geometry.to_wkt()
            out.to_csv(tmp, index=False, encoding="utf-8-sig")  # BOM so Excel shows Chinese
        elif suffix in (".parquet", ".geoparquet"):
            frame.to_parquet(tmp, index=False)
        elif suffix == ".gpkg":
            if not is_geo:
                raise OutputError(f"{path}: the roofs table has no geometry; write .csv or .parquet instead")
            frame.to_file(tmp, layer="roofs_energy", driver="GPKG")
        else:  # checked before the run; kept for library callers
            raise OutputError(f"{path}: unknown output format; use .gpkg, .parquet or .csv")


def _write_hourly(hourly, path: Path) -> None:
    """The hourly profiles, time as the first column (ISO 8601 with UTC offset), atomically."""
    from ..outputs.atomic import atomic_path

    frame = hourly.copy()
    frame.insert(0, "time", frame.index.map(lambda t: t.isoformat()))
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.6g")
        else:
            frame.to_parquet(tmp, index=False)


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

    if out_path.suffix.lower() not in _TABLE_SUFFIXES:
        raise click.BadParameter(f"{out_path}: use a .gpkg, .parquet or .csv file", param_hint="--out")
    for path in (out_path, hourly_path):
        if path is not None:
            resolve_out(path, overwrite)
    if hourly_path is not None and hourly_path.suffix.lower() not in (".csv", ".parquet"):
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
    table = _read_table(roofs_path, layer)
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
    _write_table(out, out_path, overwrite)
    if hourly_path is not None:
        _write_hourly(hourly, hourly_path)
    done = out["annual_kwh"].notna()
    n_skip = int((~done).sum())
    total_mwh = float(out.loc[done, "annual_kwh"].sum()) / 1000.0
    cap = float(out.loc[done, "capacity_kwp"].astype(float).sum()) if "capacity_kwp" in out else 0.0
    spec = f", {1000 * total_mwh / cap:,.0f} kWh/kWp" if cap > 0 else ""
    click.echo(f"{int(done.sum()):,d} roofs: {total_mwh:,.1f} MWh/yr{spec} ({dt:.1f} s; weather {wx.source})")
    if n_skip:
        click.echo(f"{n_skip:,d} rows without tilt_deg, azimuth_deg or capacity_kwp left without results")
    click.echo(f"wrote {out_path}")
