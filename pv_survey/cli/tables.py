"""One table reader and one table writer for the stage commands (``energy``, ``shade``, ``validate``).

Formats follow the file's extension: CSV (UTF-8 with BOM, as Excel on a Chinese Windows
expects; geometry as WKT), Parquet / GeoParquet, GeoPackage and any other source GDAL
reads; the writer also takes JSON and a markdown table. Writes are atomic and never replace
a file without ``--overwrite`` (:func:`pv_survey.cli.options.resolve_out`).
"""

from __future__ import annotations

from pathlib import Path

from .options import resolve_out

#: Extensions the writer knows, and what each holds.
WRITE_FORMATS = {".csv": "CSV (UTF-8 with BOM)", ".parquet": "Parquet", ".geoparquet": "GeoParquet",
                 ".gpkg": "GeoPackage", ".json": "JSON records", ".md": "markdown table"}


def read_table(path: str | Path, *, layer: str | None = None, what: str = "table"):
    """A table from CSV, (Geo)Parquet or any vector source GDAL reads.

    Parameters
    ----------
    path : path
        The file.
    layer : str, optional
        Layer of a multi-layer source (GeoPackage, FileGDB).
    what : str
        What the table is, for messages ("roofs table", "points").

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        A GeoDataFrame when the source has geometry.

    Raises
    ------
    InputFileError
        The file is missing or cannot be read; the message names it and what to do.
    """
    import pandas as pd

    from ..errors import InputFileError

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: {what} file not found; pass a .csv, .parquet, .gpkg or other GIS file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            from ..inputs.encoding import read_text_csv

            return read_text_csv(path)  # UTF-8 or GBK, as Excel saves it
        if suffix in (".parquet", ".geoparquet"):
            import pyarrow.parquet as pq

            if b"geo" in (pq.read_schema(path).metadata or {}):
                import geopandas as gpd

                return gpd.read_parquet(path)
            return pd.read_parquet(path)
        import geopandas as gpd

        return gpd.read_file(path, layer=layer, engine="pyogrio") if layer else gpd.read_file(path, engine="pyogrio")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: the {what} is neither UTF-8 nor GBK text; save it as UTF-8 CSV") from exc
    except Exception as exc:  # pandas ParserError, pyarrow and pyogrio errors: all mean 'cannot read'
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: cannot be read as a {what} ({first}); check the file"
                             + (" and --layer" if suffix not in (".csv", ".txt", ".parquet", ".geoparquet") else ""))\
            from exc


def check_format(path: str | Path, allowed=tuple(WRITE_FORMATS)) -> Path:
    """``path`` when its extension is one of ``allowed``; a usage error naming the choices otherwise."""
    import click

    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise click.BadParameter(f"{p}: use a {', '.join(allowed)} file", param_hint="--out")
    return p


def write_table(frame, path: str | Path, *, overwrite: bool, layer: str = "table") -> Path:
    """Write ``frame`` by the extension of ``path``, atomically; never replace a file without ``overwrite``.

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
    path : path
        ``.csv`` (UTF-8 with BOM; a geometry becomes a ``geometry_wkt`` column), ``.parquet`` /
        ``.geoparquet``, ``.gpkg`` (needs geometry; layer ``layer``), ``.json`` (records, UTF-8)
        or ``.md`` (a markdown table).
    overwrite : bool
        Replace an existing file.
    layer : str
        Layer name in a GeoPackage.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        The file exists without ``overwrite``, or a GeoPackage is asked for a table without geometry.
    """
    import geopandas as gpd

    from ..errors import OutputError
    from ..outputs.atomic import atomic_path

    out = resolve_out(path, overwrite)
    suffix = out.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise OutputError(f"{out}: unknown output format; use one of {', '.join(WRITE_FORMATS)}")
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns
    if suffix == ".gpkg" and not is_geo:
        raise OutputError(f"{out}: the table has no geometry; write .csv or .parquet instead")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if suffix in (".csv", ".json", ".md"):
            plain = frame.drop(columns=frame.geometry.name).copy() if is_geo else frame
            if is_geo:
                plain["geometry_wkt"] = frame.geometry.to_wkt()
            if suffix == ".csv":
                plain.to_csv(tmp, index=False, encoding="utf-8-sig")  # BOM so Excel shows Chinese
            elif suffix == ".json":
                plain.to_json(tmp, orient="records", force_ascii=False, indent=1)
            else:
                head = "| " + " | ".join(map(str, plain.columns)) + " |"
                rule = "|" + "---|" * len(plain.columns)
                rows = ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
                        for row in plain.itertuples(index=False)]
                Path(tmp).write_text("\n".join([head, rule, *rows]) + "\n", encoding="utf-8")
        elif suffix in (".parquet", ".geoparquet"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return out
