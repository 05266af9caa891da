"""``_keys`` (the key walk that lets ``dpi_values`` skip paths) is written for speed; it must
find exactly what the plain walk over Mappings and sequences finds."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.filters.fields import MAX_DEPTH
from netwatch.store.rows import _keys


class Level(IntEnum):
    LOW = 1


def _model(obj: Any, depth: int = 0) -> set[str]:
    out: set[str] = set()
    if depth > MAX_DEPTH:
        return out
    if isinstance(obj, Mapping):
        out.update(k for k in obj if isinstance(k, str))
        for v in obj.values():
            out |= _model(v, depth + 1)
    elif isinstance(obj, list | tuple):
        for v in obj:
            out |= _model(v, depth + 1)
    return out


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.just(Level.LOW),
)
_trees = st.recursive(
    _scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.tuples(kids, kids),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), kids, max_size=4),
    ),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(_trees)
def test_keys_equal_the_plain_walk(tree: Any) -> None:
    assert _keys(tree) == _model(tree)


def test_depth_bound() -> None:
    deep: Any = {"leaf": 1}
    for i in range(MAX_DEPTH + 3):
        deep = {f"k{i}": deep}
    assert _keys(deep) == _model(deep)
