"""Footprints drawn as one picture: the background of the report's map for a city.

A district of a few thousand buildings is drawn as SVG paths, one per footprint. A city of
hundreds of thousands would make report.html hundreds of MB, which no browser opens; there
the footprints that are not build-year sites (other buildings, excluded ones, the reserve) are
rasterised into one PNG at twice the map's pixel size (rasterio; every cell a footprint
touches, so a building smaller than a pixel still shows) and placed under the vector layers.
At A4 that is about 230 dpi, finer than the print shows.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import shapely

__all__ = ["footprints_png", "SUPERSAMPLE"]

#: Raster cells per map pixel along each axis (project choice: 2 gives ~230 dpi on A4).
SUPERSAMPLE = 2


#: Footprints handed to GDAL's rasteriser at a time (project choice: a 1,000,000-footprint map's
#: coordinate lists and GDAL's copies of them were all held at once; with chunks the map adds no
#: visible peak to the driver's memory, sampled, README "Measured performance").
BURN_CHUNK = 50_000


def _rgba(hex_colour: str, alpha: float) -> tuple[int, int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), int(round(255 * alpha))


def _burn_shapes(geoms: np.ndarray, values: list[int]) -> list[tuple[object, int]]:
    """(GeoJSON-like geometry, value) pairs as :func:`rasterio.features.rasterize` burns them.

    Rasterio splits a multipolygon into its polygons, in order, each with the value of the whole;
    this does the same with the coordinates of every polygon read in one pass (shapely's per-ring
    ``__geo_interface__`` was most of the time of a city's map). Parts that are not polygons are
    handed over as they are.
    """
    if (shapely.get_type_id(geoms) == 3).all():  # polygons only (the usual footprints): no parts to split
        parts, owner = geoms, np.arange(len(geoms))
    else:
        parts, owner = shapely.get_parts(geoms, return_index=True)
    is_poly = shapely.get_type_id(parts) == 3  # shapely.GeometryType.POLYGON
    shapes: list[tuple[object, int]] = [None] * len(parts)  # type: ignore[list-item]
    if is_poly.any():
        _kind, xy, (ring_ends, poly_ends) = shapely.to_ragged_array(parts[is_poly], include_z=False)
        xy = xy.tolist()
        ring_ends = ring_ends.tolist()
        ring_xy = [xy[a:b] for a, b in zip(ring_ends[:-1], ring_ends[1:])]
        poly_ends = poly_ends.tolist()
        for k, j in enumerate(np.flatnonzero(is_poly).tolist()):
            shapes[j] = ({"type": "Polygon", "coordinates": ring_xy[poly_ends[k]:poly_ends[k + 1]]},
                         values[owner[j]])
    for j in np.flatnonzero(~is_poly).tolist():
        shapes[j] = (parts[j], values[owner[j]])
    return shapes


def footprints_png(geometry, classes: np.ndarray, palette: list[tuple[str, float]], *, x0: float, y1: float,
                   scale: float, width_px: int, height_px: int) -> str:
    """Footprints rasterised by class into a transparent PNG, as a ``data:`` URI.

    Parameters
    ----------
    geometry : array of polygons
        Footprints in the map's metric CRS.
    classes : array of int
        Class of each footprint, an index into ``palette``; -1 = not drawn. Later classes are
        drawn over earlier ones where footprints overlap.
    palette : list of (colour, opacity)
        ``#rrggbb`` and 0-1 of each class.
    x0, y1 : float
        Map coordinates of the picture's top-left corner. [m]
    scale : float
        Map pixels per metre. [1/m]
    width_px, height_px : int
        Size of the map. [px]

    Returns
    -------
    str
        ``data:image/png;base64,...`` of a picture ``SUPERSAMPLE`` times the map's size.
    """
    from affine import Affine
    from PIL import Image
    from rasterio import features

    w, h = int(width_px) * SUPERSAMPLE, int(height_px) * SUPERSAMPLE
    cell = 1.0 / (scale * SUPERSAMPLE)  # metres per raster cell
    transform = Affine(cell, 0.0, x0, 0.0, -cell, y1)
    geoms = np.asarray(geometry, dtype=object)
    classes = np.asarray(classes, dtype=np.int64)
    keep = (classes >= 0) & ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    codes = np.zeros((h, w), dtype=np.uint8)
    order = np.argsort(classes[keep], kind="stable")  # higher classes burnt last, on top
    drawn, values = geoms[keep][order], classes[keep][order] + 1
    # in order, a chunk at a time: the same picture (each shape overwrites the ones before it), with
    # the coordinate lists and GDAL's copies of one chunk in memory instead of a city's
    for start in range(0, len(drawn), BURN_CHUNK):
        part = slice(start, start + BURN_CHUNK)
        features.rasterize(_burn_shapes(drawn[part], values[part].tolist()), out=codes, transform=transform,
                           all_touched=True)
    lut = np.zeros((len(palette) + 1, 4), dtype=np.uint8)
    for i, (colour, alpha) in enumerate(palette, start=1):
        lut[i] = _rgba(colour, alpha)
    buf = io.BytesIO()
    # a palette picture: one byte a pixel, the class's colour in the palette and its opacity in the
    # tRNS chunk (PNG 1.2, 4.2.1.1); the same RGBA pixels as an RGBA picture, encoded about ten times
    # as fast and smaller (a 1,920 px square of 30,000 footprints: 0.46 s, 236 kB optimised RGBA
    # against 0.03 s, 165 kB)
    img = Image.fromarray(codes)  # mode "L"; a palette makes it "P"
    img.putpalette(lut[:, :3].ravel().tolist(), rawmode="RGB")
    img.save(buf, format="PNG", transparency=bytes(lut[:, 3].tolist()))
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
