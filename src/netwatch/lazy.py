"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

The command line imports some packages only for their options; importing everything they
re-export made every command's start-up pay for GeoIP, Prometheus and SQLite code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def attribute(package: str, where: Mapping[str, str], name: str) -> object:
    """``name`` from the module ``where`` names for it, imported now."""
    module = where.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: ``name`` imported from ``where[name]``
    on first use."""

    def __getattr__(name: str) -> object:
        return attribute(package, where, name)

    return __getattr__
