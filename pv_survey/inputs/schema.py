"""The canonical buildings schema and the mapping of a user's attributes onto it.

A municipal file names its fields in its own way (``建筑类型``, ``层数``, ``HEIGHT``...).
:func:`map_attributes` finds each schema field in the source — through ``field_map``
(schema field -> source field) or, failing that, a list of common English and Chinese
names — and converts values: categories through ``value_map`` and the built-in labels
(:data:`CATEGORY_LABELS`), numbers parsed from text (``"40 m"``, ``"12层"``), years from
dates. :func:`fill_heights` then gives every building a height, and says where each came
from in ``height_source``:

``attribute``
    a height field of the source, between 0 and :data:`MAX_HEIGHT_M` (exclusive of 0);
``levels``
    the number of storeys times the category's storey height (:data:`STOREY_HEIGHT_M`);
``category_default``
    no usable height or storeys: the category's typical height (:data:`DEFAULT_HEIGHT_M`).

Heights that are zero, negative or above :data:`MAX_HEIGHT_M` are treated as missing
(counted in ``n_height_invalid``) and the next rule applies. Nothing is filled silently:
every fill is counted in :class:`MappingStats` and reported by ``read_buildings``.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "CATEGORIES",
    "SCHEMA_COLUMNS",
    "FIELD_CANDIDATES",
    "CATEGORY_LABELS",
    "ROOF_LABELS",
    "STOREY_HEIGHT_M",
    "DEFAULT_HEIGHT_M",
    "MAX_HEIGHT_M",
    "MAX_FLOORS",
    "MappingStats",
    "map_attributes",
    "normalise_category",
    "fill_heights",
    "id_flags",
    "strip_control",
    "unique_ids",
    "IdAssigner",
    "source_ids",
    "resolve_fields",
    "parse_number",
    "parse_year",
]

#: Building categories, in the plan's priority order (docs/ARCHITECTURE.md "buildings").
CATEGORIES = ("government", "hospital", "school", "public", "industrial", "commercial", "residential", "other")

#: Columns of the buildings frame returned by ``read_buildings`` (docs/ARCHITECTURE.md).
SCHEMA_COLUMNS = (
    "building_id", "name", "category", "height_m", "height_source", "roof_type", "year_built",
    "existing_pv_kwp", "owner", "address", "excluded_reason",
    "roof_shape", "roof_angle_deg", "roof_height_m", "roof_direction_deg", "roof_orientation",
    "heritage", "attribute_flags",
)

#: Schema fields a ``field_map`` may name (``floors`` is the storey count, turned into height).
MAPPABLE_FIELDS = (
    "building_id", "name", "category", "height_m", "floors", "roof_type", "year_built",
    "existing_pv_kwp", "owner", "address", "roof_angle", "roof_height", "roof_direction", "heritage", "part_of",
)

#: Source field names recognised without a field_map, compared case-insensitively
#: (common English GIS names, OSM keys, and the Chinese names of municipal survey data).
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    # meaningful ids first, then the keys databases and GIS tools generate (fid, ogc_fid, gid...)
    # (``building_i`` / ``existing_p``: the schema's own names cut to a shapefile's 10 characters)
    "building_id": ("building_id", "building_i", "bldg_id", "bld_id", "osm_id", "建筑编号", "建筑物编号", "楼栋编号",
                    "编号", "唯一编码", "编码", "code", "id", "uid", "objectid", "object_id", "gid", "ogc_fid", "fid"),
    "name": ("name", "bldg_name", "building_name", "name_zh", "name:zh", "名称", "建筑名称",
             "建筑物名称", "楼栋名称", "单位名称"),
    "category": ("category", "building_type", "bldg_type", "type", "use", "usage", "function",
                 "landuse", "class", "建筑类型", "建筑类别", "类型", "类别", "用途", "建筑用途",
                 "使用性质", "建筑性质", "功能", "性质"),
    "height_m": ("height_m", "height", "bldg_height", "building_height", "elevation", "h",
                 "高度", "建筑高度", "楼高"),
    "floors": ("floors", "floor", "levels", "building:levels", "storeys", "stories", "num_floors",
               "n_floors", "层数", "楼层", "建筑层数", "地上层数", "楼层数"),
    "roof_type": ("roof_type", "roof", "roof_shape", "roof:shape", "屋顶类型", "屋面类型", "屋顶形式",
                  "屋面形式"),
    "year_built": ("year_built", "year", "built_year", "construction_year", "start_date", "建成年份",
                   "建成年代", "建成时间", "竣工年份", "竣工时间", "建造年代", "建造年份", "年代"),
    "existing_pv_kwp": ("existing_pv_kwp", "existing_p", "pv_kwp", "existing_pv", "已装光伏", "已建光伏", "光伏容量",
                        "已装容量"),
    "owner": ("owner", "operator", "owner_name", "权属", "权属单位", "产权单位", "产权人", "业主",
              "使用单位", "管理单位"),
    "address": ("address", "addr", "addr_full", "地址", "详细地址", "门牌地址"),
    "roof_angle": ("roof_angle", "roof:angle", "屋面坡度", "屋顶坡度"),
    "roof_height": ("roof_height", "roof:height", "屋顶高度"),
    "roof_direction": ("roof_direction", "roof:direction", "屋面朝向", "屋顶朝向"),
    "heritage": ("heritage", "historic", "listed_status", "文物", "文物保护单位", "历史建筑", "保护级别"),
    "part_of": ("part_of", "outline_id", "parent_id", "所属建筑"),
}

#: Built-in category labels (source value -> category), English and Chinese. Matched after
#: trimming and case-folding, exactly (a label inside a longer value does not match).
CATEGORY_LABELS: dict[str, str] = {
    **{c: c for c in CATEGORIES},
    # government / 党政机关
    "gov": "government", "governmental": "government", "administration": "government",
    "administrative": "government", "townhall": "government", "civic administration": "government",
    "政府": "government", "机关": "government", "党政机关": "government", "政府机关": "government",
    "党政": "government", "行政": "government", "行政办公": "government", "机关办公": "government",
    "行政机关": "government", "事业机关": "government", "政务": "government",
    # hospital / 医疗
    "clinic": "hospital", "healthcare": "hospital", "medical": "hospital",
    "医院": "hospital", "医疗": "hospital", "卫生": "hospital", "医疗卫生": "hospital",
    "卫生院": "hospital", "诊所": "hospital", "社区卫生服务中心": "hospital",
    # school / 教育
    "education": "school", "university": "school", "college": "school", "kindergarten": "school",
    "学校": "school", "教育": "school", "中学": "school", "小学": "school", "大学": "school",
    "高校": "school", "幼儿园": "school", "教学": "school", "教学楼": "school", "教育科研": "school",
    # public / 公共
    "civic": "public", "public building": "public", "public institution": "public",
    "community": "public", "culture": "public", "sports": "public", "library": "public",
    "公共": "public", "公共建筑": "public", "公共机构": "public", "公共管理": "public",
    "公共服务": "public", "事业单位": "public", "文化": "public", "体育": "public",
    "文体": "public", "图书馆": "public", "博物馆": "public", "交通": "public", "市政": "public",
    "公用设施": "public",
    # industrial / 工业
    "industry": "industrial", "factory": "industrial", "warehouse": "industrial",
    "manufacture": "industrial", "logistics": "industrial",
    "工业": "industrial", "厂房": "industrial", "工厂": "industrial", "工业厂房": "industrial",
    "仓库": "industrial", "仓储": "industrial", "物流": "industrial", "工业仓储": "industrial",
    # commercial / 商业办公
    "office": "commercial", "retail": "commercial", "business": "commercial", "hotel": "commercial",
    "mixed": "commercial",
    "商业": "commercial", "办公": "commercial", "商务": "commercial", "商服": "commercial",
    "写字楼": "commercial", "商场": "commercial", "酒店": "commercial", "商业办公": "commercial",
    "商住": "commercial", "金融": "commercial",
    # residential / 居住
    "residence": "residential", "housing": "residential", "apartments": "residential",
    "apartment": "residential", "house": "residential", "dormitory": "residential",
    "住宅": "residential", "居住": "residential", "住房": "residential", "公寓": "residential",
    "宿舍": "residential", "城中村": "residential", "民居": "residential", "村民住宅": "residential",
    # other
    "其他": "other", "其它": "other", "unknown": "other", "未知": "other",
}

#: Roof-type labels (source value -> flat | pitched), English, OSM roof:shape and Chinese.
ROOF_LABELS: dict[str, str] = {
    "flat": "flat", "pitched": "pitched", "平": "flat", "平顶": "flat", "平屋顶": "flat",
    "平屋面": "flat", "坡": "pitched", "坡顶": "pitched", "坡屋顶": "pitched", "坡屋面": "pitched",
    "斜屋顶": "pitched", "sloped": "pitched", "gabled": "pitched", "hipped": "pitched",
    "half-hipped": "pitched", "skillion": "pitched", "pyramidal": "pitched", "gambrel": "pitched",
    "mansard": "pitched", "saltbox": "pitched", "side_hipped": "pitched", "cross_gabled": "pitched",
    "dome": "pitched", "onion": "pitched", "round": "pitched", "cone": "pitched", "butterfly": "pitched",
    "sawtooth": "pitched",
}
#: Roof type assumed when the source gives none: flat. Project assumption -- Guangzhou's
#: urban stock (towers, estates, schools, offices, most factories) is overwhelmingly
#: flat-roofed reinforced concrete; count reported as ``n_roof_default``.
DEFAULT_ROOF_TYPE = "flat"

#: Storey height per category, turning a storey count into a height [m]. Project
#: assumptions (no single published table for Guangzhou): residential 3.0 m (GB 50096-2011
#: s.5.5.1 recommends 2.80 m, as commonly cited -- secondary; 3.0 m covers older and upmarket
#: stock); schools 3.9 m (classroom clear height 3.0-3.1 m in GB 50099-2011, as commonly
#: cited, plus ~0.8 m of structure); offices, government and public 4.0 m and hospitals
#: 4.2 m (typical Chinese practice for 3.6-4.5 m office/clinical storeys); industrial 6.0 m
#: (single-storey sheds and multi-storey factories, typical 4.5-8 m); other 3.5 m. OSM's own
#: wiki examples (Key:building:levels, Simple 3D Buildings) use 3 m per level.
STOREY_HEIGHT_M: dict[str, float] = {
    "government": 4.0, "hospital": 4.2, "school": 3.9, "public": 4.0,
    "industrial": 6.0, "commercial": 4.0, "residential": 3.0, "other": 3.5,
}

#: Height given to a building with neither a height nor a storey count [m]: a typical
#: storey count for Tianhe times STOREY_HEIGHT_M. Project assumptions, always flagged with
#: height_source = 'category_default': government 6 x 4.0, hospital 8 x 4.2, school
#: 4 x 3.9, public 5 x 4.0, industrial 2 x 6.0, commercial 8 x 4.0, residential 8 x 3.0
#: (urban-village blocks 6-8 storeys, estates higher), other 3 x 3.5.
DEFAULT_HEIGHT_M: dict[str, float] = {
    "government": 24.0, "hospital": 33.6, "school": 15.6, "public": 20.0,
    "industrial": 12.0, "commercial": 32.0, "residential": 24.0, "other": 10.5,
}

#: Heights above this are taken as errors [m]: China's tallest building, the Shanghai
#: Tower, is 632 m (CTBUH); 700 m leaves a margin.
MAX_HEIGHT_M = 700.0
#: Storey counts above this are taken as errors: the Burj Khalifa, the world's tallest
#: building, has 163 floors (CTBUH).
MAX_FLOORS = 200


@dataclasses.dataclass
class MappingStats:
    """Counts and notes from mapping a source's attributes onto the schema."""

    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    n_category_unmapped: int = 0
    unmapped_values: dict[str, int] = dataclasses.field(default_factory=dict)
    n_category_from_name: int = 0
    n_roof_default: int = 0
    n_roof_unmapped: int = 0
    n_height_invalid: int = 0
    n_floors_invalid: int = 0
    n_height_attribute: int = 0
    n_height_levels: int = 0
    n_height_default: int = 0
    n_year_unparsed: int = 0
    n_pv_invalid: int = 0
    n_id_missing: int = 0
    n_id_duplicate: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- parsing helpers

_NUMBER_RE = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_YEAR_RE = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d|2100)(?!\d)")
_FEET_RE = re.compile(r"(ft|feet|')\s*$", re.IGNORECASE)
# metres per international foot (exact, by definition)
_M_PER_FT = 0.3048


def parse_number(values: pd.Series) -> np.ndarray:
    """Leading number of each value as float (``"40"``, ``"40 m"``, ``"12层"``, ``"3,5"``).

    Values in feet (``"120 ft"``, as OSM allows for ``height``) are converted to metres.
    Anything without a number gives NaN.

    Parameters
    ----------
    values : pandas.Series
        Numbers or text.

    Returns
    -------
    numpy.ndarray
        float64 values (NaN where none could be read).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[i] = float(v)
            continue
        text = str(v).strip()
        m = _NUMBER_RE.search(text)
        if m is None:
            continue
        num = float(m.group(0).replace(",", "."))
        if _FEET_RE.search(text):
            num *= _M_PER_FT
        out[i] = num
    return out


def _per_unique(values: pd.Series, func, missing: Any) -> np.ndarray:
    """``func`` of every value as an object array, called once per distinct value (``missing`` for NA).

    Source tables repeat their labels (categories, roof types, years) over many rows; a city
    of a million buildings has a few hundred distinct values where it has a million rows.
    """
    try:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    except TypeError:  # unhashable values (lists from JSON properties): one call per row
        out = np.empty(len(values), dtype=object)
        out[:] = [missing if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else func(v)
                  for v in list(values)]
        return out
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [func(v) for v in uniques]
    table[-1] = missing
    return table[codes]


def parse_year(values: pd.Series) -> tuple[pd.Series, int]:
    """Year of each value (``2010``, ``"2005-12-26"``, ``"2010年"``, a date) as ``Int64``.

    Returns
    -------
    years : pandas.Series
        ``Int64`` with NA where no year between 1600 and 2100 is found.
    n_unparsed : int
        Non-empty values from which no year could be read.
    """
    def one(v):  # (year or None, unparsed?)
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None, False
        if hasattr(v, "year") and not isinstance(v, str):
            return int(v.year), False
        if isinstance(v, (int, np.integer, float, np.floating)) and not isinstance(v, bool):
            return (int(v), False) if 1600 <= float(v) <= 2100 else (None, True)
        text = str(v).strip()
        if not text:
            return None, False
        m = _YEAR_RE.search(text)
        return (None, True) if m is None else (int(m.group(1)), False)

    parsed = _per_unique(values, one, (None, False))
    years = pd.array([p[0] for p in parsed], dtype="Int64")
    return pd.Series(years, index=values.index), int(sum(p[1] for p in parsed))


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped str, '' for missing; whole floats shown without '.0'."""
    def one(v):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()
    return pd.Series(_per_unique(values, one, ""), index=values.index, dtype="object")


#: Control characters (C0 except tab, line feed and carriage return, and DEL): no name holds them,
#: XML 1.0 forbids them (QML, xlsx, SVG), and they come from damaged or mis-decoded files.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control(values: pd.Series, field: str) -> tuple[pd.Series, np.ndarray]:
    """Text with control characters removed, and per row a flag (``"name: 2 control characters
    removed"``) where any were."""
    text = values.astype(object).tolist()
    counts = np.array([len(_CONTROL_RE.findall(v)) if isinstance(v, str) else 0 for v in text], dtype=int)
    clean = [(_CONTROL_RE.sub("", v) if n else v) for v, n in zip(text, counts)]
    flags = np.array([f"{field}: {n} control characters removed" if n else "" for n in counts], dtype=object)
    return pd.Series(clean, index=values.index, dtype="object"), flags


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", str(label).strip()).casefold()


# --------------------------------------------------------------------------- categories


def normalise_category(values: pd.Series, value_map: Mapping[str, str] | None = None
                       ) -> tuple[pd.Series, dict[str, int]]:
    """Map source category labels to schema categories.

    ``value_map`` entries win over the built-in :data:`CATEGORY_LABELS`. Labels found in
    neither become ``'other'`` and are returned with their counts, so the caller can warn.

    Parameters
    ----------
    values : pandas.Series
        Source labels (any language).
    value_map : mapping, optional
        Source label -> category; every target must be one of :data:`CATEGORIES`.

    Returns
    -------
    categories : pandas.Series
        One of :data:`CATEGORIES` per row.
    unmapped : dict
        Unmapped non-empty label -> number of rows.

    Raises
    ------
    InputError
        When a ``value_map`` target is not a category.
    """
    table = {_norm(k): v for k, v in CATEGORY_LABELS.items()}
    for key, target in (value_map or {}).items():
        if target not in CATEGORIES:
            raise InputError(
                f"value_map: '{key}' -> {target!r} is not a category; use one of {', '.join(CATEGORIES)}"
            )
        table[_norm(key)] = target
    labels = _text(values)
    found = _per_unique(labels, lambda lab: table.get(_norm(lab)) if lab else "other", "other")
    unknown = pd.isna(pd.Series(found, dtype=object)).to_numpy()
    unmapped: Counter = Counter(labels[unknown].tolist())
    cats = np.where(unknown, "other", found)
    return pd.Series(cats, index=values.index, dtype="object"), dict(unmapped.most_common())


def _roof_types(values: pd.Series | None, n: int, index) -> tuple[pd.Series, int, int]:
    """Roof labels -> flat | pitched; missing -> DEFAULT_ROOF_TYPE."""
    if values is None:
        return pd.Series([DEFAULT_ROOF_TYPE] * n, index=index, dtype="object"), n, 0
    table = {_norm(k): v for k, v in ROOF_LABELS.items()}
    labels = _text(values).to_numpy(dtype=object)
    found = _per_unique(pd.Series(labels), lambda lab: table.get(_norm(lab)) if lab else None, None)
    blank = labels == ""
    unknown = pd.isna(pd.Series(found, dtype=object)).to_numpy() & ~blank
    out = np.where(blank | unknown, DEFAULT_ROOF_TYPE, found)
    return pd.Series(out, index=index, dtype="object"), int(blank.sum()), int(unknown.sum())


# --------------------------------------------------------------------------- names, roof shapes, flags

#: Name keywords refining a generic category (Chinese names of Guangzhou institutions).
NAME_HINTS = (
    ("government", ("人民政府", "政府", "政务", "海关", "税务", "公安", "法院", "检察院", "人大",
                    "政协", "区委", "市委", "党委", "机关", "街道办")),
    ("hospital", ("医院", "卫生院", "卫生服务中心", "妇幼保健")),
    ("school", ("小学", "中学", "大学", "学院", "学校", "幼儿园")),
)
#: Markers of a former use in a name (旧址 "former site", 原… "formerly", "former"): such a
#: name says what the building *was*, so it sets no category.
_FORMER_RE = re.compile(r"旧址|^原|[(（\s·]原|\bformer\b|\bold site\b", re.IGNORECASE)


def category_from_name(name: str) -> str:
    """Category suggested by keywords of a name, '' when none (or when the name marks a former use)."""
    name = (name or "").strip()
    if not name or _FORMER_RE.search(name):
        return ""
    for cat, words in NAME_HINTS:
        if any(w in name for w in words):
            return cat
    return ""


def refine_categories_by_name(category: pd.Series, name: pd.Series) -> tuple[pd.Series, int]:
    """Categories 'other' / 'public' refined by :func:`category_from_name` (a tag or field wins otherwise)."""
    cand = category.isin(["other", "public"]).to_numpy()  # only these may change: read only their names
    hint = np.full(len(category), "", dtype=object)
    if cand.any():
        hint[cand] = _per_unique(name[cand], lambda v: category_from_name(str(v)), "")
    change = cand & (hint != "") & (hint != category.to_numpy(dtype=object))
    return category.where(~change, pd.Series(hint, index=category.index)), int(change.sum())


#: ``roof:shape`` values modelled as planes (``pv_survey.roofs.ROOF_SHAPES``), with source
#: labels mapped to them (OSM wiki Key:roof:shape; Chinese roof-form names).
ROOF_SHAPE_LABELS = {
    "flat": "flat", "gabled": "gabled", "hipped": "hipped", "half-hipped": "half-hipped", "half_hipped": "half-hipped",
    "skillion": "skillion", "pyramidal": "pyramidal", "dome": "dome", "cone": "cone", "round": "round",
    "mansard": "mansard", "平顶": "flat", "平屋顶": "flat", "双坡": "gabled", "人字": "gabled", "硬山": "gabled",
    "悬山": "gabled", "四坡": "hipped", "庑殿": "hipped", "歇山": "half-hipped", "单坡": "skillion",
    "攒尖": "pyramidal", "穹顶": "dome", "圆顶": "dome", "锥顶": "cone", "拱顶": "round",
}

_COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")


def roof_shapes(values: pd.Series | None, n: int, index) -> pd.Series:
    """Roof labels -> a modelled shape name, the label itself (lower case) when not modelled, '' when missing."""
    if values is None:
        return pd.Series([""] * n, index=index, dtype="object")
    text = _text(values)
    shape = _per_unique(text, lambda v: ROOF_SHAPE_LABELS.get(v.strip().lower(), ROOF_SHAPE_LABELS.get(v.strip(), v.lower())),
                        "")
    return pd.Series(shape, index=text.index, dtype=object)


def parse_direction_deg(values: pd.Series) -> np.ndarray:
    """``roof:direction`` -> azimuth clockwise from north [deg]; NaN where blank or unreadable.

    Numbers are degrees; compass letters N, NNE, ... NNW are the 16-point rose, 22.5 deg
    apart (OSM wiki Key:direction).
    """
    out = []
    for v in _text(values).tolist():
        s = v.strip().upper()
        if s in _COMPASS:
            out.append(22.5 * _COMPASS.index(s))
            continue
        try:
            out.append(float(s) % 360.0)
        except ValueError:
            out.append(np.nan)
    return np.asarray(out, dtype=float)


def not_number_flags(raw: pd.Series | None, parsed: np.ndarray, field: str) -> np.ndarray:
    """Per row: ``"<field> not a number: '<text>'"`` where a non-blank value holds no number, else ''."""
    if raw is None:
        return np.full(len(parsed), "", dtype=object)
    text = _text(raw).to_numpy(dtype=object)
    bad = np.isnan(np.asarray(parsed, dtype=float)) & (text != "")
    return np.array([f"{field} not a number: {t!r}" if b else "" for t, b in zip(text, bad)], dtype=object)


def join_flags(*flags: np.ndarray) -> np.ndarray:
    """Join per-row flag arrays with '; ' (empty entries skipped)."""
    if not flags:
        return np.empty(0, dtype=object)
    return np.array(["; ".join(f for f in row if f) for row in zip(*flags)], dtype=object)


# --------------------------------------------------------------------------- field detection


def _resolve_fields(columns: list[str], field_map: Mapping[str, str] | None, where: str) -> dict[str, str]:
    """Schema field -> source column, from ``field_map`` first, then FIELD_CANDIDATES."""
    field_map = {k: v for k, v in (field_map or {}).items() if v}
    resolved: dict[str, str] = {}
    for key, src in field_map.items():
        schema_key = "floors" if key in ("levels", "storeys") else key
        if schema_key not in MAPPABLE_FIELDS:
            raise InputError(
                f"{where}: field_map key '{key}' is not a schema field; use one of {', '.join(MAPPABLE_FIELDS)}"
            )
        if src not in columns:
            raise InputError(
                f"{where}: field_map {key} = '{src}' but the source has no field '{src}'; "
                f"its fields are: {', '.join(columns) or '(none)'}"
            )
        resolved[schema_key] = src
    lower = {}
    for c in columns:
        lower.setdefault(str(c).casefold(), c)
    used = set(resolved.values())
    for key, cands in FIELD_CANDIDATES.items():
        if key in resolved:
            continue
        for cand in cands:
            col = lower.get(cand.casefold())
            if col is not None and col not in used:
                resolved[key] = col
                used.add(col)
                break
    return resolved


# --------------------------------------------------------------------------- mapping


def map_attributes(df: pd.DataFrame, *, field_map: Mapping[str, str] | None = None,
                   value_map: Mapping[str, str] | None = None, where: str = "input"
                   ) -> tuple[pd.DataFrame, MappingStats]:
    """Map a source attribute table to the schema's attribute columns (no heights filled yet).

    Parameters
    ----------
    df : pandas.DataFrame
        Source attributes (the geometry column, if any, is ignored).
    field_map : mapping, optional
        Schema field -> source field, e.g. ``{"category": "建筑类型", "floors": "层数"}``.
        Fields not given are looked up among :data:`FIELD_CANDIDATES`.
    value_map : mapping, optional
        Source category value -> category, e.g. ``{"学校": "school"}``.
    where : str
        Name of the source, for messages.

    Returns
    -------
    attrs : pandas.DataFrame
        ``building_id`` (str, '' when missing), ``name``, ``category``, ``height_attr_m``
        (float, NaN when missing), ``floors`` (float), ``roof_type``, ``year_built``
        (Int64), ``existing_pv_kwp`` (float), ``owner``, ``address``; same index as ``df``.
    stats : MappingStats
    """
    cols = [c for c in df.columns if c != getattr(df, "_geometry_column_name", None) and c != "geometry"]
    fields = _resolve_fields(cols, field_map, where)
    stats = MappingStats(fields=dict(fields))
    n, idx = len(df), df.index

    def col(key):
        return df[fields[key]] if key in fields else None

    out = pd.DataFrame(index=idx)
    out["building_id"] = _text(col("building_id")) if "building_id" in fields else pd.Series([""] * n, index=idx,
                                                                                            dtype="object")
    for key in ("name", "owner", "address"):
        out[key] = _text(col(key)) if key in fields else pd.Series([""] * n, index=idx, dtype="object")
    if "category" in fields:
        cats, unmapped = normalise_category(col("category"), value_map)
        stats.unmapped_values = unmapped
        stats.n_category_unmapped = int(sum(unmapped.values()))
        if unmapped:
            shown = ", ".join(f"{k!r} ({v})" for k, v in list(unmapped.items())[:10])
            stats.warnings.append(
                f"{where}: {stats.n_category_unmapped} buildings have a {fields['category']} value with no "
                f"category and count as 'other': {shown}; map them with value_map (e.g. '学校' = 'school')"
            )
    else:
        cats = pd.Series(["other"] * n, index=idx, dtype="object")
        if n:
            stats.warnings.append(
                f"{where}: no category field found (looked for {', '.join(FIELD_CANDIDATES['category'][:6])}, ...); "
                "every building counts as 'other'; name the field with field_map category = '<field>'"
            )
    out["category"] = cats
    out["height_attr_m"] = parse_number(col("height_m")) if "height_m" in fields else np.full(n, np.nan)
    out["floors"] = parse_number(col("floors")) if "floors" in fields else np.full(n, np.nan)
    for key, parsed, then in (("height_m", out["height_attr_m"].to_numpy(), "the height comes from the storey "
                               "count or the category default"), ("floors", out["floors"].to_numpy(), "ignored")):
        if key in fields:
            _warn_not_numbers(col(key), parsed, fields[key], then, stats, where)
    roof, stats.n_roof_default, stats.n_roof_unmapped = _roof_types(col("roof_type"), n, idx)
    out["roof_type"] = roof
    if stats.n_roof_unmapped:
        stats.warnings.append(
            f"{where}: {stats.n_roof_unmapped} roof types not recognised in field {fields['roof_type']}; "
            f"taken as '{DEFAULT_ROOF_TYPE}' (recognised: flat, pitched, 平顶, 坡顶, OSM roof:shape values)"
        )
    if "year_built" in fields:
        out["year_built"], stats.n_year_unparsed = parse_year(col("year_built"))
        if stats.n_year_unparsed:
            stats.warnings.append(
                f"{where}: {stats.n_year_unparsed} values of {fields['year_built']} hold no year (1600-2100); left empty"
            )
    else:
        out["year_built"] = pd.Series(pd.array([pd.NA] * n, dtype="Int64"), index=idx)
    pv = parse_number(col("existing_pv_kwp")) if "existing_pv_kwp" in fields else np.zeros(n)
    if "existing_pv_kwp" in fields:
        _warn_not_numbers(col("existing_pv_kwp"), pv, fields["existing_pv_kwp"], "taken as 0 kWp", stats, where)
    bad_pv = ~np.isfinite(pv) & ~np.isnan(pv) | (pv < 0)
    stats.n_pv_invalid = int(bad_pv.sum())
    if stats.n_pv_invalid:
        stats.warnings.append(
            f"{where}: {stats.n_pv_invalid} negative or infinite values of {fields['existing_pv_kwp']}; taken as 0 kWp"
        )
    out["existing_pv_kwp"] = np.where(np.isfinite(pv) & (pv > 0), pv, 0.0)
    out["category"], stats.n_category_from_name = refine_categories_by_name(out["category"], out["name"])
    if stats.n_category_from_name:
        stats.warnings.append(f"{where}: {stats.n_category_from_name} categories refined from keywords of the "
                              "name (政府/政务/海关, 医院, 学校/小学/中学...; names marking a former use excepted)")
    out["roof_shape"] = roof_shapes(col("roof_type"), n, idx)
    for key, dest in (("roof_angle", "roof_angle_deg"), ("roof_height", "roof_height_m")):
        out[dest] = parse_number(col(key)) if key in fields else np.full(n, np.nan)
    out["roof_direction_deg"] = parse_direction_deg(col("roof_direction")) if "roof_direction" in fields \
        else np.full(n, np.nan)
    out["roof_orientation"] = ""
    out["heritage"] = _text(col("heritage")).map(lambda v: "" if v.lower() in ("", "no", "0", "否", "无") else v) \
        if "heritage" in fields else pd.Series([""] * n, index=idx, dtype="object")
    out["part_of"] = _text(col("part_of")) if "part_of" in fields else pd.Series([""] * n, index=idx, dtype="object")
    flags = [not_number_flags(col(k), out[d].to_numpy(float) if d != "year_built" else
                              out[d].astype("Float64").to_numpy(dtype=float, na_value=np.nan), k)
             for k, d in (("height_m", "height_attr_m"), ("floors", "floors"), ("year_built", "year_built"),
                          ("existing_pv_kwp", None), ("roof_angle", "roof_angle_deg"),
                          ("roof_height", "roof_height_m"))
             if k in fields and d is not None]
    if "existing_pv_kwp" in fields:
        flags.append(not_number_flags(col("existing_pv_kwp"), pv, "existing_pv_kwp"))
        flags.append(np.array([f"existing_pv_kwp {v:g} negative or infinite; taken as 0" if b else ""
                               for v, b in zip(pv, bad_pv)], dtype=object))
    n_ctl = 0
    for key in ("building_id", "name", "owner", "address"):
        out[key], ctl = strip_control(out[key], key)
        flags.append(ctl)
        n_ctl += int((ctl != "").sum())
    if n_ctl:
        stats.warnings.append(f"{where}: {n_ctl} text values held control characters (a damaged or mis-decoded "
                              "file); removed (attribute_flags says where)")
    out["attribute_flags"] = join_flags(*flags) if flags else np.full(n, "", dtype=object)
    return out, stats


def _warn_not_numbers(raw: pd.Series, parsed: np.ndarray, field: str, then: str, stats: MappingStats,
                      where: str) -> None:
    """Count non-blank values of a numeric field that hold no number, and say what was done."""
    text = _text(raw).to_numpy(dtype=object)
    bad = np.isnan(parsed) & (text != "")
    if bad.any():
        shown = ", ".join(repr(v) for v in dict.fromkeys(text[bad].tolist()).keys() if v)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        stats.warnings.append(f"{where}: {int(bad.sum())} values of {field} are not numbers ({shown}); {then}")


def fill_heights(attrs: pd.DataFrame, stats: MappingStats | None = None, *,
                 storey_height_m: Mapping[str, float] | None = None,
                 default_height_m: Mapping[str, float] | None = None,
                 where: str = "input") -> pd.DataFrame:
    """Add ``height_m`` and ``height_source`` from ``height_attr_m``, ``floors`` and ``category``.

    Parameters
    ----------
    attrs : pandas.DataFrame
        Output of :func:`map_attributes` (or the OSM mapping).
    stats : MappingStats, optional
        Updated in place with the counts of each source and of invalid values.
    storey_height_m, default_height_m : mapping, optional
        Per-category overrides of :data:`STOREY_HEIGHT_M` and :data:`DEFAULT_HEIGHT_M`. [m]

    Returns
    -------
    pandas.DataFrame
        ``attrs`` with ``height_m`` [m] and ``height_source`` added.
    """
    stats = stats if stats is not None else MappingStats()
    storey = {**STOREY_HEIGHT_M, **(storey_height_m or {})}
    default = {**DEFAULT_HEIGHT_M, **(default_height_m or {})}
    h = attrs["height_attr_m"].to_numpy(dtype="float64")
    fl = attrs["floors"].to_numpy(dtype="float64")
    cat = attrs["category"].to_numpy(dtype=object)
    h_bad = ~np.isnan(h) & ~((h > 0) & (h <= MAX_HEIGHT_M))
    fl_bad = ~np.isnan(fl) & ~((fl > 0) & (fl <= MAX_FLOORS))
    h_ok = ~np.isnan(h) & ~h_bad
    fl_ok = ~np.isnan(fl) & ~fl_bad
    storey_m = np.array([storey.get(c, storey["other"]) for c in cat], dtype="float64")
    default_m = np.array([default.get(c, default["other"]) for c in cat], dtype="float64")
    from_levels = np.where(fl_ok, fl, 0.0) * storey_m  # absurd counts (1e308) would overflow
    lev_ok = fl_ok & (from_levels <= MAX_HEIGHT_M)
    height = np.where(h_ok, h, np.where(lev_ok, from_levels, default_m))
    source = np.where(h_ok, "attribute", np.where(lev_ok, "levels", "category_default"))
    stats.n_height_invalid = int(h_bad.sum())
    stats.n_floors_invalid = int(fl_bad.sum())
    stats.n_height_attribute = int(h_ok.sum())
    stats.n_height_levels = int((~h_ok & lev_ok).sum())
    stats.n_height_default = int((~h_ok & ~lev_ok).sum())
    if stats.n_height_invalid:
        stats.warnings.append(
            f"{where}: {stats.n_height_invalid} heights are zero, negative or above {MAX_HEIGHT_M:.0f} m; "
            "replaced from the storey count or the category default (height_source says which)"
        )
    if stats.n_floors_invalid:
        stats.warnings.append(
            f"{where}: {stats.n_floors_invalid} storey counts are zero, negative or above {MAX_FLOORS}; ignored"
        )
    if stats.n_height_default:
        stats.warnings.append(
            f"{where}: {stats.n_height_default} buildings have no usable height or storey count; given their "
            "category's default height (height_source = 'category_default')"
        )
    out = attrs.copy()
    out["height_m"] = height
    out["height_source"] = pd.Series(source, index=attrs.index, dtype="object")
    range_flags = [
        np.array([f"height {v:g} m outside (0, {MAX_HEIGHT_M:g}] m" if b else "" for v, b in zip(h, h_bad)],
                 dtype=object),
        np.array([f"storeys {v:g} outside (0, {MAX_FLOORS}]" if b else "" for v, b in zip(fl, fl_bad)], dtype=object),
    ]
    old_flags = out["attribute_flags"].to_numpy(dtype=object) if "attribute_flags" in out \
        else np.full(len(out), "", dtype=object)
    out["attribute_flags"] = join_flags(old_flags, *range_flags) if len(out) else old_flags
    return out


def id_flags(original: pd.Series, unique: pd.Series) -> np.ndarray:
    """Per row: why :func:`unique_ids` changed the id (``"no building_id; given 'row-5'"``,
    ``"building_id 'B01' repeated; renamed 'B01_2'"``), '' where it was kept."""
    o = [str(v) for v in original.tolist()]
    u = [str(v) for v in unique.tolist()]
    return np.array([f"no building_id; given {b!r}" if not a else
                     (f"building_id {a!r} repeated; renamed {b!r}" if a != b else "") for a, b in zip(o, u)],
                    dtype=object)


class IdAssigner:
    """The rule of :func:`unique_ids`, carried over consecutive windows of one source.

    ``taken`` must hold every non-empty id of the whole source (a first pass over the id
    column), so a generated ``row-<n>`` never repeats an id that comes later in the file;
    windows are then given in order (:meth:`assign`). State: the ids given so far (one
    string per building), not the features.
    """

    def __init__(self, taken) -> None:
        self.taken = set(taken)
        self.seen: set[str] = set()

    def assign(self, vals: list[str], row0: int = 0) -> tuple[list[str], int, int]:
        """Unique ids of one window whose first row is row ``row0`` (0-based) of the source:
        ``(ids, n_missing, n_duplicate)``."""
        taken, seen = self.taken, self.seen
        out = []
        n_missing = n_dup = 0
        for row, v in enumerate(vals, start=row0):
            if not v:
                n_missing += 1
                cand = f"row-{row + 1}"
                k = 2
                while cand in taken:
                    cand = f"row-{row + 1}_{k}"
                    k += 1
            elif v in seen:
                n_dup += 1
                k = 2
                cand = f"{v}_{k}"
                while cand in taken:
                    k += 1
                    cand = f"{v}_{k}"
            else:
                cand = v
            taken.add(cand)
            seen.add(cand)
            out.append(cand)
        return out, n_missing, n_dup


def unique_ids(ids: pd.Series, stats: MappingStats | None = None, *, where: str = "input",
               assigner: IdAssigner | None = None, row0: int = 0) -> pd.Series:
    """Make building ids non-empty and unique.

    Missing ids become ``row-<n>`` (1-based row of the source); repeated ids keep the first
    occurrence and get ``_2``, ``_3``... appended to the later ones. Both are counted.

    Parameters
    ----------
    ids : pandas.Series
        Ids as str ('' when missing).
    stats : MappingStats, optional
        Updated with the counts of missing and repeated ids.
    where : str
        Name of the source, for messages.
    assigner : IdAssigner, optional
        State carried over the windows of a source read in windows (``ids`` is then one
        window, starting at row ``row0`` of the source); default: ``ids`` is the whole source.

    Returns
    -------
    pandas.Series
        Unique non-empty str ids, same index.
    """
    stats = stats if stats is not None else MappingStats()
    vals = [str(v) for v in ids.tolist()]
    assigner = assigner if assigner is not None else IdAssigner(v for v in vals if v)
    out, n_missing, n_dup = assigner.assign(vals, row0)
    stats.n_id_missing, stats.n_id_duplicate = n_missing, n_dup
    if n_missing:
        stats.warnings.append(f"{where}: {n_missing} buildings have no id; given 'row-<n>' (row number in the source)")
    if n_dup:
        stats.warnings.append(
            f"{where}: {n_dup} building ids are repeated; later copies renamed '<id>_2', '<id>_3', ..."
        )
    return pd.Series(out, index=ids.index, dtype="object")


def source_ids(values: pd.Series) -> list[str]:
    """Building ids as :func:`map_attributes` reads them from a source's id field (text,
    control characters removed, '' when missing): the first pass of a read in windows."""
    return [str(v) for v in strip_control(_text(values), "building_id")[0].tolist()]


def resolve_fields(columns: list[str], field_map: Mapping[str, str] | None, where: str) -> dict[str, str]:
    """Schema field -> source field, as :func:`map_attributes` resolves them (``field_map`` first,
    then :data:`FIELD_CANDIDATES`); :class:`InputError` for a bad ``field_map``."""
    return _resolve_fields(list(columns), field_map, where)


#: Text columns of the buildings table that hold few distinct values (labels, flags, reasons of a
#: kind): stored as pandas categoricals once the inputs are read (one byte a row instead of a
#: Python string: about 400 MB less for a million buildings).
CATEGORICAL_COLUMNS = ("category", "height_source", "roof_type", "roof_shape", "roof_orientation", "heritage",
                       "attribute_flags")


#: Free-text columns held as pandas' Arrow-backed text (one buffer of UTF-8 for a city's names and
#: addresses instead of a Python object per value, 125-152 bytes a value on the 100,000-building city
#: of bench/bench_scale.py; its 1,000,000-building city held 1,871 -> 1,510 MB resident after reading).
TEXT_COLUMNS = ("name", "owner", "address")


def compact_columns(frame: pd.DataFrame, columns=CATEGORICAL_COLUMNS) -> pd.DataFrame:
    """``frame`` with the listed text columns as categoricals (values unchanged; a copy)."""
    out = frame.copy()
    for col in columns:
        if col in out and (out[col].dtype == object or str(out[col].dtype) in ("str", "string")):
            out[col] = out[col].astype("category")
    return out


def arrow_text(frame: pd.DataFrame, columns=TEXT_COLUMNS) -> pd.DataFrame:
    """``frame`` with its free-text columns as pandas' Arrow-backed text (``str``; missing values NaN).

    Applied to each window as it is read, before a city's worth of values exists as Python
    objects (converting afterwards leaves the freed objects' memory scattered and held).
    """
    todo = [c for c in columns if c in frame and frame[c].dtype == object
            and pd.api.types.infer_dtype(frame[c], skipna=True) in ("string", "empty")]
    if not todo:
        return frame
    out = frame.copy(deep=False)
    for col in todo:
        out[col] = out[col].astype("str")
    return out
