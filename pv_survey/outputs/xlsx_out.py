"""shortlists.xlsx: the procurement workbook (XlsxWriter).

One sheet per build year, one for the reserve, one per priority class, and a summary sheet
first with the totals of each. Build-year sheets hold every site (up to Excel's 1,048,575
data rows); the reserve and class sheets hold the best-ranked ``max_rows`` sites, the full
lists being in the CSV shortlists and the GeoPackage (a city has hundreds of thousands of
reserve sites: no one reads them in Excel, and Excel stops at 1,048,576 rows). Every sheet has the bilingual header row frozen (with the
rank, building id and name columns), column widths that fit the text, Excel number formats
(whole yuan, kWp and MWh to 0.1, degrees to 1e-6 ~ 0.1 m), an autofilter, and three sets of
coordinates: WGS84 and GCJ-02 longitude / latitude (paste the GCJ-02 pair into Amap or
Tencent Maps) and the CGCS2000 Gauss-Kruger x / y of the survey.

Cells hold numbers as numbers; text is written as text (``strings_to_formulas`` off), so
a name starting with "=" is not run as a formula. XlsxWriter (rather than openpyxl, which the
tests use to read the workbook back) writes a column's number format once and streams the
rows: about ten times faster on a city's lists.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import OutputsConfig
from .csv_out import SHORTLIST_COLUMNS, shortlist_frame
from .labels import bilingual, category_label, field_alias
from .styles import PINNED_OUT, RESERVE, built_phase_mask, phase_label, phase_order

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


def _column_values(values: np.ndarray, kind: str) -> list:
    """One column's cell values: floats / ints for numbers, text otherwise, None when missing."""
    if kind in _FORMATS:
        x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
        ok = np.isfinite(x)
        out = np.full(len(x), None, dtype=object)
        out[ok] = np.rint(x[ok]).astype(np.int64) if kind == "int" else x[ok]
        return out.tolist()
    ser = pd.Series(values, dtype=object)
    missing = ser.isna().to_numpy()
    text = ser.astype(str)
    if kind == "category":
        text = text.map({u: category_label(u) for u in pd.unique(text)})
    elif kind == "phase":
        text = text.map({u: (int(u) if re.fullmatch(r"\d{4}", u) else phase_label(u)) for u in pd.unique(text)})
    out = text.to_numpy(dtype=object, copy=True)
    out[missing] = None
    return out.tolist()


def _width(head: str, values: list, kind: str) -> float:
    """Column width in Excel character units: the header's longer half, or the longest value shown."""
    w_head = max(_display_width(part) for part in head.split(" / "))
    shown = [v for v in values if v is not None]
    if not shown:
        w_body = 0
    elif kind in _FORMATS:
        big = float(np.max(np.abs(np.asarray(shown, dtype=float))))
        digits = {"int": 0, "dec1": 1, "dec2": 2, "dec6": 6}[kind]
        w_body = len(f"{-big:,.{digits}f}")
    else:  # ASCII text is one unit a character
        w_body = max(len(t) if t.isascii() else _display_width(t) for t in set(map(str, shown)))
    return min(max(w_head, w_body, 6) + 2, 48)


def _site_sheet(wb, ws, frame: pd.DataFrame, fmt: dict, note: str = "") -> None:
    heads = [field_alias(h) or h for _c, h, _k in WORKBOOK_COLUMNS]
    cols = [_column_values(frame[c].to_numpy(dtype=object) if c in frame else np.full(len(frame), None, dtype=object),
                           kind) for c, _h, kind in WORKBOOK_COLUMNS]
    for j, ((_c, _h, kind), values) in enumerate(zip(WORKBOOK_COLUMNS, cols)):
        ws.set_column(j, j, _width(heads[j], values, kind), fmt.get(kind))
    ws.write_row(0, 0, heads, fmt["header"])
    for i, row in enumerate(zip(*cols), start=1):
        ws.write_row(i, 0, row)
    ws.freeze_panes(_FROZEN)
    if len(frame):
        ws.autofilter(0, 0, len(frame), len(heads) - 1)
    if note:
        ws.write_string(len(frame) + 2, 0, note)


def workbook_sheets(plan: gpd.GeoDataFrame, *, shortlist: pd.DataFrame | None = None) -> list[str]:
    """Sheet names of :func:`shortlists_xlsx` for ``plan`` (or its ``shortlist`` frame), in order."""
    sl = shortlist_frame(plan) if shortlist is None else shortlist
    return [SUMMARY_SHEET] + [t for t, _w, _m in sheet_groups(sl)]


#: Time stamp of the workbook's properties without SOURCE_DATE_EPOCH: the ZIP format's epoch
#: (PKWARE APPNOTE 4.4.6), so the same plan gives the same bytes (XlsxWriter stamps its ZIP
#: members with that epoch itself).
_ZIP_EPOCH = datetime(1980, 1, 1)
#: Data rows of one Excel sheet (Excel's limit of 1,048,576 rows, less the header).
EXCEL_MAX_ROWS = 1_048_575


def shortlists_xlsx(plan: gpd.GeoDataFrame, *, title: str = "", when: datetime | None = None,
                    max_rows: int = OutputsConfig.workbook_max_rows, shortlist: pd.DataFrame | None = None) -> bytes:
    """The procurement workbook as bytes.

    Parameters
    ----------
    plan : GeoDataFrame
        The ``plan`` layer (see :func:`pv_survey.outputs.csv_out.shortlist_frame`).
    title : str
        Survey name, written below the summary table.
    when : datetime, optional
        Time stamp of the file (naive UTC); default the ZIP epoch, 1980-01-01.
    max_rows : int
        Sites on the reserve and class sheets at most (the best-ranked; 0 = all, up to Excel's
        limit). Build-year sheets are never cut below Excel's limit.

    Returns
    -------
    bytes
        An .xlsx file: sheet ``汇总 Summary`` (one row per site sheet with its number of
        sites and the sums of :data:`SUMMARY_COLUMNS`, and a total over the build years),
        then one sheet per group of :func:`sheet_groups`.
    """
    import xlsxwriter

    sl = shortlist_frame(plan) if shortlist is None else shortlist
    groups = sheet_groups(sl)
    raw = io.BytesIO()
    wb = xlsxwriter.Workbook(raw, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    stamp = when.replace(tzinfo=None) if when is not None else _ZIP_EPOCH
    wb.set_properties({"author": "pv-survey", "created": stamp})
    fmt = {kind: wb.add_format({"num_format": f}) for kind, f in _FORMATS.items()}
    fmt["header"] = wb.add_format({"bold": True, "bg_color": "#" + _HEADER_FILL, "text_wrap": True, "valign": "top"})
    bold = {kind: wb.add_format({"num_format": f, "bold": True}) for kind, f in _FORMATS.items()}
    bold["text"] = wb.add_format({"bold": True})

    summary = wb.add_worksheet(SUMMARY_SHEET)
    heads = [bilingual("工作表", "Sheet"), bilingual("内容", "Contents"), bilingual("项目数", "Sites")] + \
        [field_alias(c) or c for c in SUMMARY_COLUMNS]
    sums = {c: pd.to_numeric(sl[c], errors="coerce") for c in SUMMARY_COLUMNS}
    built = built_phase_mask(sl["phase"].fillna("").astype(str))
    cut = {}
    rows = []
    for t, what, m in groups:
        limit = EXCEL_MAX_ROWS if built[m].all() or not max_rows else min(int(max_rows), EXCEL_MAX_ROWS)
        n = int(m.sum())
        if n > limit:
            cut[t] = (limit, n)
            what += " — " + bilingual(f"表中为前 {limit:,} 个，全部 {n:,} 个见 CSV 与 survey.gpkg",
                                     f"first {limit:,} of {n:,} here; all in the CSV lists and survey.gpkg")
        rows.append((t, what, m))
    rows.append((bilingual("合计", "Total"), bilingual("全部建设年份（不含储备）", "Every build year (reserve not included)"),
                 built))
    kinds = ["text", "text", "int"] + ["int" if c == "capex_cny" else "dec1" for c in SUMMARY_COLUMNS]
    cols = [[h] for h in heads]
    for r, (t, what, m) in enumerate(rows, start=1):
        vals = [t, what, int(m.sum())] + [float(sums[c][m].sum()) for c in SUMMARY_COLUMNS]
        last = r == len(rows)
        for j, (v, kind) in enumerate(zip(vals, kinds)):
            cols[j].append(v)
            style = (bold if last else fmt).get(kind)
            if isinstance(v, str):
                summary.write_string(r, j, v, bold["text"] if last else None)
            else:
                summary.write_number(r, j, v, style)
    summary.write_row(0, 0, heads, fmt["header"])
    for j, (values, kind) in enumerate(zip(cols, kinds)):
        summary.set_column(j, j, _width(values[0], values[1:], kind if kind in _FORMATS else "text"))
    summary.freeze_panes("A2")
    if title:
        summary.write_string(len(rows) + 2, 0, title)
    for t, _what, m in groups:
        rows_of = np.flatnonzero(np.asarray(m, dtype=bool))
        note = ""
        if t in cut:  # the rows the sheet shows, not a copy of every site of the group (a city's reserve)
            limit, n = cut[t]
            rows_of = rows_of[:limit]
            note = bilingual(f"另有 {n - limit:,} 个项目，见 CSV 清单与 survey.gpkg",
                             f"{n - limit:,} more sites in the CSV lists and survey.gpkg")
        _site_sheet(wb, wb.add_worksheet(t), sl.iloc[rows_of], fmt, note)
    wb.close()
    return raw.getvalue()
