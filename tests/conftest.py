"""Suite-wide settings: live tests need root and are skipped (with the reason) without it."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="live test: needs root for network namespaces and capture")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)
