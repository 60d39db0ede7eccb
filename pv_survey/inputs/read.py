"""``read_buildings`` and ``read_roof_planes``: any source -> the canonical frames, metric CRS.

Steps of :func:`read_buildings` (each counted in the :class:`InputReport`):

1. open the source as stored (:func:`pv_survey.inputs.sources.read_source`);
2. decide its CRS (declared, or ``source_crs``; none -> :class:`~pv_survey.errors.CRSError`);
3. check geometries: repair invalid ones with ``make_valid``; exclude null, empty,
   non-polygon and unrepairable ones *with a reason* (:mod:`pv_survey.inputs.validate`);
4. check coordinates against the survey extent: swap back lat/lon-swapped buildings,
   exclude those far outside (all of them far outside -> CRSError);
5. convert GCJ-02 / BD-09 to WGS84 when declared, then reproject to ``target_crs``;
6. map attributes: OSM tags (:mod:`pv_survey.inputs.osm`) or ``field_map`` / ``value_map`` /
   the built-in names (:mod:`pv_survey.inputs.schema`); exclude underground structures;
7. fill heights (attribute > storeys x storey height > category default, flagged in
   ``height_source``); exclude administrative boundaries and footprints over
   ``max_footprint_m2``; take building parts (OSM ``building:part``, or a ``part_of`` field)
   out of the buildings into ``InputReport.parts`` (roof planes of their outline, not
   buildings), naming an unnamed outline after its largest named part;
8. exclude exact duplicate footprints; make ids unique.

Every row read is in the result; ``excluded_reason`` is '' for the usable ones.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config import InputsConfig, SurveyConfig
from ..errors import CRSError, InputError
from .crs import WEB_MAP_TO_WGS84, crs_label, parse_crs, resolve_source_crs
from .osm import is_osm_frame, osm_attributes, resolve_building_parts
from .schema import (SCHEMA_COLUMNS, IdAssigner, category_from_name, fill_heights, id_flags, join_flags,
                     map_attributes, parse_number, resolve_fields, source_ids, unique_ids, _text)
from .sources import read_source, source_windows
from .validate import (REASON_DUPLICATE_GEOMETRY, REASON_INVALID, REASON_NOT_POLYGON, GeometryDigests,
                       ValidationReport, all_far_message, check_coordinates, check_frame, check_geometries,
                       duplicate_geometries, merge_validation_reports, merge_window_warnings, validate_frame)

log = logging.getLogger("pv_survey")

__all__ = ["InputReport", "read_buildings", "BuildingWindows", "merge_window_warnings", "read_roof_planes", "ROOF_PLANE_COLUMNS", "REASON_TOO_LARGE",
           "REASON_BOUNDARY", "PART_COLUMNS", "DEFAULT_MAX_FOOTPRINT_M2", "read_zones"]

#: Footprints larger than this are not buildings [m2]. Project choice (issue 16): about five
#: times the largest single roofs in Tianhe (Tianhe Sports Centre, Guangzhou East station, a
#: few 10,000 m2); a district boundary read as a building is ~1e8 m2. Configurable.
DEFAULT_MAX_FOOTPRINT_M2 = 200_000.0
REASON_TOO_LARGE = "footprint far larger than any building / 面积过大，非建筑"
REASON_BOUNDARY = "administrative boundary, not a building / 行政区划边界"
#: Fields that mark an administrative-boundary feature (DataV.GeoAtlas: adcode, level, acroutes;
#: OSM: boundary=administrative, admin_level).
_BOUNDARY_FIELDS = ("adcode", "acroutes", "childrenNum", "admin_level")
#: Columns of ``InputReport.parts`` (besides geometry): building parts folded into outlines.
PART_COLUMNS = ("part_id", "building_id", "name", "height_m", "height_source", "roof_type", "roof_shape",
                "roof_angle_deg", "roof_height_m", "roof_direction_deg", "roof_orientation")

#: Columns of the frame returned by :func:`read_roof_planes` (besides geometry).
ROOF_PLANE_COLUMNS = ("building_id", "plane_id", "tilt_deg", "azimuth_deg")


@dataclasses.dataclass
class InputReport:
    """How a buildings source was read: counts, CRS, encoding, warnings."""

    source: str
    layer: str | None = None
    driver: str = ""
    crs_declared: str = "none"
    crs_used: str = "none"
    target_crs: str = ""
    encoding: str | None = None
    n_read: int = 0
    n_usable: int = 0
    n_repaired: int = 0
    excluded: dict[str, int] = dataclasses.field(default_factory=dict)
    height_sources: dict[str, int] = dataclasses.field(default_factory=dict)
    n_height_invalid: int = 0
    n_swapped_fixed: int = 0
    n_outside_extent: int = 0
    n_id_duplicate: int = 0
    n_id_missing: int = 0
    n_category_unmapped: int = 0
    n_category_from_name: int = 0
    n_roof_default: int = 0
    n_parts_merged: int = 0
    n_outline_height_from_parts: int = 0
    n_names_from_parts: int = 0
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    validation: ValidationReport | None = None
    #: building parts folded into their outlines (not buildings): :data:`PART_COLUMNS` + geometry
    parts: gpd.GeoDataFrame | None = None

    @property
    def n_excluded(self) -> int:
        """Rows kept in the frame with an ``excluded_reason``."""
        return int(sum(self.excluded.values()))

    @property
    def n_height_default(self) -> int:
        """Buildings whose height is their category's default."""
        return int(self.height_sources.get("category_default", 0))

    def to_frame(self) -> pd.DataFrame:
        """The report as a two-column table (``item``, ``value``)."""
        rows = [
            ("source", self.source), ("layer", self.layer or ""), ("driver", self.driver),
            ("encoding", self.encoding or ""), ("crs declared", self.crs_declared), ("crs used", self.crs_used),
            ("target crs", self.target_crs), ("buildings read", self.n_read), ("usable", self.n_usable),
            ("excluded", self.n_excluded),
        ]
        rows += [(f"  excluded: {k}", v) for k, v in sorted(self.excluded.items())]
        rows += [("geometries repaired", self.n_repaired)]
        rows += [(f"height from {k}", v) for k, v in self.height_sources.items()]
        rows += [
            ("heights invalid (replaced)", self.n_height_invalid), ("swapped lat/lon fixed", self.n_swapped_fixed),
            ("outside extent (near, kept)", self.n_outside_extent), ("duplicate ids renamed", self.n_id_duplicate),
            ("missing ids generated", self.n_id_missing), ("categories not recognised", self.n_category_unmapped),
            ("categories from name", self.n_category_from_name), ("roof type defaulted", self.n_roof_default),
            ("building parts merged", self.n_parts_merged),
            ("outline names from parts", self.n_names_from_parts),
        ]
        rows += [(f"field {k}", v) for k, v in self.fields.items()]
        rows += [("warning", w) for w in self.warnings]
        return pd.DataFrame({"item": [r[0] for r in rows], "value": [str(r[1]) for r in rows]})


def _convert_web_map(geoms: np.ndarray, web: str) -> np.ndarray:
    fn = WEB_MAP_TO_WGS84[web]

    def conv(coords):
        lon, lat = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = geoms.copy()
    present = np.array([g is not None for g in geoms], dtype=bool)
    if present.any():
        out[present] = shapely.transform(geoms[present], conv)
    return out


def _target(target_crs):
    crs = parse_crs(target_crs, where="target_crs")
    if not crs.is_projected:
        raise CRSError(f"target_crs {target_crs!r} is not a projected (metric) CRS; use e.g. EPSG:4547 "
                       "(CGCS2000 Gauss-Kruger CM 114E) or EPSG:32649 (UTM 49N)")
    return crs


def _plain(v):
    """A numpy scalar as the Python value (so messages show -5.0, not np.float64(-5.0))."""
    return v.item() if isinstance(v, np.generic) else v


def _none_if_blank(v):
    return v if v not in ("", None) else None


def read_buildings(source, *, layer: str | None = None, source_crs: str | None = None,
                   encoding: str | None = None, field_map: Mapping[str, str] | None = None,
                   value_map: Mapping[str, str] | None = None, target_crs=SurveyConfig.metric_crs,
                   extent_lon_lat: Sequence[float] | None = None,
                   storey_height_m: Mapping[str, float] | None = None,
                   default_height_m: Mapping[str, float] | None = None,
                   max_footprint_m2: float = DEFAULT_MAX_FOOTPRINT_M2,
                   window_features: int | None = InputsConfig.read_window_features
                   ) -> tuple[gpd.GeoDataFrame, InputReport]:
    """Read building footprints from any GIS source into the canonical schema.

    Parameters
    ----------
    source : str or Path
        GeoPackage, Shapefile (or ``.zip`` of one), GeoJSON (incl. OSM exports), FlatGeobuf,
        GeoParquet, File Geodatabase (``.gdb``), ``.osm.pbf``, a PostGIS URL
        ``postgresql://user@host:port/db?table=schema.name`` or a GDAL ``PG:...
        tables=schema.name`` string.
    layer : str, optional
        Layer of a multi-layer source (PostGIS: the table).
    source_crs : str, optional
        CRS to assume when the file declares none (or to override it); ``gcj02`` / ``bd09``
        for web-map lon/lat.
    encoding : str, optional
        Shapefile attribute encoding; default: .cpg, else detected (UTF-8 / GB18030).
    field_map : mapping, optional
        Schema field -> source field (``building_id, name, category, height_m, floors,
        roof_type, year_built, existing_pv_kwp, owner, address``).
    value_map : mapping, optional
        Source category value -> category (``{"学校": "school"}``).
    target_crs : str or pyproj.CRS
        Metric CRS of the result (default EPSG:4547, CGCS2000 GK CM 114E).
    extent_lon_lat : sequence of 4 floats, optional
        Survey extent (min lon, min lat, max lon, max lat) [deg] for the swapped /
        outside checks; without it only impossible coordinates are caught.
    storey_height_m, default_height_m : mapping, optional
        Per-category overrides of the storey height and default height. [m]
    max_footprint_m2 : float
        Footprints larger than this are excluded (:data:`REASON_TOO_LARGE`). [m2]
    window_features : int or None
        A source with more features is read and normalised in windows of this many
        (:class:`BuildingWindows`; the table is the same as read in one go); None = one go.

    Returns
    -------
    buildings : geopandas.GeoDataFrame
        Columns of :data:`pv_survey.inputs.schema.SCHEMA_COLUMNS` and geometry, in
        ``target_crs``; one row per feature read.
    report : InputReport

    Raises
    ------
    InputFileError
        The source cannot be opened.
    CRSError
        No CRS and no ``source_crs``; every building far outside the survey extent.
    InputError
        Bad ``field_map`` / ``value_map``, ambiguous layer, no usable building at all.
    """
    reader = BuildingWindows(source, layer=layer, source_crs=source_crs, encoding=encoding, field_map=field_map,
                             value_map=value_map, target_crs=target_crs, extent_lon_lat=extent_lon_lat,
                             storey_height_m=storey_height_m, default_height_m=default_height_m,
                             max_footprint_m2=max_footprint_m2, window_features=window_features)
    frames = list(reader)
    buildings = frames[0] if len(frames) == 1 else gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    return buildings, reader.report


@dataclasses.dataclass
class _Totals:
    """What a read in windows adds up over its windows (for the report and the final checks)."""

    rows: int = 0
    reasons: Counter = dataclasses.field(default_factory=Counter)
    hsrc: Counter = dataclasses.field(default_factory=Counter)
    n_repaired: int = 0
    stats: Counter = dataclasses.field(default_factory=Counter)
    swapped: int = 0
    outside: int = 0
    geom_usable: int = 0
    far: int = 0
    looks_projected: bool = False
    max_abs_xy: float = 0.0
    warnings: list = dataclasses.field(default_factory=list)  # per window: [source, checks, projection, mapping]
    checked_digests: Any = None  # footprints seen by the checks (the validation's duplicate count)
    validations: list = dataclasses.field(default_factory=list)
    datav_hint: str = ""
    first: Any = None  # (raw, chk) of the first window: source, driver, CRS, fields


_STAT_FIELDS = ("n_height_invalid", "n_id_duplicate", "n_id_missing", "n_category_unmapped", "n_category_from_name",
                "n_roof_default")


class BuildingWindows:
    """:func:`read_buildings` a window at a time: iterate for the normalised windows, then ``report``.

    A GDAL file or GeoParquet file with more than ``window_features`` features is read in
    windows of that many (:class:`pv_survey.inputs.sources.SourceWindows`). Every step of
    :func:`read_buildings` applies to one row at a time, except three, which carry state
    across the windows:

    * unique ids: a first pass reads the id field alone and collects every id, so a missing id
      becomes the same ``row-<n>`` as in one go (:class:`pv_survey.inputs.schema.IdAssigner`);
    * duplicate footprints: 128-bit digests of the footprints seen so far;
    * "every building far outside the extent" and "no usable building": counts, checked after
      the last window.

    Building parts (a ``part_of`` field with values, or OSM data) change their outline's row
    (name, height), which may lie in another window: such sources, PostGIS tables, OSM
    extracts and DataV JSON arrays are read in one go. Memory: one window of features (about
    3.5 KB a feature while it is normalised) plus the ids and digests carried across windows
    (about 0.3 KB a building; ``bench/bench_read.py``).
    """

    def __init__(self, source, *, layer=None, source_crs=None, encoding=None, field_map=None, value_map=None,
                 target_crs=SurveyConfig.metric_crs, extent_lon_lat=None, storey_height_m=None,
                 default_height_m=None, max_footprint_m2: float = DEFAULT_MAX_FOOTPRINT_M2,
                 window_features: int | None = InputsConfig.read_window_features) -> None:
        self.source = source
        self.layer = _none_if_blank(layer)
        self.source_crs = _none_if_blank(source_crs)
        self.encoding = _none_if_blank(encoding)
        self.field_map = {k: v for k, v in (field_map or {}).items() if v}
        self.value_map = value_map
        self.tcrs = _target(target_crs)
        self.extent_lon_lat = extent_lon_lat
        self.storey_height_m = storey_height_m
        self.default_height_m = default_height_m
        self.max_footprint_m2 = max_footprint_m2
        self.window_features = window_features
        self.report: InputReport | None = None
        #: number of windows read (1 = in one go)
        self.n_windows = 0
        #: True once iteration has started on a source read in windows
        self.windowed = False

    def _plan_windows(self):
        """(windows iterator, id assigner) for a read in windows, or None to read in one go."""
        if not self.window_features:
            return None
        win = source_windows(self.source, layer=self.layer, encoding=self.encoding)
        if win is None or win.n_features <= int(self.window_features):
            return None
        fields = resolve_fields(win.fields, self.field_map, win.display)
        if is_osm_frame(win.fields) and not self.field_map:
            log.info("%s: OSM data (building parts) read in one go", win.display)
            return None
        id_col, part_col = fields.get("building_id"), fields.get("part_of")
        taken: set[str] = set()
        cols = [c for c in (id_col, part_col) if c]
        for w in (win.windows(self.window_features, columns=cols) if cols else ()):
            if part_col and (_text(w.frame[part_col]) != "").any():
                log.info("%s: building parts (%s) read in one go", win.display, part_col)
                return None
            if id_col:
                taken.update(v for v in source_ids(w.frame[id_col]) if v)
        return win.windows(self.window_features), IdAssigner(taken)

    def __iter__(self):
        planned = self._plan_windows()
        self.windowed = planned is not None
        if planned is None:
            raws, assigner, multi = iter([read_source(self.source, layer=self.layer, encoding=self.encoding)]), None, False
        else:
            (raws, assigner), multi = planned, True
        tot = _Totals()
        digests = GeometryDigests() if multi else None
        tot.checked_digests = GeometryDigests() if multi else None
        self.n_windows = 0
        for raw in raws:
            self.n_windows += 1
            yield self._window(raw, tot, assigner, digests, multi)
        self.report = self._finish(tot, multi)

    # ---------------------------------------------------------------- one window
    def _window(self, raw, tot: _Totals, assigner, digests, multi: bool) -> gpd.GeoDataFrame:
        source_crs, extent_lon_lat, field_map, value_map = (self.source_crs, self.extent_lon_lat, self.field_map,
                                                            self.value_map)
        tcrs, max_footprint_m2 = self.tcrs, self.max_footprint_m2
        where = raw.display
        chk = check_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat, fix_swapped=True,
                          raise_on_error=not multi)
        if chk.crs is None:  # windows: no CRS is the same in every window
            raise CRSError(chk.problems[0])
        if multi:
            g_ok = chk.geometry_check.reason == ""
            tot.geom_usable += int(g_ok.sum())
            if chk.coordinate_check is not None:
                c = chk.coordinate_check
                tot.far += int((c.far & g_ok).sum())
                tot.looks_projected |= c.looks_projected
            present = [x for x in chk.geometry_check.geometry if x is not None]
            if present:
                tot.max_abs_xy = max(tot.max_abs_xy, float(np.nanmax(np.abs(shapely.bounds(
                    np.asarray(present, dtype=object))))))
        if tot.first is None:
            tot.first = (raw, chk)
        geoms, reason = chk.geometry.copy(), chk.reason.copy()
        if chk.web_map:
            geoms = _convert_web_map(geoms, chk.web_map)
        gs = gpd.GeoSeries(geoms, crs=chk.crs, index=raw.frame.index).to_crs(tcrs)
        geoms = gs.values.to_numpy() if hasattr(gs.values, "to_numpy") else np.asarray(gs.values, dtype=object)
        # coordinates of far-away rows may not survive the projection: keep only finite ones
        present = np.array([g is not None for g in geoms], dtype=bool)
        if present.any():
            finite = np.isfinite(shapely.bounds(geoms[present])).all(axis=1)
            bad = np.flatnonzero(present)[~finite]
            geoms[bad] = None
        # a valid near-degenerate footprint can turn invalid when projected: repair it as on reading
        usable_now = np.flatnonzero(np.array([g is not None for g in geoms], dtype=bool) & (reason == ""))
        broken = usable_now[~shapely.is_valid(geoms[usable_now])] if len(usable_now) else usable_now
        n_proj_repaired = 0
        proj_warnings: list[str] = []
        geom_flags = chk.geometry_check.flag.copy()  # the footprints repaired, row by row
        if len(broken):
            rechk = check_geometries(geoms[broken])
            geoms[broken] = rechk.geometry
            reason[broken] = rechk.reason
            geom_flags[broken] = join_flags(geom_flags[broken], np.array(
                [f"{f} after projection to {crs_label(tcrs)}" if f else "" for f in rechk.flag], dtype=object))
            n_proj_repaired = rechk.n_repaired
            proj_warnings.append(f"{where}: {len(broken)} footprints became invalid when projected to "
                                 f"{crs_label(tcrs)}; {rechk.n_repaired} repaired with shapely make_valid, "
                                 f"{rechk.n_unrepairable} excluded ('{REASON_INVALID}')")

        attrs_df = pd.DataFrame(raw.frame.drop(columns=raw.frame.geometry.name))
        osm = is_osm_frame(attrs_df.columns) and not field_map
        if osm:
            attrs, stats = osm_attributes(attrs_df, where=where)
            osm_reason = attrs["osm_reason"].to_numpy(dtype=object)
            reason = np.where(reason == "", osm_reason, reason)
        else:
            attrs, stats = map_attributes(attrs_df, field_map=field_map, value_map=value_map, where=where)
        attrs = fill_heights(attrs, stats, storey_height_m=self.storey_height_m,
                             default_height_m=self.default_height_m, where=where)
        ids = unique_ids(attrs["building_id"], stats, where=where, assigner=assigner, row0=tot.rows)
        attrs["attribute_flags"] = join_flags(attrs["attribute_flags"].to_numpy(dtype=object),
                                              id_flags(attrs["building_id"], ids),
                                              geom_flags) if len(attrs) else attrs["attribute_flags"]
        vchk = chk
        if multi:  # window-local "all far" / "none usable" said after the windows; duplicates across windows
            vchk = dataclasses.replace(chk, problems=[], n_duplicate_geometry=int(tot.checked_digests.duplicates(
                chk.geometry, chk.reason == "").sum()))
        validation = validate_frame(raw, source_crs=source_crs, extent_lon_lat=extent_lon_lat, field_map=field_map,
                                    value_map=value_map, check=vchk, mapped=(attrs, dataclasses.replace(
                                        stats, warnings=list(stats.warnings))))
        height = attrs["height_m"].to_numpy(dtype="float64")
        hsrc = attrs["height_source"].to_numpy(dtype=object)
        names = attrs["name"].to_numpy(dtype=object).copy()
        cats = attrs["category"].to_numpy(dtype=object).copy()
        # footprint sanity: administrative boundaries and areas no building has
        cols_lower = {str(c): c for c in attrs_df.columns}
        bnd = np.zeros(len(reason), dtype=bool)
        for f in _BOUNDARY_FIELDS:
            if f in cols_lower:
                bnd |= (_text(attrs_df[cols_lower[f]]) != "").to_numpy()
        if "boundary" in cols_lower:
            bnd |= (_text(attrs_df["boundary"]).str.lower() == "administrative").to_numpy()
        bnd &= reason == ""
        reason = np.where(bnd, REASON_BOUNDARY, reason)
        areas = np.nan_to_num(shapely.area(np.asarray(geoms, dtype=object)), nan=0.0)  # missing geometry: 0
        big = (reason == "") & (areas > max_footprint_m2)
        reason = np.where(big, REASON_TOO_LARGE, reason)
        if bnd.any() or big.any():
            stats.warnings.append(f"{where}: {int(bnd.sum())} administrative boundaries and {int(big.sum())} footprints "
                                  f"over {max_footprint_m2:,.0f} m2 are not buildings; excluded")
        datav = {"adcode", "acroutes", "childrenNum"} & set(cols_lower)
        datav_hint = ""
        if datav and not source_crs:
            datav_hint = (f"{where} looks like a DataV.GeoAtlas / Amap file (fields {', '.join(sorted(datav))}), whose "
                          "coordinates are GCJ-02: pass --source-crs gcj02")
            stats.warnings.append(datav_hint)
        tot.datav_hint = tot.datav_hint or datav_hint
        # building parts: pieces folded into their outline, which is the building (one site); a source
        # with parts is read in one go (BuildingWindows), so the outline is in this window
        n_parts = n_raised = n_named = 0
        is_part = attrs["is_part"].to_numpy(dtype=bool) if osm else (attrs["part_of"] != "").to_numpy()
        ids_arr = ids.to_numpy(dtype=object)
        if osm:
            in_outline, outline_of, _h, _s, _n = resolve_building_parts(
                geoms, ids_arr, is_part, reason == "", height, hsrc)
        else:
            ok_outlines = set(ids_arr[(reason == "") & ~is_part].tolist())
            part_of = attrs["part_of"].to_numpy(dtype=object)
            in_outline = is_part & (reason == "") & np.array([p in ok_outlines for p in part_of], dtype=bool)
            outline_of = np.where(in_outline, part_of, "").astype(object)
        parts = None
        if in_outline.any():
            pi = np.flatnonzero(in_outline)
            parts = gpd.GeoDataFrame({
                "part_id": ids_arr[pi], "building_id": outline_of[pi], "name": names[pi], "height_m": height[pi],
                "height_source": hsrc[pi], "roof_type": attrs["roof_type"].to_numpy(dtype=object)[pi],
                **{c: attrs[c].to_numpy()[pi] for c in PART_COLUMNS[6:]},
            }, geometry=gpd.GeoSeries(geoms[pi], crs=tcrs), crs=tcrs)
            n_parts = len(parts)
            # a part stating no height stands as high as its outline (not at a category default)
            pos0 = {b: i for i, b in enumerate(ids_arr)}
            o_idx = np.array([pos0[b] for b in parts["building_id"]], dtype=int)
            unstated = parts["height_source"].to_numpy(dtype=object) == "category_default"
            parts.loc[unstated, "height_m"] = height[o_idx][unstated]
            parts.loc[unstated, "height_source"] = "outline"
            # the outline takes the largest named part's name when it has none
            named = parts[parts["name"].astype(str) != ""].assign(_a=lambda d: d.geometry.area)
            best = named.sort_values("_a", ascending=False).drop_duplicates("building_id").set_index("building_id")["name"]
            pos = {b: i for i, b in enumerate(ids_arr)}
            for bid, nm in best.items():
                i = pos[bid]
                if names[i] == "":
                    names[i] = nm
                    n_named += 1
                    hint = category_from_name(nm)
                    if hint and cats[i] in ("other", "public"):
                        cats[i] = hint
            stats.warnings.append(f"{where}: {n_parts} building:part pieces folded into their outlines as roof planes "
                                  f"at their own heights (not counted as buildings); {n_named} outlines named from a part")
        keep = ~in_outline
        dup = (digests.duplicates(geoms, (reason == "") & keep) if digests is not None
               else duplicate_geometries(geoms, (reason == "") & keep))
        reason = np.where(dup, REASON_DUPLICATE_GEOMETRY, reason)
        if dup.any():
            stats.warnings.append(f"{where}: {int(dup.sum())} footprints repeat an earlier one exactly; excluded "
                                  f"('{REASON_DUPLICATE_GEOMETRY}')")

        out = pd.DataFrame({
            "building_id": ids.to_numpy(dtype=object),
            "name": names,
            "category": cats,
            "height_m": height,
            "height_source": hsrc,
            "roof_type": attrs["roof_type"].to_numpy(dtype=object),
            "year_built": pd.array(attrs["year_built"].to_numpy(), dtype="Int64"),
            "existing_pv_kwp": attrs["existing_pv_kwp"].to_numpy(dtype="float64"),
            "owner": attrs["owner"].to_numpy(dtype=object),
            "address": attrs["address"].to_numpy(dtype=object),
            "excluded_reason": reason.astype(object),
            **{c: attrs[c].to_numpy() for c in ("roof_shape", "roof_angle_deg", "roof_height_m", "roof_direction_deg",
                                                "roof_orientation", "heritage", "attribute_flags")},
        })
        for c in ("building_id", "name", "category", "height_source", "roof_type", "owner", "address",
                  "excluded_reason", "roof_shape", "roof_orientation", "heritage", "attribute_flags"):
            out[c] = out[c].astype(object)
        buildings = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=tcrs), crs=tcrs)
        buildings = buildings[[*SCHEMA_COLUMNS, "geometry"]]
        buildings = buildings[keep].reset_index(drop=True)
        reason = reason[keep]
        hsrc = hsrc[keep]

        cchk = chk.coordinate_check
        tot.rows += len(raw.frame)
        tot.reasons.update(reason.tolist())
        tot.hsrc.update(hsrc.tolist())
        tot.n_repaired += chk.geometry_check.n_repaired + n_proj_repaired
        tot.stats.update({k: int(getattr(stats, k)) for k in _STAT_FIELDS})
        tot.swapped += int(cchk.swapped.sum()) if cchk is not None else 0
        tot.outside += int(cchk.outside.sum()) if cchk is not None else 0
        tot.warnings.append([raw.warnings, chk.warnings, proj_warnings, stats.warnings])
        tot.validations.append(validation)
        if not multi:  # building parts (read in one go only)
            tot.stats.update({"n_parts": n_parts, "n_raised": n_raised, "n_named": n_named})
            self._parts, self._fields = parts, dict(stats.fields)
        elif tot.first[0] is raw:
            self._parts, self._fields = None, dict(stats.fields)
        return buildings

    # ---------------------------------------------------------------- after the last window
    def _finish(self, tot: _Totals, multi: bool) -> InputReport:
        raw, chk = tot.first
        where = raw.display
        if multi and tot.geom_usable and tot.far == tot.geom_usable:
            raise CRSError(all_far_message(where, tot.far, chk.crs, self.extent_lon_lat, tot.looks_projected,
                                           bool(chk.crs.is_projected and tot.max_abs_xy <= 180)))
        n_kept = sum(tot.reasons.values())
        n_usable = int(tot.reasons.get("", 0))
        if not n_usable:
            counts = ", ".join(f"{k}: {v}" for k, v in tot.reasons.items()) or "the source is empty"
            datav_hint = tot.datav_hint
            hint = ("footprints must be polygons: give the buildings' polygon layer (--layer), not points or lines; "
                    if set(tot.reasons) == {REASON_NOT_POLYGON} else "") + (datav_hint + "; " if datav_hint else "")
            raise InputError(f"{where}: no usable building among {n_kept} features ({counts}); {hint}"
                             "run `pv-survey validate` on it, check --layer, --source-crs and the field map")
        hs = tot.hsrc
        st = tot.stats
        return InputReport(
            source=where, layer=raw.layer, driver=raw.driver, crs_declared=crs_label(raw.crs),
            crs_used=crs_label(chk.crs) + (f" ({chk.web_map} lon/lat, converted to WGS84)" if chk.web_map else ""),
            target_crs=crs_label(self.tcrs), encoding=raw.encoding, n_read=n_kept,
            n_usable=n_usable, n_repaired=tot.n_repaired,
            excluded={k: int(v) for k, v in tot.reasons.items() if k},
            height_sources={k: int(hs.get(k, 0)) for k in ("attribute", "levels", "category_default")},
            n_height_invalid=st["n_height_invalid"], n_swapped_fixed=tot.swapped, n_outside_extent=tot.outside,
            n_id_duplicate=st["n_id_duplicate"], n_id_missing=st["n_id_missing"],
            n_category_unmapped=st["n_category_unmapped"], n_category_from_name=st["n_category_from_name"],
            n_roof_default=st["n_roof_default"], n_parts_merged=st["n_parts"], n_outline_height_from_parts=st["n_raised"],
            n_names_from_parts=st["n_named"], parts=self._parts,
            fields=self._fields, warnings=[w for k in range(4) for w in merge_window_warnings(
                [ws[k] for ws in tot.warnings])],
            validation=merge_validation_reports(tot.validations),
        )


# --------------------------------------------------------------------------- roof planes

_PLANE_FIELDS = {
    "building_id": ("building_id", "bldg_id", "bld_id", "building", "建筑编号", "建筑物编号", "楼栋编号"),
    "plane_id": ("plane_id", "roof_id", "face_id", "id", "fid", "面编号", "屋面编号"),
    "tilt_deg": ("tilt_deg", "tilt", "slope_deg", "slope", "pitch", "倾角", "坡度"),
    "azimuth_deg": ("azimuth_deg", "azimuth", "aspect_deg", "aspect", "orientation", "方位角", "朝向"),
}


def read_roof_planes(source, *, layer: str | None = None, source_crs: str | None = None,
                     target_crs=SurveyConfig.metric_crs) -> gpd.GeoDataFrame:
    """Read a roof-planes layer (one polygon per roof plane, plan view).

    Fields are found by name (``building_id``; ``plane_id`` or ``roof_id``; ``tilt_deg`` /
    ``tilt`` / ``slope``; ``azimuth_deg`` / ``azimuth`` / ``aspect``). Azimuth is in
    degrees clockwise from north (180 = south) and wrapped into [0, 360).

    Parameters
    ----------
    source : str or Path
        Any source :func:`read_buildings` accepts.
    layer : str, optional
        Layer name.
    source_crs : str, optional
        CRS to assume (``gcj02`` / ``bd09`` allowed).
    target_crs : str or pyproj.CRS
        Metric CRS of the result.

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id`` (str), ``plane_id`` (str, unique), ``tilt_deg`` [deg],
        ``azimuth_deg`` [deg], geometry in ``target_crs``.

    Raises
    ------
    InputError
        A required field is missing, or values are missing or out of range (the message
        names the field, the first bad row and the value).
    CRSError
        No CRS and no ``source_crs``.
    """
    source_crs = _none_if_blank(source_crs)
    tcrs = _target(target_crs)
    raw = read_source(source, layer=_none_if_blank(layer))
    where = raw.display
    frame = raw.frame
    lower = {str(c).casefold(): c for c in frame.columns if c != frame.geometry.name}
    fields = {}
    for key, cands in _PLANE_FIELDS.items():
        col = next((lower[c.casefold()] for c in cands if c.casefold() in lower), None)
        if col is not None and col not in fields.values():
            fields[key] = col
    for key in ("building_id", "tilt_deg", "azimuth_deg"):
        if key not in fields:
            raise InputError(f"{where}: roof planes need a '{key}' field (looked for "
                             f"{', '.join(_PLANE_FIELDS[key])}); fields: {', '.join(map(str, lower.values()))}; "
                             f"name the field {key}")
    crs, web, _w = resolve_source_crs(raw.crs, source_crs, where=where)
    gchk = check_geometries(frame.geometry.values)
    bad = np.flatnonzero(gchk.reason != "")
    if len(bad):
        raise InputError(f"{where}: {len(bad)} roof planes have no usable polygon (first: row {bad[0] + 1}, "
                         f"{gchk.reason[bad[0]]}); fix or remove them")
    bid = _text(frame[fields["building_id"]])
    if (bid == "").any():
        row = int(np.flatnonzero((bid == "").to_numpy())[0])
        raise InputError(f"{where}: roof plane at row {row + 1} has no {fields['building_id']}; every plane "
                         "must name its building")
    tilt = parse_number(frame[fields["tilt_deg"]])
    azi = parse_number(frame[fields["azimuth_deg"]])
    for name, vals, lo, hi in (("tilt_deg", tilt, 0.0, 90.0), ("azimuth_deg", azi, -360.0, 360.0)):
        badv = ~(np.isfinite(vals) & (vals >= lo) & (vals <= hi))
        if badv.any():
            row = int(np.flatnonzero(badv)[0])
            raise InputError(f"{where}: {int(badv.sum())} roof planes have {fields[name]} missing or outside "
                             f"[{lo:g}, {hi:g}] (first: row {row + 1}, value {_plain(frame[fields[name]].iloc[row])!r}); "
                             f"fix or remove them ({name} is degrees"
                             f"{' clockwise from north' if name == 'azimuth_deg' else ''})")
    if "plane_id" in fields:
        pid = _text(frame[fields["plane_id"]])
    else:
        pid = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    pid = pid.where(pid != "", bid + "-" + pd.Series(np.arange(1, len(frame) + 1).astype(str), index=frame.index))
    pid = unique_ids(pid, where=where)
    geoms = gchk.geometry
    if web:
        geoms = _convert_web_map(geoms, web)
    gs = gpd.GeoSeries(geoms, crs=crs, index=frame.index).to_crs(tcrs)
    out = gpd.GeoDataFrame({
        "building_id": bid.to_numpy(dtype=object),
        "plane_id": pid.to_numpy(dtype=object),
        "tilt_deg": tilt,
        "azimuth_deg": np.mod(azi, 360.0),
    }, geometry=gs.values, crs=tcrs)
    return out


def read_obstacles(source, *, layer: str | None = None, source_crs: str | None = None,
                   target_crs=SurveyConfig.metric_crs) -> gpd.GeoDataFrame:
    """Read obstacle polygons (trees, hoardings, plant) with a ``height_m`` field for the DSM.

    Parameters
    ----------
    source : str or Path
        Any source :func:`read_buildings` accepts; needs a numeric ``height_m`` field
        (height above ground). [m]
    layer, source_crs, target_crs
        As for :func:`read_parking`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``height_m`` [m] and polygons in ``target_crs``.

    Raises
    ------
    InputError
        No ``height_m`` field, or heights missing / not positive (the first bad row is named).
    """
    feats = read_parking(source, layer=layer, source_crs=source_crs, target_crs=target_crs)
    if "height_m" not in feats.columns:
        raise InputError(f"{source}: obstacles need a 'height_m' field (height above ground in metres); "
                         f"fields: {', '.join(c for c in feats.columns if c not in (feats.geometry.name, 'parking_id'))}")
    h = parse_number(feats["height_m"])
    bad = ~(np.isfinite(h) & (h > 0) & (h < 1000))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source}: {int(bad.sum())} obstacles have height_m missing or outside (0, 1000) m "
                         f"(first: row {row + 1}, value {_plain(feats['height_m'].iloc[row])!r}); fix or remove them")
    return gpd.GeoDataFrame({"height_m": h}, geometry=feats.geometry.values, crs=feats.crs)


def read_parking(source, *, layer: str | None = None, source_crs: str | None = None,
                 target_crs=SurveyConfig.metric_crs) -> gpd.GeoDataFrame:
    """Read car-park polygons (a parking layer or OSM features) for the carport survey.

    Every attribute is carried through (``amenity`` / ``parking`` OSM tags let
    :func:`pv_survey.carports.select_surface_parking` keep surface lots only). Rows
    without a usable polygon are dropped with a count in the log: car parks are a
    separate resource, never buildings, so the buildings accounting is not affected.

    Parameters
    ----------
    source : str or Path
        Any source :func:`read_buildings` accepts.
    layer : str, optional
        Layer name.
    source_crs : str, optional
        CRS to assume (``gcj02`` / ``bd09`` allowed).
    target_crs : str or pyproj.CRS
        Metric CRS of the result.

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons in ``target_crs`` with their attributes and a ``parking_id`` (str).
    """
    source_crs = _none_if_blank(source_crs)
    tcrs = _target(target_crs)
    raw = read_source(source, layer=_none_if_blank(layer))
    frame = raw.frame
    where = raw.display
    crs, web, _w = resolve_source_crs(raw.crs, source_crs, where=where)
    gchk = check_geometries(frame.geometry.values)
    ok = gchk.reason == ""
    if len(frame) and not ok.any():
        counts = ", ".join(f"{k}: {v}" for k, v in Counter(gchk.reason.tolist()).items())
        raise InputError(f"{where}: none of the {len(frame)} features is a usable polygon ({counts}); give the "
                         "polygon layer (--layer) or export the areas as polygons")
    # every geometry must be a place on Earth in the declared CRS (metres labelled as degrees are not)
    cchk = check_coordinates(gchk.geometry[ok], crs, None)
    if cchk.far.all():
        hint = (f"the coordinates look projected (metres) although the CRS is {crs_label(crs)}: pass the right "
                "--source-crs, e.g. EPSG:4547" if cchk.looks_projected else "check --source-crs and the file's CRS")
        raise CRSError(f"{where}: none of the {int(ok.sum())} features has valid coordinates in {crs_label(crs)}; "
                       f"{hint}")
    n_dropped = int((~ok).sum()) + int(cchk.far.sum())
    if n_dropped:
        log.warning("%s: %d of %d features have no usable polygon or impossible coordinates; left out",
                    where, n_dropped, len(frame))
    ok[np.flatnonzero(ok)[cchk.far]] = False
    geoms = gchk.geometry[ok]
    if web:
        geoms = _convert_web_map(geoms, web)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name)).loc[ok].reset_index(drop=True)
    gs = gpd.GeoSeries(geoms, crs=crs).to_crs(tcrs)
    idcol = next((c for c in ("parking_id", "id", "osm_id") if c in attrs.columns), None)
    pid = attrs[idcol].astype(str) if idcol else pd.Series([f"P{i + 1:06d}" for i in range(len(attrs))])
    attrs["parking_id"] = pid.to_numpy(dtype=object)
    return gpd.GeoDataFrame(attrs, geometry=gs.values, crs=tcrs)


def _datav_crs(source, layer: str | None, source_crs: str | None) -> str | None:
    """``source_crs``, or ``"gcj02"`` for a DataV.GeoAtlas file (fields ``adcode``, ``acroutes``) given
    without one: DataV publishes its boundaries in GCJ-02 and declares WGS84."""
    if source_crs:
        return source_crs
    probe = read_source(source, layer=_none_if_blank(layer))
    return "gcj02" if {"adcode", "acroutes"} <= set(map(str, probe.frame.columns)) else source_crs


def read_boundary(source, *, layer: str | None = None, source_crs: str | None = None,
                  target_crs=SurveyConfig.metric_crs) -> gpd.GeoDataFrame:
    """Read a district boundary: every polygon of the source, dissolved into one area.

    Parameters
    ----------
    source : str or Path
        Any source :func:`read_buildings` accepts (GeoJSON, GeoPackage, Shapefile, ...).
    layer : str, optional
        Layer name.
    source_crs : str, optional
        CRS to assume (``gcj02`` / ``bd09`` allowed). A DataV.GeoAtlas file (fields
        ``adcode``, ``acroutes``) without one is read as GCJ-02, as :func:`read_zones` does.
    target_crs : str or pyproj.CRS
        Metric CRS of the result.

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``name`` (the features' ``name`` values joined, else the file stem),
        ``area_km2`` [km2] and the dissolved (Multi)Polygon in ``target_crs``.

    Raises
    ------
    InputError
        No usable polygon in the source.
    """
    source_crs = _datav_crs(source, layer, source_crs)
    feats = read_parking(source, layer=layer, source_crs=source_crs, target_crs=target_crs)
    names = _text(feats["name"]) if "name" in feats.columns else pd.Series([], dtype=object)
    names = [n for n in dict.fromkeys(names.tolist()) if n]
    label = " / ".join(names) or Path(str(source)).stem
    area = shapely.union_all(feats.geometry.to_numpy())
    return gpd.GeoDataFrame({"name": [label], "area_km2": [float(area.area) / 1e6]}, geometry=[area],
                            crs=feats.crs)


def read_zones(source, *, field: str = InputsConfig.zone_field, layer: str | None = None, source_crs: str | None = None,
               target_crs=SurveyConfig.metric_crs) -> gpd.GeoDataFrame:
    """Read reporting zones (街道 sub-districts, communities, industrial parks): polygons with a name.

    Parameters
    ----------
    source : str or Path
        Any source :func:`read_buildings` accepts.
    field : str
        Field holding the zone name (default ``name``).
    layer, source_crs, target_crs
        As for :func:`read_parking`. A DataV.GeoAtlas file (fields ``adcode``, ``acroutes``)
        without ``source_crs`` is read as GCJ-02, the frame DataV publishes in.

    Returns
    -------
    geopandas.GeoDataFrame
        ``zone`` (str) and polygons in ``target_crs``, one row per zone (rows of one name dissolved).

    Raises
    ------
    InputError
        The field is missing, or a zone has no name (the first bad row is named).
    """
    source_crs = _datav_crs(source, layer, source_crs)
    feats = read_parking(source, layer=layer, source_crs=source_crs, target_crs=target_crs)
    if field not in feats.columns:
        raise InputError(f"{source}: zones need a name field '{field}'; give --zone-field, one of: "
                         f"{', '.join(c for c in feats.columns if c != feats.geometry.name) or '(none)'}")
    names = _text(feats[field])
    if (names == "").any():
        row = int(np.flatnonzero((names == "").to_numpy())[0])
        raise InputError(f"{source}: zone row {row + 1} has no {field}; name every zone")
    z = gpd.GeoDataFrame({"zone": names.to_numpy(dtype=object)}, geometry=feats.geometry.values, crs=feats.crs)
    return z.dissolve(by="zone", sort=True).reset_index()[["zone", "geometry"]]
