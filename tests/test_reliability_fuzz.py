"""hypothesis fuzzing of footprints and attributes through read_buildings and the roofs stage (issue 9).

Each example writes a small GeoPackage of random rows -- valid, invalid, self-intersecting,
degenerate, holed and multi-part polygons, points, lines, collections, null and empty
geometries; heights, storeys, ids, categories, roof types and existing PV as numbers or
text, blank, negative, absurd -- and reads it as a user's file is read. The invariants are
those of docs/ARCHITECTURE.md and issue 9, not numbers from the code:

* only a :class:`~pv_survey.errors.PVSurveyError` (one line) may escape, never another exception;
* every input row is in the buildings frame, usable or with an ``excluded_reason``;
* a usable building has a valid polygonal footprint of positive area and a height in (0, 700] m;
* every usable building gets at least one roof plane, every roof belongs to a usable building;
* capacity >= 0 and 0 on an excluded plane, usable area <= the plane's roof area
  (plan area for flat roofs, slope area = plan / cos(tilt) for pitched planes),
  module area <= usable area.
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pv_survey.config import Config
from pv_survey.presets import module_preset
from pv_survey.errors import PVSurveyError
from pv_survey.inputs import read_buildings
from pv_survey.inputs.schema import CATEGORIES, MAX_HEIGHT_M
from pv_survey.roofs import layout_roofs, roof_planes_from_buildings

from _badinputs import X0_M, Y0_M

CFG = Config()
EXTENT = CFG.survey.extent_lon_lat


def _layout_kwargs() -> dict:
    """layout_roofs arguments from the default config (the same fields the pipeline passes)."""
    rc = CFG.roofs
    names = ("edge_setback_m", "obstacle_free_frac", "min_usable_area_m2", "max_tilt_deg", "exclude_north_facing",
             "north_sector_half_width_deg", "flat_layout", "flat_module_tilt_deg", "flat_module_azimuth_deg",
             "east_west_tilt_deg", "row_spacing", "flat_gcr", "east_west_gcr", "pitched_gcr")
    return {n: getattr(rc, n) for n in names} | {"latitude_deg": CFG.survey.centre_lat_deg,
                                                 "module_efficiency_frac": module_preset(rc.module).efficiency_frac}


# --------------------------------------------------------------------------- strategies

# offsets from the corpus origin (113.35 E, 23.13 N in EPSG:4547); +-3 km stays inside Tianhe
coord = st.floats(-3000.0, 3000.0, allow_nan=False, allow_infinity=False)
size = st.one_of(st.floats(0.0, 0.5), st.floats(0.5, 300.0), st.just(1e-9))


@st.composite
def box(draw):
    x, y, w, h = draw(coord), draw(coord), draw(size), draw(size)
    return shapely.box(X0_M + x, Y0_M + y, X0_M + x + w, Y0_M + y + h)


@st.composite
def ring_polygon(draw):
    """Any ring through 3-8 random points: convex, concave, self-intersecting or collinear."""
    x, y = draw(coord), draw(coord)
    pts = draw(st.lists(st.tuples(st.floats(-60, 60), st.floats(-60, 60)), min_size=3, max_size=8))
    return shapely.Polygon([(X0_M + x + dx, Y0_M + y + dy) for dx, dy in pts])


@st.composite
def holed(draw):
    outer = draw(box())
    if outer.area < 1.0:
        return outer
    c = outer.centroid
    r = draw(st.floats(0.0, 0.9)) * math.sqrt(outer.area) / 2.0
    hole = shapely.box(c.x - r, c.y - r, c.x + r, c.y + r)
    return shapely.Polygon(outer.exterior.coords, [hole.exterior.coords]) if r > 0 else outer


@st.composite
def multi(draw):
    parts = draw(st.lists(st.one_of(box(), ring_polygon()), min_size=2, max_size=3))
    return shapely.MultiPolygon([p for p in parts if p.geom_type == "Polygon"])


@st.composite
def other_geometry(draw):
    x, y = X0_M + draw(coord), Y0_M + draw(coord)
    kind = draw(st.sampled_from(["none", "empty", "point", "line", "collection", "far"]))
    if kind == "none":
        return None
    if kind == "empty":
        return shapely.Polygon()
    if kind == "point":
        return shapely.Point(x, y)
    if kind == "line":
        return shapely.LineString([(x, y), (x + 30, y + 5)])
    if kind == "collection":
        return shapely.GeometryCollection([shapely.Point(x, y), shapely.box(x, y, x + 15, y + 12)])
    return shapely.box(x + 500_000, y, x + 500_020, y + 20)  # 500 km away: outside the survey area


geometry = st.one_of(box(), box(), ring_polygon(), holed(), multi(), other_geometry())

number_or_text = st.one_of(
    st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 300),
    st.sampled_from(["", "abc", "40 m", "12层", "二十", "-5", "1e400", "  7.5  ", "n/a", "3,5"]),
)


@st.composite
def frame(draw):
    n = draw(st.integers(1, 8))
    geoms = draw(st.lists(geometry, min_size=n, max_size=n))
    ids = draw(st.lists(st.sampled_from(["A", "B", "C", "", "天河-1", "0"]), min_size=n, max_size=n))
    cats = draw(st.lists(st.one_of(st.sampled_from([*CATEGORIES, "学校", "厂房", "政府", "未知类"]), st.text(max_size=6)),
                         min_size=n, max_size=n))
    roofs = draw(st.lists(st.sampled_from(["flat", "pitched", "坡顶", "平顶", "dome", "", "???"]), min_size=n, max_size=n))
    cols = {"building_id": ids, "category": cats, "roof_type": roofs}
    for name in ("height_m", "floors", "existing_pv_kwp", "year_built"):
        vals = draw(st.lists(number_or_text, min_size=n, max_size=n))
        if draw(st.booleans()):  # a text column (numbers as text), as spreadsheets export them
            cols[name] = [None if v is None else str(v) for v in vals]
        else:
            cols[name] = [v if isinstance(v, float) else np.nan for v in vals]
    f = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs="EPSG:4547"), crs="EPSG:4547")
    # half the files come in CGCS2000 lon/lat (EPSG:4490), reprojected on reading
    return f.to_crs("EPSG:4490") if draw(st.booleans()) else f


# --------------------------------------------------------------------------- the property


def _write(frame: gpd.GeoDataFrame, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes mixed geometry types
        frame.to_file(path, layer="buildings", driver="GPKG")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(frame())
def test_read_and_roofs_never_lose_a_building(tmp_path, frame):
    path = tmp_path / "fuzz.gpkg"
    path.unlink(missing_ok=True)
    _write(frame, path)
    try:
        b, report = read_buildings(path, extent_lon_lat=EXTENT)
    except PVSurveyError as exc:  # e.g. no usable building at all: a handled, one-line error
        event("handled error")
        msg = str(exc)
        assert "\n" not in msg and str(path) in msg
        return

    # every input row is there, usable or with a reason
    assert len(b) == len(frame) == report.n_read
    assert b["building_id"].is_unique and (b["building_id"] != "").all()
    usable = (b["excluded_reason"] == "").to_numpy()
    assert report.n_usable == usable.sum() and report.n_excluded == (~usable).sum()
    ok = b[usable]
    assert ok.geometry.is_valid.all() and (ok.geometry.area > 0).all()
    assert ok.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    h = ok["height_m"].to_numpy(float)
    assert np.isfinite(h).all() and (h > 0).all() and (h <= MAX_HEIGHT_M).all()
    assert b["category"].isin(CATEGORIES).all() and b["roof_type"].isin(["flat", "pitched"]).all()
    pv = b["existing_pv_kwp"].to_numpy(float)
    assert np.isfinite(pv).all() and (pv >= 0).all()

    event(f"usable buildings: {min(int(usable.sum()), 3)}+")
    # roofs stage
    planes = roof_planes_from_buildings(b, None, flat_max_tilt_deg=CFG.roofs.flat_max_tilt_deg)
    roofs = layout_roofs(planes, existing_pv_kwp=ok.set_index("building_id")["existing_pv_kwp"], **_layout_kwargs())
    assert set(roofs["building_id"]) == set(ok["building_id"])  # each usable building has a plane, no stray
    assert roofs["roof_id"].is_unique
    cap = roofs["capacity_kwp"].to_numpy(float)
    assert np.isfinite(cap).all() and (cap >= 0).all()
    kept = (roofs["excluded_reason"] == "").to_numpy()
    assert (cap[~kept] == 0).all()
    usable_m2 = roofs["usable_area_m2"].to_numpy(float)
    tilt = roofs["tilt_deg"].to_numpy(float)
    flat = (roofs["roof_type"] == "flat").to_numpy()
    roof_m2 = roofs["area_m2"].to_numpy(float) / np.cos(np.radians(np.where(flat, 0.0, tilt)))
    assert np.isfinite(usable_m2).all() and (usable_m2 >= 0).all()
    assert (usable_m2 <= roof_m2 * (1 + 1e-9) + 1e-9).all()
    module_m2 = roofs["module_area_m2"].to_numpy(float)
    assert (module_m2 >= 0).all() and (module_m2 <= usable_m2 * (1 + 1e-9) + 1e-9).all()


def test_repair_that_splits_along_a_shared_edge_is_dissolved():
    """Found by the fuzz above: make_valid(method='structure') turned this self-touching ring into
    two triangles sharing an edge -- an invalid MultiPolygon that was kept as usable.

    Independent expectation: the ring encloses two right triangles with 1 m legs on either side of
    the edge (X0, Y0)-(X0 + 1, Y0), 0.5 m2 each (area = legs / 2), so one valid 1 m2 polygon.
    """
    from pv_survey.inputs.validate import check_geometries

    x, y = X0_M, Y0_M
    ring = shapely.Polygon([(x, y), (x + 1, y), (x, y + 1), (x, y), (x + 1, y), (x, y - 1), (x, y)])
    chk = check_geometries([ring])
    assert chk.reason[0] == "" and chk.n_repaired == 1
    assert chk.geometry[0].is_valid
    assert chk.geometry[0].area == pytest.approx(1.0)


def test_the_strategies_reach_the_hard_cases():
    """The generators do produce what the property claims to cover (guards against a vacuous fuzz)."""
    from hypothesis import find

    bowtie = find(ring_polygon(), lambda g: not g.is_valid)
    assert not bowtie.is_valid
    assert find(other_geometry(), lambda g: g is None) is None
    assert find(multi(), lambda g: g.geom_type == "MultiPolygon" and len(g.geoms) >= 2)


def test_footprint_that_turns_invalid_when_projected(tmp_path):
    """Found by the fuzz above: a near-collinear triangle, valid in CGCS2000 lon/lat, is invalid
    once projected to EPSG:4547 (its three points round onto one line); it was kept as usable.
    It must now be repaired or excluded with a reason, and the run's warnings must say so."""
    sliver = shapely.from_wkt(
        "POLYGON ((113.3497756060277 23.129269798082472, 113.34978536867094 23.129269838333787, "
        "113.3497951313142 23.12926987858449, 113.3497756060277 23.129269798082472))")
    assert sliver.is_valid
    good = shapely.box(113.3500, 23.1300, 113.3502, 23.1302)
    frame = gpd.GeoDataFrame({"building_id": ["S", "G"]}, geometry=[sliver, good], crs="EPSG:4490")
    path = tmp_path / "sliver.gpkg"
    _write(frame, path)
    b, report = read_buildings(path, extent_lon_lat=EXTENT)
    s = b.set_index("building_id").loc["S"]
    assert s["excluded_reason"] == "invalid geometry" or s["geometry"].is_valid
    assert any("became invalid when projected" in w for w in report.warnings)
    assert b.set_index("building_id").loc["G", "excluded_reason"] == ""
