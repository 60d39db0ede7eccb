"""Shading: DSMs, horizons and sky-view factors against closed-form answers on hand-built scenes.

Scenes are numpy height grids with ``rasterio.transform.from_origin`` (1 m cells unless stated) or
boxes rasterised from footprints. Expected values come from plane geometry:

* a wall of height H whose face is at perpendicular distance d: the ray at angle dphi from the
  wall's normal meets the face at d / |cos dphi|, so its horizon is atan(H |cos dphi| / d);
* the floor centre of an infinite street canyon (height H, width W): the isotropic sky-view factor
  is cos(atan(2H / W)) (Oke 1987, Boundary Layer Climates, 2nd ed., street-canyon geometry);
* SVF = mean cos^2(h) (Dozier & Frew 1990) so h = 0 everywhere gives 1.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from rasterio.transform import from_origin
from shapely.geometry import box

from pv_survey import shading as S
from pv_survey.errors import CRSError, InputError, InputFileError

CRS = "EPSG:4547"
AZ72 = np.arange(72) * 5.0


def _dsm(height, x0=0.0, y_top=None, res=1.0, owner=None, crs=CRS):
    h = np.asarray(height, dtype=np.float32)
    if y_top is None:
        y_top = h.shape[0] * res
    own = np.full(h.shape, -1, np.int32) if owner is None else owner
    return S.Dsm(h, own, from_origin(x0, y_top, res, res), crs)


def _north_wall(size=600, wall_row=280, thickness=2, height=30.0):
    """A wall spanning the whole width; its south face is the bottom edge of row wall_row + thickness - 1."""
    h = np.zeros((size, size), np.float32)
    h[wall_row:wall_row + thickness, :] = height
    return _dsm(h)


def _wall_expected(az_deg, height_m, dist_m, normal_az_deg=0.0):
    """atan(H |cos dphi| / d) for rays facing the wall, 0 otherwise. [deg]"""
    dphi = np.radians(np.asarray(az_deg) - normal_az_deg)
    c = np.cos(dphi)
    return np.where(c > 1e-9, np.degrees(np.arctan(height_m * np.abs(c) / dist_m)), 0.0)


# --------------------------------------------------------------------------- closed-form scenes


def test_single_wall_horizon_per_sector():
    # wall rows 280-281 of a 600 x 600 grid (y_top = 600): its south face is at y = 600 - 282 = 318.
    dsm = _north_wall()
    x, y = 300.3, 298.0  # face 20 m to the north
    h = S.horizon_at_points(dsm, [x], [y], 0.0, radius_m=300.0)[0]
    exp = _wall_expected(AZ72, 30.0, 20.0)
    # rays within 80 deg of the normal meet the face within 20 / cos 80 = 115 m < 128 cells: exact
    near = np.abs(((AZ72 + 180) % 360) - 180) <= 80
    assert_allclose(h[near], exp[near], atol=1e-3)
    assert h[0] == pytest.approx(math.degrees(math.atan(30.0 / 20.0)), abs=1e-3)  # 56.31 deg, facing sector
    # farther hits (85 deg: 229 m) are never below the exact value and at most 2.2 % high in tan h
    far = ~near & (exp > 0)
    assert np.all(h[far] >= exp[far] - 1e-3)
    assert np.all(np.tan(np.radians(h[far])) <= np.tan(np.radians(exp[far])) * (1 + math.sqrt(2) / 64) + 1e-6)


def test_wall_behind_observer_height():
    # the same wall seen from 10 m up: atan((30 - 10) / 20) = 45 deg in the facing sector
    dsm = _north_wall()
    h = S.horizon_at_points(dsm, [300.5], [298.0], 10.0, radius_m=100.0)[0]
    assert h[0] == pytest.approx(45.0, abs=1e-3)
    assert np.all(h[(AZ72 > 90) & (AZ72 < 270)] == 0.0)  # open ground behind


@pytest.mark.parametrize("height_m, width_m", [(20.0, 20.0), (30.0, 20.0), (10.0, 30.0)])
def test_street_canyon_sky_view_factor(height_m, width_m):
    # two slabs 12 m thick, 700 m long (N-S), canyon of width W between them; point at the floor centre
    size_y, size_x = 700, 200
    h = np.zeros((size_y, size_x), np.float32)
    west_face = 80
    east_face = west_face + int(width_m)
    h[:, west_face - 12:west_face] = height_m
    h[:, east_face:east_face + 12] = height_m
    dsm = _dsm(h)
    xc, yc = west_face + width_m / 2.0, 350.2
    hz = S.horizon_at_points(dsm, [xc], [yc], 0.0, radius_m=300.0)[0]
    # per sector: atan(2H |sin az| / W) (a wall on each side at W/2)
    sin_az = np.abs(np.sin(np.radians(AZ72)))
    exp = np.degrees(np.arctan(2 * height_m * sin_az / width_m))
    # faces met within 128 cells are exact; farther ones (narrow angles to the axis) within 2.2 % in tan h
    hit_m = np.divide(width_m / 2.0, sin_az, out=np.full(72, np.inf), where=sin_az > 1e-9)
    exact_zone = hit_m < 128.0
    assert_allclose(hz[exact_zone], exp[exact_zone], atol=1e-3)
    assert np.all(hz >= exp - 1e-3)
    assert np.all(np.tan(np.radians(hz)) <= np.tan(np.radians(exp)) * (1 + math.sqrt(2) / 64) + 1e-6)
    # Oke (1987): SVF of the canyon floor centre = cos(atan(2H/W)); the 72-sector mean integrates it
    svf = S.sky_view_factor(hz)[()]
    assert svf == pytest.approx(math.cos(math.atan(2 * height_m / width_m)), abs=1e-4)


def test_open_roof_has_no_horizon():
    # a 40 x 40 m roof at 20 m among lower (15 m) neighbours: nothing rises above the observer
    h = np.zeros((200, 200), np.float32)
    h[80:120, 80:120] = 20.0
    h[20:60, 20:60] = 15.0
    h[130:190, 100:190] = 19.9
    dsm = _dsm(h)
    hz = S.horizon_at_points(dsm, [95.5, 110.0], [90.5, 110.0], 20.0, radius_m=300.0)
    assert_array_equal(hz, 0.0)
    assert_array_equal(S.sky_view_factor(hz), 1.0)


def test_scene_shifted_far_gives_same_result():
    # +500 km E, +2500 km N in EPSG:4547: the same boxes, the same roofs -> the same profiles
    rng = np.random.default_rng(7)
    x0 = rng.uniform(0, 400, 40)
    y0 = rng.uniform(0, 400, 40)
    w = rng.uniform(8, 40, 40)
    d = rng.uniform(8, 40, 40)
    hgt = rng.uniform(5, 120, 40)

    def run(dx, dy):
        g = shapely.box(x0 + dx, y0 + dy, x0 + w + dx, y0 + d + dy)
        dsm = S.dsm_from_buildings(g, hgt, pad_m=300.0, crs=CRS)
        roofs = shapely.buffer(g, -1.0, join_style="mitre")
        return S.roof_horizons(dsm, roofs, hgt, np.arange(40), radius_m=300.0)

    h0, s0 = run(0.0, 0.0)
    h1, s1 = run(500_000.0, 2_500_000.0)
    assert np.nanmax(h0) > 10.0  # the scene does shade
    assert_allclose(h1, h0, atol=1e-4)
    assert_allclose(s1, s0, atol=1e-7)


def test_own_building_is_excluded():
    # building 0: 30 m tall, 400 m long E-W (x 100-500, y 140-160); an observer on a 5 m podium at
    # its west end; building 1: a 50 m tower due north whose south face is at y = 350
    h = np.zeros((450, 700), np.float32)
    own = np.full(h.shape, -1, np.int32)
    h[290:310, 100:500] = 30.0
    own[290:310, 100:500] = 0
    h[90:100, 105:116] = 50.0
    own[90:100, 105:116] = 1
    dsm = _dsm(h, owner=own)
    x, y = 110.5, 150.5
    seen = S.horizon_at_points(dsm, [x], [y], 5.0, exclude_owner=[0], radius_m=300.0)[0]
    blind = S.horizon_at_points(dsm, [x], [y], 5.0, radius_m=300.0)[0]
    # without exclusion, the own 30 m roof edge 0.5 m away: atan(25 / 0.5) = 88.9 deg north and east
    assert blind[0] == pytest.approx(math.degrees(math.atan(25.0 / 0.5)), abs=1e-3)
    assert blind[18] == pytest.approx(math.degrees(math.atan(25.0 / 0.5)), abs=1e-3)
    # with it: east runs 389 m over the own building (beyond 128 m read through pyramid blocks): open
    assert seen[18] == 0.0 and seen[36] == 0.0
    assert np.all(seen[(AZ72 > 5) & (AZ72 < 355)] == 0.0)
    # the other tower (owner 1) still shades: south face 199.5 m north -> atan(45 / 199.5) = 12.7 deg
    exp = math.degrees(math.atan(45.0 / 199.5))
    assert exp - 1e-3 <= seen[0] <= math.degrees(math.atan(45.0 / 199.5 * (1 + math.sqrt(2) / 64)))


def test_owner_heights_kept_with_the_dsm_serve_later_calls_with_more_owners():
    """The owners' highest cells are kept with the DSM (a tile's roofs, then its segments): a later
    call that excludes a higher owner index, or a DSM with new arrays, is answered as a fresh DSM."""
    h = np.zeros((200, 200), np.float32)
    own = np.full(h.shape, -1, np.int32)
    h[90:110, 90:110], own[90:110, 90:110] = 20.0, 0  # owner 0 around the observer at (100.5, 100.5)
    h[40:50, 95:105], own[40:50, 95:105] = 30.0, 1  # owner 1: a tower 50 m north
    dsm = _dsm(h, owner=own)
    x, y = [100.5, 100.5], [100.5, 100.5]

    def fresh(excl):
        return S.horizon_at_points(_dsm(h.copy(), owner=own.copy()), x, y, 25.0, exclude_owner=excl, radius_m=100.0)

    # observers 25 m up: above their own 20 m building, below the 30 m tower
    first = S.horizon_at_points(dsm, x, y, 25.0, exclude_owner=[0, 0], radius_m=100.0)  # owners 0..0 kept
    later = S.horizon_at_points(dsm, x, y, 25.0, exclude_owner=[0, 1], radius_m=100.0)  # needs owner 1 too
    assert_array_equal(first, fresh([0, 0]))
    assert_array_equal(later, fresh([0, 1]))
    assert later[1, 0] < first[1, 0]  # the tower, excluded for the second observer, no longer shades it


def test_observer_on_a_cell_edge_stays_below_90_deg():
    # a 20 m wall in columns 98-99 (x 98-100); observers exactly on its east face x = 100 and on a
    # grid corner: the cells touching the observer are its own, the next wall cell is 1 m away
    h = np.zeros((100, 200), np.float32)
    h[:, 98:100] = 20.0
    dsm = _dsm(h)
    hz = S.horizon_at_points(dsm, [100.0, 100.0], [50.5, 50.0], 0.0, n_sectors=4, radius_m=50.0)
    assert np.all(hz < 90.0)
    assert hz[:, 3] == pytest.approx(math.degrees(math.atan(20.0 / 1.0)), abs=1e-3)  # west: 87.14 deg


def test_thin_pole_far_away_is_not_missed():
    # a 1 x 1 m, 60 m pole 250 m due east of the observer (beyond the exact zone, read via blocks)
    h = np.zeros((101, 600), np.float32)
    h[50, 300] = 60.0
    dsm = _dsm(h)
    hz = S.horizon_at_points(dsm, [50.5], [50.5], 0.0, radius_m=300.0)[0]
    exact = math.degrees(math.atan(60.0 / 249.5))  # entry face at x = 300, observer at 50.5
    assert exact - 1e-3 <= hz[18] <= math.degrees(math.atan(60.0 / 249.5 * (1 + math.sqrt(2) / 64)))


# --------------------------------------------------------------------------- against a brute-force march


def _brute_tan(h, x, y, z, az_deg, radius, step=0.002):
    """(lower, upper) bounds of the prism-model horizon tangent by a fine march (own cell skipped).

    Samples every ``step`` metres; the first sample inside a cell is at most ``step`` past the cell's
    entry, so (h - z) / t and (h - z) / (t - step) bracket the exact value.
    """
    rows = h.shape[0]
    t = np.arange(step, radius, step)
    out_lo, out_hi = [], []
    for a in np.radians(az_deg):
        px = x + t * math.sin(a)
        py = y + t * math.cos(a)
        c = np.floor(px).astype(int)
        r = np.floor(rows - py).astype(int)
        ok = (c >= 0) & (r >= 0) & (c < h.shape[1]) & (r < rows)
        ok = np.cumprod(ok).astype(bool)
        own = (c == math.floor(x)) & (r == math.floor(rows - y))
        sel = ok & ~own
        hv = h[r[sel], c[sel]].astype(float) - z
        tt = t[sel]
        out_lo.append(max(0.0, float(np.max(hv / tt))) if tt.size else 0.0)
        out_hi.append(max(0.0, float(np.max(hv / np.maximum(tt - step, 1e-12)))) if tt.size else 0.0)
    return np.array(out_lo), np.array(out_hi)


def _random_city(seed, size=260, n=60):
    rng = np.random.default_rng(seed)
    h = np.zeros((size, size), np.float32)
    for _ in range(n):
        r0, c0 = rng.integers(0, size - 4, 2)
        hh, ww = rng.integers(1, 25, 2)
        h[r0:r0 + hh, c0:c0 + ww] = np.maximum(h[r0:r0 + hh, c0:c0 + ww], rng.uniform(3, 80))
    return h


def test_ray_march_matches_brute_force_in_exact_zone():
    h = _random_city(3)
    dsm = _dsm(h)
    pts = [(130.3, 127.6, 4.0), (61.9, 200.2, 20.0), (200.0, 40.5, 0.0)]
    az = np.arange(0, 360, 15.0)
    for x, y, z in pts:
        got = S.horizon_at_points(dsm, [x], [y], z, n_sectors=24, radius_m=100.0)[0]
        lo, hi = _brute_tan(h, x, y, z, az, 100.0)
        tan_got = np.tan(np.radians(got.astype(float)))
        assert np.all(tan_got >= lo * (1 - 1e-5) - 1e-6)
        assert np.all(tan_got <= hi * (1 + 1e-5) + 1e-6)


def test_pyramid_never_underestimates_and_is_exact_near():
    h = _random_city(11, size=700, n=500)
    dsm = _dsm(h)
    rng = np.random.default_rng(1)
    x = rng.uniform(300, 400, 30)
    y = rng.uniform(300, 400, 30)
    z = rng.uniform(0, 40, 30)
    col, row, zz, ex = S._point_arrays(dsm, x, y, z, None)
    pyr = S._build_pyramid(dsm)
    exact = S._horizons(dsm, pyr, col, row, zz, ex, 72, 300.0, accuracy_frac=1e-12)
    fast = S._horizons(dsm, pyr, col, row, zz, ex, 72, 300.0)
    assert np.all(fast >= exact - 1e-4)
    # blocks only stand in for cells beyond 64 x their size: the reach is a fraction of a sector
    assert float(np.mean(fast - exact)) < 0.3
    # within 128 cells every block is refined to single cells: identical to the exact march
    near_exact = S._horizons(dsm, pyr, col, row, zz, ex, 72, 120.0, accuracy_frac=1e-12)
    near_fast = S._horizons(dsm, pyr, col, row, zz, ex, 72, 120.0)
    assert_array_equal(near_fast, near_exact)


@pytest.mark.parametrize("top_level, max_climb", [(5, 1), (6, 3), (9, 2)])
def test_skip_levels_and_climbs_do_not_change_horizons(monkeypatch, top_level, max_climb):
    # the coarse pyramid levels only step over blocks that cannot raise the horizon, and the climb
    # rule only orders the steps: any setting gives the default's horizons bit for bit (own
    # building excluded, far obstacles accepted as blocks, a radius beyond the accepted levels)
    h = _random_city(5, size=900, n=700)
    owner = (np.arange(h.size, dtype=np.int32) % 97).reshape(h.shape)
    dsm = _dsm(h, owner=owner)
    rng = np.random.default_rng(2)
    x, y, z = rng.uniform(100, 800, 60), rng.uniform(100, 800, 60), rng.uniform(0, 45, 60)
    excl = rng.integers(-1, 97, 60)
    col, row, zz, ex = S._point_arrays(dsm, x, y, z, excl)
    default = S._horizons(dsm, S._make_pyramid(dsm), col, row, zz, ex, 72, 600.0)
    monkeypatch.setattr(S, "_TOP_LEVEL", top_level)
    monkeypatch.setattr(S, "_MAX_CLIMB", max_climb)
    pyr = S._make_pyramid(dsm)
    assert pyr.top_level == top_level
    assert_array_equal(S._horizons(dsm, pyr, col, row, zz, ex, 72, 600.0), default)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), z=st.floats(0, 60), dz=st.floats(0.1, 30))
def test_invariants(seed, z, dz):
    rng = np.random.default_rng(seed)
    h = _random_city(seed, size=120, n=30)
    dsm = _dsm(h)
    x, y = rng.uniform(1, 119, 5), rng.uniform(1, 119, 5)
    hz = S.horizon_at_points(dsm, x, y, z, n_sectors=36, radius_m=200.0)
    assert hz.dtype == np.float32 and hz.shape == (5, 36)
    assert np.all((hz >= 0) & (hz < 90))
    svf = S.sky_view_factor(hz)
    assert np.all((svf >= 0) & (svf <= 1))
    # a higher observer never sees a higher horizon
    hz_up = S.horizon_at_points(dsm, x, y, z + dz, n_sectors=36, radius_m=200.0)
    assert np.all(hz_up <= hz + 1e-4)


def test_sky_view_factor_closed_forms():
    assert S.sky_view_factor(np.zeros(72)) == pytest.approx(1.0)
    assert S.sky_view_factor(np.full(72, 90.0)) == pytest.approx(0.0, abs=1e-12)
    # constant horizon h: cos^2 h, e.g. 30 deg -> 0.75
    assert S.sky_view_factor(np.full((2, 3, 72), 30.0)) == pytest.approx(np.full((2, 3), 0.75))


@pytest.mark.parametrize("n_sectors", [1, 4, 7, 8, 36, 72, 100, 128, 129, 360])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sky_view_factor_equals_numpys_mean_to_the_bit(n_sectors, dtype):
    """The compiled rows (up to 128 sectors; numpy's formula beyond) give numpy's numbers exactly:
    open sectors, negative and > 90 deg values clipped, NaN propagated, any leading shape."""
    rng = np.random.default_rng(n_sectors)
    h = (rng.random((3, 500, n_sectors)) ** 3 * 100.0 - 5.0).astype(dtype)
    h[rng.random(h.shape) < 0.5] = 0.0
    h[0, 0, 0] = np.nan
    expected = np.mean(np.cos(np.radians(np.clip(h.astype(np.float64), 0.0, 90.0))) ** 2, axis=-1)
    got = S.sky_view_factor(h)
    assert got.shape == (3, 500) and np.isnan(got[0, 0])
    assert_array_equal(got, expected)


# --------------------------------------------------------------------------- roofs


def test_sample_roof_points_counts_and_containment():
    l_shape = shapely.Polygon([(0, 0), (30, 0), (30, 3), (3, 3), (3, 30), (0, 30)])  # bbox centre outside
    thin = shapely.Polygon([(0, 0), (1, 0), (201, 200), (200, 200)])  # thin diagonal strip
    geoms = [box(0, 0, 10, 10), box(100, 0, 120, 20), box(0, 100, 100, 200), l_shape, None,
             shapely.Polygon(), thin]
    x, y, ri = S.sample_roof_points(geoms, points_per_100m2=1.0, max_points=16)
    counts = np.bincount(ri, minlength=len(geoms))
    # 100 m2 -> 1 point; 400 m2 -> 4 (a 2 x 2 grid of spacing 10 m); 10,000 m2 -> capped at 16;
    # missing and empty geometries -> none; every other polygon at least one
    assert counts[:3].tolist() == [1, 4, 16]
    assert counts[4] == 0 and counts[5] == 0
    assert counts[3] >= 1 and counts[6] >= 1
    assert np.all(np.diff(ri) >= 0)
    pts = shapely.points(x, y)
    polys = np.array(geoms, dtype=object)[ri]
    assert np.all(shapely.intersects(polys, pts))
    # the 20 x 20 m roof's four points sit on the grid x, y in {105, 115}
    sel = ri == 1
    assert sorted(zip(x[sel], y[sel])) == [(105, 5), (105, 15), (115, 5), (115, 15)]


def test_roof_quantiles_keep_the_shaded_share():
    # roof: 40 x 10 m at 10 m (4 points at x = 105, 115, 125, 135; y = 205), building index 0.
    # wall: 30 m tall, south of the roof, spanning only x in [90, 120): the south rays (180 deg) of
    # the two western points meet its north face 20 m away; the eastern two miss it.
    roof = box(100, 200, 140, 210)
    wall = box(90, 180, 120, 185)
    dsm = S.dsm_from_buildings([roof, wall], [10.0, 30.0], bounds=(0, 0, 400, 400), crs=CRS)
    a = math.degrees(math.atan((30.0 - 10.0) / 20.0))  # north face y = 185, points y = 205: 45 deg
    for n_q, expect in ((4, [0, 0, a, a]), (2, [0, a]), (1, [a])):
        hz, svf = S.roof_horizons(dsm, [roof], [10.0], [0], n_sectors=72, radius_m=100.0, n_quantiles=n_q)
        assert hz.shape == (1, n_q, 72)
        assert_allclose(hz[0, :, 36], expect, atol=1e-3)
        assert np.all(np.diff(hz[0], axis=0) >= 0)  # ascending along the quantile axis
    # SVF = mean of the points' SVFs (Dozier & Frew 1990 per point)
    pts_h = S.horizon_at_points(dsm, [105, 115, 125, 135], [205, 205, 205, 205], 10.0, exclude_owner=0,
                                radius_m=100.0)
    assert svf[0] == pytest.approx(float(np.mean(S.sky_view_factor(pts_h))))


def test_roof_without_geometry_gets_nan():
    dsm = S.dsm_from_buildings([box(0, 0, 20, 20)], [10.0], pad_m=50.0, crs=CRS)
    hz, svf = S.roof_horizons(dsm, [box(0, 0, 20, 20), None], [10.0, 5.0], [0, -1], radius_m=50.0)
    assert np.all(np.isfinite(hz[0])) and np.isnan(hz[1]).all() and np.isnan(svf[1])


def test_tiled_equals_whole():
    rng = np.random.default_rng(5)
    n = 80
    x0, y0 = rng.uniform(0, 900, n), rng.uniform(0, 900, n)
    g = shapely.box(x0, y0, x0 + rng.uniform(10, 30, n), y0 + rng.uniform(10, 30, n))
    hgt = rng.uniform(5, 90, n)
    roofs = shapely.buffer(g, -1.0, join_style="mitre")
    kw = dict(radius_m=100.0, n_sectors=36)
    dsm = S.dsm_from_buildings(g, hgt, pad_m=100.0, crs=CRS)
    whole = S.roof_horizons(dsm, roofs, hgt, np.arange(n), **kw)
    tiles = list(S.iter_roof_tiles(roofs, tile_size_m=250.0, halo_m=100.0))
    assert len(tiles) > 4
    assert sorted(np.concatenate([p for p, _ in tiles]).tolist()) == list(range(n))
    for source in (dsm, S.buildings_dsm_source(g, hgt, crs=CRS)):
        done = []
        tiled = S.roof_horizons_tiled(roofs, hgt, np.arange(n), source, tile_size_m=250.0,
                                      progress=lambda d, t: done.append((d, t)), **kw)
        # radius <= 128 cells: every ray is exact, whatever the tile's grid origin
        assert_array_equal(tiled[0], whole[0])
        assert_allclose(tiled[1], whole[1], rtol=0, atol=1e-12)
        assert done[-1] == (n, n)


# --------------------------------------------------------------------------- building the DSM


def test_dsm_from_buildings_overlap_keeps_taller_and_obstacles():
    g = [box(0, 0, 10, 10), box(5, 5, 15, 15)]
    obstacles = gpd.GeoDataFrame({"height_m": [12.0, 2.0]}, geometry=[box(20, 0, 24, 4), box(0, 0, 3, 3)], crs=CRS)
    dsm = S.dsm_from_buildings(gpd.GeoSeries(g, crs=CRS), [20.0, 8.0], bounds=(0, 0, 30, 20), obstacles=obstacles)
    assert dsm.shape == (20, 30) and dsm.transform == from_origin(0, 20, 1, 1)
    assert str(dsm.crs) == CRS
    # cell (x 6.5, y 6.5) lies in both footprints: the taller (20 m, index 0) wins
    assert dsm.height_m[20 - 7, 6] == 20.0 and dsm.owner[20 - 7, 6] == 0
    assert dsm.height_m[20 - 13, 13] == 8.0 and dsm.owner[20 - 13, 13] == 1
    # a 12 m tree on open ground (owner -1); a 2 m shrub under the 20 m roof changes nothing
    assert dsm.height_m[20 - 2, 22] == 12.0 and dsm.owner[20 - 2, 22] == -1
    assert dsm.height_m[20 - 2, 1] == 20.0 and dsm.owner[20 - 2, 1] == 0
    assert dsm.height_m[20 - 18, 28] == 0.0 and dsm.owner[20 - 18, 28] == -1
    # areas: 100 + 100 - 25 overlap = 175 building cells
    assert int((dsm.owner >= 0).sum()) == 175


def test_dsm_from_buildings_courtyard_and_multipolygon():
    # a 20 x 20 m block with a 10 x 10 m courtyard (hole) and a two-part building
    ring = box(0, 0, 20, 20)
    court = shapely.Polygon(ring.exterior.coords, [box(5, 5, 15, 15).exterior.coords])
    two = shapely.MultiPolygon([box(30, 0, 35, 5), box(30, 10, 35, 15)])
    dsm = S.dsm_from_buildings([court, two], [24.0, 9.0], bounds=(0, 0, 40, 20), crs=CRS)
    # 400 - 100 courtyard cells at 24 m; 2 x 25 cells of building 1 at 9 m
    assert int((dsm.owner == 0).sum()) == 300 and int((dsm.owner == 1).sum()) == 50
    assert dsm.height_m[20 - 10, 10] == 0.0 and dsm.owner[20 - 10, 10] == -1  # courtyard centre
    assert dsm.height_m[20 - 12, 32] == 9.0 and dsm.height_m[20 - 7, 32] == 0.0  # part 2, gap


def test_dsm_from_buildings_rejects_bad_heights():
    with pytest.raises(InputError, match="#1"):
        S.dsm_from_buildings([box(0, 0, 5, 5), box(10, 0, 15, 5)], [5.0, float("nan")])
    with pytest.raises(InputError, match="one height_m per polygon"):
        S.dsm_from_buildings([box(0, 0, 5, 5)], [5.0, 6.0])


def test_points_outside_dsm_rejected():
    dsm = _dsm(np.zeros((10, 10)))
    with pytest.raises(InputError, match="outside the DSM"):
        S.horizon_at_points(dsm, [5.0, 50.0], [5.0, 5.0], 0.0)


# --------------------------------------------------------------------------- reading DSM files


def _write_tif(path, data, transform, crs, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", transform=transform, crs=crs, nodata=nodata) as dst:
        dst.write(np.asarray(data, np.float32), 1)


def test_read_dsm_window_nodata_and_dem(tmp_path):
    x0, y_top = 500_000.0, 2_560_000.0
    dem = np.full((400, 400), 12.0, np.float32)  # flat terrain 12 m above datum
    dsm = dem.copy()
    dsm[100:120, 200:240] += 35.0  # a 35 m building
    dsm[300:305, 300:305] = -9999.0  # a no-data hole
    tr = from_origin(x0, y_top, 1.0, 1.0)
    _write_tif(tmp_path / "dsm.tif", dsm, tr, CRS, nodata=-9999.0)
    _write_tif(tmp_path / "dem.tif", dem, tr, CRS)
    # a 60 x 60 m window around the building plus 20 m: only that part is read
    b = (x0 + 190, y_top - 130, x0 + 250, y_top - 90)
    out = S.read_dsm(tmp_path / "dsm.tif", bounds=b, pad_m=20.0, crs=CRS, dem_path=tmp_path / "dem.tif")
    assert out.shape == (80, 100)
    assert out.transform == from_origin(x0 + 170, y_top - 70, 1.0, 1.0)
    assert float(out.height_m.max()) == pytest.approx(35.0)
    assert float(out.height_m.min()) == pytest.approx(0.0)
    # a 15 m tree from an obstacle raster (heights above ground, like the DEM-corrected DSM)
    trees = np.zeros((400, 400), np.float32)
    trees[125:128, 180:183] = 15.0
    _write_tif(tmp_path / "trees.tif", trees, tr, CRS)
    with_trees = S.read_dsm(tmp_path / "dsm.tif", bounds=b, pad_m=20.0, crs=CRS, dem_path=tmp_path / "dem.tif",
                            obstacles_path=tmp_path / "trees.tif")
    assert with_trees.height_m[125 - 70, 180 - 170] == pytest.approx(15.0)
    assert int((with_trees.height_m == 15.0).sum()) == 9
    assert float(with_trees.height_m.max()) == pytest.approx(35.0)  # the building, taller, is kept
    # the no-data hole, read without DEM in a window covering it: filled with the lowest valid value (12 m)
    hole = S.read_dsm(tmp_path / "dsm.tif", bounds=(x0 + 290, y_top - 310, x0 + 310, y_top - 290), crs=CRS)
    assert hole.filled_cells == 25
    assert float(hole.height_m.min()) == pytest.approx(12.0)
    assert np.isfinite(hole.height_m).all()


def test_read_dsm_other_crs_is_reprojected(tmp_path):
    # a 40 m block 20 m north of an observer, written in UTM 49N (EPSG:32649), read into EPSG:4547
    from pyproj import Transformer

    to_utm = Transformer.from_crs(CRS, "EPSG:32649", always_xy=True)
    ox, oy = 431_000.0, 2_556_000.0  # Tianhe, EPSG:4547 easting / northing
    ux, uy = to_utm.transform(ox, oy)
    ux0, uy0 = math.floor(ux) - 150, math.floor(uy) + 150
    h = np.zeros((300, 300), np.float32)
    # the block: 60 m wide E-W, 10 m deep, its south face 20 m north of the observer (in UTM; the
    # 4547 grid is rotated by about 1 deg against UTM 49N, which moves the face by < 1 m at x +- 0)
    row_face = int(round(uy0 - (uy + 20.0)))
    col_c = int(round(ux - ux0))
    h[row_face - 10:row_face, col_c - 30:col_c + 30] = 40.0
    h[0:3, 0:3] = -1.0  # a few no-data cells in a corner
    _write_tif(tmp_path / "utm.tif", h, from_origin(ux0, uy0, 1.0, 1.0), "EPSG:32649", nodata=-1.0)
    dsm = S.read_dsm(tmp_path / "utm.tif", bounds=(ox - 40, oy - 40, ox + 40, oy + 40), crs=CRS, resolution_m=1.0)
    assert dsm.crs.to_epsg() == 4547
    assert float(dsm.height_m.max()) == pytest.approx(40.0)
    hz = S.horizon_at_points(dsm, [ox], [oy], 0.0, radius_m=60.0)[0]
    # analytic atan(40 / 20) = 63.4 deg; nearest-neighbour warping moves the face by up to ~1.5 cells
    assert math.degrees(math.atan(40 / 21.5)) - 0.5 <= hz[0] <= math.degrees(math.atan(40 / 18.5)) + 0.5


def test_read_dsm_errors_name_the_file(tmp_path):
    tr = from_origin(500_000.0, 2_560_000.0, 1.0, 1.0)
    _write_tif(tmp_path / "far.tif", np.zeros((50, 50)), tr, CRS)
    with pytest.raises(InputError, match="far.tif.*does not overlap"):
        S.read_dsm(tmp_path / "far.tif", bounds=(0, 0, 100, 100), crs=CRS)
    _write_tif(tmp_path / "nocrs.tif", np.zeros((50, 50)), tr, None)
    with pytest.raises(CRSError, match="nocrs.tif.*no CRS"):
        S.read_dsm(tmp_path / "nocrs.tif", bounds=(500_000, 2_559_960, 500_040, 2_560_000), crs=CRS)
    with pytest.raises(CRSError, match="geographic"):
        S.read_dsm(tmp_path / "far.tif", bounds=(113, 23, 114, 24), crs="EPSG:4326")
    with pytest.raises(InputFileError, match="missing.tif"):
        S.read_dsm(tmp_path / "missing.tif", bounds=(0, 0, 1, 1), crs=CRS)


# --------------------------------------------------------------------------- CLI


def _cli(argv):
    """Run ``pv-survey`` as a user would (errors become exit codes); returns the exit code."""
    from pv_survey.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


@pytest.fixture()
def wall_files(tmp_path):
    """A 30 m wall (buildings GeoPackage and DSM GeoTIFF) 20 m north of two points (CSV)."""
    x0, y0 = 430_000.0, 2_555_000.0
    wall = box(x0 - 200, y0 + 20, x0 + 200, y0 + 22)
    gpd.GeoDataFrame({"name": ["墙"], "height_m": [30.0]}, geometry=[wall], crs=CRS).to_file(
        tmp_path / "b.gpkg", driver="GPKG")
    h = np.zeros((200, 600), np.float32)
    h[78:80, 100:500] = 30.0  # rows 78-79: y from y0 + 22 down to y0 + 20
    _write_tif(tmp_path / "dsm.tif", h, from_origin(x0 - 300, y0 + 100, 1.0, 1.0), CRS)
    pd.DataFrame({"id": ["a", "b"], "x": [x0 + 0.5, x0 + 10.5], "y": [y0, y0],
                  "height_above_surface_m": [0.0, 10.0]}).to_csv(tmp_path / "pts.csv", index=False)
    return tmp_path


def test_cli_shade_from_buildings_csv(wall_files):
    from click.testing import CliRunner

    from pv_survey.cli import _register, cli

    _register()
    out = wall_files / "h.csv"
    res = CliRunner().invoke(cli, ["shade", "--points", str(wall_files / "pts.csv"), "--buildings",
                                   str(wall_files / "b.gpkg"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 BOM
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert list(table.columns[:4]) == ["id", "x", "y", "height_above_surface_m"]
    assert [c for c in table.columns if c.startswith("horizon_deg_")][:3] == [
        "horizon_deg_000", "horizon_deg_005", "horizon_deg_010"]
    assert len([c for c in table.columns if c.startswith("horizon_deg_")]) == 72
    # point a on the ground: atan(30 / 20) = 56.31 deg; point b 10 m up: atan(20 / 20) = 45 deg
    assert table["horizon_deg_000"].tolist() == pytest.approx([56.310, 45.0], abs=2e-3)
    assert table["horizon_deg_180"].tolist() == [0.0, 0.0]
    assert ((table["sky_view_frac"] > 0) & (table["sky_view_frac"] < 1)).all()


def test_cli_shade_points_saved_by_excel_in_gbk(wall_files):
    """A points CSV saved by Excel on a Chinese Windows (GBK, a Chinese label column) is read;
    the result keeps the labels and the horizons of the UTF-8 file (it was refused as not UTF-8)."""
    from click.testing import CliRunner

    from pv_survey.cli import _register, cli

    _register()
    pts = pd.read_csv(wall_files / "pts.csv")
    pts["名称"] = ["一号楼", "二号楼"]
    (wall_files / "pts_gbk.csv").write_bytes(pts.to_csv(index=False).encode("gbk"))
    outs = []
    for name in ("pts.csv", "pts_gbk.csv"):
        out = wall_files / f"h_{name}"
        res = CliRunner().invoke(cli, ["shade", "--points", str(wall_files / name), "--dsm",
                                       str(wall_files / "dsm.tif"), "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs.append(pd.read_csv(out, encoding="utf-8-sig"))
    assert outs[1]["名称"].tolist() == ["一号楼", "二号楼"]
    hz = [c for c in outs[0].columns if c.startswith("horizon_deg_")]
    pd.testing.assert_frame_equal(outs[1][hz], outs[0][hz])


def test_cli_shade_quiet_prints_the_output_path_only(wall_files, restore_root_logging):
    from click.testing import CliRunner

    from pv_survey.cli import _register, cli

    _register()
    out = wall_files / "hq.csv"
    res = CliRunner().invoke(cli, ["-q", "shade", "--points", str(wall_files / "pts.csv"), "--buildings",
                                   str(wall_files / "b.gpkg"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [str(out)] and out.is_file()  # issue 17 item 6


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_cli_shade_from_dsm_vector_outputs(wall_files, suffix):
    from click.testing import CliRunner

    from pv_survey.cli import _register, cli

    _register()
    out = wall_files / f"h{suffix}"
    args = ["shade", "--points", str(wall_files / "pts.csv"), "--dsm", str(wall_files / "dsm.tif"),
            "--out", str(out), "--sectors", "36", "--radius", "150"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    frame = gpd.read_file(out) if suffix == ".gpkg" else gpd.read_parquet(out)
    assert frame.crs.to_epsg() == 4547 and len(frame) == 2
    assert "horizon_deg_350" in frame.columns and "horizon_deg_355" not in frame.columns
    assert frame["horizon_deg_000"].tolist() == pytest.approx([56.310, 45.0], abs=2e-3)


def test_cli_shade_refuses_to_overwrite_and_needs_one_source(wall_files, capsys):
    out = wall_files / "h.csv"
    out.write_text("keep me", encoding="utf-8")
    base = ["shade", "--points", str(wall_files / "pts.csv"), "--out", str(out)]
    assert _cli(base + ["--dsm", str(wall_files / "dsm.tif")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "keep me"
    assert _cli(base + ["--dsm", str(wall_files / "dsm.tif"), "--buildings", str(wall_files / "b.gpkg")]) == 2
    assert "exactly one" in capsys.readouterr().err
    assert _cli(base + ["--buildings", str(wall_files / "b.gpkg"), "--height-field", "floors", "--overwrite"]) == 2
    assert "floors" in capsys.readouterr().err


# --------------------------------------------------------------------------- benchmark script


def test_bench_script_smoke(tmp_path, monkeypatch):
    from pathlib import Path
    import json

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from bench import bench_shading

    assert bench_shading.main(["--buildings", "150", "--out-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "shading.json").read_text(encoding="utf-8"))
    assert [c["case"] for c in doc["cases"]] == ["district", "million"]
    for c in doc["cases"]:
        assert c["n_buildings"] == 150 and c["shade_s"] > 0 and c["peak_rss_mb"] > 0
        assert 0 < c["mean_sky_view_frac"] <= 1
    # the same seeded district in memory and tile by tile: tiles start their pyramids elsewhere, so
    # rays beyond 128 cells may differ, within the 2.2 % bound on tan h (horizon_at_points)
    a, b = (c["mean_sky_view_frac"] for c in doc["cases"])
    assert abs(a - b) < 0.01
    assert "| district |" in (tmp_path / "shading.md").read_text(encoding="utf-8")


def test_profiles_of_one_point_surfaces_are_the_points_horizons():
    # one sample point per surface (module row segments): each quantile is that point's horizon, the
    # sky view its own; the same as the surface made of several copies of the point
    h = np.zeros((200, 200), np.float32)
    h[60:62, :] = 25.0
    h[:, 150:152] = 12.0
    dsm = _dsm(h)
    x = np.array([50.5, 100.5, 140.5, 20.5])
    y = np.array([120.5, 100.5, 130.5, 180.5])
    z = np.array([0.0, 3.0, 1.0, 0.0])
    pts = S.horizon_at_points(dsm, x, y, z, radius_m=150.0)
    for n_q in (1, 3):
        hz, svf = S.profiles_at_points(dsm, x, y, z, np.arange(4), 4, n_sectors=72, radius_m=150.0, n_quantiles=n_q)
        assert hz.shape == (4, n_q, 72) and hz.dtype == np.float32
        assert_array_equal(hz, np.repeat(pts[:, None, :], n_q, axis=1))
        assert_allclose(svf, S.sky_view_factor(pts), rtol=1e-12)
        twice, svf2 = S.profiles_at_points(dsm, np.repeat(x, 2), np.repeat(y, 2), np.repeat(z, 2),
                                           np.repeat(np.arange(4), 2), 4, n_sectors=72, radius_m=150.0,
                                           n_quantiles=n_q)
        assert_array_equal(hz, twice)
        assert_allclose(svf, svf2, rtol=1e-12)
    # the wall (y 138-140 m) is seen to the north from the three points south of it, to the south from the fourth
    assert (pts[:3, 0] > 0).all() and pts[3, 0] == 0 and pts[3, 36] > 0


def test_plane_sky_view_of_runs_of_one_orientation_equals_each_plane_alone():
    # row segments of one roof come in runs of one orientation (the kernel keeps that orientation's
    # terms); each plane computed on its own must give the same numbers
    rng = np.random.default_rng(3)
    n = 40
    tilt = np.repeat([0.0, 25.0, 25.0, 90.0, 15.0], 8)
    az = np.repeat([180.0, 135.0, 200.0, 270.0, 180.0], 8)
    hz = (rng.uniform(0, 40, (n, 72)) * (rng.random((n, 72)) < 0.4)).astype(np.float32)
    svf, band = S.plane_sky_view_frac(hz, tilt, az)
    alone = np.array([S.plane_sky_view_frac(hz[i:i + 1], tilt[i:i + 1], az[i:i + 1]) for i in range(n)])[:, :, 0]
    assert_array_equal(svf, alone[:, 0])
    assert_array_equal(band, alone[:, 1])
    assert len(set(np.round(svf, 12))) > 30                 # the horizons differ within each run


@pytest.mark.parametrize("shape", [(9, 7), (8, 8), (1, 5), (6, 1)])
def test_pyramid_level_is_the_2x2_maximum_with_its_owner(shape):
    """Each block's maximum, and its owner when one owner holds it (the mixed code when owners tie;
    -inf cells of no owner count like any other); odd last rows and columns hold the cells present."""
    from pv_survey import _horizon_kernel as K

    rng = np.random.default_rng(sum(shape))
    h = rng.integers(0, 3, shape).astype(np.float32)  # few values: many ties
    h[rng.random(shape) < 0.2] = -np.inf
    own = rng.integers(-1, 3, shape).astype(np.int32)
    rows, cols = (shape[0] + 1) // 2, (shape[1] + 1) // 2
    out_h, out_own = np.empty((rows, cols), np.float32), np.empty((rows, cols), np.int32)
    K.build_pyramid_level(h, own, out_h, out_own)
    for i in range(rows):
        for j in range(cols):
            bh, bo = h[2 * i:2 * i + 2, 2 * j:2 * j + 2], own[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            top = bh.max()
            owners = set(bo[bh == top].tolist())
            assert out_h[i, j] == top
            assert out_own[i, j] == (owners.pop() if len(owners) == 1 else K.MIXED_OWNER)
