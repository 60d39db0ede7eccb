"""Charts (matplotlib, Agg canvas, PNG bytes) and the plan map (inline SVG) of the report.

Chart text never depends on the machine's fonts: Noto Sans SC (SIL OFL 1.1, shipped by the
``pylopdf-fonts-zh-cn`` wheel) is registered with matplotlib and the charts name an explicit
family list, ``["Noto Sans SC", "DejaVu Sans"]``, so matplotlib falls back glyph by glyph
(it does so only across explicit families, never inside the generic ``sans-serif``). Without
the wheel an installed CJK font is looked for; with none the charts are English only, and
any CJK character still found in data-derived text is dropped. Figures are
built on :class:`matplotlib.figure.Figure` with an Agg canvas (no pyplot, no global
state), so the charts are the same in a script, a test or a notebook.
"""

from __future__ import annotations

import functools
import io
import logging
import unicodedata
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from ..keys import member
from .labels import CATEGORY_LABELS, bilingual, category_label
from .styles import (
    BOUNDARY_COLOUR,
    EXCLUDED_COLOUR,
    UNPLANNED_COLOUR,
    YIELD_COLOURS,
    built_phase_mask,
    is_built_phase,
    phase_colours,
    phase_label,
    phase_order,
)

__all__ = [
    "BUNDLED_FONT",
    "CJK_FONTS",
    "bundled_font_path",
    "cjk_font",
    "collect_figures",
    "missing_glyphs",
    "ChartText",
    "cumulative_capacity_png",
    "category_png",
    "yield_histogram_png",
    "monthly_png",
    "site_curves_png",
    "typical_day_png",
    "plan_map_svg",
    "drawn_sites",
]

#: Family name of the CJK font shipped with pv-survey's dependencies (pylopdf-fonts-zh-cn).
BUNDLED_FONT = "Noto Sans SC"
#: Latin fallback after the CJK font (matplotlib's own, always present).
LATIN_FONT = "DejaVu Sans"
#: CJK font families looked for when the bundled one is absent, in order of preference.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Noto Sans CJK JP",
    "Droid Sans Fallback", "AR PL UMing CN",
)
#: Width of the report's print map (fits the 1,280 px layout and an A4 page at 96 dpi). [px]
MAP_WIDTH_PX = 960
#: Rank labels drawn on the print map at most: more overlap at A4 (project choice).
MAP_MAX_LABELS = 60
#: Footprints drawn as SVG paths at most; above this the footprints that are not build-year sites
#: are one raster picture under the vector layers (:func:`pv_survey.outputs.rastermap.footprints_png`).
#: Project choice: a footprint path is about 150-250 bytes, so 20,000 keep the map's SVG near 4 MB
#: (a 100,000-building city drawn as paths made report.html 21 MB, a million 203 MB).
MAP_MAX_VECTOR_FOOTPRINTS = 20_000

#: Line colours of the months, by season (winter blues, spring greens, summer reds, autumn browns),
#: every one dark enough to read on white (ColorBrewer Blues/Greens/Reds/Oranges 6-8 of 9).
MONTH_COLOURS = ("#2171b5", "#08519c", "#41ab5d", "#238b45", "#006d2c", "#ef3b2c", "#cb181d", "#a50f15",
                 "#f16913", "#d94801", "#8c2d04", "#4292c6")

_DPI = 110  # screen resolution of the embedded PNGs [dots per inch]
#: Columns of the cumulative chart's x axis in which at most the first and the last site of each
#: phase are drawn (:func:`drawn_sites`): more than two per pixel column of the 8-inch chart at
#: :data:`_DPI` (880 px), so a site left out lies within half a pixel of one drawn (project choice).
CURVE_COLUMNS = 2048
#: Target labels closer than this share of the cumulative chart's axis are lifted one above the
#: other by :data:`TARGET_LABEL_STEP_PT` (a label is ~10 pt tall at font size 8; project choice).
TARGET_LABEL_GAP_FRAC = 0.05
TARGET_LABEL_STEP_PT = 11.0
#: The cumulative chart's legend moves from the lower right to the centre right when every target
#: line lies below this share of the axis (their labels fill the lower right; project choice).
LEGEND_LOW_TARGETS_FRAC = 0.25
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


#: File names of common CJK fonts (Debian fonts-noto-cjk, fonts-wqy-zenhei, fonts-wqy-microhei,
#: Windows msyh / simhei, macOS PingFang), lower case, for fonts installed after matplotlib's cache.
_CJK_FILES = ("notosanscjk", "notosanssc", "sourcehansans", "wqy-zenhei", "wqy-microhei", "msyh", "simhei",
              "pingfang", "droidsansfallback")


def bundled_font_path() -> Path | None:
    """Path of the shipped Noto Sans SC font file, or None when its wheel is not installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of the font family used for Chinese text in the charts, or None.

    The shipped Noto Sans SC first (registered with matplotlib here); without it, a CJK
    font from matplotlib's font list, then CJK font files installed since matplotlib built
    its cache (e.g. ``apt-get install fonts-wqy-zenhei`` after the first run).
    """
    bundled = bundled_font_path()
    if bundled is not None:
        try:
            font_manager.fontManager.addfont(str(bundled))
            return font_manager.FontProperties(fname=str(bundled)).get_name()
        except (OSError, RuntimeError, ValueError):  # unreadable font file: look for an installed one
            pass

    def known() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name.lower().replace(" ", "") for key in _CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable font file: skip it
                    continue
        found = known()
    return found


class ChartText:
    """Chart wording: bilingual with a CJK font, English (CJK characters removed) without.

    Parameters
    ----------
    font : str or None
        CJK font family to use; None for English-only charts.
    """

    def __init__(self, font: str | None) -> None:
        self.font = font

    @property
    def cjk(self) -> bool:
        return self.font is not None

    @property
    def families(self) -> list[str]:
        """Font families of every chart text, in fallback order."""
        return [self.font, LATIN_FONT] if self.font else [LATIN_FONT]

    def __call__(self, zh: str, en: str) -> str:
        return bilingual(zh, en) if self.cjk else en

    def safe(self, text: str) -> str:
        """``text`` unchanged with a CJK font, else without wide (CJK) characters."""
        if self.cjk:
            return str(text)
        kept = "".join(c for c in str(text) if unicodedata.east_asian_width(c) not in ("W", "F"))
        return " ".join(kept.replace(" / ", " ").split()).strip(" /") or "?"

    @contextmanager
    def rc(self) -> Iterator[None]:
        """matplotlib settings of the charts; quiet font-weight substitution notes while drawing.

        CJK fonts often exist in one weight only (WenQuanYi Zen Hei is 500, not 400), which
        matplotlib logs for every text; the substitution is intended here.
        """
        fam = self.families
        fm_log = logging.getLogger("matplotlib.font_manager")
        level = fm_log.level
        fm_log.setLevel(logging.ERROR)
        try:
            # an explicit family list (not the generic "sans-serif"): matplotlib then takes each
            # glyph from the first family that has it
            with rc_context({"font.family": fam, "axes.unicode_minus": False,
                             "axes.spines.top": False, "axes.spines.right": False, "font.size": 9}):
                yield
        finally:
            fm_log.setLevel(level)


_COLLECTED: list[list[Figure]] = []  # open collect_figures() blocks, innermost last


@contextmanager
def collect_figures() -> Iterator[list[Figure]]:
    """Keep every chart figure drawn inside the block (for checks such as :func:`missing_glyphs`)."""
    figs: list[Figure] = []
    _COLLECTED.append(figs)
    try:
        yield figs
    finally:
        _COLLECTED.remove(figs)


@functools.lru_cache(maxsize=16)
def _cmap(path: str) -> frozenset[int]:
    """Code points a font file maps to glyphs (first face of a collection)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def missing_glyphs(fig: Figure) -> list[tuple[str, str]]:
    """Characters of a drawn figure that none of their text's font families can show.

    Every visible :class:`matplotlib.text.Text` (titles, labels, tick labels, legend,
    annotations) is checked against the character maps of the font files its family list
    resolves to, which is where matplotlib's glyph-by-glyph fallback looks.

    Returns
    -------
    list of (character, text)
        Empty when every character has a glyph.
    """
    from matplotlib.text import Text

    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # creates the tick labels
    missing: list[tuple[str, str]] = []
    for t in fig.findobj(Text):
        s = t.get_text()
        if not t.get_visible() or not s:
            continue
        maps = []
        for fam in t.get_fontfamily():
            try:
                maps.append(_cmap(font_manager.findfont(font_manager.FontProperties(family=[fam]),
                                                        fallback_to_default=False)))
            except ValueError:  # family not installed
                continue
        missing += [(c, s) for c in s if not c.isspace() and not any(ord(c) in m for m in maps)]
    return missing


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    for figs in _COLLECTED:
        figs.append(fig)
    return buf.getvalue()


def _kept(frame: pd.DataFrame) -> np.ndarray:
    """Rows without an ``excluded_reason`` (all rows without the column), compared where the text is
    held (a city's reasons are not turned into Python strings)."""
    if "excluded_reason" not in frame:
        return np.ones(len(frame), bool)
    return (frame["excluded_reason"].fillna("").astype(str) == "").to_numpy(dtype=bool)


def _planned(plan: pd.DataFrame) -> np.ndarray:
    """Rows of the build phases (not reserve, pinned out or no phase)."""
    if "phase" not in plan:
        return np.zeros(len(plan), bool)
    return built_phase_mask(plan["phase"].fillna("").astype(str))


# --------------------------------------------------------------------------- cumulative capacity


def _unit(top_kwp: float) -> tuple[float, str, str]:
    """Scale, unit and number format of a capacity axis whose top is ``top_kwp`` [kWp]."""
    return (1000.0, "MWp", "{:.2f}") if top_kwp >= 1000.0 else (1.0, "kWp", "{:,.0f}")


def drawn_sites(x: np.ndarray, phase_code: np.ndarray, x_max: float, *,
                columns: int = CURVE_COLUMNS) -> np.ndarray:
    """Positions of the sites a cumulative-capacity axis draws: every site up to ``2 * columns``,
    else, in each of ``columns`` equal columns of ``[0, x_max]``, the first and the last site of each
    phase, and the first site beyond ``x_max`` (the line leaves the axis towards it).

    The cumulative capacity rises with the rank, so the line through the sites kept stays within
    one column of the line through all of them, and each phase's markers cover the same stretch of
    each column. A city's plan (1,000,000 sites) is drawn with ~10,000 points instead of 1,000,000
    markers per panel.

    Parameters
    ----------
    x : numpy.ndarray
        Ascending x position of each site (its place in rank order, from 1).
    phase_code : numpy.ndarray of int
        Code of each site's phase (e.g. from :func:`pandas.factorize`).
    x_max : float
        Right end of the axis. [same unit as x]
    columns : int
        Columns of the axis (:data:`CURVE_COLUMNS`).

    Returns
    -------
    numpy.ndarray of int64
        Ascending positions into ``x``.
    """
    n = x.size
    if n <= 2 * columns or not x_max > 0:
        return np.arange(n, dtype=np.int64)
    inside = np.flatnonzero(x <= x_max)
    beyond = np.flatnonzero(x > x_max)[:1]
    col = np.minimum((x[inside] * (columns / x_max)).astype(np.int64), columns - 1)
    key = col * (int(phase_code.max(initial=0)) + 2) + (phase_code[inside] + 1)
    _, first = np.unique(key, return_index=True)
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = np.union1d(inside[first], inside[inside.size - 1 - last_rev])
    return np.concatenate([keep, beyond]).astype(np.int64)


def _draw_cumulative(ax, x, cum_kwp, phase_code, phases, targets, existing_kwp, text: ChartText, *,
                     y_top_kwp: float, labels: bool) -> None:
    """One panel: ``x``, ``cum_kwp`` start with existing PV at 0, then one site each; ``phase_code``
    (one per site) indexes the distinct ``phases``. The x axis' limits are set before."""
    scale, unit, fmt = _unit(y_top_kwp)
    at = drawn_sites(x[1:], phase_code, float(ax.get_xlim()[1]))
    xs, ys, codes = x[1:][at], cum_kwp[1:][at] / scale, phase_code[at]
    ax.plot(np.concatenate([x[:1], xs]), np.concatenate([cum_kwp[:1] / scale, ys]), color="#444444", lw=1.0,
            zorder=2)
    colours = phase_colours(phases)
    for ph in phase_order(phases):
        m = codes == phases.index(ph)
        ax.scatter(xs[m], ys[m], s=10, color=colours[ph], zorder=3,
                   label=text.safe(phase_label(ph, english_only=not text.cjk)))
    ax.axhline(existing_kwp / scale, color="#7f7f7f", ls=":", lw=1.2, zorder=1)
    reqs = pd.to_numeric(targets["required_kwp"], errors="coerce").to_numpy(float) \
        if len(targets) and "required_kwp" in targets else np.full(len(targets), np.nan)
    if labels:
        # below its line when it is above every target: the sites' curve starts on the line and rises
        below = bool(np.isfinite(reqs).any()) and existing_kwp > np.nanmax(reqs)
        ax.annotate(text.safe(text("已建光伏", "existing PV") + f" {fmt.format(existing_kwp / scale)} {unit}"),
                    xy=(0, existing_kwp / scale), xytext=(4, -3 if below else 3), textcoords="offset points",
                    va="top" if below else "baseline", color="#555555", fontsize=8)
    x_end = ax.get_xlim()[1] if ax.get_xlim()[1] > 1 else 1
    y_span = y_top_kwp / scale if y_top_kwp > 0 else 1.0
    # target lines bottom up; a label closer to the one below than TARGET_LABEL_GAP_FRAC of the axis
    # (targets far below the PV already built) is lifted above it instead of printed over it
    lift_pt, prev = 0.0, None
    for i in np.argsort(reqs, kind="stable"):
        t = targets.iloc[int(i)]
        req = float(reqs[i]) / scale
        if not np.isfinite(req):
            continue
        lift_pt = lift_pt + TARGET_LABEL_STEP_PT if prev is not None and req - prev < TARGET_LABEL_GAP_FRAC * y_span \
            else 0.0
        prev = req
        met = str(t.get("met", False)) in ("yes", "True")
        colour = "#1b7837" if met else "#b2182b"
        ax.axhline(req, color=colour, ls="--", lw=1.2, zorder=1)
        if labels:
            word = text("达标", "met") if met else text("未达标", "not met")
            label = f"{int(t['year'])} " + text("目标", "target") + f" {fmt.format(req)} {unit} ({word})"
            ax.annotate(text.safe(label), xy=(x_end, req), xytext=(-4, 3 + lift_pt), textcoords="offset points",
                        ha="right", color=colour, fontsize=8)
    ax.set_ylim(0, y_top_kwp / scale if y_top_kwp > 0 else 1.0)
    ax.set_ylabel(text(f"累计装机容量 ({unit})", f"Cumulative capacity ({unit})"))
    ax.grid(True, axis="y", color="#e5e5e5", lw=0.6)


def cumulative_capacity_png(plan: pd.DataFrame, targets: pd.DataFrame, existing_kwp: float,
                            text: ChartText) -> bytes:
    """Cumulative capacity of the sites in rank order against the target lines.

    When every site together gives far more than the largest target (a district survey),
    a second panel shows the whole potential and the main panel zooms on the targets.

    Parameters
    ----------
    plan : DataFrame
        ``rank``, ``capacity_kwp``, ``cumulative_kwp`` (existing PV included), ``phase``.
    targets : DataFrame
        ``year``, ``required_kwp``, ``met``.
    existing_kwp : float
        PV already installed in the district, drawn as its own line. [kWp]
    text : ChartText
    """
    # the values drawn, in rank order: arrays taken by position (not a sorted copy of a city's plan layer)
    order = np.argsort(plan["rank"].to_numpy(), kind="stable") if len(plan) else np.zeros(0, np.int64)
    cum = plan["cumulative_kwp"].to_numpy(float)[order] if len(plan) else np.zeros(0)
    finite = np.isfinite(cum)  # pinned-out sites have no cumulative capacity
    order, cum = order[finite], cum[finite]
    cap = plan["capacity_kwp"].to_numpy(float)[order] if len(plan) else np.zeros(0)
    base = float(cum[0] - cap[0]) if len(cum) else float(existing_kwp)
    x = np.arange(0, len(cum) + 1)
    cum_kwp = np.concatenate([[base], cum])
    # each site's phase as a code into the distinct phases (not a city's phases as Python strings)
    if len(plan) and "phase" in plan:
        codes, uniq = pd.factorize(plan["phase"].fillna("").astype(str))
        phase_code, phases = codes[order], [str(v) for v in uniq]
    else:
        phase_code, phases = np.zeros(len(order), np.int64), [""] if len(order) else []
    req_kwp = pd.to_numeric(targets["required_kwp"], errors="coerce").to_numpy(float) \
        if len(targets) and "required_kwp" in targets else np.zeros(0)
    req_max = float(np.nanmax(req_kwp)) if np.isfinite(req_kwp).any() else 0.0
    top_kwp = float(np.nanmax(np.concatenate([cum_kwp, [existing_kwp, req_max]])))
    # the main panel's scale: the targets, or the PV already built where that alone exceeds them (its
    # line and the first sites then stay in view instead of above an empty panel)
    focus_kwp = max(req_max, float(existing_kwp)) if req_max > 0 else 0.0
    zoom = focus_kwp > 0 and top_kwp > 2.0 * focus_kwp  # potential dwarfs the targets
    with text.rc():
        fig = Figure(figsize=(8.0, 4.4), layout="constrained")
        if zoom:
            ax, ax_all = fig.subplots(1, 2, width_ratios=(2.2, 1))
        else:
            ax, ax_all = fig.add_subplot(), None
        y_top = 1.3 * focus_kwp if zoom else 1.1 * top_kwp
        # zoomed x range: the sites up to the capacity at the top of the axis, plus a margin
        n_zoom = int(np.searchsorted(cum_kwp, y_top)) if zoom else len(cum)
        ax.set_xlim(0, max(min(len(cum), int(n_zoom * 1.05) + 1), 1))
        _draw_cumulative(ax, x, cum_kwp, phase_code, phases, targets, existing_kwp, text, y_top_kwp=y_top,
                         labels=True)
        ax.set_xlabel(text("按排名的项目数", "Sites in rank order"))
        ax.set_title(text("累计装机容量与目标", "Cumulative capacity against the targets"))
        if len(cum):
            # beside the target labels' corner when the targets sit at the bottom of the axis
            low = 0 < req_max < LEGEND_LOW_TARGETS_FRAC * y_top
            ax.legend(title=text("分期", "Phase"), loc="center right" if low else "lower right", fontsize=8,
                      title_fontsize=8, frameon=False)
        if ax_all is not None:
            ax_all.set_xlim(0, max(len(cum), 1))
            _draw_cumulative(ax_all, x, cum_kwp, phase_code, phases, targets, existing_kwp, text,
                             y_top_kwp=1.05 * top_kwp, labels=False)
            # a narrow panel: a few whole-number ticks with thousands separators (a city's "200000400000..."
            # ran together)
            ax_all.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
            ax_all.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax_all.set_xlabel(text(f"全部 {len(cum):,} 个项目", f"All {len(cum):,} sites"))
            ax_all.set_title(text("全部潜力", "Whole potential"))
        return _png(fig)


# --------------------------------------------------------------------------- by category


def _category_order(values) -> list[str]:
    present = set(pd.unique(pd.Series(values, dtype=object)))
    known = [c for c in CATEGORY_LABELS if c in present]
    return known + sorted(set(map(str, present)) - set(known))


def category_png(plan: pd.DataFrame, text: ChartText) -> bytes:
    """Capacity and annual generation by building category: every site vs the planned ones."""
    cats = plan["category"].fillna("other").astype(str) if len(plan) else pd.Series([], dtype=str)
    planned = _planned(plan)
    order = _category_order(cats) or ["other"]
    cap = plan["capacity_kwp"].astype(float) if len(plan) else pd.Series([], dtype=float)
    kwh = plan["annual_kwh"].astype(float) if len(plan) else pd.Series([], dtype=float)

    def by_cat(values: pd.Series, mask: np.ndarray) -> np.ndarray:
        return values[mask].groupby(cats[mask]).sum().reindex(order).fillna(0.0).to_numpy()

    all_mask = np.ones(len(plan), bool)
    labels = [text.safe(category_label(c, english_only=not text.cjk)) for c in order]
    y = np.arange(len(order))
    with text.rc():
        fig = Figure(figsize=(8.0, 0.5 * len(order) + 1.6), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        big = float(cap.sum()) >= 1000.0  # MWp and GWh for a district, kWp and MWh for a few sites
        for ax, vals, unit, title in (
            (axes[0], cap / (1000.0 if big else 1.0), "MWp" if big else "kWp", text("装机容量", "Capacity")),
            (axes[1], kwh / (1e6 if big else 1e3), "GWh/yr" if big else "MWh/yr", text("年发电量", "Annual generation")),
        ):
            ax.barh(y, by_cat(vals, all_mask), color="#c6dbef", label=text("全部可用屋顶", "all usable roofs"))
            ax.barh(y, by_cat(vals, planned), height=0.5, color="#08519c", label=text("已规划", "planned"))
            ax.set_title(f"{title} ({unit})")
            ax.grid(True, axis="x", color="#e5e5e5", lw=0.6)
        axes[0].set_yticks(y, labels)
        axes[0].invert_yaxis()
        axes[1].legend(loc="lower right", fontsize=8, frameon=False)
        return _png(fig)


# --------------------------------------------------------------------------- specific yield


def yield_histogram_png(roofs: pd.DataFrame, text: ChartText) -> bytes:
    """Distribution of the specific yield of kept roof planes [kWh/kWp]."""
    kept = _kept(roofs)
    sy = roofs.loc[kept, "specific_yield_kwh_kwp"].to_numpy(float) if len(roofs) else np.zeros(0)
    sy = sy[np.isfinite(sy) & (sy > 0)]
    with text.rc():
        fig = Figure(figsize=(8.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
        if sy.size:
            width = 10.0  # bin width [kWh/kWp]
            lo, hi = np.floor(sy.min() / width) * width, np.ceil(sy.max() / width) * width + width
            ax.hist(sy, bins=np.arange(lo, hi + width / 2, width), color=YIELD_COLOURS[2], edgecolor="white",
                    linewidth=0.5)
            med = float(np.median(sy))
            ax.axvline(med, color="#333333", ls="--", lw=1)
            ax.annotate(text("中位数", "median") + f" {med:.0f}", xy=(med, 1), xycoords=("data", "axes fraction"),
                        xytext=(4, -12), textcoords="offset points", fontsize=8)
        ax.set_xlabel(text("单位容量年发电量 (kWh/kWp)", "Specific yield (kWh/kWp)"))
        ax.set_ylabel(text("屋面数", "Roof planes"))
        ax.set_title(text("可用屋面的单位容量年发电量分布", "Specific yield of the kept roof planes")
                     + f" (n = {sy.size})")
        ax.grid(True, axis="y", color="#e5e5e5", lw=0.6)
        return _png(fig)


# --------------------------------------------------------------------------- capacity-yield curves

#: Sites drawn on the capacity-yield chart: the first in plan rank (project choice: six lines stay legible).
CURVE_SITES = 6
#: One colour per site line (ColorBrewer 2.0: the dark end of YlOrRd and of YlGnBu, then grey).
CURVE_COLOURS: tuple[str, ...] = ("#bd0026", "#f03b20", "#fd8d3c", "#253494", "#2c7fb8", "#636363")


def site_curves_png(curves: pd.DataFrame, plan: pd.DataFrame, text: ChartText, *,
                    n_sites: int = CURVE_SITES) -> bytes:
    """Best-first capacity-yield curves of the first sites of the plan.

    Parameters
    ----------
    curves : DataFrame
        ``site_curves`` (:func:`pv_survey.sites.capacity_yield_curves`): ``building_id``,
        ``n_modules``, ``cum_kwp``, ``cum_kwh_kwp``.
    plan : DataFrame
        ``rank``, ``building_id``, ``name`` (the label); the first ``n_sites`` ranks with a curve are drawn.
    text : ChartText
    """
    curve_ids = curves["building_id"].astype(str).to_numpy(dtype=object) if len(curves) else np.zeros(0, object)
    p = plan[[c for c in ("rank", "building_id", "name") if c in plan.columns]]  # the columns used, not a copy
    p = p.sort_values("rank", kind="stable") if len(p) else p
    if len(p):  # the first n_sites sites in rank order that have a curve
        with_curve = p[member(p["building_id"].astype(str), pd.unique(curve_ids))]
        top = list(with_curve.iloc[:n_sites].itertuples())
    else:
        top = []
    drawn = member(curve_ids, [str(r.building_id) for r in top])
    by_site = {bid: curves[drawn][curve_ids[drawn] == bid] for bid in pd.unique(curve_ids[drawn])}
    with text.rc():
        fig = Figure(figsize=(8.0, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for k, r in enumerate(top):
            c = by_site[str(r.building_id)]
            x = np.concatenate([[0.0], c["cum_kwp"].to_numpy(float)])
            y = c["cum_kwh_kwp"].to_numpy(float)
            y = np.concatenate([[y[0]], y])
            name = str(getattr(r, "name", "") or "")
            label = text.safe(f"#{int(r.rank)} {name}".strip() if name else f"#{int(r.rank)} {r.building_id}")
            ax.step(x, y, where="pre", lw=1.2, color=CURVE_COLOURS[k % len(CURVE_COLOURS)], label=label)
        ax.set_xlabel(text("最佳 N 块组件的装机容量 (kWp)", "Capacity of the best N modules (kWp)"))
        ax.set_ylabel(text("单位容量年发电量 (kWh/kWp)", "Specific yield (kWh/kWp)"))
        ax.set_title(text("容量-发电量曲线（最佳组件优先）", "Capacity-yield curves, best modules first"))
        if top:
            ax.legend(fontsize=7, frameon=False, loc="lower left")
        ax.grid(True, color="#e5e5e5", lw=0.6)
        return _png(fig)


# --------------------------------------------------------------------------- monthly


def monthly_mwh(roofs: pd.DataFrame, planned_building_ids) -> tuple[np.ndarray, np.ndarray]:
    """Monthly generation of every kept roof and of the kept roofs of the planned buildings.

    Parameters
    ----------
    roofs : DataFrame
        ``building_id``, ``excluded_reason`` ('' = kept) and ``kwh_01`` .. ``kwh_12``. [kWh]
    planned_building_ids : sequence of str
        Buildings of the plan's build phases.

    Returns
    -------
    all_mwh, planned_mwh : numpy.ndarray of 12
        Sums per month (missing values count 0; zeros without monthly columns). [MWh]
    """
    cols = [f"kwh_{m:02d}" for m in range(1, 13)]
    kept = _kept(roofs)
    month, month_p = np.zeros(12), np.zeros(12)
    if not any(c in roofs.columns for c in cols):
        return month, month_p
    # the roofs' ids compared where they are held (not a city's ids as Python strings)
    in_plan = member(roofs["building_id"], pd.unique(pd.Series(planned_building_ids, dtype=object).astype(str)))[kept] \
        if kept.any() else np.zeros(0, bool)
    # one month's column at a time, not the twelve columns of a city's kept roofs copied (then again for
    # the planned ones)
    for m, c in enumerate(cols):
        v = roofs[c].to_numpy(dtype=float)[kept]
        v = np.where(np.isnan(v), 0.0, v)
        month[m], month_p[m] = v.sum() / 1000.0, v[in_plan].sum() / 1000.0
    return month, month_p


def monthly_png(roofs: pd.DataFrame, planned_building_ids, text: ChartText) -> bytes:
    """Monthly generation of every kept roof and of the planned sites [MWh] (:func:`monthly_mwh`)."""
    month, month_p = monthly_mwh(roofs, planned_building_ids)
    labels = [f"{m}月" if text.cjk else _MONTHS_EN[m - 1] for m in range(1, 13)]
    x = np.arange(12)
    with text.rc():
        fig = Figure(figsize=(8.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.bar(x - 0.2, month, width=0.4, color="#c6dbef", label=text("全部可用屋顶", "all usable roofs"))
        ax.bar(x + 0.2, month_p, width=0.4, color="#08519c", label=text("已规划", "planned"))
        ax.set_xticks(x, labels)
        ax.set_ylabel(text("发电量 (MWh)", "Generation (MWh)"))
        ax.set_title(text("逐月发电量", "Monthly generation"))
        ax.grid(True, axis="y", color="#e5e5e5", lw=0.6)
        ax.legend(fontsize=8, frameon=False)
        return _png(fig)


# --------------------------------------------------------------------------- typical day per month


def typical_day_png(day_kw: pd.DataFrame, text: ChartText) -> bytes:
    """A typical day per month of the planned sites' AC output: 12 lines of mean power by hour.

    Parameters
    ----------
    day_kw : DataFrame
        12 rows (months 1-12) x 24 columns (local hour 0-23) of mean power
        (:func:`pv_survey.outputs.hourly.typical_day_kw`). [kW]
    text : ChartText
    """
    top = float(np.nanmax(day_kw.to_numpy(float))) if day_kw.size else 0.0
    scale, unit = (1000.0, "MW") if top >= 1000.0 else (1.0, "kW")
    hours = np.asarray(day_kw.columns, dtype=float) + 0.5  # the middle of each hour
    with text.rc():
        fig = Figure(figsize=(8.0, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for m, row in day_kw.iterrows():
            label = f"{int(m)}月" if text.cjk else _MONTHS_EN[int(m) - 1]
            ax.plot(hours, row.to_numpy(float) / scale, color=MONTH_COLOURS[int(m) - 1], lw=1.4, label=label)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 3))
        ax.set_xlabel(text("时刻（当地时间）", "Hour of the day (local time)"))
        ax.set_ylabel(text(f"平均功率 ({unit})", f"Mean power ({unit})"))
        ax.set_title(text("已规划项目各月典型日出力（交流）", "Typical day of each month, planned sites (AC)"))
        ax.grid(True, color="#e5e5e5", lw=0.6)
        ax.legend(ncol=2, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(fig)


# --------------------------------------------------------------------------- map


def _nice_length_m(span_m: float) -> float:
    """A round scale-bar length about a fifth of ``span_m`` [m]."""
    target = max(span_m / 5.0, 1.0)
    mag = 10 ** np.floor(np.log10(target))
    return float(max(m * mag for m in (1, 2, 5) if m * mag <= target))


def _svg_path(geom, x0: float, y1: float, s: float) -> str:
    parts = []
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            px = np.round((xy[:, 0] - x0) * s, 1)
            py = np.round((y1 - xy[:, 1]) * s, 1)
            pts = " ".join(f"{a:g} {b:g}" for a, b in zip(px, py))
            parts.append(f"M{pts}Z")
    return "".join(parts)


def _outline_path(geoms, x0: float, y1: float, s: float) -> str:
    """SVG path of polygon outlines (boundary, zones); lines are drawn as they are."""
    parts = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        for part in getattr(g, "geoms", [g]):
            if part.geom_type == "Polygon":
                parts.append(_svg_path(part, x0, y1, s))
            elif part.geom_type == "LineString":
                xy = np.asarray(part.coords)[:, :2]
                parts.append("M" + " ".join(f"{(a - x0) * s:.1f} {(y1 - b) * s:.1f}" for a, b in xy))
    return "".join(parts)


def plan_map_svg(buildings: gpd.GeoDataFrame, plan: gpd.GeoDataFrame, *, width_px: int = MAP_WIDTH_PX,
                 max_labels: int = MAP_MAX_LABELS, boundary: gpd.GeoSeries | None = None,
                 zones: gpd.GeoSeries | None = None, max_vector_footprints: int = MAP_MAX_VECTOR_FOOTPRINTS) -> str:
    """Inline SVG map drawn for print: every footprint grey (excluded darker), build-year sites
    in full colour with a dark outline and labelled by rank, reserve sites light.

    Each site also carries a ``<title>`` tooltip (rank, name, capacity, phase); a legend, a
    scale bar and a north arrow are drawn inside the picture, so they print with it. Coordinates are the metric CRS scaled to
    pixels; footprints are simplified to half a pixel.

    Parameters
    ----------
    buildings : GeoDataFrame
        Every footprint, with ``excluded_reason``; metric CRS.
    plan : GeoDataFrame
        The ``plan`` layer (footprint per site) with ``rank``, ``phase``, ``capacity_kwp``.
    width_px : int
        Width of the drawing. [px]
    max_labels : int
        Rank labels drawn: every build-year site when there are at most this many, else the
        first ``max_labels`` ranks.
    boundary, zones : GeoSeries, optional
        District boundary (solid outline; the map extent grows to hold it) and planning zones
        (dashed outlines), in the same metric CRS.
    max_vector_footprints : int
        Above this many footprints, every footprint that is not a build-year site (other,
        excluded, reserve) is drawn into one PNG under the vector layers (no tooltips there);
        build-year sites, labels, boundary and zones stay vector.
    """
    geoms = buildings.geometry
    valid = ~geoms.isna() & ~geoms.is_empty
    if not valid.any():
        return f'<svg viewBox="0 0 {width_px} 100" width="100%" role="img"><text x="10" y="50">no footprints</text></svg>'
    x0, y0, x1, y1 = buildings.geometry[valid].total_bounds
    if boundary is not None and len(boundary) and not boundary.is_empty.all():
        bx0, by0, bx1, by1 = boundary.total_bounds
        x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
    span = max(x1 - x0, y1 - y0, 1.0)
    s = width_px / max(x1 - x0, 1.0)
    height_px = max(int(round((y1 - y0) * s)), 50)
    if height_px > 1.2 * width_px:  # tall district: scale on height instead
        s = 1.2 * width_px / max(y1 - y0, 1.0)
        height_px = int(round((y1 - y0) * s))
    tol = 0.5 / s
    has_phase = plan["phase"].fillna("").astype(str).to_numpy() != "" if "phase" in plan \
        else np.zeros(len(plan), bool)
    planned_ids = set(plan.loc[has_phase, "building_id"].astype(str)) if len(plan) else set()
    bid = buildings["building_id"].astype(str).to_numpy()
    excl = buildings["excluded_reason"].fillna("").astype(str).to_numpy() != "" \
        if "excluded_reason" in buildings else np.zeros(len(buildings), bool)
    ok = valid.to_numpy() & ~member(bid, sorted(planned_ids))
    raster = len(buildings) > max_vector_footprints
    # id and data-* attributes: the report's optional pan/zoom script (metres per drawing unit, span)
    out = [f'<svg id="plan-map" viewBox="0 0 {width_px} {height_px}" width="100%" role="img" '
           f'aria-label="plan map" style="background:#fbfbf8" data-m-per-unit="{1.0 / s:.6g}" '
           f'data-span-m="{span:.6g}">']
    # the plan's rows by mask, not frame copies: a city's plan layer (with outlines) is ~1M rows
    phases = plan["phase"].astype(str).to_numpy() if "phase" in plan else np.full(len(plan), "", dtype=object)
    drawn = has_phase
    if raster:  # a city: the background is one picture
        from .rastermap import footprints_png

        built_of = {ph: is_built_phase(ph) for ph in pd.unique(phases[has_phase])}
        is_reserve = has_phase & ~member(phases, [ph for ph, b in built_of.items() if b])
        r_phase = pd.Series(phases[is_reserve], dtype=object)
        r_colours = phase_colours(r_phase) if len(r_phase) else {}
        r_phases = list(r_colours)
        palette = [("#e3e3e3", 1.0), (EXCLUDED_COLOUR, 0.6)] + [(r_colours[ph], 0.45) for ph in r_phases]
        classes = np.where(ok, np.where(excl, 1, 0), -1)
        geoms_all = buildings.geometry.to_numpy()
        if len(r_phase):
            code = {ph: 2 + i for i, ph in enumerate(r_phases)}
            geoms_all = np.concatenate([geoms_all, plan.geometry.to_numpy()[is_reserve]])
            classes = np.concatenate([classes, r_phase.map(code).to_numpy(dtype=np.int64)])
        uri = footprints_png(geoms_all, classes, palette, x0=x0, y1=y1, scale=s, width_px=width_px,
                             height_px=height_px)
        del geoms_all, classes
        out.append(f'<image class="footprints" href="{uri}" x="0" y="0" width="{width_px}" height="{height_px}"/>')
        drawn = has_phase & ~is_reserve
    else:
        simple = shapely.simplify(buildings.geometry.to_numpy(), tol, preserve_topology=True)
        ctx_ok = [_svg_path(g, x0, y1, s) for g, use in zip(simple, ok & ~excl) if use]
        ctx_ex = [_svg_path(g, x0, y1, s) for g, use in zip(simple, ok & excl) if use]
        out += [f'<path d="{"".join(ctx_ok)}" fill="#e3e3e3" stroke="none"/>',
                f'<path d="{"".join(ctx_ex)}" fill="{EXCLUDED_COLOUR}" fill-opacity="0.6" stroke="none"/>']
    p = plan[drawn] if len(plan) else plan
    if zones is not None and len(zones):
        out.append(f'<path class="zones" d="{_outline_path(zones.to_numpy(), x0, y1, s)}" fill="none" '
                   f'stroke="#6b6b6b" stroke-width="1" stroke-dasharray="5 3" vector-effect="non-scaling-stroke"/>')
    if boundary is not None and len(boundary):
        out.append(f'<path class="boundary" d="{_outline_path(boundary.to_numpy(), x0, y1, s)}" fill="none" '
                   f'stroke="{BOUNDARY_COLOUR}" stroke-width="2" vector-effect="non-scaling-stroke"/>')
    labels: list[str] = []
    if len(p):
        colours = phase_colours(p["phase"].astype(str))
        p = p.sort_values("rank", ascending=False, kind="stable")  # best sites drawn last, on top
        psimple = shapely.simplify(p.geometry.to_numpy(), tol, preserve_topology=True)
        built = built_phase_mask(p["phase"].astype(str))
        n_built = int(built.sum())
        for g, (_, row), is_built in zip(psimple, p.iterrows(), built):
            if g is None or g.is_empty:
                continue
            colour = colours.get(str(row["phase"]), UNPLANNED_COLOUR)
            name = str(row.get("name", "") or "") or str(row.get("address", "") or "") or str(row["building_id"])
            tip = (f"{int(row['rank'])}. {name} ({row['building_id']}) — "
                   f"{float(row['capacity_kwp']):,.1f} kWp, {phase_label(str(row['phase']))}")
            if is_built:  # a build-year site: full colour, dark outline, at least a few pixels
                out.append(f'<path d="{_svg_path(g, x0, y1, s)}" fill="{colour}" stroke="#222" '
                           f'stroke-width="1.2" stroke-linejoin="round" vector-effect="non-scaling-stroke">'
                           f'<title>{escape(tip)}</title></path>')
                c = g.representative_point()
                cx, cy = (c.x - x0) * s, (y1 - c.y) * s
                # a marker, so a site of a few pixels still stands out among thousands of roofs
                out.append(f'<circle class="mk" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}" stroke="#222" '
                           f'stroke-width="1"/>')
                if n_built <= max_labels or int(row["rank"]) <= max_labels:
                    labels.append(f'<text x="{cx:.1f}" y="{cy - 5:.1f}" text-anchor="middle">{int(row["rank"])}</text>')
            else:  # reserve and the rest: light, no outline
                out.append(f'<path d="{_svg_path(g, x0, y1, s)}" fill="{colour}" fill-opacity="0.45" stroke="none">'
                           f'<title>{escape(tip)}</title></path>')
    if labels:  # rank labels above every footprint, with a white halo for print
        out.append('<g class="labels" font-family="Noto Sans SC,Noto Sans CJK SC,Microsoft YaHei,sans-serif" '
                   'font-size="11" font-weight="bold" fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke">'
                   + "".join(labels) + "</g>")
    # legend (inside the drawing, so it prints with the map)
    entries = [(c, phase_label(ph), ph) for ph, c in
               (phase_colours(pd.Series(phases[has_phase], dtype=object)).items() if has_phase.any() else [])]
    entries += [("#e3e3e3", bilingual("其他建筑", "other buildings"), ""),
                (EXCLUDED_COLOUR, bilingual("已排除", "excluded"), "")]
    if boundary is not None and len(boundary):
        entries.append(("none", bilingual("区界", "district boundary"), ""))
    if zones is not None and len(zones):
        entries.append(("none", bilingual("分区", "zones"), ""))
    lx, ly = 8, 8
    # legend, scale bar and north arrow in one overlay group (fixed on screen while the map pans and zooms)
    out.append('<g class="overlay">')
    leg = [f'<g font-family="Noto Sans SC,Noto Sans CJK SC,Microsoft YaHei,sans-serif" font-size="12" fill="#222">'
           f'<rect x="{lx}" y="{ly}" width="230" height="{18 * len(entries) + 10}" fill="#fff" fill-opacity="0.85" '
           f'stroke="#bbb"/>']
    for i, (colour, text, ph) in enumerate(entries):
        y = ly + 8 + 18 * i
        light = not is_built_phase(ph) and ph != ""
        stroke = ' stroke="#222"' if is_built_phase(ph) else (
            f' stroke="{BOUNDARY_COLOUR}" stroke-width="2"' if colour == "none" else "")
        opacity = ' fill-opacity="0.45"' if light else ""
        leg.append(f'<rect x="{lx + 8}" y="{y}" width="14" height="12" fill="{colour}"{opacity}{stroke}/>'
                   f'<text x="{lx + 28}" y="{y + 11}">{escape(text)}</text>')
    out.append("".join(leg) + "</g>")
    # scale bar and north arrow
    bar_m = _nice_length_m(span)
    bar_px = bar_m * s
    yb = height_px - 16
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    out.append(f'<g font-family="sans-serif" font-size="12" fill="#333">'
               f'<rect class="sb-bg" x="8" y="{yb - 20}" width="{bar_px + 12:.1f}" height="30" fill="#fff" '
               f'fill-opacity="0.8"/>'
               f'<rect class="sb-bar" x="14" y="{yb}" width="{bar_px:.1f}" height="4" fill="#333"/>'
               f'<text class="sb-text" x="14" y="{yb - 4}">{label}</text>'
               f'<path d="M{width_px - 24} 34 L{width_px - 16} 14 L{width_px - 8} 34 Z" fill="#333"/>'
               f'<text x="{width_px - 20}" y="48">N</text></g></g>')
    out.append("</svg>")
    return "".join(out)
