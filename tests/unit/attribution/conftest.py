"""The attribution fixtures (recorded on a real host by tests/data/attribution/record.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "attribution"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def recorded() -> dict[str, Any]:
    return json.loads((DATA / "recorded.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    """A writable copy of the fake /proc tree (symlinks kept)."""
    import shutil

    dst = tmp_path / "proc"
    shutil.copytree(DATA / "proc", dst, symlinks=True)
    return dst
