"""The only layer with threads: wires sources → tracker → snapshots, I/O to the pure core."""

from netwatch.engine.engine import Engine, EngineConfig

__all__ = ["Engine", "EngineConfig"]
