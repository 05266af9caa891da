"""``netwatch.model.frozen``: objects built the cheap ways are the constructor's objects."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, fields

import pytest

from netwatch.flows.conn import Conn
from netwatch.flows.tracker import Tracker
from netwatch.flows.view import view
from netwatch.model.frozen import plain_twin, slot_setters
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


def test_plain_twin_builds_the_constructors_object() -> None:
    twin = plain_twin(Point, "x", "y", "label")
    for p in (twin(1, 2, "a"), twin(x=1, y=2, label="a")):
        p.__class__ = Point
        _same(Point(1, 2, "a"), p)


def test_slot_setters_build_the_constructors_object() -> None:
    sx, sy, sl = slot_setters(Point, "x", "y", "label")
    p = object.__new__(Point)
    sx(p, 1)
    sy(p, 2)
    sl(p, "a")
    _same(Point(1, 2, "a"), p)
    s_ts, s_name = slot_setters(Child, "ts", "name")  # a dataclass base: setters work
    c = object.__new__(Child)
    s_ts(c, 1.0)
    s_name(c, "n")
    assert c == Child(1.0, "n") and repr(c) == repr(Child(1.0, "n"))


@pytest.mark.parametrize("make", [plain_twin, slot_setters])
def test_stale_field_lists_are_refused(make: object) -> None:
    with pytest.raises(TypeError, match="fields of Point changed"):
        make(Point, "x", "y")  # type: ignore[operator]
    with pytest.raises(TypeError):
        make(Point, "y", "x", "label")  # type: ignore[operator]


def test_a_twin_cannot_become_a_class_with_a_dataclass_base() -> None:
    twin = plain_twin(Child, "ts", "name")
    c = twin(1.0, "n")
    with pytest.raises(TypeError):
        c.__class__ = Child


def test_views_are_the_constructors_views() -> None:
    """A view built by the tracker's twin equals one built field by field by the frozen
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
