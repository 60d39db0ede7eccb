"""Roof planes, usable area, layout and capacity on hand-made roofs."""

import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from pv_survey import roofs as R

CRS = "EPSG:4547"


def _buildings(geoms, roof_type="flat", height=20.0, existing=0.0):
    n = len(geoms)
    return gpd.GeoDataFrame({
        "building_id": [f"B{i}" for i in range(n)],
        "roof_type": [roof_type] * n if isinstance(roof_type, str) else roof_type,
        "height_m": height,
        "existing_pv_kwp": existing,
        "excluded_reason": "",
    }, geometry=list(geoms), crs=CRS)


LAYOUT = dict(latitude_deg=23.13, edge_setback_m=1.0, obstacle_free_frac=0.75, min_usable_area_m2=10.0,
              max_tilt_deg=60.0, exclude_north_facing=True, north_sector_half_width_deg=45.0,
              flat_layout="south", flat_module_tilt_deg=15.0, flat_module_azimuth_deg=180.0,
              east_west_tilt_deg=10.0, row_spacing="gcr", flat_gcr=0.7, east_west_gcr=0.9,
              pitched_gcr=0.98, module_efficiency_frac=0.2)


def test_usable_area_square_roof():
    # 20 m x 20 m roof, 1 m setback -> 18 x 18 = 324 m2; x 0.75 obstacle-free = 243 m2
    g, a = R.usable_area_m2([box(0, 0, 20, 20)], setback_m=1.0, obstacle_free_frac=0.75)
    assert a[0] == pytest.approx(243.0)
    assert shapely.bounds(g[0]).tolist() == pytest.approx([1, 1, 19, 19])


def test_flat_square_roof_capacity_by_hand():
    b = _buildings([box(500000, 2560000, 500020, 2560020)])
    planes = R.roof_planes_from_buildings(b)
    out = R.layout_roofs(planes, **LAYOUT)
    row = out.iloc[0]
    # usable 243 m2 (above); module area = 243 * GCR 0.7 = 170.1 m2; x 0.2 kW/m2 = 34.02 kWp
    assert row["usable_area_m2"] == pytest.approx(243.0)
    assert row["module_area_m2"] == pytest.approx(170.1)
    assert row["capacity_kwp"] == pytest.approx(34.02)
    assert row["mount"] == "rack" and row["module_tilt_deg"] == 15.0 and row["excluded_reason"] == ""


def test_small_roof_excluded():
    # 5 x 5 roof: (5-2)^2 * 0.75 = 6.75 m2 < 10 m2 minimum (Gagnon et al. 2016)
    b = _buildings([box(0, 0, 5, 5)])
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **LAYOUT)
    assert out["excluded_reason"].iloc[0] == R.EXCLUDED["small"]
    assert out["capacity_kwp"].iloc[0] == 0.0


def test_east_west_rows_split_area():
    b = _buildings([box(0, 0, 20, 20)])
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **{**LAYOUT, "flat_layout": "east-west"})
    assert sorted(out["module_azimuth_deg"]) == [90.0, 270.0]
    # each half: 243 / 2 = 121.5 m2 x GCR 0.9 x 0.2 = 21.87 kWp
    assert out["capacity_kwp"].to_numpy() == pytest.approx([21.87, 21.87])


def test_existing_pv_reduces_new_capacity():
    b = _buildings([box(0, 0, 20, 20)], existing=10.0)
    out = R.layout_roofs(R.roof_planes_from_buildings(b), **LAYOUT,
                         existing_pv_kwp=b.set_index("building_id")["existing_pv_kwp"])
    # 34.02 kWp possible (see above) - 10 kWp already installed = 24.02 kWp
    assert out["capacity_kwp"].iloc[0] == pytest.approx(24.02)


@pytest.mark.parametrize("lat", [18.0, 23.13, 30.0, 40.0])
@pytest.mark.parametrize("tilt", [5.0, 15.0, 25.0, 35.0])
def test_solstice_gcr_matches_gb50797_formula(lat, tilt):
    # GB 50797: D/L = cos(b) + sin(b) * (0.707 tan(phi) + 0.4338) / (0.707 - 0.4338 tan(phi)),
    # the 9:00 solstice shadow; the geometric rule takes the worst hour of 9-15 h, which for
    # south rows is 9:00 / 15:00, so both agree (to the rounding of 0.707 and 0.4338: relative 1.5e-4 each, up to ~3e-4 combined at 40 N).
    b = np.radians(tilt)
    expected = 1.0 / (np.cos(b) + np.sin(b) * R.gb50797_row_pitch_factor(lat))
    assert R.solstice_row_gcr(lat, tilt) == pytest.approx(expected, rel=5e-4)


def test_solar_altitude_noon_solstice():
    # at solar noon the altitude is 90 - |lat - dec|: 90 - (23.13 + 23.45) = 43.42 deg, due south
    alt, az = R.solar_altitude_azimuth_deg(23.13, -23.45, 0.0)
    assert alt == pytest.approx(43.42)
    assert az == pytest.approx(180.0)


def test_gable_split_of_rectangle():
    # 30 m (E-W) x 10 m (N-S) house: the ridge runs E-W, halves face north (0) and south (180)
    b = _buildings([box(0, 0, 30, 10)], roof_type="pitched")
    planes = R.roof_planes_from_buildings(b, default_pitch_deg=25.0)
    assert len(planes) == 2
    assert sorted(np.round(planes["azimuth_deg"], 6) % 360) == pytest.approx([0.0, 180.0])
    assert planes.geometry.area.to_numpy() == pytest.approx([150.0, 150.0])
    out = R.layout_roofs(planes, **LAYOUT)
    north = out[np.isclose(out["azimuth_deg"] % 360, 0.0)].iloc[0]
    south = out[np.isclose(out["azimuth_deg"], 180.0)].iloc[0]
    assert north["excluded_reason"] == R.EXCLUDED["north"]
    # south half 30 x 5 m: setback -> 28 x 3 = 84 m2 x 0.75 = 63 m2 plan; slope = 63 / cos 25 deg
    slope = 63.0 / np.cos(np.radians(25.0))
    assert south["usable_area_m2"] == pytest.approx(slope)
    assert south["capacity_kwp"] == pytest.approx(slope * 0.98 * 0.2)
    assert south["mount"] == "flush" and south["module_tilt_deg"] == 25.0


def test_planes_layer_used_and_steep_excluded():
    b = _buildings([box(0, 0, 20, 20)], roof_type="pitched")
    planes_in = gpd.GeoDataFrame({"building_id": ["B0", "B0"], "tilt_deg": [30.0, 70.0],
                                  "azimuth_deg": [180.0, 90.0]},
                                 geometry=[box(0, 0, 20, 10), box(0, 10, 20, 20)], crs=CRS)
    out = R.layout_roofs(R.roof_planes_from_buildings(b, planes_in), **LAYOUT)
    assert set(out["plane_source"]) == {"roof-planes layer"}
    steep = out[out["tilt_deg"] == 70.0].iloc[0]
    assert steep["excluded_reason"] == R.EXCLUDED["too_steep"]
