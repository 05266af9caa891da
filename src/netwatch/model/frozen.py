"""Building frozen dataclass objects cheaply, for the hot paths that make many of them.

A frozen dataclass's generated ``__init__`` stores every field through
``object.__setattr__`` (to get past the frozen ``__setattr__``): ~110 ns a field. Parsers
make several small frozen objects per flow, and a snapshot a view per row: the two
helpers below build the very same objects (equal, same hash and repr, still frozen,
picklable) at a fraction of that. Both check, when the module using them is imported,
that the field names they are given are the class's, in order, so a class that gains a
field cannot be built by a stale constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, make_dataclass
from typing import Any


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The slot setters of a frozen, slotted dataclass's fields ``names`` (all of them, in
    order; a mismatch is a TypeError, so a class that gains a field cannot be built by
    a stale constructor).

    A frozen dataclass's generated ``__init__`` sets every field through
    ``object.__setattr__``, to get past the frozen ``__setattr__``; setting the slot
    through its descriptor costs about a third of that. Parsers that build many small
    frozen objects per flow use these setters on ``object.__new__(cls)``: the objects
    are the ones the dataclass constructor makes, as long as it has no ``__post_init__``
    and every field is set.
    """
    if tuple(f.name for f in fields(cls)) != names:
        raise TypeError(f"the fields of {cls.__name__} changed: update its constructor")
    return tuple(getattr(cls, name).__set__ for name in names)


def plain_twin(cls: type, *names: str) -> Any:
    """A plain (not frozen) slotted dataclass with the fields ``names`` of the frozen,
    slotted dataclass ``cls`` (all of them, in order, checked as by :func:`slot_setters`).

    The other way to build ``cls`` objects cheaply, faster than :func:`slot_setters` but
    only for a class whose fields are all its own (no dataclass base: the layouts would
    differ): build a twin with every field (positionally or by keyword), then make it a
    ``cls`` by assigning its ``__class__`` (allowed: both have the same slots). The object
    is what ``cls(...)`` gives, frozen from then on. Measured: a TLS ClientHello's 16
    fields 1.76 us by the constructor, 1.0 us by slot setters, 0.32 us by a twin; a
    ConnectionView's 32 by keyword 4.6 us, 1.4 us by a twin.
    """
    if tuple(f.name for f in fields(cls)) != names:
        raise TypeError(f"the fields of {cls.__name__} changed: update its constructor")
    return make_dataclass(f"_{cls.__name__}Fields", list(names), slots=True)
