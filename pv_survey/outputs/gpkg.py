"""The GeoPackage: result layers with stable feature ids and embedded QGIS styles.

Layers are written with pyogrio (GDAL) as GeoPackage **1.2** — the version Debian 12's
GDAL 3.6 / QGIS 3.22 LTR read without a warning (GDAL >= 3.8 writes 1.4 by default,
which GDAL 3.6 reports as unsupported: GDAL GPKG driver documentation, ``VERSION``
creation option). The QGIS ``layer_styles`` table is then added with :mod:`sqlite3`
and registered in ``gpkg_contents`` as an attribute table, so GDAL lists it and QGIS's
OGR provider finds each layer's default style.

Feature ids are stable: ``buildings`` and ``roofs`` are numbered in sorted id order,
``plan`` by rank, tables in row order; the same input gives the same fids.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyogrio

from ..errors import OutputError
from ..keys import first_positions, text_order
from .spool import SpooledLayer
from .styles import qml_for_layer

__all__ = [
    "GPKG_VERSION",
    "GEOMETRY_COLUMN",
    "BUILDINGS_COLUMNS",
    "ROOFS_COLUMNS",
    "PLAN_COLUMNS",
    "buildings_layer",
    "roofs_layer",
    "plan_layer",
    "table_layer",
    "result_layers",
    "layer_builders",
    "write_gpkg",
    "write_layer_styles",
    "arrow_writes",
    "gpkg_timestamp",
]

#: GeoPackage version written; 1.2 is read by GDAL 3.6 / QGIS 3.22 without warnings.
GPKG_VERSION = "1.2"
#: Geometry column name (GDAL's default for GeoPackage, used in ``layer_styles``).
GEOMETRY_COLUMN = "geom"

#: Column order of the ``buildings`` layer (docs/ARCHITECTURE.md data model); other columns follow.
BUILDINGS_COLUMNS = (
    "building_id", "name", "category", "height_m", "height_source", "roof_type", "year_built",
    "existing_pv_kwp", "owner", "address", "excluded_reason", "phase", "capacity_kwp", "annual_kwh",
)
#: Column order of the ``roofs`` layer.
ROOFS_COLUMNS = (
    "roof_id", "building_id", "roof_type", "tilt_deg", "azimuth_deg", "area_m2", "usable_area_m2", "mount",
    "module_tilt_deg", "module_azimuth_deg", "gcr", "module_area_m2", "capacity_kwp", "sky_view_frac",
    "horizon_deg", "annual_kwh", "specific_yield_kwh_kwp", "poa_kwh_m2", "shading_loss_frac",
    "performance_ratio", *[f"kwh_{m:02d}" for m in range(1, 13)], "excluded_reason",
)
#: Column order of the ``plan`` layer.
PLAN_COLUMNS = (
    "rank", "building_id", "name", "category", "priority_class", "owner", "address", "year_built",
    "existing_pv_kwp", "capacity_kwp", "annual_kwh", "specific_yield_kwh_kwp", "cumulative_kwp", "phase",
    "pinned", "capex_cny", "lcoe_cny_per_kwh", "simple_payback_yr", "npv_cny", "co2_avoided_t_per_yr",
)

_LAYER_STYLES_DDL = """
CREATE TABLE layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


# --------------------------------------------------------------------------- layer frames


def _ordered(frame: pd.DataFrame, first: tuple[str, ...], geometry: str | None) -> list[str]:
    cols = [c for c in first if c in frame.columns]
    cols += [c for c in frame.columns if c not in cols and c != geometry and c != "fid"]
    return cols


def _scalar_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns GDAL can store: categoricals -> text, lists / dicts -> JSON text, extra geometries dropped.

    A shallow copy: the columns that need no change are shared with ``frame``, not copied (a city's
    layers are hundreds of MB), and the changed ones are new columns of the copy only.
    """
    out = frame.copy(deep=False)
    active = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in list(out.columns):
        if col == active:
            continue
        s = out[col]
        if isinstance(s.dtype, gpd.array.GeometryDtype):
            out = out.drop(columns=col)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object).where(s.notna(), None)
        elif s.dtype == object and s.map(lambda v: isinstance(v, (list, tuple, dict, set))).any():
            out[col] = s.map(lambda v: json.dumps(sorted(v) if isinstance(v, set) else v, ensure_ascii=False)
                             if isinstance(v, (list, tuple, dict, set)) else v)
    return out


def _in_order(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``frame``'s rows in ``order`` (positions); ``frame`` itself when it is already in that order (a
    city's buildings and roofs usually are: no copy of a table of hundreds of MB)."""
    return frame if np.array_equal(order, np.arange(len(frame))) else frame.iloc[order]


def _with_fid(frame: pd.DataFrame, fid: np.ndarray, columns: list[str], geometry: str | None,
              crs) -> pd.DataFrame:
    """The layer: ``fid`` and ``columns`` of ``frame`` (shared, not copied: a layer is only read; its
    numeric columns are pandas' read-only views, so a write in place would raise, not change ``frame``),
    the geometry in ``crs``."""
    data = {"fid": np.asarray(fid, dtype=np.int64)}
    for c in columns:
        data[c] = frame[c].to_numpy() if not isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype) \
            else frame[c].array
    out = pd.DataFrame(data, copy=False)
    if geometry is None:
        return out
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(frame[geometry].to_numpy(), crs=frame.crs).values,
                           crs=frame.crs, copy=False)
    if gdf.crs is None:
        gdf = gdf.set_crs(crs)
    elif crs is not None and not gdf.crs.equals(crs):
        gdf = gdf.to_crs(crs)
    return gdf


def _need(frame: pd.DataFrame, cols: tuple[str, ...], layer: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise OutputError(f"layer '{layer}': input frame lacks column(s) {', '.join(missing)}; "
                          f"pass the frame produced by the pipeline")


class OrderedLayer:
    """A layer's frame with its rows as they are held and the order they are written in
    (``frame.iloc[order]`` is the layer, :meth:`in_order`).

    The GeoPackage writer process takes such a layer chunk by chunk in that order
    (:meth:`pv_survey.outputs.gpkg_process.GpkgProcess.write`), so a city's buildings or roofs not
    held in id order are not copied whole into that order first (1,000,000 buildings: ~0.5 GB).
    """

    def __init__(self, frame: pd.DataFrame, order: np.ndarray) -> None:
        self.frame = frame
        self.order = np.asarray(order, dtype=np.int64)

    def in_order(self) -> pd.DataFrame:
        """The layer's frame with its rows in order (a new RangeIndex)."""
        out = _in_order(self.frame, self.order)
        return out if out is self.frame else out.reset_index(drop=True)


def _id_ordered_layer(frame: pd.DataFrame, id_col: str, first: tuple[str, ...], crs, lazy: bool):
    """``frame`` as a layer with fid = position in ``id_col`` order (1-based): the rows in that order,
    or with ``lazy`` an :class:`OrderedLayer` of the rows as held."""
    f = _scalar_columns(frame)
    order = text_order(f[id_col])
    fid = np.empty(len(f), dtype=np.int64)
    fid[order] = np.arange(1, len(f) + 1)
    geom = f.geometry.name
    layer = OrderedLayer(_with_fid(f, fid, _ordered(f, first, geom), geom, crs), order)
    return layer if lazy else layer.in_order()


def buildings_layer(buildings: gpd.GeoDataFrame, *, crs=None, lazy: bool = False):
    """Every input building, fid = position in ``building_id`` order (1-based).

    ``lazy``: an :class:`OrderedLayer` (the rows as held and their order) instead of the frame.
    """
    _need(buildings, ("building_id",), "buildings")
    return _id_ordered_layer(buildings, "building_id", BUILDINGS_COLUMNS, crs, lazy)


def roofs_layer(roofs: gpd.GeoDataFrame, *, crs=None, lazy: bool = False):
    """Every roof plane, kept or excluded, fid = position in ``roof_id`` order (1-based).

    ``lazy``: as :func:`buildings_layer`.
    """
    _need(roofs, ("roof_id", "building_id"), "roofs")
    return _id_ordered_layer(roofs, "roof_id", ROOFS_COLUMNS, crs, lazy)


def plan_layer(plan: pd.DataFrame, buildings: gpd.GeoDataFrame, *, crs=None) -> gpd.GeoDataFrame:
    """The ranked plan with each site's footprint; fid = rank when ranks are 1..n, else row order by rank."""
    _need(plan, ("rank", "building_id"), "plan")
    p = _scalar_columns(pd.DataFrame(plan).reset_index(drop=True))
    by_id = text_order(p["building_id"])  # rank, then building id (as numpy.lexsort of the two)
    p = _in_order(p, by_id[np.argsort(p["rank"].to_numpy(float)[by_id], kind="stable")])
    # each site's footprint (a building id's first row), without a copy of the buildings table
    at = first_positions(buildings["building_id"], p["building_id"])
    geom = gpd.GeoSeries(np.where(at >= 0, buildings.geometry.to_numpy()[np.maximum(at, 0)], None)
                         if len(buildings) else np.full(len(at), None), crs=buildings.crs)
    p = gpd.GeoDataFrame(p.reset_index(drop=True), geometry=geom.values, crs=buildings.crs, copy=False)
    ranks = p["rank"].to_numpy()
    n = len(p)
    ok = n > 0 and np.all(np.isfinite(ranks.astype(float))) and \
        np.array_equal(np.sort(ranks.astype(np.int64)), np.arange(1, n + 1)) and \
        np.allclose(ranks.astype(float), ranks.astype(np.int64))
    fid = ranks.astype(np.int64) if ok else np.arange(1, n + 1)
    return _with_fid(p, fid, _ordered(p, PLAN_COLUMNS, "geometry"), "geometry", crs)


def table_layer(table: pd.DataFrame) -> pd.DataFrame:
    """A table (or extra feature layer), fid = row number (1-based); a named index is kept as a column."""
    is_geo = isinstance(table, gpd.GeoDataFrame)
    t = table.copy() if is_geo else pd.DataFrame(table).copy()
    if not isinstance(t.index, pd.RangeIndex) or t.index.name is not None:
        t = t.reset_index()
    t = _scalar_columns(t.reset_index(drop=True))
    geom = t.geometry.name if is_geo else None
    return _with_fid(t, np.arange(1, len(t) + 1), _ordered(t, (), geom), geom, t.crs if is_geo else None)


def layer_builders(*, buildings: gpd.GeoDataFrame, roofs: gpd.GeoDataFrame, plan: pd.DataFrame,
                   targets: pd.DataFrame, coverage: pd.DataFrame | None = None,
                   category_shares: pd.DataFrame | None = None,
                   extra_layers: Mapping[str, pd.DataFrame] | None = None, crs=None,
                   plan_frame: pd.DataFrame | None = None,
                   lazy_order: bool = False) -> dict[str, Callable[[], pd.DataFrame]]:
    """Every output layer as a function that builds its frame, in layer order.

    :func:`write_gpkg` builds, writes and drops one layer at a time, so a city's outputs never
    hold a copy of every layer at once. ``plan_frame`` is the plan layer when already built.
    ``lazy_order``: the buildings and roofs layers as :class:`OrderedLayer` (for the GeoPackage
    writer process, which takes them chunk by chunk in order).
    """
    builders: dict[str, Callable[[], pd.DataFrame]] = {
        "buildings": lambda: buildings_layer(buildings, crs=crs, lazy=lazy_order),
        "roofs": lambda: roofs_layer(roofs, crs=crs, lazy=lazy_order),
        "plan": (lambda: plan_frame) if plan_frame is not None else (lambda: plan_layer(plan, buildings, crs=crs)),
        "targets": lambda: table_layer(targets),
    }
    if coverage is not None:
        builders["coverage"] = lambda: table_layer(coverage)
    if category_shares is not None:
        builders["category_shares"] = lambda: table_layer(category_shares)
    for name, frame in (extra_layers or {}).items():
        if name in builders or name == "layer_styles":
            raise OutputError(f"extra layer '{name}': name already used by pv-survey; rename the layer")
        if isinstance(frame, SpooledLayer):  # written part by part (write_gpkg), never held whole
            builders[name] = (lambda f=frame: f)
        elif isinstance(frame, gpd.GeoDataFrame):
            builders[name] = (lambda f=frame: table_layer(f if crs is None or f.crs is None else f.to_crs(crs)))
        else:
            builders[name] = (lambda f=frame: table_layer(f))
    return builders


def result_layers(**kwargs) -> dict[str, pd.DataFrame]:
    """The frames of every output layer, in layer order, each with a stable ``fid`` column.

    Arguments as :func:`layer_builders`. Feeds :func:`pv_survey.outputs.postgis.write_postgis`
    (and :func:`write_gpkg`, which also takes the builders themselves). A spooled layer
    (:class:`~pv_survey.outputs.spool.SpooledLayer`) is read whole here.
    """
    out = {}
    for name, build in layer_builders(**kwargs).items():
        layer = build()
        out[name] = table_layer(_to_crs(layer.read(), kwargs.get("crs"))) if isinstance(layer, SpooledLayer) \
            else layer
    return out


def _to_crs(frame: pd.DataFrame, crs) -> pd.DataFrame:
    if isinstance(frame, gpd.GeoDataFrame) and crs is not None and frame.crs is not None:
        return frame.to_crs(crs)
    return frame


# --------------------------------------------------------------------------- writing


def gpkg_timestamp(when: datetime | str | None = None) -> str:
    """GeoPackage timestamp ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC) of ``when`` (default now)."""
    if when is None:
        dt = datetime.now(timezone.utc)
    elif isinstance(when, str):
        try:
            dt = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise OutputError(f"timestamp {when!r}: not an ISO 8601 date-time; pass e.g. 2025-01-31T08:00:00Z") \
                from None
    else:
        dt = when
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@contextmanager
def _gdal_config(**options: str) -> Iterator[None]:
    old = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


def write_gpkg(path: str | Path, layers: Mapping[str, pd.DataFrame], *, crs=None,
               timestamp: str | None = None, styles: bool = True,
               arrow: bool | None = None) -> Path:
    """Write ``layers`` (name -> frame with a ``fid`` column) to a new GeoPackage 1.2 at ``path``.

    Parameters
    ----------
    path : path
        File to create (``.gpkg``); it must not exist (write to a temporary name and
        rename, see :mod:`pv_survey.outputs.atomic`).
    layers : mapping
        Layer name -> GeoDataFrame (a feature layer, polygons promoted to multipolygons)
        or DataFrame (an attribute table), or a function building one (:func:`layer_builders`:
        each layer is then built, written and dropped in turn). ``fid`` becomes the feature id.
        A :class:`~pv_survey.outputs.spool.SpooledLayer` is written part by part (fid = row
        number over the parts).
    crs : CRS-like, optional
        CRS of frames that carry none.
    timestamp : str, optional
        GeoPackage timestamp for ``last_change`` and ``update_time``; default now.
        The same layers and timestamp give the same file, byte for byte.
    styles : bool
        Add the QGIS ``layer_styles`` table with each layer's default style.
    arrow : bool, optional
        Hand GDAL each layer as Arrow tables (:func:`arrow_writes`; a layer with columns of other
        types than numbers, booleans, text and geometry still goes feature by feature). Default:
        when the GDAL build supports it. The file is the same either way.

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.exists():
        raise OutputError(f"{p}: exists; write_gpkg creates a new file (write to a temporary name, then rename)")
    if not layers:
        raise OutputError(f"{p}: no layers to write")
    stamp = timestamp or gpkg_timestamp()
    rows = []
    # no fsync at each of GDAL's commits: the file is new, at a temporary name, and flushed to disk
    # once before it is renamed into place (pv_survey.outputs.atomic); its content is the same
    with _gdal_config(OGR_CURRENT_DATE=stamp, OGR_SQLITE_SYNCHRONOUS="OFF"):
        for i, (name, layer) in enumerate(layers.items()):
            frame = layer() if callable(layer) else layer  # built now, dropped after writing
            yields = None
            qml = None
            if isinstance(frame, SpooledLayer):
                spooled = frame
                frame = _write_spooled(p, name, spooled, crs=crs, create=(i == 0), arrow=arrow)
                if styles and "specific_yield_kwh_kwp" in frame:  # the style's classes from every row
                    yields = spooled.column("specific_yield_kwh_kwp")
            elif isinstance(frame, FrameChunks):
                chunks, qml, frame = frame, frame.qml, None
                # no enumerate(): its result tuple keeps the last chunk alive while the next is read
                for chunk in chunks.chunks():
                    first = frame is None
                    _write_layer(p, name, chunk, crs=crs, create=(i == 0 and first), append=not first,
                                 arrow=chunks.arrow)
                    # the layer's columns for its style; a copy, as an empty view would keep the chunk alive
                    frame = chunk.iloc[:0].copy() if first else frame
                    del chunk  # freed before the next chunk is read
            else:
                _write_layer(p, name, frame, crs=crs, create=(i == 0), arrow=arrow)
            if styles:
                geom_col = GEOMETRY_COLUMN if isinstance(frame, gpd.GeoDataFrame) else ""
                rows.append((name, geom_col, qml if qml is not None else qml_for_layer(name, frame, yields=yields),
                             f"pv-survey default style of '{name}'"))
            del frame
    if styles:
        write_layer_styles(p, rows, timestamp=stamp)
    return p


#: Features written per call to GDAL: bounds the memory of the conversion to GDAL's types, whatever
#: the number of buildings (project choice: 100,000 features, ~30 MB of geometry. The GeoPackage
#: writer process holds one chunk of a layer at a time; writing the buildings and roofs layers of the
#: 1,000,000-building bench city its peak was 961 / 651 / 478 MB with chunks of 200,000 / 100,000 /
#: 50,000 rows, in 22.8 / 24.4 / 26.1 s: a GDAL write per chunk costs ~0.1 s).
WRITE_CHUNK_FEATURES = 100_000


class FrameChunks:
    """A layer frame handed over in row chunks (e.g. to the writer process), written as the frame is.

    :func:`write_gpkg` writes the chunks with the same GDAL calls as the whole frame (the first
    creates the layer, the others append), so the file is the same, byte for byte, when the frame
    qualifies (:func:`chunkable`) and the chunks are its :data:`WRITE_CHUNK_FEATURES`-row slices;
    only one chunk is in memory at a time.

    Parameters
    ----------
    chunks : callable
        Returns an iterator of the chunk frames, in row order.
    qml : str
        The layer's QGIS style, made from the whole frame (:func:`qml_for_layer`).
    arrow : bool
        Whether the whole frame is written through Arrow (:func:`arrow_writes` and every column of
        a type Arrow writes alike); every chunk then is.
    """

    def __init__(self, chunks: Callable[[], Iterator[pd.DataFrame]], *, qml: str, arrow: bool) -> None:
        self.chunks = chunks
        self.qml = qml
        self.arrow = arrow


def chunkable(frame: pd.DataFrame, rows: np.ndarray | None = None) -> bool:
    """Whether :func:`write_gpkg` writes ``frame`` in :data:`WRITE_CHUNK_FEATURES`-row writes whose
    GDAL calls depend only on each chunk: fids 1..n in row order, and no geometry or only polygons and
    multi-polygons (the layer's geometry type is then MultiPolygon whatever the chunk holds).

    ``rows``: the order the rows are written in (an :class:`OrderedLayer`'s), default as held.
    """
    if "fid" not in frame.columns or len(frame) <= WRITE_CHUNK_FEATURES:
        return False
    fid = frame["fid"].to_numpy()
    if not np.array_equal(fid if rows is None else fid[rows], np.arange(1, len(fid) + 1)):
        return False
    return not isinstance(frame, gpd.GeoDataFrame) or _polygonal(frame)


def _polygonal(frame: gpd.GeoDataFrame) -> bool:
    """Only polygons and multi-polygons (or no geometries): written as a MultiPolygon layer."""
    return set(frame.geometry.geom_type.dropna().unique()) <= {"Polygon", "MultiPolygon"}


def arrow_whole(frame: pd.DataFrame, arrow: bool | None = None) -> bool:
    """Whether :func:`_write_layer` hands ``frame`` to GDAL as Arrow tables."""
    return bool((arrow_writes() if arrow is None else arrow) and len(frame) and _arrow_safe(frame))


def arrow_writes() -> bool:
    """Whether pyogrio can hand GDAL whole Arrow tables (GDAL >= 3.8, ``OGR_L_WriteArrowBatch``).

    Writing a layer through Arrow gives the same GeoPackage, byte for byte, as writing it
    feature by feature, in about two thirds of the time (no per-feature conversion in Python;
    pyogrio still holds Python's GIL while GDAL writes).
    """
    return tuple(pyogrio.__gdal_version__[:2]) >= ARROW_WRITE_MIN_GDAL


#: GDAL version from which pyogrio writes through Arrow (pyogrio ``write_dataframe(use_arrow=True)``
#: documentation: requires GDAL >= 3.8).
ARROW_WRITE_MIN_GDAL = (3, 8)


#: pandas' nullable number and boolean types (written as numbers with NULLs both ways).
_MASKED_DTYPES = (pd.BooleanDtype, pd.Int8Dtype, pd.Int16Dtype, pd.Int32Dtype, pd.Int64Dtype, pd.UInt8Dtype,
                  pd.UInt16Dtype, pd.UInt32Dtype, pd.UInt64Dtype, pd.Float32Dtype, pd.Float64Dtype)


def _arrow_safe(frame: pd.DataFrame) -> bool:
    """Every column of a type that Arrow and the feature-by-feature path write alike.

    Numbers, booleans (plain or nullable), pandas strings, text (or nothing) in object columns and the
    geometry; anything else (dates, mixed objects) goes feature by feature, as before.
    """
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, (gpd.array.GeometryDtype, pd.StringDtype)):
            continue
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            if isinstance(dtype, _MASKED_DTYPES):
                continue
            return False
        if dtype.kind in "biuf":
            continue
        if dtype == object and pd.api.types.infer_dtype(frame[col], skipna=True) in ("string", "empty"):
            continue
        return False
    return True


#: WKB header (byte order, type) of a Polygon, little- and big-endian, and the prefix that makes a
#: Polygon's WKB a one-part MultiPolygon's (OGC 06-103r4 Simple Features 8.2: byte order, type 6,
#: number of polygons, then each polygon's own WKB): the bytes ``shapely.to_wkb(shapely.multipolygons([p]))``
#: gives.
_WKB_POLYGON_TO_MULTI = (
    (b"\x01\x03\x00\x00\x00", b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"),
    (b"\x00\x00\x00\x00\x03", b"\x00\x00\x00\x00\x06\x00\x00\x00\x01"),
)


def _promoted_wkb(wkb: pa.Array) -> pa.Array:
    """Polygon WKB as one-part MultiPolygon WKB (other geometries and nulls as they are)."""
    wkb = wkb.cast(pa.binary())
    head = pc.binary_slice(wkb, 0, 5)
    for polygon, multi_prefix in _WKB_POLYGON_TO_MULTI:
        is_polygon = pc.fill_null(pc.equal(head, pa.scalar(polygon, pa.binary())), False)
        if pc.any(is_polygon).as_py():
            joined = pc.binary_join_element_wise(pa.scalar(multi_prefix, pa.binary()), wkb,
                                                 pa.scalar(b"", pa.binary()))
            wkb = pc.if_else(is_polygon, joined, wkb)
    return wkb


def _plain_arrow_type(t: pa.DataType) -> bool:
    """Whether a spooled part's field of type ``t`` goes to GDAL as it is (numbers, booleans, text,
    text categories); others leave the layer to the frame path."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_string(t)
            or pa.types.is_large_string(t))


def _write_spooled_arrow(path: Path, name: str, layer: SpooledLayer, *, crs, create: bool) -> pd.DataFrame | None:
    """Write a spooled layer in one GDAL session from its Parquet parts as Arrow batches.

    No frame is built: each part is read as an Arrow table, its categories decoded to text, its
    polygons' WKB promoted to one-part multi-polygons by their header (as ``promote_to_multi``), fids
    1..n numbered over the parts, and GDAL takes the batches as one stream (``OGR_L_WriteArrowBatch``),
    so the layer's R-tree is built once at the end instead of row by row on appends. The layer holds
    the same rows, fids, fields and geometries as :func:`_write_spooled` writes (a test reads both
    back); survey.gpkg of the 100,000-building bench city 10.7-11.3 -> 5.8 CPU s with it
    (``python -m bench.bench_outputs --buildings 100000``, README). Memory: one part.

    Returns the first part's first rows (as :func:`_write_spooled`), or None, writing nothing, when
    the layer does not qualify: its CRS differs from ``crs``, a field is not a number, boolean or
    text, or its geometries are not all 2D polygons / multi-polygons.
    """
    parts = layer.parts
    if not parts:
        return None
    geo_name = layer.empty_frame.geometry.name if layer.is_geo else None
    out_crs = None if crs is None else _pyproj_crs(crs)
    if layer.is_geo and out_crs is not None and layer.crs is not None and not layer.crs == out_crs:
        return None
    gcrs = layer.crs if layer.crs is not None else out_crs
    schemas = [pq.read_schema(p) for p, _ in parts]
    fields = [f for f in schemas[0] if f.name not in ("fid", geo_name)]
    if any(s.names != schemas[0].names or s.types != schemas[0].types for s in schemas[1:]):
        return None
    if not all(_plain_arrow_type(f.type) for f in fields):
        return None
    if geo_name is not None:
        kinds = set()
        for s in schemas:
            geo_meta = json.loads((s.metadata or {}).get(b"geo", b"{}"))
            kinds |= set(geo_meta.get("columns", {}).get(geo_name, {}).get("geometry_types", ["?"]))
        if not kinds <= {"Polygon", "MultiPolygon"}:
            return None

    out_names = ["fid", *(f.name for f in fields), *([geo_name] if geo_name else [])]

    def batches() -> Iterator[pa.RecordBatch]:
        start = 1
        for p, _ in parts:
            t = pq.read_table(p)
            cols = [pa.array(np.arange(start, start + t.num_rows, dtype=np.int64))]
            for f in fields:
                c = t.column(f.name)
                cols.append(c.cast(f.type.value_type) if pa.types.is_dictionary(f.type) else c)
            if geo_name:
                cols.append(pa.chunked_array([_promoted_wkb(ch) for ch in t.column(geo_name).chunks],
                                             type=pa.binary()))
            start += t.num_rows
            yield from pa.Table.from_arrays(cols, names=out_names).to_batches()

    stream = batches()
    first = next(stream)
    kwargs: dict = {"driver": "GPKG", "layer": name, "layer_options": {"FID": "fid"}}
    if create:
        kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
    if geo_name:
        epsg = gcrs.to_epsg() if gcrs is not None else None
        kwargs.update(geometry_name=geo_name, geometry_type="MultiPolygon",
                      crs=(f"EPSG:{epsg}" if epsg else gcrs.to_wkt("WKT1_GDAL")) if gcrs is not None else None)
        kwargs["layer_options"].update(GEOMETRY_NAME=GEOMETRY_COLUMN, SPATIAL_INDEX="YES")
    try:
        pyogrio.raw.write_arrow(pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], stream)),
                                path, **kwargs)
    except Exception as exc:  # GDAL errors come in several classes; name the layer and file
        raise OutputError(f"{path}: writing layer '{name}' failed ({exc}); check free space and permissions") \
            from exc
    return table_layer(_to_crs(layer._read(parts[0][0]).iloc[:1000], crs))


def _pyproj_crs(crs):
    """``crs`` as a ``pyproj.CRS``."""
    from pyproj import CRS

    return CRS.from_user_input(crs)


def _write_spooled(path: Path, name: str, layer: SpooledLayer, *, crs, create: bool,
                   arrow: bool | None = None) -> pd.DataFrame:
    """Write a spooled layer part by part (fids 1..n over the parts); returns its first part's
    first rows (columns and geometry type, for the layer's style).

    With Arrow writes (:func:`arrow_writes`) a layer of numbers, booleans, text and polygons goes to
    GDAL as one stream of Arrow batches (:func:`_write_spooled_arrow`); otherwise:

    The parts (one a tile, often a few thousand rows) are gathered into writes of
    :data:`WRITE_CHUNK_FEATURES` rows, the chunks of the same layer written from one frame: each
    write is a GDAL session and rows appended after the first go through SQLite's R-tree updates,
    so a city's ~50 tile parts written one by one took twice as long (bench/bench_outputs.py).
    """
    if arrow_writes() if arrow is None else arrow:
        head = _write_spooled_arrow(path, name, layer, crs=crs, create=create)
        if head is not None:
            return head
    start, head = 1, None
    pending: list[pd.DataFrame] = []
    n_pending = 0

    def write(frame: pd.DataFrame) -> None:
        nonlocal start, head
        frame = frame.reset_index(drop=True)
        frame["fid"] = np.arange(start, start + len(frame), dtype=np.int64)
        if head is None:
            _write_layer(path, name, frame, crs=crs, create=create, arrow=arrow)
            head = frame.iloc[:1000]
        elif len(frame):
            _write_layer(path, name, frame, crs=crs, create=False, append=True, arrow=arrow)
        start += len(frame)

    def joined() -> pd.DataFrame:
        return pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)

    for part in layer.chunks():
        pending.append(table_layer(_to_crs(part, crs)))
        n_pending += len(pending[-1])
        while n_pending >= WRITE_CHUNK_FEATURES:  # memory stays bounded: one write and one part at most
            rows = joined()
            write(rows.iloc[:WRITE_CHUNK_FEATURES])
            rest = rows.iloc[WRITE_CHUNK_FEATURES:]
            pending, n_pending = [rest], len(rest)
    if pending and (n_pending or head is None):
        write(joined())
    return head


def _write_layer(path: Path, name: str, frame: pd.DataFrame, *, crs, create: bool,
                 append: bool = False, arrow: bool | None = None) -> None:
    """Write one layer (``append``: more rows of a layer written before, fids following its last)."""
    if "fid" not in frame.columns:
        raise OutputError(f"layer '{name}': no 'fid' column; build it with result_layers()")
    fid = frame["fid"].to_numpy()
    consecutive = len(fid) == 0 or np.array_equal(fid, np.arange(fid[0], fid[0] + len(fid)))
    in_order = consecutive and (len(fid) == 0 or fid[0] == 1)  # 1..n in row order: every layer of result_layers
    if not consecutive and len(np.unique(fid)) != len(fid):  # consecutive ids are distinct: no sort needed
        raise OutputError(f"layer '{name}': duplicate fid values; ids must be unique")
    if append and not consecutive:
        raise OutputError(f"layer '{name}': rows appended to a layer need consecutive fids; report this as a bug")
    kwargs: dict = {"driver": "GPKG", "layer": name, "layer_options": {"FID": "fid"}}
    if create:
        kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
    if isinstance(frame, gpd.GeoDataFrame):
        polygonal = _polygonal(frame)
        if frame.crs is None and crs is not None:
            frame = frame.set_crs(crs)
        kwargs["layer_options"]["GEOMETRY_NAME"] = GEOMETRY_COLUMN
        kwargs["layer_options"]["SPATIAL_INDEX"] = "YES"
        if polygonal:
            kwargs["promote_to_multi"] = True
            kwargs["geometry_type"] = "MultiPolygon"
    if arrow_whole(frame, arrow):
        kwargs["use_arrow"] = True
    try:
        # the first chunk creates the layer; later ones append to it. Appended rows take SQLite's next
        # ids, so a layer is chunked only when its fids run 1..n in row order (every layer of
        # result_layers does); any other layer is written in one piece.
        step = WRITE_CHUNK_FEATURES if append or in_order else max(len(frame), 1)
        rest = {k: v for k, v in kwargs.items() if k not in ("dataset_options", "layer_options")}
        for start in range(0, max(len(frame), 1), step):
            part = frame.iloc[start:start + step]
            if start or append:
                pyogrio.write_dataframe(part.drop(columns="fid"), path, append=True, **rest)
            else:
                pyogrio.write_dataframe(part, path, **kwargs)
    except Exception as exc:  # GDAL errors come in several classes; name the layer and file
        raise OutputError(f"{path}: writing layer '{name}' failed ({exc}); check free space and permissions") \
            from exc


def write_layer_styles(path: str | Path, rows: list[tuple[str, str, str, str]], *, timestamp: str) -> None:
    """Create the QGIS ``layer_styles`` table in a GeoPackage and register it.

    Parameters
    ----------
    path : path
        An existing GeoPackage without a ``layer_styles`` table.
    rows : list of (layer, geometry column, QML, description)
        One default style per layer; the geometry column is '' for attribute tables.
    timestamp : str
        GeoPackage timestamp (``...T...Z``) for ``update_time`` and ``last_change``.
    """
    con = sqlite3.connect(str(path))
    try:
        with con:
            con.execute(_LAYER_STYLES_DDL)
            con.executemany(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '', ?)",
                [(layer, geom, layer, qml, desc, timestamp) for layer, geom, qml, desc in rows],
            )
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
                "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', ?, 0)",
                (timestamp,),
            )
            has_ogr = con.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'"
            ).fetchone()[0]
            if has_ogr:
                con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', ?)",
                            (len(rows),))
    except sqlite3.Error as exc:
        raise OutputError(f"{path}: writing the QGIS layer_styles table failed ({exc})") from exc
    finally:
        con.close()
