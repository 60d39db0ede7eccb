"""Id look-ups (pv_survey.keys): the Arrow path gives what a plain dict / set of the ids as text gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pv_survey.keys import first_positions, key_index, member, positions, text_order

KEYS = ["B1", "B2", "甲楼", "B4", ""]
LOOKUP = ["B4", "X", "甲楼", "B1", "B1", ""]


def _forms(values):
    """The same ids as each kind of holder the pipeline passes: Arrow text (pandas 3 'str', both Arrow
    string types), object Series / Index / array, and a list."""
    return {
        "str": pd.Series(values, dtype="str"),
        "arrow-large": pd.Series(values, dtype=pd.ArrowDtype(pa.large_string())),
        "arrow-small": pd.Series(values, dtype=pd.ArrowDtype(pa.string())),
        "object": pd.Series(values, dtype=object),
        "index": pd.Index(values, dtype=object),
        "str-index": pd.Index(values, dtype="str"),
        "array": np.asarray(values, dtype=object),
        "list": list(values),
    }


def _expected_positions(keys, lookup):
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(str(k), i)
    return np.array([first.get(str(v), -1) for v in lookup])


@pytest.mark.parametrize("k_form", list(_forms(KEYS)))
@pytest.mark.parametrize("l_form", list(_forms(LOOKUP)))
def test_positions_and_member_agree_with_a_dict_in_every_holder(k_form, l_form):
    keys, lookup = _forms(KEYS)[k_form], _forms(LOOKUP)[l_form]
    want = _expected_positions(KEYS, LOOKUP)
    np.testing.assert_array_equal(positions(keys, lookup), want)
    np.testing.assert_array_equal(first_positions(keys, lookup), want)
    np.testing.assert_array_equal(member(lookup, keys), want >= 0)
    assert positions(keys, lookup).dtype == np.int64 and member(lookup, keys).dtype == bool


def test_first_positions_takes_the_first_of_a_repeated_key_in_both_paths():
    keys = ["a", "b", "a", "c", "b"]
    lookup = ["b", "a", "z", "c"]
    want = [1, 0, -1, 3]
    for holder in (pd.Series(keys, dtype="str"), pd.Series(keys, dtype=object)):
        for look in (pd.Series(lookup, dtype="str"), pd.Series(lookup, dtype=object)):
            np.testing.assert_array_equal(first_positions(holder, look), want)


def test_missing_values_and_numbers():
    # a column with a missing id goes the way of id_index (no Arrow look-up); a number is its text
    with_na = pd.Series(["B1", None, "7"], dtype="str")
    np.testing.assert_array_equal(member(with_na, ["B1", "7"]), [True, False, True])
    np.testing.assert_array_equal(positions(["7", "B1"], with_na), [1, -1, 0])
    np.testing.assert_array_equal(member(pd.Series(["7", "8"], dtype="str"), [7]), [True, False])
    np.testing.assert_array_equal(positions(pd.Series(["1", "2"], dtype="str"), [2, 1, 3]), [1, 0, -1])
    np.testing.assert_array_equal(member(pd.Series(["a"], dtype="str"), set()), [False])
    np.testing.assert_array_equal(member(pd.Series(["a", "b"], dtype="str"), {"b"}), [False, True])


def test_a_few_arrow_ids_against_many_python_ids_and_back():
    many = np.array([f"B{i}" for i in range(60_000)], dtype=object)
    few = pd.Series(["B59999", "B3", "nope"], dtype="str")
    np.testing.assert_array_equal(positions(pd.Index(many), few), [59_999, 3, -1])
    np.testing.assert_array_equal(member(few, many), [True, True, False])
    got = member(pd.Series(many), pd.Series(["B5", "B59998"], dtype="str"))
    assert got.sum() == 2 and got[5] and got[59_998]


def test_key_index_keeps_arrow_text_as_held():
    ids = pd.Series(["x", "y"], dtype="str")
    idx = key_index(ids)
    assert isinstance(idx, pd.Index) and idx.dtype == ids.dtype and list(idx) == ["x", "y"]
    assert key_index(pd.Series(["x", None], dtype="str")).dtype == object  # missing: as id_index
    assert key_index(pd.Series([1, 2])).tolist() == ["1", "2"]


@pytest.mark.parametrize("form", ["str", "arrow-large", "arrow-small", "object", "index", "array", "list"])
def test_text_order_is_numpys_stable_argsort_of_the_text(form):
    rng = np.random.default_rng(5)
    values = list(np.array(["b", "a", "é", "a", "Z", "b", "甲", "", "B10", "B9"], dtype=object)[rng.integers(0, 10, 500)])
    want = np.argsort(np.asarray(values, dtype=object), kind="stable")  # ties keep their order
    got = text_order(_forms(values)[form])
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


def test_text_order_of_numbers_sorts_their_text():
    np.testing.assert_array_equal(text_order(pd.Series([10, 9, 100])), [0, 2, 1])  # "10" < "100" < "9"
