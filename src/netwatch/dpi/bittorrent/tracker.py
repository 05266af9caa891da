"""UDP tracker protocol (BEP 15): how a client asks a tracker for peers over UDP.

A client first obtains a connection id, then announces (or scrapes) with it::

    00 00 04 17 27 10 19 80  00 00 00 00  <transaction 4>          connect request
    protocol id (magic)      action 0
    <connection id 8> 00 00 00 01 <transaction 4> <info_hash 20> <peer_id 20>
    <downloaded 8> <left 8> <uploaded 8> <event 4> <ip 4> <key 4> <num_want 4> <port 2>
                                                                    announce request (98)

Responses start with the action and the transaction id: connect (the connection id),
announce (interval, leechers, seeders, then 6-byte IPv4 or 18-byte IPv6 peers), scrape
(seeders, completed, leechers per hash) and error (a message). Requests come from the
originator, responses from the responder. Requests may carry BEP 41 options (the URL
path) after their fixed part.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netwatch.dpi.bittorrent.bencode import PROTO
from netwatch.dpi.bittorrent.clients import client_of
from netwatch.errors import MalformedError

MAGIC = b"\x00\x00\x04\x17\x27\x10\x19\x80"
ACTIONS = ("connect", "announce", "scrape", "error")
EVENTS = ("none", "completed", "started", "stopped")
ANNOUNCE_REQ = struct.Struct("!8sII20s20sQQQIIIiH")  # 98 bytes


@dataclass(frozen=True, slots=True)
class TrackerMessage:
    action: str
    info_hash: bytes | None = None
    peer_id: bytes | None = None
    event: str | None = None
    port: int | None = None
    seeders: int | None = None
    leechers: int | None = None
    peers: int = 0
    error: str | None = None


def detect_connect(data: bytes) -> bool:
    """A connect request: exactly 16 bytes, the protocol magic and action 0."""
    return len(data) == 16 and data[:12] == MAGIC + b"\x00\x00\x00\x00"


def detect_announce(data: bytes) -> bool:
    """An announce request without its connect (clients keep a connection id for a
    minute): action 1, a known event, a peer id in a known client style (BEP 20), and
    nothing after the 98 bytes but BEP 41 options."""
    if len(data) < ANNOUNCE_REQ.size or data[8:12] != b"\x00\x00\x00\x01":
        return False
    if len(data) > ANNOUNCE_REQ.size and data[ANNOUNCE_REQ.size] > 2:
        return False
    f = ANNOUNCE_REQ.unpack_from(data)
    return f[8] < len(EVENTS) and f[12] != 0 and client_of(f[4]) is not None


def parse_request(data: bytes) -> TrackerMessage:
    if len(data) < 16:
        raise MalformedError(PROTO, "tracker request shorter than 16 bytes")
    (action,) = struct.unpack_from("!I", data, 8)
    if action == 0:
        if data[:8] != MAGIC:
            raise MalformedError(PROTO, "tracker connect without the protocol magic")
        return TrackerMessage("connect")
    if action == 1:
        if len(data) < ANNOUNCE_REQ.size:
            raise MalformedError(PROTO, "tracker announce truncated")
        f = ANNOUNCE_REQ.unpack_from(data)
        event = EVENTS[f[8]] if f[8] < len(EVENTS) else f"event_{f[8]}"
        return TrackerMessage("announce", info_hash=f[3], peer_id=f[4], event=event, port=f[12])
    if action == 2:
        if (len(data) - 16) % 20:
            raise MalformedError(PROTO, "tracker scrape is not whole info hashes")
        return TrackerMessage("scrape", info_hash=data[16:36] or None)
    raise MalformedError(PROTO, f"unknown tracker request action {action}")


def parse_response(data: bytes, ipv6: bool = False) -> TrackerMessage:
    if len(data) < 8:
        raise MalformedError(PROTO, "tracker response shorter than 8 bytes")
    (action,) = struct.unpack_from("!I", data)
    if action == 0:
        if len(data) < 16:
            raise MalformedError(PROTO, "tracker connect response truncated")
        return TrackerMessage("connect")
    if action == 1:
        if len(data) < 20:  # opentracker answers a torrent it does not list with 8 bytes
            return TrackerMessage("announce")
        leechers, seeders = struct.unpack_from("!II", data, 12)
        size = 18 if ipv6 else 6
        return TrackerMessage(
            "announce", seeders=seeders, leechers=leechers, peers=(len(data) - 20) // size
        )
    if action == 2:
        return TrackerMessage("scrape")
    if action == 3:
        return TrackerMessage("error", error=data[8:].decode("utf-8", "replace")[:128])
    raise MalformedError(PROTO, f"unknown tracker response action {action}")
