"""Carport canopies: surface car park selection, canopy area and capacity, shading and yield."""

import numpy as np
import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from pv_survey import carports as C
from pv_survey import shading
from pv_survey.assessment import assess_resource
from pv_survey.config import Config
from pv_survey.errors import InputError

CRS = "EPSG:4547"
X0, Y0 = 500000.0, 2560000.0
from conftest import CLEARSKY_ALT as ALT, CLEARSKY_LAT as LAT, CLEARSKY_LON as LON  # noqa: E402

CANOPY = dict(canopy_tilt_deg=5.0, canopy_height_m=3.0, coverage_frac=0.5, module_efficiency_frac=0.21)


@pytest.fixture(scope="module")
def weather(clearsky_weather):
    """The shared synthetic clear-sky Guangzhou year (tests/conftest.py)."""
    return clearsky_weather


def _lots(geoms, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS)


def test_canopy_area_and_capacity_by_hand():
    out = C.carport_arrays(_lots([box(X0, Y0, X0 + 50, Y0 + 40)]), **CANOPY)
    row = out.iloc[0]
    # 50 x 40 = 2000 m2 of car park; half roofed: 1000 m2 plan; modules on a 5 deg canopy:
    # 1000 / cos(5 deg) = 1003.82 m2; x 0.21 kWp/m2 = 210.80 kWp
    assert row["area_m2"] == pytest.approx(2000.0)
    assert row["canopy_area_m2"] == pytest.approx(1000.0)
    assert row["module_area_m2"] == pytest.approx(1003.82, abs=0.01)
    assert row["capacity_kwp"] == pytest.approx(210.80, abs=0.01)
    assert (row["tilt_deg"], row["azimuth_deg"], row["height_m"]) == (5.0, 180.0, 3.0)
    assert row["carport_id"] == "CP1" and row["excluded_reason"] == ""


def test_flat_canopy_module_area_equals_plan_area():
    # tilt 0: cos 0 = 1, so module area = 0.6 x 100 m2 = 60 m2 -> 60 x 0.2 = 12 kWp
    out = C.carport_arrays(_lots([box(X0, Y0, X0 + 10, Y0 + 10)], carport_id=["lot-a"]), canopy_tilt_deg=0.0,
                           canopy_height_m=2.5, coverage_frac=0.6, module_efficiency_frac=0.2)
    assert out["module_area_m2"].iloc[0] == pytest.approx(60.0)
    assert out["capacity_kwp"].iloc[0] == pytest.approx(12.0)
    assert out["carport_id"].iloc[0] == "lot-a"


def test_buildings_cut_out_of_car_parks():
    # a 10 x 10 m kiosk inside a 50 x 40 m car park: 2000 - 100 = 1900 m2 remain
    kiosk = gpd.GeoDataFrame({"building_id": ["K"]}, geometry=[box(X0 + 20, Y0 + 20, X0 + 30, Y0 + 30)], crs=CRS)
    out = C.carport_arrays(_lots([box(X0, Y0, X0 + 50, Y0 + 40)]), **CANOPY, buildings=kiosk)
    assert out["area_m2"].iloc[0] == pytest.approx(1900.0)
    assert out["canopy_area_m2"].iloc[0] == pytest.approx(950.0)


def test_small_and_non_polygon_car_parks_excluded():
    lots = _lots([box(X0, Y0, X0 + 8, Y0 + 10), Point(X0, Y0), LineString([(X0, Y0), (X0 + 5, Y0)]),
                  box(X0 + 100, Y0, X0 + 120, Y0 + 10)])
    out = C.carport_arrays(lots, **CANOPY, min_area_m2=100.0)
    # 80 m2 < 100 m2; a point and a line have no area; 200 m2 passes
    assert list(out["excluded_reason"]) == [C.EXCLUDED["small"], C.EXCLUDED["not_polygon"],
                                            C.EXCLUDED["not_polygon"], ""]
    assert out["capacity_kwp"].iloc[:3].sum() == 0.0
    assert out["capacity_kwp"].iloc[3] == pytest.approx(200 * 0.5 / np.cos(np.radians(5.0)) * 0.21)


def test_geographic_crs_refused():
    lots = gpd.GeoDataFrame(geometry=[box(113.3, 23.1, 113.31, 23.11)], crs="EPSG:4326")
    with pytest.raises(InputError, match="geographic"):
        C.carport_arrays(lots, **CANOPY)


def test_select_surface_parking_from_osm_tags():
    # OSM wiki Tag:amenity=parking: "If not further specified via parking=*, parking=surface is assumed"
    feats = gpd.GeoDataFrame({
        "amenity": ["parking", "parking", "parking", "parking", "school", "parking"],
        "parking": ["surface", None, "multi-storey", "underground", None, "surface"],
    }, geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10), box(60, 0, 70, 10),
                 box(80, 0, 90, 10), Point(100, 0)], crs=CRS)
    sel = C.select_surface_parking(feats)
    assert list(sel.index) == [0, 1]
    # a plain parking layer (no OSM tags) is taken whole, polygons only
    plain = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), Point(5, 5)], crs=CRS)
    assert list(C.select_surface_parking(plain).index) == [0]


def _survey(lots, dsm, weather, **resources):
    """The canopies over ``lots`` through the one assessment, with the canopy settings of CANOPY."""
    canopy = {f"carport_{k}": v for k, v in CANOPY.items()}
    cfg = Config().replace(resources={"kinds": ["roofs", "carports"], "carport_min_area_m2": 0.0, **canopy,
                                      **resources})
    none = gpd.GeoDataFrame({"building_id": [], "height_m": [], "excluded_reason": []}, geometry=[], crs=CRS)
    return assess_resource("carports", cfg, none, dsm, weather, parking=lots)


def _dsm(geoms, heights, bounds):
    return shading.dsm_from_buildings(list(geoms), heights, resolution_m=1.0, bounds=bounds, pad_m=310.0, crs=CRS)


def test_open_canopy_matches_pvlib_modelchain(weather):
    from _pvlib_reference import modelchain_annual_kwh

    lot = box(X0, Y0, X0 + 50, Y0 + 40)
    dsm = _dsm([], np.zeros(0), lot.bounds)  # open ground
    out = _survey(_lots([lot]), dsm, weather)
    row = out.iloc[0]
    assert row["sky_view_frac"] == pytest.approx(1.0) and row["shading_loss_frac"] == pytest.approx(0.0, abs=1e-9)
    # pvlib's own ModelChain for one plane at 5 deg facing south, open-rack glass/polymer (an open canopy),
    # with Marion's diffuse IAM on the sky, band and ground light (tests/_pvlib_reference.py)
    expected = modelchain_annual_kwh(weather, 5.0, 180.0, row["capacity_kwp"], "open_rack_glass_polymer")
    assert row["annual_kwh"] == pytest.approx(expected, rel=0.005)
    assert row["mount"] == "rack"


def test_canopy_in_a_courtyard_is_shaded_and_excluded(weather):
    # a 20 x 20 m car park walled in by 60 m towers on all four sides, 5 m away: from the canopy
    # (3 m) the towers rise atan(57 / 5..25) = 66..85 deg, so the beam is gone most of the year
    lot = box(X0, Y0, X0 + 20, Y0 + 20)
    towers = [box(X0 - 25, Y0 - 25, X0 + 45, Y0 - 5), box(X0 - 25, Y0 + 25, X0 + 45, Y0 + 45),
              box(X0 - 25, Y0 - 5, X0 - 5, Y0 + 25), box(X0 + 25, Y0 - 5, X0 + 45, Y0 + 25)]
    # a second, open car park 455 m from the nearest tower (beyond the 300 m search radius)
    dsm = _dsm(towers, np.full(4, 60.0), (X0, Y0, X0 + 520, Y0 + 20))
    out = _survey(_lots([lot, box(X0 + 500, Y0, X0 + 520, Y0 + 20)]), dsm, weather, min_poa_kwh_m2=800.0)
    walled, open_ = out.iloc[0], out.iloc[1]
    assert walled["shading_loss_frac"] > 0.3
    assert walled["excluded_reason"] != ""
    assert open_["excluded_reason"] == "" and open_["shading_loss_frac"] < 0.01
    assert walled["annual_kwh"] < 0.7 * open_["annual_kwh"]
