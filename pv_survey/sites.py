"""Installation sites: a building's kept roof planes summed, and each building's result and reason.

Moved from ``pipeline.py`` (issue 13): the plan plans per building, so a site is one building's
kept roofs; every building gets its capacity, yield, phase and, without a site, the reason.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import PlanConfig
from .keys import positions, text_order, values_at

__all__ = ["sites_from_roofs", "annotate_buildings", "fill_sites", "capacity_yield_curves", "layout_counts",
           "layout_summary_line",
           "BELOW_THRESHOLD_REASON", "CURVE_POINTS"]


def sites_from_roofs(roofs: pd.DataFrame, buildings: pd.DataFrame, *, labels: bool = True) -> pd.DataFrame:
    """One installation site per building: its kept roof planes summed.

    ``labels=False`` leaves out the buildings' ``name``, ``owner`` and ``address``, which
    :func:`pv_survey.plan.build_plan` then takes from its buildings table for the plan's rows
    only (a city's labels are not copied into the sites: 0.12 GB of the 1,000,000-site plan's columns).
    """
    g = roofs.groupby("building_id", sort=True)
    agg = pd.DataFrame({
        "capacity_kwp": g["capacity_kwp"].sum(),
        "annual_kwh": g["annual_kwh"].sum(),
        "usable_area_m2": g["usable_area_m2"].sum(),
        "module_area_m2": g["module_area_m2"].sum(),
        "roof_area_m2": g["area_m2"].sum(),
        "n_roofs": g.size(),
    })
    for col in ("n_modules", "n_rows"):  # the module layout's counts per site (issue 19)
        if col in roofs:
            agg[col] = g[col].sum().astype(np.int64)
    agg["specific_yield_kwh_kwp"] = np.divide(agg["annual_kwh"], agg["capacity_kwp"],
                                              out=np.zeros(len(agg)), where=agg["capacity_kwp"].to_numpy() > 0)
    cols = ["building_id", "name", "category", "owner", "address", "year_built", "existing_pv_kwp"]
    if not labels:
        cols = [c for c in cols if c not in ("name", "owner", "address")]
    cols += [c for c in ("constraint_reason",) if c in buildings]
    info = pd.DataFrame(buildings[cols]).set_index("building_id")
    sites = info.join(agg, how="inner").reset_index()
    return sites[sites["capacity_kwp"] > 0].reset_index(drop=True)


def annotate_buildings(buildings: gpd.GeoDataFrame, roofs: pd.DataFrame, plan: pd.DataFrame) -> gpd.GeoDataFrame:
    """Give every building its phase, capacity and, when it has no kept roof, the reason."""
    b = buildings.copy(deep=False)  # new columns only: the city's footprints and texts are not copied
    r = pd.DataFrame(roofs[["building_id", "capacity_kwp", "annual_kwh", "excluded_reason"]])
    kept = r[r["excluded_reason"] == ""]
    sums = kept.groupby("building_id")[["capacity_kwp", "annual_kwh"]].sum()
    at_site = positions(sums.index, b["building_id"])  # one look-up for both sums
    b["capacity_kwp"] = values_at(sums["capacity_kwp"], b["building_id"], pos=at_site)
    b["annual_kwh"] = values_at(sums["annual_kwh"], b["building_id"], pos=at_site)
    at = positions(plan["building_id"], b["building_id"])
    phase = plan["phase"].to_numpy(dtype=object)
    b["phase"] = np.where(at >= 0, phase[np.maximum(at, 0)], "") if len(phase) else ""
    # a usable building without any kept roof: the reason of its roofs (most common)
    reason = b["excluded_reason"].fillna("").to_numpy(object)
    no_site = (reason == "") & (b["capacity_kwp"].to_numpy() <= 0)
    if no_site.any():
        ex = r.loc[r["excluded_reason"] != "", ["building_id", "excluded_reason"]]
        # most common reason per building (ties: the reason that sorts first), without a per-group lambda
        counts = ex.value_counts().reset_index(name="n")
        counts = counts.sort_values(["building_id", "n", "excluded_reason"], ascending=[True, False, True],
                                    kind="stable")
        top = counts.drop_duplicates("building_id")
        at = positions(top["building_id"], b["building_id"])  # in Arrow where the ids are Arrow text
        fill = np.where(at >= 0, top["excluded_reason"].to_numpy(dtype=object)[np.maximum(at, 0)]
                        if len(top) else "", "no usable roof plane / 无可用屋面")
        reason = np.where(no_site, fill, reason)
    b["excluded_reason"] = reason
    return b


#: Reason of a kept roof none of whose modules reaches the yield threshold of ``plan.site_fill = 'best'``.
BELOW_THRESHOLD_REASON = "no module above the yield threshold (site_fill = best) / 组件发电量均低于阈值"
#: Points kept per site on its capacity-yield curve (project choice: enough to draw it, a few
#: rows per site: the curve is stored at the segments nearest k / 20 of the site's modules).
CURVE_POINTS = 20


def fill_sites(roofs: pd.DataFrame, units: pd.DataFrame, *, site_fill: str = PlanConfig.site_fill,
               min_module_yield_kwh_kwp: float = PlanConfig.min_module_yield_kwh_kwp):
    """The modules a site builds: every one (``'all'``) or those whose own yield reaches the threshold.

    Parameters
    ----------
    roofs : DataFrame
        Assessed roofs (``roof_id``, ``capacity_kwp``, ``annual_kwh``, ``module_area_m2``,
        ``n_modules``, ``kwh_01..12``, ``excluded_reason``).
    units : DataFrame
        Row segments of the kept roofs with their own yield (``roof_id``, ``n_modules``,
        ``capacity_kwp``, ``annual_kwh``, ``specific_yield_kwh_kwp``).
    site_fill : str
        ``'all'`` or ``'best'``.
    min_module_yield_kwh_kwp : float
        Threshold of ``'best'``. [kWh/kWp]

    Returns
    -------
    roofs : DataFrame
        With ``'best'``: each roof's capacity, module count and area are those of its segments at
        or above the threshold; its energy the sum of theirs (monthly columns scaled alike);
        a roof left without any gets :data:`BELOW_THRESHOLD_REASON`. With ``'all'`` unchanged.
    units : DataFrame
        With ``built`` (bool): the segment is built.
    """
    units = units.copy(deep=False)  # a column added, none changed: the caller's frame stays as it is
    if site_fill == "all" or len(units) == 0:
        units["built"] = True
        return roofs, units
    built = units["specific_yield_kwh_kwp"].to_numpy(float) >= float(min_module_yield_kwh_kwp)
    units["built"] = built
    g = units[built].groupby("roof_id")
    cap = g["capacity_kwp"].sum()
    kwh = g["annual_kwh"].sum()
    n_mod = g["n_modules"].sum()
    r = roofs.copy()
    kept = r["excluded_reason"].fillna("").to_numpy(object) == ""
    has_units = r["roof_id"].isin(units["roof_id"]).to_numpy() & kept
    rid = r["roof_id"]
    old_cap = r["capacity_kwp"].to_numpy(float)
    old_kwh = r["annual_kwh"].to_numpy(float)
    new_cap = np.where(has_units, cap.reindex(rid).fillna(0.0).to_numpy(), old_cap)
    new_kwh = np.where(has_units, kwh.reindex(rid).fillna(0.0).to_numpy(), old_kwh)
    frac = np.divide(new_cap, old_cap, out=np.zeros(len(r)), where=old_cap > 0)
    e_frac = np.divide(new_kwh, old_kwh, out=np.zeros(len(r)), where=old_kwh > 0)
    r["capacity_kwp"] = new_cap
    r["annual_kwh"] = new_kwh
    if "n_modules" in r:
        r["n_modules"] = np.where(has_units, n_mod.reindex(rid).fillna(0).to_numpy(), r["n_modules"].to_numpy())
    if "n_rows" in r and "row" in units:
        rows = g["row"].nunique()
        r["n_rows"] = np.where(has_units, rows.reindex(rid).fillna(0).to_numpy(), r["n_rows"].to_numpy())
    r["module_area_m2"] = np.where(has_units, r["module_area_m2"].to_numpy(float) * frac, r["module_area_m2"])
    for m in range(1, 13):
        col = f"kwh_{m:02d}"
        if col in r:
            r[col] = np.where(has_units, r[col].to_numpy(float) * e_frac, r[col].to_numpy(float))
    r["specific_yield_kwh_kwp"] = np.where(has_units, np.divide(new_kwh, new_cap, out=np.zeros(len(r)),
                                                                 where=new_cap > 0), r["specific_yield_kwh_kwp"])
    reason = r["excluded_reason"].fillna("").to_numpy(object).copy()
    reason[has_units & (new_cap <= 0)] = BELOW_THRESHOLD_REASON
    r["excluded_reason"] = reason
    return r, units


def capacity_yield_curves(units: pd.DataFrame, *, n_points: int = CURVE_POINTS) -> pd.DataFrame:
    """Each site's best-first curve: its row segments sorted by their own specific yield.

    Parameters
    ----------
    units : DataFrame
        Row segments (``building_id``, ``n_modules``, ``capacity_kwp``, ``annual_kwh``,
        ``specific_yield_kwh_kwp``).
    n_points : int
        Points kept per site: the segments at which the cumulative module count first reaches
        k / n_points of the site's modules (k = 1..n_points; fewer when the site has fewer segments).

    Returns
    -------
    DataFrame
        ``building_id``, ``n_modules`` (the best N modules), ``cum_kwp`` [kWp], ``cum_kwh`` [kWh/yr],
        ``cum_kwh_kwp`` (their specific yield) [kWh/kWp], ``last_kwh_kwp`` (yield of the worst
        segment among them) [kWh/kWp]; rows by building, then N ascending.
    """
    cols = ["building_id", "n_modules", "cum_kwp", "cum_kwh", "cum_kwh_kwp", "last_kwh_kwp"]
    if len(units) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "building_id" else float) for c in cols})
    # sites by id as text, then segments by yield, best first (ties as given): sorted and grouped on integer
    # keys (the text rank of each id) rather than on a Python string per segment
    codes, ids = pd.factorize(units["building_id"], use_na_sentinel=False)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[text_order(ids)] = np.arange(len(ids))
    sy = units["specific_yield_kwh_kwp"].to_numpy(float)
    key = rank[codes]
    order = np.lexsort((-sy, key))
    site = key[order]
    u = pd.DataFrame({"site": site, "n": units["n_modules"].to_numpy(np.int64)[order],
                      "kwp": units["capacity_kwp"].to_numpy(float)[order],
                      "kwh": units["annual_kwh"].to_numpy(float)[order], "sy": sy[order]})
    g = u.groupby("site", sort=False)
    cum_n = g["n"].cumsum().to_numpy()
    total = g["n"].transform("sum").to_numpy()
    # boundaries k / n_points passed by each segment's cumulative count: keep the segments passing a new one
    k = np.floor(cum_n * n_points / total + 1e-9).astype(np.int64)
    prev = np.r_[0, k[:-1]]
    first_of_site = np.r_[True, site[1:] != site[:-1]]
    prev[first_of_site] = 0
    keep = k > prev
    cum_kwp = g["kwp"].cumsum().to_numpy()
    cum_kwh = g["kwh"].cumsum().to_numpy()
    id_text = ids.astype(str).to_numpy(dtype=object)
    out = pd.DataFrame({"building_id": id_text[codes[order][keep]], "n_modules": cum_n[keep],
                        "cum_kwp": cum_kwp[keep], "cum_kwh": cum_kwh[keep],
                        "cum_kwh_kwp": np.divide(cum_kwh[keep], cum_kwp[keep], out=np.zeros(int(keep.sum())),
                                                 where=cum_kwp[keep] > 0),
                        "last_kwh_kwp": u["sy"].to_numpy()[keep]})
    return out.reset_index(drop=True)


def layout_counts(units: pd.DataFrame) -> dict[str, int]:
    """Modules laid out, modules built and row segments built of some row segments with ``built``
    (:func:`fill_sites`); counts of several tiles add up key by key."""
    built = units["built"].to_numpy(bool) if "built" in units else np.ones(len(units), bool)
    n = units["n_modules"].to_numpy(np.int64)
    return {"modules": int(n.sum()), "modules_built": int(n[built].sum()), "segments_built": int(built.sum())}


def layout_summary_line(counts: dict, module, *, site_fill: str = PlanConfig.site_fill,
                        min_module_yield_kwh_kwp: float = PlanConfig.min_module_yield_kwh_kwp) -> str:
    """One bilingual sentence on the module layout: modules built, the module, rows segments, site fill.

    ``counts`` are :func:`layout_counts` of the run's row segments (summed over its tiles);
    ``module`` a :class:`pv_survey.presets.ModulePreset`.
    """
    n_all = int(counts["modules"])
    n = int(counts["modules_built"])
    text = (f"Module layout / 组件排布: {n:,} modules {module.name} ({module.length_m * 1000:.0f} x "
            f"{module.width_m * 1000:.0f} mm, {module.pmax_w:.0f} W) = {n * module.kwp:,.1f} kWp "
            f"in {int(counts['segments_built']):,} row segments")
    if site_fill == "best":
        text += (f"; site_fill = best: {n:,} of {n_all:,} modules reach {min_module_yield_kwh_kwp:,.0f} kWh/kWp "
                 f"/ 仅建设发电量达阈值的组件")
    return text + "."
