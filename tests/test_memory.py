"""Handing freed memory back between and inside stages (pv_survey/memory.py).

The allocators are replaced by recorders: what is checked is that each call reaches glibc's
``malloc_trim`` and pyarrow's pool, survives a C library without it, and that the callers hand
memory back where they say (the resident-memory figures themselves are the scale benchmark's).
"""

from __future__ import annotations

import ctypes
import gc
import sys
import types
import weakref

import numpy as np
import pandas as pd
import pytest

from pv_survey import memory, partition


class _Libc:
    def __init__(self, calls):
        self.calls = calls

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def recorded(monkeypatch):
    """glibc and pyarrow's pool replaced by recorders; the calls made."""
    calls: list = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name: _Libc(calls) if name == "libc.so.6" else None)
    pool = types.SimpleNamespace(release_unused=lambda: calls.append(("release_unused",)))
    monkeypatch.setitem(sys.modules, "pyarrow", types.SimpleNamespace(default_memory_pool=lambda: pool))
    return calls


def test_free_pages_go_back_through_glibc_and_arrows_pool(recorded):
    memory.return_free_pages()
    assert recorded == [("malloc_trim", 0), ("release_unused",)]


def test_without_glibc_or_pyarrow_nothing_fails(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    monkeypatch.delitem(sys.modules, "pyarrow", raising=False)
    memory.return_free_pages()
    memory.release_freed_memory()


def test_release_collects_cycles_then_returns_the_pages(recorded):
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: freed only by a collection
    alive = weakref.ref(a)
    del a, b
    gc.disable()
    try:
        memory.release_freed_memory()
        assert alive() is None
    finally:
        gc.enable()
    assert recorded == [("malloc_trim", 0), ("release_unused",)]


def test_the_tiles_merge_returns_pages_every_few_columns(monkeypatch):
    """17 columns joined: pages handed back after every ``_MERGE_TRIM_COLUMNS`` of them."""
    import geopandas as gpd
    import shapely

    calls: list[int] = []
    monkeypatch.setattr(partition, "return_free_pages", lambda: calls.append(1))

    def frame(start, n):
        cols = {f"c{i}": np.arange(start, start + n, dtype=float) * i for i in range(16)}
        return gpd.GeoDataFrame(cols, geometry=[shapely.box(x, 0, x + 1, 1) for x in range(start, start + n)],
                                crs="EPSG:4547")

    frames = [frame(3, 3), frame(0, 3)]
    keys = [np.arange(3, 6), np.arange(0, 3)]
    out = partition._concat_layer(frames, keys, "EPSG:4547")
    assert len(out.columns) == 17 and len(calls) == 17 // partition._MERGE_TRIM_COLUMNS >= 1
    np.testing.assert_array_equal(out["c2"].to_numpy(), np.arange(6, dtype=float) * 2)
    assert isinstance(out.index, pd.Index) and len(out) == 6
