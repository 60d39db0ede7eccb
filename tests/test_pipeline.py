"""End to end on a small subset of the embedded demo district."""

from pathlib import Path

import numpy as np
import geopandas as gpd
import pyogrio
import pytest

from pv_survey.config import Config
from pv_survey.pipeline import DEFAULT_BUILDINGS, DEFAULT_ROOFS, run_survey


@pytest.fixture(scope="module")
def subset_files(tmp_path_factory):
    """~400 demo buildings around the CBD-residential edge, written as a GeoPackage."""
    d = tmp_path_factory.mktemp("subset")
    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    r = gpd.read_file(DEFAULT_ROOFS, layer="roof_planes")
    # a window that holds public, commercial and residential buildings: the ~400 buildings
    # nearest to the district's median building plus every public institution (so the plan
    # has its priority classes to rank)
    xy = b.to_crs("EPSG:4547").geometry.centroid
    cx, cy = np.median(xy.x), np.median(xy.y)
    dist = np.hypot(xy.x - cx, xy.y - cy)
    near = dist <= np.sort(dist.to_numpy())[399]
    public = b["category"].isin(["government", "hospital", "school"]) & (dist < 3000)
    sub = b[near | public]
    sub.to_file(d / "b.gpkg", layer="buildings")
    r[r["building_id"].isin(sub["building_id"])].to_file(d / "r.gpkg", layer="roof_planes")
    return d / "b.gpkg", d / "r.gpkg", len(sub)


@pytest.fixture(scope="module")
def result(subset_files, tmp_path_factory):
    b, r, _ = subset_files
    out = tmp_path_factory.mktemp("out") / "run"
    cfg = Config().replace(inputs={"buildings": str(b), "roofs": str(r)}, survey={"name": "subset"})
    return run_survey(cfg, out_dir=out), out


def test_four_layers_written(result):
    res, out = result
    layers = {name for name, _ in pyogrio.list_layers(out / "survey.gpkg")}
    assert {"buildings", "roofs", "plan", "targets"} <= layers
    for f in ("summary.md", "manifest.json"):
        assert (out / f).is_file()
    assert list(out.glob("shortlist*.csv"))


def test_row_accounting(result, subset_files):
    res, out = result
    n_in = subset_files[2]
    b = pyogrio.read_dataframe(out / "survey.gpkg", layer="buildings")
    assert len(b) == n_in == res.summary["buildings_in"]
    planned = b["capacity_kwp"] > 0
    excluded = b["excluded_reason"].fillna("") != ""
    # every building is either a PV site or excluded with a reason, never both, never neither
    assert (planned ^ excluded).all()
    assert planned.sum() + excluded.sum() == n_in
    assert sum(res.summary["excluded_by_reason"].values()) == excluded.sum()


def test_targets_table_agrees_with_plan(result):
    res, out = result
    t = pyogrio.read_dataframe(out / "survey.gpkg", layer="targets")
    plan = pyogrio.read_dataframe(out / "survey.gpkg", layer="plan")
    # the district's three targets: 3 MW by 2025, 6 MW by 2030, 50% coverage of new public and
    # factory buildings by 2025 (Tianhe plan items 1 and 14)
    assert len(t) == 3 and sorted(t["kind"]) == ["capacity", "capacity", "coverage"]
    cap = t[t["kind"] == "capacity"]
    assert sorted(cap["required_kwp"]) == [3000.0, 6000.0]
    existing = float(res.buildings["existing_pv_kwp"].sum())
    for _, row in cap.iterrows():
        # achieved = existing PV + the capacity of every site built by that target's due year
        assert row["achieved_kwp"] >= existing - 1e-6
        assert (row["met"] == "yes") == (row["achieved_kwp"] >= row["required_kwp"] - 1e-6)
    assert set(t["met"]) <= {"yes", "no", "n/a"}
    assert plan["capacity_kwp"].sum() == pytest.approx(res.roofs.loc[res.roofs["excluded_reason"] == "",
                                                                      "capacity_kwp"].sum())
    # public institutions are ranked before commercial and residential sites
    order = plan.sort_values("rank")["category"].tolist()
    first_private = next(i for i, c in enumerate(order) if c in ("commercial", "residential"))
    assert all(c not in ("government", "hospital", "school") for c in order[first_private:])


def test_energy_plausible(result):
    res, _ = result
    kept = res.roofs[res.roofs["excluded_reason"] == ""]
    sy = kept["specific_yield_kwh_kwp"]
    # Guangzhou: PVGIS-ERA5 2019 gives 1197 kWh/kWp at the optimum (../shared/REFERENCES.md);
    # roofs with other orientations and shading lie below, none far above
    assert 500 < sy.median() < 1300
    assert sy.max() < 1400


def test_dsm_file_reproduces_footprint_dsm(subset_files, result, tmp_path):
    """A DSM GeoTIFF holding the same surface as the rasterised footprints gives the same roofs.

    Independent expectation: the run without --dsm rasterises footprints x heights on a 1 m grid
    snapped to whole metres; writing that very surface to a GeoTIFF (plus a DEM of zeros, or
    no DEM: then the DSM heights are absolute and each roof point stands on the DSM) must give
    the same horizons and hence the same energy for every kept roof.
    """
    import rasterio
    from pv_survey import shading

    res, _ = result
    b, r, _n = subset_files
    bld = gpd.read_file(b).to_crs("EPSG:4547")
    minx, miny, maxx, maxy = bld.total_bounds
    bounds = (np.floor(minx) - 400, np.floor(miny) - 400, np.ceil(maxx) + 400, np.ceil(maxy) + 400)
    dsm = shading.dsm_from_buildings(bld.geometry.to_numpy(), bld["height_m"].to_numpy(float),
                                     resolution_m=1.0, bounds=bounds, crs="EPSG:4547")
    h, w = dsm.height_m.shape
    prof = dict(driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:4547",
                transform=dsm.transform, nodata=-9999.0)
    with rasterio.open(tmp_path / "dsm.tif", "w", **prof) as dst:
        dst.write(dsm.height_m, 1)
    with rasterio.open(tmp_path / "dem.tif", "w", **prof) as dst:
        dst.write(np.zeros_like(dsm.height_m), 1)

    base = res.roofs.set_index("roof_id")
    for extra in ({"dem": str(tmp_path / "dem.tif")}, {}):
        cfg = Config().replace(inputs={"buildings": str(b), "roofs": str(r), "dsm": str(tmp_path / "dsm.tif"),
                                       **extra})
        other = run_survey(cfg, write=False).roofs.set_index("roof_id")
        # the module count differs (with a DSM file the layout cuts the DSM's roof-top obstacles instead of
        # thinning by roofs.obstacle_free_frac; issue 19), the horizons and so the yield per kWp do not
        both = (base["excluded_reason"] == "") & (other.reindex(base.index)["excluded_reason"] == "")
        assert both.sum() > 0.9 * (base["excluded_reason"] == "").sum()
        np.testing.assert_allclose(other.loc[both[both].index, "specific_yield_kwh_kwp"].to_numpy(),
                                   base.loc[both, "specific_yield_kwh_kwp"].to_numpy(), rtol=1e-6)


def test_resources_facades_and_carports(subset_files, tmp_path):
    """--resources roofs,facades,carports adds two styled layers and separate totals (issue 10)."""
    import sqlite3

    b, r, n = subset_files
    cfg = Config().replace(inputs={"buildings": str(b), "roofs": str(r),
                                   "parking": str(DEFAULT_BUILDINGS.parent / "tianhe_demo_parking.gpkg")},
                           resources={"kinds": ["roofs", "facades", "carports"]})
    res = run_survey(cfg, out_dir=tmp_path / "o")
    gpkg = tmp_path / "o" / "survey.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers["facades"] == "LineString" and "carports" in layers
    fac = pyogrio.read_dataframe(gpkg, layer="facades")
    kept = fac["excluded_reason"].fillna("") == ""
    tot = res.summary["resources"]["facades"]
    assert tot["capacity_kwp"] == pytest.approx(fac.loc[kept, "capacity_kwp"].sum())
    # the rooftop targets do not count facades: achieved = existing + planned roofs only
    t = res.plan.targets
    t = t[t["kind"] == "capacity"]
    assert len(t) and (t["achieved_kwp"] <= res.buildings["existing_pv_kwp"].sum()
            + res.plan.plan["capacity_kwp"].sum() + 1e-6).all()
    with sqlite3.connect(gpkg) as con:
        styled = dict(con.execute("select f_table_name, useAsDefault from layer_styles").fetchall())
        qml = dict(con.execute("select f_table_name, styleQML from layer_styles").fetchall())
    assert styled.get("facades") == 1 and styled.get("carports") == 1
    assert 'type="line"' in qml["facades"] and "graduatedSymbol" in qml["carports"]


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OSM_SAMPLE = SHARED / "tianhe_huacheng_osm_buildings.geojson"


@pytest.mark.shared_data
@pytest.mark.skipif(not OSM_SAMPLE.is_file(), reason=f"{OSM_SAMPLE} not present (../shared/data beside the repo)")
def test_real_osm_sample_end_to_end(tmp_path):
    """`pv-survey run --buildings <the real Huacheng OSM export>` (issue 5, item 6).

    Expectations from the OSM tags themselves (../shared/data/PROVENANCE.md, file 3):
    the IFC tower w184738716 is building=commercial with height=440.2; w313905697 and
    w1348002790 are building=school; w313905695 (广州市海关) has office=government; the metro
    structures 珠江新城 (w503810995, w503814640, w995559493) have layer < 0 and no levels.
    """
    import subprocess
    import sys

    out = tmp_path / "osm"
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "cli.py"), "run",
                           "--buildings", str(OSM_SAMPLE), "--out", str(out)],
                          capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    b = pyogrio.read_dataframe(out / "survey.gpkg", layer="buildings").set_index("building_id")
    assert len(b) == 45  # nothing lost: 45 buildings; the 7 building:part pieces are roof planes (issue 16)
    ifc = b.loc["w184738716"]
    assert ifc["category"] == "commercial" and ifc["height_m"] == pytest.approx(440.2)
    assert ifc["name"] == "广州国际金融中心(广州西塔)"
    assert set(b.loc[["w313905697", "w1348002790"], "category"]) == {"school"}
    assert b.loc["w313905695", "category"] == "government"
    roofs = pyogrio.read_dataframe(out / "survey.gpkg", layer="roofs")
    for metro in ("w503810995", "w503814640", "w995559493"):
        assert b.loc[metro, "excluded_reason"] != ""
        assert metro not in set(roofs["building_id"])
    # Chinese names survive into the CSV shortlists (UTF-8 with BOM)
    text = (out / "shortlist_reserve.csv").read_text(encoding="utf-8-sig") + \
        "".join(p.read_text(encoding="utf-8-sig") for p in out.glob("shortlist_2030.csv"))
    assert any(ord(ch) > 0x4E00 for ch in text)


def test_run_writes_postgis(subset_files, tmp_path, postgis_url):
    """`pv-survey run --postgis URL` writes the result layers into a real PostGIS schema (issue 7, item 4)."""
    import psycopg
    from pv_survey.cli import main

    b, r, n = subset_files
    main(["run", "--buildings", str(b), "--roofs", str(r), "--out", str(tmp_path / "o"),
          "--postgis", postgis_url])  # returns normally on success (errors exit with code 2)
    gpkg_plan = pyogrio.read_dataframe(tmp_path / "o" / "survey.gpkg", layer="plan")
    with psycopg.connect(postgis_url) as con:
        n_b = con.execute("select count(*) from pv_survey.buildings").fetchone()[0]
        cap = con.execute("select sum(capacity_kwp) from pv_survey.plan").fetchone()[0]
        srid = con.execute("select srid from geometry_columns where f_table_schema = 'pv_survey' "
                           "and f_table_name = 'buildings'").fetchone()[0]
    assert n_b == n
    assert cap == pytest.approx(gpkg_plan["capacity_kwp"].sum())
    assert srid == 4547


def test_run_with_pins(subset_files, result, tmp_path):
    """`run --pins FILE`: a pinned-in residential site is built first, a pinned-out site never (issue 6)."""
    from pv_survey.cli import main

    res, _ = result
    plan = res.plan.plan
    first = plan.sort_values("rank").iloc[0]["building_id"]
    resid = plan[plan["category"] == "residential"].sort_values("rank").iloc[-1]["building_id"]
    pins = tmp_path / "pins.csv"
    pins.write_text(f"building_id,pin\n{resid},in\n{first},out\n", encoding="utf-8")
    b, r, _n = subset_files
    main(["-q", "run", "--buildings", str(b), "--roofs", str(r), "--pins", str(pins), "--out", str(tmp_path / "o")])
    p = pyogrio.read_dataframe(tmp_path / "o" / "survey.gpkg", layer="plan").set_index("building_id")
    assert p.loc[resid, "pinned"] == "in" and p.loc[resid, "rank"] == 1
    assert p.loc[resid, "phase"] not in ("reserve", "pinned out")
    assert p.loc[first, "pinned"] == "out" and p.loc[first, "phase"] == "pinned out"


def test_obstacle_polygons_shade_the_roofs_next_to_them(subset_files, result, tmp_path):
    """`inputs.obstacles` (trees as polygons with height_m) enter the DSM (issue 4, item 1).

    A 60 m tall, 40 m wide block of "trees" placed 10 m south of one flat roof must cost that roof
    energy; roofs more than the 300 m search radius away cannot see it and must not change.
    """
    from shapely.geometry import box

    res, _ = result
    b, r, _n = subset_files
    roofs = res.roofs[res.roofs["excluded_reason"] == ""]
    target = roofs[roofs["roof_type"] == "flat"].sort_values("area_m2").iloc[len(roofs) // 4]
    minx, miny, maxx, maxy = target.geometry.bounds
    cx = (minx + maxx) / 2
    tree = box(cx - 20, miny - 14, cx + 20, miny - 10)
    gpd.GeoDataFrame({"height_m": [60.0]}, geometry=[tree], crs="EPSG:4547").to_file(tmp_path / "trees.gpkg")
    cfg = Config().replace(inputs={"buildings": str(b), "roofs": str(r), "obstacles": str(tmp_path / "trees.gpkg")})
    other = run_survey(cfg, write=False).roofs.set_index("roof_id")
    assert other.loc[target["roof_id"], "annual_kwh"] < 0.95 * target["annual_kwh"]
    base = res.roofs.set_index("roof_id")
    centroids = base.loc[roofs["roof_id"]].geometry.centroid
    far = roofs["roof_id"][(centroids.distance(tree).to_numpy() > 400)].to_numpy()
    assert len(far) > 10
    np.testing.assert_allclose(other.loc[far, "annual_kwh"].to_numpy(), base.loc[far, "annual_kwh"].to_numpy(),
                               rtol=1e-9)


def test_modules_agree_with_roofs_and_plan(result):
    """Issue 19: module counts x the module's Wp give the roofs' and the plan's capacity, and each
    site's capacity-yield curve ends at the site's capacity and energy."""
    from pv_survey.presets import DEFAULT_MODULE, module_preset

    res, out = result
    kwp = module_preset(DEFAULT_MODULE).kwp
    gpkg = out / "survey.gpkg"
    mods = gpd.read_file(gpkg, layer="modules")          # one polygon per row segment (the default)
    roofs = gpd.read_file(gpkg, layer="roofs")
    kept = roofs[roofs["excluded_reason"].fillna("") == ""]
    np.testing.assert_allclose(kept["capacity_kwp"], kept["n_modules"] * kwp, rtol=1e-12)
    assert int(mods["n_modules"].sum()) == int(kept["n_modules"].sum())
    by_roof = mods.groupby("roof_id")["n_modules"].sum()
    assert by_roof.reindex(kept["roof_id"]).tolist() == kept["n_modules"].tolist()
    plan = res.plan.plan.set_index("building_id")["capacity_kwp"]
    per_site = mods.groupby("building_id")["n_modules"].sum() * kwp
    np.testing.assert_allclose(per_site.reindex(plan.index).to_numpy(), plan.to_numpy(), rtol=1e-9)
    n_site = res.plan.plan.set_index("building_id")["n_modules"]
    assert mods.groupby("building_id")["n_modules"].sum().reindex(n_site.index).tolist() == n_site.tolist()
    curves = gpd.read_file(gpkg, layer="site_curves")
    end = curves.groupby("building_id").last()
    np.testing.assert_allclose(end["cum_kwp"].reindex(plan.index).to_numpy(), plan.to_numpy(), rtol=1e-9)
    kwh = mods.groupby("building_id")["annual_kwh"].sum()
    np.testing.assert_allclose(end["cum_kwh"].to_numpy(), kwh.reindex(end.index).to_numpy(), rtol=1e-9)
    # each segment's own yield is within the range its roof's sample points span (same engine, same DSM)
    r = res.roofs.set_index("roof_id")
    ratio = mods["specific_yield_kwh_kwp"].to_numpy() / r.loc[mods["roof_id"], "specific_yield_kwh_kwp"].to_numpy()
    assert 0.7 < np.median(ratio) < 1.3


def test_site_fill_best_builds_only_modules_above_the_threshold(subset_files, result, tmp_path):
    """plan.site_fill = 'best': each site's capacity and CAPEX shrink to its modules whose own yield
    reaches the threshold; one polygon per module with roofs.modules_layer = 'modules'."""
    from pv_survey.presets import DEFAULT_MODULE, module_preset

    res_all, _ = result
    b, r, _ = subset_files
    threshold = float(np.percentile(res_all.layers["modules"]["specific_yield_kwh_kwp"], 30))
    cfg = Config().replace(inputs={"buildings": str(b), "roofs": str(r)}, survey={"name": "subset-best"},
                           plan={"site_fill": "best", "min_module_yield_kwh_kwp": threshold},
                           roofs={"modules_layer": "modules"})
    best = run_survey(cfg, write=False)
    mods = best.layers["modules"]
    kwp = module_preset(DEFAULT_MODULE).kwp
    assert "module_id" in mods and len(mods) == int(res_all.roofs["n_modules"].where(
        res_all.roofs["excluded_reason"] == "", 0).sum())           # every placed module, built or not
    built = mods[mods["built"]]
    assert (built["specific_yield_kwh_kwp"] >= threshold).all()
    assert (mods.loc[~mods["built"], "specific_yield_kwh_kwp"] < threshold).all()
    plan = best.plan.plan.set_index("building_id")
    np.testing.assert_allclose(plan["capacity_kwp"].sum(), len(built) * kwp, rtol=1e-9)
    assert plan["capacity_kwp"].sum() < res_all.plan.plan["capacity_kwp"].sum()
    assert plan["capex_cny"].sum() < res_all.plan.plan["capex_cny"].sum()


def test_fewer_collections_sets_and_restores_the_collector_thresholds():
    """The run's collector thresholds apply inside the block only, also when the block fails; a
    cycle made inside is still collected by a full collection (nothing is frozen)."""
    import gc
    import weakref

    from pv_survey.pipeline import GC_YOUNG_THRESHOLD, fewer_collections

    before = gc.get_threshold()

    class Node:
        pass

    with pytest.raises(RuntimeError):
        with fewer_collections():
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 20, 10)
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
            gone = weakref.ref(a)
            del a, b
            gc.collect()
            assert gone() is None
            raise RuntimeError("stage failed")
    assert gc.get_threshold() == before


_RACE_SCRIPT = r"""
import sys, threading, warnings
import numpy as np, shapely
from affine import Affine
from rasterio.features import rasterize
from pv_survey.pipeline import quiet_scratch_dataset_warnings
warnings.simplefilter("always")  # every occurrence printed, not once per place
quiet_scratch_dataset_warnings()
stop = False
def churn():  # another thread entering and leaving catch_warnings, as pandas and geopandas do
    while not stop:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
t = threading.Thread(target=churn)
t.start()
out = np.zeros((40, 40), np.int32)
for _ in range(3000):
    rasterize([(shapely.box(1, 1, 20, 20), 1)], out=out, transform=Affine(1, 0, 0, 0, -1, 40))
stop = True
t.join()
print("burnt", int(out.sum()))
"""


def test_scratch_dataset_warning_stays_quiet_beside_another_threads_catch_warnings():
    """rasterio silences its scratch dataset's no-geotransform warning with catch_warnings, which
    another thread's catch_warnings undoes (it printed in 1M-building runs with tiles in two
    threads); the process-wide filter holds while a second thread churns the filter list."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _RACE_SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "burnt 361" in proc.stdout  # 19 x 19 cell centres inside the box
    assert "geotransform" not in proc.stderr, proc.stderr


def test_a_file_without_geotransform_is_an_error_not_a_warning(tmp_path):
    """Opening a user's raster without cell positions no longer prints rasterio's warning once the
    run's filter is set: the probe every raster input goes through refuses the file in one line
    (before 2026-12-08 the warning was printed, twice, and the run went on to the first tile)."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from pv_survey.errors import InputFileError
    from pv_survey.pipeline import quiet_scratch_dataset_warnings
    from pv_survey.shading import probe_raster

    path = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8") as dst:
            dst.write(np.ones((1, 4, 4), np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with rasterio.open(path) as src:  # without the run's filter: rasterio warns
            src.read(1)
        assert any(issubclass(w.category, NotGeoreferencedWarning) for w in caught)
        caught.clear()
        quiet_scratch_dataset_warnings()
        with pytest.raises(InputFileError, match=r"plain\.tif: the DSM has no georeferencing"):
            probe_raster(str(path), "DSM")
    assert not any(issubclass(w.category, NotGeoreferencedWarning) for w in caught)
