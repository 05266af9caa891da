"""The packet-source contract.

A source yields *batches* of packets, so that a memory-mapped ring can hand over a whole
block at a time and a file reader a whole buffer: one Python-level iteration per batch,
not per packet. Each packet is a plain tuple (cheaper than an object on the hot path):

    (ts: float seconds since the epoch, linktype: int (LINKTYPE_*), data, wirelen: int)

``data`` is ``bytes`` or a ``memoryview`` that stays valid only until the next batch is
requested (a ring block goes back to the kernel then): consumers copy what they keep.

Live sources report the kernel's own counters (``PACKET_STATISTICS``) in ``stats()``;
netwatch's internal drops are counted elsewhere and never mixed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

# tcpdump.org link-layer header types (LINKTYPE_*), the ones netwatch decodes.
LINKTYPE_NULL = 0  # BSD loopback: 4-byte host-order address family
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, version nibble decides
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte network-order family
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW's platform-specific values seen in old pcap files.
LINKTYPE_RAW_ALIASES = (12, 14)

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
