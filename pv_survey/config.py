"""Scenario configuration: one TOML file, typed frozen dataclasses.

Every setting has a default written down with its source (see the ``source``
entry of each field's metadata, repeated in ``scenarios/tianhe-default.toml``
and the README). Unknown keys, wrong types and out-of-range values are
rejected with the key's dotted name, the value seen and what to do.

Only :mod:`pv_survey.pipeline` unpacks a :class:`Config`; library functions
take plain arguments.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .presets import DEFAULT_MODULE, module_names

__all__ = [
    "Config",
    "SurveyConfig",
    "InputsConfig",
    "RoofsConfig",
    "RoofConstraints",
    "CategoryRule",
    "ShadingConfig",
    "EnergyConfig",
    "Target",
    "PlanConfig",
    "CategoryShare",
    "CategoryEconomics",
    "EconomicsConfig",
    "ResourcesConfig",
    "OutputsConfig",
    "FluxConfig",
    "load_config",
    "read_toml",
    "config_from_dict",
    "config_to_dict",
    "describe_defaults",
    "check_name",
]


def _f(default: Any, source: str, *, lo: float | None = None, hi: float | None = None,
       lo_open: bool = False, choices: tuple | None = None, factory: bool = False):
    """A dataclass field with its documented source and accepted range."""
    meta = {"source": source, "lo": lo, "hi": hi, "lo_open": lo_open, "choices": choices}
    if factory:
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def check_name(value: str, what: str) -> str:
    """``value`` when it can name one folder inside an output folder, else :class:`ConfigError`.

    Run and scenario names become folder names (``outputs/<name>``, ``<batch>/<scenario>``);
    a name must never reach outside: no path separator (``/``, ``\\``), drive colon, NUL or
    other control character, not ``.`` or ``..``, not empty, at most 200 characters.

    Parameters
    ----------
    value : str
        The name.
    what : str
        Where it came from, for the message (e.g. ``"'survey.name'"``, ``"--name"``).
    """
    bad = None
    if not isinstance(value, str) or not value.strip():
        bad = "is empty"
    elif value.strip() in (".", ".."):
        bad = "is a relative folder reference"
    elif any(c in value for c in "/\\:"):
        bad = "holds a path separator or colon"
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        bad = "holds a NUL or control character"
    elif len(value) > 200:
        bad = f"is {len(value)} characters long (at most 200)"
    if bad:
        raise ConfigError(f"{what} = {value!r} {bad}; a name becomes a folder name inside the output folder: "
                          "use letters, digits, Chinese characters, spaces, '-', '_' or '.'")
    return value


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class SurveyConfig:
    """Name, area and coordinate system of the survey."""

    name: str = _f("tianhe-demo", "Name of the run; the output directory defaults to outputs/<name>.")
    metric_crs: str = _f(
        "EPSG:4547",
        "CGCS2000 / 3-degree Gauss-Kruger CM 114E, the national datum's projected "
        "zone covering 112.5-115.5 E (EPSG registry; ../shared/REFERENCES.md).",
    )
    centre_lon_deg: float = _f(113.37, "Tianhe District centre, used to check weather-file distance.",
                               lo=-180, hi=180)
    centre_lat_deg: float = _f(23.175, "Tianhe District centre (WGS84 / CGCS2000).", lo=-90, hi=90)
    extent_lon_lat: tuple[float, ...] = _f(
        (113.28, 23.08, 113.46, 23.27),
        "Plausible extent (min lon, min lat, max lon, max lat) around Tianhe; inputs "
        "outside it are reported. Tianhe boundary bounds are 113.296-113.443 E, "
        "23.101-23.248 N (DataV boundary, ../shared/data/PROVENANCE.md).",
    )


@dataclass(frozen=True)
class InputsConfig:
    """Input files. Empty strings mean "not given"; buildings default to the embedded demo."""

    buildings: str = _f(
        "",
        "Building footprints: GeoPackage, Shapefile (or .zip), GeoJSON (incl. OSM exports), FlatGeobuf, "
        "GeoParquet, File Geodatabase, .osm.pbf, a PostGIS URL postgresql://user@host:port/db?table=schema.name "
        "or a GDAL 'PG:... tables=schema.name' string; empty = embedded demo district in data/.",
    )
    layer: str = _f("", "Layer of a multi-layer buildings source (GeoPackage, FileGDB; PostGIS: schema.table); "
                        "empty = a layer named 'buildings', else the only polygon layer.")
    roofs: str = _f("", "Optional roof-planes layer with tilt_deg / azimuth_deg per plane.")
    roofs_layer: str = _f("", "Layer of the roofs source.")
    dsm: str = _f("", "Optional DSM GeoTIFF; empty = rasterise footprints x heights.")
    obstacles: str = _f("", "Obstacles for the DSM: polygons with height_m above ground (trees, plant), or a "
                            "raster of obstacle heights (e.g. a canopy height model; with --dsm).")
    obstacles_layer: str = _f("", "Layer of the obstacles source.")
    parking: str = _f("", "Car parks (polygons, or OSM features with amenity=parking) for the carport survey; "
                          "empty = the embedded demo car parks when the buildings are the demo district.")
    parking_layer: str = _f("", "Layer of the parking source.")
    dem: str = _f("", "Optional DEM GeoTIFF, subtracted from the DSM to give heights above ground.")
    weather: str = _f("", "Weather file (EPW, TMY3, PVGIS); empty = embedded Guangzhou default year.")
    source_crs: str = _f("", "CRS to assume when the file declares none (or to override it), e.g. EPSG:4490; "
                             "gcj02 / bd09 for web-map (Amap, Tencent / Baidu) lon/lat.")
    encoding: str = _f("", "Attribute encoding of shapefiles (e.g. gbk); empty = the .cpg, else detected "
                           "(UTF-8, then GB18030).")
    field_map: dict[str, str] = _f(dict, "Map of schema field -> source field name, e.g. category = '建筑类型', "
                                         "floors = '层数'; unmapped fields are found by common names.",
                                   factory=True)
    value_map: dict[str, str] = _f(dict, "Map of source category value -> schema category, e.g. '学校' = 'school'.",
                                   factory=True)
    max_footprint_m2: float = _f(
        200_000.0,
        "Footprints larger than this are excluded as not buildings (a district boundary read as buildings). "
        "Project choice (issue 16): several times the largest single roofs of Tianhe; raise it for "
        "exhibition complexes.", lo=0, lo_open=True)
    read_window_features: int = _f(
        100_000,
        "A buildings file with more features is read and normalised in windows of this many (ids and duplicate "
        "footprints carried across windows; the table is the one a read in one go gives): reading holds one "
        "window's raw features, not the file's. Smaller files are read in one go. Project choice: about 0.35 GB of "
        "intermediate tables a window (3.5 KB a feature, bench/bench_read.py).", lo=1)
    zones: tuple[str, ...] = _f((), "Reporting zone layers (街道 sub-districts, communities, industrial parks; any GIS "
                                    "format): each building gets the zone holding the larger share of its footprint; "
                                    "zones.csv and the GeoPackage 'zones' layer sum the plan per zone.")
    zone_field: str = _f("name", "Field holding the zone name in every zone layer.")
    boundary: str = _f("", "District boundary (polygons, any GIS format; a DataV.GeoAtlas file is read as GCJ-02): "
                           "drawn on the report map and written as the GeoPackage 'boundary' layer; buildings "
                           "outside it are counted in the run's notes (they are still surveyed).")
    protected: str = _f("", "Protected heritage buildings or areas (polygons, any GIS format): buildings at least half "
                            "inside are treated as heritage ([roofs.constraints] heritage).")


@dataclass(frozen=True)
class RoofConstraints:
    """Roofs a planner keeps out of the build years: 'exclude', 'reserve' (surveyed, held in reserve) or 'ignore'."""

    heritage: str = _f(
        "exclude",
        "Heritage / historic / listed buildings (OSM heritage=*, historic=*, listed_status=*, or a mapped "
        "heritage field): the Cultural Relics Protection Law of the PRC (arts. 17-19, as commonly cited) and "
        "the Regulations on the Protection of Famous Historical and Cultural Cities, Towns and Villages restrict "
        "works on protected buildings; reason 文物/历史建筑.", choices=("exclude", "reserve", "ignore"))
    supertall: str = _f(
        "reserve",
        "Buildings above supertall_height_m: flagged 'supertall roof: helipad, access and wind load to verify' "
        "and held in reserve by default.", choices=("exclude", "reserve", "ignore"))
    supertall_height_m: float = _f(
        100.0,
        "GB 50016-2014 (2018 ed.) s.7.4.1: public buildings over 100 m with a floor over 2,000 m2 should "
        "provide a helicopter landing area or rescue platform on the roof.", lo=0, lo_open=True)


@dataclass(frozen=True)
class CategoryRule:
    """Module layout on the roofs of one category and roof kind."""

    category: str = _f("industrial", "Building category the rule applies to.")
    roof_kind: str = _f("flat", "Roof planes the rule applies to: 'flat' or 'pitched'.", choices=("flat", "pitched"))
    mount: str = _f("flush", "'flush' (on the roof, no rows) or 'rack' (tilted rows).", choices=("flush", "rack"))
    module_tilt_deg: float = _f(0.0, "Module tilt; flush modules on a flat plane lie at this tilt. [deg]", lo=0, hi=60)
    coverage_frac: float = _f(0.85, "Module area per usable roof area (the rule's GCR).", lo=0, hi=1, lo_open=True)


def _default_category_rules() -> tuple[CategoryRule, ...]:
    # Project assumption (no published Guangdong figure found): low-slope colour-steel (彩钢瓦)
    # factory roofs, mapped as flat, carry modules clamped flush to the sheeting (slope ~3 deg,
    # taken as 0) over 85 % of the usable area, leaving maintenance walkways; no row gaps.
    return (CategoryRule("industrial", "flat", "flush", 0.0, 0.85),)


@dataclass(frozen=True)
class RoofsConfig:
    """Usable area, module layout and capacity."""

    edge_setback_m: float = _f(
        1.0,
        "Clear edge strip for access and fire safety; the International Fire Code "
        "2018 s.1204 asks for 0.9-1.2 m (3-4 ft) pathways. Project default, configurable.",
        lo=0, hi=20,
    )
    obstacle_free_frac: float = _f(
        0.75,
        "Share of the set-back roof free of stair cores, water tanks and plant. Project "
        "assumption (no published Guangzhou figure found); run a sensitivity batch.",
        lo=0, hi=1, lo_open=True,
    )
    min_usable_area_m2: float = _f(
        10.0, "NREL rooftop technical potential: contiguous area >= 10 m2 (Gagnon et al. 2016, NREL/TP-6A20-65298).",
        lo=0,
    )
    flat_max_tilt_deg: float = _f(
        5.0, "A plane under 5 deg counts as flat (City Energy Analyst photovoltaic module).", lo=0, hi=30,
    )
    default_pitch_deg: float = _f(
        20.0, "Pitch of a pitched roof whose tags or fields give neither an angle (roof:angle) nor a height "
        "(roof:height). Project assumption: no published Guangzhou figure was found; set it from a local roof "
        "survey.", lo=0, hi=80)
    max_tilt_deg: float = _f(60.0, "Planes steeper than 60 deg are excluded (Gagnon et al. 2016).", lo=0, hi=90)
    exclude_north_facing: bool = _f(
        True,
        "Pitched planes facing north are excluded (Gagnon et al. 2016); north-facing "
        "is operationalised as azimuth within north_sector_half_width_deg of 0 deg.",
    )
    north_sector_half_width_deg: float = _f(
        45.0, "Half width of the north sector (project operationalisation of Gagnon 2016).", lo=0, hi=90,
    )
    flat_layout: str = _f(
        "south", "Rows on flat roofs: 'south' (one azimuth) or 'east-west' (back-to-back pairs).",
        choices=("south", "east-west"),
    )
    flat_module_tilt_deg: float = _f(
        15.0, "Racked module tilt on flat roofs, 15 deg as in Gagnon et al. 2016.", lo=0, hi=60,
    )
    flat_module_azimuth_deg: float = _f(180.0, "Row azimuth for the 'south' layout, clockwise from north.",
                                        lo=0, hi=360)
    east_west_tilt_deg: float = _f(
        10.0, "Module tilt of east-west back-to-back rows (common manufacturer practice, 10 deg).", lo=0, hi=30,
    )
    row_spacing: str = _f(
        "solstice-9-15",
        "Row pitch rule: 'solstice-9-15' keeps rows unshaded from 9:00 to 15:00 solar "
        "time on the winter solstice (GB 50797-2012 as commonly cited); 'gcr' uses flat_gcr.",
        choices=("solstice-9-15", "gcr"),
    )
    flat_gcr: float = _f(0.7, "Ground coverage ratio of racked rows when row_spacing = 'gcr' (Gagnon et al. 2016: 0.7).",
                         lo=0, hi=1, lo_open=True)
    east_west_gcr: float = _f(0.9, "Ground coverage ratio of east-west rows (CEA maximum roof coverage 0.9).",
                              lo=0, hi=1, lo_open=True)
    pitched_gcr: float = _f(0.98, "Coverage of flush module grids across their rows (module depth / row pitch; pitched "
                            "planes and flush category rules): Gagnon et al. 2016 cover 0.98 of a pitched plane.",
                            lo=0, hi=1, lo_open=True)
    module: str = _f(
        DEFAULT_MODULE,
        "Module placed on roofs, a preset of pv_survey/presets/modules.toml (size, Wp, efficiency, datasheet). "
        "Default a 54-cell N-type TOPCon module of 1722 x 1134 mm, 440 Wp: the mainstream C&I rooftop format "
        "sold in China in 2024-2025 (JinkoSolar Tiger Neo 54HL4R-BDV datasheet). Capacity = modules placed x Wp.",
        choices=module_names(),
    )
    module_gap_m: float = _f(
        0.02,
        "Gap between neighbouring modules along a row: the width of a mid clamp (20 mm is the usual aluminium "
        "mid-clamp gap of rooftop mounting systems; project assumption, no standard found).", lo=0, hi=1,
    )
    obstacle_height_m: float = _f(
        0.5,
        "With a DSM file (--dsm), cells standing more than this above their roof plane (fitted as the median "
        "of the plane's cells) are obstacles: plant rooms, water tanks, parapets. Project assumption: about the "
        "height of a low rack, above DSM noise of photogrammetric/LiDAR roofs (0.1-0.3 m).", lo=0, hi=20,
    )
    obstacle_clearance_m: float = _f(
        0.6,
        "Clear strip kept around every DSM obstacle (access, maintenance, its own shadow at noon). "
        "Project assumption, in the 0.6-0.9 m range of maintenance walkways.", lo=0, hi=20,
    )
    modules_layer: str = _f(
        "rows",
        "The 'modules' GeoPackage layer: 'modules' (one polygon per module; large: the demo district holds "
        "~0.6 M modules), 'rows' (one polygon per row segment with its module count) or 'none'.",
        choices=("modules", "rows", "none"),
    )
    segment_max_modules: int = _f(
        20,
        "Modules per row segment, the unit of the per-module yield (its own horizon from its centre) and of "
        "the best-first curves; 1 = every module on its own. 20 modules (a 23 m row piece in portrait) are "
        "about one string of a 1,100 V string inverter (20-25 modules of ~40 V open-circuit voltage); "
        "project choice for speed (issue 19 item 5).", lo=1, hi=1000,
    )
    constraints: RoofConstraints = _f(RoofConstraints, "Heritage and supertall roofs kept out of the build years "
                                      "([roofs.constraints]).", factory=True)
    category_rules: tuple[CategoryRule, ...] = _f(
        _default_category_rules,
        "Layout per category and roof kind ([[roofs.category_rules]]). Default: industrial flat (low-slope "
        "colour-steel) roofs flush at 85% coverage -- project assumption, no published Guangdong figure found.",
        factory=True)


@dataclass(frozen=True)
class ShadingConfig:
    """Surface model, horizon search and the shading exclusion rule."""

    dsm_resolution_m: float = _f(1.0, "Cell size of the DSM rasterised from footprints x heights (issue 4 default).", lo=0.1, hi=20)
    n_sectors: int = _f(72, "Azimuth sectors of a horizon profile, 5 deg each (issue 4 default).", lo=4, hi=720)
    search_radius_m: float = _f(300.0, "Distance searched for obstructions (issue 4 default); towers farther away are ignored, "
                                   "raise it for sites near the 200-440 m CBD towers.", lo=10, hi=5000)
    points_per_100m2: float = _f(1.0, "Sample points per 100 m2 of usable roof.", lo=0.01, hi=100)
    max_points_per_roof: int = _f(16, "Cap on sample points per roof.", lo=1, hi=1024)
    n_quantiles: int = _f(
        3,
        "Horizon profiles kept per roof, at point quantiles (1/6, 1/2, 5/6): each stands for a third of "
        "the roof, so the shaded share survives aggregation (issue 4 item 2; project choice).",
        lo=1, hi=64,
    )
    tile_size_m: float = _f(
        3000.0,
        "Side of the square tiles every run is cut into (partition.plan_tiles); each tile's DSM adds a "
        "search-radius halo: 3 km tiles at 1 m keep a tile's DSM near 3.7 km square (14 M cells). "
        "Bounds memory, not results (project choice).",
        lo=100, hi=100_000,
    )
    min_output_frac: float = _f(
        0.70,
        "Roofs producing less than this share of the same roof unshaded are excluded "
        "(NREL rooftop methodology, Gagnon et al. 2016).",
        lo=0, hi=1,
    )


@dataclass(frozen=True)
class EnergyConfig:
    """pvlib model chain parameters."""

    albedo: float = _f(0.2, "Ground/roof albedo, the usual default (pvlib irradiance.get_ground_diffuse).", lo=0, hi=1)
    gamma_pdc_per_c: float = _f(
        -0.0035, "PVWatts v5 'premium' module temperature coefficient (Dobos 2014, NREL/TP-6A20-62641).",
        lo=-0.01, hi=0,
    )
    dc_ac_ratio: float = _f(1.2, "PVWatts v5 default DC/AC ratio (Dobos 2014).", lo=0.5, hi=3)
    eta_inv_nom: float = _f(0.96, "PVWatts v5 nominal inverter efficiency (pvlib.inverter.pvwatts default).",
                            lo=0.5, hi=1)
    losses_soiling_pct: float = _f(2.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_mismatch_pct: float = _f(2.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_wiring_pct: float = _f(2.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_connections_pct: float = _f(0.5, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_lid_pct: float = _f(1.5, "pvlib.pvsystem.pvwatts_losses default (light-induced degradation).", lo=0, hi=100)
    losses_nameplate_pct: float = _f(1.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_age_pct: float = _f(0.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    losses_availability_pct: float = _f(3.0, "pvlib.pvsystem.pvwatts_losses default.", lo=0, hi=100)
    temperature_model_rack: str = _f(
        "open_rack_glass_polymer", "SAPM cell temperature, racked rows on flat roofs (pvlib TEMPERATURE_MODEL_PARAMETERS).",
        choices=("open_rack_glass_polymer", "open_rack_glass_glass"),
    )
    temperature_model_flush: str = _f(
        "close_mount_glass_glass", "SAPM cell temperature, flush modules on pitched roofs (pvlib).",
        choices=("close_mount_glass_glass", "insulated_back_glass_polymer"),
    )
    chunk_roofs: int = _f(
        65536, "Roofs simulated per chunk by the energy engine; bounds memory (about 20 MB a chunk), not results.",
        lo=1, hi=10_000_000,
    )
    time_alignment: str | float = _f(
        "auto",
        "Weather timing: 'auto' estimates it from the data's symmetry about solar noon and shifts the rows "
        "(the Guangzhou TMYx EPW: GHI ~30 min, DNI ~20 min before its EPW convention; measured, README Validation); "
        "'convention' keeps each format's stated convention; a number shifts by that many minutes.",
        lo=-90, hi=90, choices=("auto", "convention"),
    )
    weather_max_distance_km: float = _f(
        50.0, "Warn when the weather file's location is farther than this from the survey centre (issue 3).",
        lo=0,
    )


# district plan item 14 (穗天府〔2024〕8号): new public-institution and factory buildings, 50% by 2025
_COVERAGE_CATEGORIES = ("government", "hospital", "school", "public", "industrial")
_NEW_FROM_YEAR = 2022
_TIANHE_PLAN = "Tianhe carbon-peak implementation plan 2024 (穗天府〔2024〕8号)"


@dataclass(frozen=True)
class Target:
    """One target of a plan, as data (``[[plan.targets]]``).

    ``kind``: ``'capacity'`` (installed kWp, existing + planned, by ``year``), ``'coverage'``
    (share of a building set with PV, by ``definition`` 'count' or 'area') or ``'roof_share'``
    (share of the set's roof area carrying PV, the NEA 2021 pilot kind). The building set:
    ``categories`` (empty = all) and ``buildings`` = 'all', 'new' (built ``new_since_year`` or
    later) or 'existing' (built before it, or year unknown).
    """

    name: str = field(metadata={"source": "Label of the target in tables and reports (unique)."})
    year: int = field(metadata={"source": "Year by which the target must be met.", "lo": 2000, "hi": 2100})
    capacity_kwp: float = field(default=0.0, metadata={
        "source": "Required installed PV for kind 'capacity' [kWp], > 0."})
    kind: str = field(default="capacity", metadata={
        "source": "'capacity', 'coverage' or 'roof_share'.", "choices": ("capacity", "coverage", "roof_share")})
    share_frac: float = field(default=0.0, metadata={
        "source": "Required share for kinds 'coverage' and 'roof_share' [0-1].", "lo": 0.0, "hi": 1.0})
    definition: str = field(default="count", metadata={
        "source": "Coverage by 'count' (buildings with PV) or 'area' (module over usable roof area).",
        "choices": ("count", "area")})
    categories: tuple[str, ...] = field(default=(), metadata={
        "source": "Building categories counted; empty = every category."})
    buildings: str = field(default="all", metadata={
        "source": "'all', 'new' (built new_since_year or later) or 'existing'.",
        "choices": ("all", "new", "existing")})
    new_since_year: int = field(default=_NEW_FROM_YEAR, metadata={
        "source": "First construction year that counts as new.", "lo": 1900, "hi": 2100})
    source: str = field(default="", metadata={"source": "Where the target comes from (document, clause)."})


def _default_targets() -> tuple[Target, ...]:
    return (
        Target("installed PV 2025 / 2025年装机", 2025, 3000.0, source=f"{_TIANHE_PLAN}, s.2(1) item 1"),
        Target("new public & factory coverage 2025 / 新建公共机构及厂房覆盖率", 2025, kind="coverage",
               share_frac=0.5, definition="count", categories=_COVERAGE_CATEGORIES, buildings="new",
               new_since_year=_NEW_FROM_YEAR, source=f"{_TIANHE_PLAN}, item 14"),
        Target("installed PV 2030 / 2030年装机", 2030, 6000.0, source=f"{_TIANHE_PLAN}, s.2(1) item 1"),
    )


@dataclass(frozen=True)
class CategoryShare:
    """A minimum share of roof area that should carry PV, for a group of categories."""

    name: str = field(metadata={"source": "Label of the group in reports."})
    categories: tuple[str, ...] = field(metadata={"source": "Building categories in the group."})
    min_share_frac: float = field(
        metadata={"source": "Minimum share of the group's roof area carrying PV.", "lo": 0.0, "hi": 1.0})


def _default_category_shares() -> tuple[CategoryShare, ...]:
    # NEA 2021 county-wide rooftop PV pilot notice (整县推进), secondary: ../shared/REFERENCES.md
    return (
        CategoryShare("party and government / 党政机关", ("government",), 0.5),
        CategoryShare("schools, hospitals, public / 学校医院等公共建筑", ("school", "hospital", "public"), 0.4),
        CategoryShare("industrial and commercial / 工商业厂房", ("industrial", "commercial"), 0.3),
        CategoryShare("homes (rural-homes share) / 居民", ("residential",), 0.2),
    )


@dataclass(frozen=True)
class PlanConfig:
    """Ranking, phases and the coverage target."""

    plan_year: int = _f(2024, "Year the district plan was issued (穗天府〔2024〕8号).", lo=2000, hi=2100)
    priority_classes: tuple[str, ...] = _f(
        ("government", "hospital", "school", "public", "industrial", "commercial", "residential", "other"),
        "Public institutions lead (Tianhe carbon-peak plan 2024, item 1), then factories (item 14).",
    )
    targets: tuple[Target, ...] = _f(
        _default_targets,
        "Above 3 MW by 2025 and above 6 MW by 2030 (Tianhe carbon-peak plan 2024, s.2(1) item 1); "
        "rooftop PV on 50% of new public-institution and new factory buildings by 2025 (item 14). "
        "Kinds: capacity, coverage (count or area), roof_share. Every target is a constraint of the "
        "schedule; a passed one must be met in the first build year (as_of_year + 1).",
        factory=True,
    )
    max_kwp_per_year: float = _f(
        0.0, "Most new capacity built in one year [kWp]; 0 = no limit. Project setting.", lo=0)
    max_capex_cny_per_year: float = _f(
        0.0, "Most CAPEX spent in one year [CNY]; 0 = no limit. Project setting.", lo=0)
    coverage_target_frac: float = _f(0.5, "Detail table 'coverage' (both definitions): 50% rooftop-PV coverage of new public and factory buildings (item 14).",
                                     lo=0, hi=1)
    coverage_year: int = _f(2025, "Year of the coverage target (item 14).", lo=2000, hi=2100)
    new_building_from_year: int = _f(
        _NEW_FROM_YEAR,
        "Buildings completed from this year count as new: the national 50% goal was set by "
        "MOHURD/NDRC's urban-rural construction carbon-peak plan of June 2022 (secondary).",
        lo=1900, hi=2100,
    )
    coverage_categories: tuple[str, ...] = _f(
        _COVERAGE_CATEGORIES,
        "Public-institution and factory categories the coverage target applies to (item 14).",
    )
    coverage_definition: str = _f(
        "count",
        "Which coverage the 50% target is checked on: 'count' (share of the new buildings with PV "
        "existing or planned) or 'area' (PV module area over usable roof area). Item 14 gives no "
        "formula; both are always reported. Project choice.",
        choices=("count", "area"),
    )
    as_of_year: int = _f(
        2026,
        "Year the plan is read in: a target whose year is before it is reported as passed (met by "
        "existing PV or not, and the shortfall the first phase must close), not as a future phase. "
        "2026 = the year this default was set (the plan dates from 2024).",
        lo=2000, hi=2100,
    )
    mode: str = _f(
        "priority",
        "'priority': sites in class order, then score, year by year until every target due is met; "
        "'least-cost': the schedule of least CAPEX meeting every target by its year "
        "(scipy.optimize.milp), a lower class only when every higher class is in the plan (sites "
        "counting for a coverage or roof-share target exempt). Both are computed and compared.",
        choices=("priority", "least-cost"),
    )
    site_fill: str = _f(
        "all",
        "'all' builds every module placed on a site's kept roofs; 'best' only the modules (row segments) whose "
        "own yield reaches min_module_yield_kwh_kwp (the site's capacity, yield and cost shrink to them; "
        "issue 19 item 3). Project setting.", choices=("all", "best"))
    min_module_yield_kwh_kwp: float = _f(
        850.0,
        "Yield threshold of site_fill = 'best' [kWh/kWp/yr]: about 75-80% of an open, south-facing module's "
        "yield in Guangzhou with the embedded weather year (~1,100 kWh/kWp), in line with the NREL rule of "
        "70% of unshaded output (Gagnon et al. 2016). Project choice.", lo=0, hi=5000)
    milp_time_limit_s: float = _f(
        60.0, "Time limit of each least-cost MILP (scipy milp / HiGHS); the best schedule found by then is "
        "used and reported as such. Project choice: the demo solves in seconds, a city in about a minute.",
        lo=1, hi=86400)
    score: str = _f(
        "yield",
        "Order within a class: 'yield' (specific yield kWh/kWp, then size), 'size' (kWp, then "
        "yield) or 'cost' (LCOE CNY/kWh, lowest first). Project choice.",
        choices=("yield", "size", "cost"),
    )
    pins_file: str = _f(
        "",
        "Optional CSV with columns building_id, pin ('in' or 'out'): 'in' sites go first, 'out' "
        "sites are never planned. Empty = no pins.",
    )
    category_shares: tuple[CategoryShare, ...] = _f(
        _default_category_shares,
        "Minimum shares of roof area carrying PV by building group: party and government 50%; "
        "schools, hospitals and other public buildings 40%; industrial and commercial 30%; rural "
        "homes 20% (NEA county-wide rooftop PV pilot notice, 2021; secondary reports, "
        "../shared/REFERENCES.md). Residential here applies the rural-homes share to urban homes.",
        factory=True,
    )


@dataclass(frozen=True)
class CategoryEconomics:
    """Self-consumption share and avoided electricity price of one building category."""

    category: str = field(metadata={"source": "Building category of the data model."})
    self_consumption_frac: float = field(
        metadata={"source": "Share of PV output used in the building.", "lo": 0.0, "hi": 1.0})
    tariff_cny_per_kwh: float = field(
        metadata={"source": "Grid price avoided by self-consumed PV.", "lo": 0.0, "hi": 10.0})


def _default_category_economics() -> tuple[CategoryEconomics, ...]:
    # self-consumption shares: project assumptions from the load profile of each use (hospitals
    # run day and night; offices lose weekends; schools lose weekends and about 3 months of
    # holidays; urban homes use little power at midday). Check them against meter data.
    # tariffs: for the TOU categories (economics.tou_categories) the flat-period price: the
    # Guangdong general industrial & commercial purchase price weighted to daytime hours,
    # 0.6-0.8 CNY/kWh (secondary), midpoint 0.70, divided by the TOU factor 1.40 of the
    # embedded weather year (EconomicsParams.from_config(Config().economics).tou_value_factor)
    # = 0.50 CNY/kWh flat; so the default year values a self-consumed kWh at 0.70 as before.
    # Schools' teaching use and homes pay the residential price, about 0.59-0.61 CNY/kWh in
    # Guangdong (first tier, secondary), without TOU.
    return (
        CategoryEconomics("government", 0.75, 0.50),
        CategoryEconomics("hospital", 0.95, 0.50),
        CategoryEconomics("school", 0.60, 0.60),
        CategoryEconomics("public", 0.75, 0.50),
        CategoryEconomics("industrial", 0.80, 0.50),
        CategoryEconomics("commercial", 0.90, 0.50),
        CategoryEconomics("residential", 0.40, 0.59),
        CategoryEconomics("other", 0.50, 0.50),
    )


@dataclass(frozen=True)
class EconomicsConfig:
    """Costs, prices and emission factor of the plan's economics (CNY of 2023-2024)."""

    capex_band_upper_kwp: tuple[float, ...] = _f(
        (100.0, 1000.0),
        "Upper ends of the system-size bands (kWp) for CAPEX; one more band runs above the last. "
        "A building's whole system is priced at its band's rate (one contract per building).",
    )
    capex_cny_per_w: tuple[float, ...] = _f(
        (3.0, 2.75, 2.5),
        "Turnkey CAPEX per band (CNY/W DC) for projects built 2025-26: distributed C&I rooftop EPC "
        "is widely reported at about 2.5-3.0 CNY/W (secondary, ../shared/REFERENCES.md), below the "
        "3.2-3.8 CNY/W of 2023-24 (CPIA roadmap 2023-2024, secondary). Small systems carry more fixed "
        "cost: 3.0 up to 100 kWp, 2.75 up to 1 MWp, 2.5 above (project split of the reported range). "
        "Use procurement data where you have it.",
    )
    opex_cny_per_w_yr: float = _f(
        0.05,
        "O&M incl. insurance and inverter upkeep, CNY/W per year: distributed PV about "
        "0.05 CNY/W/yr (CPIA roadmap 2023-2024, secondary).",
        lo=0, hi=1,
    )
    export_tariff_cny_per_kwh: float = _f(
        0.40,
        "Value of exported surplus. Projects connected from 1 June 2025 sell at market prices with a "
        "'mechanism price' settlement (发改价格〔2025〕136号, secondary, ../shared/REFERENCES.md); the "
        "Guangdong coal benchmark 0.453 CNY/kWh (发改价格规〔2019〕1658号) is now an upper bound. 0.40 "
        "is a project assumption below it: set the provincial mechanism price when it is known.",
        lo=0, hi=10,
    )
    categories: tuple[CategoryEconomics, ...] = _f(
        _default_category_economics,
        "Per category: self-consumption share (project assumptions by load profile) and avoided "
        "grid price: flat-period price 0.50 CNY/kWh for TOU categories (Guangdong C&I daytime "
        "0.70 CNY/kWh, secondary, over the TOU factor 1.40 of the default weather year); schools "
        "and homes residential 0.59-0.60 CNY/kWh without TOU (secondary). A category not listed "
        "uses the 'other' row.",
        factory=True,
    )
    first_year_degradation_frac: float = _f(
        0.0,
        "Extra first-year loss. 0 because the energy stage already deducts light-induced "
        "degradation (energy.losses_lid_pct 1.5%), which is CPIA's first-year figure "
        "(<= 1% n-type, <= 2% p-type; secondary).",
        lo=0, hi=0.5,
    )
    degradation_frac_per_yr: float = _f(
        0.005,
        "Yearly output loss after year 1, between CPIA's warranted n-type (<= 0.4%/yr) and "
        "p-type (<= 0.55%/yr) rates (CPIA roadmap 2023-2024, secondary).",
        lo=0, hi=0.1,
    )
    discount_rate_frac: float = _f(
        0.06,
        "Real discount rate: project assumption for a public or state-owned investor; the "
        "official social discount rate is 8% (NDRC/MOHURD, Methods and Parameters of Economic "
        "Evaluation of Construction Projects, 3rd ed., 2006).",
        lo=0, hi=0.5,
    )
    lifetime_yr: int = _f(
        25, "Economic life: the usual 25-year module performance warranty (CPIA roadmap, secondary).",
        lo=1, hi=50,
    )
    grid_emission_factor_t_per_mwh: float = _f(
        0.4042,
        "Southern China grid average CO2 emission factor for 2023, 0.4042 kgCO2/kWh (MEE & NBS "
        "announcement on 2023 power CO2 emission factors, published January 2026, as reported by "
        "Guangming Daily; national average 0.5306).",
        lo=0, hi=2,
    )
    grid_emission_factor_source: str = _f(
        "MEE & NBS 2023 power CO2 emission factors, Southern grid average (published 2026-01)",
        "Source of grid_emission_factor_t_per_mwh, printed beside CO2 figures; change both together.",
    )
    tou_categories: tuple[str, ...] = _f(
        ("government", "hospital", "public", "industrial", "commercial", "other"),
        "Categories whose avoided price follows the Guangdong time-of-use tariff (general industrial "
        "and commercial users); their tariff_cny_per_kwh is then the flat-period price. Schools' "
        "teaching use and homes pay the residential price without TOU. Project reading of the 2021 "
        "provincial notice (../shared/REFERENCES.md, secondary).",
    )
    tou_peak_hours: tuple[int, ...] = _f(
        (10, 11, 14, 15, 16, 17, 18),
        "Clock hours (starting) in the peak period: 10-12 h and 14-19 h (Guangdong TOU notice 2021, "
        "as reprinted; ../shared/REFERENCES.md, secondary; later revisions not checked).",
    )
    tou_valley_hours: tuple[int, ...] = _f(
        (0, 1, 2, 3, 4, 5, 6, 7),
        "Clock hours in the valley period: 0-8 h (Guangdong TOU notice 2021, secondary). Others are flat.",
    )
    tou_peak_ratio: float = _f(1.7, "Peak price over flat: 1.7 (peak : flat : valley = 1.7 : 1 : 0.38, "
                                    "Guangdong TOU notice 2021, secondary).", lo=0, hi=10)
    tou_valley_ratio: float = _f(0.38, "Valley price over flat: 0.38 (Guangdong TOU notice 2021, secondary).",
                                 lo=0, hi=10)
    tou_critical_peak_uplift_frac: float = _f(
        0.25, "Critical-peak price = peak x 1.25 (Guangdong TOU notice 2021, secondary).", lo=0, hi=5)
    tou_critical_peak_hours: tuple[int, ...] = _f(
        (11, 15, 16),
        "Clock hours of the critical peak: 11-12 h and 15-17 h (Guangdong TOU notice 2021, secondary). "
        "Days forecast at 35 C or more are not modelled.",
    )
    tou_critical_peak_months: tuple[int, ...] = _f(
        (7, 8, 9), "Months of the critical peak: July-September (Guangdong TOU notice 2021, secondary).")
    hourly_profile_file: str = _f(
        "",
        "Optional CSV (month, hour, kwh) of hourly generation for the TOU valuation; empty = pvlib "
        "plane-of-array irradiance of the survey's weather year on a 15 deg south-facing plane.",
    )
    grid_class_upper_kw: tuple[float, ...] = _f(
        (8.0, 400.0, 6000.0),
        "Upper capacity limits of the grid-connection classes (kW): up to 8 kW at 220 V, 8-400 kW at "
        "380 V, 400 kW-6 MW at 10 kV, above at 35 kV (State Grid distributed-PV connection practice, "
        "Q/GDW 1480 as commonly cited; secondary, not checked against the original).",
    )
    grid_class_names: tuple[str, ...] = _f(
        ("220 V", "380 V", "10 kV", "35 kV"),
        "Names of the grid-connection classes, one more than grid_class_upper_kw.",
    )


@dataclass(frozen=True)
class ResourcesConfig:
    """Resource classes surveyed beside roofs: facades (BIPV) and carport canopies."""

    kinds: tuple[str, ...] = _f(
        ("roofs",),
        "Resource classes to survey, any of 'roofs', 'facades', 'carports'. The district plan asks for a "
        "survey of roofs, facades and carport roofs (Tianhe carbon-peak plan 2024, item 1; BIPV item 12); "
        "roofs only by default because the 3 MW / 6 MW targets are rooftop-led.",
    )
    min_poa_kwh_m2: float = _f(
        800.0,
        "Facade and carport surfaces receiving less in-plane irradiation than this per year are excluded "
        "(City Energy Analyst photovoltaic module: sensor points below 800 kWh/m2/yr, ../shared/REFERENCES.md).",
        lo=0, hi=3000,
    )
    facade_exclude_ground_floors_m: float = _f(
        6.0,
        "Height above ground with no facade PV: about two storeys of shop fronts, entrances, canopies and "
        "street trees. Project assumption.",
        lo=0, hi=100,
    )
    facade_window_to_wall_frac: float = _f(
        0.5,
        "Share of the wall that is glazing (no opaque BIPV). Project assumption between the residential "
        "limits of JGJ 75-2012 (0.40 south/north, hot-summer warm-winter zone) and the 0.70 per-facade cap "
        "of GB 50189-2015 for public buildings (both as commonly cited, secondary); curtain-wall towers are higher.",
        lo=0, hi=1,
    )
    facade_min_segment_width_m: float = _f(
        3.0, "Wall segments narrower than this carry no facade array. Project assumption (a few module widths).",
        lo=0, hi=100,
    )
    facade_simplify_tolerance_m: float = _f(
        0.5,
        "Footprint outlines are simplified by this distance before they are cut into wall segments, so "
        "curved walls drawn with many short edges become a few straight segments. Project assumption.",
        lo=0, hi=10,
    )
    facade_shared_wall_tolerance_m: float = _f(
        0.5,
        "A wall within this distance of another footprint counts as shared (not a facade): digitising "
        "precision of footprints; keep it >= facade_simplify_tolerance_m. Project assumption.",
        lo=0, hi=10,
    )
    facade_bipv_efficiency_frac: float = _f(
        0.17,
        "STC efficiency of opaque glass-glass BIPV facade modules, below plain rooftop modules "
        "(roofs.module, about 22.5%) for coloured / laminated glass. Project assumption.",
        lo=0.02, hi=0.5,
    )
    facade_points_per_level: int = _f(
        3, "Shading sample points along each facade segment at every sampled height. Project assumption.",
        lo=1, hi=64,
    )
    facade_height_fracs: tuple[float, ...] = _f(
        (0.25, 0.5, 0.75),
        "Heights of the shading sample points as fractions of the usable wall (above the excluded ground "
        "floors): lower, middle and upper part. Project assumption.",
    )
    facade_offset_m: float = _f(
        0.5, "Sample points sit this far outside the wall so the own building is not hit. Project assumption.",
        lo=0, hi=10,
    )
    facade_temperature_model: str = _f(
        "close_mount_glass_glass",
        "SAPM cell temperature of facade BIPV: glass/glass modules close to the wall with a ventilated gap "
        "(King et al. 2004 'close roof mount', pvlib TEMPERATURE_MODEL_PARAMETERS); "
        "'insulated_back_glass_polymer' for modules laid on insulation.",
        choices=("close_mount_glass_glass", "insulated_back_glass_polymer", "open_rack_glass_glass"),
    )
    facade_capex_cny_per_w: float = _f(
        4.8,
        "Turnkey facade BIPV cost (CNY/W DC): project assumption of 1.5 x the C&I rooftop rate "
        "(economics.capex_cny_per_w, about 3.2) for custom glass modules, facade fixing and access; "
        "no published Guangzhou figure found.",
        lo=0, hi=50,
    )
    carport_canopy_tilt_deg: float = _f(
        5.0, "Mono-pitch canopy slope: low enough to keep the canopy low, steep enough to drain. Project assumption.",
        lo=0, hi=45,
    )
    carport_azimuth_deg: float = _f(180.0, "Direction the canopy faces, clockwise from north. Project assumption.",
                                    lo=0, hi=360)
    carport_canopy_height_m: float = _f(
        3.0,
        "Module height above the parking surface, used for shading. Project assumption above the 2.2 m "
        "minimum headroom for small cars of JGJ 100-2015 (as commonly cited, secondary).",
        lo=2.0, hi=20,
    )
    carport_coverage_frac: float = _f(
        0.5,
        "Plan share of a surface car park under canopies (stalls covered, aisles open). Project assumption: "
        "a double-loaded bay of 5.3 m stalls and a 6 m aisle is 64% stalls (JGJ 100-2015 stall and aisle "
        "sizes as commonly cited, secondary), less for edges, trees and access.",
        lo=0, hi=1, lo_open=True,
    )
    carport_module_efficiency_frac: float = _f(
        0.21, "Same mainstream mono-Si modules as on roofs (roofs.module presets: 22-23%; 0.21 allows for older stock, secondary).",
        lo=0.05, hi=0.5,
    )
    carport_min_area_m2: float = _f(
        100.0, "Car parks smaller than this (about 8 stalls) get no canopy. Project assumption.", lo=0,
    )
    carport_capex_cny_per_w: float = _f(
        4.2,
        "Turnkey carport cost (CNY/W DC): project assumption of the C&I rooftop rate (about 3.2) plus about "
        "1 CNY/W for the steel canopy and foundations; no published Guangzhou figure found.",
        lo=0, hi=50,
    )


@dataclass(frozen=True)
class OutputsConfig:
    """Where and what to write."""

    out_dir: str = _f("", "Output directory; empty = outputs/<survey.name>.")
    shortlist_size: int = _f(
        0, "Rows of shortlist.csv (sites of the build phases, by rank); 0 = all. The per-phase and "
        "per-class shortlists are always complete.", lo=0,
    )
    workbook_max_rows: int = _f(
        5000, "Sites on the reserve and per-class sheets of shortlists.xlsx at most, the best-ranked first; the "
        "full lists are in the CSV shortlists and survey.gpkg (a city's reserve runs to hundreds of thousands of "
        "sites, Excel stops at 1,048,576 rows). Build-year sheets are never cut. 0 = no cut. Project choice.",
        lo=0, hi=1_048_575,
    )
    report_pdf: bool = _f(
        False, "Also print report.html to report.pdf (A4) with a headless Chromium or Chrome found on PATH "
        "(as --pdf); off by default because a PDF carries its creation time and needs a browser.",
    )
    report_interactive: str = _f(
        "auto", "Pan and zoom on report.html's map (mouse wheel, drag, reset button; plain inline JavaScript, no "
        "network): 'on', 'off', or 'auto' = on while the map is drawn as vectors (at most 20,000 footprints; "
        "above that the footprints are one raster picture, which zooming would only blur). Without it the "
        "report holds no script.", choices=("auto", "on", "off"))
    hourly: bool = _f(
        False, "Also write 8,760-hour AC profiles of the plan (as --hourly): per build-year site, per build phase "
        "and for the district (hourly_sites / hourly_phases / hourly_district), and chart the district's typical "
        "day per month in the report. Off by default: a second, light energy pass over the planned roofs.",
    )
    hourly_sites_format: str = _f(
        "csv", "Format of the per-site hourly profiles: 'csv' (one column per site, UTF-8 with BOM) or 'parquet' "
        "(GeoParquet, one row per site with its footprint and the hours as a list).", choices=("csv", "parquet"))
    postgis_url: str = _f(
        "", "Also write the result layers to this PostGIS database (postgresql://user:password@host/db, "
        "as --postgis); empty = no database. The password is hidden in manifest.json.",
    )
    postgis_schema: str = _f("pv_survey", "Schema of the PostGIS tables (created when missing).")
    postgis_styles: bool = _f(
        True, "Store each layer's QGIS default style in the database's public.layer_styles (QGIS's own "
        "table), so the layers open styled in QGIS.",
    )


@dataclass(frozen=True)
class FluxConfig:
    """Roof irradiation raster (flux_annual.tif): kWh/m2 a year in the plane of every roof cell."""

    enabled: bool = _f(
        False, "Write flux_annual.tif, a Cloud-Optimized GeoTIFF of the yearly irradiation on every roof cell, "
        "with its QGIS style flux_annual.qml (as --flux). Off by default: it ray-marches a horizon from every "
        "roof cell (issue 19 item 4).",
    )
    resolution_m: float = _f(
        1.0, "Cell size of the flux raster (as --flux-resolution-m); at shading.dsm_resolution_m its cells are the "
        "DSM's cells. 1 m resolves plant rooms and parapet shade on a roof (issue 19 item 4 default).",
        lo=0.1, hi=20,
    )
    monthly: bool = _f(
        False, "Also write flux_monthly.tif, 12 bands January..December (as --flux-monthly).",
    )
    n_sectors: int = _f(
        36, "Horizon sectors per roof cell, 10 deg each: half the roofs' 72, which halves the ray march over "
        "millions of cells (bench/results/flux.md); GRASS r.sun likewise takes horizons at a user-chosen "
        "azimuth step (its horizon_step parameter). Project choice.", lo=4, hi=720,
    )


@dataclass(frozen=True)
class Config:
    """A whole scenario."""

    survey: SurveyConfig = field(default_factory=SurveyConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    roofs: RoofsConfig = field(default_factory=RoofsConfig)
    shading: ShadingConfig = field(default_factory=ShadingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    flux: FluxConfig = field(default_factory=FluxConfig)

    def replace(self, **sections: dict[str, Any]) -> "Config":
        """Return a copy with some fields of some sections changed.

        ``cfg.replace(inputs={"weather": "x.epw"})``; values are validated.
        """
        data = config_to_dict(self)
        for sec, vals in sections.items():
            if sec not in data:
                raise ConfigError(f"unknown config section '{sec}'; known: {', '.join(data)}")
            data[sec].update(vals)
        return config_from_dict(data)


# --------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert TOML types."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a table, got {value!r}; write it as [{key}] with key = value lines")
        return _build(tp, value, key, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        for alt in args[:-1]:  # str | float: the first type the value fits
            try:
                return _coerce(value, alt, key, where)
            except ConfigError:
                pass
        return _coerce(value, args[-1], key, where)
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: '{key}' must be a list, got {value!r}; write it in brackets, e.g. [1, 2]")
        return tuple(_coerce(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a table, got {value!r}; write it as {{ name = \"value\" }}")
        return {str(k): _coerce(v, str, f"{key}.{k}", where) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}; write true or false without quotes")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: '{key}' must be a whole number, got {value!r}; write it without quotes or decimals")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}; write a number without quotes, e.g. 1.0")
        if not math.isfinite(value):  # TOML allows nan and inf; no setting means either
            raise ConfigError(f"{where}: '{key}' = {value!r} must be a finite number; give a value such as "
                              "the default in scenarios/tianhe-default.toml")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}; write the text in quotes")
        return value
    raise ConfigError(f"{where}: '{key}' has unsupported type {_type_name(tp)}")  # pragma: no cover


def _check_range(value: Any, meta: dict, key: str, where: str) -> None:
    choices = meta.get("choices")
    if choices is not None and not isinstance(value, (int, float)) and value not in choices:
        raise ConfigError(f"{where}: '{key}' = {value!r} is not one of {', '.join(map(repr, choices))}; use one of them")
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
            op = ">" if meta.get("lo_open") else ">="
            raise ConfigError(f"{where}: '{key}' = {value!r} must be {op} {lo}; give a value in range "
                              "(the default is in scenarios/tianhe-default.toml)")
        if hi is not None and value > hi:
            raise ConfigError(f"{where}: '{key}' = {value!r} must be <= {hi}; give a value in range "
                              "(the default is in scenarios/tianhe-default.toml)")


def _build(cls: type, data: dict, prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(
            f"{where}: unknown key '{key}'; check its spelling, known keys{' in [' + prefix + ']' if prefix else ''}: "
            f"{', '.join(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        val = _coerce(value, hints[name], key, where)
        _check_range(val, dict(fields[name].metadata), key, where)
        kwargs[name] = val
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: '{prefix}' needs key '{missing[0]}'")
    obj = cls(**kwargs)
    _validate_cross(obj, prefix, where)
    return obj


def _validate_cross(obj: Any, prefix: str, where: str) -> None:
    """Checks that involve more than one field."""
    if isinstance(obj, Target):
        if obj.kind == "capacity" and obj.capacity_kwp <= 0:
            raise ConfigError(f"{where}: '{prefix}.capacity_kwp' = {obj.capacity_kwp} must be > 0; give the "
                              "target's capacity in kWp")
        if obj.kind != "capacity" and not 0 < obj.share_frac <= 1:
            raise ConfigError(f"{where}: '{prefix}.share_frac' = {obj.share_frac}: a {obj.kind} target "
                              "needs a share in (0, 1]")
    if isinstance(obj, PlanConfig):
        if not obj.priority_classes:
            raise ConfigError(f"{where}: 'plan.priority_classes' must name at least one class")
        names = [t.name for t in obj.targets]
        if len(names) != len(set(names)):
            raise ConfigError(f"{where}: 'plan.targets' has two targets named alike: {names}")
    if isinstance(obj, EconomicsConfig):
        bands, rates = obj.capex_band_upper_kwp, obj.capex_cny_per_w
        if len(rates) != len(bands) + 1:
            raise ConfigError(f"{where}: 'economics.capex_cny_per_w' needs one rate more than "
                              f"'capex_band_upper_kwp' has bands ({len(bands) + 1}), got {len(rates)}")
        if list(bands) != sorted(set(bands)) or any(b <= 0 for b in bands):
            raise ConfigError(f"{where}: 'economics.capex_band_upper_kwp' must be positive and rising, got {list(bands)}")
        if len(obj.grid_class_names) != len(obj.grid_class_upper_kw) + 1:
            raise ConfigError(f"{where}: 'economics.grid_class_names' needs one name more than "
                              f"'grid_class_upper_kw' has limits ({len(obj.grid_class_upper_kw) + 1})")
        if any(not 0 <= h <= 23 for h in (*obj.tou_peak_hours, *obj.tou_valley_hours, *obj.tou_critical_peak_hours)):
            raise ConfigError(f"{where}: 'economics.tou_*_hours' must be clock hours 0-23")
        if any(not 1 <= m <= 12 for m in obj.tou_critical_peak_months):
            raise ConfigError(f"{where}: 'economics.tou_critical_peak_months' must be months 1-12")
        if any(not 0 < r <= 50 for r in rates):
            raise ConfigError(f"{where}: 'economics.capex_cny_per_w' rates must be in (0, 50] CNY/W, got {list(rates)}")
        cats = [c.category for c in obj.categories]
        if len(cats) != len(set(cats)):
            raise ConfigError(f"{where}: 'economics.categories' lists a category twice: {cats}")
    if isinstance(obj, ResourcesConfig):
        bad = [k for k in obj.kinds if k not in ("roofs", "facades", "carports")]
        if bad or not obj.kinds:
            raise ConfigError(f"{where}: 'resources.kinds' = {list(obj.kinds)!r}: use one or more of "
                              "'roofs', 'facades', 'carports'")
        if not obj.facade_height_fracs or any(not 0.0 <= v <= 1.0 for v in obj.facade_height_fracs):
            raise ConfigError(f"{where}: 'resources.facade_height_fracs' = {list(obj.facade_height_fracs)!r}: "
                              "give one or more fractions between 0 and 1")
    if isinstance(obj, SurveyConfig):
        check_name(obj.name, f"{where}: 'survey.name'")
        ext = obj.extent_lon_lat
        if len(ext) != 4 or not (-180 <= ext[0] < ext[2] <= 180 and -90 <= ext[1] < ext[3] <= 90):
            raise ConfigError(f"{where}: 'survey.extent_lon_lat' = {list(ext)}: give [min lon, min lat, max lon, "
                              "max lat] in degrees, e.g. [113.28, 23.08, 113.46, 23.27]")
    if isinstance(obj, RoofsConfig):
        keys = [(r.category, r.roof_kind) for r in obj.category_rules]
        if len(keys) != len(set(keys)):
            raise ConfigError(f"{where}: 'roofs.category_rules' has two rules for one category and roof kind: {keys}")
    if isinstance(obj, RoofsConfig) and obj.flat_max_tilt_deg > obj.max_tilt_deg:
        raise ConfigError(f"{where}: 'roofs.flat_max_tilt_deg' must not exceed 'roofs.max_tilt_deg'")


def config_from_dict(data: dict, *, where: str = "config") -> Config:
    """Build a validated :class:`Config` from a nested dict (as parsed from TOML)."""
    return _build(Config, data, "", where)


def read_toml(path: str | Path, what: str = "file") -> dict:
    """The table of a TOML file (scenario or batch matrix), with one-line errors (``what``: the
    file's role in the message asking to save it as UTF-8, "config" or "file").

    A UTF-8 byte-order mark at the start is skipped: Windows Notepad before 2019 saved UTF-8
    with one, and TOML parsers take it for a stray character ("Invalid statement at line 1,
    column 1"). Any other non-UTF-8 text (GBK from an older editor) is refused.

    Raises
    ------
    ConfigError
        The file cannot be read, is not UTF-8, or is not valid TOML (the message names the file
        and the position; the parser's error is chained).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror}); check the path") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text; save the {what} as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at the position shown") from exc


def load_config(path: str | Path | None = None) -> Config:
    """Read a scenario TOML file; ``None`` gives the documented defaults.

    Relative input paths in the file are resolved against the file's folder.
    """
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found; pass an existing TOML file to --config")
    data = read_toml(p, "config")
    cfg = _build(Config, data, "", str(p))
    # resolve relative input paths against the config's folder
    ins = cfg.inputs
    resolved = {}
    for name in ("buildings", "roofs", "dsm", "dem", "weather", "parking", "obstacles", "protected"):
        val = getattr(ins, name)
        if val and "://" not in val and not val.startswith("PG:") and not Path(val).is_absolute():
            resolved[name] = str((p.parent / val).resolve())
    if ins.zones:
        resolved["zones"] = tuple(z if Path(z).is_absolute() else str((p.parent / z).resolve()) for z in ins.zones)
    if resolved:
        cfg = dataclasses.replace(cfg, inputs=dataclasses.replace(ins, **resolved))
    pins = cfg.plan.pins_file
    if pins and not Path(pins).is_absolute():
        cfg = dataclasses.replace(cfg, plan=dataclasses.replace(cfg.plan, pins_file=str((p.parent / pins).resolve())))
    return cfg


def config_to_dict(cfg: Any) -> Any:
    """Plain nested dict (TOML/JSON-ready) of a config or section."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, tuple):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    return cfg


def describe_defaults() -> list[tuple[str, Any, str]]:
    """(dotted key, default, source) for every setting, for docs and ``--help``."""
    rows = []
    cfg = Config()
    for sec in dataclasses.fields(Config):
        section = getattr(cfg, sec.name)
        for f in dataclasses.fields(section):
            rows.append((f"{sec.name}.{f.name}", config_to_dict(getattr(section, f.name)), f.metadata.get("source", "")))
    return rows


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + " }"
    raise TypeError(type(v))  # pragma: no cover


def default_scenario_toml() -> str:
    """The default scenario as TOML, every setting with its source as a comment.

    ``scenarios/tianhe-default.toml`` is this text (a test keeps them equal).
    """
    import textwrap

    out = [
        "# pv-survey scenario: every setting at its default, with its source.",
        "# Generated by pv_survey.config.default_scenario_toml(); copy and edit for your own scenarios.",
        "# Unknown keys are an error. Relative paths are resolved against this file's folder.",
    ]
    cfg = Config()
    for sec in dataclasses.fields(Config):
        section = getattr(cfg, sec.name)
        doc = (type(section).__doc__ or "").strip().splitlines()[0]
        arrays = []
        out += ["", f"[{sec.name}]", f"# {doc}"]
        for f in dataclasses.fields(section):
            val = config_to_dict(getattr(section, f.name))
            src = f.metadata.get("source", "")
            if isinstance(val, list) and val and isinstance(val[0], dict):
                arrays.append((f.name, val, src))
                continue
            for line in textwrap.wrap(src, 96):
                out.append(f"# {line}")
            out.append(f"{f.name} = {_toml_value(val)}")
        for name, items, src in arrays:
            for line in textwrap.wrap(src, 96):
                out.append(f"# {line}")
            for item in items:
                out.append(f"[[{sec.name}.{name}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(out) + "\n"
