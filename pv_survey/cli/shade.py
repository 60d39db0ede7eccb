"""``pv-survey shade``: horizon profiles and sky-view factors at given points (site checks, tool comparisons)."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import ShadingConfig
from . import cli
from .options import layer_opt, overwrite_opt, resolve_out
from .tables import check_format, read_table, write_table

_FORMATS = (".csv", ".gpkg", ".parquet")


def _read_points(path: Path):
    """(DataFrame of attributes, x, y, crs or None) from a table with x, y or a point vector file."""
    import numpy as np
    import pandas as pd

    from ..errors import InputError

    frame = read_table(path, what="points")
    crs = getattr(frame, "crs", None)
    if "x" not in frame.columns or "y" not in frame.columns:
        if crs is None and "geometry" not in frame.columns:
            missing = [c for c in ("x", "y") if c not in frame.columns]
            raise InputError(f"{path}: no column {' or '.join(missing)}; the points table needs x and y in the "
                             f"DSM's CRS (columns seen: {', '.join(map(str, frame.columns))})")
        types = set(frame.geom_type.dropna())
        if types - {"Point"}:
            raise InputError(f"{path}: geometries are {', '.join(sorted(types))}; give points or x, y columns")
        frame["x"], frame["y"] = frame.geometry.x, frame.geometry.y
    for c in ("x", "y"):
        vals = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(vals.to_numpy(float)))
        if bad.size:
            raise InputError(f"{path}: row {int(bad[0]) + 1} has {c} = {frame[c].iloc[bad[0]]!r}; give numbers in metres")
        frame[c] = vals.astype(float)
    return frame, crs


@cli.command("shade")
@click.option("--points", "points_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with x, y (in the DSM's CRS) or a point vector file; optional height_above_surface_m.")
@click.option("--dsm", "dsm_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="DSM GeoTIFF (surface elevation).")
@click.option("--dem", "dem_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Optional DEM subtracted from --dsm.")
@click.option("--buildings", "buildings_path", type=str, default=None,
              help="Footprints with heights, rasterised into a DSM instead of --dsm.")
@layer_opt
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output table: .csv (UTF-8 with BOM), .gpkg or .parquet.")
@click.option("--height-field", default="height_m", show_default=True, help="Height field of --buildings [m].")
@click.option("--resolution", "resolution_m", type=float, default=None,
              help=f"DSM cell size [m]; default {ShadingConfig.dsm_resolution_m:g} m for --buildings, the file's "
                   "own for --dsm.")
@click.option("--sectors", "n_sectors", type=click.IntRange(4, 720), default=ShadingConfig.n_sectors, show_default=True,
              help="Azimuth sectors (72 = 5 deg).")
@click.option("--radius", "radius_m", type=click.FloatRange(1.0, 5000.0), default=ShadingConfig.search_radius_m,
              show_default=True, help="Search radius [m].")
@overwrite_opt
def shade(points_path: Path, dsm_path: str | None, dem_path: str | None, buildings_path: str | None,
          layer: str | None, out_path: Path, height_field: str, resolution_m: float | None, n_sectors: int,
          radius_m: float, overwrite: bool) -> None:
    """Horizon profile and sky-view factor at each point, from a DSM or from footprints x heights.

    Each point stands on the surface (the DSM cell under it) plus its optional
    height_above_surface_m column. Output: the input columns plus horizon_deg_000,
    horizon_deg_005, ... (elevation [deg] of sector centres clockwise from north) and
    sky_view_frac (isotropic sky-view factor of a horizontal surface, 0-1).
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from .. import shading
    from ..errors import CRSError, InputError

    if (dsm_path is None) == (buildings_path is None):
        raise click.UsageError("give exactly one of --dsm and --buildings")
    if dem_path and not dsm_path:
        raise click.UsageError("--dem needs --dsm")
    check_format(out_path, _FORMATS)
    resolve_out(out_path, overwrite)

    frame, pts_crs = _read_points(points_path)
    if "height_above_surface_m" in frame.columns:
        offset = pd.to_numeric(frame["height_above_surface_m"], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(offset))
        if bad.size:
            raise InputError(f"{points_path}: row {int(bad[0]) + 1} has height_above_surface_m = "
                             f"{frame['height_above_surface_m'].iloc[bad[0]]!r}; give metres or leave the column out")
    else:
        offset = np.zeros(len(frame))
    if len(frame) == 0:
        raise InputError(f"{points_path}: no points")
    x, y = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    bounds = (x.min(), y.min(), x.max(), y.max())

    if dsm_path:
        dsm = shading.read_dsm(dsm_path, bounds=bounds, pad_m=radius_m, crs=pts_crs, dem_path=dem_path,
                               resolution_m=resolution_m)
    else:
        try:
            bld = gpd.read_file(buildings_path, layer=layer, engine="pyogrio")
        except Exception as exc:  # pyogrio raises DataSourceError & co.
            raise InputError(f"{buildings_path}: cannot read the buildings ({exc})") from exc
        if bld.crs is None or not bld.crs.is_projected:
            raise CRSError(f"{buildings_path}: CRS {bld.crs} is not a projected metric CRS; "
                           "reproject the footprints (e.g. to EPSG:4547)")
        if height_field not in bld.columns:
            raise InputError(f"{buildings_path}: no field '{height_field}' (fields: {', '.join(map(str, bld.columns))}); "
                             "name the height field with --height-field")
        if pts_crs is not None and not bld.crs.equals(pts_crs):
            pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=pts_crs).to_crs(bld.crs)
            x, y = pts.x.to_numpy(), pts.y.to_numpy()
            bounds = (x.min(), y.min(), x.max(), y.max())
        bld = bld[bld.geometry.notna() & ~bld.geometry.is_empty]
        dsm = shading.dsm_from_buildings(bld.geometry, pd.to_numeric(bld[height_field], errors="coerce").to_numpy(float),
                                         resolution_m=resolution_m or ShadingConfig.dsm_resolution_m, bounds=bounds, pad_m=radius_m,
                                         crs=bld.crs)
    z = shading.dsm_height_at(dsm, x, y) + offset
    hz = shading.horizon_at_points(dsm, x, y, z, n_sectors=n_sectors, radius_m=radius_m)
    az = shading.sector_azimuths_deg(n_sectors)
    names = [f"horizon_deg_{a:03.0f}" if float(a).is_integer() else f"horizon_deg_{a:06.2f}" for a in az]
    result = pd.DataFrame(np.round(hz.astype(float), 3), columns=names, index=frame.index)
    result["sky_view_frac"] = np.round(shading.sky_view_factor(hz), 5)
    table = pd.concat([pd.DataFrame(frame.drop(columns="geometry", errors="ignore")), result], axis=1)
    if out_path.suffix.lower() != ".csv":
        table = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(x, y), crs=dsm.crs)
    write_table(table, out_path, overwrite=overwrite, layer="horizons")
    from .console import quiet
    if quiet():  # -q: errors and where the output is, nothing else
        click.echo(str(out_path))
        return
    click.echo(f"{out_path}: {len(table)} points, {n_sectors} sectors, mean sky view "
               f"{float(result['sky_view_frac'].mean()):.3f}", err=True)
