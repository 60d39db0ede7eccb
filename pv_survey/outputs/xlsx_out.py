"""shortlists.xlsx: the procurement workbook (openpyxl).

One sheet per build year, one for the reserve, one per priority class, and a summary sheet
first with the totals of each. Every sheet has the bilingual header row frozen (with the
rank, building id and name columns), column widths that fit the text, Excel number formats
(whole yuan, kWp and MWh to 0.1, degrees to 1e-6 ~ 0.1 m), an autofilter, and three sets of
coordinates: WGS84 and GCJ-02 longitude / latitude (paste the GCJ-02 pair into Amap or
Tencent Maps) and the CGCS2000 Gauss-Kruger x / y of the survey.

Cells hold numbers as numbers; text is written as text (openpyxl never evaluates it), so
a name starting with "=" is not run as a formula.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .csv_out import SHORTLIST_COLUMNS, shortlist_frame
from .labels import bilingual, category_label, field_alias
from .styles import PINNED_OUT, RESERVE, is_built_phase, phase_label, phase_order

__all__ = ["WORKBOOK_COLUMNS", "SUMMARY_COLUMNS", "SUMMARY_SHEET", "sheet_groups", "workbook_sheets",
           "shortlists_xlsx"]

#: (column of :func:`shortlist_frame`, header field, kind) of every site sheet, in order.
#: ``lon_deg`` / ``lat_deg`` are CGCS2000 degrees in the CSVs; the workbook gives WGS84 instead.
WORKBOOK_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (c, c, k) for c, k in SHORTLIST_COLUMNS if c not in ("lon_deg", "lat_deg", "lon_gcj02_deg", "lat_gcj02_deg")
) + (
    ("lon_wgs84_deg", "lon_wgs84_deg", "dec6"),
    ("lat_wgs84_deg", "lat_wgs84_deg", "dec6"),
    ("lon_gcj02_deg", "lon_gcj02_deg", "dec6"),
    ("lat_gcj02_deg", "lat_gcj02_deg", "dec6"),
    ("x_m", "x_m", "dec1"),
    ("y_m", "y_m", "dec1"),
)
#: Excel number format of each kind.
_FORMATS = {"int": "#,##0", "dec1": "#,##0.0", "dec2": "0.00", "dec6": "0.000000"}
#: Columns summed per sheet on the summary sheet.
SUMMARY_COLUMNS: tuple[str, ...] = ("capacity_kwp", "annual_mwh", "capex_cny", "co2_avoided_t_per_yr")
SUMMARY_SHEET = "汇总 Summary"
_FROZEN = "D2"  # header row and the rank, building id and name columns stay in view
_HEADER_FILL = "DCE6F1"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _display_width(text: str) -> int:
    """Width of ``text`` in Excel character units (a CJK character counts two)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _sheet_title(text: str, used: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("-", text)[:31] or "sheet"
    title, k = base, 2
    while title.lower() in used:
        suffix = f" ({k})"
        title, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(title.lower())
    return title


def sheet_groups(sl: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(sheet title, what it holds, row mask) of every site sheet of a shortlist frame.

    Build years in year order, then the reserve, then each priority class (build years and
    reserve, in rank order). Pinned-out sites are in none.
    """
    phase = sl["phase"].fillna("").astype(str)
    groups: list[tuple[str, str, np.ndarray]] = []
    used: set[str] = {SUMMARY_SHEET.lower()}
    for ph in phase_order(phase):
        if ph in ("", PINNED_OUT):
            continue
        m = (phase == ph).to_numpy()
        if ph == RESERVE:
            title, what = _sheet_title("储备 Reserve", used), bilingual("储备项目", "Reserve sites")
        else:
            title = _sheet_title(str(ph) if re.fullmatch(r"\d{4}", str(ph)) else phase_label(str(ph)), used)
            what = bilingual("建设项目", "Sites to build") + f": {phase_label(str(ph))}"
        groups.append((title, what, m))
    listed = (phase != PINNED_OUT).to_numpy()
    classes = [c for c in pd.unique(sl.loc[listed, "priority_class"].dropna().astype(str)) if c]
    for cl in classes:
        m = listed & (sl["priority_class"].astype(str) == cl).to_numpy()
        label = category_label(cl)
        groups.append((_sheet_title(f"类 {label.split(' / ')[-1]}", used), bilingual(f"类别：{label.split(' / ')[0]}",
                       f"Class: {label.split(' / ')[-1]}"), m))
    return groups


def _value(v: Any, kind: str) -> Any:
    """A cell value: float / int for numbers, text otherwise, None when missing."""
    if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and math.isnan(v)):
        return None
    if kind in _FORMATS:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return str(v)
        if not math.isfinite(x):
            return None
        return int(round(x)) if kind == "int" else x
    if kind == "category":
        return category_label(str(v))
    if kind == "phase":
        p = str(v)
        return int(p) if re.fullmatch(r"\d{4}", p) else phase_label(p)
    return str(v)


def _header_style(ws, n_cols: int) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    for cell in ws[1][:n_cols]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _widths(ws, texts_by_col: list[list[str]]) -> None:
    from openpyxl.utils import get_column_letter

    for j, texts in enumerate(texts_by_col, start=1):
        head = texts[0]
        # a bilingual header wraps at " / ": the longer half sets its width
        w_head = max(_display_width(part) for part in head.split(" / "))
        w_body = max((_display_width(t) for t in texts[1:]), default=0)
        ws.column_dimensions[get_column_letter(j)].width = min(max(w_head, w_body, 6) + 2, 48)


def _site_sheet(ws, frame: pd.DataFrame) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    heads = [field_alias(h) or h for _c, h, _k in WORKBOOK_COLUMNS]
    ws.append(heads)
    texts = [[h] for h in heads]
    cols = [(frame[c].to_numpy(dtype=object) if c in frame else np.full(len(frame), None, dtype=object), k)
            for c, _h, k in WORKBOOK_COLUMNS]
    for i in range(len(frame)):
        row = [_value(col[i], kind) for col, kind in cols]
        # characters XML 1.0 forbids (control characters) would make openpyxl refuse the row
        row = [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row]
        ws.append(row)
        for j, v in enumerate(row, start=1):
            if isinstance(v, str) and v.startswith("="):
                ws.cell(row=i + 2, column=j).data_type = "s"  # text that looks like a formula stays text
        for j, v in enumerate(row):
            if v is not None:
                kind = cols[j][1]
                texts[j].append(f"{v:,.6f}" if kind == "dec6" else (f"{v:,.1f}" if isinstance(v, float) else str(v)))
    for j, (_c, _h, kind) in enumerate(WORKBOOK_COLUMNS, start=1):
        fmt = _FORMATS.get(kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    _header_style(ws, len(heads))
    ws.freeze_panes = _FROZEN
    if len(frame):
        ws.auto_filter.ref = ws.dimensions
    _widths(ws, texts)


def workbook_sheets(plan: gpd.GeoDataFrame) -> list[str]:
    """Sheet names of :func:`shortlists_xlsx` for ``plan``, in order."""
    return [SUMMARY_SHEET] + [t for t, _w, _m in sheet_groups(shortlist_frame(plan))]


#: Time stamp of the workbook's parts and properties without SOURCE_DATE_EPOCH: the ZIP
#: format's epoch (PKWARE APPNOTE 4.4.6), so the same plan gives the same bytes.
_ZIP_EPOCH = datetime(1980, 1, 1)


def _save(wb, when: datetime) -> bytes:
    """Workbook bytes with fixed time stamps (openpyxl stamps 'now' into the file and its ZIP)."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.created = wb.properties.modified = when
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()


def shortlists_xlsx(plan: gpd.GeoDataFrame, *, title: str = "", when: datetime | None = None) -> bytes:
    """The procurement workbook as bytes.

    Parameters
    ----------
    plan : GeoDataFrame
        The ``plan`` layer (see :func:`pv_survey.outputs.csv_out.shortlist_frame`).
    title : str
        Survey name, written below the summary table.
    when : datetime, optional
        Time stamp of the file (naive UTC); default the ZIP epoch, 1980-01-01.

    Returns
    -------
    bytes
        An .xlsx file: sheet ``汇总 Summary`` (one row per site sheet with its number of
        sites and the sums of :data:`SUMMARY_COLUMNS`, and a total over the build years),
        then one sheet per group of :func:`sheet_groups`.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    sl = shortlist_frame(plan)
    groups = sheet_groups(sl)
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    heads = [bilingual("工作表", "Sheet"), bilingual("内容", "Contents"), bilingual("项目数", "Sites")] + \
        [field_alias(c) or c for c in SUMMARY_COLUMNS]
    summary.append(heads)
    texts = [[h] for h in heads]
    sums = {c: pd.to_numeric(sl[c], errors="coerce") for c in SUMMARY_COLUMNS}
    built = np.array([is_built_phase(p) for p in sl["phase"].fillna("").astype(str)], dtype=bool)
    rows = [(t, what, m) for t, what, m in groups]
    rows.append((bilingual("合计", "Total"), bilingual("全部建设年份（不含储备）", "Every build year (reserve not included)"),
                 built))
    for t, what, m in rows:
        vals = [t, what, int(m.sum())] + [float(sums[c][m].sum()) for c in SUMMARY_COLUMNS]
        summary.append(vals)
        for j, v in enumerate(vals):
            texts[j].append(f"{v:,.1f}" if isinstance(v, float) else str(v))
    for j, c in enumerate(SUMMARY_COLUMNS, start=4):
        fmt = _FORMATS["int"] if c == "capex_cny" else _FORMATS["dec1"]
        for (cell,) in summary.iter_rows(min_row=2, min_col=j, max_col=j):
            cell.number_format = fmt
    for cell in summary[summary.max_row]:
        cell.font = Font(bold=True)
    _header_style(summary, len(heads))
    summary.freeze_panes = "A2"
    _widths(summary, texts)
    if title:
        summary.cell(row=summary.max_row + 2, column=1, value=title)
    for t, _what, m in groups:
        _site_sheet(wb.create_sheet(t), sl[m])
    wb.properties.creator = "pv-survey"
    return _save(wb, (when.replace(tzinfo=None) if when is not None else _ZIP_EPOCH))
