"""Layers too large to hold for a city, kept on disk part by part (issues 13 and 18).

A 1,000,000-building run lays out ~9 million module row segments (the ``modules`` layer) and
~7 million points of the sites' capacity-yield curves (``site_curves``). Held as one frame each
they would need gigabytes; instead each tile's rows are written, as the tile arrives, to a scratch
Parquet part (GeoParquet for feature layers) and the writers take the parts one at a time: the
GeoPackage appends them chunk by chunk, the report reads only the sites it draws.

The layer's rows are the parts in tile order (:meth:`LayerSpool.add`'s ``key``), whatever order
the tiles arrive in, so a run on a cluster writes the same file as one in this process. The
scratch folder is removed when the spool is garbage-collected (the run's result dropped) or at
exit; ``SurveyResult.layers["modules"]`` reads the layer back on demand.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import OutputError
from ..scratch import scratch_dir

__all__ = ["LayerSpool", "SpooledLayer", "ResultLayers", "materialise"]


#: Spooled parts waiting for the background writer at most: the tile that made them and the next
#: (project choice: memory holds two tiles' layout frames, the writer keeps up with the tiles).
PENDING_PARTS = 2


def _write_part(frame: pd.DataFrame, path: Path, name: str) -> None:
    try:
        frame.to_parquet(path, index=False)
    except OSError as exc:
        raise OutputError(f"{path}: writing a scratch part of layer '{name}' failed ({exc}); check free space "
                          "in the temporary folder (TMPDIR)") from exc


class LayerSpool:
    """Scratch Parquet parts of one run's large layers, by layer name and tile key.

    Parameters
    ----------
    directory : path, optional
        Where the scratch folder is made (default: the system's temporary folder).
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.dir = scratch_dir("spool", directory)  # a killed run's spool is removed by the next one
        self._parts: dict[str, dict[int, tuple[Path, int]]] = {}
        self._empty: dict[str, pd.DataFrame] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.dir), True)

    def add(self, name: str, key: int, frame: pd.DataFrame) -> None:
        """Keep ``frame`` as part ``key`` of layer ``name`` (parts are read in key order).

        The part is written by a background thread while the caller goes on (GeoParquet's WKB
        encoding and Arrow's writer release the GIL); at most :data:`PENDING_PARTS` parts wait
        in memory. A failed write is raised, as :class:`OutputError`, by the next ``add`` or by
        the first read of the layer.
        """
        if name not in self._empty:
            self._empty[name] = frame.iloc[:0].copy()
            self._parts[name] = {}
        if key in self._parts[name]:
            raise OutputError(f"scratch layer '{name}': part {key} written twice; report this as a bug")
        self._collect(block=len(self._pending) >= PENDING_PARTS)
        if len(frame) == 0:
            return
        path = self.dir / f"{name}-{int(key):07d}.parquet"
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pv-survey-spool")
        self._pending.append(self._writer.submit(_write_part, frame.reset_index(drop=True), path, name))
        self._parts[name][key] = (path, len(frame))

    def _collect(self, *, block: bool) -> None:
        """Forget the parts written; raise the first failure. ``block``: wait for the oldest part
        (one at a time until fewer than :data:`PENDING_PARTS` wait)."""
        while self._pending and (self._pending[0].done() or block):
            self._pending.pop(0).result()
            block = block and len(self._pending) >= PENDING_PARTS

    def flush(self) -> None:
        """Wait until every part added is on disk; raise the first failed write."""
        while self._pending:
            self._pending.pop(0).result()

    def _written(self, name: str) -> dict[int, tuple[Path, int]]:
        """The parts of layer ``name``, every one of them on disk."""
        self.flush()
        return self._parts[name]

    def __contains__(self, name: str) -> bool:
        return name in self._empty

    def layer(self, name: str) -> "SpooledLayer":
        """The layer ``name`` (see :class:`SpooledLayer`)."""
        if name not in self._empty:
            raise KeyError(name)
        return SpooledLayer(self, name)

    def remove(self) -> None:
        """Delete the scratch folder now (after the parts being written: their failures are moot)."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        self._pending = []
        self._finalizer()

    @classmethod
    def of_parts(cls, name: str, parts: list[tuple[str | Path, int]], empty: pd.DataFrame) -> "SpooledLayer":
        """Layer ``name`` over Parquet parts another spool wrote (e.g. in the parent process).

        Parameters
        ----------
        name : str
            Layer name.
        parts : list of (path, rows)
            The parts in layer order (:attr:`SpooledLayer.parts`).
        empty : DataFrame
            The layer's columns and dtypes, no rows (:attr:`SpooledLayer.empty_frame`).

        The parts are not this spool's: it has no scratch folder and never removes them.
        """
        spool = cls.__new__(cls)
        spool.dir = None
        spool._parts = {name: {k: (Path(p), int(n)) for k, (p, n) in enumerate(parts)}}
        spool._empty = {name: empty}
        spool._writer, spool._pending = None, []
        spool._finalizer = weakref.finalize(spool, lambda: None)
        return spool.layer(name)


class SpooledLayer:
    """One layer of a :class:`LayerSpool`: its parts read in key order."""

    def __init__(self, spool: LayerSpool, name: str) -> None:
        self.spool = spool
        self.name = name

    @property
    def empty_frame(self) -> pd.DataFrame:
        """The layer's columns and dtypes, no rows."""
        return self.spool._empty[self.name]

    @property
    def is_geo(self) -> bool:
        return isinstance(self.empty_frame, gpd.GeoDataFrame)

    @property
    def crs(self) -> Any:
        return self.empty_frame.crs if self.is_geo else None

    def __len__(self) -> int:
        return int(sum(n for _, n in self.spool._parts[self.name].values()))

    @property
    def parts(self) -> list[tuple[Path, int]]:
        """(Parquet file, rows) of each part, in layer order."""
        parts = self.spool._written(self.name)
        return [parts[k] for k in sorted(parts)]

    def _read(self, path: Path, columns=None, filters=None) -> pd.DataFrame:
        if self.is_geo and (columns is None or self.empty_frame.geometry.name in columns):
            return gpd.read_parquet(path, columns=columns, filters=filters)
        return pd.read_parquet(path, columns=columns, filters=filters)

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The parts' frames in key order (one in memory at a time); the empty frame for an empty layer."""
        parts = self.spool._written(self.name)
        if not parts:
            yield self.empty_frame if columns is None else self.empty_frame[columns]
            return
        for key in sorted(parts):
            yield self._read(parts[key][0], columns)

    def column(self, name: str) -> np.ndarray:
        """One column over every part (e.g. the yields a layer style classes)."""
        vals = [c[name].to_numpy() for c in self.chunks([name])]
        return np.concatenate(vals) if vals else np.empty(0)

    def read(self, *, building_ids=None) -> pd.DataFrame:
        """The whole layer as one frame, or only the rows of ``building_ids``."""
        filters = None if building_ids is None else [("building_id", "in", [str(b) for b in building_ids])]
        parts = self.spool._written(self.name)
        frames = [self._read(parts[k][0], filters=filters) for k in sorted(parts)]
        frames = [f for f in frames if len(f)] or [self.empty_frame]
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
        if self.is_geo and not isinstance(out, gpd.GeoDataFrame):
            out = gpd.GeoDataFrame(out, geometry=self.empty_frame.geometry.name, crs=self.crs)
        return out


def materialise(layer: Any) -> Any:
    """A frame for a layer that may be spooled (:class:`SpooledLayer` read whole)."""
    return layer.read() if isinstance(layer, SpooledLayer) else layer


class ResultLayers(Mapping):
    """``SurveyResult.layers``: name -> frame; a spooled layer is read from its parts when asked for."""

    def __init__(self, layers: Mapping[str, Any] | None = None) -> None:
        self._layers = dict(layers or {})

    def __getitem__(self, name: str) -> Any:
        return materialise(self._layers[name])

    def __iter__(self):
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def raw(self, name: str) -> Any:
        """The layer as held (a :class:`SpooledLayer` is not read)."""
        return self._layers[name]

    def __repr__(self) -> str:
        return f"ResultLayers({list(self._layers)})"
