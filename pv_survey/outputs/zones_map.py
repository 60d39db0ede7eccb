"""The report's zones section: a table and an inline-SVG choropleth of capacity per zone (issue 16)."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import shapely

__all__ = ["zones_choropleth_svg", "zones_report_table"]

#: Light to dark green, the sequential ramp used for capacity (ColorBrewer "Greens", 5 classes).
#: Width of the zones choropleth in the report (half the 1,280 px the report is laid out for). [px]
CHOROPLETH_WIDTH_PX = 640

GREENS = ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c")


def zones_report_table(zones: pd.DataFrame) -> pd.DataFrame:
    """Zones as a plain table: layer, zone, buildings, sites, capacity [kWp], generation [MWh], per phase."""
    cols = [c for c in zones.columns if c not in ("geometry", "fid", "footprint_m2")]
    t = pd.DataFrame(zones[cols]).copy()
    t["zone"] = t["zone"].replace("", "(outside every zone / 区外)")
    return t


def zones_choropleth_svg(zones, *, width_px: int = CHOROPLETH_WIDTH_PX) -> str:
    """An inline SVG of the zone polygons shaded by capacity (5 equal classes up to the largest).

    Parameters
    ----------
    zones : GeoDataFrame
        The ``zones`` layer (metric CRS): ``zone_layer``, ``zone``, ``capacity_kwp``, geometry.
    width_px : int
        Width of the drawing. [px]

    Returns
    -------
    str
        ``<svg>`` markup ('' when no zone has a geometry); each zone carries a ``<title>``.
    """
    z = zones[[g is not None and not g.is_empty for g in zones.geometry]]
    if len(z) == 0:
        return ""
    x0, y0, x1, y1 = shapely.total_bounds(z.geometry.to_numpy())
    w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    height_px = int(round(width_px * h / w))
    s = width_px / w
    cap = z["capacity_kwp"].to_numpy(float)
    top = float(np.nanmax(cap)) if len(cap) else 0.0
    cls = np.clip(np.floor(np.divide(cap, top, out=np.zeros_like(cap), where=top > 0) * len(GREENS)), 0,
                  len(GREENS) - 1).astype(int)
    paths = []
    for geom, zone, layer, kwp, c in zip(z.geometry, z["zone"], z["zone_layer"], cap, cls):
        d = []
        for poly in shapely.get_parts(geom):
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring.coords)
                pts = " ".join(f"{(x - x0) * s:.1f},{(y1 - y) * s:.1f}" for x, y in xy[:, :2])
                d.append(f"M{pts}Z")
        paths.append(f'<path d="{" ".join(d)}" fill="{GREENS[c]}" stroke="#555" stroke-width="0.8" '
                     f'fill-rule="evenodd"><title>{escape(str(layer))}: {escape(str(zone))} — '
                     f'{kwp:,.0f} kWp</title></path>')
    legend = " ".join(f'<tspan fill="{col}">■</tspan> ≥ {top * i / len(GREENS):,.0f}' for i, col in enumerate(GREENS))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_px} {height_px + 24}" '
            f'width="{width_px}" role="img">{"".join(paths)}'
            f'<text x="4" y="{height_px + 18}" font-size="12">kWp: {legend}</text></svg>')
