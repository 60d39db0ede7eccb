"""Open any buildings source as a GeoDataFrame, as stored (no reprojection, no repair).

Formats and engines
-------------------
=================================== =========================================================
GeoPackage, Shapefile, GeoJSON,     pyogrio (GDAL): any layer (``layer=``; without it a layer
FlatGeobuf, File Geodatabase        named ``buildings``, else the only polygon layer)
(``.gdb`` folder), GML, KML ...
zipped shapefile (``.zip``)         pyogrio through GDAL's ``/vsizip/``; the ``.shp`` inside
                                    is found (``layer=`` picks one of several)
GeoParquet (``.parquet``)           geopandas / pyarrow (pyogrio's wheel has no Parquet driver)
OSM (``.osm.pbf``, ``.osm``)        pyosmium, see :mod:`pv_survey.inputs.osm`
DataV GeoAtlas JSON                 a JSON *array* of GeoJSON features (as Aliyun DataV
                                    publishes boundaries) is wrapped into a FeatureCollection
PostGIS table                       psycopg, see :mod:`pv_survey.inputs.postgis`
=================================== =========================================================

Shapefile text encoding: ``encoding=`` wins; else a ``.cpg`` is used when its encoding
decodes the DBF; else the encoding is detected from the bytes (UTF-8, then GB18030), see
:mod:`pv_survey.inputs.encoding`. The encoding used is reported.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import struct
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyproj
from pyogrio.errors import DataLayerError, DataSourceError

from ..errors import InputError, InputFileError
from .encoding import dbf_text_bytes, decodes_as, detect_dbf_encoding, read_cpg, read_dbf_head
from .osm import read_osm_pbf
from .postgis import is_postgis_source, parse_postgis_source, read_postgis

__all__ = ["RawSource", "read_source", "choose_layer", "SourceWindows", "source_windows"]

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m")
_PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
_POLYGON_TYPES = ("Polygon", "MultiPolygon", "Polygon Z", "MultiPolygon Z", "3D Polygon", "3D MultiPolygon",
                  "CurvePolygon", "MultiSurface")
#: Layer names taken without --layer when a source has several (case-insensitive).
PREFERRED_LAYERS = ("buildings", "building", "建筑", "建筑物", "footprints")


@dataclasses.dataclass
class RawSource:
    """A source as read: the frame with its declared CRS, and how it was read."""

    frame: gpd.GeoDataFrame
    display: str  # the source as shown in messages (passwords hidden)
    driver: str
    layer: str | None = None
    crs: pyproj.CRS | None = None
    encoding: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)


def choose_layer(layers, layer: str | None, where: str) -> str | None:
    """Pick the layer to read from ``[(name, geometry type), ...]``.

    ``layer`` when given (must exist); else a layer named like ``buildings``; else the only
    polygon layer; else the only layer. Several candidates -> :class:`InputError` listing them.
    """
    names = [str(n) for n, _ in layers]
    if layer:
        if layer not in names:
            raise InputError(f"{where}: no layer '{layer}'; layers: {', '.join(names) or '(none)'}")
        return layer
    if len(names) <= 1:
        return names[0] if names else None
    lower = {n.casefold(): n for n in names}
    for pref in PREFERRED_LAYERS:
        if pref.casefold() in lower:
            return lower[pref.casefold()]
    polys = [str(n) for n, t in layers if str(t) in _POLYGON_TYPES]
    if len(polys) == 1:
        return polys[0]
    listing = ", ".join(f"{n} ({t})" for n, t in layers)
    raise InputError(f"{where}: several layers, none named 'buildings': {listing}; choose one with --layer")


def _is_osm(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in _OSM_SUFFIXES)


def _shapefile_encoding(shp: Path, zip_member: str | None, encoding: str | None, where: str
                        ) -> tuple[str | None, str | None, list[str]]:
    """(encoding to pass to pyogrio, encoding to report, warnings) for a shapefile."""
    if encoding:
        return encoding, encoding, []
    dbf_member = None
    if zip_member is not None:
        with zipfile.ZipFile(shp) as zf:
            stem = zip_member[:-4].lower()
            dbf_member = next((n for n in zf.namelist() if n.lower() == stem + ".dbf"), None)
            if dbf_member is None:
                return None, None, []
            with zf.open(dbf_member) as fh:
                raw = read_dbf_head(fh)
    else:
        dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.is_file()), None)
        if dbf is None:
            return None, None, []
        with dbf.open("rb") as fh:
            raw = read_dbf_head(fh)
    cpg = read_cpg(shp, zip_member[:-4] + ".dbf" if zip_member else None) if zip_member else read_cpg(shp)
    values = dbf_text_bytes(raw)
    if cpg:
        if decodes_as(values, cpg):
            return cpg, cpg, []
        detected = detect_dbf_encoding(raw)
        return detected, detected, [
            f"{where}: the .cpg says {cpg!r} but the attribute text does not decode as {cpg}; "
            f"read as {detected or 'GDAL default'} (pass --encoding to choose)"
        ]
    detected = detect_dbf_encoding(raw)
    if detected is None and not all(v.isascii() for v in values):
        return None, None, [
            f"{where}: no .cpg and the attribute text is neither UTF-8 nor GB18030; names may be garbled "
            "(pass --encoding, e.g. big5 or latin1)"
        ]
    note = [f"{where}: no .cpg; attribute text detected as {detected}"] if detected and detected != "UTF-8" else []
    return detected, detected, note


#: Extension -> GDAL driver that should read it; another driver reading it is reported.
_DRIVER_OF_SUFFIX = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf",
                     ".gml": "GML", ".kml": "KML"}


@contextmanager
def _gdal_warnings(where: str, sink: list[str]):
    """Collect GDAL's warnings (pyogrio's RuntimeWarning) into ``sink`` as report lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            line = f"{where}: GDAL warns: {' '.join(str(w.message).split())}"
            if line not in sink:
                sink.append(line)
        else:  # not GDAL's: pass on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _shapefile_truncated(shp: Path) -> str | None:
    """Name of a .shp / .shx shorter than its header says (a cut-off copy), else None.

    ESRI Shapefile Technical Description (1998), p. 4: the main and index files start with
    the file code 9994 and hold the file length in 16-bit words at bytes 24-27, big-endian.
    A file without the code is not a shapefile at all: GDAL decides what it is.
    """
    for part in (shp, shp.with_suffix(".shx"), shp.with_suffix(".SHX")):
        if part.is_file():
            with part.open("rb") as fh:
                head = fh.read(100)
            if head[:4] != struct.pack(">i", 9994):
                continue
            if len(head) < 100:
                return part.name
            (words,) = struct.unpack(">i", head[24:28])
            if part.stat().st_size < 2 * words:
                return part.name
    return None


def _sqlite_truncated(path: Path) -> str | None:
    """Why a SQLite file (GeoPackage, SpatiaLite) is shorter than its header says, else None.

    SQLite file format (sqlite.org/fileformat2.html, "The Database Header"): bytes 0-15 are
    "SQLite format 3\\0", bytes 16-17 the page size (1 = 65536), bytes 28-31 the database size
    in pages, valid when the change counter (bytes 24-27) equals the version-valid-for number
    (bytes 92-95). A copy cut off part way is shorter than page size x pages; SQLite reads
    it without complaint until a query reaches a missing page, and the features there vanish.
    A file beside its write-ahead log (``-wal``) is skipped: its pages may live in the log.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except OSError:
        return None
    if head[:16] != b"SQLite format 3\x00" or path.with_name(path.name + "-wal").exists():
        return None
    if len(head) < 100:
        return f"only {len(head)} bytes, shorter than the 100-byte SQLite header"
    (page,) = struct.unpack(">H", head[16:18])
    page = 65536 if page == 1 else page
    (pages,) = struct.unpack(">I", head[28:32])
    valid = head[24:28] == head[92:96] and pages > 0
    size = path.stat().st_size
    if valid and size < page * pages:
        return f"{size:,} bytes of the {page * pages:,} its header declares"
    if size % page:
        return f"{size:,} bytes, not a whole number of its {page}-byte pages"
    return None


def _read_ogr(path: str, layer: str | None, encoding: str | None, where: str, skip_features: int = 0,
              max_features: int | None = None, columns: list[str] | None = None) -> gpd.GeoDataFrame:
    try:
        if columns is not None:  # attributes only (a pass over the ids)
            return pyogrio.read_dataframe(path, layer=layer, encoding=encoding, columns=columns, read_geometry=False,
                                          skip_features=skip_features, max_features=max_features)
        return pyogrio.read_dataframe(path, layer=layer, encoding=encoding, on_invalid="ignore",
                                      skip_features=skip_features, max_features=max_features)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{where}: attribute text is not {encoding or 'UTF-8'} (byte {exc.object[exc.start]:#04x}"
                             f" cannot be decoded); save the file as UTF-8, or pass --encoding (e.g. gbk)") from exc
    except (DataSourceError, DataLayerError) as exc:
        reason = " ".join(str(exc).split())
        raise InputFileError(f"{where}: GDAL cannot read it ({reason}); the file looks truncated or corrupt: "
                             "copy or export it again") from exc


def _datav_array(path: Path) -> gpd.GeoDataFrame | None:
    """A JSON array of GeoJSON Features (Aliyun DataV GeoAtlas) as a frame; None if not one."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not (isinstance(data, list) and data and all(isinstance(f, dict) and f.get("type") == "Feature"
                                                     for f in data)):
        return None
    return gpd.GeoDataFrame.from_features(data, crs="EPSG:4326")


@dataclasses.dataclass
class _OgrPlan:
    """A GDAL source resolved (layer chosen, encoding decided, truncation checked), not yet read."""

    path: Path
    where: str
    ogr_path: str
    chosen: str | None
    encoding: str | None
    enc_used: str | None
    notes: list[str]
    zip_member: str | None
    first_layer: str


def _plan_source(source, layer: str | None, encoding: str | None):
    """What reading ``source`` takes: ``("postgis" | "osm" | "parquet", path)``, a :class:`RawSource`
    already read (a DataV JSON array), or an :class:`_OgrPlan`. Errors as :func:`read_source`."""
    layer = layer or None
    encoding = encoding or None
    if is_postgis_source(source):
        return ("postgis", source)
    path = Path(source)
    where = str(path)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"{where}: encoding {encoding!r} (--encoding / inputs.encoding) is not a text encoding "
                             "Python knows; use e.g. gbk, gb18030, big5 or utf-8") from None
    if not path.exists():
        raise InputFileError(f"{where}: not found; check the path (or give a postgresql:// URL with ?table=)")
    if _is_osm(path):
        return ("osm", path)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return ("parquet", path)

    if path.is_file() and path.stat().st_size == 0:
        raise InputFileError(f"{where}: the file is empty (0 bytes); the export or copy failed, "
                             "export or copy it again")
    notes: list[str] = []
    zip_member = None
    ogr_path = str(path)
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
        except zipfile.BadZipFile as exc:
            raise InputFileError(f"{where}: not a valid zip file ({exc}); the archive looks truncated or corrupt: "
                                 "copy or download it again") from exc
        if shps:
            if layer:
                match = [n for n in shps if Path(n).stem == layer or n == layer]
                if not match:
                    raise InputError(f"{where}: no shapefile '{layer}' in the zip; it holds {', '.join(shps)}")
                zip_member = match[0]
            elif len(shps) == 1:
                zip_member = shps[0]
            else:
                raise InputError(f"{where}: the zip holds several shapefiles ({', '.join(shps)}); choose one "
                                 "with --layer NAME")
            ogr_path = f"/vsizip/{path.resolve()}/{zip_member}"
            layer = None
    is_shp = path.suffix.lower() in (".shp", ".dbf") or zip_member is not None
    enc_used = None
    if is_shp:
        shp = path if zip_member is not None else path.with_suffix(".shp") if path.suffix.lower() == ".dbf" else path
        if zip_member is None:
            cut = _shapefile_truncated(shp)
            if cut:
                raise InputFileError(f"{where}: {cut} is shorter than its header says (a cut-off copy); "
                                     "copy or export the shapefile again")
        enc_pass, enc_used, w = _shapefile_encoding(shp, zip_member, encoding, where)
        notes.extend(w)
        encoding = enc_pass
    if zip_member is None and path.is_file():
        cut = _sqlite_truncated(path)
        if cut:
            raise InputFileError(f"{where}: the GeoPackage / SQLite file is truncated or corrupt ({cut}); features "
                                 "would be lost: copy or export it again")
    try:
        with _gdal_warnings(where, notes):
            layers = pyogrio.list_layers(ogr_path)
    except (DataSourceError, DataLayerError) as exc:
        frame = _datav_array(path) if path.suffix.lower() in (".json", ".geojson") else None
        if frame is None:
            reason = " ".join(str(exc).split())
            if "not recognized" in reason or "not recognised" in reason:
                raise InputFileError(
                    f"{where}: not a GIS format GDAL recognises; use GeoPackage, Shapefile, GeoJSON, FlatGeobuf, "
                    "GeoParquet, File Geodatabase, .osm.pbf or a PostGIS table"
                ) from exc
            reason = reason if len(reason) <= 160 else reason.split("; ")[-1]  # GDAL's last clause says why
            raise InputFileError(f"{where}: GDAL cannot open it ({reason}); the file looks truncated or corrupt "
                                 "(or a .shx / .dbf beside it is missing): copy or export it again") from exc
        return RawSource(frame, where, "DataV JSON array", None, frame.crs, "UTF-8",
                         warnings=[f"{where}: read as a JSON array of GeoJSON features (DataV format)"])
    if len(layers) == 0:
        raise InputFileError(f"{where}: holds no vector layer; give a file or folder with building footprints")
    chosen = choose_layer([(r[0], r[1]) for r in layers], layer, where) if not is_shp else None
    return _OgrPlan(path, where, ogr_path, chosen, encoding, enc_used, notes, zip_member, str(layers[0][0]))


def _read_planned(plan: _OgrPlan, skip_features: int = 0, max_features: int | None = None) -> RawSource:
    """Read (a window of) a resolved GDAL source, with the checks of :func:`read_source`."""
    path, where, notes = plan.path, plan.where, list(plan.notes)
    with _gdal_warnings(where, notes):
        frame = _read_ogr(plan.ogr_path, plan.chosen, plan.encoding, where, skip_features, max_features)
        try:
            info = pyogrio.read_info(plan.ogr_path, layer=plan.chosen, encoding=plan.encoding)
        except (DataSourceError, DataLayerError):
            info = {}
    if not isinstance(frame, gpd.GeoDataFrame):
        if path.suffix.lower() in (".csv", ".tsv", ".txt"):  # a flat table has no other layer to choose
            raise InputError(f"{where}: a CSV table without geometry; add a column named WKT with each footprint "
                             "as a WKT polygon, e.g. POLYGON((x y, ...)), give its CRS with --source-crs "
                             "(e.g. EPSG:4490), or export the footprints as GeoPackage or GeoJSON")
        raise InputError(f"{where}: layer '{plan.chosen or plan.first_layer}' has no geometry column (a table, not "
                         "footprints); choose the polygon layer with --layer")
    driver = str(info.get("driver", ""))
    expected = _DRIVER_OF_SUFFIX.get(path.suffix.lower())
    if expected and driver and driver != expected and plan.zip_member is None:
        notes.append(f"{where}: the name ends in {path.suffix} but the content is {driver}; read as {driver} "
                     f"(rename the file to match its format)")
    if (driver == "ESRI Shapefile" and plan.zip_member is None
            and not any(path.with_suffix(s).is_file() for s in (".dbf", ".DBF"))):
        notes.append(f"{where}: no .dbf beside it: the attribute table is missing, every attribute is "
                     "defaulted; send the .dbf with the .shp")
    enc_used = plan.enc_used if plan.enc_used is not None else info.get("encoding")
    return RawSource(frame, where, driver, plan.chosen, frame.crs, enc_used, warnings=notes)


def _parquet_error(path: Path, exc: Exception) -> InputFileError:
    reason = " ".join(str(exc).replace(str(path), "the file").split())
    return InputFileError(f"{path}: not a readable GeoParquet file ({reason}); the file looks truncated or "
                          "corrupt: copy or export it again")


def read_source(source, *, layer: str | None = None, encoding: str | None = None) -> RawSource:
    """Read a buildings source as stored.

    Parameters
    ----------
    source : str or Path
        File, folder (``.gdb``), zip, PostGIS URL or GDAL ``PG:`` string.
    layer : str, optional
        Layer (or, for PostGIS, ``schema.table``).
    encoding : str, optional
        Attribute encoding of a shapefile (``gbk``, ``gb18030``, ``utf-8``...).

    Returns
    -------
    RawSource

    Raises
    ------
    InputFileError
        Missing, empty, truncated or corrupt file, unreadable format, unreachable server.
    InputError
        Ambiguous or unknown layer, a layer without geometry, an unknown ``encoding``.
    """
    plan = _plan_source(source, layer, encoding)
    if isinstance(plan, RawSource):
        return plan
    if isinstance(plan, _OgrPlan):
        return _read_planned(plan)
    kind, target = plan
    if kind == "postgis":
        src = parse_postgis_source(str(target), layer or None)
        frame = read_postgis(src)
        return RawSource(frame, src.display, "PostGIS (psycopg)",
                         f"{src.schema + '.' if src.schema else ''}{src.table}", frame.crs, "UTF-8")
    if kind == "osm":
        frame = read_osm_pbf(target)
        return RawSource(frame, str(target), "OSM (pyosmium)", None, frame.crs, "UTF-8")
    try:
        frame = gpd.read_parquet(target)
    except (ValueError, OSError) as exc:
        raise _parquet_error(target, exc) from exc
    return RawSource(frame, str(target), "GeoParquet (pyarrow)", None, frame.crs, "UTF-8")


# --------------------------------------------------------------------------- windows


@dataclasses.dataclass
class SourceWindows:
    """A buildings source that can be read a window of features at a time.

    Attributes
    ----------
    display : str
        The source as shown in messages.
    n_features : int
        Features in the layer.
    fields : list of str
        Attribute field names (no geometry).
    """

    display: str
    n_features: int
    fields: list[str]
    _plan: Any = None
    _parquet: Path | None = None

    def windows(self, window_features: int, columns: list[str] | None = None) -> Iterator[RawSource]:
        """The source in consecutive windows of at most ``window_features`` features, in order.

        With ``columns`` only those attribute fields are read and no geometry (the frame is a
        plain DataFrame). Memory is bounded by one window (GDAL seeks to each window's first
        feature; a GeoParquet file is streamed batch by batch, not row group by row group).
        """
        window_features = int(window_features)
        if self._parquet is not None:
            yield from self._parquet_windows(window_features, columns)
            return
        plan = self._plan
        for skip in range(0, max(self.n_features, 1), window_features):
            if columns is not None:
                with _gdal_warnings(plan.where, []):  # said when the features are read
                    frame = _read_ogr(plan.ogr_path, plan.chosen, plan.encoding, plan.where, skip, window_features,
                                      columns=columns)
                yield RawSource(frame, plan.where, "", plan.chosen)
            else:
                yield _read_planned(plan, skip, window_features)

    def _parquet_windows(self, window_features: int, columns: list[str] | None) -> Iterator[RawSource]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from geopandas.io.arrow import _arrow_to_geopandas

        path = self._parquet
        try:
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            meta = {k: v for k, v in (schema.metadata or {}).items() if k != b"pandas"}
            index_cols = _index_columns(pf)  # a stored index is no attribute (as gpd.read_parquet reads it)
            for batch in pf.iter_batches(batch_size=window_features, columns=columns):
                if columns is not None:
                    yield RawSource(batch.to_pandas(), str(path), "", None)
                    continue
                table = pa.Table.from_batches([batch]).replace_schema_metadata(meta)
                table = table.drop_columns([c for c in index_cols if c in table.column_names])
                frame = _arrow_to_geopandas(table)
                yield RawSource(frame, str(path), "GeoParquet (pyarrow)", None, frame.crs, "UTF-8")
        except (ValueError, OSError) as exc:
            raise _parquet_error(path, exc) from exc


def _index_columns(pf) -> list[str]:
    """Columns of a Parquet file that :func:`geopandas.read_parquet` does not read as attributes:
    a stored pandas index, and the bounding-box covering columns of GeoParquet 1.1."""
    meta = pf.schema_arrow.metadata or {}
    try:
        pandas_meta = json.loads(meta.get(b"pandas", b"{}") or b"{}")
        geo = json.loads(meta.get(b"geo", b"{}") or b"{}")
    except ValueError:
        return []
    out = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)]
    for col in geo.get("columns", {}).values():
        bbox = (col.get("covering") or {}).get("bbox") or {}
        out += [v[0] for v in bbox.values() if isinstance(v, list) and v]
    return list(dict.fromkeys(out))


def source_windows(source, *, layer: str | None = None, encoding: str | None = None) -> SourceWindows | None:
    """``source`` opened for reading in windows, or None when it is read in one go.

    GDAL files (GeoPackage, Shapefile and zipped shapefiles, FlatGeobuf, GeoJSON, File
    Geodatabase ...) and GeoParquet are read in windows; PostGIS tables, OSM extracts and
    DataV JSON arrays are read whole. The checks of :func:`read_source` (missing, empty,
    truncated file, layer, encoding) run here.
    """
    plan = _plan_source(source, layer, encoding)
    if isinstance(plan, _OgrPlan):
        try:
            with _gdal_warnings(plan.where, []):  # said again when the windows are read
                info = pyogrio.read_info(plan.ogr_path, layer=plan.chosen, encoding=plan.encoding,
                                         force_feature_count=True)
        except (DataSourceError, DataLayerError):
            return None  # read_source will say what is wrong
        if info.get("geometry_type") is None:
            return None
        return SourceWindows(plan.where, int(info.get("features", 0) or 0), [str(f) for f in info.get("fields", [])],
                             _plan=plan)
    if isinstance(plan, tuple) and plan[0] == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(plan[1])
        except (ValueError, OSError) as exc:
            raise _parquet_error(plan[1], exc) from exc
        geo = json.loads((pf.schema_arrow.metadata or {}).get(b"geo", b"{}"))
        fields = [n for n in pf.schema_arrow.names if n not in geo.get("columns", {}) and n not in _index_columns(pf)]
        return SourceWindows(str(plan[1]), int(pf.metadata.num_rows), fields, _parquet=Path(plan[1]))
    return None
