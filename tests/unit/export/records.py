"""Connection records of corpus captures, computed once per test session."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from tests.unit.engine.helpers import analyze


@functools.cache
def _records(path: str) -> tuple[dict[str, Any], ...]:
    return tuple(analyze(Path(path)))


def records_of(path: Path) -> list[dict[str, Any]]:
    return [dict(r) for r in _records(str(path))]
