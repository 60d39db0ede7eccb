"""Reporting zones: each building's zone and the plan summed per zone (街道, community, park).

A district assigns work by sub-district (街道), community or industrial park. A building
belongs to the zone holding the larger share of its footprint (ties: the zone that sorts
first); one outside every zone has zone ''. Several zone layers may be given (e.g. 街道
and 园区); each adds a column ``zone_<layer>`` to the buildings and its rows to the
zones table, told apart by ``zone_layer``.

Only plain frames in and out: the pipeline reads the zone files
(:func:`pv_survey.inputs.read_zones`) and hands the frames here.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["assign_zones", "zone_table", "zone_layer_name", "outside_boundary", "boundary_note", "ZONE_COLUMNS"]

#: Columns of :func:`zone_table` (plus one ``kwp_<phase>`` column per plan phase, and geometry).
#: Zones named in the summary line of each zone layer, by capacity (project choice).
TOP_ZONES = 3

ZONE_COLUMNS = ("zone_layer", "zone", "n_buildings", "n_sites", "n_excluded", "capacity_kwp", "annual_mwh",
                "footprint_m2")


def zone_layer_name(path) -> str:
    """A column-safe name for a zone file: its stem, lower case, non-word characters as '_'."""
    stem = re.sub(r"\.(geo)?json$|\.[a-z0-9]+$", "", str(path).replace("\\", "/").rsplit("/", 1)[-1].lower())
    return re.sub(r"\W+", "_", stem).strip("_") or "zones"


def assign_zones(footprints, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Zone of each footprint: the zone holding the larger share of its area.

    Parameters
    ----------
    footprints : array_like of shapely polygons
        Building footprints, same (metric) CRS as ``zones``.
    zones : GeoDataFrame
        ``zone`` names and polygons.

    Returns
    -------
    numpy.ndarray of str
        The zone name, '' where a footprint overlaps no zone (or has no geometry).
    """
    geoms = np.asarray(footprints, dtype=object)
    out = np.full(len(geoms), "", dtype=object)
    present = np.flatnonzero(np.array([g is not None and not g.is_empty for g in geoms], dtype=bool))
    if len(present) == 0 or len(zones) == 0:
        return out
    zg = zones.geometry.to_numpy()
    names = zones["zone"].to_numpy(dtype=object)
    tree = shapely.STRtree(zg)
    b_idx, z_idx = tree.query(geoms[present], predicate="intersects")
    if len(b_idx) == 0:
        return out
    area = shapely.area(shapely.intersection(geoms[present][b_idx], zg[z_idx]))
    df = pd.DataFrame({"b": present[b_idx], "zone": names[z_idx], "area": area})
    df = df[df["area"] > 0].sort_values(["b", "area", "zone"], ascending=[True, False, True], kind="mergesort")
    best = df.drop_duplicates("b")
    out[best["b"].to_numpy()] = best["zone"].to_numpy(dtype=object)
    return out


def zone_table(buildings: pd.DataFrame, zones: gpd.GeoDataFrame, zone_of: np.ndarray, *,
               layer: str) -> gpd.GeoDataFrame:
    """Buildings, sites, capacity and generation per zone, and each plan phase's capacity.

    Parameters
    ----------
    buildings : DataFrame
        Annotated buildings: ``excluded_reason``, ``capacity_kwp`` [kWp], ``annual_kwh`` [kWh],
        ``phase``, geometry.
    zones : GeoDataFrame
        ``zone`` and polygons.
    zone_of : array_like of str
        Each building's zone (:func:`assign_zones`).
    layer : str
        Name of the zone layer (``zone_layer`` column).

    Returns
    -------
    GeoDataFrame
        One row per zone (plus ``''`` = outside every zone, without geometry, when any building
        is outside): :data:`ZONE_COLUMNS`, ``kwp_<phase>`` per phase [kWp], geometry.
    """
    b = pd.DataFrame({
        "zone": np.asarray(zone_of, dtype=object),
        "site": buildings["capacity_kwp"].to_numpy(float) > 0,
        "excluded": buildings["excluded_reason"].fillna("").to_numpy(object) != "",
        "capacity_kwp": buildings["capacity_kwp"].to_numpy(float),
        "annual_mwh": buildings["annual_kwh"].to_numpy(float) / 1000.0,
        "footprint_m2": shapely.area(np.asarray(buildings.geometry.to_numpy(), dtype=object)),
        "phase": buildings["phase"].fillna("").astype(str).to_numpy(),
    })
    b["footprint_m2"] = np.nan_to_num(b["footprint_m2"].to_numpy(float))
    g = b.groupby("zone", sort=True)
    agg = pd.DataFrame({"n_buildings": g.size(), "n_sites": g["site"].sum(), "n_excluded": g["excluded"].sum(),
                        "capacity_kwp": g["capacity_kwp"].sum(), "annual_mwh": g["annual_mwh"].sum(),
                        "footprint_m2": g["footprint_m2"].sum()})
    phases = sorted((p for p in set(b.loc[b["site"], "phase"]) if p), key=lambda p: (not p[:1].isdigit(), p))
    for p in phases:
        agg[f"kwp_{p}"] = b[b["site"] & (b["phase"] == p)].groupby("zone")["capacity_kwp"].sum()
    names = list(zones["zone"]) + ([""] if "" in agg.index else [])
    agg = agg.reindex(names).fillna(0.0)
    for c in ("n_buildings", "n_sites", "n_excluded"):
        agg[c] = agg[c].astype(int)
    agg.insert(0, "zone", agg.index.astype(str))
    agg.insert(0, "zone_layer", layer)
    geom = list(zones.geometry.to_numpy()) + ([None] if "" in names[len(zones):] else [])
    return gpd.GeoDataFrame(agg.reset_index(drop=True), geometry=geom, crs=zones.crs)


def zone_summary_lines(table: gpd.GeoDataFrame | None, *, top: int = TOP_ZONES) -> list[str]:
    """One plain sentence per zone layer: zones, and those with the most capacity."""
    if table is None or len(table) == 0:
        return []
    lines = []
    for layer, t in table.groupby("zone_layer", sort=False):
        named = t[t["zone"] != ""].sort_values("capacity_kwp", ascending=False, kind="mergesort")
        best = "; ".join(f"{r.zone} {r.capacity_kwp:,.0f} kWp ({r.n_sites} sites)" for r in named.head(top).itertuples())
        outside = int(t.loc[t["zone"] == "", "n_buildings"].sum())
        lines.append(f"Zones '{layer}' / 分区: {len(named)} zones; most capacity: {best or 'none'}"
                     + (f"; {outside} buildings outside every zone" if outside else "") + ".")
    return lines


def outside_boundary(footprints, boundary) -> np.ndarray:
    """Footprints lying outside a district boundary: their representative point is not inside it.

    Parameters
    ----------
    footprints : array or GeoSeries of polygons
        Building footprints (metric CRS).
    boundary : GeoSeries or array of polygons
        The boundary (same CRS); several polygons count as one area.

    Returns
    -------
    numpy.ndarray of bool
        True where a footprint's representative point (always inside the footprint) is outside
        every boundary polygon; missing or empty footprints are not outside.
    """
    geoms = np.asarray(getattr(footprints, "values", footprints), dtype=object)
    area = shapely.union_all(np.asarray(getattr(boundary, "values", boundary), dtype=object))
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    out = np.zeros(len(geoms), dtype=bool)
    if present.any():
        shapely.prepare(area)
        pts = shapely.point_on_surface(geoms[present])
        out[present] = ~shapely.covers(area, pts)
    return out


#: Building ids named in the note about buildings outside the boundary (project choice).
OUTSIDE_IDS_NAMED = 5


def boundary_note(building_ids, outside: np.ndarray, source: str) -> str:
    """The run note about buildings outside the district boundary ('' when none is)."""
    outside = np.asarray(outside, dtype=bool)
    n = int(outside.sum())
    if n == 0:
        return ""
    ids = [str(i) for i in np.asarray(building_ids, dtype=object)[outside][:OUTSIDE_IDS_NAMED]]
    more = ", ..." if n > len(ids) else ""
    return (f"{source}: {n:,} of {len(outside):,} buildings lie outside the district boundary "
            f"({', '.join(ids)}{more}); they are surveyed and planned like the others / "
            f"{n:,} 栋建筑位于区界之外")
