"""Buildings on disk in spatial buckets, read back by bounding box: the tiles' source (issue 18, item 4).

A city read in windows (:class:`pv_survey.inputs.read.BuildingWindows`) is written here once,
window by window: the rows of a window are grouped into square cells of ``cell_m`` by their
centroid and each cell's rows become one row group of a scratch GeoParquet file (footprints as
WKB, every attribute, and the building's position in the city table). The bounding box of each
row group is kept beside the file (a few numbers per group). A tile then reads only the row groups
whose box meets its core-plus-halo box and keeps the positions it asks for, so the rows it gets
are the rows ``buildings.iloc[positions]`` gives, with the same dtypes (categories included).

Memory of writing: one window. Memory of reading: the row groups that meet the box (the rows of
the cells around the tile), never the file.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from ..scratch import scratch_dir

__all__ = ["BuildingStore", "STORE_CELL_M"]

#: Side of the square cells the scratch file groups buildings by [m]. Project choice: a sixth of
#: the default tile (``shading.tile_size_m`` = 3 km), so a tile's box plus halo reads little more
#: than its own cells, and a city of 14 x 14 km has ~800 cells per window, row groups of a few
#: hundred buildings.
STORE_CELL_M = 500.0
_POS = "__position"


def _arrow_type(dtype):
    import pyarrow as pa

    if isinstance(dtype, pd.CategoricalDtype) or dtype == object or pd.api.types.is_string_dtype(dtype):
        return pa.string()
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(dtype):
        return pa.int64()
    if pd.api.types.is_float_dtype(dtype):
        return pa.float64()
    raise InputError(f"scratch buildings store: column type {dtype} cannot be stored; report this as a bug")


@dataclasses.dataclass
class BuildingStore:
    """A scratch GeoParquet file of buildings grouped by cell, and the box of each row group.

    Build it with :meth:`create`, :meth:`add` each window in order, :meth:`close`; then
    :meth:`read` from any process that sees ``path`` (it pickles small: the boxes and dtypes).

    Attributes
    ----------
    path : Path
        The scratch file.
    boxes : numpy.ndarray
        (n_row_groups, 4) min x, min y, max x, max y of each row group's footprints. [m]
    dtypes : dict
        Column -> pandas dtype of the rows read back (set with :meth:`set_dtypes`).
    """

    path: Path
    cell_m: float = STORE_CELL_M
    boxes: np.ndarray = dataclasses.field(default_factory=lambda: np.empty((0, 4)))
    dtypes: dict = dataclasses.field(default_factory=dict)
    crs: Any = None
    n_rows: int = 0
    _writer: Any = None
    _schema: Any = None
    _columns: list = dataclasses.field(default_factory=list)
    _file: Any = None
    _read_lock: Any = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, directory: str | Path | None = None, *, cell_m: float = STORE_CELL_M) -> "BuildingStore":
        """An empty store in a new folder under ``directory`` (default: the system's temporary folder)."""
        folder = scratch_dir("buildings", directory)  # a killed run's store is removed by the next one
        return cls(path=folder / "buildings.parquet", cell_m=float(cell_m))

    def add(self, window: gpd.GeoDataFrame) -> None:
        """Append one window (the next rows of the city table, in order), grouped by cell."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            self.crs = window.crs
            self._columns = [c for c in window.columns if c != window.geometry.name]
            self._schema = pa.schema([(c, _arrow_type(window[c].dtype)) for c in self._columns]
                                     + [("geometry", pa.binary()), (_POS, pa.int64())])
            self._writer = pq.ParquetWriter(self.path, self._schema)
        if list(c for c in window.columns if c != window.geometry.name) != self._columns:
            raise InputError("scratch buildings store: a window has other columns than the first; report this as a bug")
        geoms = np.asarray(window.geometry.to_numpy(), dtype=object)
        n = len(geoms)
        pos = np.arange(self.n_rows, self.n_rows + n, dtype=np.int64)
        self.n_rows += n
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        bounds = np.full((n, 4), np.nan)
        if present.any():
            bounds[present] = shapely.bounds(geoms[present])
        cx = np.where(present, (bounds[:, 0] + bounds[:, 2]) / 2, 0.0)
        cy = np.where(present, (bounds[:, 1] + bounds[:, 3]) / 2, 0.0)
        kx = np.floor(cx / self.cell_m).astype(np.int64)
        ky = np.floor(cy / self.cell_m).astype(np.int64)
        order = np.lexsort((pos, kx, ky))
        keys = np.stack([kx[order], ky[order]], axis=1)
        cut = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1 if n > 1 else np.empty(0, np.int64)
        # the window as one Arrow table in cell order, each column converted once; every cell's rows
        # are then a slice of it, written as one row group
        cols = [window[c].to_numpy(dtype=object) if _arrow_type(window[c].dtype) == pa.string() else _plain(window[c])
                for c in self._columns]
        cols = [pa.array(a[order], type=self._schema.field(c).type) for c, a in zip(self._columns, cols)]
        cols += [pa.array(shapely.to_wkb(geoms[order]), type=pa.binary()), pa.array(pos[order], type=pa.int64())]
        table = pa.Table.from_arrays(cols, schema=self._schema)
        starts = np.concatenate([[0], cut]).astype(np.int64) if n else np.empty(0, np.int64)
        stops = np.concatenate([cut, [n]]).astype(np.int64) if n else np.empty(0, np.int64)
        for a, b in zip(starts, stops):
            self._writer.write_table(table.slice(int(a), int(b - a)), row_group_size=int(b - a))
        # each cell's box (fmin / fmax skip missing footprints); a group of footprints without geometry
        # meets no box (it is never a tile's row)
        boxes = np.empty((starts.size, 4))
        if starts.size:
            bo = bounds[order]
            boxes[:, 0], boxes[:, 1] = np.fmin.reduceat(bo[:, 0], starts), np.fmin.reduceat(bo[:, 1], starts)
            boxes[:, 2], boxes[:, 3] = np.fmax.reduceat(bo[:, 2], starts), np.fmax.reduceat(bo[:, 3], starts)
            none = np.isnan(boxes[:, 0])
            boxes[none] = (np.inf, np.inf, -np.inf, -np.inf)
        if boxes.size:
            self.boxes = np.vstack([self.boxes, boxes])

    def close(self) -> None:
        """Finish the file (no more windows)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def set_dtypes(self, frame: pd.DataFrame) -> None:
        """Give the rows read back the dtypes of ``frame`` (the city table, e.g. its categories)."""
        self.dtypes = {c: frame[c].dtype for c in self._columns if c in frame}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_writer"] = state["_file"] = None  # open files do not travel; readers need the path, boxes, dtypes
        del state["_read_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._read_lock = threading.Lock()

    def read(self, bounds, positions=None) -> gpd.GeoDataFrame:
        """The buildings whose bounding box meets ``bounds`` (or those of them at ``positions``).

        Parameters
        ----------
        bounds : sequence of 4 floats
            Min x, min y, max x, max y of the box. [m]
        positions : array of int, optional
            Positions in the city table to keep (each must lie in the box's row groups).

        Returns
        -------
        geopandas.GeoDataFrame
            Rows in city-table order, indexed by their position, with the columns and dtypes of
            the city table: the rows ``buildings.iloc[positions]`` gives.
        """
        import pyarrow.parquet as pq

        x0, y0, x1, y1 = (float(v) for v in bounds)
        b = self.boxes
        groups = np.flatnonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))
        cols = [*self._columns, "geometry", _POS]
        if len(groups):
            with self._read_lock:  # one reader, shared by the tiles run in two threads
                if self._file is None:  # its footer (every row group's statistics) is parsed once per process
                    self._file = pq.ParquetFile(self.path)
                table = self._file.read_row_groups(groups.tolist(), columns=cols)
        else:
            table = self._schema.empty_table()
        pos = table.column(_POS).to_numpy()
        geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
        if positions is None:
            gb = shapely.bounds(geoms)
            keep = (gb[:, 0] <= x1) & (gb[:, 2] >= x0) & (gb[:, 1] <= y1) & (gb[:, 3] >= y0)
        else:
            want = np.asarray(positions, dtype=np.int64)
            keep = np.isin(pos, want)
            if int(keep.sum()) != len(np.unique(want)):
                raise InputError(f"scratch buildings store {self.path}: {len(want) - int(keep.sum())} of the "
                                 f"{len(want)} buildings asked for lie outside the box {tuple(bounds)}; report this "
                                 "as a bug")
        order = np.argsort(pos[keep], kind="stable")
        idx = np.flatnonzero(keep)[order]
        data = {}
        for c in self._columns:
            vals = table.column(c).to_numpy(zero_copy_only=False)[idx]  # text: an object array of str / None
            s = pd.Series(vals, index=pos[idx], dtype=object if vals.dtype == object else None)
            dt = self.dtypes.get(c)
            data[c] = s.astype(dt) if dt is not None else s
        frame = pd.DataFrame(data, index=pd.Index(pos[idx]))
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms[idx], index=frame.index, crs=self.crs),
                                crs=self.crs)

    def remove(self) -> None:
        """Delete the scratch file and its folder."""
        self.close()
        self._file = None
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _plain(s: pd.Series) -> np.ndarray:
    """A numeric column as a numpy array with missing values as NaN / None for arrow."""
    if isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        return np.asarray(s.astype(object).where(s.notna(), None).to_numpy(dtype=object))
    return s.to_numpy()
