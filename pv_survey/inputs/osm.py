"""OpenStreetMap buildings: tags -> schema, underground structures, building parts, .osm.pbf.

Two sources give OSM buildings: GeoJSON exports with the tags as properties (overpass
turbo, QuickOSM, the sample in ../shared/data) and ``.osm.pbf`` extracts, read here with
**pyosmium** (``osmium`` on PyPI). Why pyosmium: it is the Python binding of libosmium,
maintained by the OSM core developers alongside osmium-tool, ships binary wheels for
Linux/macOS/Windows, and its area assembler builds (multi)polygons from closed ways and
multipolygon relations exactly as the OSM data model defines them, streaming the file
without loading it into a database. pyrosm is stale (last release 2022, no wheels for
current Python) and QuickOSM-style DuckDB readers (quackosm) pull in DuckDB and a
GeoParquet cache for what is, here, a one-pass filter.

Tag mapping (:func:`osm_attributes`)
------------------------------------
* ``height`` -> height (attribute); ``building:levels`` -> storeys (times the category's
  storey height, :data:`pv_survey.inputs.schema.STOREY_HEIGHT_M`). Per the OSM wiki
  (Key:building:levels) levels count from the ground, including those skipped by
  ``building:min_level``.
* ``roof:shape`` -> ``flat`` or ``pitched`` (every non-flat shape is pitched).
* Category from ``building=*`` (form) and ``amenity`` / ``office`` / ``government`` /
  ``healthcare`` / ``shop`` / ``tourism`` / ``man_made`` (function); when several apply
  the one first in the plan's priority order wins (government, hospital, school, public,
  industrial, commercial, residential, other). A building whose tags say only
  ``building=yes`` -- or only ``amenity=public_building`` -- is refined by keywords of its
  Chinese name (政府/政务/海关 -> government, 医院 -> hospital, 小学/中学/学校 -> school);
  counted as ``n_category_from_name``.
* ``name``, else ``name:zh``, ``name:zh-Hans``, ``name:en``, ``alt_name``; ``owner`` or
  ``operator``; ``addr:*`` joined; ``start_date`` -> year built.

Underground structures are kept in the frame but excluded (reason ``'underground
structure'``): ``location=underground`` or ``building=underground``; ``layer`` < 0
with no above-ground height or levels; or only ``building:levels:underground`` and no
above-ground levels or height. A ``layer`` < 0 building that *does* state above-ground
levels or height (e.g. a mall over a sunken plaza) is kept, with a warning.

Building parts (:func:`resolve_building_parts`): a ``building:part`` polygon lying at
least half inside a ``building`` outline belongs to it. ``read_buildings`` takes such parts
out of the buildings (they are not buildings) into ``InputReport.parts``, and
``pv_survey.roofs.part_roof_planes`` makes their roofs, at their own heights, roof planes of
the outline, which keeps its own height. A part with no outline is kept as a building of
its own. Roof tags (``roof:shape``, ``roof:angle``, ``roof:height``, ``roof:direction``,
``roof:orientation``) and heritage tags (``heritage``, ``historic``, ``listed_status``) are
carried as columns for the roofs stage.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..errors import InputFileError
from .schema import (CATEGORIES, MappingStats, _roof_types, _text, category_from_name, join_flags,
                     not_number_flags, parse_direction_deg, parse_number, parse_year, roof_shapes)

__all__ = [
    "OSM_KEYS",
    "REASON_UNDERGROUND",
    "REASON_PART",
    "REASON_NOT_BUILDING",
    "is_osm_frame",
    "osm_category",
    "osm_attributes",
    "resolve_building_parts",
    "read_osm_pbf",
]

REASON_UNDERGROUND = "underground structure"
REASON_PART = "building part (outline kept)"  # no longer set by read_buildings (issue 16); kept for callers
REASON_NOT_BUILDING = "not a building (no building tag)"

#: Share of a part's area that must lie inside an outline for the part to belong to it
#: (project rule: a majority, so a part straddling two outlines goes to the larger overlap).
PART_IN_OUTLINE_FRAC = 0.5

#: Tags kept when reading an .osm.pbf (everything the mapping uses, plus useful context).
OSM_KEYS = (
    "building", "building:part", "height", "min_height", "building:levels", "building:min_level",
    "building:levels:underground", "roof:shape", "roof:levels", "layer", "location", "amenity", "office",
    "government", "healthcare", "shop", "tourism", "man_made", "industrial", "name", "name:zh",
    "name:zh-Hans", "name:en", "alt_name", "owner", "operator", "start_date", "addr:full",
    "addr:province", "addr:city", "addr:district", "addr:street", "addr:housenumber", "addr:postcode",
    "roof:angle", "roof:height", "roof:direction", "roof:orientation", "heritage", "historic", "listed_status",
    "heritage:operator",
)

#: Tags marking a protected building (OSM wiki Key:heritage, Key:historic, Key:listed_status).
HERITAGE_KEYS = ("heritage", "historic", "listed_status")

# building=* values per category (OSM wiki Key:building, the documented values).
_BUILDING_VALUES = {
    "government": {"government", "townhall"},
    "hospital": {"hospital", "clinic"},
    "school": {"school", "university", "college", "kindergarten"},
    "public": {"public", "civic", "train_station", "transportation", "museum", "sports_hall", "stadium",
               "fire_station", "library", "sports_centre", "grandstand", "pavilion"},
    "industrial": {"industrial", "warehouse", "factory", "manufacture", "hangar", "storage_tank", "works"},
    "commercial": {"commercial", "office", "retail", "supermarket", "hotel", "kiosk", "shop", "mall"},
    "residential": {"residential", "apartments", "house", "detached", "dormitory", "terrace",
                    "semidetached_house", "bungalow", "villa", "hut", "cabin", "farm"},
}
# amenity=* values per category (OSM wiki Key:amenity).
_AMENITY_VALUES = {
    "government": {"townhall", "courthouse", "police", "embassy", "ranger_station"},
    "hospital": {"hospital", "clinic", "doctors", "dentist"},
    "school": {"school", "university", "college", "kindergarten"},
    "public": {"public_building", "library", "community_centre", "arts_centre", "theatre", "fire_station",
               "social_facility", "exhibition_centre", "events_venue", "bus_station", "post_office",
               "conference_centre", "cinema"},
    "commercial": {"bank", "marketplace", "restaurant", "fast_food", "cafe"},
}
_HEALTHCARE_VALUES = {"hospital", "clinic", "centre", "doctor"}

def is_osm_frame(columns) -> bool:
    """True when a table looks like OSM data (a ``building`` or ``building:part`` field)."""
    cols = set(map(str, columns))
    return "building" in cols or "building:part" in cols


def _get(tags: dict, key: str) -> str:
    v = tags.get(key)
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v).strip()


def osm_category(tags: dict) -> tuple[str, bool]:
    """Category of one OSM object from its tags.

    Parameters
    ----------
    tags : dict
        OSM key -> value.

    Returns
    -------
    category : str
        One of :data:`pv_survey.inputs.schema.CATEGORIES`.
    from_name : bool
        True when the category came from a keyword of the Chinese name.
    """
    building = _get(tags, "building") or _get(tags, "building:part")
    building = building.lower()
    amenity = _get(tags, "amenity").lower()
    office = _get(tags, "office").lower()
    found = set()
    for cat, vals in _BUILDING_VALUES.items():
        if building in vals:
            found.add(cat)
    for cat, vals in _AMENITY_VALUES.items():
        if amenity in vals:
            found.add(cat)
    if office in ("government", "administrative") or _get(tags, "government") not in ("", "no"):
        found.add("government")
    elif office and office != "no":
        found.add("commercial")
    if _get(tags, "healthcare").lower() in _HEALTHCARE_VALUES:
        found.add("hospital")
    if _get(tags, "shop") not in ("", "no") or _get(tags, "tourism").lower() in ("hotel", "hostel", "motel"):
        found.add("commercial")
    if _get(tags, "man_made").lower() == "works" or _get(tags, "industrial") not in ("", "no"):
        found.add("industrial")
    cat = next((c for c in CATEGORIES if c in found), "other")
    if cat in ("other", "public"):
        hint = category_from_name(_get(tags, "name") or _get(tags, "name:zh"))
        if hint:
            return hint, True
    return cat, False


def _osm_id(value: str) -> str:
    """'way/123' or 'w123' -> 'w123'; 'relation/5' -> 'r5'; other values unchanged."""
    m = re.fullmatch(r"(node|way|relation)/(\d+)", value)
    if m:
        return m.group(1)[0] + m.group(2)
    return value


def osm_attributes(df: pd.DataFrame, *, where: str = "input") -> tuple[pd.DataFrame, MappingStats]:
    """Map a table of OSM tags (one column per key) to the schema's attribute columns.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per OSM object, tag keys as columns; ids in ``id`` or ``@id``
        (``w123`` or ``way/123``) or ``osm_id`` (+ ``osm_type``).
    where : str
        Name of the source, for messages.

    Returns
    -------
    attrs : pandas.DataFrame
        Same columns as :func:`pv_survey.inputs.schema.map_attributes`, plus ``is_part``
        (bool) and ``osm_reason`` (str: underground / not a building, '' otherwise).
    stats : MappingStats
    """
    n, idx = len(df), df.index
    stats = MappingStats(fields={"source": "OpenStreetMap tags"})
    cols = set(df.columns)

    def col(key):
        return _text(df[key]) if key in cols else pd.Series([""] * n, index=idx, dtype="object")

    if "id" in cols:
        ids = col("id").map(_osm_id)
    elif "@id" in cols:
        ids = col("@id").map(_osm_id)
    elif "osm_id" in cols:
        typ = col("osm_type").map(lambda t: t[:1]) if "osm_type" in cols else pd.Series([""] * n, index=idx)
        ids = typ + col("osm_id")
    else:
        ids = pd.Series([""] * n, index=idx, dtype="object")
    building, part = col("building"), col("building:part")
    records = df.drop(columns=[c for c in ("geometry",) if c in cols]).to_dict("records") if n else []
    cats, from_name = [], 0
    for rec in records:
        c, by_name = osm_category(rec)
        cats.append(c)
        from_name += by_name
    stats.n_category_from_name = from_name

    name = col("name")
    for alt in ("name:zh", "name:zh-Hans", "name:en", "alt_name"):
        name = name.where(name != "", col(alt))
    owner = col("owner").where(col("owner") != "", col("operator"))
    if "addr:full" in cols:
        address = col("addr:full")
    else:
        parts = [col(k) for k in ("addr:city", "addr:district", "addr:street", "addr:housenumber")]
        address = pd.Series([" ".join(p for p in row if p) for row in zip(*[p.tolist() for p in parts])],
                            index=idx, dtype="object") if n else pd.Series([], dtype="object")
    height = parse_number(col("height"))
    levels = parse_number(col("building:levels"))
    layer = parse_number(col("layer"))
    under_levels = parse_number(col("building:levels:underground"))
    location = col("location").str.lower()

    above = (np.nan_to_num(height) > 0) | (np.nan_to_num(levels) > 0)
    underground = (
        (location == "underground").to_numpy()
        | (building.str.lower() == "underground").to_numpy()
        | ((np.nan_to_num(layer) < 0) & ~above)
        | ((np.nan_to_num(under_levels) > 0) & ~above)
    )
    kept_low = (np.nan_to_num(layer) < 0) & above & ~underground
    is_building = (building != "") & (building.str.lower() != "no")
    is_part = ~is_building & (part != "") & (part.str.lower() != "no")
    reason = np.where(~(is_building | is_part), REASON_NOT_BUILDING, np.where(underground, REASON_UNDERGROUND, ""))

    attrs = pd.DataFrame(index=idx)
    attrs["building_id"] = ids
    attrs["name"] = name
    attrs["category"] = pd.Series(cats, index=idx, dtype="object")
    attrs["height_attr_m"] = height
    attrs["floors"] = levels
    attrs["roof_type"], stats.n_roof_default, stats.n_roof_unmapped = _roof_types(
        col("roof:shape") if "roof:shape" in cols else None, n, idx)
    attrs["year_built"], stats.n_year_unparsed = parse_year(col("start_date"))
    attrs["existing_pv_kwp"] = 0.0
    attrs["owner"] = owner
    attrs["address"] = address
    attrs["roof_shape"] = roof_shapes(col("roof:shape") if "roof:shape" in cols else None, n, idx)
    attrs["roof_angle_deg"] = parse_number(col("roof:angle"))
    attrs["roof_height_m"] = parse_number(col("roof:height"))
    attrs["roof_direction_deg"] = parse_direction_deg(col("roof:direction"))
    attrs["roof_orientation"] = col("roof:orientation").str.lower()
    her = [col(k).map(lambda v, k=k: f"{k}={v}" if v and v.lower() != "no" else "") for k in HERITAGE_KEYS]
    attrs["heritage"] = join_flags(*[h.to_numpy(dtype=object) for h in her]) if n else []
    attrs["attribute_flags"] = join_flags(
        not_number_flags(col("height"), height, "height"), not_number_flags(col("building:levels"), levels,
                                                                            "building:levels"),
        not_number_flags(col("start_date"), attrs["year_built"].astype("Float64").to_numpy(
            dtype=float, na_value=np.nan), "start_date")) if n else []
    attrs["part_of"] = ""
    attrs["is_part"] = is_part.to_numpy()
    attrs["osm_reason"] = reason
    n_under = int((reason == REASON_UNDERGROUND).sum())
    if n_under:
        stats.warnings.append(f"{where}: {n_under} underground structures (layer < 0, location=underground or "
                              "only underground levels) kept in the frame but excluded from roofs")
    if int(kept_low.sum()):
        stats.warnings.append(f"{where}: {int(kept_low.sum())} buildings tagged layer < 0 state above-ground levels "
                              "or height and are kept as roofs")
    n_not = int((reason == REASON_NOT_BUILDING).sum())
    if n_not:
        stats.warnings.append(f"{where}: {n_not} features carry neither building=* nor building:part=*; excluded")
    if from_name:
        stats.warnings.append(f"{where}: {from_name} categories refined from keywords of the name "
                              "(政府/政务/海关, 医院, 学校/小学/中学...)")
    return attrs, stats


def resolve_building_parts(geometry, ids, is_part, usable, height_m, height_source
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Fold ``building:part`` pieces into the building outlines that contain them.

    Parameters
    ----------
    geometry : geopandas.GeoSeries
        Footprints in a metric CRS.
    ids : array_like of str
        Building ids.
    is_part : array_like of bool
        True for ``building:part`` features.
    usable : array_like of bool
        False for rows already excluded (invalid geometry, underground...), ignored here.
    height_m : array_like of float
        Heights. [m]
    height_source : array_like of str
        ``attribute | levels | category_default``.

    Returns
    -------
    part_in_outline : numpy.ndarray of bool
        Parts that lie at least :data:`PART_IN_OUTLINE_FRAC` inside a usable outline.
    outline_of : numpy.ndarray of object
        The id of that outline ('' elsewhere).
    height_m, height_source : numpy.ndarray
        Updated: each outline takes the greatest stated height among itself and its parts.
    n_raised : int
        Outlines whose height came from a part.
    """
    is_part = np.asarray(is_part, dtype=bool)
    usable = np.asarray(usable, dtype=bool)
    ids = np.asarray(ids, dtype=object)
    height = np.asarray(height_m, dtype="float64").copy()
    source = np.asarray(height_source, dtype=object).copy()
    n = len(is_part)
    in_outline = np.zeros(n, dtype=bool)
    outline_of = np.full(n, "", dtype=object)
    parts = np.flatnonzero(is_part & usable)
    outlines = np.flatnonzero(~is_part & usable)
    if len(parts) == 0 or len(outlines) == 0:
        return in_outline, outline_of, height, source, 0
    geoms = np.asarray(geometry.values if hasattr(geometry, "values") else geometry, dtype=object)
    tree = shapely.STRtree(geoms[outlines])
    best: dict[int, tuple[float, int]] = {}
    # parts wholly within an outline (the usual case) need no intersection
    w_p, w_o = tree.query(geoms[parts], predicate="within")
    for pi, oi in zip(w_p, w_o):
        best.setdefault(int(pi), (1.0, int(oi)))
    p_idx, o_idx = tree.query(geoms[parts], predicate="intersects")
    rest = ~np.isin(p_idx, w_p)
    p_idx, o_idx = p_idx[rest], o_idx[rest]
    if len(p_idx):
        inter = shapely.area(shapely.intersection(geoms[parts][p_idx], geoms[outlines][o_idx]))
        part_area = shapely.area(geoms[parts][p_idx])
        frac = np.divide(inter, part_area, out=np.zeros_like(inter), where=part_area > 0)
        for pi, oi, fr in zip(p_idx, o_idx, frac):
            if fr >= PART_IN_OUTLINE_FRAC and fr > best.get(int(pi), (-1.0, -1))[0]:
                best[int(pi)] = (float(fr), int(oi))
    n_raised = 0
    for pi, (_, oi) in best.items():
        p, o = parts[pi], outlines[oi]
        in_outline[p] = True
        outline_of[p] = ids[o]
        if source[p] == "category_default":
            continue
        if source[o] == "category_default" or height[p] > height[o]:
            if height[p] != height[o] or source[o] != source[p]:
                n_raised += 1
            height[o], source[o] = height[p], source[p]
    return in_outline, outline_of, height, source, n_raised


def read_osm_pbf(path: str | Path):
    """Read building polygons from an ``.osm.pbf`` (or ``.osm`` / ``.osm.bz2``) file with pyosmium.

    Closed ways and multipolygon relations tagged ``building=*`` or ``building:part=*`` are
    assembled into (multi)polygons by libosmium's area assembler. Building ways and
    relations that cannot be assembled (unclosed ways, broken relations) are returned too,
    with no geometry, so the caller can count and report them.

    Parameters
    ----------
    path : str or Path
        The OSM file.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id`` (``w<way id>`` / ``r<relation id>``), one column per key of :data:`OSM_KEYS`
        present, geometry in EPSG:4326.

    Raises
    ------
    InputFileError
        When the file cannot be read by libosmium.
    """
    import geopandas as gpd
    import osmium

    path = Path(path)
    keys = ("building", "building:part")
    wkb = osmium.geom.WKBFactory()
    rows: list[dict] = []
    geoms: list = []
    seen: set[str] = set()
    candidates: dict[str, dict] = {}
    try:
        fp = (osmium.FileProcessor(str(path))
              .with_areas(osmium.filter.KeyFilter(*keys))
              .with_filter(osmium.filter.KeyFilter(*keys)))
        for obj in fp:
            tags = {t.k: t.v for t in obj.tags if t.k in OSM_KEYS}
            if obj.is_area():
                oid = ("w" if obj.from_way() else "r") + str(obj.orig_id())
                try:
                    geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                except RuntimeError:  # libosmium: area with no usable rings
                    continue
                rows.append({"id": oid, **tags})
                geoms.append(geom)
                seen.add(oid)
            elif obj.is_way():
                candidates[f"w{obj.id}"] = tags
            elif obj.is_relation() and obj.tags.get("type") == "multipolygon":
                candidates[f"r{obj.id}"] = tags
    except RuntimeError as exc:
        raise InputFileError(f"{path}: libosmium cannot read it ({exc}); check it is an OSM PBF/XML file") from exc
    for oid, tags in candidates.items():
        if oid not in seen:
            rows.append({"id": oid, **tags})
            geoms.append(None)
    frame = pd.DataFrame(rows, columns=["id", *[k for k in OSM_KEYS if any(k in r for r in rows)]])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
