"""Compare the roofs of two runs' GeoPackages, per building category.

Used to state how a change of the physics moved the demo's results (issue 14)::

    python -m bench.compare_runs BEFORE/survey.gpkg AFTER/survey.gpkg

Roofs are matched by ``roof_id``; the change of annual AC energy is given per category for the
roofs whose capacity is the same in both runs (so only the yield per kWp differs), with the
roofs whose capacity or exclusion changed counted separately.
"""
from __future__ import annotations

import sys

import pandas as pd
import pyogrio


def _roofs(path: str) -> pd.DataFrame:
    roofs = pyogrio.read_dataframe(path, layer="roofs", read_geometry=False)
    cats = pyogrio.read_dataframe(path, layer="buildings", read_geometry=False,
                                  columns=["building_id", "category"])
    return roofs.merge(cats, on="building_id", how="left").set_index("roof_id")


def compare(before: str, after: str) -> pd.DataFrame:
    """Per category: roofs, annual MWh before and after, change in % (same-capacity roofs)."""
    a, b = _roofs(before), _roofs(after)
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    same = (a["capacity_kwp"] - b["capacity_kwp"]).abs() <= 1e-6
    frame = pd.DataFrame({
        "category": a["category"].astype(str), "mount": a["mount"].astype(str),
        "mwh_before": a["annual_kwh"] / 1e3, "mwh_after": b["annual_kwh"] / 1e3,
        "kept_before": a["excluded_reason"].fillna("") == "",
        "kept_after": b["excluded_reason"].fillna("") == "",
    })[same]
    rows = []
    for key, group in list(frame.groupby("category")) + [("all", frame)]:
        rows.append({
            "category": key, "roofs": len(group),
            "mwh_before": group["mwh_before"].sum(), "mwh_after": group["mwh_after"].sum(),
            "change_pct": (group["mwh_after"].sum() / group["mwh_before"].sum() - 1) * 100,
            "kept_before": int(group["kept_before"].sum()), "kept_after": int(group["kept_after"].sum()),
        })
    table = pd.DataFrame(rows)
    table.attrs["capacity_changed"] = int((~same).sum())
    table.attrs["by_mount"] = {m: (g["mwh_after"].sum() / g["mwh_before"].sum() - 1) * 100
                               for m, g in frame.groupby("mount")}
    return table


def main(argv: list[str]) -> None:
    table = compare(argv[0], argv[1])
    print(table.round(2).to_string(index=False))
    print(f"roofs whose capacity changed (left out): {table.attrs['capacity_changed']}")
    print("change by mount (%):", {k: round(v, 2) for k, v in table.attrs["by_mount"].items()})


if __name__ == "__main__":
    main(sys.argv[1:])
