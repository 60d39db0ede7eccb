"""Carport canopies over surface car parks as a PV resource.

A surface car park (an input polygon layer, or OpenStreetMap ``amenity=parking``
areas with ``parking=surface`` or no ``parking`` tag) carries mono-pitch canopies
over its stalls; the aisles stay open. Each car park becomes one canopy array:
a share ``coverage_frac`` of its plan area is roofed at ``canopy_height_m``,
tilted ``canopy_tilt_deg`` towards ``azimuth_deg``, fully covered with modules.
Shading (sampled over the car park at the canopy height, no own building to
ignore), yield and the exclusion rules come from the one assessment of every
resource (:func:`pv_survey.assessment.assess_surfaces`) with the carports' entry of
:data:`pv_survey.resources.REGISTRY`, as for roofs.

Every function is vectorised over car parks; geometries must be in a metric CRS.
Conventions: tilt from horizontal [deg]; azimuth clockwise from north [deg].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from .config import ResourcesConfig
from .errors import InputError

__all__ = [
    "EXCLUDED",
    "select_surface_parking",
    "carport_arrays",
]

#: Exclusion reasons written to ``excluded_reason`` (stable strings, English / Chinese).
EXCLUDED = {
    "not_polygon": "car park is not a polygon / 停车场非面要素",
    "small": "car park area below minimum / 停车场面积不足",
}

#: ``parking=*`` values of a surface car park. OSM wiki, Tag:amenity=parking: "If not further
#: specified via parking=*, parking=surface is assumed", so an untagged car park counts as surface.
OSM_SURFACE_VALUES = ("surface",)

_COLUMNS = ["carport_id", "area_m2", "canopy_area_m2", "module_area_m2", "capacity_kwp", "tilt_deg",
            "azimuth_deg", "height_m", "excluded_reason", "geometry"]


def select_surface_parking(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Surface car parks from a layer of OpenStreetMap features or a plain parking layer.

    With an ``amenity`` column (OSM extract) only ``amenity = parking`` rows are
    kept, and with a ``parking`` column only those tagged ``surface`` or not
    tagged (multi-storey, underground and rooftop car parks are not surface
    lots). A layer without an ``amenity`` column is taken as all car parks.
    Only polygons and multipolygons are kept.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features (e.g. from ``osmnx.features_from_place(..., tags={'amenity': 'parking'})``
        or an ``ogr2ogr`` extract) or an input parking layer.

    Returns
    -------
    GeoDataFrame
        The selected rows, index preserved.
    """
    keep = np.ones(len(features), dtype=bool)
    if "amenity" in features:
        keep &= features["amenity"].astype("string").fillna("").str.strip().eq("parking").to_numpy(bool)
        if "parking" in features:
            tag = features["parking"].astype("string").fillna("").str.strip().str.lower()
            keep &= (tag.eq("") | tag.isin(OSM_SURFACE_VALUES)).to_numpy(bool)
    geoms = features.geometry.to_numpy()
    keep &= np.isin(shapely.get_type_id(geoms), (3, 6))
    return features[keep]


def carport_arrays(parking: gpd.GeoDataFrame, *, canopy_tilt_deg: float, canopy_height_m: float,
                   coverage_frac: float, module_efficiency_frac: float, azimuth_deg: float = ResourcesConfig.carport_azimuth_deg,
                   min_area_m2: float = 0.0, buildings: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Canopy arrays over surface car parks: area, module area and capacity.

    The canopies roof ``coverage_frac`` of the car park's plan area. Modules lie
    on the tilted canopy, so their area is the covered plan area divided by
    ``cos(canopy_tilt_deg)``; 1 m2 of module gives ``module_efficiency_frac`` kWp
    (STC, 1000 W/m2).

    Parameters
    ----------
    parking : GeoDataFrame
        Car park polygons in a metric CRS (see :func:`select_surface_parking`). A
        ``carport_id`` column is kept; otherwise ids ``CP1, CP2, ...`` are given in row order.
    canopy_tilt_deg : float
        Canopy (module) tilt from horizontal. [deg]
    canopy_height_m : float
        Module height above the parking surface. [m]
    coverage_frac : float
        Plan share of the car park under canopies. [-]
    module_efficiency_frac : float
        STC module efficiency. [-]
    azimuth_deg : float, default ``resources.carport_azimuth_deg``
        Direction the canopy faces, clockwise from north. [deg]
    min_area_m2 : float, default 0
        Car parks with a smaller plan area (after removing buildings) get no canopy. [m2]
    buildings : GeoDataFrame, optional
        Footprints in the same CRS; their area is cut out of the car parks (an OSM
        car park polygon often runs under a building or a multi-storey car park).

    Returns
    -------
    GeoDataFrame
        One row per input row, same CRS: ``carport_id``, ``area_m2`` (plan area of the
        car park), ``canopy_area_m2`` (plan area roofed), ``module_area_m2`` (slope area
        of the modules), ``capacity_kwp``, ``tilt_deg``, ``azimuth_deg``, ``height_m``,
        ``excluded_reason`` ('' when usable; module area and capacity 0 otherwise),
        geometry (the car park less buildings).

    Raises
    ------
    InputError
        The CRS is geographic, or the buildings are in another CRS.
    """
    if parking.crs is not None and parking.crs.is_geographic:
        raise InputError(f"parking: CRS {parking.crs.to_string()} is geographic (degrees); "
                         "project to the metric CRS with to_crs() first")
    geoms = parking.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    is_poly = present & np.isin(shapely.get_type_id(geoms), (3, 6))
    lots = np.where(is_poly, geoms, None)
    if buildings is not None and len(buildings) and is_poly.any():
        if parking.crs is not None and buildings.crs is not None and parking.crs != buildings.crs:
            raise InputError(f"buildings are in {buildings.crs.to_string()} but the car parks in "
                             f"{parking.crs.to_string()}; reproject one of them with to_crs()")
        lots = _cut_buildings(lots, buildings.geometry.to_numpy())
    area = np.nan_to_num(shapely.area(lots))

    reason = np.full(len(parking), "", dtype=object)
    reason[~is_poly] = EXCLUDED["not_polygon"]
    reason[(reason == "") & ((area < min_area_m2) | (area <= 0.0))] = EXCLUDED["small"]
    kept = reason == ""
    canopy = np.where(kept, area * float(coverage_frac), 0.0)
    # modules cover the tilted canopy: slope area = plan area / cos(tilt)
    module_area = canopy / np.cos(np.radians(float(canopy_tilt_deg)))
    # 1 m2 of module at STC (1000 W/m2) delivers efficiency x 1 kW
    capacity = module_area * float(module_efficiency_frac)
    if "carport_id" in parking:
        ids = parking["carport_id"].astype(str).to_numpy()
    else:
        ids = np.array([f"CP{i + 1}" for i in range(len(parking))], dtype=object)
    out = pd.DataFrame({
        "carport_id": ids,
        "area_m2": area,
        "canopy_area_m2": canopy,
        "module_area_m2": module_area,
        "capacity_kwp": capacity,
        "tilt_deg": float(canopy_tilt_deg),
        "azimuth_deg": float(azimuth_deg) % 360.0,
        "height_m": float(canopy_height_m),
        "excluded_reason": reason,
        "geometry": lots,
    }, index=parking.index)
    return gpd.GeoDataFrame(out[_COLUMNS], geometry="geometry", crs=parking.crs)


def _cut_buildings(lots, footprints):
    """Lots minus the footprints that overlap them (one overlay per overlap rank, not per lot)."""
    fp = footprints[~(shapely.is_missing(footprints) | shapely.is_empty(footprints))]
    out = lots.copy()
    if len(fp) == 0:
        return out
    tree = shapely.STRtree(fp)
    li, fj = tree.query(lots, predicate="intersects")
    # by lot, then footprint position: the same cuts in the same order whatever other footprints are given
    order = np.lexsort((fj, li))
    li, fj = li[order], fj[order]
    if len(li) == 0:
        return out
    first = np.r_[0, np.flatnonzero(np.diff(li)) + 1]
    rank = np.arange(len(li)) - np.repeat(first, np.diff(np.r_[first, len(li)]))
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        out[li[sel]] = shapely.difference(out[li[sel]], fp[fj[sel]])
    return out
