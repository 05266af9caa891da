"""NTP analyzer: RFC 5905 §7.3 (packet header), §8 (on-wire protocol), §7.4 (kiss codes);
RFC 1305 (v3) shares the header. Control (mode 6, RFC 9327) and private (mode 7) messages
are recognised by their first byte and counted.

A 48-byte header, then optional extension fields and a MAC::

    23 02 06 e8  00 00 0a 3a  00 00 07 8d  83 bc 03 df   LI=0 VN=4 mode=3, stratum 2,
    <reference ts 8> <origin ts 8> <receive ts 8> <transmit ts 8>   poll 6, precision -24

Timestamps are 32.32 fixed point seconds since 1900. The round trip is measured on the
wire: the capture's time between a request and the reply that echoes its transmit
timestamp as origin, less the server's hold time (transmit - receive, both server clock).
That avoids mixing the client's clock with the capture's (RFC 5905 §8 uses T1..T4 from
the client's clock).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "NTP"
HEADER = struct.Struct("!BBbbII4sQQQQ")  # 48 bytes
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
MAX_PACKET = 1024
MAX_PENDING = 16  # requests waiting for their reply
MODE_NAMES = {
    0: "reserved",
    1: "symmetric_active",
    2: "symmetric_passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control",
    7: "private",
}


def ntp_time(raw: int) -> float:
    """A 64-bit NTP timestamp as seconds since 1900 (within its era)."""
    return raw / 4294967296.0


def unix_time(raw: int) -> float:
    """A transmit timestamp as Unix seconds. RFC 4330 §3: seconds with the top bit clear
    are in era 1 (from 2036-02-07), so 1968-2104 is covered without knowing the era."""
    seconds = ntp_time(raw)
    if raw >> 63 == 0:
        seconds += 2**32
    return seconds - NTP_EPOCH_OFFSET


def refid_text(stratum: int, refid: bytes, version: int) -> str:
    """§7.3: a kiss code or clock source (stratum 0/1) as ASCII, an IPv4 address for
    stratum 2+ (v4 uses the first four bytes of an IPv6 address's MD5; shown the same)."""
    if stratum <= 1:
        text = refid.rstrip(b"\x00")
        if text and all(0x20 < b < 0x7F for b in text):
            return text.decode("ascii")
        return refid.hex(":")
    return ".".join(str(b) for b in refid)


def detect_udp(data: bytes) -> bool:
    """An NTP header: version 1-4, a mode 1-5 with a 48-byte header plus whole 32-bit
    words, stratum at most 16, a sane poll interval (mode 6/7 have their own shorter
    layouts and are not detected on their own)."""
    if len(data) < 48 or len(data) > MAX_PACKET or len(data) % 4:
        return False
    version, mode = (data[0] >> 3) & 7, data[0] & 7
    if not 1 <= version <= 4 or not 1 <= mode <= 5 or data[1] > 16:
        return False
    poll = data[2] if data[2] < 128 else data[2] - 256
    # Not the precision: chrony's client requests carry +32 there, not a clock's log2 s.
    return -6 <= poll <= 17


class NTPAnalyzer(AnalyzerBase):
    """One NTP association (a client/server exchange or a symmetric pair) per flow."""

    protocol = PROTO

    def __init__(self) -> None:
        self._version: int | None = None
        self._modes: list[str] = []
        self._stratum: int | None = None
        self._refid: str | None = None
        self._poll: int | None = None
        self._precision: int | None = None
        self._root_delay: float | None = None
        self._root_dispersion: float | None = None
        self._server_time: float | None = None
        self._pending: dict[int, float] = {}  # request transmit timestamp -> capture ts
        self._round_trip: float | None = None
        self._counts = [0, 0]
        self._control = 0

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        self._counts[direction] += 1
        mode = data[0] & 7
        if mode in (6, 7):
            # Control/private messages (ntpq, ntpdc "monlist"): counted, not decoded.
            if len(data) < 8:
                raise MalformedError(PROTO, "control message shorter than its header")
            self._control += 1
            self._add_mode(MODE_NAMES[mode])
            return ()
        if len(data) < HEADER.size:
            raise MalformedError(PROTO, f"{len(data)}-byte packet, header is 48")
        li_vn_mode, stratum, poll, precision, rdelay, rdisp, refid, _ref, org, rec, xmt = (
            HEADER.unpack_from(data)
        )
        version = (li_vn_mode >> 3) & 7
        if version == 0 or version > 4:
            raise MalformedError(PROTO, f"version {version}")
        self._version = version
        self._add_mode(MODE_NAMES[mode])
        if mode in (1, 3):
            if len(self._pending) < MAX_PENDING and xmt:
                self._pending[xmt] = ts
        if mode in (2, 4, 5) or (mode == 1 and direction == Dir.SERVER):
            # The server's view of the world is what a reply tells.
            self._stratum = stratum
            self._refid = refid_text(stratum, refid, version)
            self._poll = poll
            self._precision = precision
            self._root_delay = rdelay / 65536.0
            self._root_dispersion = rdisp / 65536.0
            if xmt:
                self._server_time = unix_time(xmt)
            sent = self._pending.pop(org, None) if org else None
            if sent is not None and rec and xmt >= rec:
                hold = ntp_time(xmt - rec)  # integer difference: no float rounding
                self._round_trip = max(0.0, (ts - sent) - hold)
        elif self._stratum is None:
            self._stratum = stratum
            self._refid = refid_text(stratum, refid, version)
            self._poll = poll
        return ()

    def _add_mode(self, name: str) -> None:
        if name not in self._modes:
            self._modes.append(name)

    @property
    def finished(self) -> bool:
        return False

    @property
    def app_state(self) -> str | None:
        if self._round_trip is not None:
            return "NTP_SYNCED"
        return "NTP_REQUEST" if self._counts[0] else None

    def record(self) -> dict[str, Any]:
        return {
            "version": self._version,
            "modes": list(self._modes),
            "stratum": self._stratum,
            "reference_id": self._refid,
            "poll": self._poll,
            "precision": self._precision,
            "root_delay": self._root_delay,
            "root_dispersion": self._root_dispersion,
            "server_time": self._server_time,
            "round_trip": self._round_trip,
            "requests": self._counts[0],
            "responses": self._counts[1],
            "control_messages": self._control,
        }

    def summary(self) -> str:
        parts = [f"NTPv{self._version}" if self._version else "NTP"]
        if self._modes:
            parts.append(self._modes[0])
        if self._stratum is not None and self._counts[1]:
            parts.append(f"stratum {self._stratum}")
        if self._round_trip is not None:
            parts.append(f"rtt {self._round_trip * 1000:.1f} ms")
        return " ".join(parts)
