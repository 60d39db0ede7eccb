"""Coordinate reference systems of input data, including China's web-map offsets.

What this module handles
------------------------
* **Declared CRSs** (EPSG codes, WKT, PROJ strings) through pyproj. CGCS2000 geographic
  (EPSG:4490) is treated as equivalent to WGS84 (EPSG:4326) at metre level: the two
  frames differ by a few centimetres (CGCS2000 is aligned with ITRF97 at epoch 2000.0),
  and PROJ itself uses a ballpark (null) transformation between them.
* **CGCS2000 3-degree Gauss-Kruger zones** (EPSG:4534-4554; EPSG:4547 = CM 114E covers
  Guangzhou). Their *declared* axis order is northing, easting; pyogrio, GDAL and
  geopandas use the traditional GIS order (x = easting), as does every function here
  (``always_xy=True``). ``tests/test_inputs_crs.py`` checks this.
* **GCJ-02** (the "Mars" coordinates of Amap/Gaode, Tencent and Google China) and **BD-09**
  (Baidu), which carry no EPSG code. They are declared with ``source_crs="gcj02"`` or
  ``"bd09"`` and converted here to WGS84 lon/lat.

The GCJ-02 formula
------------------
The forward transform WGS84 -> GCJ-02 is the widely published one (e.g. the
``eviltransform`` and ``coordtransform`` libraries; no official specification is public):
offsets ``dlon, dlat`` are polynomial-plus-sine functions of ``(lon - 105, lat - 35)``,
scaled to degrees on the Krasovsky 1940 ellipsoid, ``a = 6378245.0`` m,
``e^2 = 0.00669342162296594323``. Outside mainland China's rough bounding box
(lon 72.004-137.8347, lat 0.8293-55.8271) the offset is zero, as in those libraries.
The inverse has no closed form; it is solved here by fixed-point iteration
``w <- w - (F(w) - g)`` started from ``w = g`` until the step is below 1e-10 deg
(about 0.01 mm), which converges because the offset varies slowly (|dF/dw - I| << 1).

BD-09 is a rotation and scaling of GCJ-02 about the origin (``x_pi = pi * 3000 / 180``;
published with the same libraries); its inverse is likewise iterated from the usual
closed-form approximation.
"""

from __future__ import annotations

import functools

import numpy as np
import pyproj
from pyproj.exceptions import CRSError as _PyprojCRSError

from ..errors import CRSError

__all__ = [
    "WEB_MAP_CRS",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
    "bd09_to_gcj02",
    "gcj02_to_bd09",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "parse_crs",
    "is_web_map_crs",
    "crs_label",
    "resolve_source_crs",
    "to_lon_lat",
]

# Krasovsky 1940 ellipsoid as used by the published GCJ-02 formula (eviltransform /
# coordtransform; the same constants are quoted in ../shared/data/PROVENANCE.md).
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# BD-09 rotation constant of the published formula (coordtransform: x_pi = pi * 3000 / 180).
_X_PI = np.pi * 3000.0 / 180.0
# BD-09 constant shift [deg] of the published formula.
_BD_DLON_DEG = 0.0065
_BD_DLAT_DEG = 0.006
# Rough mainland-China box outside which GCJ-02 equals WGS84 (eviltransform's outOfChina).
_CHINA_LON_DEG = (72.004, 137.8347)
_CHINA_LAT_DEG = (0.8293, 55.8271)
# Iterative inversion: stop when the step is below this [deg] (~0.01 mm); 30 steps is ample
# (the contraction factor is ~1e-3 per step in Guangzhou).
_INV_TOL_DEG = 1e-10
_INV_MAX_ITER = 30

#: Names accepted for the web-map frames by :func:`parse_crs` (case-insensitive).
WEB_MAP_CRS = {
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "mars": "gcj02", "amap": "gcj02",
    "gaode": "gcj02", "tencent": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "baidu": "bd09", "bd09ll": "bd09",
}


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon_a = np.asarray(lon, dtype="float64")
    lat_a = np.asarray(lat, dtype="float64")
    return np.broadcast_arrays(lon_a, lat_a)


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return ~((lon >= _CHINA_LON_DEG[0]) & (lon <= _CHINA_LON_DEG[1])
             & (lat >= _CHINA_LAT_DEG[0]) & (lat <= _CHINA_LAT_DEG[1]))


def _offset_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Latitude offset polynomial of the published GCJ-02 formula (x = lon-105, y = lat-35)."""
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Longitude offset polynomial of the published GCJ-02 formula."""
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to GCJ-02 (published forward formula).

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        WGS84 (or CGCS2000) longitude and latitude. [deg]

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray
        GCJ-02 coordinates; unchanged outside mainland China's box. [deg]
    """
    lon, lat = _as_arrays(lon_deg, lat_deg)
    x, y = lon - 105.0, lat - 35.0
    dlat = _offset_lat(x, y)
    dlon = _offset_lon(x, y)
    radlat = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A_M * (1.0 - _KRASOVSKY_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A_M / sqrtmagic * np.cos(radlat) * np.pi)
    out = _out_of_china(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def _invert(forward, lon_t: np.ndarray, lat_t: np.ndarray, lon0: np.ndarray, lat0: np.ndarray):
    """Solve ``forward(w) = target`` by fixed-point iteration from ``w = (lon0, lat0)``."""
    lon, lat = lon0.copy(), lat0.copy()
    for _ in range(_INV_MAX_ITER):
        f_lon, f_lat = forward(lon, lat)
        d_lon, d_lat = f_lon - lon_t, f_lat - lat_t
        lon -= d_lon
        lat -= d_lat
        step = np.nanmax(np.abs(np.concatenate([d_lon.ravel(), d_lat.ravel()])), initial=0.0)
        if step < _INV_TOL_DEG:
            break
    return lon, lat


def gcj02_to_wgs84(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to WGS84 by iterating the forward formula.

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        GCJ-02 longitude and latitude (Amap / Tencent). [deg]

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray
        WGS84 coordinates, accurate to ~1e-10 deg against the forward formula. [deg]
    """
    lon, lat = _as_arrays(lon_deg, lat_deg)
    return _invert(wgs84_to_gcj02, lon, lat, lon.copy(), lat.copy())


def gcj02_to_bd09(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to BD-09 (published Baidu formula).

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        GCJ-02 coordinates. [deg]

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray
        BD-09 coordinates. [deg]
    """
    x, y = _as_arrays(lon_deg, lat_deg)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON_DEG, z * np.sin(theta) + _BD_DLAT_DEG


def bd09_to_gcj02(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 lon/lat to GCJ-02.

    Starts from the published closed-form approximation and refines it by iterating
    :func:`gcj02_to_bd09`, so the round trip closes to ~1e-10 deg.

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        BD-09 coordinates (Baidu). [deg]

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray
        GCJ-02 coordinates. [deg]
    """
    lon_t, lat_t = _as_arrays(lon_deg, lat_deg)
    x, y = lon_t - _BD_DLON_DEG, lat_t - _BD_DLAT_DEG
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon_t, lat_t, z * np.cos(theta), z * np.sin(theta))


def bd09_to_wgs84(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 lon/lat to WGS84 (BD-09 -> GCJ-02 -> WGS84). [deg]"""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon_deg, lat_deg))


def wgs84_to_bd09(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to BD-09 (WGS84 -> GCJ-02 -> BD-09). [deg]"""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon_deg, lat_deg))


#: web-map frame -> function converting its lon/lat to WGS84 lon/lat
WEB_MAP_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def is_web_map_crs(name: str | None) -> str | None:
    """Return ``'gcj02'`` / ``'bd09'`` when ``name`` names a web-map frame, else ``None``."""
    if not name:
        return None
    return WEB_MAP_CRS.get(str(name).strip().lower())


def parse_crs(value, *, where: str = "source_crs") -> pyproj.CRS:
    """Parse a CRS given by the user (EPSG code, ``EPSG:4547``, WKT, PROJ string).

    Web-map frames (``gcj02``, ``bd09``) are not pyproj CRSs; check them first with
    :func:`is_web_map_crs`.

    Raises
    ------
    CRSError
        When pyproj does not know the value; the message names ``where`` and the value.
    """
    if isinstance(value, pyproj.CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return pyproj.CRS.from_user_input(text)
    except _PyprojCRSError:
        raise CRSError(
            f"{where}: {value!r} is not a CRS pyproj knows; give an EPSG code such as "
            "EPSG:4490 or EPSG:4547, a WKT/PROJ string, or gcj02 / bd09 for web-map data"
        ) from None


def crs_label(crs: pyproj.CRS | None) -> str:
    """Short name of a CRS for reports: ``EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)``."""
    if crs is None:
        return "none"
    auth = crs.to_authority(min_confidence=70)
    code = f"{auth[0]}:{auth[1]}" if auth else "custom"
    return f"{code} ({crs.name})"


def resolve_source_crs(declared: pyproj.CRS | None, source_crs: str | None, *, where: str = "input"
                       ) -> tuple[pyproj.CRS, str | None, list[str]]:
    """Decide which CRS a source's coordinates are in.

    Rules: ``source_crs`` naming a web-map frame (gcj02 / bd09) means lon/lat in that frame,
    whatever the file declares (GeoJSON always declares WGS84); any other ``source_crs``
    wins over the declared CRS, with a warning when they differ; with neither, the file
    cannot be placed and :class:`~pv_survey.errors.CRSError` is raised.

    Parameters
    ----------
    declared : pyproj.CRS or None
        CRS the file declares.
    source_crs : str or None
        CRS given by the user (``--source-crs`` / ``inputs.source_crs``).
    where : str
        Name of the source, for messages.

    Returns
    -------
    crs : pyproj.CRS
        CRS of the coordinates as stored (EPSG:4326 for web-map frames, meaning lon/lat order).
    web_map : str or None
        ``'gcj02'`` or ``'bd09'`` when the coordinates must still be converted to WGS84.
    warnings : list of str
    """
    warnings: list[str] = []
    web = is_web_map_crs(source_crs)
    if web:
        if declared is not None and declared.is_projected:
            raise CRSError(
                f"{where}: --source-crs {source_crs} means lon/lat web-map coordinates, but the file declares the "
                f"projected {crs_label(declared)}; drop --source-crs or fix the file's CRS"
            )
        return pyproj.CRS.from_epsg(4326), web, warnings
    if source_crs:
        crs = parse_crs(source_crs)
        if declared is not None and not declared.equals(crs, ignore_axis_order=True):
            warnings.append(
                f"{where}: the file declares {crs_label(declared)} but source_crs {source_crs} was given and is used"
            )
        return crs, None, warnings
    if declared is None:
        raise CRSError(
            f"{where}: the file declares no coordinate reference system; pass --source-crs (e.g. EPSG:4490 for "
            "CGCS2000 lon/lat, EPSG:4547 for CGCS2000 Gauss-Kruger 114E, gcj02 / bd09 for web-map data)"
        )
    return declared, None, warnings


@functools.lru_cache(maxsize=16)
def _to_wgs84(crs: pyproj.CRS) -> pyproj.Transformer:
    """The transformer from ``crs`` to WGS84 lon/lat, made once per CRS (a source read in windows
    checks every window's coordinates; making a transformer takes ~40 ms)."""
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_lon_lat(x, y, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinates in ``crs`` (x = easting / longitude) to WGS84 lon/lat.

    Coordinates that cannot be transformed come back as ``inf``/``nan``.

    Parameters
    ----------
    x, y : array_like
        Coordinates in the traditional GIS order of ``crs``. [m or deg]
    crs : pyproj.CRS
        Their CRS.

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray
        WGS84 longitude and latitude. [deg]
    """
    x_a, y_a = _as_arrays(x, y)
    if crs.is_geographic and crs.ellipsoid is not None and abs(crs.ellipsoid.semi_major_metre - 6378137.0) < 1.0:
        # WGS84 / CGCS2000 (and other GRS80-like geographic frames): metre-level identical.
        return x_a.copy(), y_a.copy()
    lon, lat = _to_wgs84(crs).transform(x_a, y_a, errcheck=False)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
