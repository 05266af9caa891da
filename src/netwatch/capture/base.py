"""The packet-source contract.

A source yields *batches* of packets, so that a memory-mapped ring can hand over a whole
block at a time and a file reader a whole buffer: one Python-level iteration per batch,
not per packet. Each packet is a plain tuple (cheaper than an object on the hot path):

    (ts: float seconds since the epoch, linktype: int (LINKTYPE_*), data, wirelen: int)

``data`` is ``bytes`` or a ``memoryview`` that stays valid only until the next batch is
requested (a ring block goes back to the kernel then): consumers copy what they keep.

The file readers and the ring yield :class:`netwatch.model.frames.FrameBlock` batches:
sequences of such tuples to any consumer, whose frames the tracker's fast path also reads
in place (offsets into the shared chunk or block, no slice per packet).

Live sources report the kernel's own counters (``PACKET_STATISTICS``) in ``stats()``;
netwatch's internal drops are counted elsewhere and never mixed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from netwatch.model.linktype import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_RAW_ALIASES,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "LINKTYPE_RAW_ALIASES",
    "Packet",
    "PacketSource",
    "SourceStats",
]

Packet = tuple[float, int, "bytes | memoryview", int]


@dataclass(frozen=True, slots=True)
class SourceStats:
    """Counters from the source itself. ``kernel_drops``: lost before netwatch saw them."""

    received: int = 0
    kernel_drops: int = 0
    interface_drops: int = 0
    bytes_read: int = 0
    bytes_total: int | None = None  # files: for a progress bar


class PacketSource(Protocol):
    """A file or an interface. Chosen once by ``netwatch.capture.open``."""

    #: Human-readable origin: ``file capture.pcap`` / ``interface eth0``.
    description: str
    #: True for live capture (local/remote orientation from the host's addresses).
    live: bool

    def batches(self) -> Iterator[Sequence[Packet]]:
        """Yield batches until the source ends (files) or ``close()`` is called (live).

        Files raise :class:`netwatch.errors.TruncatedCaptureError` *after* yielding every
        packet read before the damage.
        """
        ...

    def stats(self) -> SourceStats: ...

    def close(self) -> None: ...
