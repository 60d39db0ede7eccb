"""The map background of a city: footprints rasterised by class (hand-made squares)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from shapely.geometry import box

from pv_survey.outputs.rastermap import SUPERSAMPLE, footprints_png


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGBA"))


def test_classes_land_where_the_footprints_are():
    # a 100 x 50 m map at 1 px/m: grey square at x 10-20, y 30-40; excluded square at x 60-70, y 10-20;
    # a third footprint not drawn (class -1); the overlap of a reserve square wins (drawn last)
    geoms = [box(10, 30, 20, 40), box(60, 10, 70, 20), box(40, 0, 50, 10), box(15, 35, 25, 45)]
    palette = [("#e3e3e3", 1.0), ("#9e9e9e", 0.6), ("#c2a5cf", 0.45)]
    img = _decode(footprints_png(geoms, np.array([0, 1, -1, 2]), palette, x0=0.0, y1=50.0, scale=1.0,
                                 width_px=100, height_px=50))
    assert img.shape == (50 * SUPERSAMPLE, 100 * SUPERSAMPLE, 4)
    px = lambda x, y: tuple(img[int((50 - y) * SUPERSAMPLE), int(x * SUPERSAMPLE)])  # noqa: E731 (map m -> cell)
    assert px(12, 32) == (0xE3, 0xE3, 0xE3, 255)
    assert px(65, 15) == (0x9E, 0x9E, 0x9E, round(0.6 * 255))
    assert px(45, 5)[3] == 0  # not drawn: transparent
    assert px(18, 38) == (0xC2, 0xA5, 0xCF, round(0.45 * 255))  # the overlap: the later class on top
    assert px(90, 45)[3] == 0  # open ground


def test_a_building_smaller_than_a_pixel_still_shows():
    # 5 m x 5 m at 0.05 px/m (20 m a pixel, 10 m a raster cell): every touched cell is drawn
    img = _decode(footprints_png([box(101, 101, 106, 106)], np.array([0]), [("#000000", 1.0)], x0=0.0, y1=400.0,
                                 scale=0.05, width_px=20, height_px=20))
    assert (img[..., 3] > 0).sum() >= 1


def test_burnt_shapes_match_rasterio_on_the_geometries_themselves():
    """Coordinates read in one pass burn the same cells as rasterio reading each shapely geometry:
    a multipolygon (split into its parts), a polygon with a hole, a line, in burn order."""
    import shapely
    from affine import Affine
    from rasterio import features
    from shapely.geometry import LineString, MultiPolygon, Polygon

    from pv_survey.outputs.rastermap import _burn_shapes

    ring = Polygon([(2, 2), (18, 2), (18, 18), (2, 18)], [[(6, 6), (14, 6), (14, 14), (6, 14)]])
    multi = MultiPolygon([box(20, 0, 30, 10), box(25, 5, 40, 12)])
    geoms = np.array([ring, multi, LineString([(0, 19), (39, 1)]), box(8, 8, 12, 30)], dtype=object)
    values = [1, 2, 3, 4]
    transform = Affine(0.5, 0.0, 0.0, 0.0, -0.5, 20.0)  # 0.5 m cells, 80 x 40
    want = features.rasterize(zip(geoms, values), out_shape=(40, 80), transform=transform, all_touched=True)
    got = features.rasterize(_burn_shapes(geoms, values), out_shape=(40, 80), transform=transform,
                             all_touched=True)
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(got)) == {0, 1, 2, 3, 4}  # every shape left a mark
    assert got[20, 20] == 4 and got[int((20 - 3) * 2), int(3 * 2)] == 1  # the box over the hole; the ring
    assert len(_burn_shapes(geoms, values)) == len(shapely.get_parts(geoms))  # the multipolygon's two parts


def test_the_picture_is_a_palette_png_with_each_class_opacity():
    """One byte a pixel (mode P) with the classes' opacities in tRNS: decoded, every pixel is its
    class's RGBA, including an empty class with opacity 0 and more classes than footprints."""
    palette = [("#102030", 1.0), ("#405060", 0.25), ("#708090", 0.0), ("#a0b0c0", 0.5)]
    geoms = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)]
    uri = footprints_png(geoms, np.array([0, 1, 3]), palette, x0=0.0, y1=10.0, scale=1.0, width_px=60,
                         height_px=10)
    raw = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert raw.mode == "P" and "transparency" in raw.info
    img = np.asarray(raw.convert("RGBA"))
    assert tuple(img[10, 10]) == (0x10, 0x20, 0x30, 255)
    assert tuple(img[10, 50]) == (0x40, 0x50, 0x60, round(0.25 * 255))
    assert tuple(img[10, 90]) == (0xA0, 0xB0, 0xC0, round(0.5 * 255))
    assert img[10, 110, 3] == 0  # open ground


def test_burning_a_chunk_at_a_time_draws_the_same_picture(monkeypatch):
    """Overlapping footprints of several classes (and a multipolygon) burnt three at a time give the
    picture of one burn: later shapes still cover earlier ones across the chunks' seams."""
    from shapely.geometry import MultiPolygon

    from pv_survey.outputs import rastermap

    rng = np.random.default_rng(7)
    geoms = [box(x, y, x + w, y + h) for x, y, w, h in rng.uniform([0, 0, 3, 3], [60, 30, 25, 15], (40, 4))]
    geoms[5] = MultiPolygon([box(1, 1, 9, 9), box(30, 20, 44, 28)])
    classes = rng.integers(-1, 4, len(geoms))
    palette = [("#102030", 1.0), ("#405060", 0.25), ("#708090", 0.6), ("#a0b0c0", 0.5)]
    kw = dict(x0=0.0, y1=50.0, scale=1.3, width_px=110, height_px=65)
    monkeypatch.setattr(rastermap, "BURN_CHUNK", 10**6)
    whole = footprints_png(geoms, classes, palette, **kw)
    monkeypatch.setattr(rastermap, "BURN_CHUNK", 3)
    chunked = footprints_png(geoms, classes, palette, **kw)
    assert chunked == whole
    assert len(set(np.asarray(_decode(whole)).reshape(-1, 4)[:, 3].tolist())) >= 3  # classes overlap visibly
