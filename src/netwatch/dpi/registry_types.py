"""The row type of the detector tables (``netwatch.dpi.registry``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detector:
    protocol: str
    transport: str  # "tcp" | "udp"
    module: str
    detect: str  # name of ``(data: bytes) -> bool`` in module
    factory: str  # name of the analyzer class in module
    ports: frozenset[int]
    #: keyword arguments the factory takes: "server_port", "transport"
    kwargs: tuple[str, ...] = ()
