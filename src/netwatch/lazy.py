"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

The command line imports some packages only for their options; importing everything they
re-export made every command's start-up pay for GeoIP, Prometheus and SQLite code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping


def attribute(package: str, where: Mapping[str, str], name: str) -> object:
    """``name`` from the module ``where`` names for it, imported now."""
    module = where.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
