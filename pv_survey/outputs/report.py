"""report.html (one self-contained file) and summary.md (quick reading).

The report needs no network: CSS is inline, charts are PNG data URIs, the map is
inline SVG. The only script is the optional pan/zoom of the map (:data:`MAP_SCRIPT`, plain
JavaScript written here, no external file, no data in it); without it the report is
script-free. Every string from the data is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
from html import escape
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from .charts import (
    ChartText,
    category_png,
    cumulative_capacity_png,
    monthly_png,
    site_curves_png,
    plan_map_svg,
    typical_day_png,
    yield_histogram_png,
)
from .csv_out import shortlist_frame
from .labels import bilingual, category_label, field_alias
from .styles import built_phase_mask, is_built_phase, phase_label, phase_order

__all__ = ["SITE_TABLE_COLUMNS", "TARGET_TABLE_COLUMNS", "MAP_SCRIPT", "render_charts", "phase_table", "site_table",
           "target_table", "plain_words", "report_html", "summary_md", "format_value"]

#: The report's ranked table of the build-year sites: (column of the plan layer, header field).
#: The one place that maps plan columns to the report; ``build_year`` falls back to ``phase``.
SITE_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "rank"),
    ("name", "name"),
    ("owner", "owner"),
    ("category", "category"),
    ("capacity_kwp", "capacity_kwp"),
    ("annual_mwh", "annual_mwh"),
    ("capex_cny", "capex_cny"),
    ("lcoe_cny_per_kwh", "lcoe_cny_per_kwh"),
    ("simple_payback_yr", "simple_payback_yr"),
    ("build_year", "build_year"),
    ("why", "why"),
)

#: The report's targets table: the columns a reader compares, in order. survey.gpkg's ``targets`` layer
#: holds every column (kind, categories, phase, a capacity target's kWp copies); each target's
#: definition and source are listed under the table (23 columns were 1,970 px wide in a 1,280 px window).
TARGET_TABLE_COLUMNS: tuple[str, ...] = (
    "target", "year", "due_year", "passed", "unit", "required", "achieved_existing", "achieved_plan", "met",
    "margin", "shortfall", "n_sites", "status",
)
#: A target's amounts: kWp for a capacity target, a share for a coverage or share target (shown as
#: percent; its ``unit`` names what the basis and the shortfall count, buildings or m2).
_TARGET_AMOUNT_COLUMNS = ("required", "achieved_existing", "achieved_plan", "margin")
#: The same for a targets table that has only the kWp amounts.
_TARGET_KWP_TABLE_COLUMNS: tuple[str, ...] = (
    "target", "year", "due_year", "passed", "required_kwp", "existing_kwp", "planned_kwp", "achieved_kwp", "met",
    "margin_kwp", "shortfall", "n_sites", "status",
)

#: Pan and zoom of the inline map (``outputs.report_interactive``): mouse wheel zooms about the
#: pointer, dragging pans, buttons zoom about the centre and reset; the legend, scale bar and
#: north arrow stay fixed on screen (the scale bar re-measured), rank labels and markers keep
#: their size; the whole map comes back before printing. Listeners only (no ``on...``
#: attributes), nothing fetched.
MAP_SCRIPT = """(function () {
  "use strict";
  var svg = document.getElementById("plan-map");
  if (!svg || !svg.getAttribute("viewBox")) { return; }
  var base = svg.getAttribute("viewBox").split(/[\\s,]+/).map(Number);
  var vb = base.slice();
  var mPerUnit = parseFloat(svg.getAttribute("data-m-per-unit")) || 1;
  var spanM = parseFloat(svg.getAttribute("data-span-m")) || base[2] * mPerUnit;
  var overlay = svg.querySelector("g.overlay");
  var labels = svg.querySelector("g.labels");
  var marks = svg.querySelectorAll("circle.mk");
  var bar = svg.querySelector(".sb-bar"), barBg = svg.querySelector(".sb-bg"), barText = svg.querySelector(".sb-text");
  function nice(m) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(m, 1)))), best = p;
    [1, 2, 5].forEach(function (f) { if (f * p <= m) { best = f * p; } });
    return best;
  }
  function draw() {
    svg.setAttribute("viewBox", vb.join(" "));
    var k = vb[2] / base[2];
    if (overlay) { overlay.setAttribute("transform", "translate(" + vb[0] + " " + vb[1] + ") scale(" + k + ")"); }
    if (labels) { labels.setAttribute("font-size", 11 * k); labels.setAttribute("stroke-width", 3 * k); }
    for (var i = 0; i < marks.length; i++) { marks[i].setAttribute("r", 4 * k); marks[i].setAttribute("stroke-width", k); }
    if (bar && barText) {
      var m = nice(Math.max(spanM * k / 5, 1)), w = m / (mPerUnit * k);
      bar.setAttribute("width", w.toFixed(1));
      if (barBg) { barBg.setAttribute("width", (w + 12).toFixed(1)); }
      barText.textContent = m >= 1000 ? (m / 1000) + " km" : m + " m";
    }
  }
  function zoomAt(f, cx, cy) {
    var w = vb[2] * f;
    if (w >= base[2]) { vb = base.slice(); draw(); return; }
    if (w < base[2] / 64) { return; }
    vb = [cx - (cx - vb[0]) * f, cy - (cy - vb[1]) * f, w, vb[3] * f];
    draw();
  }
  function toMap(e) {
    var r = svg.getBoundingClientRect();
    return [vb[0] + (e.clientX - r.left) / r.width * vb[2], vb[1] + (e.clientY - r.top) / r.height * vb[3]];
  }
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = toMap(e);
    zoomAt(e.deltaY < 0 ? 0.8 : 1.25, p[0], p[1]);
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY, vx: vb[0], vy: vb[1] };
    if (svg.setPointerCapture) { svg.setPointerCapture(e.pointerId); }
    svg.style.cursor = "grabbing";
  });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var r = svg.getBoundingClientRect();
    vb[0] = drag.vx - (e.clientX - drag.x) / r.width * vb[2];
    vb[1] = drag.vy - (e.clientY - drag.y) / r.height * vb[3];
    draw();
  });
  function end() { drag = null; svg.style.cursor = "grab"; }
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  svg.style.cursor = "grab";
  svg.style.touchAction = "none";
  function reset() { vb = base.slice(); draw(); }
  function button(id, f) { var b = document.getElementById(id); if (b) { b.addEventListener("click", f); } }
  button("map-zoom-in", function () { zoomAt(0.8, vb[0] + vb[2] / 2, vb[1] + vb[3] / 2); });
  button("map-zoom-out", function () { zoomAt(1.25, vb[0] + vb[2] / 2, vb[1] + vb[3] / 2); });
  button("map-reset", reset);
  window.addEventListener("beforeprint", reset);
  var tools = document.getElementById("map-tools");
  if (tools) { tools.hidden = false; }
})();
"""


def _map_tools() -> str:
    """Buttons of the interactive map (hidden until the script runs; not printed)."""
    hint = bilingual("滚轮缩放，拖动平移", "wheel to zoom, drag to pan")
    return ('<div id="map-tools" class="screen-only" hidden>'
            '<button type="button" id="map-zoom-in" aria-label="zoom in">+</button> '
            '<button type="button" id="map-zoom-out" aria-label="zoom out">&#8722;</button> '
            f'<button type="button" id="map-reset">{escape(bilingual("复位", "Reset"))}</button> '
            f'<span class="hint">{escape(hint)}</span></div>')


_CSS = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei",
"Source Han Sans SC","Droid Sans Fallback",system-ui,sans-serif;color:#222;margin:0 auto;max-width:1180px;padding:24px;
line-height:1.45;background:#fff}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;border-bottom:2px solid #08519c;padding-bottom:.2em;
margin-top:1.8em}.sub{color:#666;margin:0 0 1em}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{flex:1 1 150px;border:1px solid #ddd;border-radius:6px;
padding:8px 12px;background:#f7f9fc}.card b{display:block;font-size:1.35em;color:#08519c}
.plain{background:#f7f9fc;border-left:4px solid #08519c;padding:.6em 1em;margin:1em 0}.plain p{margin:.4em 0}
.plain ol{margin:.3em 0 .3em 1.2em;padding:0}
table{border-collapse:collapse;width:100%;font-size:.84em;margin:.5em 0;table-layout:auto}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f0f3f7;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{max-width:100%}td.long{min-width:12em}ul.defs{font-size:.85em;color:#444}.yes{color:#1b7837;font-weight:bold}.no{color:#b2182b;font-weight:bold}.na{color:#666}
figure{margin:1em 0}figure img,figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}.legend span.sw{display:inline-block;width:12px;height:12px;
margin:0 4px 0 12px;vertical-align:-1px;border:1px solid #999}
#map-tools{margin:.4em 0}#map-tools button{font-size:1em;min-width:2.2em;padding:2px 8px}
#map-tools .hint{color:#666;font-size:.85em}.notes li{margin:.2em 0}footer{margin-top:2em;color:#777;font-size:.85em}
@media (max-width:1000px){body{padding:10px}table{font-size:.7em}th,td{padding:2px 3px;overflow-wrap:anywhere}}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;padding:0;font-size:9.5pt}table{font-size:7pt}th,td{padding:2px 3px;overflow-wrap:anywhere}thead{display:table-header-group}
tr,figure,.plain{break-inside:avoid}h2{break-after:avoid}.screen-only{display:none}
#map{break-before:page}.cards{gap:4px}.card{padding:4px 8px}}
"""


# --------------------------------------------------------------------------- formatting


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def format_value(column: str, v: Any) -> tuple[str, bool]:
    """Reader's text of a table cell and whether it is a number (right-aligned).

    Fractions (``_frac``) as percent; years (``year``, ``year_built``, ``*_year`` but not ``*_per_year``)
    and ranks plain; counts, CNY and CNY per year
    whole with thousands separators; CNY per kWh with two decimals; everything else
    (kWp, kWh, MWh, m2, years of payback) with one decimal; booleans as 是 / yes.
    """
    if _is_missing(v):
        return "", False
    if isinstance(v, (bool, np.bool_)):
        return (bilingual("是", "yes") if v else bilingual("否", "no")), False
    if not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v), False
    x = float(v)
    if column.endswith("_frac") or column.endswith("_share"):
        return f"{100 * x:.1f} %", True
    if column in ("year", "rank", "year_built", "class_rank") or (column.endswith("_year") and "_per_" not in column):
        return f"{x:.0f}", True  # a year (due_year, build_year, ...) is never '2,027'; an amount per year is
    if "_per_kwh" in column:
        return f"{x:,.2f}", True
    if column.startswith("n_") or "_cny" in column or isinstance(v, (int, np.integer)):
        return f"{x:,.0f}", True
    return f"{x:,.1f}", True


def _table(df: pd.DataFrame, *, bool_class: bool = True, right: tuple[str, ...] = ()) -> str:
    """An HTML table of ``df``, each cell by :func:`format_value`; ``right``: columns of amounts given
    as text (right-aligned like numbers)."""
    if df is None or len(df.columns) == 0:
        return "<p>—</p>"
    d = df.reset_index() if (not isinstance(df.index, pd.RangeIndex) or df.index.name) else df
    head = "".join(f"<th>{escape(field_alias(str(c)) or str(c))}</th>" for c in d.columns)
    rows = []
    for rec in d.itertuples(index=False):
        cells = []
        for col, v in zip(d.columns, rec):
            txt, num = format_value(str(col), v)
            cls = ' class="n"' if num or (col in right and txt) else ""
            if bool_class and col == "met" and isinstance(v, (bool, np.bool_)):
                cls = ' class="yes"' if v else ' class="no"'
            if not num and len(txt) > 60:  # long explanations get room to read
                cls = ' class="long"'
            cells.append(f"<td{cls}>{escape(txt)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table></div>")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _f(x: Any, digits: int = 1) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(v) else f"{v:,.{digits}f}"


# --------------------------------------------------------------------------- pieces


def phase_table(plan: pd.DataFrame) -> pd.DataFrame:
    """Sites, capacity [kWp] and generation [MWh/yr] per phase, in phase order."""
    ph = plan["phase"].fillna("").astype(str) if "phase" in plan else pd.Series([], dtype=str)
    rows = []
    for p in phase_order(ph):
        m = (ph == p).to_numpy()
        rows.append({"phase": phase_label(p), "n_sites": int(m.sum()),
                     "capacity_kwp": float(plan.loc[m, "capacity_kwp"].sum()),
                     "annual_mwh": float(plan.loc[m, "annual_kwh"].sum()) / 1000.0})
    return pd.DataFrame(rows, columns=["phase", "n_sites", "capacity_kwp", "annual_mwh"])


def _build_year(plan: pd.DataFrame) -> pd.Series:
    """Build year (or phase name) of each site: ``build_year`` when the plan has it, else ``phase``."""
    if "phase" in plan:  # the build year as text, or 'reserve' / 'pinned out'
        return plan["phase"].astype(str)
    if "build_year" in plan:
        y = plan["build_year"]
        return y.astype(object).where(y.notna(), "").astype(str)
    return plan["phase"] if "phase" in plan else pd.Series("", index=plan.index)


def _why(row: Mapping[str, Any]) -> str:
    """Why a site is on the list, in a few words (pin, priority class, yield, payback)."""
    parts = []
    planned = str(row.get("why", "") or "")
    if planned:  # the plan's own reason (target served, class rank)
        parts.append(planned)
    elif str(row.get("pinned", "") or "") == "in":
        parts.append(bilingual("指定建设", "pinned in"))
    cls = row.get("priority_class")
    if isinstance(cls, str) and cls:
        zh, en = (category_label(cls).split(" / ") + [""])[:2]
        parts.append(bilingual(f"{zh}优先", f"{en or zh} priority"))
    sy = row.get("specific_yield_kwh_kwp")
    if not _is_missing(sy):
        parts.append(f"{float(sy):,.0f} kWh/kWp")
    pb = row.get("simple_payback_yr")
    if not _is_missing(pb):
        parts.append(bilingual(f"{float(pb):.1f} 年回收", f"pays back in {float(pb):.1f} yr"))
    return "; ".join(parts)


def site_table(plan: pd.DataFrame) -> pd.DataFrame:
    """The build-year sites in rank order with the columns of :data:`SITE_TABLE_COLUMNS`.

    Names are never blank (address, then building id, as in the shortlists); category
    and build year in words; ``why`` from the pin, class, yield and payback.
    """
    if not len(plan):
        return pd.DataFrame(columns=[h for _c, h in SITE_TABLE_COLUMNS])
    year = _build_year(plan).fillna("").astype(str)
    built = plan[built_phase_mask(year)]
    built = built.sort_values("rank", kind="stable") if "rank" in built else built
    names = shortlist_frame(built.assign(phase=_build_year(built))) if isinstance(built, gpd.GeoDataFrame) \
        else None
    out = pd.DataFrame(index=range(len(built)))
    recs = built.to_dict(orient="records")
    for col, head in SITE_TABLE_COLUMNS:
        if col == "annual_mwh":
            out[head] = built["annual_kwh"].astype(float).to_numpy() / 1000.0 if "annual_kwh" in built else np.nan
        elif col == "why":
            out[head] = [_why(r) for r in recs]
        elif col == "build_year":
            out[head] = [phase_label(str(y)) for y in _build_year(built)]
        elif col == "category":
            out[head] = [category_label(str(c)) for c in built[col]] if col in built else ""
        elif col == "name" and names is not None:
            out[head] = names["name"].to_numpy()
        else:
            out[head] = built[col].to_numpy() if col in built else np.nan
    return out


def target_table(targets: pd.DataFrame | None) -> pd.DataFrame | None:
    """The targets with the columns of :data:`TARGET_TABLE_COLUMNS` that they have (a table with
    only the kWp columns shows those in place of the general amounts)."""
    if targets is None:
        return None
    order = TARGET_TABLE_COLUMNS if "required" in targets else _TARGET_KWP_TABLE_COLUMNS
    out = targets[[c for c in order if c in targets]]
    share = targets["kind"].astype(str).to_numpy() != "capacity" if "kind" in targets else np.zeros(len(out), bool)
    if share.any():  # the amounts as text, each row in its own unit
        out = out.copy()
        for col in (c for c in _TARGET_AMOUNT_COLUMNS if c in out):
            out[col] = [format_value(f"{col}_frac" if s else col, v)[0] for s, v in zip(share, out[col])]
    return out


def _target_notes(targets: pd.DataFrame | None) -> str:
    """Each target's definition, then each distinct source once, as a list under the targets table."""
    if targets is None or not len(targets):
        return ""
    items = []
    if "definition" in targets and "target" in targets:
        items += [f"<li>{escape(str(t))}: {escape(str(d))}</li>"
                  for t, d in zip(targets["target"], targets["definition"]) if not _is_missing(d) and str(d)]
    if "source" in targets:
        sources = [str(x) for x in pd.unique(targets["source"].dropna()) if str(x)]
        items += [f"<li>{escape(bilingual('来源', 'Source'))}: {escape(x)}</li>" for x in sources]
    return f'<ul class="defs">{"".join(items)}</ul>' if items else ""


#: Rows of the report's ranked table; the full lists are in shortlists.xlsx and the CSVs.
#: Sites named, with why, in the report's plain-words opening (project choice: what a reader takes in).
FIRST_SITES = 3

REPORT_SITE_ROWS = 200


def _ranked(sites: pd.DataFrame) -> str:
    html = _table(sites.head(REPORT_SITE_ROWS))
    if len(sites) > REPORT_SITE_ROWS:
        n, total = REPORT_SITE_ROWS, len(sites)
        note = bilingual(f"前 {n} 个项目；全部 {total:,} 个见 shortlists.xlsx",
                         f"first {n} sites; all {total:,} in shortlists.xlsx")
        html += f"<p>{escape(note)}</p>"
    return html


def plain_words(summary: Mapping[str, Any], targets: pd.DataFrame | None, plan: pd.DataFrame, *,
                n_first: int = FIRST_SITES) -> str:
    """The report's opening, HTML: what to build each year, the first sites and why, cost,
    generation, CO2, and each target met or not, in sentences (Chinese first, then English)."""
    sites = site_table(plan)
    year = _build_year(plan).fillna("").astype(str) if len(plan) else pd.Series([], dtype=str)
    paras = []
    for y in phase_order(year):
        if not is_built_phase(y):
            continue
        m = (year == y).to_numpy()
        p = plan[m]
        kwp = float(p["capacity_kwp"].sum())
        mwh = float(p["annual_kwh"].sum()) / 1000.0 if "annual_kwh" in p else float("nan")
        capex = float(p["capex_cny"].sum()) if "capex_cny" in p else float("nan")
        co2 = float(p["co2_avoided_t_per_yr"].sum()) if "co2_avoided_t_per_yr" in p else float("nan")
        zh_y, en_y = (phase_label(y).split(" / ") + [""])[:2]
        paras.append(
            f"<p><b>{escape(zh_y)}</b>：建设 {int(m.sum()):,} 个项目，共 {_f(kwp, 0)} kWp，年发电 {_f(mwh, 0)} MWh，"
            f"投资约 {_f(capex / 1e4, 0)} 万元，年减排 CO₂ {_f(co2, 0)} 吨。<br>"
            f"<b>{escape(en_y or y)}</b>: build {int(m.sum()):,} sites, {_f(kwp, 0)} kWp in all, {_f(mwh, 0)} MWh a "
            f"year, about {_f(capex, 0)} CNY, {_f(co2, 0)} t CO₂ avoided a year.</p>")
    if len(sites):
        first = sites.head(n_first)
        items = "".join(
            f"<li>{escape(str(r['name']))} — {_f(r['capacity_kwp'], 0)} kWp, {escape(str(r['build_year']))}"
            f"{(': ' + escape(str(r['why']))) if r['why'] else ''}</li>" for _, r in first.iterrows())
        paras.append(f"<p>{escape(bilingual('最先建设', 'Build first'))}:</p><ol>{items}</ol>")
    else:
        paras.append(f"<p>{escape(bilingual('没有规划项目。', 'No site is planned.'))}</p>")
    recs = targets.to_dict(orient="records") if targets is not None and len(targets) else []
    for t in recs:
        word = _met_word(t.get("met", False))
        required, achieved = _target_amounts(t)
        paras.append(f"<p>{escape(str(t.get('target', '')))}: {word} — "
                     f"{escape(bilingual('需要', 'required'))} {required}, "
                     f"{escape(bilingual('达到', 'achieved'))} {achieved}.</p>")
    return '<section class="plain">' + "".join(paras) + "</section>"


def _met_word(met: Any) -> str:
    """The met / not met / not applicable badge of a target (``met`` as the targets table's
    'yes' / 'no' / 'n/a', or a bool)."""
    text = str(met).strip().lower()
    if text in ("n/a", "na"):
        return '<span class="na">' + escape(bilingual("不适用", "n/a")) + "</span>"
    if text in ("yes", "true", "1"):
        return '<span class="yes">' + escape(bilingual("达标", "met")) + "</span>"
    return '<span class="no">' + escape(bilingual("未达标", "not met")) + "</span>"


def _target_amounts(t: Mapping[str, Any]) -> tuple[str, str]:
    """Required and achieved (with the plan) of a target in its own unit: kWp, or a share."""
    unit = str(t.get("unit", "kWp") or "kWp")
    if "required" not in t or unit == "kWp":
        req = t.get("required_kwp", t.get("required"))
        ach = t.get("achieved_kwp", t.get("achieved_plan"))
        return f"{_f(req, 0)} kWp", f"{_f(ach, 0)} kWp"
    share = lambda v: "—" if _is_missing(v) else f"{100 * float(v):.0f}%"  # noqa: E731
    label = {"buildings": bilingual("建筑", "of the buildings"), "m2": bilingual("屋面面积", "of the roof area")}
    what = label.get(unit, unit)
    return f"{share(t.get('required'))} {what}", f"{share(t.get('achieved_plan'))} {what}"


def render_charts(*, plan: pd.DataFrame, roofs: pd.DataFrame, targets: pd.DataFrame, existing_kwp: float,
                  text: ChartText, typical_day: pd.DataFrame | None = None,
                  curves: pd.DataFrame | None = None) -> dict[str, bytes]:
    """PNG bytes of every report chart: ``cumulative``, ``category``, ``yield``, ``monthly``,
    ``typical_day`` when the typical day per month of the hourly profiles is given, and ``curves``
    with the sites' capacity-yield curves (the ``site_curves`` layer)."""
    planned = built_phase_mask(plan["phase"].fillna("").astype(str)) if len(plan) else []
    planned_ids = plan.loc[np.array(planned, dtype=bool), "building_id"] if len(plan) else []
    out = {
        "cumulative": cumulative_capacity_png(plan, targets, existing_kwp, text),
        "category": category_png(plan, text),
        "yield": yield_histogram_png(roofs, text),
        "monthly": monthly_png(roofs, planned_ids, text),
        **({"typical_day": typical_day_png(typical_day, text)} if typical_day is not None else {}),
    }
    if curves is not None and len(curves):
        out["curves"] = site_curves_png(curves, plan, text)
    return out


def _excluded_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    reasons = summary.get("excluded_by_reason") or {}
    return pd.DataFrame({"excluded_reason": list(reasons), "n_buildings": [int(v) for v in reasons.values()]})


def report_html(*, summary: Mapping[str, Any], targets: pd.DataFrame, coverage: pd.DataFrame | None,
                category_shares: pd.DataFrame | None, plan: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                charts: Mapping[str, bytes], generated: str = "", version: str = "",
                boundary: gpd.GeoSeries | None = None, zones: gpd.GeoDataFrame | None = None,
                interactive: bool = False) -> str:
    """The whole report as one HTML document (no external resource; no script unless ``interactive``).

    Parameters
    ----------
    summary : mapping
        The run summary (see :func:`pv_survey.outputs.write_outputs`).
    targets, coverage, category_shares : DataFrame
        Plan tables.
    plan, buildings : GeoDataFrame
        ``plan`` and ``buildings`` layers (metric CRS) for the map and the phase table.
    charts : mapping
        PNG bytes from :func:`render_charts`.
    generated, version : str
        Time stamp and pv-survey version for the footer.
    boundary, zones
        District boundary and zones outlined on the map.
    interactive : bool
        Add the map's pan/zoom (:data:`MAP_SCRIPT`, inline) and its buttons.
    """
    name = str(summary.get("name", ""))
    cards = [
        (bilingual("调查建筑", "Buildings surveyed"), f"{int(summary.get('buildings_in', 0)):,}"),
        (bilingual("可用屋面", "Roof planes kept"),
         f"{int(summary.get('roofs_kept', 0)):,} / {int(summary.get('roofs_total', 0)):,}"),
        (bilingual("潜在装机容量", "Potential capacity"), f"{_f(summary.get('total_capacity_kwp', 0) / 1000, 2)} MWp"),
        (bilingual("年发电量", "Annual generation"), f"{_f(summary.get('annual_mwh', 0), 0)} MWh"),
        (bilingual("已建光伏", "Existing PV"), f"{_f(summary.get('existing_kwp', 0), 1)} kWp"),
    ]
    card_html = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
    figures = [
        ("cumulative", bilingual("累计装机容量与目标（含已建光伏）",
                                 "Cumulative capacity in rank order against the targets, existing PV included")),
        ("category", bilingual("按建筑类别的装机容量与年发电量", "Capacity and annual generation by category")),
        ("yield", bilingual("单位容量年发电量分布", "Distribution of specific yield")),
        ("monthly", bilingual("逐月发电量", "Monthly generation")),
        ("curves", bilingual("前列项目的容量-发电量曲线：最佳 N 块组件的单位容量年发电量",
                             "Capacity-yield curves of the first sites: what the best N modules give per kWp")),
        ("typical_day", bilingual("已规划项目各月典型日出力：每月各时刻的平均交流功率（hourly_district.csv）",
                                  "Typical day of each month: mean AC power of the planned sites by hour "
                                  "(hourly_district.csv)")),
    ]
    fig_html = "".join(
        f'<figure><img src="{_data_uri(charts[key])}" alt="{escape(cap)}"><figcaption>{escape(cap)}</figcaption>'
        f"</figure>" for key, cap in figures if key in charts
    )
    notes = summary.get("notes") or []
    lines = summary.get("plan_lines") or []
    zone_outlines = None if zones is None else zones.geometry
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(bilingual('屋顶光伏调查报告', 'Rooftop PV survey report'))} — {escape(name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(bilingual('屋顶光伏潜力调查与实施计划', 'Rooftop PV survey and installation plan'))}</h1>",
        f'<p class="sub">{escape(name)}</p>',
        f"<h2>{escape(bilingual('结论', 'In plain words'))}</h2>",
        plain_words(summary, targets, plan),
        f'<div class="cards">{card_html}</div>',
        f"<h2>{escape(bilingual('建设项目排名', 'Sites to build, ranked'))}</h2>",
        _ranked(site_table(plan)),
        f"<h2>{escape(bilingual('目标', 'Targets'))}</h2>",
        _table(target_table(targets), right=_TARGET_AMOUNT_COLUMNS),
        _target_notes(targets),
        ("<ul>" + "".join(f"<li>{escape(str(x))}</li>" for x in lines) + "</ul>") if lines else "",
        f"<h2>{escape(bilingual('分期', 'Phases'))}</h2>",
        _table(phase_table(plan)),
        f"<h2>{escape(bilingual('图表', 'Charts'))}</h2>",
        fig_html,
        f"<h2>{escape(bilingual('规划地图', 'Map of the plan'))}</h2>",
        _map_tools() if interactive else "",
        f'<figure id="map">{plan_map_svg(buildings, plan, boundary=boundary, zones=zone_outlines)}'
        f'<figcaption>'
        f"{escape(bilingual('图中数字为项目排名，详见上方排名表', 'numbers on the map are site ranks, as in the ranked table above'))}"
        f"</figcaption></figure>",
    ]
    if zones is not None and len(zones) and "capacity_kwp" in zones:  # the zones table: table and choropleth
        from .zones_map import zones_choropleth_svg, zones_report_table
        parts += [f"<h2>{escape(bilingual('分区统计', 'Zones'))}</h2>", _table(zones_report_table(zones)),
                  f"<figure>{zones_choropleth_svg(zones)}</figure>"]
    if coverage is not None and len(coverage):
        parts += [f"<h2>{escape(bilingual('新建公共机构与厂房覆盖率', 'Coverage of new public and factory buildings'))}</h2>",
                  _table(coverage)]
    if category_shares is not None and len(category_shares):
        parts += [f"<h2>{escape(bilingual('各类别屋顶光伏比例', 'Shares by category'))}</h2>", _table(category_shares)]
    parts += [f"<h2>{escape(bilingual('排除的建筑（按原因）', 'Excluded buildings by reason'))}</h2>",
              _table(_excluded_table(summary))]
    if notes:
        parts += [f"<h2>{escape(bilingual('说明', 'Notes'))}</h2>",
                  '<ul class="notes">' + "".join(f"<li>{escape(str(n))}</li>" for n in notes) + "</ul>"]
    foot = [f"{bilingual('气象数据', 'Weather')}: {summary.get('weather_source', '')}"]
    if version:
        foot.append(f"pv-survey {version}")
    if generated:
        foot.append(generated)
    parts += [f"<footer>{escape(' · '.join(foot))}</footer>"]
    if interactive:
        parts.append(f"<script>\n{MAP_SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"


# --------------------------------------------------------------------------- summary.md


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(df: pd.DataFrame) -> list[str]:
    if df is None or len(df.columns) == 0 or len(df) == 0:
        return ["(none / 无)", ""]
    d = df.reset_index() if (not isinstance(df.index, pd.RangeIndex) or df.index.name) else df
    head = [field_alias(str(c)) or str(c) for c in d.columns]
    out = ["| " + " | ".join(_md_escape(h) for h in head) + " |", "|" + "---|" * len(head)]
    for rec in d.itertuples(index=False):
        out.append("| " + " | ".join(_md_escape(format_value(str(c), v)[0]) for c, v in zip(d.columns, rec)) + " |")
    return out + [""]


def _target_sentence(t: Mapping[str, Any]) -> str:
    met = str(t.get("met", False))
    verdict = {"yes": "**met / 达标**", "True": "**met / 达标**", "n/a": "**n/a / 不适用**"}.get(met, "**not met / 未达标**")
    if t.get("kind", "capacity") != "capacity":
        return f"- {t.get('target', '')} ({t.get('year', '')}): {verdict} — {t.get('status', '')}"
    margin = t.get("margin_kwp", np.nan)
    margin_txt = f" (margin {float(margin):+,.0f} kWp)" if not _is_missing(margin) else ""
    status = t.get("status")
    status_txt = f" {status}" if isinstance(status, str) and status else ""
    return (f"- {t.get('target', '')} ({t.get('year', '')}): {verdict} — at least {_f(t.get('required_kwp'), 0)} "
            f"kWp required, {_f(t.get('achieved_kwp'), 0)} kWp achieved{margin_txt}.{status_txt}")


def summary_md(*, summary: Mapping[str, Any], targets: pd.DataFrame, coverage: pd.DataFrame | None,
               plan: pd.DataFrame) -> str:
    """summary.md: counts, exclusions by reason, totals, targets in plain words, coverage, notes."""
    s = summary
    lines = [
        f"# 屋顶光伏调查摘要 / Rooftop PV survey summary — {s.get('name', '')}",
        "",
        "## 数量 / Counts",
        "",
        f"- Buildings read / 调查建筑: {int(s.get('buildings_in', 0)):,}",
        f"- Roof planes / 屋面: {int(s.get('roofs_total', 0)):,} total, {int(s.get('roofs_kept', 0)):,} kept, "
        f"{int(s.get('roofs_total', 0)) - int(s.get('roofs_kept', 0)):,} excluded",
    ]
    if "buildings_with_site" in s:
        lines.append(f"- Buildings with a PV site / 有光伏项目的建筑: {int(s['buildings_with_site']):,}")
    excluded = s.get("excluded_by_reason") or {}
    lines += ["", "## 排除的建筑 / Excluded buildings by reason", ""]
    if excluded:
        lines += ["| 原因 / Reason | 建筑数 / Buildings |", "|---|---|"]
        lines += [f"| {_md_escape(k)} | {int(v):,} |" for k, v in excluded.items()]
    else:
        lines.append("(none / 无)")
    lines += [
        "", "## 合计 / Totals", "",
        f"- Potential capacity / 潜在装机容量: {_f(s.get('total_capacity_kwp', 0), 1)} kWp",
        f"- Annual generation / 年发电量: {_f(s.get('annual_mwh', 0), 1)} MWh",
        f"- Existing PV / 已建光伏: {_f(s.get('existing_kwp', 0), 1)} kWp",
        "", "## 分期 / Phases", "",
    ]
    lines += _md_table(phase_table(plan))
    lines += ["## 目标 / Targets", ""]
    recs = targets.to_dict(orient="records") if targets is not None and len(targets) else (s.get("targets") or [])
    lines += [_target_sentence(t) for t in recs] or ["(no targets / 无目标)"]
    for pl in s.get("plan_lines") or []:
        lines.append(f"- {pl}")
    lines += ["", "## 覆盖率 / Coverage", ""]
    lines += _md_table(coverage) if coverage is not None else ["(not computed / 未计算)", ""]
    notes = s.get("notes") or []
    lines += ["## 说明 / Notes", ""]
    lines += [f"- {n}" for n in notes] or ["(none / 无)"]
    lines += ["", f"Weather / 气象数据: {s.get('weather_source', '')}", ""]
    # timings vary run to run: they live in manifest.json only, so summary.md is deterministic
    return "\n".join(lines)
