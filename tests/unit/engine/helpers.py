"""Run the engine in-process over a capture and collect its records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netwatch.capture.pcapfile import open_capture_file
from netwatch.engine import Engine, EngineConfig
from netwatch.model.snapshot import ConnectionView


def analyze(path: Path, **config: Any) -> list[dict[str, Any]]:
    views: list[ConnectionView] = []
    engine = Engine(open_capture_file(path), EngineConfig(**config), on_finish=views.append)
    engine.run()
    return [v.to_record() for v in views]


def analyze_engine(path: Path, **config: Any) -> tuple[Engine, list[dict[str, Any]]]:
    views: list[ConnectionView] = []
    engine = Engine(open_capture_file(path), EngineConfig(**config), on_finish=views.append)
    engine.run()
    return engine, [v.to_record() for v in views]
