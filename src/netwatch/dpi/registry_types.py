"""The row type of the detector tables (``netwatch.dpi.registry``)."""

from __future__ import annotations

from dataclasses import dataclass

#: Byte sets for ``Detector.first``.
DIGITS = frozenset(b"0123456789")
UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
ALNUM = DIGITS | UPPER | frozenset(b"abcdefghijklmnopqrstuvwxyz")
HIGH_BIT = frozenset(range(0x80, 0x100))


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
    #: the first payload bytes the content check can accept at all (None: any byte, or
    #: not declared); detection skips the row for a payload starting with another byte
    first: frozenset[int] | None = None
