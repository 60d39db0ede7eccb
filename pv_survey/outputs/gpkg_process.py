"""survey.gpkg written by a child process while this one writes the other output files.

pyogrio holds Python's GIL while GDAL writes (py-spy ``--gil``), so a thread gains nothing; a
process does. :class:`GpkgProcess` is a :class:`~pv_survey.outputs.writer_process.WriterProcess`
(a fresh interpreter, its own session, one-line failures, scratch files) that hands its child the
layers one at a time in layer order: each is built here
(:func:`~pv_survey.outputs.gpkg.layer_builders`), saved as a scratch Parquet file (GeoParquet for
feature layers) and dropped -- a large one in files of the rows GDAL takes per write, with its QGIS
style made here, so the child holds one of them at a time (:class:`~pv_survey.outputs.gpkg.FrameChunks`);
a spooled layer's parts, already on disk, are passed by path. The child reads each layer back and
writes it with :func:`~pv_survey.outputs.gpkg.write_gpkg` itself, so the file is the same, byte for
byte, as the one written in this process.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..errors import OutputError
from ..memory import release_freed_memory
from . import gpkg as _gpkg
from .gpkg import FrameChunks, arrow_whole, chunkable, write_gpkg
from .spool import LayerSpool, SpooledLayer
from .styles import qml_for_layer
from .writer_process import ChildSide, WriterProcess, can_start, read_scratch

__all__ = ["GPKG_PROCESS_MIN_FEATURES", "GpkgProcess", "use_process"]

#: Features (rows summed over every layer) from which survey.gpkg is written by a child process
#: (project choice: below it the child's start-up, ~1-2 s for a fresh interpreter and its imports,
#: costs more than writing the file beside the others saves; a 100,000-building city's GeoPackage
#: takes ~12 s, bench/bench_outputs.py).
GPKG_PROCESS_MIN_FEATURES = 50_000


def use_process(n_features: int) -> bool:
    """Whether a survey of ``n_features`` rows (over every layer) writes survey.gpkg in a child process
    (where one can be started: :func:`~pv_survey.outputs.writer_process.can_start`)."""
    return can_start() and n_features >= GPKG_PROCESS_MIN_FEATURES


class GpkgProcess(WriterProcess):
    """A child process writing one GeoPackage; a context manager that always ends it
    (:class:`~pv_survey.outputs.writer_process.WriterProcess`).

    Parameters
    ----------
    path : path
        File to create (the staged temporary name of survey.gpkg).
    final : path
        The output's final name, for error messages.
    crs : CRS-like, optional
        As :func:`~pv_survey.outputs.gpkg.write_gpkg`'s ``crs`` (sent as given, or as a
        ``pyproj.CRS``, which pickles as its definition).
    timestamp : str
        GeoPackage timestamp (:func:`~pv_survey.outputs.gpkg.gpkg_timestamp`).
    scratch_in : path, optional
        Folder in which the scratch folder of the layers' Parquet files is made (default: the
        system's temporary folder).
    """

    job = "pv_survey.outputs.gpkg_process:_write_job"
    what = "GeoPackage"
    scratch_kind = "gpkg"

    def __init__(self, path: str | Path, *, final: str | Path, crs: Any, timestamp: str,
                 scratch_in: str | Path | None = None) -> None:
        if crs is not None and not isinstance(crs, (str, int)):
            import pyproj

            crs = pyproj.CRS.from_user_input(crs)
        super().__init__(path, final=final, args=(crs, timestamp), scratch_in=scratch_in)

    def write(self, layers: Mapping[str, Callable[[], Any]]) -> None:
        """Hand the child every layer in order: built here one at a time, saved, dropped.

        Parameters
        ----------
        layers : mapping
            Layer name -> function building its frame, or a frame, or a
            :class:`~pv_survey.outputs.spool.SpooledLayer` (as :func:`write_gpkg` takes).
        """
        self._send(("names", list(layers)))
        for name, build in layers.items():
            layer = build() if callable(build) else build
            spec = self._save(name, layer)
            del layer
            self._send(("layer", name, spec))

    def _save(self, name: str, layer: Any) -> dict:
        """Where the child reads ``layer`` from (a spooled layer's parts stay where they are)."""
        if isinstance(layer, SpooledLayer):
            return {"parts": [(str(p), n) for p, n in layer.parts], "empty": self._file(name, layer.empty_frame)}
        rows = None
        if isinstance(layer, _gpkg.OrderedLayer):  # its chunks taken in order from the rows as held
            layer, rows = layer.frame, layer.order
        if isinstance(layer, pd.DataFrame) and chunkable(layer, rows):
            spec = self._chunks(name, layer, rows)
            if spec is not None:
                return spec
        if rows is not None:
            layer = _gpkg.OrderedLayer(layer, rows).in_order()
        return {"file": self._file(name, layer)}

    def _chunks(self, name: str, frame: pd.DataFrame, rows: np.ndarray | None = None) -> dict | None:
        """A large layer as scratch files of :data:`~pv_survey.outputs.gpkg.WRITE_CHUNK_FEATURES` rows
        with its style (the child then holds one chunk, not the layer: :class:`FrameChunks`); None when
        a chunk would not read back as it was (the layer then goes whole). ``rows``: the order of the
        rows (each chunk taken from the frame as held, with the index of the ordered layer's slice)."""
        files = []
        step = _gpkg.WRITE_CHUNK_FEATURES
        for a in range(0, len(frame), step):
            if rows is None:
                part = frame.iloc[a:a + step]
            else:
                part = frame.iloc[rows[a:a + step]]
                part.index = pd.RangeIndex(a, a + len(part))
            spec = self._file(name, part, pickle_ok=False)
            del part
            if spec is None:
                for f in files:
                    Path(f["parquet"]).unlink(missing_ok=True)
                return None
            files.append(spec)
        return {"chunks": files, "qml": qml_for_layer(name, frame), "arrow": arrow_whole(frame)}


# ---------------------------------------------------------------------- the child


def _write_job(side: ChildSide, path: str, final: str, crs: Any, timestamp: str) -> None:
    """The writer process's work: receive the layers and write them with :func:`write_gpkg`."""
    names = side.recv("names")[1]
    write_gpkg(path, {name: partial(_receive_layer, side, name) for name in names}, crs=crs, timestamp=timestamp)


def _receive_layer(side: ChildSide, name: str) -> Any:
    """The next layer from the parent (it must be ``name``), read back from its scratch file.

    What the layer before it held (its frames, GDAL's R-tree build) is handed back to the operating
    system first: glibc keeps freed memory for reuse, so without it the child's resident memory grew
    layer by layer to the largest it had held plus the fragments of every other layer. (Not between
    a layer's chunks: they are of one size, so the next reuses what the last freed; handing it back
    and faulting it in again cost ~1 s a 1,000,000-row layer for no lower peak, measured.)
    """
    release_freed_memory()
    _, got, spec = side.recv("layer")
    if got != name:
        raise OutputError(f"GeoPackage writer: expected layer '{name}', got '{got}'; report this as a bug")
    if "parts" in spec:
        return LayerSpool.of_parts(name, spec["parts"], read_scratch(spec["empty"]))
    if "chunks" in spec:
        files = spec["chunks"]
        return FrameChunks(lambda: (read_scratch(f) for f in files), qml=spec["qml"], arrow=spec["arrow"])
    return read_scratch(spec["file"])
