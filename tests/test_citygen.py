"""Synthetic city generator: exact size, no overlaps, a Guangzhou-like mix, deterministic."""

from __future__ import annotations

import numpy as np
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from pv_survey.citygen import (BLOCK_TYPES, DEFAULT_ORIGIN, METRIC_CRS, expected_category_shares, generate_city,
                               write_city)
from pv_survey.errors import ConfigError
from pv_survey.pipeline import DEFAULT_BUILDINGS

SCHEMA = ["building_id", "name", "category", "height_m", "height_source", "roof_type", "year_built",
          "existing_pv_kwp", "owner", "address", "excluded_reason", "geometry"]
CATEGORIES = {"government", "hospital", "school", "public", "industrial", "commercial", "residential", "other"}


@pytest.fixture(scope="module")
def city():
    return generate_city(200_000, seed=7)


@pytest.mark.parametrize("n", [1, 37, 5_000])
def test_exact_count_and_schema(n):
    c = generate_city(n)
    assert len(c) == n
    assert list(c.columns) == SCHEMA
    assert c.crs.to_epsg() == 4547 and METRIC_CRS == "EPSG:4547"
    assert c["building_id"].is_unique
    assert set(c["category"]) <= CATEGORIES
    assert set(c["roof_type"]) <= {"flat", "pitched"}
    assert (c["excluded_reason"] == "").all() and (c["height_source"] == "attribute").all()
    assert str(c["year_built"].dtype) == "Int64"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_size(bad):
    with pytest.raises(ConfigError, match="n_buildings"):
        generate_city(bad)


def test_no_overlaps(city):
    g = city.geometry.to_numpy()
    assert shapely.is_valid(g).all()
    sample = np.random.default_rng(0).choice(len(g), 20_000, replace=False)
    tree = shapely.STRtree(g)
    # every building keeps 0.9 m clear of its slot's edges (the smallest gap_m of the block types),
    # so two footprints are at least 1.8 m apart
    min_gap = 2 * min(bt.gap_m for bt in BLOCK_TYPES.values())
    src, hit = tree.query(g[sample], predicate="dwithin", distance=min_gap - 0.01)
    assert np.array_equal(sample[src], hit)  # each sampled building is near nothing but itself


def test_mix_follows_its_tables_and_the_demo_district(city):
    shares = city["category"].value_counts(normalize=True)
    expected = expected_category_shares()  # analytic mean of the zone and block tables
    assert sum(expected.values()) == pytest.approx(1.0)
    for cat, share in expected.items():
        assert shares.get(cat, 0.0) == pytest.approx(share, abs=0.03), cat
    # independent reference: the embedded demo district (its own generator, data/), Tianhe-like
    demo = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    demo_shares = demo["category"].value_counts(normalize=True)
    for cat in CATEGORIES:
        assert shares.get(cat, 0.0) == pytest.approx(demo_shares.get(cat, 0.0), abs=0.04), cat
    pitched = (city["roof_type"] == "pitched").mean()
    assert pitched == pytest.approx((demo["roof_type"] == "pitched").mean(), abs=0.03)
    assert city["height_m"].median() == pytest.approx(demo["height_m"].median(), rel=0.25)


def test_density_like_the_demo_zones(city):
    # the demo's 18 zones hold 4,834 buildings on 18.5 km2 of zone rectangles (pv_survey.demo._ZONES:
    # sum of width x depth), i.e. 261 per km2; the city's street grid should be of that order
    b = city.total_bounds
    per_km2 = len(city) / ((b[2] - b[0]) * (b[3] - b[1]) / 1e6)
    assert 150 < per_km2 < 450


def test_deterministic(tmp_path):
    a, b = generate_city(3_000, seed=11), generate_city(3_000, seed=11)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=0).all()
    c = generate_city(3_000, seed=12)
    assert not np.array_equal(a["height_m"].to_numpy(), c["height_m"].to_numpy())


def test_origin_shifts_the_city():
    a = generate_city(500)
    b = generate_city(500, origin=(500_000.0, 2_600_000.0))
    da = np.array(a.total_bounds[:2])
    db = np.array(b.total_bounds[:2])
    # a rigid translation by the difference of the two origins
    assert db - da == pytest.approx(np.array([500_000.0, 2_600_000.0]) - np.array(DEFAULT_ORIGIN), abs=1e-3)


def test_written_city_reads_back_through_the_inputs_stage(tmp_path):
    from pv_survey.inputs import read_buildings

    p = write_city(tmp_path / "city.parquet", 2_000)
    b, report = read_buildings(p, target_crs="EPSG:4547")
    assert len(b) == 2_000 and report.n_usable == 2_000
    assert set(b["category"]) <= CATEGORIES
    assert b["height_source"].eq("attribute").all()
