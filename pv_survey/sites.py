"""Installation sites: a building's kept roof planes summed, and each building's result and reason.

Moved from ``pipeline.py`` (issue 13): the plan plans per building, so a site is one building's
kept roofs; every building gets its capacity, yield, phase and, without a site, the reason.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .keys import positions, values_at

__all__ = ["sites_from_roofs", "annotate_buildings"]


def sites_from_roofs(roofs: pd.DataFrame, buildings: pd.DataFrame) -> pd.DataFrame:
    """One installation site per building: its kept roof planes summed."""
    g = roofs.groupby("building_id", sort=True)
    agg = pd.DataFrame({
        "capacity_kwp": g["capacity_kwp"].sum(),
        "annual_kwh": g["annual_kwh"].sum(),
        "usable_area_m2": g["usable_area_m2"].sum(),
        "module_area_m2": g["module_area_m2"].sum(),
        "roof_area_m2": g["area_m2"].sum(),
        "n_roofs": g.size(),
    })
    agg["specific_yield_kwh_kwp"] = np.divide(agg["annual_kwh"], agg["capacity_kwp"],
                                              out=np.zeros(len(agg)), where=agg["capacity_kwp"].to_numpy() > 0)
    cols = ["building_id", "name", "category", "owner", "address", "year_built", "existing_pv_kwp"]
    cols += [c for c in ("constraint_reason",) if c in buildings]
    info = pd.DataFrame(buildings[cols]).set_index("building_id")
    sites = info.join(agg, how="inner").reset_index()
    return sites[sites["capacity_kwp"] > 0].reset_index(drop=True)


def annotate_buildings(buildings: gpd.GeoDataFrame, roofs: pd.DataFrame, plan: pd.DataFrame) -> gpd.GeoDataFrame:
    """Give every building its phase, capacity and, when it has no kept roof, the reason."""
    b = buildings.copy()
    kept = roofs[roofs["excluded_reason"] == ""]
    cap = kept.groupby("building_id")["capacity_kwp"].sum()
    kwh = kept.groupby("building_id")["annual_kwh"].sum()
    b["capacity_kwp"] = values_at(cap, b["building_id"])
    b["annual_kwh"] = values_at(kwh, b["building_id"])
    at = positions(plan["building_id"], b["building_id"])
    phase = plan["phase"].to_numpy(dtype=object)
    b["phase"] = np.where(at >= 0, phase[np.maximum(at, 0)], "") if len(phase) else ""
    # a usable building without any kept roof: the reason of its roofs (most common)
    reason = b["excluded_reason"].fillna("").to_numpy(object)
    no_site = (reason == "") & (b["capacity_kwp"].to_numpy() <= 0)
    if no_site.any():
        ex = roofs.loc[roofs["excluded_reason"] != "", ["building_id", "excluded_reason"]]
        # most common reason per building (ties: the reason that sorts first), without a per-group lambda
        counts = ex.value_counts().reset_index(name="n")
        counts = counts.sort_values(["building_id", "n", "excluded_reason"], ascending=[True, False, True],
                                    kind="stable")
        top = counts.drop_duplicates("building_id").set_index("building_id")["excluded_reason"]
        fill = top.reindex(b["building_id"]).fillna("no usable roof plane / 无可用屋面").to_numpy(object)
        reason = np.where(no_site, fill, reason)
    b["excluded_reason"] = reason
    return b
