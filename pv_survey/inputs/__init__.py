"""Inputs stage: read any GIS source of building footprints into the canonical schema.

Public API
----------
:func:`read_buildings`
    source -> (buildings GeoDataFrame in a metric CRS, :class:`InputReport`).
:class:`BuildingWindows`
    the same, a window of features at a time (a file larger than memory allows).
:class:`BuildingStore`
    buildings on disk grouped by place, read back by bounding box (the tiles' source).
:func:`read_roof_planes`
    roof-planes layer -> GeoDataFrame (``building_id, plane_id, tilt_deg, azimuth_deg``).
:func:`validate_buildings`
    source -> :class:`ValidationReport` (``pv-survey validate``), changing nothing.
GCJ-02 / BD-09 conversions
    :func:`gcj02_to_wgs84`, :func:`wgs84_to_gcj02`, :func:`bd09_to_gcj02`,
    :func:`gcj02_to_bd09`, :func:`bd09_to_wgs84`, :func:`wgs84_to_bd09` (vectorised numpy).

Modules: :mod:`.sources` (formats), :mod:`.crs`, :mod:`.encoding`, :mod:`.osm`,
:mod:`.postgis`, :mod:`.schema`, :mod:`.validate`, :mod:`.read`, :mod:`.store`.
"""

from .crs import (bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, parse_crs, wgs84_to_bd09,
                  wgs84_to_gcj02)
from .postgis import PostgisSource, parse_postgis_source
from .read import (BuildingWindows, InputReport, read_boundary, read_buildings, read_obstacles, read_parking,
                   read_roof_planes, read_zones)
from .schema import CATEGORIES, DEFAULT_HEIGHT_M, SCHEMA_COLUMNS, STOREY_HEIGHT_M
from .sources import RawSource, read_source
from .store import BuildingStore
from .validate import ValidationReport, check_frame, validate_buildings, validate_frame

__all__ = [
    "read_buildings",
    "BuildingWindows",
    "BuildingStore",
    "read_roof_planes",
    "read_parking",
    "read_zones",
    "read_boundary",
    "read_obstacles",
    "validate_buildings",
    "validate_frame",
    "check_frame",
    "read_source",
    "RawSource",
    "InputReport",
    "ValidationReport",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
    "bd09_to_gcj02",
    "gcj02_to_bd09",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "parse_crs",
    "parse_postgis_source",
    "PostgisSource",
    "CATEGORIES",
    "SCHEMA_COLUMNS",
    "STOREY_HEIGHT_M",
    "DEFAULT_HEIGHT_M",
]
