"""Module layout (pv_survey.layout), module presets (pv_survey.presets), site fill and curves (pv_survey.sites).

Expected module counts are worked out by hand from the layout rules (README "Module layout"):
along a row the pitch is the module side + the gap; across rows the plan depth is L cos(tilt) and
the pitch depth / gcr (flush) or L / gcr (racks); a cell counts when it lies inside the usable
polygon. Counts below use floor arithmetic on those pitches, not the code under test.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from shapely.geometry import box

from pv_survey.errors import ConfigError
from pv_survey import layout as L
from pv_survey.presets import DEFAULT_MODULE, module_names, module_preset
from pv_survey.roofs import EXCLUDED
from pv_survey.sites import (BELOW_THRESHOLD_REASON, capacity_yield_curves, fill_sites, layout_counts,
                             layout_summary_line)

MOD = module_preset(DEFAULT_MODULE)   # 1.722 x 1.134 m, 440 W
LONG, SHORT, GAP = 1.722, 1.134, 0.02


def _roofs(geoms, *, tilt=0.0, az=180.0, mount="flush", module_tilt=None, module_az=None, gcr=1.0, pair=None,
           building=None, reason=None):
    n = len(geoms)
    rid = [f"B{i}-R1" for i in range(n)] if pair is None else [f"B0-R1-{p}" for p in pair]
    return gpd.GeoDataFrame({
        "roof_id": rid, "building_id": building or [f"B{i}" if pair is None else "B0" for i in range(n)],
        "tilt_deg": tilt, "azimuth_deg": az, "usable_geometry": list(geoms), "mount": mount,
        "module_tilt_deg": tilt if module_tilt is None else module_tilt,
        "module_azimuth_deg": az if module_az is None else module_az, "gcr": gcr,
        "excluded_reason": reason or [""] * n, "_pair": pair or [""] * n,
    }, geometry=list(geoms), crs="EPSG:4547")


def _place(roofs, **kw):
    kw.setdefault("obstacle_free_frac", 1.0)
    return L.place_modules(roofs, MOD, gap_m=GAP, **kw)


# --------------------------------------------------------------------------- presets


def test_default_preset_is_a_54_cell_c_and_i_module():
    assert (MOD.length_m, MOD.width_m, MOD.pmax_w) == (1.722, 1.134, 440.0)
    # datasheet efficiency 22.53 % = 440 W / (1.722 m x 1.134 m x 1000 W/m2)
    assert MOD.kwp_per_m2 == pytest.approx(0.440 / (1.722 * 1.134))
    assert MOD.efficiency_frac == pytest.approx(MOD.kwp_per_m2, abs=0.003)
    assert 3 <= len(module_names()) <= 5
    for name in module_names():
        m = module_preset(name)
        assert m.source.startswith(("JinkoSolar", "LONGi", "Trina", "JA Solar")) and "https://" in m.source
        assert -0.005 < m.temp_coeff_pmax_per_c < 0 and 0 <= m.bifaciality_frac < 1


def test_unknown_module_names_it_and_lists_the_known():
    with pytest.raises(ConfigError) as e:
        module_preset("acme-9000")
    msg = str(e.value)
    assert "'acme-9000'" in msg and all(n in msg for n in module_names())


def test_config_rejects_unknown_module(tmp_path):
    from pv_survey.config import load_config

    p = tmp_path / "s.toml"
    p.write_text('[roofs]\nmodule = "acme-9000"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="acme-9000"):
        load_config(p)


# --------------------------------------------------------------------------- grids by hand


def _cols(width_m, along_m):
    return math.floor((width_m + GAP) / (along_m + GAP) + 1e-9)


def test_flat_flush_rectangle_takes_the_better_orientation():
    out = _place(_roofs([box(0, 0, 20, 10)]))
    # landscape: 11 columns of 1.722 m (+ 2 cm) in 20 m, 8 rows of 1.134 m in 10 m = 88;
    # portrait: 17 columns of 1.134 m, 5 rows of 1.722 m = 85  -> landscape
    land = _cols(20, LONG) * (math.floor((10 - SHORT) / SHORT + 1e-9) + 1)
    port = _cols(20, SHORT) * (math.floor((10 - LONG) / LONG + 1e-9) + 1)
    assert (land, port) == (88, 85)
    r = out.roofs.iloc[0]
    assert r["n_modules"] == 88 and r["module_orientation"] == "landscape" and r["n_rows"] == 8
    assert r["capacity_kwp"] == pytest.approx(88 * 0.44)
    assert r["module_area_m2"] == pytest.approx(88 * LONG * SHORT)
    assert out.segments["n_modules"].sum() == 88


def test_pitched_plane_rows_follow_the_slope():
    # a 30 deg south plane: 8.66 m plan depth = 10 m up the slope; flush rows of slope depth L
    plan_depth = 10.0 * math.cos(math.radians(30.0))
    out = _place(_roofs([box(0, 0, 20, plan_depth)], tilt=30.0, gcr=1.0))
    land = _cols(20, LONG) * math.floor(10.0 / SHORT + 1e-9)   # 11 x 8 = 88
    port = _cols(20, SHORT) * math.floor(10.0 / LONG + 1e-9)   # 17 x 5 = 85
    assert out.roofs["n_modules"].iloc[0] == max(land, port) == 88
    # every module's plan footprint is L cos(30) deep
    m = _place(_roofs([box(0, 0, 20, plan_depth)], tilt=30.0), with_modules=True).modules
    b = shapely.bounds(m.geometry.to_numpy())
    np.testing.assert_allclose(b[:, 3] - b[:, 1], SHORT * math.cos(math.radians(30.0)), atol=1e-9)
    np.testing.assert_allclose(b[:, 2] - b[:, 0], LONG, atol=1e-9)


def test_l_shape_counts_cells_inside_by_hand():
    shape = shapely.union(box(0, 0, 20, 10), box(0, 10, 10, 20))
    out = _place(_roofs([shape]), with_modules=True)
    # the grid starts at the corner of the bounding box in the roof frame (facing south: the
    # north-east corner, x = 20, y = 20); a cell counts when it lies in the L
    def count(along, depth):
        n = 0
        for i in range(40):
            x1 = 20 - i * (along + GAP)
            x0 = x1 - along
            for j in range(40):
                y1 = 20 - j * depth
                y0 = y1 - depth
                if x0 >= -1e-9 and y0 >= -1e-9 and (y1 <= 10 + 1e-9 or x1 <= 10 + 1e-9):
                    n += 1
        return n
    expected = max(count(LONG, SHORT), count(SHORT, LONG))
    assert out.roofs["n_modules"].iloc[0] == expected == len(out.modules)
    assert shapely.covers(shape.buffer(1e-6), shapely.union_all(out.modules.geometry.to_numpy()))
    # no two modules overlap
    assert shapely.union_all(out.modules.geometry.to_numpy()).area == pytest.approx(expected * LONG * SHORT)


def test_racked_rows_at_the_solstice_pitch():
    gcr, tilt = 0.5, 15.0
    out = _place(_roofs([box(0, 0, 30, 20)], mount="rack", module_tilt=tilt, gcr=gcr))
    c = math.cos(math.radians(tilt))
    # portrait: rows of slant 1.722 m, pitch 1.722 / 0.5 = 3.444 m: floor((20 - 1.663) / 3.444) + 1 = 6 rows
    port = _cols(30, SHORT) * (math.floor((20 - LONG * c) / (LONG / gcr) + 1e-9) + 1)
    land = _cols(30, LONG) * (math.floor((20 - SHORT * c) / (SHORT / gcr) + 1e-9) + 1)
    assert (port, land) == (26 * 6, 17 * 9)
    r = out.roofs.iloc[0]
    assert r["n_modules"] == 156 and r["module_orientation"] == "portrait" and r["n_rows"] == 6


def test_east_west_pairs_share_one_grid():
    g = box(0, 0, 20, 20)
    out = _place(_roofs([g, g], mount="rack", module_tilt=10.0, module_az=[90.0, 270.0], gcr=0.9,
                        pair=["E", "W"]), with_modules=True)
    n_e, n_w = out.roofs["n_modules"].to_numpy()
    # pairs face east: rows run north-south; a pair is 2 L cos(10) deep at pitch 2 L / 0.9
    c = math.cos(math.radians(10.0))
    port = _cols(20, SHORT) * (math.floor((20 - 2 * LONG * c) / (2 * LONG / 0.9) + 1e-9) + 1)
    land = _cols(20, LONG) * (math.floor((20 - 2 * SHORT * c) / (2 * SHORT / 0.9) + 1e-9) + 1)
    assert n_e == n_w == max(port, land)
    m = out.modules
    e = m[m["roof_id"].str.endswith("-E")].geometry.to_numpy()
    w = m[m["roof_id"].str.endswith("-W")].geometry.to_numpy()
    # each east module lies just east of its west twin, back to back
    ce = shapely.get_coordinates(shapely.centroid(e))
    cw = shapely.get_coordinates(shapely.centroid(w))
    np.testing.assert_allclose(ce[:, 0] - cw[:, 0], (LONG if port >= land else SHORT) * c, atol=1e-9)
    np.testing.assert_allclose(ce[:, 1], cw[:, 1], atol=1e-9)


def test_small_or_excluded_planes_get_no_modules():
    out = _place(_roofs([box(0, 0, 1.0, 1.0), box(0, 0, 20, 10)], reason=["", EXCLUDED["north"]]))
    assert out.roofs["excluded_reason"].tolist() == [L.NO_FIT, EXCLUDED["north"]]
    assert out.roofs["n_modules"].tolist() == [0, 0] and len(out.segments) == 0


# --------------------------------------------------------------------------- thinning, obstacles, existing PV


def test_thinning_keeps_the_obstacle_free_share():
    assert L.thin_evenly(np.arange(8), 0.75).tolist() == [False, True, True, True, False, True, True, True]
    out = _place(_roofs([box(0, 0, 20, 10)]), obstacle_free_frac=0.75)
    assert out.roofs["n_modules"].iloc[0] == math.floor(88 * 0.75)


class _Dsm:
    """A DSM as the layout reads it: heights on a north-up grid."""

    def __init__(self, height_m, transform):
        self.height_m = height_m
        self.transform = transform


def test_dsm_obstacle_removes_the_modules_it_covers_plus_clearance():
    # a 30 x 20 m flat roof 10 m high on a 0.5 m DSM; a 2 x 2 m plant room (x 10-12, y 8-10) 3 m above it
    res = 0.5
    t = Affine(res, 0, -5.0, 0, -res, 25.0)           # grid x -5..35, y -5..25
    z = np.zeros((60, 80), dtype=np.float32)
    rows = lambda y0, y1: slice(int((25 - y1) / res), int((25 - y0) / res))
    cols = lambda x0, x1: slice(int((x0 + 5) / res), int((x1 + 5) / res))
    z[rows(0, 20), cols(0, 30)] = 10.0
    z[rows(8, 10), cols(10, 12)] = 13.0
    roofs = _roofs([box(0, 0, 30, 20)])
    free = _place(roofs, with_modules=True).modules
    cut = _place(roofs, dsm=_Dsm(z, t), obstacle_height_m=0.5, obstacle_clearance_m=0.6,
                 with_modules=True).modules
    # expected: every module overlapping x 9.4-12.6, y 7.4-10.6 (the room grown by 0.6 m) goes, no other
    b = shapely.bounds(free.geometry.to_numpy())
    hit = (b[:, 0] < 12.6) & (b[:, 2] > 9.4) & (b[:, 1] < 10.6) & (b[:, 3] > 7.4)
    assert 4 <= hit.sum() < len(free)
    assert sorted(cut["module_id"].str.replace(r"-M\d+$", "", regex=True).unique()) == ["B0-R1"]
    kept_centres = {tuple(np.round(c, 6)) for c in shapely.get_coordinates(shapely.centroid(cut.geometry.to_numpy()))}
    want = {tuple(np.round(c, 6)) for c in shapely.get_coordinates(shapely.centroid(free.geometry.to_numpy()[~hit]))}
    assert kept_centres == want


def test_existing_pv_takes_modules_off_the_last_rows():
    roofs = _roofs([box(0, 0, 20, 10)])
    out = _place(roofs, existing_pv_kwp=pd.Series({"B0": 10.0}))
    # 10 kWp / 0.44 kWp = 22.7 -> 23 modules fewer
    assert out.roofs["n_modules"].iloc[0] == 88 - 23
    full = _place(roofs, existing_pv_kwp=pd.Series({"B0": 100.0}))
    assert full.roofs["excluded_reason"].iloc[0] == EXCLUDED["covered"] and full.roofs["n_modules"].iloc[0] == 0


# --------------------------------------------------------------------------- segments, curves, site fill


def test_row_segments_by_hand():
    seg = L.row_segments([0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 1, 0], [0, 1, 3, 6, 0, 1, 0], max_modules=2)
    # row 0: cols 0, 1 | 3 (one missing module bridged, but the segment is full) | 6 (gap of 2 splits);
    # row 1: cols 0, 1; roof 1: col 0
    assert seg.tolist() == [0, 0, 1, 2, 3, 3, 4]


def test_segment_geometry_spans_its_modules():
    out = _place(_roofs([box(0, 0, 20, 10)]), segment_max_modules=4, with_modules=True)
    s = out.segments
    # 11 columns per row: segments of 4, 4, 3; 8 rows
    assert s["n_modules"].tolist() == [4, 4, 3] * 8
    per_seg = out.modules.groupby("segment_id").size()
    assert per_seg.reindex(s["segment_id"]).tolist() == s["n_modules"].tolist()
    union = out.modules.dissolve("segment_id").geometry
    np.testing.assert_allclose(shapely.bounds(union.reindex(s["segment_id"]).to_numpy()),
                               shapely.bounds(s.geometry.to_numpy()), atol=1e-9)


def _units():
    # site A: segments of 2 modules at 1000, 1 at 1200, 1 at 800 kWh/kWp; site B: one of 3 at 900
    n = np.array([2, 1, 1, 3])
    sy = np.array([1000.0, 1200.0, 800.0, 900.0])
    kwp = n * 0.44
    return pd.DataFrame({"roof_id": ["A-R1", "A-R1", "A-R2", "B-R1"], "building_id": ["A", "A", "A", "B"],
                         "n_modules": n, "capacity_kwp": kwp, "annual_kwh": kwp * sy, "specific_yield_kwh_kwp": sy})


def test_capacity_yield_curve_best_first():
    c = capacity_yield_curves(_units(), n_points=4)
    a = c[c["building_id"] == "A"]
    # best first: 1 module at 1200, then 2 at 1000, then 1 at 800
    assert a["n_modules"].tolist() == [1, 3, 4]
    np.testing.assert_allclose(a["cum_kwp"], [0.44, 1.32, 1.76])
    np.testing.assert_allclose(a["cum_kwh"], [0.44 * 1200, 0.44 * 1200 + 0.88 * 1000, 0.44 * (1200 + 800) + 0.88 * 1000])
    np.testing.assert_allclose(a["last_kwh_kwp"], [1200, 1000, 800])
    assert c[c["building_id"] == "B"]["n_modules"].tolist() == [3]
    # fewer points than segments: the segments first reaching 1/2 and 2/2 of the modules
    assert capacity_yield_curves(_units(), n_points=2).query("building_id == 'A'")["n_modules"].tolist() == [3, 4]


@pytest.mark.parametrize("id_dtype", [object, "str"])
def test_capacity_yield_curves_equal_a_loop_over_sites(id_dtype):
    """Shuffled sites with equal yields and a missing yield, against a plain loop: per site (in text
    order of the ids, 'B10' before 'B2'), segments best first with ties in the given order and the
    missing yield last, running sums, and the segment that first reaches each k / n_points of the
    site's modules."""
    rng = np.random.default_rng(7)
    n = 600
    ids = rng.choice(["B1", "B10", "B2", "b1", "塔1", "A"], n)
    sy = rng.choice([800.0, 950.0, 1000.0, 1100.0, np.nan], n, p=[0.3, 0.3, 0.2, 0.19, 0.01])
    n_mod = rng.integers(1, 12, n)
    kwp = n_mod * 0.55
    units = pd.DataFrame({"building_id": pd.Series(ids, dtype=id_dtype), "n_modules": n_mod, "capacity_kwp": kwp,
                          "annual_kwh": kwp * np.nan_to_num(sy, nan=500.0), "specific_yield_kwh_kwp": sy})
    n_points = 8
    rows = []
    for site in sorted(set(ids)):
        at = [i for i in range(n) if ids[i] == site]
        at = sorted(at, key=lambda i: (np.isnan(sy[i]), -np.nan_to_num(sy[i]), i))  # best first, stable
        total, cum_n, cum_kwp, cum_kwh, passed = n_mod[at].sum(), 0, 0.0, 0.0, 0
        for i in at:
            cum_n += n_mod[i]
            cum_kwp += kwp[i]
            cum_kwh += units["annual_kwh"].iloc[i]
            k = int(np.floor(cum_n * n_points / total + 1e-9))
            if k > passed:
                rows.append((site, cum_n, cum_kwp, cum_kwh, sy[i]))
                passed = k
    got = capacity_yield_curves(units, n_points=n_points)
    assert got["building_id"].tolist() == [r[0] for r in rows]
    assert got["n_modules"].tolist() == [r[1] for r in rows]
    np.testing.assert_allclose(got["cum_kwp"], [r[2] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(got["cum_kwh"], [r[3] for r in rows], rtol=1e-12)
    np.testing.assert_array_equal(got["last_kwh_kwp"], [r[4] for r in rows])


def test_site_fill_best_keeps_modules_above_the_threshold():
    roofs = pd.DataFrame({"roof_id": ["A-R1", "A-R2", "B-R1"], "building_id": ["A", "A", "B"],
                          "capacity_kwp": [1.32, 0.44, 1.32], "annual_kwh": [0.88 * 1000 + 0.44 * 1200, 352.0, 1188.0],
                          "module_area_m2": [3.0, 1.0, 3.0], "n_modules": [3, 1, 3],
                          "specific_yield_kwh_kwp": [1066.7, 800.0, 900.0], "kwh_01": [100.0, 30.0, 99.0],
                          "excluded_reason": ["", "", ""]})
    same, u = fill_sites(roofs, _units(), site_fill="all")
    assert same is roofs and u["built"].all()
    best, u = fill_sites(roofs, _units(), site_fill="best", min_module_yield_kwh_kwp=950.0)
    assert u["built"].tolist() == [True, True, False, False]
    b = best.set_index("roof_id")
    assert b.loc["A-R1", "capacity_kwp"] == pytest.approx(1.32) and b.loc["A-R1", "n_modules"] == 3
    assert b.loc["A-R2", "capacity_kwp"] == 0 and b.loc["A-R2", "excluded_reason"] == BELOW_THRESHOLD_REASON
    assert b.loc["B-R1", "excluded_reason"] == BELOW_THRESHOLD_REASON


def test_layout_summary_line_counts_built_modules():
    u = pd.DataFrame({"n_modules": [10, 5], "built": [True, False]})
    # the counts of two tiles add up key by key to the counts of both
    halves = [layout_counts(u.iloc[:1]), layout_counts(u.iloc[1:])]
    counts = {k: halves[0][k] + halves[1][k] for k in halves[0]}
    assert counts == layout_counts(u) == {"modules": 15, "modules_built": 10, "segments_built": 1}
    line = layout_summary_line(counts, MOD, site_fill="best", min_module_yield_kwh_kwp=900.0)
    # 10 modules x 0.44 kWp = 4.4 kWp in 1 segment; 10 of the 15 reach the threshold
    assert "10 modules jinko-tiger-neo-54hl4r-bdv-440 (1722 x 1134 mm, 440 W) = 4.4 kWp in 1 row segments" in line
    assert "10 of 15 modules reach 900 kWh/kWp" in line


# --------------------------------------------------------------------------- the fast inside test

E = L.EPS_M
#: Hand-made polygons in the frame of a north-facing grid of 1 m x 1 m cells (facing azimuth 0: u = x,
#: v = y, the grid starting at the bounding box's corner), each with a trap for a point-in-polygon test.
TRICKY = {
    "hole": shapely.Polygon(box(0, 0, 6, 6).exterior, [box(2, 2, 4, 4).exterior.coords]),
    # a hole whose corner is exactly a cell corner (3 + eps, 3 + eps) and edges through cell corners
    "hole on corners": shapely.Polygon(box(0, 0, 6, 6).exterior, [box(3 + E, 3 + E, 5 - E, 5 - E).exterior.coords]),
    # extra vertices along straight edges
    "collinear": shapely.Polygon([(0, 0), (3, 0), (6, 0), (6, 3), (6, 6), (2, 6), (0, 6), (0, 0)]),
    # an edge exactly on the far corners of column 4 (4 + 1 - eps): contains_xy is False on it
    "edge on corners": shapely.Polygon([(0, 0), (6, 0), (6, 2), (5.0 - E, 2), (5.0 - E, 4), (0, 4)]),
    # an L whose reflex vertex is exactly a cell corner
    "reflex on corner": shapely.Polygon([(0, 0), (6, 0), (6, 3 + E), (3 + E, 3 + E), (3 + E, 6), (0, 6)]),
    # a notch entering a cell between its corners (only the exact contains test sees it)
    "notch": shapely.Polygon([(0, 0), (6, 0), (6, 6), (2.6, 6), (2.5, 4.5), (2.4, 6), (0, 6)]),
    # a spike too thin for the convexity rule (area < 1e-9 of the polygon): corners decide, it is kept
    "thin spike": shapely.Polygon([(0, 0), (6, 0), (6, 6), (2.5 + 5e-8, 6), (2.5, 5.5), (2.5 - 5e-8, 6), (0, 6)]),
    "two parts": shapely.MultiPolygon([box(0, 0, 3, 3), box(3 + E, 0, 7, 3), box(0, 4, 2.5, 6)]),
    "triangle": shapely.Polygon([(0, 0), (7, 0), (0, 5)]),
    "diamond through corners": shapely.Polygon([(3 + E, 0), (6, 3 + E), (3 + E, 6), (0, 3 + E)]),
}


def _expected_cells(poly, nu, nv):
    """Cells of the 1 m grid inside ``poly`` by the shapely rule (four corners by contains_xy, and the
    whole cell by contains on a non-convex polygon), independently of the code under test."""
    hull_gap = shapely.area(shapely.convex_hull(poly)) - poly.area
    convex = hull_gap <= 1e-9 * max(poly.area, 1.0)
    out = np.zeros((nv, nu), dtype=bool)
    for row in range(nv):
        for col in range(nu):
            u0, v0, u1, v1 = col + E, row + E, col + 1.0 - E, row + 1.0 - E
            corners = all(shapely.contains_xy(poly, x, y) for x, y in ((u0, v0), (u1, v0), (u1, v1), (u0, v1)))
            out[row, col] = corners and (convex or poly.contains(box(u0, v0, u1, v1)))
    return out


def _grid(polys, reference):
    n = len(polys)
    return L.grid_cells(np.array(polys, dtype=object), np.zeros(n), np.zeros(n), np.zeros(n, bool), np.ones(n),
                        length_m=1.0, width_m=1.0, gap_m=0.0, reference=reference)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_fast_inside_test_equals_shapely_on_tricky_polygons(name):
    poly = TRICKY[name]
    x0, y0, x1, y1 = poly.bounds
    assert (x0, y0) == (0.0, 0.0)  # the grid starts at the origin
    nu, nv = math.floor(x1 + 1e-9), math.floor(y1 - 1.0 + 1e-9) + 1
    expected = _expected_cells(poly, nu, nv)
    for reference in (False, True):
        g = _grid([poly], reference)
        got = np.zeros((nv, nu), dtype=bool)
        got[g["row"], g["col"]] = True
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}, reference={reference}")
        np.testing.assert_array_equal(g["u0"], g["col"] * 1.0)
        np.testing.assert_array_equal(g["v0"], g["row"] * 1.0)


def _kernel_status(poly):
    """The numba kernel's own statuses on a 1 m grid (before shapely decides the open cells)."""
    from pv_survey._layout_kernel import cell_status

    geoms = np.array([poly], dtype=object)
    f, r = L._axes([0.0])
    origin = np.array([poly.bounds[:2]])
    rings = L._local_rings(geoms, np.array([True]), origin, f, r)
    lb = rings.bounds
    nu = np.array([math.floor(lb[0, 2] - lb[0, 0] + 1e-9)])
    nv = np.array([math.floor(lb[0, 3] - lb[0, 1] - 1.0 + 1e-9) + 1])
    out = np.full(int(nu[0] * nv[0]), -1, dtype=np.int8)
    cell_status(rings.xy, rings.start, rings.length, rings.ring, rings.ptr, lb, nu, nv, 1.0, np.ones(1), 1.0,
                np.ones(1), np.zeros(1, np.int64), E, L.SURE_M, out)
    return out.reshape(nv[0], nu[0])


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_kernel_decides_only_what_is_certain(name):
    from pv_survey._layout_kernel import INSIDE, OUTSIDE, UNSURE

    poly = TRICKY[name]
    st = _kernel_status(poly)
    expected = _expected_cells(poly, st.shape[1], st.shape[0])
    assert set(np.unique(st)) <= {OUTSIDE, INSIDE, UNSURE}
    decided = st != UNSURE
    np.testing.assert_array_equal(st[decided] == INSIDE, expected[decided])
    # open: a cell with a corner on an edge and none certainly outside (edge on corners: column 4 of the
    # top rows; two parts: column 3, starting on the second part's edge), or a cell an edge enters
    # between its corners (notch, thin spike); a corner on the boundary next to a corner certainly
    # outside (the holes, the reflex vertex, the diamond) is decided
    assert (~decided).any() == (name in {"edge on corners", "notch", "thin spike", "two parts"})
    assert decided.mean() > 0.5


def test_fast_grid_equals_shapely_on_rotated_planes():
    # random quadrilaterals, L-shapes and holed polygons at random azimuths, tilts, racks and pairs
    rng = np.random.default_rng(7)
    polys = []
    for i in range(60):
        cx, cy = rng.uniform(0, 500, 2)
        w, h = rng.uniform(3, 40, 2)
        p = shapely.affinity.rotate(box(cx, cy, cx + w, cy + h), rng.uniform(0, 90), origin=(cx, cy))
        if i % 3 == 1:
            p = p.difference(shapely.affinity.translate(box(cx, cy, cx + w / 2, cy + h / 2), w / 2, h / 2))
        elif i % 3 == 2:
            p = p.difference(shapely.Point(cx + w / 2, cy + h / 3).buffer(min(w, h) / 5))
        polys.append(p)
    n = len(polys)
    args = (np.array(polys, dtype=object), rng.uniform(0, 360, n), rng.uniform(0, 40, n), rng.random(n) < 0.4,
            rng.uniform(0.4, 1.0, n))
    kw = dict(length_m=LONG, width_m=SHORT, gap_m=GAP, pair=rng.random(n) < 0.2)
    fast, ref = L.grid_cells(*args, **kw), L.grid_cells(*args, **kw, reference=True)
    assert len(ref["roof"]) > 1000
    for key in ("roof", "row", "col", "u0", "v0", "count", "portrait", "along_m", "depth_m"):
        np.testing.assert_array_equal(fast[key], ref[key], err_msg=key)


def test_segment_centres_equal_shapely_centroid():
    rng = np.random.default_rng(3)
    n = 2000
    u0, v0 = rng.uniform(-50, 50, n), rng.uniform(-50, 50, n)
    frames = {"origin": rng.uniform(3e5, 3e6, (n, 2))}
    frames["f"], frames["r"] = L._axes(rng.uniform(0, 360, n))
    xy = L._world_box_coords(u0, u0 + rng.uniform(1, 40, n), v0, v0 + rng.uniform(0.5, 3, n), np.arange(n), frames)
    geoms = L._polygons(xy)
    np.testing.assert_array_equal(shapely.get_coordinates(geoms).reshape(n, 5, 2), xy)
    # the same numbers, not only close ones: segment centres are where horizons are ray-marched from
    np.testing.assert_array_equal(L._box_centroids(xy), shapely.get_coordinates(shapely.centroid(geoms)))


def test_demo_district_cells_equal_the_shapely_path():
    # every usable polygon of the demo district (all its roof planes, one piece): the kernel with shapely
    # for the cells it leaves open places the same cells as shapely alone
    from pv_survey import resources
    from pv_survey.config import Config
    from pv_survey.pipeline import load_inputs, resolve_inputs

    cfg = resolve_inputs(Config())
    buildings, planes, _ = load_inputs(cfg)
    tile = resources.TileData(buildings=buildings, core_ids=None, weather=None, dsm=None, owner_of=None,
                              absolute=False, energy_params={}, planes=planes)
    roofs = resources._roof_surfaces(cfg, tile).rename(columns={"_sample_geometry": "usable_geometry"})
    module = module_preset(cfg.roofs.module)
    kept = roofs["excluded_reason"].fillna("").to_numpy(object) == ""
    pair = roofs["_pair"].to_numpy(object)
    args = (np.where(kept, roofs["usable_geometry"].to_numpy(object), None),
            np.where(pair != "", 90.0, roofs["module_azimuth_deg"].to_numpy(float)),
            roofs["module_tilt_deg"].to_numpy(float), roofs["mount"].to_numpy(object) == "rack",
            roofs["gcr"].to_numpy(float))
    kw = dict(length_m=module.length_m, width_m=module.width_m, gap_m=GAP, pair=pair != "")
    fast, ref = L.grid_cells(*args, **kw), L.grid_cells(*args, **kw, reference=True)
    assert len(fast["roof"]) > 500_000
    for key in ("roof", "row", "col", "u0", "v0", "count", "portrait", "along_m", "depth_m"):
        np.testing.assert_array_equal(fast[key], ref[key], err_msg=key)


def test_fast_grid_equals_shapely_on_mixed_geometries():
    # missing and empty geometries get no cells; a geometry collection (not a polygon) goes to shapely whole
    geoms = np.array([shapely.GeometryCollection([box(0, 0, 8, 6), shapely.LineString([(9, 0), (12, 3)])]),
                      box(0, 0, 5, 5), None, shapely.Polygon(),
                      shapely.MultiPolygon([box(0, 0, 3, 3), box(5, 0, 9, 4)]),
                      shapely.Polygon(box(0, 0, 6, 6).exterior, [box(1, 1, 2, 2).exterior.coords,
                                                                 box(3, 3, 5, 5).exterior.coords])], dtype=object)
    n = len(geoms)
    args = (geoms, np.array([180.0, 30.0, 0.0, 0.0, 200.0, 75.0]), np.zeros(n), np.zeros(n, bool), np.ones(n))
    fast = L.grid_cells(*args, length_m=LONG, width_m=SHORT, gap_m=GAP)
    ref = L.grid_cells(*args, length_m=LONG, width_m=SHORT, gap_m=GAP, reference=True)
    for key in ("roof", "row", "col", "u0", "v0", "count", "portrait"):
        np.testing.assert_array_equal(fast[key], ref[key], err_msg=key)
    assert fast["count"][0] > 0 and fast["count"][2] == fast["count"][3] == 0
