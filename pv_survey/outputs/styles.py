"""QGIS default styles (QML) of the GeoPackage layers, filled from templates and data.

The templates live beside this module in ``styles/*.qml`` (package data), so a GIS
analyst can restyle a layer in QGIS, export its QML and replace the template. Python
fills only what depends on the data: field aliases (Chinese / English), the phase
categories of ``plan``, the specific-yield classes of ``roofs``, the map tips.

The QML is written for QGIS 3.22 LTR (the Debian 12 package) and read unchanged by
later 3.x releases: symbol layer properties as ``<Option type="Map">``, rule keys fixed
so the same data gives the same style text.
"""

from __future__ import annotations

import re
from importlib import resources
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import OutputError
from .labels import CATEGORY_LABELS, PUBLIC_CATEGORIES, bilingual, field_alias

__all__ = [
    "load_template",
    "fill_template",
    "phase_order",
    "is_built_phase",
    "RESERVE",
    "PINNED_OUT",
    "phase_colours",
    "phase_label",
    "yield_breaks",
    "YIELD_COLOURS",
    "aliases_xml",
    "buildings_qml",
    "roofs_qml",
    "plan_qml",
    "table_qml",
    "qml_for_layer",
    "boundary_qml",
]

# Colours. ColorBrewer 2.0 (C. A. Brewer, colorbrewer2.org), schemes chosen for print and
# colour-blind safety: YlOrRd-5 for a sequential quantity, PRGn for the phases.
#: Specific-yield classes, low to high (ColorBrewer YlOrRd, 5 classes).
YIELD_COLOURS: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Dated phases, earliest first (ColorBrewer PRGn, green side, dark to light).
_PHASE_GREENS: tuple[str, ...] = ("#1b7837", "#5aae61", "#a6dba0", "#d9f0d3")
#: The reserve: light purple (ColorBrewer PRGn), context for the build phases.
RESERVE_COLOUR = "#c2a5cf"
#: Sites with no phase, excluded buildings (neutral grey).
UNPLANNED_COLOUR = "#d9d9d9"
EXCLUDED_COLOUR = "#9e9e9e"
KEPT_COLOUR = "#f4f1ea"
PUBLIC_OUTLINE_COLOUR = "#08306b"
EDGE_COLOUR = "#7f7f7f"
#: Outline of the district boundary (GeoPackage style and report map).
BOUNDARY_COLOUR = "#333333"

#: Phase names with a fixed meaning: the same strings as pv_survey.plan.RESERVE and
#: pv_survey.plan.PINNED_OUT (tests/test_outputs.py checks they agree); '' = no site.
#: Classes of the specific-yield ramp, and the rounding of their edges [kWh/kWp] (project choice:
#: five classes read at a glance, edges on round numbers).
YIELD_CLASSES = 5
YIELD_STEP = 5.0
#: QGIS ``QgsWkbTypes.GeometryType`` codes (QGIS API: 0 point, 1 line, 2 polygon, 4 no geometry).
QGIS_POLYGON = 2
QGIS_NO_GEOMETRY = 4

RESERVE = "reserve"
PINNED_OUT = "pinned out"
NOT_BUILT_PHASES: frozenset[str] = frozenset({"", RESERVE, PINNED_OUT})
PINNED_OUT_COLOUR = "#636363"

_PHASE_WORDS: dict[str, tuple[str, str]] = {
    RESERVE: ("储备", "Reserve"),
    PINNED_OUT: ("人工排除", "Pinned out"),
    "catch-up": ("补建", "Catch-up"),
    "": ("未规划", "Not planned"),
}
_YEAR_RE = re.compile(r"(\d{4})")
_PLACEHOLDER_RE = re.compile(r"@@([A-Z_]+)@@")


# --------------------------------------------------------------------------- templates


def load_template(name: str) -> str:
    """Text of the template ``styles/<name>`` shipped with the package."""
    try:
        return (resources.files("pv_survey.outputs") / "styles" / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputError(
            f"pv_survey/outputs/styles/{name}: style template missing from the installed package; "
            f"reinstall pv-survey (pip install -e .)"
        ) from None


def fill_template(text: str, **values: str) -> str:
    """Replace every ``@@KEY@@`` by ``values[KEY]``; a placeholder left unfilled is an error."""
    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise OutputError(f"style template: no value for placeholder @@{key}@@; pass {key}=...")
        return str(values[key])
    return _PLACEHOLDER_RE.sub(sub, text)


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _fill_symbol(name: str, fill: str, line: str, width_mm: float, *, fill_alpha: int = 255,
                 style: str = "solid") -> str:
    return fill_template(load_template("fill_symbol.xml").strip(), NAME=name, FILL=_rgba(fill, fill_alpha),
                         LINE=_rgba(line), WIDTH_MM=f"{width_mm:g}", STYLE=style)


# --------------------------------------------------------------------------- phases and classes


def is_built_phase(phase) -> bool:
    """True for a build phase (a target year, 'catch-up'), False for reserve, pinned out or none."""
    return ("" if phase is None else str(phase)) not in NOT_BUILT_PHASES


def _phase_key(phase: str) -> tuple:
    if phase == "":
        return (4, 0, phase)
    if phase == PINNED_OUT:
        return (3, 0, phase)
    if phase == RESERVE:
        return (2, 0, phase)
    m = _YEAR_RE.search(phase)
    if m:
        return (0, int(m.group(1)), phase)
    return (1, 0, phase)


def phase_order(phases) -> list[str]:
    """Distinct phases in reading order: dated build phases by year, other build phases,
    reserve, pinned out, '' (no site)."""
    uniq = {"" if (p is None or (isinstance(p, float) and np.isnan(p))) else str(p) for p in phases}
    return sorted(uniq, key=_phase_key)


def phase_colours(phases) -> dict[str, str]:
    """Colour (``#rrggbb``) of each phase; the same in QGIS, the report map and the charts.

    Build phases get greens (darkest first), reserve purple, pinned-out dark grey, no phase light grey.
    """
    out: dict[str, str] = {}
    n_built = 0
    for p in phase_order(phases):
        if p == "":
            out[p] = UNPLANNED_COLOUR
        elif p == PINNED_OUT:
            out[p] = PINNED_OUT_COLOUR
        elif p == RESERVE:
            out[p] = RESERVE_COLOUR
        else:  # a build phase
            out[p] = _PHASE_GREENS[min(n_built, len(_PHASE_GREENS) - 1)]
            n_built += 1
    return out


def phase_label(phase: str, *, english_only: bool = False) -> str:
    """Reader's name of a phase: '2025' -> '2025年 / by 2025', 'reserve' -> '储备 / Reserve'."""
    p = "" if phase is None else str(phase)
    if p in _PHASE_WORDS:
        zh, en = _PHASE_WORDS[p]
    elif re.fullmatch(r"\d{4}", p):
        zh, en = f"{p}年", f"by {p}"
    else:
        zh, en = "", p
    return en if english_only else bilingual(zh, en)


def yield_breaks(values, n_classes: int = YIELD_CLASSES, *, step: float = YIELD_STEP) -> list[float]:
    """Class edges of specific yield at quantiles, rounded to ``step`` [kWh/kWp].

    Parameters
    ----------
    values : array-like
        Specific yields of the kept roofs; NaN and values <= 0 are ignored. [kWh/kWp]
    n_classes : int
        Wanted number of classes (fewer when the data has fewer distinct values).
    step : float
        Rounding of the edges. [kWh/kWp]

    Returns
    -------
    list of float
        Increasing edges, ``len >= 2``; the first is at or below the minimum, the last
        at or above the maximum.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:  # no kept roof: one placeholder class spanning every plausible yield
        return [0.0, 2000.0]
    lo = float(np.floor(v.min() / step) * step)
    hi = float(np.ceil(v.max() / step) * step)
    if hi <= lo:
        hi = lo + step
    inner = np.round(np.quantile(v, np.linspace(0, 1, n_classes + 1)[1:-1]) / step) * step
    edges = sorted({lo, hi, *[float(x) for x in inner if lo < x < hi]})
    return edges


# --------------------------------------------------------------------------- QML pieces


def aliases_xml(fields: list[str]) -> str:
    """``<alias>`` elements for a layer whose fields are ``fid`` then ``fields`` (QGIS field order)."""
    rows = []
    for i, name in enumerate(["fid", *[f for f in fields if f != "fid"]]):
        rows.append(f"<alias field={quoteattr(name)} index=\"{i}\" name={quoteattr(field_alias(name) or '')}/>")
    return "\n    ".join(rows)


def _tip_line(field: str, expr: str) -> str:
    label = field_alias(field) or field
    return f"{label}: [% {expr} %]<br/>"


def _maptip(title_expr: str, lines: list[tuple[str, str]]) -> str:
    body = f"<b>[% {title_expr} %]</b><br/>" + "".join(_tip_line(f, e) for f, e in lines)
    return escape(body)


def _public_list() -> str:
    return ", ".join(f"'{c}'" for c in PUBLIC_CATEGORIES)


def buildings_qml(fields: list[str]) -> str:
    """Default style of ``buildings``: kept light, excluded grey (reason as label and tip), public outlined."""
    public_names = "、".join(CATEGORY_LABELS[c][0] for c in PUBLIC_CATEGORIES)
    symbols = "\n      ".join([
        _fill_symbol("0", KEPT_COLOUR, EDGE_COLOUR, 0.1),
        _fill_symbol("1", EXCLUDED_COLOUR, "#6e6e6e", 0.1, fill_alpha=200),
        _fill_symbol("2", PUBLIC_OUTLINE_COLOUR, PUBLIC_OUTLINE_COLOUR, 0.5, style="no"),
    ])
    reason = ("CASE WHEN coalesce(\"excluded_reason\", '') <> '' THEN \"excluded_reason\" "
              "ELSE '—' END")
    tip = _maptip(
        "coalesce(\"name\", '') || ' (' || \"building_id\" || ')'",
        [("category", '"category"'), ("excluded_reason", reason),
         ("capacity_kwp", 'format_number("capacity_kwp", 1)'), ("phase", "coalesce(\"phase\", '')"),
         ("owner", "coalesce(\"owner\", '')"), ("address", "coalesce(\"address\", '')")],
    )
    return fill_template(
        load_template("buildings.qml"),
        LABEL_KEPT=escape(bilingual("可用屋顶", "Usable roof")),
        LABEL_EXCLUDED=escape(bilingual("已排除（原因见标注）", "Excluded (reason in label / tip)")),
        LABEL_PUBLIC=escape(bilingual(f"公共机构（{public_names}）", "Public institution")),
        PUBLIC_LIST=escape(_public_list()),
        SYMBOLS=symbols, ALIASES=aliases_xml(fields), MAPTIP=tip,
    )


def _line_symbol(name: str, line: str, width_mm: float) -> str:
    return fill_template(load_template("line_symbol.xml").strip(), NAME=name, LINE=_rgba(line),
                         WIDTH_MM=f"{width_mm:g}")


def roofs_qml(fields: list[str], specific_yield_kwh_kwp, *, id_field: str = "roof_id",
              geometry_type: int = QGIS_POLYGON) -> str:
    """Default style of ``roofs`` (and of the ``facades`` / ``carports`` resource layers).

    Graduated colour by specific yield (quantile classes of the data); ``geometry_type``
    1 draws lines (facade segments), 2 fills polygons.
    """
    edges = yield_breaks(specific_yield_kwh_kwp, n_classes=len(YIELD_COLOURS))
    n = len(edges) - 1
    # spread the ramp over the classes present: with fewer classes keep the ends of the ramp
    idx = np.round(np.linspace(0, len(YIELD_COLOURS) - 1, n)).astype(int) if n > 1 else np.array([2])
    ranges, symbols = [], []
    for k in range(n):
        lower, upper = edges[k], edges[k + 1]
        label = f"{lower:.0f} – {upper:.0f} kWh/kWp"
        ranges.append(f"<range symbol=\"{k}\" lower=\"{lower:.6f}\" upper=\"{upper:.6f}\" "
                      f"label={quoteattr(label)} render=\"true\"/>")
        # outline in the fill colour: small roofs keep their colour at district scale
        if geometry_type == 1:
            symbols.append(_line_symbol(str(k), YIELD_COLOURS[idx[k]], 0.8))
        else:
            symbols.append(_fill_symbol(str(k), YIELD_COLOURS[idx[k]], YIELD_COLOURS[idx[k]], 0.2))
    tip = _maptip(
        f'"{id_field}"',
        [t for t in [("building_id", "coalesce(\"building_id\", '')" if "building_id" in fields else "''"),
         ("specific_yield_kwh_kwp", 'format_number("specific_yield_kwh_kwp", 0)'),
         ("capacity_kwp", 'format_number("capacity_kwp", 1)'),
         ("annual_kwh", 'format_number("annual_kwh", 0)'),
         ("shading_loss_frac", 'format_number(100 * "shading_loss_frac", 1) || \' %\''),
         ("mount", '"mount"'),
         ("n_modules", '"n_modules"'),
         ("excluded_reason", "coalesce(\"excluded_reason\", '')")] if t[0] in fields or t[0] == "building_id"],
    )
    return fill_template(load_template("roofs.qml"), RANGES="\n      ".join(ranges),
                         SYMBOLS="\n      ".join(symbols), ALIASES=aliases_xml(fields), MAPTIP=tip,
                         PREVIEW=escape(f'"{id_field}"'), GEOMTYPE=str(int(geometry_type)))


def plan_qml(fields: list[str], phases) -> str:
    """Default style of ``plan``: one colour per phase (categorised), not-planned sites grey."""
    colours = phase_colours(phases)
    cats, symbols = [], []
    for k, (p, colour) in enumerate(colours.items()):
        # a category with an empty value is QGIS's "all other values": it catches '' and NULL
        cats.append(f"<category symbol=\"{k}\" value={quoteattr(p)} label={quoteattr(phase_label(p))} "
                    f"render=\"true\"/>")
        symbols.append(_fill_symbol(str(k), colour, colour, 0.3))  # outline in the fill colour, as above
    tip = _maptip(
        "\"rank\" || '. ' || coalesce(\"name\", '') || ' (' || \"building_id\" || ')'",
        [("phase", '"phase"'), ("category", '"category"'),
         ("capacity_kwp", 'format_number("capacity_kwp", 1)'),
         ("annual_kwh", 'format_number("annual_kwh", 0)'),
         ("capex_cny", 'format_number("capex_cny", 0)'),
         ("simple_payback_yr", 'format_number("simple_payback_yr", 1)'),
         ("owner", "coalesce(\"owner\", '')"), ("address", "coalesce(\"address\", '')")],
    )
    return fill_template(load_template("plan.qml"), CATEGORIES="\n      ".join(cats),
                         SYMBOLS="\n      ".join(symbols), ALIASES=aliases_xml(fields), MAPTIP=tip)


def table_qml(fields: list[str], *, geometry_type: int = QGIS_NO_GEOMETRY) -> str:
    """Default style of a layer without symbology of its own: field aliases only.

    ``geometry_type`` is QGIS's ``QgsWkbTypes.GeometryType`` (0 point, 1 line, 2 polygon, 4 none).
    """
    first = next((f for f in fields if f != "fid"), None)
    preview = f'"{first}"' if first else '"fid"'
    return fill_template(load_template("table.qml"), ALIASES=aliases_xml(fields), PREVIEW=escape(preview),
                         GEOMTYPE=str(int(geometry_type)))


def _geometry_type_code(frame: pd.DataFrame) -> int:
    if not isinstance(frame, gpd.GeoDataFrame):
        return 4
    kinds = set(frame.geometry.geom_type.dropna().unique())
    if kinds and kinds <= {"Point", "MultiPoint"}:
        return 0
    if kinds and kinds <= {"LineString", "MultiLineString"}:
        return 1
    if kinds and kinds <= {"Polygon", "MultiPolygon"}:
        return 2
    return 3


def boundary_qml(fields: list[str]) -> str:
    """Default style of ``boundary``: the district outline, dark, 0.8 mm, unfilled."""
    return fill_template(load_template("boundary.qml"),
                         SYMBOLS=_fill_symbol("0", BOUNDARY_COLOUR, BOUNDARY_COLOUR, 0.8, style="no"),
                         ALIASES=aliases_xml(fields))


def qml_for_layer(name: str, frame: pd.DataFrame, *, yields=None) -> str:
    """The default QML of the GeoPackage layer ``name`` holding ``frame`` (columns in layer order).

    ``yields``: the ``modules`` layer's specific yields [kWh/kWp] when ``frame`` holds only its
    first rows (a layer written part by part); default the frame's own column.
    """
    geom_col = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    fields = [c for c in frame.columns if c not in ("fid", geom_col)]
    if name == "buildings":
        return buildings_qml(fields)
    if name == "boundary":
        return boundary_qml(fields)
    from ..resources import REGISTRY

    if name in REGISTRY and "specific_yield_kwh_kwp" in frame:
        # every resource's surfaces: coloured by specific yield, labelled by the resource's id field
        kept = frame["excluded_reason"].fillna("").astype(str) == "" if "excluded_reason" in frame else True
        sy = frame.loc[kept, "specific_yield_kwh_kwp"]
        id_field = REGISTRY[name].id_field
        return roofs_qml(fields, sy, id_field=id_field if id_field in fields else "fid",
                         geometry_type=_geometry_type_code(frame))
    if name == "modules" and "specific_yield_kwh_kwp" in frame:
        # the module layout (one polygon per module or per row segment): coloured by its own yield
        id_field = "module_id" if "module_id" in fields else "segment_id"
        sy = frame["specific_yield_kwh_kwp"] if yields is None else pd.Series(yields)
        return roofs_qml(fields, sy, id_field=id_field if id_field in fields else "fid",
                         geometry_type=_geometry_type_code(frame))
    if name == "plan":
        return plan_qml(fields, frame["phase"] if "phase" in frame else [""])
    return table_qml(fields, geometry_type=_geometry_type_code(frame))
