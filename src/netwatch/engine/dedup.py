"""Packet deduplication: the same packet seen twice within a short window.

Capturing on ``-i any`` shows a packet once per interface it crosses (a veth and its
bridge, a VLAN device and its parent), and a SPAN port often mirrors both directions of a
link. Such copies differ in their link layer and, once routed, in the IP TTL / hop limit
and the IPv4 header checksum (RFC 791 section 3.1; RFC 8200 section 3), so the key of a
packet is its bytes from the IP header on with those fields left out: IPv4
``[0:8] + [9:10] + [12:]`` (all but TTL and checksum), IPv6 ``[0:7] + [8:]`` (all but
the hop limit), cut at :data:`KEY_BYTES` (the TCP/UDP checksum within them covers the rest
of the payload). A packet whose key was seen less than ``window`` seconds before (capture
time) is a duplicate. Non-IP frames (ARP) are never deduplicated.

The set of recent keys is bounded (``max_entries``, oldest evicted first) so a flood
cannot grow it. :class:`Deduplicator` is a filter over the engine's batches: ``drop`` mode
removes duplicates before the tracker sees them (connections are not double-counted, and
the recorder does not store them); ``count`` mode only counts them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from netwatch.capture.base import Packet
from netwatch.decode import link as _link
from netwatch.errors import DecodeError
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

#: Default window (seconds of capture time) and bound on remembered packets.
WINDOW = 0.05
MAX_ENTRIES = 65_536
#: Bytes of the IP packet the key covers at most.
KEY_BYTES = 128

DedupMode = Literal["drop", "count"]


def ip_offset(linktype: int, d: bytes | memoryview) -> tuple[int, int] | None:
    """(IP version, offset of the IP header) of a frame; None when it carries no IP."""
    try:
        if linktype == LINKTYPE_ETHERNET:
            etype, off, _ = _link.ethernet_l3(d)
        elif linktype == LINKTYPE_LINUX_SLL:
            etype, off, _ = _link.sll_l3(d)
        elif linktype == LINKTYPE_LINUX_SLL2:
            etype, off, _ = _link.sll2_l3(d)
        elif linktype == LINKTYPE_RAW or linktype in LINKTYPE_RAW_ALIASES:
            etype, off, _ = _link.raw_l3(d)
        elif linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
            etype, off, _ = _link.null_l3(d, network_order=linktype == LINKTYPE_LOOP)
        elif linktype == LINKTYPE_IPV4:
            etype, off = _link.ETH_IPV4, 0
        elif linktype == LINKTYPE_IPV6:
            etype, off = _link.ETH_IPV6, 0
        else:
            return None
    except DecodeError:
        return None
    if etype == _link.ETH_IPV4:
        return 4, off
    if etype == _link.ETH_IPV6:
        return 6, off
    return None


def packet_key(linktype: int, d: bytes | memoryview) -> bytes | None:
    """The deduplication key of a frame (see the module docstring); None: not IP."""
    where = ip_offset(linktype, d)
    if where is None:
        return None
    version, off = where
    end = min(len(d), off + KEY_BYTES)
    if version == 4:
        if end - off < 20:
            return None
        return bytes(d[off : off + 8]) + bytes(d[off + 9 : off + 10]) + bytes(d[off + 12 : end])
    if end - off < 40:
        return None
    return bytes(d[off : off + 7]) + bytes(d[off + 8 : end])


class Deduplicator:
    """``filter(batch)``: the batch without duplicates (``drop``) or unchanged (``count``)."""

    def __init__(
        self,
        mode: DedupMode = "drop",
        *,
        window: float = WINDOW,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if mode not in ("drop", "count"):
            raise ValueError(f"dedup mode {mode!r}")
        self.mode = mode
        self.window = window
        self.max_entries = max_entries
        self.duplicates = 0
        self.packets = 0
        # key -> capture time last seen; insertion order is time order (capture order),
        # so expiry pops from the front.
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def is_duplicate(self, ts: float, linktype: int, d: bytes | memoryview) -> bool:
        self.packets += 1
        key = packet_key(linktype, d)
        if key is None:
            return False
        seen = self._seen
        horizon = ts - self.window
        while seen:
            first_key, first_ts = next(iter(seen.items()))
            if first_ts >= horizon and len(seen) < self.max_entries:
                break
            del seen[first_key]
        prev = seen.get(key)
        if prev is not None and ts - prev <= self.window:
            self.duplicates += 1
            return True
        seen[key] = ts
        seen.move_to_end(key)
        return False

    def filter(self, batch: Sequence[Packet]) -> Sequence[Packet]:
        if self.mode == "count":
            for ts, lt, d, _ in batch:
                self.is_duplicate(ts, lt, d)
            return batch
        dup = self.is_duplicate
        return [p for p in batch if not dup(p[0], p[1], p[2])]
