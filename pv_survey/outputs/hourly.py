"""Hourly AC profiles of the plan (issue 14): per build-year site, per build phase and for the district.

Files (written by :func:`pv_survey.outputs.write_outputs` when the run computed them,
``[outputs] hourly = true`` or ``pv-survey run --hourly``):

- ``hourly_district.csv`` — ``time`` and ``district_kwh``: every build-year site together;
- ``hourly_phases.csv`` — ``time`` and one ``<build year>_kwh`` column per build phase;
- ``hourly_sites.csv`` — ``time`` and one column per build-year site, named by its
  ``building_id`` (rank order); or ``hourly_sites.parquet`` (GeoParquet, one row per site with
  its footprint, ``rank``, ``name``, ``phase``, ``annual_kwh`` and the hours as a list ``kwh``,
  ``time_start`` the first hour) with ``outputs.hourly_sites_format = "parquet"``;
- ``hourly_resources.csv`` — with facades or carports: ``time`` and ``facades_kwh`` /
  ``carports_kwh``, every kept surface of the resource (reported beside the plan, as its totals).

Every value is the AC energy of one hour [kWh] (= its mean power in kW); ``time`` is the
weather year's timestamp in ISO 8601 with its UTC offset. CSVs are UTF-8 with BOM like the
shortlists; values are written to 0.1 Wh.
"""

from __future__ import annotations

import io
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["HOURLY_FILES", "hourly_tables", "sites_geoparquet", "typical_day_kw"]

#: File names of the hourly outputs (the per-site one also as .parquet).
HOURLY_FILES = ("hourly_district.csv", "hourly_phases.csv", "hourly_sites.csv", "hourly_sites.parquet",
                "hourly_resources.csv")
#: Decimals of the kWh values in the CSVs: 0.1 Wh (a site's year then adds up to within 1e-5). [-]
KWH_DECIMALS = 4


def _with_time(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "time", [t.isoformat() for t in frame.index])
    return out.reset_index(drop=True)


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format=f"%.{KWH_DECIMALS}f", lineterminator="\r\n")
    return buf.getvalue().encode("utf-8-sig")


def hourly_tables(hourly: Any) -> dict[str, bytes]:
    """CSV bytes of the district, phase and (CSV) site profiles, by file name.

    Parameters
    ----------
    hourly : pv_survey.plan.HourlyPlan
    """
    phases = hourly.phases.copy()
    phases.columns = [f"{c}_kwh" for c in phases.columns]
    out = {
        "hourly_district.csv": _csv(_with_time(hourly.district.to_frame("district_kwh"))),
        "hourly_phases.csv": _csv(_with_time(phases)),
        "hourly_sites.csv": _csv(_with_time(hourly.sites)),
    }
    resources = getattr(hourly, "resources", None)
    if resources is not None and resources.shape[1]:
        out["hourly_resources.csv"] = _csv(_with_time(resources))
    return out


def sites_geoparquet(hourly: Any, plan_layer: gpd.GeoDataFrame, path) -> None:
    """Write the per-site profiles as GeoParquet: one row per build-year site, its footprint from
    ``plan_layer`` (the GeoPackage's plan layer), the hours as a list column ``kwh`` [kWh]."""
    info = hourly.site_info.copy()
    geom = plan_layer.set_index(plan_layer["building_id"].astype(str)).geometry
    ids = info["building_id"].astype(str)
    values = hourly.sites.to_numpy(dtype=float)
    frame = gpd.GeoDataFrame(
        {**{c: info[c].to_numpy() for c in info.columns},
         "time_start": hourly.sites.index[0].isoformat() if len(hourly.sites.index) else "",
         "hours": len(hourly.sites.index),
         "kwh": [values[:, j] for j in range(values.shape[1])]},
        geometry=geom.reindex(ids).to_numpy(), crs=plan_layer.crs)
    frame.to_parquet(path, index=False)


def typical_day_kw(district: pd.Series) -> pd.DataFrame:
    """Mean power of each hour of the day in each month: a typical day per month.

    Parameters
    ----------
    district : Series
        Hourly AC energy indexed by the weather timestamps (local time with offset). [kWh]

    Returns
    -------
    DataFrame
        12 rows (months 1-12) x 24 columns (hour of the day 0-23, local): the mean of the
        hour's energy over the month's days, i.e. the mean power. [kW]
    """
    idx = pd.DatetimeIndex(district.index)
    frame = pd.DataFrame({"kwh": district.to_numpy(float), "month": idx.month, "hour": idx.hour})
    table = frame.pivot_table(index="month", columns="hour", values="kwh", aggfunc="mean")
    return table.reindex(index=range(1, 13), columns=range(24)).fillna(0.0)
