"""A synthetic city of any size, for benchmarks: street blocks of Guangzhou-like building types.

:func:`generate_city` lays out a square grid of street blocks (160 m x 150 m with 25 m
streets, the block and street sizes of the demo district's zones, :mod:`pv_survey.demo`). Blocks
are grouped into districts of 6 x 6 blocks; each district takes the block mix of one of the demo
district's 18 Tianhe zones (CBD, residential estates, urban villages, universities, industrial
parks, ...), with probability proportional to the zone's size, so block types cluster as in a
real city and the overall mix and density follow the demo district (which holds 261 buildings per
km2 of its zone rectangles; the city's grid, streets and open blocks included, about 320 per km2:
1,000,000 buildings cover about 60 km x 53 km).
Each block type puts its buildings in a grid of slots with a clear gap to the slot's edges,
so footprints never overlap; each block is turned by a small random angle about its centre
(streets stay clear). Everything is vectorised numpy: no Python loop per building or block.

The result is in the canonical buildings schema (docs/ARCHITECTURE.md) in EPSG:4547 (CGCS2000
/ 3-degree Gauss-Kruger CM 114E), with ``height_source = 'attribute'`` and no exclusions. It is
synthetic: only the block prototypes and the zone mixes follow the demo district.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError

__all__ = ["generate_city", "write_city", "BLOCK_TYPES", "ZONE_MIXES", "expected_category_shares",
           "BLOCK_W_M", "BLOCK_H_M", "STREET_M", "METRIC_CRS"]

#: CRS of the city (CGCS2000 / 3-degree GK CM 114E, EPSG registry; ../shared/REFERENCES.md).
METRIC_CRS = "EPSG:4547"
#: Block size and street width [m]: the demo district's usual zone grid (pv_survey.demo._ZONES:
#: blocks 150-200 x 140-180 m, streets 18-30 m; the most common 160 x 150 m with 25 m streets).
BLOCK_W_M = 160.0
BLOCK_H_M = 150.0
STREET_M = 25.0
#: Blocks per district side: a district of 6 x 6 blocks is 1.1 km square, the size of the demo's
#: zones (0.5-1.9 km, pv_survey.demo._ZONES).
DISTRICT_BLOCKS = 6
#: Largest random turn of a block about its centre [deg]. A 160 x 150 m block turned by 3 deg
#: moves a corner by at most 110 m x sin(3 deg) = 5.8 m, less than half a 25 m street, so
#: neighbouring blocks never touch (project choice; the demo jitters blocks by 1.5 deg).
MAX_BLOCK_TURN_DEG = 3.0
#: Default south-west corner of the city [m, EPSG:4547]: 113.324 E, 23.091 N (pyproj), the south-west of
#: Tianhe District (district bounds 113.296-113.443 E, 23.101-23.248 N, ../shared/data/PROVENANCE.md).
DEFAULT_ORIGIN = (430_700.0, 2_554_800.0)
#: Rows per GeoParquet row group: 100,000 buildings (~10 MB), so a reader can skip what it does not need
#: (project choice).
ROW_GROUP_SIZE = 100_000

DEFAULT_SEED = 20240801  # the demo district's seed (pv_survey.demo.DEFAULT_SEED)


@dataclass(frozen=True)
class BuildingKind:
    """One kind of building in a block type: its share of the slots and its attributes.

    ``w_m``, ``d_m``: ranges of the long and short side [m] (clipped to the slot); ``floors`` and
    ``storey_m``: storeys and storey height [m]; ``pitched_frac`` and ``tilt_deg``: share with a
    pitched roof and its pitch [deg]; ``years``: range of completion years.
    """

    weight: float
    category: str
    label: str
    w_m: tuple[float, float]
    d_m: tuple[float, float]
    floors: tuple[int, int]
    storey_m: float
    pitched_frac: float = 0.0
    tilt_deg: tuple[float, float] = (20.0, 30.0)
    years: tuple[int, int] = (1985, 2021)


@dataclass(frozen=True)
class BlockType:
    """A block of ``nx`` x ``ny`` slots, each holding a building with probability ``fill_frac``."""

    nx: int
    ny: int
    fill_frac: float
    gap_m: float
    kinds: tuple[BuildingKind, ...]


K = BuildingKind
#: Block prototypes after the demo district's block fillers (pv_survey.demo._fill_*): same
#: building sizes, storeys and storey heights, roof pitches and year ranges; slot grids chosen so
#: the buildings per block match the demo's mean (measured on 50 demo blocks of each type: village
#: 101, estate_old 11, estate_high 7.9, industrial_multi 6.0, university 5.8, school 5.6,
#: commercial 5.0, hospital 4.6, industrial_shed 3.3, other 2.8, government 2.6, cbd 2.3, public 1.8).
BLOCK_TYPES: dict[str, BlockType] = {
    # 'handshake' houses of 5-8 storeys, 8-14 x 9-15 m, 1.5-2.5 m apart; 3 % old tile-roof houses
    "village": BlockType(13, 9, 0.86, 0.9, (
        K(0.97, "residential", "民居 House", (10, 14), (9, 13), (5, 8), 3.0, years=(1985, 2015)),
        K(0.03, "residential", "民居 House", (10, 14), (9, 13), (2, 3), 3.0, 1.0, (22, 30), (1960, 1990)))),
    # 6-9 storey slab blocks 36-60 x 11-13 m; 8 % flat-to-pitched retrofits (20-30 deg)
    "estate_old": BlockType(3, 6, 0.62, 4.0, (
        K(1.0, "residential", "住宅楼 Residential Block", (36, 45), (11, 13), (6, 9), 2.9, 0.08, (20, 30),
          (1980, 1999)),)),
    # 18-33 storey towers 24-34 x 16-22 m, occasionally a kindergarten
    "estate_high": BlockType(4, 3, 0.66, 6.0, (
        K(0.94, "residential", "住宅楼 Residential Block", (24, 34), (16, 22), (18, 33), 3.0, years=(1998, 2021)),
        K(0.06, "school", "幼儿园 Kindergarten", (24, 34), (16, 22), (3, 3), 3.5, years=(2000, 2021)))),
    # office towers of 24-60 storeys of 4.2 m (100-250 m; the demo draws 100-400 m around 170 m), 32-60 x 28-50 m
    "cbd_towers": BlockType(2, 2, 0.58, 8.0, (
        K(1.0, "commercial", "办公楼 Office Tower", (32, 60), (28, 50), (24, 60), 4.2, years=(1998, 2021)),)),
    "commercial_mixed": BlockType(3, 2, 0.84, 4.0, (
        K(0.30, "commercial", "商场 Mall", (45, 90), (40, 65), (3, 6), 5.0, years=(1990, 2021)),
        K(0.12, "other", "停车楼 Car Park Building", (40, 50), (30, 45), (3, 6), 3.2, years=(1995, 2021)),
        K(0.58, "commercial", "办公楼 Office Building", (30, 50), (20, 40), (6, 40), 4.0, years=(1985, 2021)))),
    # portal-frame sheds 45-130 x 24-55 m, 70 % light metal roofs of 5-10 deg, 12 % warehouses
    "industrial_shed": BlockType(2, 2, 0.82, 8.0, (
        K(0.62, "industrial", "厂房 Factory Building", (45, 64), (24, 50), (1, 1), 10.0, 0.7, (5, 10),
          (1990, 2021)),
        K(0.12, "other", "仓库 Warehouse", (45, 64), (24, 50), (1, 1), 10.0, 0.7, (5, 10), (1990, 2021)),
        K(0.26, "industrial", "办公楼 Office Building", (30, 45), (15, 15), (4, 6), 3.8, years=(1990, 2021)))),
    "industrial_multi": BlockType(2, 3, 1.0, 4.0, (
        K(0.8, "industrial", "厂房 Factory Building", (55, 72), (20, 30), (4, 8), 4.5, years=(1995, 2021)),
        K(0.2, "commercial", "研发楼 R&D Building", (30, 45), (16, 22), (8, 15), 3.9, years=(2000, 2021)))),
    "school_campus": BlockType(3, 3, 0.62, 6.0, (
        K(0.55, "school", "教学楼 Teaching Building", (41, 41), (14, 16), (4, 6), 3.6, 0.1, (15, 25)),
        K(0.15, "school", "体育馆 Gymnasium", (35, 41), (28, 35), (1, 1), 12.0, 0.1, (15, 25)),
        K(0.15, "school", "饭堂 Canteen", (30, 40), (18, 24), (2, 2), 4.5, 0.1, (15, 25)),
        K(0.15, "school", "宿舍楼 Dormitory", (40, 41), (12, 14), (5, 7), 3.0, 0.1, (15, 25)))),
    "university": BlockType(3, 3, 0.65, 6.0, (
        K(0.35, "school", "教学楼 Teaching Building", (41, 41), (16, 20), (5, 7), 3.9, 0.1, (25, 32), (1955, 2021)),
        K(0.20, "school", "实验楼 Laboratory Building", (41, 41), (18, 22), (6, 10), 4.2, 0.1, (25, 32), (1955, 2021)),
        K(0.45, "school", "宿舍楼 Dormitory", (41, 41), (12, 14), (6, 8), 3.0, 0.1, (25, 32), (1955, 2021)))),
    "hospital": BlockType(3, 2, 0.77, 6.0, (
        K(0.22, "hospital", "住院楼 Inpatient Building", (40, 41), (22, 28), (15, 28), 3.9, years=(1980, 2021)),
        K(0.22, "hospital", "门诊楼 Outpatient Building", (41, 41), (35, 50), (4, 6), 4.5, years=(1980, 2021)),
        K(0.22, "hospital", "医技楼 Medical Technology Building", (35, 41), (25, 32), (5, 8), 4.5,
          years=(1980, 2021)),
        K(0.34, "hospital", "行政楼 Administration Building", (25, 35), (14, 16), (4, 6), 3.6, years=(1980, 2021)))),
    "government": BlockType(2, 2, 0.65, 6.0, (
        K(0.40, "government", "办公楼 Office Building", (50, 65), (20, 28), (8, 18), 3.8),
        K(0.35, "government", "附楼 Annex", (35, 45), (16, 22), (4, 6), 3.8),
        K(0.25, "government", "政务服务中心 Public Service Centre", (40, 60), (30, 45), (3, 5), 4.5))),
    "public_venue": BlockType(1, 2, 0.92, 6.0, (
        K(0.6, "public", "文化中心 Cultural Centre", (70, 100), (50, 60), (4, 8), 5.0),
        K(0.4, "public", "体育馆 Sports Hall", (70, 90), (50, 60), (1, 1), 20.0, 0.35, (8, 15)))),
    "other_utility": BlockType(2, 2, 0.71, 6.0, (
        K(0.2, "other", "变电站 Substation", (35, 45), (25, 32), (2, 3), 5.0),
        K(0.2, "other", "公交场站 Bus Depot Shed", (70, 74), (25, 35), (1, 1), 8.0, 0.9, (6, 12)),
        K(0.2, "other", "停车楼 Car Park Building", (50, 65), (35, 45), (4, 6), 3.2),
        K(0.2, "other", "仓库 Warehouse", (45, 65), (22, 30), (1, 1), 9.0, 0.7, (6, 12)),
        K(0.2, "other", "环卫站 Sanitation Depot", (25, 35), (15, 20), (1, 2), 4.5, 0.3, (6, 12)))),
}
del K



def _demo_zone_mixes() -> tuple[dict[str, dict[str, int]], dict[str, float]]:
    """Block counts of the demo district's 18 zones (``pv_survey.demo._ZONES``, modelled on Tianhe's
    land use) and their weights (blocks in each zone's grid); 'open' = parks, squares, sports fields."""
    from .demo import _ZONES

    mixes, weights = {}, {}
    for z in _ZONES:
        nx = int((z.width_m + z.street_m) // (z.block_w_m + z.street_m))
        ny = int((z.depth_m + z.street_m) // (z.block_h_m + z.street_m))
        mix = {t: int(n) for t, n in z.blocks}
        mix["open"] = nx * ny - sum(mix.values())
        mixes[z.name], weights[z.name] = mix, float(nx * ny)
    return mixes, weights


#: Block mix of each district type: the demo district's zones (pv_survey.demo._ZONES).
#: Districts take a zone type with probability proportional to the zone's size in blocks, so the
#: city's block mix is the demo district's.
ZONE_MIXES, ZONE_WEIGHTS = _demo_zone_mixes()

_CATEGORY_ORDER = ("government", "hospital", "school", "public", "industrial", "commercial", "residential", "other")
# existing PV: share of buildings (up to 60 m tall) of each category with a system, and its size
# range [kWp]: the demo district's plan (pv_survey.demo._EXISTING_PV_PLAN: 8 of ~275 factories with
# 40-150 kWp, 2-4 each of the public categories with 10-50 kWp), about 1 MW on 4,834 buildings.
_EXISTING_PV = {"industrial": (0.029, 40.0, 150.0), "school": (0.011, 10.0, 50.0), "public": (0.05, 10.0, 50.0),
                "government": (0.033, 10.0, 50.0), "hospital": (0.043, 10.0, 50.0),
                "commercial": (0.006, 10.0, 50.0)}
_EXISTING_PV_MAX_HEIGHT_M = 60.0  # as pv_survey.demo._EXISTING_PV_MAX_HEIGHT_M
# share of buildings completed 2022-2024 by category (pv_survey.demo._P_NEW, project assumption)
_P_NEW = {"government": 0.15, "hospital": 0.15, "school": 0.15, "public": 0.25, "industrial": 0.22,
          "commercial": 0.12, "residential": 0.08, "other": 0.08}


def _block_means() -> dict[str, float]:
    """Expected buildings per block of each type (slots x fill share)."""
    return {name: bt.nx * bt.ny * bt.fill_frac for name, bt in BLOCK_TYPES.items()}


def _zone_block_probs() -> tuple[list[str], list[str], np.ndarray]:
    """(zone names, block type names incl. 'open', P[block type | zone] as a matrix)."""
    zones = list(ZONE_MIXES)
    types = [*BLOCK_TYPES, "open"]
    p = np.zeros((len(zones), len(types)))
    for i, z in enumerate(zones):
        for t, n in ZONE_MIXES[z].items():
            p[i, types.index(t)] = n
        p[i] /= p[i].sum()
    return zones, types, p


def expected_category_shares() -> dict[str, float]:
    """Expected share of each category among the buildings, from the block and zone tables.

    The analytic mean of :func:`generate_city`'s mix: sum over zones and block types of
    P(zone) x P(type | zone) x slots x fill share x P(kind) for each kind's category, normalised.
    """
    zones, types, p = _zone_block_probs()
    wz = np.array([ZONE_WEIGHTS[z] for z in zones], float)
    p_type = (wz / wz.sum()) @ p
    out = dict.fromkeys(_CATEGORY_ORDER, 0.0)
    for j, t in enumerate(types[:-1]):
        bt = BLOCK_TYPES[t]
        wsum = sum(k.weight for k in bt.kinds)
        for k in bt.kinds:
            out[k.category] += p_type[j] * bt.nx * bt.ny * bt.fill_frac * k.weight / wsum
    total = sum(out.values())
    return {c: v / total for c, v in out.items()}


def _buildings_per_block() -> float:
    zones, types, p = _zone_block_probs()
    wz = np.array([ZONE_WEIGHTS[z] for z in zones], float)
    p_type = (wz / wz.sum()) @ p
    means = _block_means()
    return float(sum(p_type[j] * means[t] for j, t in enumerate(types[:-1])))


def _pick(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """n draws of an index with probabilities ``probs`` (inverse CDF, vectorised)."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(probs) - 1)


def generate_city(n_buildings: int, *, seed: int = DEFAULT_SEED,
                  origin: tuple[float, float] = DEFAULT_ORIGIN):
    """A synthetic city of exactly ``n_buildings`` buildings in the canonical schema.

    Parameters
    ----------
    n_buildings : int
        Number of buildings (>= 1).
    seed : int
        Seed of the random generator: the same seed and size give the same city.
    origin : (float, float)
        South-west corner of the block grid in EPSG:4547. [m]

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id`` (``SC0000001``...), ``name``, ``category``, ``height_m``,
        ``height_source`` ('attribute'), ``roof_type``, ``year_built`` (Int64),
        ``existing_pv_kwp``, ``owner``, ``address``, ``excluded_reason`` (''), geometry
        (rectangles, EPSG:4547), in block order (south-west to north-east).

    Raises
    ------
    ConfigError
        ``n_buildings`` is not a whole number >= 1.
    """
    import geopandas as gpd
    import shapely

    if isinstance(n_buildings, bool) or not isinstance(n_buildings, (int, np.integer)) or n_buildings < 1:
        raise ConfigError(f"n_buildings = {n_buildings!r}: give a whole number of buildings >= 1")
    n = int(n_buildings)
    rng = np.random.default_rng(seed)

    # ---- the block grid: square, districts of DISTRICT_BLOCKS x DISTRICT_BLOCKS blocks, grown by a
    # ring of districts until it holds n buildings (the first n occupied slots in block order are kept)
    zones, types, p_tz = _zone_block_probs()
    wz = np.array([ZONE_WEIGHTS[z] for z in zones], float)
    n_types = len(types) - 1  # the last type is 'open'
    nx_t = np.array([BLOCK_TYPES[t].nx for t in types[:-1]] + [1])
    ny_t = np.array([BLOCK_TYPES[t].ny for t in types[:-1]] + [1])
    slots_t = np.array([BLOCK_TYPES[t].nx * BLOCK_TYPES[t].ny for t in types[:-1]] + [0])
    fill_t = np.array([BLOCK_TYPES[t].fill_frac for t in types[:-1]] + [0.0])
    side_d = max(1, int(math.ceil(math.sqrt(n / _buildings_per_block() * 1.05) / DISTRICT_BLOCKS)))
    while True:
        side = side_d * DISTRICT_BLOCKS
        zone_of_d = _pick(rng, wz, side_d * side_d)
        bj, bi = np.divmod(np.arange(side * side), side)  # block row, column; row-major from the south-west
        zone = zone_of_d[(bj // DISTRICT_BLOCKS) * side_d + bi // DISTRICT_BLOCKS]
        cdf = np.cumsum(p_tz, axis=1)
        btype = np.minimum((rng.random(bi.size)[:, None] >= cdf[zone]).sum(axis=1), n_types)
        slots = slots_t[btype]
        blk = np.repeat(np.arange(bi.size), slots)
        k_in = np.arange(blk.size) - (np.cumsum(slots) - slots)[blk]
        occupied = rng.random(blk.size) < fill_t[btype[blk]]
        if occupied.sum() >= n:
            break
        side_d += 1  # too few slots: a ring of districts more, drawn afresh (deterministic for a seed)
    keep = np.flatnonzero(occupied)[:n]
    blk, k_in = blk[keep], k_in[keep]
    t_of = btype[blk]
    sx, sy = k_in % nx_t[t_of], k_in // nx_t[t_of]
    slot_w = BLOCK_W_M / nx_t[t_of]
    slot_h = BLOCK_H_M / ny_t[t_of]

    # ---- building kind within its block type
    kind_cat = []
    kind_rows = []  # per (type, kind): arrays of attributes
    offsets = [0]
    for t in types[:-1]:
        for kd in BLOCK_TYPES[t].kinds:
            kind_rows.append(kd)
            kind_cat.append(kd.category)
        offsets.append(len(kind_rows))
    kind = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    for j, t in enumerate(types[:-1]):
        sel = np.flatnonzero(t_of == j)
        if sel.size == 0:
            continue
        w = np.array([kd.weight for kd in BLOCK_TYPES[t].kinds], float)
        cdf = np.cumsum(w) / w.sum()
        kind[sel] = offsets[j] + np.minimum(np.searchsorted(cdf, u[sel], side="right"), w.size - 1)

    def attr(name, idx=None):
        return np.array([getattr(kd, name) for kd in kind_rows])[kind if idx is None else idx]

    w_lo, w_hi = attr("w_m").T
    d_lo, d_hi = attr("d_m").T
    gap = np.array([BLOCK_TYPES[t].gap_m for t in types[:-1]])[t_of]
    # the long side lies along the slot's long side; both clipped to the slot minus its gaps
    long_slot = np.maximum(slot_w, slot_h) - 2 * gap
    short_slot = np.minimum(slot_w, slot_h) - 2 * gap
    a = np.minimum(rng.uniform(w_lo, w_hi), long_slot)
    b = np.minimum(np.minimum(rng.uniform(d_lo, d_hi), short_slot), a)
    along_x = slot_w >= slot_h
    bw = np.where(along_x, a, b)
    bh = np.where(along_x, b, a)
    x0 = sx * slot_w + gap + rng.random(n) * (slot_w - 2 * gap - bw)
    y0 = sy * slot_h + gap + rng.random(n) * (slot_h - 2 * gap - bh)

    # ---- rectangles turned about their block centre, placed on the street grid
    turn = np.radians(rng.uniform(-MAX_BLOCK_TURN_DEG, MAX_BLOCK_TURN_DEG, bi.size))[blk]
    cx = origin[0] + bi[blk] * (BLOCK_W_M + STREET_M) + STREET_M / 2 + BLOCK_W_M / 2
    cy = origin[1] + bj[blk] * (BLOCK_H_M + STREET_M) + STREET_M / 2 + BLOCK_H_M / 2
    lx = np.stack([x0, x0 + bw, x0 + bw, x0, x0], axis=1) - BLOCK_W_M / 2
    ly = np.stack([y0, y0, y0 + bh, y0 + bh, y0], axis=1) - BLOCK_H_M / 2
    c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
    coords = np.stack([cx[:, None] + c * lx - s * ly, cy[:, None] + s * lx + c * ly], axis=2)
    geometry = shapely.polygons(np.round(coords, 3))

    # ---- attributes
    f_lo, f_hi = attr("floors").T
    floors = rng.integers(f_lo, f_hi + 1)
    pitched = rng.random(n) < attr("pitched_frac")
    t_lo, t_hi = attr("tilt_deg").T
    tilt = rng.uniform(t_lo, t_hi)
    eave_m = floors * attr("storey_m")
    # mean height of a gable roof: eaves plus half the rise over half the span (pv_survey.demo._pitched_height)
    height = np.where(pitched, eave_m + 0.25 * np.minimum(bw, bh) * np.tan(np.radians(tilt)), eave_m)
    category = np.array(kind_cat, dtype=object)[kind]
    y_lo, y_hi = attr("years").T
    year = rng.integers(y_lo, y_hi + 1)
    p_new = np.array([_P_NEW[c] for c in kind_cat])[kind]
    year = np.where(rng.random(n) < p_new, rng.integers(2022, 2025, n), year)
    existing = np.zeros(n)
    area = bw * bh
    u_pv = rng.random(n)
    size = rng.random(n)
    for cat, (share, lo, hi) in _EXISTING_PV.items():
        sel = (category == cat) & (height <= _EXISTING_PV_MAX_HEIGHT_M) & (u_pv < share)
        # at most half the roof under modules of 0.55 kWp per 2.58 m2 (pv_survey.demo's module)
        existing[sel] = np.minimum(lo + size[sel] * (hi - lo), 0.5 * area[sel] * 0.55 / 2.58)
    existing = np.round(existing, 1)

    seq = np.arange(1, n + 1)
    ids = pd.Series(seq).astype(str).str.zfill(7)
    blk_s = pd.Series(blk + 1).astype(str)
    label = pd.Series(np.array([kd.label for kd in kind_rows], dtype=object)[kind])
    frame = pd.DataFrame({
        "building_id": ("SC" + ids).to_numpy(object),
        "name": (label + " " + blk_s + "-" + pd.Series(sx + sy * 100 + 1).astype(str)).to_numpy(object),
        "category": category,
        "height_m": np.round(height, 1),
        "height_source": np.full(n, "attribute", dtype=object),
        "roof_type": np.where(pitched, "pitched", "flat").astype(object),
        "year_built": pd.array(year, dtype="Int64"),
        "existing_pv_kwp": existing,
        "owner": ("合成业主 Synthetic Owner " + blk_s).to_numpy(object),
        "address": ("合成路 Synthetic Road " + pd.Series(bj[blk] + 1).astype(str) + " 街区 Block "
                    + blk_s).to_numpy(object),
        "excluded_reason": np.full(n, "", dtype=object),
    })
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=METRIC_CRS)


def write_city(path: str | Path, n_buildings: int, *, seed: int = DEFAULT_SEED,
               origin: tuple[float, float] = DEFAULT_ORIGIN,
               row_group_size: int = ROW_GROUP_SIZE) -> Path:
    """Write :func:`generate_city` to a GeoParquet file, rows sorted along a Hilbert curve.

    The Hilbert order (``GeoSeries.hilbert_distance``) keeps neighbours in the same row
    groups, so readers that filter by bounding box read few of them. Input columns only:
    ``height_source`` and ``excluded_reason`` are left for the inputs stage to fill.

    Parameters
    ----------
    path : path
        Output ``.parquet`` file (replaced when it exists).
    n_buildings, seed, origin
        As for :func:`generate_city`.
    row_group_size : int
        Rows per Parquet row group.

    Returns
    -------
    Path
    """
    city = generate_city(n_buildings, seed=seed, origin=origin)
    order = np.argsort(city.geometry.hilbert_distance().to_numpy(), kind="stable")
    city = city.iloc[order].drop(columns=["height_source", "excluded_reason"]).reset_index(drop=True)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    city.to_parquet(p, row_group_size=row_group_size, write_covering_bbox=True)
    return p
