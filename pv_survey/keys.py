"""Look-ups by id (building_id, roof_id) that stay fast on a city's tables.

pandas 3 stores text as Arrow strings, and ``Series.isin`` / ``reindex`` on them convert every
value in Python (``ArrowStringArray.isin`` builds one Arrow scalar per value looked up): about a
second per 100,000 ids. These helpers compare plain Python strings in an object ``Index`` (a C
hash table) instead: the same results, a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["id_index", "positions", "member", "values_at"]


def id_index(values: Any) -> pd.Index:
    """``values`` as an object Index of Python ``str`` (missing values become the text 'nan' / 'None')."""
    if isinstance(values, pd.Index) and values.dtype == object:
        return values
    arr = pd.Series(values, copy=False).astype(str).to_numpy(dtype=object)
    return pd.Index(arr, dtype=object)


def positions(keys: Any, lookup: Any) -> np.ndarray:
    """Position of each ``lookup`` id among ``keys`` (unique), -1 where absent."""
    return id_index(keys).get_indexer(id_index(lookup))


def member(values: Any, keys: Any) -> np.ndarray:
    """Whether each of ``values`` is among ``keys`` (bool array)."""
    return id_index(keys).unique().get_indexer(id_index(values)) >= 0


def values_at(series: pd.Series, lookup: Any, fill: float = 0.0, *, pos: np.ndarray | None = None) -> np.ndarray:
    """``series`` (indexed by id) read at each ``lookup`` id as float, ``fill`` where absent.

    ``pos`` = :func:`positions` of ``lookup`` in the series' index, when already known (several
    series on one index).
    """
    pos = positions(series.index, lookup) if pos is None else pos
    vals = series.to_numpy(dtype=float)
    return np.where(pos >= 0, vals[np.maximum(pos, 0)], fill) if len(vals) else np.full(len(pos), fill)
