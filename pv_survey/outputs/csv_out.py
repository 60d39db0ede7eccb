"""CSV shortlists for procurement: UTF-8 with BOM, bilingual headers, fixed columns.

Excel on a Chinese Windows opens a CSV as GBK unless it starts with a UTF-8 byte-order
mark, so every file starts with one. Numbers are rounded as people read them (kWp and
MWh to 0.1, CNY to whole yuan, years to 0.1, coordinates to 1e-6 degree, about 0.1 m)
and written without thousands separators so Excel still reads them as numbers. Text
cells that Excel would take for a formula get a leading apostrophe (OWASP "CSV
injection" guidance).
"""

from __future__ import annotations

import csv
import math
import re
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config import OutputsConfig
from ..inputs.crs import wgs84_to_gcj02
from .labels import category_label, field_alias
from .styles import PINNED_OUT, RESERVE, built_phase_mask, phase_label, phase_order

__all__ = ["SHORTLIST_COLUMNS", "EXTRA_COLUMNS", "LONLAT_CRS", "CSV_LINE", "shortlist_frame", "csv_lines",
           "with_csv_lines", "csv_bytes", "write_csv", "write_csv_lists", "ListWriteError", "shortlist_lists",
           "shortlist_rows", "shortlist_files", "slug"]

#: Geographic CRS of the coordinates: CGCS2000 (EPSG:4490), the national datum.
LONLAT_CRS = "EPSG:4490"
#: WGS84 geographic, the frame GCJ-02 is defined from.
WGS84_CRS = "EPSG:4326"

#: (column, how it is written) in the fixed order of every shortlist; headers come from
#: :data:`pv_survey.outputs.labels.FIELD_LABELS`.
SHORTLIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "int"),
    ("building_id", "text"),
    ("name", "text"),
    ("address", "text"),
    ("category", "category"),
    ("owner", "text"),
    ("priority_class", "category"),
    ("phase", "phase"),
    ("year_built", "int"),
    ("existing_pv_kwp", "dec1"),
    ("capacity_kwp", "dec1"),
    ("annual_mwh", "dec1"),
    ("specific_yield_kwh_kwp", "int"),
    ("capex_cny", "int"),
    ("npv_cny", "int"),
    ("lcoe_cny_per_kwh", "dec2"),
    ("simple_payback_yr", "dec1"),
    ("co2_avoided_t_per_yr", "dec1"),
    ("lon_deg", "dec6"),
    ("lat_deg", "dec6"),
    ("lon_gcj02_deg", "dec6"),
    ("lat_gcj02_deg", "dec6"),
)

#: Further columns of :func:`shortlist_frame` (in the workbook, not the CSVs).
EXTRA_COLUMNS: tuple[str, ...] = ("lon_wgs84_deg", "lat_wgs84_deg", "x_m", "y_m")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def slug(text: str) -> str:
    """File-name-safe form of a phase or class name ('' when nothing ASCII is left)."""
    return re.sub(r"[^0-9A-Za-z]+", "-", str(text)).strip("-").lower()


def _missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, (float, np.floating)) and math.isnan(v))
    except TypeError:  # pragma: no cover - exotic scalars
        return False


def _cell(v, kind: str) -> str:
    if _missing(v):
        return ""
    if kind in ("int", "dec1", "dec2", "dec6"):
        try:
            x = float(v)
        except (TypeError, ValueError):
            return _text(v)
        if not math.isfinite(x):
            return ""
        digits = {"int": 0, "dec1": 1, "dec2": 2, "dec6": 6}[kind]
        x = round(x, digits)
        if x == 0:
            x = 0.0  # never "-0.0"
        return f"{x:.{digits}f}"
    if kind == "category":
        return _text(category_label(str(v)))
    if kind == "phase":
        p = str(v)
        return p if re.fullmatch(r"\d{4}", p) else _text(phase_label(p))
    return _text(v)


def _text(v) -> str:
    s = str(v)
    return "'" + s if s.startswith(_FORMULA_START) else s


def shortlist_frame(plan: gpd.GeoDataFrame) -> pd.DataFrame:
    """Sites of the build phases and the reserve with the shortlist's raw columns, by rank.

    Parameters
    ----------
    plan : GeoDataFrame
        The ``plan`` layer: one row per site with its footprint, in a metric CRS.

    Returns
    -------
    DataFrame
        Columns of :data:`SHORTLIST_COLUMNS` (missing ones all NaN); ``annual_mwh`` from
        ``annual_kwh``; ``lon_deg`` / ``lat_deg`` of the footprint centroid in CGCS2000.
    """
    phase = plan["phase"].fillna("").astype(str) if "phase" in plan else pd.Series("", index=plan.index)
    keep = np.flatnonzero(built_phase_mask(phase) | (phase == RESERVE).to_numpy(dtype=bool))
    if "rank" in plan:
        keep = keep[np.argsort(plan["rank"].to_numpy(float)[keep], kind="stable")]
    # the rows kept, in rank order, taken once and only with the columns used (not the plan layer
    # copied, then copied again in order: 1,000,000 sites with their footprints)
    used = {c for c, _ in SHORTLIST_COLUMNS} | set(EXTRA_COLUMNS) | {"annual_kwh"}
    geom = plan.active_geometry_name if isinstance(plan, gpd.GeoDataFrame) else None
    p = plan[[c for c in plan.columns if c in used or c == geom]]
    p = p.iloc[keep]
    out = pd.DataFrame(index=p.index)
    for col, _kind in SHORTLIST_COLUMNS:
        if col in p.columns:
            out[col] = p[col]
    if "annual_kwh" in p.columns:
        out["annual_mwh"] = p["annual_kwh"].astype(float) / 1000.0
    if isinstance(p, gpd.GeoDataFrame) and p.crs is not None and len(p):
        has = (~p.geometry.isna() & ~p.geometry.is_empty).to_numpy()
        # each footprint's centroid once, transformed as coordinate arrays (what GeoSeries.to_crs does
        # to points: pyproj's transformer, always_xy, on their x / y)
        x_m, y_m = np.full(len(p), np.nan), np.full(len(p), np.nan)
        x_m[has], y_m[has] = shapely.get_coordinates(shapely.centroid(p.geometry.array[has])).T
        out["lon_deg"], out["lat_deg"] = _transformed(p.crs, LONLAT_CRS, x_m, y_m, has)
        # WGS84 (EPSG:4326, as pyproj transforms CGCS2000 to it), and GCJ-02 from it for Amap /
        # Tencent look-up (the web maps' offset frame, ../shared/REFERENCES.md "Coordinates")
        out["lon_wgs84_deg"], out["lat_wgs84_deg"] = _transformed(p.crs, WGS84_CRS, x_m, y_m, has)
        glon, glat = wgs84_to_gcj02(out["lon_wgs84_deg"].to_numpy(float), out["lat_wgs84_deg"].to_numpy(float))
        out["lon_gcj02_deg"], out["lat_gcj02_deg"] = glon, glat
        out["x_m"], out["y_m"] = x_m, y_m
    # a name is never blank: the address, else the building id
    name = out["name"] if "name" in out else pd.Series(np.nan, index=out.index)
    blank = name.isna() | (name.astype(str).str.strip() == "")
    if "address" in out:
        addr = out["address"]
        fill = addr.where(~(addr.isna() | (addr.astype(str).str.strip() == "")), out.get("building_id"))
    else:
        fill = out.get("building_id")
    if fill is not None and blank.any():
        out["name"] = name.astype(object).where(~blank, fill)
    for col, _kind in SHORTLIST_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    extra = [c for c in EXTRA_COLUMNS if c in out.columns]
    return out[[c for c, _ in SHORTLIST_COLUMNS] + extra].reset_index(drop=True)


def _transformed(crs, to_crs, x: np.ndarray, y: np.ndarray, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``x`` / ``y`` of ``crs`` in ``to_crs`` (NaN where not ``has``)."""
    tx, ty = np.full(len(x), np.nan), np.full(len(x), np.nan)
    tx[has], ty[has] = pyproj.Transformer.from_crs(crs, to_crs, always_xy=True).transform(x[has], y[has])
    return tx, ty


def _fixed(x: np.ndarray, digits: int) -> list[str]:
    """Finite numbers as text with ``digits`` decimals, as ``f"{round(v, digits):.{digits}f}"``.

    Formatting rounds the exact binary value half to even, as :func:`round` does (5.55 is binary
    5.5499... -> "5.5"), so the number is formatted once without rounding it first; only a
    negative number that rounds to zero differs ("-0.0"), and is written "0.0".
    """
    text = [f"{v:.{digits}f}" for v in x.tolist()]
    for i in np.flatnonzero(np.signbit(x)).tolist():
        t = text[i]
        if t.startswith("-0") and not t.strip("-0."):
            text[i] = t[1:]
    return text


def _cells(values: pd.Series, kind: str) -> np.ndarray:
    """One column as CSV fields (vectorised :func:`_cell`, quoted as :func:`_field`): '' when missing,
    numbers to a fixed precision; an object array of text."""
    missing = values.isna().to_numpy()
    out = np.full(len(values), "", dtype=object)
    if kind in ("int", "dec1", "dec2", "dec6"):
        digits = {"int": 0, "dec1": 1, "dec2": 2, "dec6": 6}[kind]
        x = pd.to_numeric(values, errors="coerce").to_numpy(float, na_value=np.nan)
        num = np.isfinite(x)
        out[num] = _fixed(x[num], digits)  # digits, '-' and '.': never quoted
        text = ~missing & np.isnan(x)  # present but not a number: written as text (inf: left empty)
        if text.any():
            out[text] = [_field(_text(v)) for v in values[text]]
        return out
    keep = ~missing
    if not keep.any():
        return out
    s = values[keep].astype(str)
    if kind == "category":
        s = s.map({u: _field(_text(category_label(u))) for u in pd.unique(s)})
    elif kind == "phase":
        s = s.map({u: _field(u if re.fullmatch(r"\d{4}", u) else _text(phase_label(u))) for u in pd.unique(s)})
    else:
        s = s.where(~s.str.startswith(_FORMULA_START), "'" + s)
        special = s.str.contains(_CSV_SPECIAL.pattern, regex=True).to_numpy(dtype=bool)
        if special.any():
            s[special] = [_field(t) for t in s[special]]
    out[keep] = s.to_numpy(object)
    return out


#: Column of a shortlist frame that holds each site's CSV line once formatted (:func:`with_csv_lines`);
#: a site is in several lists, and is then formatted once for all of them.
CSV_LINE = "_csv_line"


class _Lines(list):
    """A file-like list: :func:`csv.writer` writes one row per ``write`` call, kept as one item."""

    write = list.append


def _writer(lines: _Lines):
    # the dialect pandas' to_csv used here before: minimal quoting, doubled quotes, CRLF (RFC 4180)
    return csv.writer(lines, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


#: Characters for which :func:`_writer` quotes a field (its delimiter, quote character and line end:
#: every character tried through csv.writer on Python 3.11).
_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def _field(text: str) -> str:
    """``text`` as one field of a :func:`_writer` row: as it is, or quoted by the csv module itself
    when it holds a character of :data:`_CSV_SPECIAL` (a field is quoted on its own content alone)."""
    if not _CSV_SPECIAL.search(text):
        return text
    line = _Lines()
    _writer(line).writerow([text, ""])
    return line[0][:-len(",\r\n")]


#: Rows formatted at a time (:func:`csv_lines`) and when a list is written to a file (bounds the
#: memory of a city's lists; project choice. The 1,000,000-building bench city's ten lists, 1.9 M rows
#: in all, peaked 475 / 164-249 / 127 MB above their start with 100,000 / 50,000 / 25,000 rows a chunk,
#: in 8.4 / 7.3-7.9 / 7.5 s: the files are the same bytes).
CSV_CHUNK_ROWS = 25_000


def csv_lines(frame: pd.DataFrame) -> np.ndarray:
    """Each row of a shortlist frame as its CSV line (text ending in CRLF), in row order: the fields of
    :func:`_cells` joined by commas, as :func:`_writer` writes a row."""
    if CSV_LINE in frame.columns:
        return frame[CSV_LINE].to_numpy(dtype=object)
    out = np.empty(len(frame), dtype=object)
    # CSV_CHUNK_ROWS rows at a time: the cells of every column are Python strings until joined
    # (all 1,000,000 sites of a plan at once: the driver's memory rose 1.9 GB, sampled; README
    # "Measured performance")
    for a in range(0, len(frame), CSV_CHUNK_ROWS):
        part = frame.iloc[a:a + CSV_CHUNK_ROWS]
        cols = [_cells(part[c].reset_index(drop=True), kind) for c, kind in SHORTLIST_COLUMNS]
        cols[-1] = [field + "\r\n" for field in cols[-1].tolist()]
        out[a:a + len(part)] = list(map(",".join, zip(*cols)))
    return out


def with_csv_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows' CSV lines in the :data:`CSV_LINE` column (lists of it reuse them)."""
    return frame.assign(**{CSV_LINE: csv_lines(frame)})


def csv_bytes(frame: pd.DataFrame, *, header: bool = True) -> bytes:
    """The shortlist as CSV bytes: UTF-8 BOM, bilingual header row, CRLF line ends (RFC 4180).

    ``header=False`` gives the rows alone (no BOM), to append a further chunk of a list.
    """
    head = _Lines()
    if header:
        _writer(head).writerow([field_alias(c) or c for c, _ in SHORTLIST_COLUMNS])
    text = "".join(head) + "".join(csv_lines(frame).tolist())
    return text.encode("utf-8-sig" if header else "utf-8")


def write_csv(frame: pd.DataFrame, path, rows: np.ndarray | None = None) -> None:
    """Write :func:`csv_bytes` of ``frame`` (or of its rows at positions ``rows``) to ``path`` chunk
    by chunk (the same bytes; only a chunk of the list is ever copied)."""
    n = len(frame) if rows is None else len(rows)
    if CSV_LINE in frame.columns:
        frame = frame[[CSV_LINE]]  # the lines are all a chunk needs

    def chunk(a: int) -> pd.DataFrame:
        return frame.iloc[a:a + CSV_CHUNK_ROWS] if rows is None else frame.iloc[rows[a:a + CSV_CHUNK_ROWS]]

    with open(path, "wb") as fh:
        fh.write(csv_bytes(chunk(0)))
        for start in range(CSV_CHUNK_ROWS, n, CSV_CHUNK_ROWS):
            fh.write(csv_bytes(chunk(start), header=False))


class ListWriteError(OSError):
    """Writing one of the files of :func:`write_csv_lists` failed: ``name`` is the list's name, the
    cause (``__cause__``) the operating system's error; errno, message and path are the cause's."""

    def __init__(self, name: str, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), cause.filename)
        self.name = name


def _create(path):
    """A new binary file at ``path`` (the one place :func:`write_csv_lists` opens files)."""
    return open(path, "wb")


def write_csv_lists(frame: pd.DataFrame, files: Mapping[str, tuple[Any, np.ndarray]]) -> None:
    """Write several shortlists of ``frame`` in one pass over its rows, each site's line formatted once.

    Each file holds the bytes :func:`write_csv` writes for its rows (UTF-8 BOM, bilingual header,
    the rows' lines). A city's lists cover its sites about three times (all, the site's build year,
    its class): the lines of :data:`CSV_CHUNK_ROWS` listed sites at a time are formatted and each
    file takes its rows among them, so memory holds one chunk of lines, not the lines of every site
    (1,000,000 sites: the driver went 4,118 -> 4,880 MB while every line was formatted, sampled;
    README "Measured performance").

    Parameters
    ----------
    frame : DataFrame
        :func:`shortlist_frame` rows.
    files : mapping
        List name -> (path, positions of its rows in ``frame``); positions ascend (rank order), as
        :func:`shortlist_rows` gives them.

    Raises
    ------
    ListWriteError
        A file could not be created or written (its list named); files already written stay for
        the caller to remove (``write_outputs`` stages them).
    ValueError
        Positions that do not ascend.
    """
    import contextlib

    rows_of = {name: np.asarray(rows, dtype=np.int64).reshape(-1) for name, (_, rows) in files.items()}
    for name, rows in rows_of.items():
        if rows.size > 1 and not (np.diff(rows) > 0).all():
            raise ValueError(f"{name}: the rows of a list must ascend (rank order)")
    needed = np.unique(np.concatenate([np.empty(0, np.int64), *rows_of.values()]))
    head = csv_bytes(frame.iloc[:0])  # BOM and header row

    def guarded(name, action):
        try:
            return action()
        except OSError as exc:
            raise ListWriteError(name, exc) from exc

    with contextlib.ExitStack() as stack:
        out = {}
        for name, (path, _) in files.items():
            out[name] = guarded(name, lambda: stack.enter_context(_create(path)))
            guarded(name, lambda: out[name].write(head))
        for a in range(0, needed.size, CSV_CHUNK_ROWS):
            pos = needed[a:a + CSV_CHUNK_ROWS]
            lines = csv_lines(frame.iloc[pos])
            for name, rows in rows_of.items():
                i0, i1 = np.searchsorted(rows, [pos[0], pos[-1] + 1])
                if i1 > i0:
                    data = "".join(lines[np.searchsorted(pos, rows[i0:i1])].tolist()).encode("utf-8")
                    guarded(name, lambda: out[name].write(data))
            del lines


def _unique_name(base: str, used: set[str]) -> str:
    name, k = base, 2
    while name in used:
        name = base.replace(".csv", f"-{k}.csv")
        k += 1
    used.add(name)
    return name


def shortlist_lists(plan: gpd.GeoDataFrame, *, shortlist_size: int = OutputsConfig.shortlist_size,
                    shortlist: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every shortlist as a frame (rows of :func:`shortlist_frame`), by file name: the lists of
    :func:`shortlist_rows`."""
    sl = shortlist_frame(plan) if shortlist is None else shortlist
    return {name: sl.iloc[rows] for name, rows in shortlist_rows(plan, shortlist_size=shortlist_size,
                                                                  shortlist=sl).items()}


def shortlist_rows(plan: gpd.GeoDataFrame, *, shortlist_size: int = OutputsConfig.shortlist_size,
                   shortlist: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Every shortlist as positions in :func:`shortlist_frame`, by file name: ``shortlist.csv`` (the sites of every build
    phase, or the first ``shortlist_size``), ``shortlist_<phase>.csv`` per build phase and for
    the reserve, and ``shortlist_class_<class>.csv`` per priority class (build phases and
    reserve, in rank order). A list holding the same rows as one before it (one build year
    only: its list is ``shortlist.csv``) is left out: its file would be byte-identical.

    Parameters
    ----------
    plan : GeoDataFrame
        The ``plan`` layer (see :func:`shortlist_frame`).
    shortlist_size : int
        Rows of ``shortlist.csv``; 0 = every planned site. Per-phase and per-class lists
        are always complete (they are the procurement lots). Pinned-out sites are in none.
    shortlist : DataFrame, optional
        :func:`shortlist_frame` of ``plan`` when already computed.

    Returns
    -------
    dict
        File name -> positions of the list's rows in :func:`shortlist_frame` (int array), in a fixed
        order; a city's lists cover its sites about three times, so they are written from the
        positions chunk by chunk (:func:`write_csv`) rather than held as frames.
    """
    sl = shortlist_frame(plan) if shortlist is None else shortlist
    phase = sl["phase"].fillna("").astype(str).to_numpy(dtype=object)
    built = np.flatnonzero(built_phase_mask(phase))
    used: set[str] = set()
    seen: set[bytes] = set()
    lists: dict[str, np.ndarray] = {}

    def add(base: str, rows: np.ndarray) -> None:
        # same rows in the same order <=> the same file; the positions' bytes as the key (8 bytes a row,
        # where a tuple of Python ints takes a 28-byte int and an 8-byte pointer a row)
        key = np.asarray(rows, dtype=np.int64).tobytes()
        if key in seen:
            return
        seen.add(key)
        lists[_unique_name(base, used)] = rows

    add("shortlist.csv", built[:shortlist_size] if shortlist_size and shortlist_size > 0 else built)
    for i, ph in enumerate(p for p in phase_order(pd.Series(phase)) if p not in ("", PINNED_OUT)):
        add(f"shortlist_{slug(ph) or f'phase{i + 1}'}.csv", np.flatnonzero(phase == ph))
    # per class: every site of the class in rank order, build phases and reserve alike (the phase
    # column says which), so each class's procurement officer sees the whole pipeline of sites
    listed = phase != PINNED_OUT
    cls = sl["priority_class"].astype(str).to_numpy(dtype=object)
    classes = [c for c in pd.unique(sl.loc[listed, "priority_class"].dropna().astype(str)) if c != ""]
    for i, cl in enumerate(classes, start=1):
        add(f"shortlist_class_{slug(cl) or f'{i}'}.csv", np.flatnonzero(listed & (cls == cl)))
    return lists


def shortlist_files(plan: gpd.GeoDataFrame, *, shortlist_size: int = OutputsConfig.shortlist_size,
                    shortlist: pd.DataFrame | None = None) -> dict[str, bytes]:
    """:func:`shortlist_lists` as CSV bytes (:func:`csv_bytes`), by file name."""
    return {name: csv_bytes(rows) for name, rows in
            shortlist_lists(plan, shortlist_size=shortlist_size, shortlist=shortlist).items()}
