"""OpenStreetMap: tag mapping, underground structures, building parts, .osm.pbf via pyosmium.

The real sample (../shared/data/tianhe_huacheng_osm_buildings.geojson, ODbL, (c) OpenStreetMap
contributors) is read where present; its facts are quoted from ../shared/data/PROVENANCE.md.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from conftest import SHARED_DATA
from pv_survey.inputs import read_buildings
from pv_survey.inputs.osm import osm_category, resolve_building_parts

TIANHE_EXTENT = (113.28, 23.08, 113.46, 23.27)  # survey.extent_lon_lat default (config.py)
OSM_SAMPLE = SHARED_DATA / "tianhe_huacheng_osm_buildings.geojson"


# ----------------------------------------------------------------------------- the real sample


@pytest.fixture(scope="module")
def sample():
    if not OSM_SAMPLE.is_file():
        pytest.skip(f"../shared/data not present ({OSM_SAMPLE} missing)")
    return read_buildings(OSM_SAMPLE, extent_lon_lat=TIANHE_EXTENT)


def _row(b, osm_id):
    r = b[b["building_id"] == osm_id]
    assert len(r) == 1, osm_id
    return r.iloc[0]


@pytest.mark.shared_data
def test_sample_row_accounting(sample):
    b, rep = sample
    # PROVENANCE.md: 52 features, 52 unique ids, 45 building=* and 7 building:part=*; the parts are
    # roof planes of their outlines (issue 16), not buildings: 45 buildings + 7 parts = 52 features
    assert len(b) == 45 and b["building_id"].is_unique
    assert rep.n_read == 45 and rep.n_parts_merged == 7 and len(rep.parts) == 7
    assert not set(rep.parts["part_id"]) & set(b["building_id"])
    assert rep.n_usable + rep.n_excluded == 45
    assert b.crs.to_epsg() == 4547


@pytest.mark.shared_data
def test_sample_ifc_tower(sample):
    b, _ = sample
    ifc = _row(b, "w184738716")  # 广州国际金融中心: building=commercial, height=440.2 (PROVENANCE.md)
    assert ifc["name"].startswith("广州国际金融中心")
    assert ifc["category"] == "commercial"
    assert ifc["height_m"] == pytest.approx(440.2) and ifc["height_source"] == "attribute"
    assert ifc["year_built"] == 2010  # start_date=2010 in the tags
    assert ifc["excluded_reason"] == ""


@pytest.mark.shared_data
def test_sample_heights_come_from_tags(sample):
    b, _ = sample
    # PROVENANCE.md lists the six features with a height tag
    tagged = {"w184738716": 440.2, "w513786152": 296.5, "w313905695": 100.0, "w316535696": 78.0,
              "w316535682": 70.0, "w299684381": 40.0}
    for osm_id, h in tagged.items():
        r = _row(b, osm_id)
        assert (r["height_m"], r["height_source"]) == (pytest.approx(h), "attribute"), osm_id
    # building:levels without height: 建滔广场 w519672265 has 26 levels, commercial: 26 x 4.0 m
    r = _row(b, "w519672265")
    assert (r["height_m"], r["height_source"]) == (pytest.approx(104.0), "levels")
    # apartments with 32 levels: 32 x 3.0 m (residential storey)
    r = _row(b, "w717926111")
    assert (r["category"], r["height_m"]) == ("residential", pytest.approx(96.0))


@pytest.mark.shared_data
def test_sample_schools_and_government(sample):
    b, _ = sample
    for osm_id in ("w313905697", "w1348002790"):  # building=school (PROVENANCE.md: 2 schools)
        assert _row(b, osm_id)["category"] == "school"
    customs = _row(b, "w313905695")  # 广州市海关: office=government, government=customs
    assert customs["category"] == "government"
    assert customs["address"] == "广州市 花城大道 83"
    # 广州市政务服务中心 (municipal government service centre): amenity=public_building + building=office;
    # the name keyword 政务 refines 'public' to 'government'
    centre = _row(b, "w299684381")
    assert centre["category"] == "government"


@pytest.mark.shared_data
def test_sample_metro_structures_do_not_become_roofs(sample):
    b, rep = sample
    # 珠江新城 metro station structures: layer < 0 and building:levels:underground only
    for osm_id in ("w503810995", "w503814640", "w995559493"):
        assert _row(b, osm_id)["excluded_reason"] == "underground structure"
    assert rep.excluded["underground structure"] == 3
    # 高德置地广场（春）: layer=-1 but 5 levels above ground -> a real roof, kept
    gt = _row(b, "w299812757")
    assert gt["excluded_reason"] == ""


@pytest.mark.shared_data
def test_sample_building_parts_not_double_counted(sample):
    b, rep = sample
    parts = ["w299812754", "w299812755", "w312888483", "w313905698", "w547067025", "w586026851", "w586026852"]
    assert sorted(rep.parts["part_id"]) == sorted(parts) and not set(parts) & set(b["building_id"])
    assert rep.n_parts_merged == 7
    assert not b["excluded_reason"].str.startswith("building part").any()  # parts are not exclusions
    # 高德置地广场B座 (w299812755, 15 levels, commercial: 15 x 4.0 m = 60 m) lies inside 高德置地广场（春）
    # (5 levels = 20 m): the outline keeps its own 20 m, the part its 60 m as a roof of its own
    gt = _row(b, "w299812757")
    assert gt["height_m"] == pytest.approx(20.0) and gt["height_source"] == "levels"
    pb = rep.parts.set_index("part_id").loc["w299812755"]
    assert pb["building_id"] == "w299812757" and pb["height_m"] == pytest.approx(60.0)
    # parts stating no height stand as high as their outline (w299812754 in the same outline: 20 m)
    assert rep.parts.set_index("part_id").loc["w299812754", "height_m"] == pytest.approx(20.0)
    # no usable footprint overlaps another usable one by more than a sliver: parts are gone
    usable = b[b["excluded_reason"] == ""]
    inter = gpd.overlay(usable[["geometry"]].reset_index(), usable[["geometry"]].reset_index(),
                        how="intersection", keep_geom_type=True)
    inter = inter[inter["index_1"] < inter["index_2"]]
    assert inter.area.sum() < 0.05 * usable.area.sum()


@pytest.mark.shared_data
def test_sample_footprint_area_matches_provenance(sample):
    b, _ = sample
    # PROVENANCE.md: total footprint area of the building=* features ~123,300 m2 (geodesic, pyproj).
    # GK scale error ~70 km from CM 114E is ~1e-4, so the projected areas agree within 0.5 %.
    buildings = b
    assert len(buildings) == 45
    assert buildings.area.sum() == pytest.approx(123_300, rel=0.005)


# ----------------------------------------------------------------------------- tag rules


@pytest.mark.parametrize("tags, want", [
    ({"building": "school"}, "school"),
    ({"building": "yes", "amenity": "kindergarten"}, "school"),
    ({"building": "yes", "amenity": "hospital"}, "hospital"),
    ({"building": "yes", "healthcare": "clinic"}, "hospital"),
    ({"building": "yes", "office": "government"}, "government"),
    ({"building": "yes", "government": "tax"}, "government"),
    ({"building": "office", "amenity": "public_building"}, "public"),
    ({"building": "yes", "office": "company"}, "commercial"),
    ({"building": "retail", "shop": "mall"}, "commercial"),
    ({"building": "warehouse"}, "industrial"),
    ({"building": "yes", "man_made": "works"}, "industrial"),
    ({"building": "apartments"}, "residential"),
    ({"building": "yes"}, "other"),
    ({"building": "roof"}, "other"),
    ({"building": "yes", "name": "天河区人民政府"}, "government"),
    ({"building": "yes", "name": "广州市第一人民医院"}, "hospital"),
    ({"building": "yes", "name": "华阳小学"}, "school"),
    ({"building": "commercial", "name": "教育大厦"}, "commercial"),  # name hints only refine generic tags
    ({"building:part": "office"}, "commercial"),
])
def test_osm_category(tags, want):
    assert osm_category(tags)[0] == want


def _lonlat_square(x, y, half):
    """A square given in EPSG:4547 metres, as WGS84 lon/lat."""
    tr = pyproj.Transformer.from_crs(4547, 4326, always_xy=True)
    xs = np.array([x - half, x + half, x + half, x - half])
    ys = np.array([y - half, y - half, y + half, y + half])
    lon, lat = tr.transform(xs, ys)
    return shapely.Polygon(np.column_stack([lon, lat]))


def test_underground_rules_and_overpass_ids(tmp_path):
    X, Y = 430000.0, 2557000.0
    rows = [
        ({"@id": "way/1", "building": "yes", "location": "underground"}, "underground structure"),
        ({"@id": "way/2", "building": "yes", "layer": "-1"}, "underground structure"),
        ({"@id": "way/3", "building": "yes", "building:levels:underground": "2"}, "underground structure"),
        ({"@id": "way/4", "building": "yes", "layer": "-1", "building:levels": "3"}, ""),
        ({"@id": "relation/5", "building": "yes", "layer": "1"}, ""),
        ({"@id": "way/6", "building": "no", "amenity": "parking"}, "not a building (no building tag)"),
    ]
    frame = gpd.GeoDataFrame([r[0] for r in rows],
                             geometry=[_lonlat_square(X + 40 * i, Y, 10) for i in range(len(rows))], crs=4326)
    p = tmp_path / "overpass.geojson"
    frame.to_file(p)
    b, rep = read_buildings(p, extent_lon_lat=TIANHE_EXTENT)
    assert b["building_id"].tolist() == ["w1", "w2", "w3", "w4", "r5", "w6"]
    assert b["excluded_reason"].tolist() == [r[1] for r in rows]


def test_resolve_building_parts_rules():
    outline = shapely.box(0, 0, 100, 100)
    inside = shapely.box(10, 10, 30, 30)  # wholly inside
    straddle = shapely.box(90, 0, 110, 20)  # half inside (50 %): belongs to the outline
    mostly_out = shapely.box(95, 0, 125, 20)  # 5/30 inside: kept on its own
    alone = shapely.box(300, 300, 320, 320)  # no outline
    geoms = np.array([outline, inside, straddle, mostly_out, alone], dtype=object)
    is_part = np.array([False, True, True, True, True])
    usable = np.ones(5, dtype=bool)
    height = np.array([24.0, 60.0, 30.0, 99.0, 12.0])
    src = np.array(["category_default", "levels", "attribute", "attribute", "levels"], dtype=object)
    in_outline, outline_of, h, s, n_raised = resolve_building_parts(
        geoms, np.array(["o", "p1", "p2", "p3", "p4"], dtype=object), is_part, usable, height, src)
    assert in_outline.tolist() == [False, True, True, False, False]
    assert outline_of.tolist() == ["", "o", "o", "", ""]
    # the outline had only a default height: it takes the tallest stated part height, 60 m from levels
    assert (h[0], s[0]) == (60.0, "levels") and n_raised == 1
    # an outline with its own greater stated height keeps it
    height[0], src[0] = 80.0, "attribute"
    _, _, h, s, n_raised = resolve_building_parts(geoms, np.array(list("abcde"), dtype=object), is_part, usable,
                                                  height, src)
    assert (h[0], s[0], n_raised) == (80.0, "attribute", 0)


# ----------------------------------------------------------------------------- .osm.pbf


def test_read_osm_pbf(tmp_path):
    osmium = pytest.importorskip("osmium", reason="pyosmium (PyPI 'osmium') is a dependency")
    from osmium.osm.mutable import Node, Relation, Way

    tr = pyproj.Transformer.from_crs(4547, 4326, always_xy=True)
    X, Y = 430000.0, 2557000.0
    nodes = {}

    def node(x, y):
        nid = len(nodes) + 1
        nodes[nid] = tr.transform(X + x, Y + y)
        return nid

    def ring(x0, y0, x1, y1):
        ids = [node(x0, y0), node(x1, y0), node(x1, y1), node(x0, y1)]
        return ids + ids[:1]

    school = ring(0, 0, 60, 40)  # 60 x 40 m = 2400 m2
    part = ring(10, 10, 30, 30)  # a building:part inside the school
    outer = ring(100, 0, 200, 100)  # hospital multipolygon 100 x 100 m with a 40 x 40 m courtyard
    inner = ring(130, 30, 170, 70)
    metro = ring(300, 0, 340, 40)
    unclosed = [node(400, 0), node(420, 0), node(420, 20)]
    path = tmp_path / "tianhe.osm.pbf"
    w = osmium.SimpleWriter(str(path))
    for nid, (lon, lat) in nodes.items():
        w.add_node(Node(id=nid, location=(lon, lat), version=1, tags={}))
    w.add_way(Way(id=10, nodes=school, version=1,
                  tags={"building": "school", "name": "华阳小学", "height": "18", "roof:shape": "flat"}))
    w.add_way(Way(id=11, nodes=part, version=1, tags={"building:part": "yes", "building:levels": "8"}))
    w.add_way(Way(id=12, nodes=outer, version=1, tags={}))
    w.add_way(Way(id=13, nodes=inner, version=1, tags={}))
    w.add_way(Way(id=14, nodes=metro, version=1, tags={"building": "train_station", "layer": "-2"}))
    w.add_way(Way(id=15, nodes=unclosed, version=1, tags={"building": "yes"}))
    w.add_way(Way(id=16, nodes=ring(500, 0, 510, 10), version=1, tags={"highway": "footway"}))
    w.add_relation(Relation(id=20, members=[("w", 12, "outer"), ("w", 13, "inner")], version=1,
                            tags={"type": "multipolygon", "building": "hospital", "name": "天河医院",
                                  "building:levels": "6", "roof:shape": "hipped"}))
    w.close()

    b, rep = read_buildings(path, extent_lon_lat=TIANHE_EXTENT)
    assert rep.driver == "OSM (pyosmium)"
    by_id = b.set_index("building_id")
    assert sorted(by_id.index) == ["r20", "w10", "w14", "w15"]  # the footway is no building, w11 a part
    s = by_id.loc["w10"]
    assert (s["category"], s["name"], s["roof_type"]) == ("school", "华阳小学", "flat")
    # the school keeps its 18 m height tag; its part (8 levels x 3.5 m 'other' storey = 28 m) is a roof of it
    assert (s["height_m"], s["height_source"]) == (pytest.approx(18.0), "attribute")
    part = rep.parts.set_index("part_id").loc["w11"]
    assert (part["building_id"], part["height_m"]) == ("w10", pytest.approx(28.0))
    # OSM stores lon/lat as 1e-7 deg integers (~1 cm), hence rel=1e-4 on the areas
    assert s.geometry.area == pytest.approx(2400.0, rel=1e-4)
    h = by_id.loc["r20"]
    # 6 levels x 4.2 m (hospital storey); the courtyard is a hole: 100^2 - 40^2 = 8400 m2
    assert (h["category"], h["height_m"], h["roof_type"]) == ("hospital", pytest.approx(25.2), "pitched")
    assert h.geometry.area == pytest.approx(8400.0, rel=1e-4)
    assert by_id.loc["w14", "excluded_reason"] == "underground structure"
    assert by_id.loc["w15", "excluded_reason"] == "no geometry"  # unclosed way: reported, not lost


# ----------------------------------------------------------------------------- issue 16: roof tags, heritage, names


def test_osm_roof_tags_heritage_and_former_names():
    import pandas as pd

    from pv_survey.inputs.osm import osm_attributes
    df = pd.DataFrame({
        "id": ["w1", "w2", "w3", "w4"],
        "building": ["yes", "yes", "church", "yes"],
        "name": ["原广州市第一人民医院", "天河医院", "石室", "某楼"],
        "roof:shape": ["skillion", "hipped", "dome", "round"],
        "roof:direction": ["NNE", "", "", ""],
        "roof:angle": ["", "30", "", ""],
        "roof:height": ["", "", "8 m", ""],
        "heritage": ["", "", "2", ""],
        "historic": ["building", "", "", ""],
        "height": ["", "", "", "tall"],
    })
    a, stats = osm_attributes(df)
    a = a.set_index("building_id")
    # roof:direction NNE = 22.5 deg (16-point rose); roof:angle / roof:height parsed as numbers
    assert a.loc["w1", "roof_shape"] == "skillion" and a.loc["w1", "roof_direction_deg"] == 22.5
    assert a.loc["w2", "roof_angle_deg"] == 30.0 and a.loc["w3", "roof_height_m"] == 8.0
    # heritage=2 and historic=building mark protected buildings
    assert a.loc["w1", "heritage"] == "historic=building" and a.loc["w3", "heritage"] == "heritage=2"
    assert a.loc["w2", "heritage"] == ""
    # a former-use name (原...) sets no category; 医院 in a current name does
    assert a.loc["w1", "category"] == "other" and a.loc["w2", "category"] == "hospital"
    assert stats.n_category_from_name == 1
    assert a.loc["w4", "attribute_flags"] == "height not a number: 'tall'"
