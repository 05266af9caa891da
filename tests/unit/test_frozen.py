"""``netwatch.model.frozen``: objects made by a builder are the constructor's objects."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, fields

import pytest

from netwatch.flows.conn import Conn
from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from netwatch.model.frozen import frozen_builder
from netwatch.model.snapshot import ConnectionView
from tests.util import build


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Base:
    ts: float


@dataclass(frozen=True, slots=True)
class Child(Base):
    name: str


def _same(a: object, b: object) -> None:
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b) and type(a) is type(b)
    assert pickle.loads(pickle.dumps(b)) == a
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.x = 5  # type: ignore[attr-defined]


def test_builder_makes_the_constructors_object() -> None:
    make = frozen_builder(Point, "x", "y", "label")
    _same(Point(1, 2, "a"), make(1, 2, "a"))
    _same(Point(1, 2, "a"), make(x=1, y=2, label="a"))
    with pytest.raises(TypeError):
        make(1, 2)  # every field, no defaults


def test_stale_field_lists_are_refused() -> None:
    with pytest.raises(TypeError, match="fields of Point changed"):
        frozen_builder(Point, "x", "y")
    with pytest.raises(TypeError):
        frozen_builder(Point, "y", "x", "label")


def test_a_class_with_a_dataclass_base_is_refused() -> None:
    with pytest.raises(TypeError, match="dataclass base"):
        frozen_builder(Child, "ts", "name")


def test_views_are_the_constructors_views() -> None:
    """A view built by the tracker equals one built field by field by the frozen
    constructor from the same values."""
    tr = Tracker()
    f = build.tcp("198.18.0.1", 40000, "198.18.0.2", 443, "S", seq=100)
    tr.packet(1.0, 1, f, len(f))
    c: Conn = next(iter(tr.table.values()))
    v = view(tr, c, 2.0)
    assert type(v) is ConnectionView
    again = ConnectionView(**{fl.name: getattr(v, fl.name) for fl in fields(ConnectionView)})
    assert again == v and hash(again.id) == hash(v.id) and repr(again) == repr(v)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.state = "X"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(v)) == v
