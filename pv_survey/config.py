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
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "Config",
    "SurveyConfig",
    "InputsConfig",
    "RoofsConfig",
    "ShadingConfig",
    "EnergyConfig",
    "Target",
    "PlanConfig",
    "OutputsConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "describe_defaults",
]


def _f(default: Any, source: str, *, lo: float | None = None, hi: float | None = None,
       lo_open: bool = False, choices: tuple | None = None, factory: bool = False):
    """A dataclass field with its documented source and accepted range."""
    meta = {"source": source, "lo": lo, "hi": hi, "lo_open": lo_open, "choices": choices}
    if factory:
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


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

    buildings: str = _f("", "Building footprints; empty = embedded demo district in data/.")
    layer: str = _f("", "Layer of a multi-layer buildings source (GeoPackage, FileGDB).")
    roofs: str = _f("", "Optional roof-planes layer with tilt_deg / azimuth_deg per plane.")
    roofs_layer: str = _f("", "Layer of the roofs source.")
    dsm: str = _f("", "Optional DSM GeoTIFF; empty = rasterise footprints x heights.")
    dem: str = _f("", "Optional DEM GeoTIFF, subtracted from the DSM to give heights above ground.")
    weather: str = _f("", "Weather file (EPW, TMY3, PVGIS); empty = embedded Guangzhou default year.")
    source_crs: str = _f("", "CRS to assume when the file declares none, or gcj02 / bd09 for web-map data.")
    encoding: str = _f("", "Attribute encoding of shapefiles without a .cpg (e.g. gbk); empty = detect.")
    field_map: dict[str, str] = _f(dict, "Map of schema field -> source field name, e.g. category = '建筑类型'.",
                                   factory=True)
    value_map: dict[str, str] = _f(dict, "Map of source category value -> schema category, e.g. '学校' = 'school'.",
                                   factory=True)


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
    pitched_gcr: float = _f(0.98, "Module share of a pitched plane, flush mounted (Gagnon et al. 2016: 0.98).",
                            lo=0, hi=1, lo_open=True)
    module_efficiency_frac: float = _f(
        0.21,
        "STC efficiency of mainstream 2024 mono-Si modules (datasheets 21-22%, secondary); "
        "Gagnon et al. 2016 used 16% for 2015 modules. 1 m2 of module = 0.21 kWp.",
        lo=0.05, hi=0.5,
    )


@dataclass(frozen=True)
class ShadingConfig:
    """Surface model, horizon search and the shading exclusion rule."""

    dsm_resolution_m: float = _f(1.0, "Cell size of the DSM rasterised from footprints x heights.", lo=0.1, hi=20)
    n_sectors: int = _f(72, "Azimuth sectors of a horizon profile (5 deg each).", lo=4, hi=720)
    search_radius_m: float = _f(300.0, "Distance searched for obstructions.", lo=10, hi=5000)
    points_per_100m2: float = _f(1.0, "Sample points per 100 m2 of usable roof.", lo=0.01, hi=100)
    max_points_per_roof: int = _f(16, "Cap on sample points per roof.", lo=1, hi=1024)
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


@dataclass(frozen=True)
class Target:
    """One installed-capacity target of the district plan."""

    name: str
    year: int
    capacity_kwp: float


def _default_targets() -> tuple[Target, ...]:
    return (
        Target("installed PV 2025 / 2025年装机", 2025, 3000.0),
        Target("installed PV 2030 / 2030年装机", 2030, 6000.0),
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
        "Above 3 MW by 2025 and above 6 MW by 2030 (Tianhe carbon-peak plan 2024, s.2(1) item 1).",
        factory=True,
    )
    coverage_target_frac: float = _f(0.5, "50% rooftop-PV coverage of new public and factory buildings (item 14).",
                                     lo=0, hi=1)
    coverage_year: int = _f(2025, "Year of the coverage target (item 14).", lo=2000, hi=2100)
    new_building_from_year: int = _f(
        2022,
        "Buildings completed from this year count as new: the national 50% goal was set by "
        "MOHURD/NDRC's urban-rural construction carbon-peak plan of June 2022 (secondary).",
        lo=1900, hi=2100,
    )
    coverage_categories: tuple[str, ...] = _f(
        ("government", "hospital", "school", "public", "industrial"),
        "Public-institution and factory categories the coverage target applies to (item 14).",
    )


@dataclass(frozen=True)
class OutputsConfig:
    """Where and what to write."""

    out_dir: str = _f("", "Output directory; empty = outputs/<survey.name>.")
    shortlist_size: int = _f(0, "Rows in the CSV shortlist; 0 = every planned roof.", lo=0)


@dataclass(frozen=True)
class Config:
    """A whole scenario."""

    survey: SurveyConfig = field(default_factory=SurveyConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    roofs: RoofsConfig = field(default_factory=RoofsConfig)
    shading: ShadingConfig = field(default_factory=ShadingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)

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
            raise ConfigError(f"{where}: '{key}' must be a table, got {value!r}")
        return _build(tp, value, key, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key, where)
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: '{key}' must be a list, got {value!r}")
        return tuple(_coerce(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a table, got {value!r}")
        return {str(k): _coerce(v, str, f"{key}.{k}", where) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: '{key}' must be a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: '{key}' has unsupported type {_type_name(tp)}")  # pragma: no cover


def _check_range(value: Any, meta: dict, key: str, where: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: '{key}' = {value!r} is not one of {', '.join(map(repr, choices))}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
            op = ">" if meta.get("lo_open") else ">="
            raise ConfigError(f"{where}: '{key}' = {value!r} must be {op} {lo}")
        if hi is not None and value > hi:
            raise ConfigError(f"{where}: '{key}' = {value!r} must be <= {hi}")


def _build(cls: type, data: dict, prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(
            f"{where}: unknown key '{key}'; known keys{' in [' + prefix + ']' if prefix else ''}: "
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
        if obj.capacity_kwp <= 0:
            raise ConfigError(f"{where}: '{prefix}.capacity_kwp' = {obj.capacity_kwp} must be > 0")
    if isinstance(obj, PlanConfig):
        if not obj.priority_classes:
            raise ConfigError(f"{where}: 'plan.priority_classes' must name at least one class")
        years = [t.year for t in obj.targets]
        if years != sorted(years):
            raise ConfigError(f"{where}: 'plan.targets' must be in year order, got {years}")
    if isinstance(obj, RoofsConfig) and obj.flat_max_tilt_deg > obj.max_tilt_deg:
        raise ConfigError(f"{where}: 'roofs.flat_max_tilt_deg' must not exceed 'roofs.max_tilt_deg'")


def config_from_dict(data: dict, *, where: str = "config") -> Config:
    """Build a validated :class:`Config` from a nested dict (as parsed from TOML)."""
    return _build(Config, data, "", where)


def load_config(path: str | Path | None = None) -> Config:
    """Read a scenario TOML file; ``None`` gives the documented defaults.

    Relative input paths in the file are resolved against the file's folder.
    """
    if path is None:
        return Config()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found; pass an existing TOML file to --config")
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at the position shown") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text; save the config as UTF-8") from None
    cfg = _build(Config, data, "", str(p))
    # resolve relative input paths against the config's folder
    ins = cfg.inputs
    resolved = {}
    for name in ("buildings", "roofs", "dsm", "dem", "weather"):
        val = getattr(ins, name)
        if val and "://" not in val and not val.startswith("PG:") and not Path(val).is_absolute():
            resolved[name] = str((p.parent / val).resolve())
    if resolved:
        cfg = dataclasses.replace(cfg, inputs=dataclasses.replace(ins, **resolved))
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
