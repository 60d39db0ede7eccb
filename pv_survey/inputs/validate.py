"""Checks of a buildings source: geometry, coordinates, ids and attributes.

The same functions serve ``pv-survey validate`` (through :func:`validate_buildings`, which
reports and never changes anything) and ``read_buildings`` at the start of every run
(through :func:`check_frame`, whose repaired geometries it goes on with).

Rules (each a reason a row is excluded by ``read_buildings``, never dropped):

``no geometry`` / ``empty geometry``
    null or empty geometry;
``not a polygon``
    points and lines (a collection keeps its polygonal part);
``invalid geometry``
    invalid and not repairable by ``shapely.make_valid`` (``method='structure'``) into an
    area (repairable ones are repaired and counted);
``outside survey area``
    further than :data:`FAR_MARGIN_DEG` outside the survey extent (lon/lat box).

Swapped coordinates (latitude stored as x) are detected per building: its centre lies
outside the extent but would lie inside with x and y exchanged. ``read_buildings`` swaps
them back and warns with the count; ``validate`` reports the count. Buildings outside the
extent but within the margin are kept (they may still shade roofs inside) and counted.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config import InputsConfig
from ..errors import CRSError, PVSurveyError
from .crs import crs_label, resolve_source_crs, to_lon_lat
from .osm import is_osm_frame, osm_attributes
from .schema import MappingStats, fill_heights, map_attributes, unique_ids
from .sources import RawSource, read_source, source_windows

__all__ = [
    "REASON_NO_GEOMETRY",
    "REASON_EMPTY",
    "REASON_NOT_POLYGON",
    "REASON_INVALID",
    "REASON_FAR",
    "REASON_DUPLICATE_GEOMETRY",
    "FAR_MARGIN_DEG",
    "GeometryCheck",
    "CoordinateCheck",
    "FrameCheck",
    "ValidationReport",
    "check_geometries",
    "check_coordinates",
    "duplicate_geometries",
    "check_frame",
    "all_far_message",
    "validate_frame",
    "validate_buildings",
    "merge_window_warnings",
    "merge_validation_reports",
    "GeometryDigests",
]

REASON_NO_GEOMETRY = "no geometry"
REASON_EMPTY = "empty geometry"
REASON_NOT_POLYGON = "not a polygon"
REASON_INVALID = "invalid geometry"
REASON_FAR = "outside survey area"
REASON_DUPLICATE_GEOMETRY = "duplicate geometry"
#: Per-row flags (``attribute_flags``) of the footprint repairs of :func:`check_geometries`.
FLAG_COLLECTION = "footprint was a geometry collection: its polygons kept"
FLAG_REPAIRED = "footprint invalid ({why}): repaired with shapely make_valid"

#: Buildings whose centre is more than this outside the survey extent are excluded [deg]
#: (0.1 deg ~ 10 km at Guangzhou's latitude: project choice, far beyond any shading reach).
FAR_MARGIN_DEG = 0.1


# --------------------------------------------------------------------------- geometry


@dataclasses.dataclass
class GeometryCheck:
    """Result of :func:`check_geometries`."""

    geometry: np.ndarray  # object array: repaired 2-D (multi)polygons, None where unusable
    reason: np.ndarray  # object array of str, '' where usable
    flag: np.ndarray | None = None  # object array of str: what was repaired in the row, '' where nothing
    n_null: int = 0
    n_empty: int = 0
    n_non_polygon: int = 0
    n_invalid: int = 0  # invalid as read (repaired or not)
    n_repaired: int = 0
    n_unrepairable: int = 0
    n_collection_reduced: int = 0
    n_z_dropped: int = 0


def _polygonal(g):
    """Polygonal part of a geometry (Polygon / MultiPolygon) or None."""
    if g is None or g.is_empty:
        return None
    t = g.geom_type
    if t in ("Polygon", "MultiPolygon"):
        return g
    if t == "GeometryCollection":
        polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        parts = []
        for p in polys:
            parts.extend(shapely.get_parts(p))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return None


def check_geometries(geometry: Sequence) -> GeometryCheck:
    """Classify footprints and repair the invalid ones where shapely can.

    Parameters
    ----------
    geometry : sequence of shapely geometries (or None)
        Footprints in any CRS.

    Returns
    -------
    GeometryCheck
        Repaired geometries, a reason per row ('' when usable), a flag per repaired row (a
        collection reduced to its polygons, an invalid footprint repaired, with shapely's reason)
        and counts.
    """
    geoms = np.asarray(list(geometry), dtype=object)
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    reason = np.full(n, "", dtype=object)
    flag = np.full(n, "", dtype=object)
    chk = GeometryCheck(geometry=out, reason=reason, flag=flag)
    if n == 0:
        return chk
    is_null = np.array([g is None for g in geoms])
    chk.n_null = int(is_null.sum())
    reason[is_null] = REASON_NO_GEOMETRY
    present = np.flatnonzero(~is_null)
    g = geoms[present]
    empty = shapely.is_empty(g)
    chk.n_empty = int(empty.sum())
    reason[present[empty]] = REASON_EMPTY
    keep = present[~empty]
    g = geoms[keep]
    has_z = shapely.has_z(g)
    if has_z.any():
        chk.n_z_dropped = int(has_z.sum())
        g = np.where(has_z, shapely.force_2d(g), g)
    types = shapely.get_type_id(g)
    # shapely type ids: 3 Polygon, 6 MultiPolygon, 7 GeometryCollection
    poly = (types == 3) | (types == 6)
    coll = types == 7
    for j in np.flatnonzero(coll):
        red = _polygonal(g[j])
        if red is None:
            poly[j] = False
        else:
            g[j] = red
            poly[j] = True
            chk.n_collection_reduced += 1
            flag[keep[j]] = FLAG_COLLECTION
    non_poly = ~poly
    chk.n_non_polygon = int(non_poly.sum())
    reason[keep[non_poly]] = REASON_NOT_POLYGON
    idx = keep[poly]
    g = g[poly]
    valid = shapely.is_valid(g)
    chk.n_invalid = int((~valid).sum())
    if chk.n_invalid:
        bad = np.flatnonzero(~valid)
        why = shapely.is_valid_reason(g[bad])
        fixed = shapely.make_valid(g[bad], method="structure", keep_collapsed=False)
        for k, j in enumerate(bad):
            red = _polygonal(fixed[k])
            if red is not None and not red.is_valid:  # make_valid may return parts sharing an edge: dissolve
                red = _polygonal(shapely.union_all(shapely.get_parts(red)))
            if red is None or red.area <= 0:
                reason[idx[j]] = REASON_INVALID
                chk.n_unrepairable += 1
                g[j] = None
            else:
                g[j] = red
                chk.n_repaired += 1
                flag[idx[j]] = "; ".join(f for f in (flag[idx[j]], FLAG_REPAIRED.format(why=why[k])) if f)
    out[idx] = g
    return chk


def duplicate_geometries(geometry: Sequence, usable: np.ndarray | None = None) -> np.ndarray:
    """Rows whose footprint equals an earlier usable row's exactly (after normalisation).

    Parameters
    ----------
    geometry : sequence of shapely geometries
    usable : numpy.ndarray of bool, optional
        Rows to compare; others are never duplicates.

    Returns
    -------
    numpy.ndarray of bool
        True for the second and later copies.
    """
    geoms = np.asarray(list(geometry), dtype=object)
    n = len(geoms)
    usable = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    usable = usable & np.array([g is not None for g in geoms], dtype=bool)
    dup = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(usable)
    if len(idx) < 2:
        return dup
    wkb = shapely.to_wkb(shapely.normalize(geoms[idx]))
    dup[idx] = pd.Series(wkb).duplicated(keep="first").to_numpy()
    return dup


# --------------------------------------------------------------------------- coordinates


@dataclasses.dataclass
class CoordinateCheck:
    """Result of :func:`check_coordinates` (masks over rows)."""

    swapped: np.ndarray
    outside: np.ndarray  # outside the extent but within the margin
    far: np.ndarray  # outside extent + margin (or not transformable)
    lon_lat_bounds: tuple[float, float, float, float] | None
    looks_projected: bool = False  # geographic CRS but |x| > 180 somewhere
    looks_geographic: bool = False  # projected CRS but every |x|, |y| small


def _inside(lon, lat, extent, margin=0.0):
    if extent is None:
        return np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    x0, y0, x1, y1 = extent
    return (lon >= x0 - margin) & (lon <= x1 + margin) & (lat >= y0 - margin) & (lat <= y1 + margin)


def check_coordinates(geometry: Sequence, crs: pyproj.CRS,
                      extent_lon_lat: Sequence[float] | None = None) -> CoordinateCheck:
    """Find buildings with swapped coordinates or far outside the survey extent.

    Parameters
    ----------
    geometry : sequence of shapely geometries (None allowed)
        Footprints in ``crs`` (x = easting / longitude).
    crs : pyproj.CRS
        Their CRS.
    extent_lon_lat : sequence of 4 floats, optional
        Survey extent (min lon, min lat, max lon, max lat). [deg] Without it only
        impossible lon/lat values are detected.

    Returns
    -------
    CoordinateCheck
    """
    geoms = np.asarray(list(geometry), dtype=object)
    n = len(geoms)
    present = np.array([g is not None for g in geoms], dtype=bool)
    swapped = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)
    far = np.zeros(n, dtype=bool)
    if not present.any():
        return CoordinateCheck(swapped, outside, far, None)
    b = shapely.bounds(geoms[present])
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    lon, lat = to_lon_lat(cx, cy, crs)
    ok = _inside(lon, lat, extent_lon_lat)
    ok_margin = _inside(lon, lat, extent_lon_lat, FAR_MARGIN_DEG) if extent_lon_lat is not None else ok
    slon, slat = to_lon_lat(cy, cx, crs)
    sw = ~ok_margin & _inside(slon, slat, extent_lon_lat)
    idx = np.flatnonzero(present)
    swapped[idx] = sw
    outside[idx] = ~ok & ok_margin
    far[idx] = ~ok_margin & ~sw
    good = ok_margin | sw
    lon_f = np.where(sw, slon, lon)[good]
    lat_f = np.where(sw, slat, lat)[good]
    bounds = (float(lon_f.min()), float(lat_f.min()), float(lon_f.max()), float(lat_f.max())) if good.any() else None
    looks_projected = bool(crs.is_geographic and np.nanmax(np.abs(b[:, [0, 2]])) > 180)
    looks_geographic = bool(crs.is_projected and np.nanmax(np.abs(b)) <= 180)
    return CoordinateCheck(swapped, outside, far, bounds, looks_projected, looks_geographic)


def _swap_xy(g):
    return shapely.transform(g, lambda c: c[:, ::-1])


# --------------------------------------------------------------------------- the whole frame


@dataclasses.dataclass
class FrameCheck:
    """Geometry and coordinate checks of one raw source, with repaired geometries."""

    crs: pyproj.CRS | None
    web_map: str | None
    geometry: np.ndarray  # repaired, swap-fixed, in ``crs``; None where unusable
    reason: np.ndarray
    geometry_check: GeometryCheck
    coordinate_check: CoordinateCheck | None
    n_duplicate_geometry: int
    warnings: list[str]
    problems: list[str]  # blocking: the source cannot be used as it is


def all_far_message(where: str, n_far: int, crs: pyproj.CRS, extent_lon_lat: Sequence[float] | None,
                    looks_projected: bool, looks_geographic: bool) -> str:
    """The message of a source whose usable buildings all lie far outside the survey extent."""
    hint = ""
    if looks_projected:
        hint = (f" The coordinates look projected (metres) although the CRS is {crs_label(crs)}: "
                "pass the right --source-crs, e.g. EPSG:4547.")
    elif looks_geographic:
        hint = (f" The coordinates look like degrees although the CRS is {crs_label(crs)}: "
                "pass --source-crs EPSG:4490 (or gcj02 / bd09).")
    return (f"{where}: all {n_far} buildings lie far outside the survey extent "
            f"{tuple(extent_lon_lat) if extent_lon_lat is not None else '(valid lon/lat)'} "
            f"in CRS {crs_label(crs)}.{hint or ' Check --source-crs or set survey.extent_lon_lat.'}")


def check_frame(raw: RawSource, *, source_crs: str | None = None,
                extent_lon_lat: Sequence[float] | None = None, fix_swapped: bool = True,
                raise_on_error: bool = True) -> FrameCheck:
    """Resolve the CRS of a raw source, check and repair its geometry and coordinates.

    Parameters
    ----------
    raw : RawSource
        From :func:`pv_survey.inputs.sources.read_source`.
    source_crs : str, optional
        CRS to assume (see :func:`pv_survey.inputs.crs.resolve_source_crs`).
    extent_lon_lat : sequence of 4 floats, optional
        Survey extent. [deg]
    fix_swapped : bool
        Swap x/y back for buildings detected as swapped.
    raise_on_error : bool
        Raise :class:`~pv_survey.errors.CRSError` on a blocking CRS problem (no CRS, every
        building far outside); otherwise record it in ``problems``.

    Returns
    -------
    FrameCheck
    """
    where = raw.display
    warnings: list[str] = []
    problems: list[str] = []
    gchk = check_geometries(raw.frame.geometry.values)
    geoms = gchk.geometry.copy()
    reason = gchk.reason.copy()
    try:
        crs, web, w = resolve_source_crs(raw.crs, source_crs, where=where)
        warnings.extend(w)
    except CRSError as exc:
        if raise_on_error:
            raise
        problems.append(str(exc))
        return FrameCheck(None, None, geoms, reason, gchk, None,
                          int(duplicate_geometries(geoms, reason == "").sum()), warnings, problems)
    cchk = check_coordinates(geoms, crs, extent_lon_lat)
    n_sw = int(cchk.swapped.sum())
    if n_sw:
        if fix_swapped:
            geoms[cchk.swapped] = _swap_xy(geoms[cchk.swapped])
            warnings.append(f"{where}: {n_sw} buildings had latitude and longitude (or northing and easting) "
                            "swapped; swapped back")
        else:
            warnings.append(f"{where}: {n_sw} buildings have latitude and longitude (or northing and easting) "
                            "swapped; read_buildings swaps them back")
    n_out = int(cchk.outside.sum())
    if n_out:
        warnings.append(f"{where}: {n_out} buildings lie outside the survey extent {tuple(extent_lon_lat or ())} "
                        f"but within {FAR_MARGIN_DEG} deg of it; kept")
    usable = reason == ""
    n_far = int((cchk.far & usable).sum())
    if n_far:
        reason[cchk.far & usable] = REASON_FAR
        if n_far == int(usable.sum()):
            msg = all_far_message(where, n_far, crs, extent_lon_lat, cchk.looks_projected, cchk.looks_geographic)
            if raise_on_error:
                raise CRSError(msg)
            problems.append(msg)
        else:
            warnings.append(f"{where}: {n_far} buildings lie more than {FAR_MARGIN_DEG} deg outside the survey "
                            "extent; excluded ('outside survey area')")
    if not (reason == "").any() and not problems:
        problems.append(f"{where}: no building has a usable polygon footprint "
                        f"({', '.join(f'{k}: {v}' for k, v in Counter(reason.tolist()).items())})")
    n_dup = int(duplicate_geometries(geoms, reason == "").sum())
    if gchk.n_repaired:
        warnings.append(f"{where}: {gchk.n_repaired} invalid footprints repaired with shapely make_valid "
                        "(the buildings layer's attribute_flags says which and why)")
    if gchk.n_unrepairable:
        warnings.append(f"{where}: {gchk.n_unrepairable} invalid footprints could not be repaired; excluded")
    if gchk.n_non_polygon:
        warnings.append(f"{where}: {gchk.n_non_polygon} features are points or lines, not footprints; excluded")
    if gchk.n_null or gchk.n_empty:
        warnings.append(f"{where}: {gchk.n_null + gchk.n_empty} features have no or empty geometry; excluded")
    if gchk.n_collection_reduced:
        warnings.append(f"{where}: {gchk.n_collection_reduced} footprints were geometry collections; their "
                        "polygons kept (the buildings layer's attribute_flags says which)")
    if gchk.n_z_dropped:
        warnings.append(f"{where}: {gchk.n_z_dropped} footprints had Z values; dropped (heights come from attributes)")
    return FrameCheck(crs, web, geoms, reason, gchk, cchk, n_dup, warnings, problems)


# --------------------------------------------------------------------------- report


@dataclasses.dataclass
class ValidationReport:
    """What ``pv-survey validate`` found in a buildings source.

    ``usable`` is False when the source cannot be surveyed as it is: no CRS (and none
    given), no usable footprint, or every building far outside the survey area. Other
    findings are repaired or defaulted by ``read_buildings`` and reported here with counts.
    """

    source: str
    layer: str | None = None
    driver: str = ""
    encoding: str | None = None
    crs_declared: str = "none"
    crs_used: str = "none"
    n_features: int = 0
    n_usable: int = 0
    n_null: int = 0
    n_empty: int = 0
    n_non_polygon: int = 0
    n_invalid: int = 0
    n_repairable: int = 0
    n_duplicate_geometry: int = 0
    n_duplicate_id: int = 0
    n_missing_id: int = 0
    n_swapped: int = 0
    n_outside_extent: int = 0
    n_far_outside: int = 0
    bounds: tuple[float, ...] | None = None
    bounds_lon_lat: tuple[float, ...] | None = None  # of the building centres, swapped ones fixed
    attribute_problems: dict[str, int] = dataclasses.field(default_factory=dict)
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def usable(self) -> bool:
        """True when ``read_buildings`` can survey the source."""
        return not self.problems

    def to_frame(self) -> pd.DataFrame:
        """The report as a two-column table (``check``, ``value``), one row per finding."""
        def fmt_b(b):
            return "" if b is None else ", ".join(f"{v:.6f}" if abs(v) < 1000 else f"{v:.1f}" for v in b)
        rows = [
            ("source", self.source), ("layer", self.layer or ""), ("driver", self.driver),
            ("encoding", self.encoding or ""), ("crs declared", self.crs_declared), ("crs used", self.crs_used),
            ("extent (source crs)", fmt_b(self.bounds)), ("extent of centres (lon/lat)", fmt_b(self.bounds_lon_lat)),
            ("features", self.n_features), ("usable footprints", self.n_usable),
            ("null geometries", self.n_null), ("empty geometries", self.n_empty),
            ("non-polygon geometries", self.n_non_polygon), ("invalid geometries", self.n_invalid),
            ("  of which repairable", self.n_repairable), ("duplicate geometries", self.n_duplicate_geometry),
            ("duplicate ids", self.n_duplicate_id), ("missing ids", self.n_missing_id),
            ("swapped lat/lon", self.n_swapped), ("outside extent (near)", self.n_outside_extent),
            ("far outside survey area", self.n_far_outside),
        ]
        rows += [(f"field {k}", v) for k, v in self.fields.items()]
        rows += [(f"attribute: {k}", v) for k, v in self.attribute_problems.items()]
        rows += [("problem", p) for p in self.problems]
        rows += [("warning", w) for w in self.warnings]
        rows.append(("usable", "yes" if self.usable else "no"))
        return pd.DataFrame({"check": [r[0] for r in rows], "value": [str(r[1]) for r in rows]})


def validate_frame(raw: RawSource, *, source_crs: str | None = None,
                   extent_lon_lat: Sequence[float] | None = None,
                   field_map: Mapping[str, str] | None = None,
                   value_map: Mapping[str, str] | None = None,
                   check: FrameCheck | None = None,
                   mapped: tuple[pd.DataFrame, MappingStats] | None = None) -> ValidationReport:
    """Run every check on a source already read; change nothing.

    Parameters
    ----------
    raw : RawSource
        From :func:`pv_survey.inputs.sources.read_source`.
    source_crs, extent_lon_lat, field_map, value_map
        As for ``read_buildings``.
    check : FrameCheck, optional
        A :func:`check_frame` result to reuse (``read_buildings`` passes its own).
    mapped : (DataFrame, MappingStats), optional
        Attributes already mapped and height-filled (``read_buildings`` passes its own).

    Returns
    -------
    ValidationReport
    """
    where = raw.display
    chk = check or check_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat,
                               fix_swapped=False, raise_on_error=False)
    g = chk.geometry_check
    rep = ValidationReport(source=raw.display, layer=raw.layer, driver=raw.driver, encoding=raw.encoding,
                           crs_declared=crs_label(raw.crs), crs_used=crs_label(chk.crs) + (
                               f" ({chk.web_map} lon/lat)" if chk.web_map else ""))
    rep.n_features = len(raw.frame)
    rep.n_null, rep.n_empty, rep.n_non_polygon = g.n_null, g.n_empty, g.n_non_polygon
    rep.n_invalid, rep.n_repairable = g.n_invalid, g.n_repaired
    rep.n_duplicate_geometry = chk.n_duplicate_geometry
    rep.n_usable = int((chk.reason == "").sum())
    rep.problems = list(raw.problems) + list(chk.problems)
    rep.warnings = list(raw.warnings) + list(chk.warnings)
    present = [x for x in chk.geometry if x is not None]
    if present:
        rep.bounds = tuple(float(v) for v in shapely.total_bounds(np.asarray(present, dtype=object)))
    if chk.coordinate_check is not None:
        c = chk.coordinate_check
        rep.n_swapped, rep.n_outside_extent = int(c.swapped.sum()), int(c.outside.sum())
        rep.n_far_outside = int(c.far.sum())
        rep.bounds_lon_lat = c.lon_lat_bounds
    # attributes: the same mapping read_buildings applies, counted
    if mapped is not None:
        attrs, stats = mapped
    else:
        attrs_df = pd.DataFrame(raw.frame.drop(columns=raw.frame.geometry.name))
        try:
            if is_osm_frame(attrs_df.columns) and not field_map:
                attrs, stats = osm_attributes(attrs_df, where=where)
            else:
                attrs, stats = map_attributes(attrs_df, field_map=field_map, value_map=value_map, where=where)
        except PVSurveyError as exc:
            rep.problems.append(str(exc))
            return rep
        attrs = fill_heights(attrs, stats, where=where)
        unique_ids(attrs["building_id"], stats, where=where)
    rep.n_duplicate_id, rep.n_missing_id = stats.n_id_duplicate, stats.n_id_missing
    rep.fields = dict(stats.fields)
    rep.attribute_problems = {
        "category not recognised (-> other)": stats.n_category_unmapped,
        "height invalid (<= 0 or > 700 m)": stats.n_height_invalid,
        "storeys invalid": stats.n_floors_invalid,
        "height from storeys": stats.n_height_levels,
        "height from category default": stats.n_height_default,
        "roof type missing (-> flat)": stats.n_roof_default,
        "roof type not recognised (-> flat)": stats.n_roof_unmapped,
        "year not readable": stats.n_year_unparsed,
        "existing PV invalid (-> 0)": stats.n_pv_invalid,
    }
    rep.attribute_problems["categories refined from names"] = stats.n_category_from_name
    if "heritage" in attrs:
        rep.attribute_problems["heritage / historic / listed (kept out of build years)"] = int(
            (attrs["heritage"].astype(str) != "").sum())
    if "attribute_flags" in attrs:
        rep.attribute_problems["rows with text in a numeric field (flagged per row)"] = int(
            (attrs["attribute_flags"].astype(str) != "").sum())
    datav = {"adcode", "acroutes", "childrenNum"} & set(map(str, raw.frame.columns))
    if datav:
        rep.attribute_problems["administrative-boundary features (not buildings)"] = len(raw.frame)
        rep.problems.append(f"{where}: the features are administrative boundaries (DataV.GeoAtlas fields "
                            f"{', '.join(sorted(datav))}), not building footprints; use them as --zones, "
                            "and give buildings from data/README.md's sources")
        if not source_crs:
            rep.warnings.append(f"{where} looks like a DataV.GeoAtlas / Amap file (fields {', '.join(sorted(datav))}), "
                                "whose coordinates are GCJ-02: pass --source-crs gcj02")
    if "osm_reason" in attrs:
        counts = Counter(r for r in attrs["osm_reason"].tolist() if r)
        for k, v in counts.items():
            rep.attribute_problems[k] = v
        rep.attribute_problems["building:part features (folded into outlines)"] = int(attrs["is_part"].sum())
    rep.warnings.extend(stats.warnings)
    return rep


# --------------------------------------------------------------------------- windows


_NUMBER_IN_TEXT = re.compile(r"\d[\d,]*(?:\.\d+)?")


def merge_window_warnings(per_window: Sequence[Sequence[str]]) -> list[str]:
    """The warnings of a source read in windows, each kind once.

    Messages equal but for their numbers are one kind: its leading count (the first number
    after the source name) is summed over the windows, other numbers are summed where the
    windows differ and kept where they agree (thresholds such as 700 m, EPSG codes). A
    source read in one window keeps its warnings unchanged.
    """
    if len(per_window) == 1:
        return list(per_window[0])
    groups: dict[str, list[list[str]]] = {}
    texts: dict[str, list[str]] = {}
    for msgs in per_window:
        for m in msgs:
            key = _NUMBER_IN_TEXT.sub("#", m)
            groups.setdefault(key, []).append(_NUMBER_IN_TEXT.findall(m))
            texts.setdefault(key, _NUMBER_IN_TEXT.split(m))
    out = []
    for key, nums in groups.items():
        pieces = texts[key]
        lead = next((k for k, p in enumerate(pieces[:-1]) if ": " in p), None)
        merged = []
        for k in range(len(pieces) - 1):
            vals = [n[k] for n in nums]
            if len(set(vals)) == 1 and k != lead or len(nums) == 1:
                merged.append(vals[0])
                continue
            num = [float(v.replace(",", "")) for v in vals]
            total = sum(num)
            merged.append(f"{total:,.0f}" if "," in "".join(vals) else
                          (f"{int(total)}" if all("." not in v for v in vals) else f"{total:g}"))
        out.append("".join(p + (merged[k] if k < len(merged) else "") for k, p in enumerate(pieces)))
    return out


def merge_validation_reports(reps: list[ValidationReport]) -> ValidationReport | None:
    """One :class:`ValidationReport` of the windows of a source: counts summed, extents joined."""
    if len(reps) <= 1:
        return reps[0] if reps else None
    out = dataclasses.replace(reps[0])
    for f in dataclasses.fields(ValidationReport):
        if f.name.startswith("n_"):
            setattr(out, f.name, int(sum(getattr(r, f.name) for r in reps)))

    def union(bs):
        bs = [b for b in bs if b is not None]
        if not bs:
            return None
        a = np.array(bs, dtype=float)
        return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max()))

    out.bounds = union([r.bounds for r in reps])
    out.bounds_lon_lat = union([r.bounds_lon_lat for r in reps])
    attr: Counter = Counter()
    for r in reps:
        attr.update(r.attribute_problems)
    out.attribute_problems = {k: int(attr[k]) for k in reps[0].attribute_problems} | {
        k: int(v) for k, v in attr.items() if k not in reps[0].attribute_problems}
    out.problems = list(dict.fromkeys(p for r in reps for p in r.problems))
    out.warnings = merge_window_warnings([r.warnings for r in reps])
    return out


class GeometryDigests:
    """Footprints seen so far in a read in windows, as 128-bit digests of their normalised WKB
    (two 64-bit pandas hashes): the state of :func:`duplicate_geometries` across windows, about
    60 bytes a building instead of its geometry. :meth:`duplicates` marks a window's rows whose
    footprint came before (in an earlier window or earlier in this one)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def duplicates(self, geoms: np.ndarray, usable: np.ndarray) -> np.ndarray:
        usable = usable & np.array([g is not None for g in geoms], dtype=bool)
        dup = np.zeros(len(geoms), dtype=bool)
        idx = np.flatnonzero(usable)
        if not len(idx):
            return dup
        wkb = np.asarray(shapely.to_wkb(shapely.normalize(geoms[idx])), dtype=object)
        h1 = pd.util.hash_array(wkb, hash_key="pv-survey-geom-1"[:16])
        h2 = pd.util.hash_array(wkb, hash_key="0123456789abcdef")
        keys = [(int(a) << 64) | int(b) for a, b in zip(h1, h2)]
        d = pd.Series(keys, dtype=object).duplicated(keep="first").to_numpy() | np.array(
            [k in self.seen for k in keys], dtype=bool)
        self.seen.update(keys)
        dup[idx] = d
        return dup


def validate_buildings(source, *, layer: str | None = None, source_crs: str | None = None,
                       encoding: str | None = None, field_map: Mapping[str, str] | None = None,
                       value_map: Mapping[str, str] | None = None,
                       extent_lon_lat: Sequence[float] | None = None,
                       window_features: int | None = InputsConfig.read_window_features) -> ValidationReport:
    """Check a buildings source without changing it (``pv-survey validate``).

    Parameters
    ----------
    source : str or Path
        Any source ``read_buildings`` accepts.
    layer, source_crs, encoding, field_map, value_map, extent_lon_lat
        As for ``read_buildings``.
    window_features : int or None
        A GDAL or GeoParquet source with more features is checked a window of this many at a
        time (ids and footprints carried across windows, as ``read_buildings`` does); the
        report is the one a check in one go gives (warnings of several windows said once).

    Returns
    -------
    ValidationReport
        ``usable`` tells whether a survey can run on it.

    Raises
    ------
    InputFileError
        When the source cannot be opened at all (missing file, unknown format, no server).
    """
    if window_features:
        rep = _validate_in_windows(source, layer=layer, source_crs=source_crs or None, encoding=encoding,
                                   field_map=field_map, value_map=value_map, extent_lon_lat=extent_lon_lat,
                                   window_features=int(window_features))
        if rep is not None:
            return rep
    raw = read_source(source, layer=layer, encoding=encoding)
    return validate_frame(raw, source_crs=source_crs or None, extent_lon_lat=extent_lon_lat,
                          field_map=field_map, value_map=value_map)


def _validate_in_windows(source, *, layer, source_crs, encoding, field_map, value_map, extent_lon_lat,
                         window_features: int) -> ValidationReport | None:
    """:func:`validate_buildings` a window at a time; None when the source is checked in one go
    (small, not windowable, OSM data, a bad field map or no CRS: the one-go report says so)."""
    from .schema import IdAssigner, resolve_fields, source_ids

    win = source_windows(source, layer=layer, encoding=encoding)
    if win is None or win.n_features <= window_features:
        return None
    field_map = {k: v for k, v in (field_map or {}).items() if v}
    if is_osm_frame(win.fields) and not field_map:
        return None
    try:
        fields = resolve_fields(win.fields, field_map, win.display)
    except PVSurveyError:
        return None
    id_col = fields.get("building_id")
    taken: set[str] = set()
    for w in (win.windows(window_features, columns=[id_col]) if id_col else ()):
        taken.update(v for v in source_ids(w.frame[id_col]) if v)
    assigner, digests = IdAssigner(taken), GeometryDigests()
    reps, reasons = [], Counter()
    rows = geom_usable = n_far = 0
    looks_projected, max_abs = False, 0.0
    first = None
    for raw in win.windows(window_features):
        chk = check_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat, fix_swapped=False,
                          raise_on_error=False)
        if chk.crs is None:
            return None
        first = first or (raw, chk)
        g_ok = chk.geometry_check.reason == ""
        geom_usable += int(g_ok.sum())
        if chk.coordinate_check is not None:
            n_far += int((chk.coordinate_check.far & g_ok).sum())
            looks_projected |= chk.coordinate_check.looks_projected
        present = [x for x in chk.geometry_check.geometry if x is not None]
        if present:
            max_abs = max(max_abs, float(np.nanmax(np.abs(shapely.bounds(np.asarray(present, dtype=object))))))
        reasons.update(chk.reason.tolist())
        vchk = dataclasses.replace(chk, problems=[], n_duplicate_geometry=int(
            digests.duplicates(chk.geometry, chk.reason == "").sum()))
        attrs_df = pd.DataFrame(raw.frame.drop(columns=raw.frame.geometry.name))
        try:
            attrs, stats = map_attributes(attrs_df, field_map=field_map, value_map=value_map, where=raw.display)
        except PVSurveyError:
            reps.append(validate_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat,
                                       field_map=field_map, value_map=value_map, check=vchk))
            rows += len(raw.frame)
            continue
        attrs = fill_heights(attrs, stats, where=raw.display)
        unique_ids(attrs["building_id"], stats, where=raw.display, assigner=assigner, row0=rows)
        reps.append(validate_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat, field_map=field_map,
                                   value_map=value_map, check=vchk, mapped=(attrs, stats)))
        rows += len(raw.frame)
    rep = merge_validation_reports(reps)
    raw, chk = first
    if geom_usable and n_far == geom_usable:
        rep.problems.append(all_far_message(raw.display, n_far, chk.crs, extent_lon_lat, looks_projected,
                                            bool(chk.crs.is_projected and max_abs <= 180)))
    elif not reasons.get("", 0):
        rep.problems.append(f"{raw.display}: no building has a usable polygon footprint "
                            f"({', '.join(f'{k}: {v}' for k, v in reasons.items())})")
    return rep
