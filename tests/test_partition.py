"""Partitioned runs: tiles and halos, and the same per-roof results as the single-process run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from pv_survey import pipeline
from pv_survey.config import Config
from pv_survey.errors import ConfigError, InputError
from pv_survey.partition import HALO_MARGIN_CELLS, assess_tile, plan_tiles, run_partitioned, share_footprints
from pv_survey.pipeline import DEFAULT_BUILDINGS, DEFAULT_PARKING, run_survey
from pv_survey.sites import capacity_yield_curves

ROOF_COLUMNS = ["annual_kwh", "capacity_kwp", "sky_view_frac", "shading_loss_frac"]
TILE_M = 800.0


# --------------------------------------------------------------------------- plan_tiles, hand-built


def _box(x, y, w=10.0):
    return shapely.box(x, y, x + w, y + w)


def test_tiles_by_centroid_and_halo():
    # four 10 m boxes: two in tile (0, 0) of a 100 m grid, one in (1, 0), one in (0, 1)
    geoms = np.array([_box(10, 10), _box(60, 20), _box(150, 10), _box(20, 130)], dtype=object)
    tiles = plan_tiles(geoms, np.ones(4, bool), tile_size_m=100.0, halo_m=0.0)
    # order: northern row first, then west to east
    assert [t.key for t in tiles] == [(0, 1), (0, 0), (1, 0)]
    assert [t.core.tolist() for t in tiles] == [[3], [0, 1], [2]]
    # core bounds of tile (0, 0): boxes at x 10..70, y 10..30
    assert tiles[1].bounds == (10.0, 10.0, 70.0, 30.0)


def test_halo_reach():
    # core box at 0..10; a neighbour whose box starts 50 m east of the core's box edge (x = 60)
    geoms = np.array([_box(0, 0), _box(60, 0)], dtype=object)
    near = plan_tiles(geoms, np.ones(2, bool), tile_size_m=50.0, halo_m=51.0)
    far = plan_tiles(geoms, np.ones(2, bool), tile_size_m=50.0, halo_m=49.0)
    t0 = [t for t in near if t.key == (0, 0)][0]
    assert t0.halo.tolist() == [0, 1]  # 50 m gap <= 51 m halo
    t0 = [t for t in far if t.key == (0, 0)][0]
    assert t0.halo.tolist() == [0]  # 50 m gap > 49 m halo


def test_unusable_buildings_belong_to_no_tile():
    geoms = np.array([_box(0, 0), _box(20, 0), None], dtype=object)
    tiles = plan_tiles(geoms, np.array([True, False, True]), tile_size_m=100.0, halo_m=100.0)
    assert len(tiles) == 1
    assert tiles[0].core.tolist() == [0] and tiles[0].halo.tolist() == [0]


@pytest.mark.parametrize("bad", [0, -5.0, float("nan"), "big", True])
def test_bad_tile_size(bad):
    with pytest.raises(ConfigError, match="tile_size_m"):
        plan_tiles(np.array([_box(0, 0)], dtype=object), [True], tile_size_m=bad, halo_m=0.0)


def test_workers_and_scheduler_exclude_each_other():
    with pytest.raises(ConfigError, match="give one of them"):
        run_partitioned(Config(), workers=2, scheduler="tcp://127.0.0.1:1", write=False)


@pytest.mark.parametrize("address, why", [("nonsense", "missing port number"),
                                           ("foo://127.0.0.1:8786", "unknown address scheme 'foo'")])
def test_scheduler_address_that_is_not_one(address, why, monkeypatch):
    """A mistyped --scheduler is one line naming it (distributed raised a ValueError traceback),
    found before any Client is made: a Client that failed on its address, once collected, blocked
    the next Client's start for good (LoopRunner.stop; seen as a hung test process)."""
    import distributed

    class NoClient(distributed.Client):
        def __init__(self, *args, **kwargs):  # noqa: D107 - never made
            raise AssertionError("a Client was made for an address that is not one")

        def __del__(self):  # nothing to close: __init__ never ran
            pass

    monkeypatch.setattr(distributed, "Client", NoClient)
    with pytest.raises(ConfigError, match=f"scheduler {address}: not a scheduler address .*{why}") as err:
        run_partitioned(Config(), scheduler=address, write=False)
    assert isinstance(err.value.__cause__, ValueError)


def test_tile_error_names_the_tile(monkeypatch):
    def boom(*args, **kwargs):
        raise InputError("DSM too large")

    monkeypatch.setattr(pipeline, "build_dsm", boom)
    b = gpd.GeoDataFrame({"building_id": ["a", "b"], "height_m": [10.0, 12.0], "excluded_reason": ["", ""]},
                         geometry=[_box(0, 0), _box(20, 0)], crs="EPSG:4547")
    with pytest.raises(InputError, match=r"tile \(3, -1\) \(2 buildings\): DSM too large") as info:
        assess_tile(Config(), b, None, None, np.array(["a", "b"]), (3, -1))
    assert isinstance(info.value.__cause__, InputError)  # the stage's own error, for --verbose


def test_tiles_in_two_threads_all_once_two_at_most_errors_after_the_running_end():
    """The in-process tile runner: every tile once, at most two at a time; a failing tile is raised
    after the tile running beside it has ended, and no further tile starts; one thread runs the
    tiles in this thread, in order."""
    import threading
    import time

    from pv_survey.partition import _in_threads

    lock = threading.Lock()
    state = {"now": 0, "most": 0, "started": [], "ended": []}
    both = threading.Barrier(2, timeout=10)  # the first two tiles only pass it together

    def task(i):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            state["started"].append(i)
        if i in (5, 3):
            both.wait()
        time.sleep(0.02 if i % 2 else 0.005)
        with lock:
            state["now"] -= 1
            state["ended"].append(i)
        return i * i

    order = [5, 3, 0, 1, 4, 2, 6]
    got = dict(_in_threads(task, order, 2))
    assert got == {i: i * i for i in order} and state["most"] == 2
    assert sorted(state["started"][:2]) == [3, 5]  # dispatched in the order given

    # tile 4 fails at once while tile 1 still runs (until released): raised after 1 has ended, and
    # tiles 2 and 3 never start
    release, one_runs = threading.Event(), threading.Event()
    ran = []

    def task2(i):
        ran.append(("start", i))
        if i == 4:
            one_runs.wait(10)
            raise InputError("tile 4 failed")
        one_runs.set()
        release.wait(10)
        ran.append(("end", i))
        return i

    threading.Timer(0.2, release.set).start()
    with pytest.raises(InputError, match="tile 4 failed"):
        for _ in _in_threads(task2, [4, 1, 2, 3], 2):
            pass
    assert ("end", 1) in ran  # the tile beside the failed one ended before the error was raised
    assert {i for what, i in ran if what == "start"} == {4, 1}

    main = threading.get_ident()
    seen = []
    assert [i for i, _ in _in_threads(lambda i: seen.append(threading.get_ident()) or i, order, 1)] == order
    assert set(seen) == {main}


def test_car_parks_join_the_tile_of_their_centroid():
    # a building in tile (0, 0) and car parks in (0, 0) and (2, 0) of a 100 m grid
    geoms = np.array([_box(10, 10)], dtype=object)
    lots = np.array([_box(50, 50, 20), _box(230, 10, 20)], dtype=object)
    tiles = plan_tiles(geoms, [True], tile_size_m=100.0, halo_m=215.0, parking=lots)
    assert [t.key for t in tiles] == [(0, 0), (2, 0)]
    assert tiles[0].core.tolist() == [0] and tiles[0].parking.tolist() == [0]
    # the car-park-only tile has no core but the building 210 m west of the lot in its 215 m halo
    assert tiles[1].core.tolist() == [] and tiles[1].parking.tolist() == [1] and tiles[1].halo.tolist() == [0]
    assert tiles[1].bounds == (230.0, 10.0, 250.0, 30.0)


def test_share_footprints_replaces_identical_copies_only():
    """A tile's roof identical to its footprint takes the city table's polygon; a roof that differs
    (a half of a gable, a 3D copy, a shifted ring start) keeps its own; roofs of buildings outside
    the core are left alone."""
    import pickle

    city = np.array([_box(0, 0), _box(20, 0), shapely.force_3d(_box(40, 0), 5.0), _box(60, 0), _box(80, 0)],
                    dtype=object)
    ids = pd.Series(["A", "B", "C", "D", "E"])
    copies = pickle.loads(pickle.dumps(city))  # what a tile read from the store holds
    half = shapely.box(20, 0, 25, 10)
    d_turned = shapely.Polygon([(70, 10), (60, 10), (60, 0), (70, 0), (70, 10)])  # same square, another start
    roofs = gpd.GeoDataFrame({"building_id": ["A", "B", "B", "C", "D", "E"]},
                             geometry=[copies[0], half, copies[1], shapely.force_2d(copies[2]), d_turned, copies[4]],
                             crs="EPSG:4547")
    before = roofs.geometry.to_numpy().copy()
    n = share_footprints(roofs, city, ids, np.array([0, 1, 2, 3]))  # E is not in this tile's core
    got = roofs.geometry.to_numpy()
    assert n == 2
    assert got[0] is city[0] and got[2] is city[1]
    for i in (1, 3, 4, 5):
        assert got[i] is before[i]
    assert shapely.equals_identical(got, before).all()  # the same geometries either way
    assert share_footprints(None, city, ids, np.array([0])) == 0


def _tile_frame(rows, cats, crs="EPSG:4547", index=None):
    n = len(rows)
    return gpd.GeoDataFrame({
        "building_id": pd.array([f"B{r}" for r in rows], dtype="str"),
        "roof_id": np.array([f"R{r}" for r in rows], dtype=object),
        "kind": pd.Categorical(cats),
        "year": pd.array([2000 + r if r % 3 else None for r in rows], dtype="Int64"),
        "capacity_kwp": np.asarray(rows, dtype=float) * 1.5,
        "n_modules": np.arange(n, dtype=np.int64),
        "flat": np.array([r % 2 == 0 for r in rows]),
    }, geometry=[_box(r, 0) for r in rows], crs=crs, index=index)


def test_tiles_frames_join_column_by_column_as_pandas_joins_them():
    """The tiles' frames of a resource joined column by column (each tile's column dropped once
    joined, so the tiles and the city's table are not both held whole) give what ``pd.concat`` then
    the rows in order gave: values, dtypes (text, object, categoricals of other categories, nullable
    integers, booleans, geometry and its CRS) and the index, for rows in any order or already in
    order; tiles with other columns take pandas' own path (it aligns them)."""
    from pv_survey.partition import _concat_layer

    def tiles():
        return [_tile_frame([5, 1, 9], ["a", "b", "a"], index=[7, 3, 11]),
                _tile_frame([4, 0], ["c", "c"], index=[2, 0]),
                _tile_frame([], [], index=[]),
                _tile_frame([8, 2, 6, 3], ["b", "d", "a", "b"], index=[10, 1, 9, 4])]

    def expected(frames, keys):
        parts = [f for f in frames if len(f)]
        order = np.argsort(np.concatenate([k for f, k in zip(frames, keys) if len(f)]), kind="stable")
        return gpd.GeoDataFrame(pd.concat(parts).iloc[order], geometry="geometry", crs="EPSG:4547")

    for key_of in (lambda f: np.array([int(b[1:]) for b in f["building_id"]], dtype=np.int64),
                   lambda f: np.asarray(f.index, dtype=np.int64)):
        frames = tiles()
        keys = [key_of(f) for f in frames]
        want = expected(tiles(), keys)
        got = _concat_layer(frames, keys, "EPSG:4547")
        assert frames == []
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.crs == want.crs and got["kind"].dtype == want["kind"].dtype != "category"  # other categories
        assert np.array_equal(np.sort(np.concatenate(keys)), key_of(got))  # rows in key order

    # rows already in order: nothing reordered, the same frame as pandas' join
    frames = [_tile_frame([0, 1], ["a", "a"]), _tile_frame([2, 3], ["a", "a"], index=[2, 3])]
    keys = [np.array([0, 1]), np.array([2, 3])]
    want = expected([_tile_frame([0, 1], ["a", "a"]), _tile_frame([2, 3], ["a", "a"], index=[2, 3])], keys)
    got = _concat_layer(frames, keys, "EPSG:4547")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["kind"].dtype == "category"  # one set of categories: kept, as pandas keeps it

    # a tile without one of the columns: pandas aligns them (the missing values NaN)
    a, b = _tile_frame([1, 0], ["a", "b"]), _tile_frame([2], ["a"], index=[5]).drop(columns="flat")
    keys = [np.array([1, 0]), np.array([2])]
    want = expected([a.copy(), b.copy()], keys)
    got = _concat_layer([a, b], keys, "EPSG:4547")
    pd.testing.assert_frame_equal(got, want, check_exact=True)


# --------------------------------------------------------------------------- demo subset, end to end


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """The ~300 demo buildings nearest the district's median building, as a GeoPackage."""
    d = tmp_path_factory.mktemp("part")
    b = gpd.read_file(DEFAULT_BUILDINGS, layer="buildings")
    xy = b.to_crs("EPSG:4547").geometry.centroid
    dist = np.hypot(xy.x - np.median(xy.x), xy.y - np.median(xy.y))
    sub = b[dist <= np.sort(dist.to_numpy())[299]]
    sub.to_file(d / "b.gpkg", layer="buildings")
    # the demo car parks around the subset, for the facade and carport runs
    lots = gpd.read_file(DEFAULT_PARKING).to_crs("EPSG:4547")
    x0, y0, x1, y1 = sub.to_crs("EPSG:4547").total_bounds
    c = lots.geometry.centroid
    lots[(c.x > x0 - 100) & (c.x < x1 + 100) & (c.y > y0 - 100) & (c.y < y1 + 100)].to_file(d / "p.gpkg")
    return Config().replace(inputs={"buildings": str(d / "b.gpkg"), "parking": str(d / "p.gpkg")},
                            survey={"name": "part"})


@pytest.fixture(scope="module")
def all_kinds(subset):
    return subset.replace(resources={"kinds": ["roofs", "facades", "carports"]})


@pytest.fixture(scope="module")
def one_piece(all_kinds):
    """Today's single-process run: the stages on the whole area with one DSM, no tiles."""
    cfg = pipeline.resolve_inputs(all_kinds)
    b, planes, _ = pipeline.load_inputs(cfg)
    wx, _ = pipeline.load_weather(cfg)
    parking = pipeline.load_parking(cfg)
    assert len(parking) >= 3
    parking = parking.assign(carport_id=[f"CP{i + 1}" for i in range(len(parking))])
    # every usable building and car park in one task: one DSM over the whole area
    usable = b.loc[b["excluded_reason"] == "", "building_id"].to_numpy()
    res = assess_tile(cfg, b, planes, wx, usable, (0, 0), parking=parking)
    # the roofs' row segments as the run's 'modules' layer shows them (site_fill 'all': every one built)
    units = res.units.drop(columns=["x_m", "y_m"]).assign(built=True)
    return res.roofs, {**res.layers, "modules": units, "site_curves": capacity_yield_curves(units)}


@pytest.fixture(scope="module")
def single(subset):
    """The roofs of the whole subset as one piece (no tiles), as the single-process run gave them."""
    cfg = pipeline.resolve_inputs(subset)
    b, planes, _ = pipeline.load_inputs(cfg)
    wx, _ = pipeline.load_weather(cfg)
    return assess_tile(cfg, b, planes, wx, b.loc[b["excluded_reason"] == "", "building_id"].to_numpy(), (0, 0)).roofs


@pytest.fixture(scope="module")
def partitioned(subset):
    calls = []
    res = run_partitioned(subset, write=False, tile_size_m=TILE_M, scheduler="synchronous",
                          progress=lambda stage, done, total: calls.append((stage, done, total)))
    return res, calls


def _assert_same_roofs(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a["roof_id"].tolist() == b["roof_id"].tolist()
    for col in ROOF_COLUMNS:
        np.testing.assert_allclose(b[col].to_numpy(float), a[col].to_numpy(float), rtol=1e-9, atol=0.0,
                                   equal_nan=True, err_msg=col)
    assert b["horizon_deg"].tolist() == a["horizon_deg"].tolist()
    assert b["excluded_reason"].tolist() == a["excluded_reason"].tolist()


def test_subset_has_two_to_four_tiles(subset):
    b, _, _ = pipeline.load_inputs(pipeline.resolve_inputs(subset))
    halo = subset.shading.search_radius_m + HALO_MARGIN_CELLS * subset.shading.dsm_resolution_m
    tiles = plan_tiles(b.geometry, b["excluded_reason"] == "", tile_size_m=TILE_M, halo_m=halo)
    assert 2 <= len(tiles) <= 4
    # every usable building is in exactly one core; halos hold buildings of other tiles
    cores = np.concatenate([t.core for t in tiles])
    assert np.array_equal(np.sort(cores), np.flatnonzero(b["excluded_reason"].to_numpy() == ""))
    assert any(t.halo.size > t.core.size for t in tiles)


def test_progress_counts_the_buildings_of_finished_tiles(subset, partitioned):
    _, calls = partitioned
    tiles = [c for c in calls if c[0] == "tiles"]
    total = tiles[0][2]
    # every usable building is in one tile's core: the count ends at the number of usable buildings
    b, _, _ = pipeline.load_inputs(pipeline.resolve_inputs(subset))
    assert total == int((b["excluded_reason"] == "").sum()) > 0
    done = [c[1] for c in tiles]
    assert done[0] == 0 and done[-1] == total and all(b > a for a, b in zip(done, done[1:]))
    assert 3 <= len(done) <= 5  # 0 and one call per finished tile (2 to 4 tiles)
    assert all(c[2] == total for c in tiles)


# The horizon ray march steps over blocks of a max-pyramid that start at the DSM's corner: tile and
# whole-area results agree only because pipeline.build_dsm snaps every DSM to whole pyramid blocks.
def test_same_roofs_as_single_process(single, partitioned):
    res, _ = partitioned
    _assert_same_roofs(single, res.roofs)
    kept = single["excluded_reason"] == ""
    assert res.summary["roofs_kept"] == int(kept.sum())
    assert res.summary["total_capacity_kwp"] == pytest.approx(single.loc[kept, "capacity_kwp"].sum(), rel=1e-9)
    assert res.summary["annual_mwh"] == pytest.approx(single.loc[kept, "annual_kwh"].sum() / 1000, rel=1e-9)


def test_every_building_accounted(subset, partitioned):
    res, _ = partitioned
    b = res.buildings
    planned = b["capacity_kwp"].to_numpy() > 0
    excluded = b["excluded_reason"].to_numpy() != ""
    assert (planned ^ excluded).all()
    assert b["building_id"].is_unique and len(b) == 300


def test_cli_run_synchronous_scheduler(subset, tmp_path):
    from pv_survey.cli import _register, cli

    _register()
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["-q", "run", "--buildings", subset.inputs.buildings, "--out", str(out),
                                 "--scheduler", "synchronous"])
    assert r.exit_code == 0, r.output
    assert (out / "survey.gpkg").is_file() and (out / "manifest.json").is_file()


def test_cli_rejects_zero_workers(subset, tmp_path):
    from pv_survey.cli import _register, cli

    _register()
    r = CliRunner().invoke(cli, ["run", "--buildings", subset.inputs.buildings, "--out", str(tmp_path / "x"),
                                 "--workers", "0"])
    assert r.exit_code == 2
    assert "--workers" in r.output


def _assert_same_layer(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(b.columns) == list(a.columns) and len(b) == len(a)
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for col in a.columns:
        if col == "geometry":
            assert shapely.equals_exact(b.geometry.to_numpy(), a.geometry.to_numpy(), tolerance=0.0).all()
        elif a[col].dtype.kind == "f":
            # a share near 0 computed as 1 - a / b (shading_loss_frac of an open row segment, ~1e-7) carries
            # ~1e-16 of rounding, which a relative tolerance would magnify: shares also within 1e-12 absolute
            # (the row segments' yield is summed per orientation over the segments of a tile, so the same
            # segment's sum is rounded differently in another tiling; annual_kwh stays within 1e-9 relative)
            np.testing.assert_allclose(b[col].to_numpy(float), a[col].to_numpy(float), rtol=1e-9,
                                       atol=1e-12 if str(col).endswith("_frac") else 0.0, equal_nan=True,
                                       err_msg=col)
        else:
            assert b[col].tolist() == a[col].tolist(), col


def _by_building(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[np.argsort(frame["building_id"].astype(str).to_numpy(), kind="stable")]


def test_facades_and_carports_tiled_equal_one_piece(all_kinds, one_piece):
    """Several tiles in this process give the facades and carports of the one-piece run, row for row."""
    roofs, layers = one_piece
    res = run_survey(all_kinds, write=False, tile_size_m=TILE_M)
    assert "tiled run: " in " ".join(res.summary["notes"])  # really more than one tile
    _assert_same_roofs(roofs, res.roofs)
    # the resources, and the roofs' module layout (issue 19: row segments with their yield, site curves)
    assert sorted(res.layers) == ["carports", "facades", "modules", "site_curves"]
    for name in ("facades", "carports"):
        _assert_same_layer(layers[name], res.layers[name])
    # the layout layers are written tile by tile (rows by tile, then building): the same rows
    for name in ("modules", "site_curves"):
        _assert_same_layer(_by_building(layers[name]), _by_building(res.layers[name]))
    assert res.summary["resources"]["facades"]["n_kept"] == int((layers["facades"]["excluded_reason"] == "").sum())


def test_local_cluster_all_resources_equal_one_piece(all_kinds, one_piece):
    """Two dask worker processes give the roofs, facades and carports of the one-piece run."""
    roofs, layers = one_piece
    res = run_survey(all_kinds, write=False, tile_size_m=TILE_M, workers=2)
    _assert_same_roofs(roofs, res.roofs)
    for name in ("facades", "carports"):
        _assert_same_layer(layers[name], res.layers[name])
    # stage times of the workers are summed (worker time), next to the driver's own stages
    assert {"inputs", "tiles", "plan", "shading", "facades", "carports"} <= set(res.summary["timings_s"])


def test_buildings_read_in_windows_tiles_read_the_store(all_kinds, one_piece, monkeypatch):
    """A buildings file read in windows (issue 18): tiles read their rows from the scratch store, with
    the roofs, facades and carports of the one-piece run; the store is removed after the run."""
    from pv_survey.inputs.store import BuildingStore

    stores, reads = [], []
    real_create, real_read = BuildingStore.create, BuildingStore.read

    def create(*args, **kwargs):
        stores.append(real_create(*args, **kwargs))
        return stores[-1]

    def read(self, bounds, positions=None):
        reads.append(len(positions))
        return real_read(self, bounds, positions)

    monkeypatch.setattr(BuildingStore, "create", create)
    monkeypatch.setattr(BuildingStore, "read", read)
    roofs, layers = one_piece
    cfg = all_kinds.replace(inputs={"read_window_features": 70})  # 300 buildings: 5 windows
    res = run_survey(cfg, write=False, tile_size_m=TILE_M)
    assert "read in 5 windows" in " ".join(res.summary["notes"])
    assert len(stores) == 1 and not stores[0].path.exists()  # removed after the run
    assert len(reads) >= 2 and sum(reads) > 0  # every tile read its buildings from the store
    _assert_same_roofs(roofs, res.roofs)
    for name in ("facades", "carports"):
        _assert_same_layer(layers[name], res.layers[name])
    one_go, _, _ = pipeline.load_inputs(pipeline.resolve_inputs(all_kinds))
    assert res.buildings["building_id"].tolist() == one_go["building_id"].tolist()
    # the flat roofs read from the store hold the city table's footprint objects, not copies
    flat = (res.roofs["plane_source"] == "footprint (flat)").to_numpy()
    assert flat.sum() >= 50
    at = pd.Index(res.buildings["building_id"]).get_indexer(res.roofs["building_id"])
    own = res.buildings.geometry.to_numpy()[at]
    shared = np.array([a is b for a, b in zip(res.roofs.geometry.to_numpy(), own)])
    assert shared[flat].all() and not shared[~flat].any()


def test_buildings_read_in_windows_on_a_local_cluster(all_kinds, one_piece):
    """Two dask workers read their tiles' buildings from the driver's scratch store."""
    roofs, layers = one_piece
    res = run_survey(all_kinds.replace(inputs={"read_window_features": 70}), write=False, tile_size_m=TILE_M,
                     workers=2)
    assert "read in 5 windows" in " ".join(res.summary["notes"])
    _assert_same_roofs(roofs, res.roofs)
    for name in ("facades", "carports"):
        _assert_same_layer(layers[name], res.layers[name])
