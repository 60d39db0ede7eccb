"""Look-ups by id (building_id, roof_id) that stay fast on a city's tables.

pandas 3 stores text as Arrow strings, and ``Series.isin`` / ``reindex`` on them convert every
value in Python (``ArrowStringArray.isin`` builds one Arrow scalar per value looked up): about a
second per 100,000 ids. These helpers look ids up in Arrow's own hash tables
(``pyarrow.compute.index_in`` / ``is_in``) when one side is Arrow text, and otherwise compare plain
Python strings in an object ``Index`` (a C hash table): the same results, a few milliseconds, and
no Python string per id of a city's Arrow columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["id_index", "key_index", "positions", "first_positions", "member", "text_order", "values_at"]


def id_index(values: Any) -> pd.Index:
    """``values`` as an object Index of Python ``str`` (missing values become the text 'nan' / 'None')."""
    if isinstance(values, pd.Index) and values.dtype == object:
        return values
    arr = pd.Series(values, copy=False).astype(str).to_numpy(dtype=object)
    return pd.Index(arr, dtype=object)


def key_index(values: Any) -> pd.Index:
    """``values`` as an Index to look ids up in: Arrow text without missing values as it is held (no
    Python string per id; :func:`positions` and :func:`member` look it up in Arrow), other values as
    :func:`id_index`."""
    if _arrow_text(values) is not None:
        return values if isinstance(values, pd.Index) else pd.Index(pd.Series(values, copy=False).array, copy=False)
    return id_index(values)


def positions(keys: Any, lookup: Any) -> np.ndarray:
    """Position of each ``lookup`` id among ``keys`` (unique), -1 where absent.

    When either side is held as Arrow text (a pandas 3 text column) and neither has missing values,
    the look-up runs in Arrow (``pyarrow.compute.index_in``; the other side converted to Arrow text),
    without turning a city's ids into Python strings and their hash table. Otherwise through
    :func:`id_index`. The result is the same.
    """
    pair = _arrow_pair(keys, lookup)
    if pair is not None:
        import pyarrow.compute as pc

        found = pc.index_in(pair[1], value_set=pair[0])
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return id_index(keys).get_indexer(id_index(lookup))


def first_positions(keys: Any, lookup: Any) -> np.ndarray:
    """Position of each ``lookup`` id among ``keys``, the first of a repeated key; -1 where absent.

    As :func:`positions`, for keys that may repeat (a hand-made table).
    """
    if _arrow_pair(keys, lookup) is not None:
        return positions(keys, lookup)  # Arrow's look-up table keeps a repeated key's first position
    idx = id_index(keys)
    first = np.flatnonzero(~idx.duplicated())
    at = idx[first].get_indexer(id_index(lookup))
    return np.where(at >= 0, first[np.maximum(at, 0)] if len(first) else -1, -1).astype(np.int64)


def text_order(values: Any) -> np.ndarray:
    """Stable order (positions, int64) that sorts ``values`` as text, like
    ``numpy.argsort(Series(values).astype(str).to_numpy(), kind="stable")``.

    Arrow text, or Python ``str`` values without missing ones, are sorted in Arrow
    (``pyarrow.compute.sort_indices``: stable, UTF-8 bytes in code-point order like Python's ``str``
    comparison) without a Python string per value; others as above.
    """
    import pyarrow as pa

    arr = _arrow_text(values)
    if arr is None:
        arr = _python_text_as_arrow(values, pa.large_string())
    if arr is not None:
        import pyarrow.compute as pc

        return pc.sort_indices(arr).to_numpy().astype(np.int64, copy=False)
    return np.argsort(pd.Series(values, copy=False).astype(str).to_numpy(), kind="stable")


def member(values: Any, keys: Any) -> np.ndarray:
    """Whether each of ``values`` is among ``keys`` (bool array).

    In Arrow (``pyarrow.compute.is_in``) when either side is Arrow text, as :func:`positions`.
    """
    pair = _arrow_pair(values, keys)
    if pair is not None:
        import pyarrow.compute as pc

        return pc.is_in(pair[0], value_set=pair[1]).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return id_index(keys).unique().get_indexer(id_index(values)) >= 0


def _arrow_text(values: Any):
    """The Arrow array of a pandas Series / Index / array of Arrow-backed text without missing values, else None."""
    dtype = getattr(values, "dtype", None)
    arrow_text = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
        isinstance(dtype, pd.ArrowDtype) and str(dtype.pyarrow_dtype) in ("string", "large_string"))
    if not arrow_text:
        return None
    import pyarrow as pa

    arr = pa.chunked_array(pa.array(values.array if hasattr(values, "array") else values))
    return arr if arr.null_count == 0 else None


def _python_text_as_arrow(values: Any, type_):
    """Python ``str`` values (a list, set, object array / Series / Index) as Arrow text of ``type_``;
    None when any value is not a ``str`` (a number, a missing value: :func:`id_index` decides those)."""
    import pyarrow as pa

    if isinstance(values, (set, frozenset)):
        values = list(values)
    if isinstance(values, (pd.Series, pd.Index)):
        if values.dtype != object:
            return None
        values = values.to_numpy(dtype=object)
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        return None
    try:
        out = pa.array(arr, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return pa.chunked_array([out]) if out.null_count == 0 else None


#: :func:`_arrow_pair` converts Python ids to Arrow text when they are at most this many times the
#: Arrow ids (plus :data:`_CONVERT_SLACK`); project choice, both conversions are linear in their size.
_CONVERT_RATIO = 4
_CONVERT_SLACK = 10_000


def _arrow_pair(a: Any, b: Any):
    """``(a, b)`` as Arrow text of one type when one of them is held as Arrow text and the other is Arrow
    text or Python ``str`` values, neither with missing values; else None."""
    xa, xb = _arrow_text(a), _arrow_text(b)
    if xa is None and xb is None:
        return None
    # Python values far more numerous than the Arrow ones stay as they are: a few Arrow ids turned into
    # Python strings cost less than a city's Python ids turned into Arrow text at each look-up
    n_arrow = len(xa) if xa is not None else len(xb)
    if len(a if xa is None else b) > _CONVERT_RATIO * n_arrow + _CONVERT_SLACK:
        return None
    if xa is None:
        xa = _python_text_as_arrow(a, xb.type)
    elif xb is None:
        xb = _python_text_as_arrow(b, xa.type)
    if xa is None or xb is None:
        return None
    return (xa, xb) if xa.type == xb.type else (xa, xb.cast(xa.type))


def values_at(series: pd.Series, lookup: Any, fill: float = 0.0, *, pos: np.ndarray | None = None) -> np.ndarray:
    """``series`` (indexed by id) read at each ``lookup`` id as float, ``fill`` where absent.

    ``pos`` = :func:`positions` of ``lookup`` in the series' index, when already known (several
    series on one index).
    """
    pos = positions(series.index, lookup) if pos is None else pos
    vals = series.to_numpy(dtype=float)
    return np.where(pos >= 0, vals[np.maximum(pos, 0)], fill) if len(vals) else np.full(len(pos), fill)
