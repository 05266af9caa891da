"""WireGuard analyzer: the message formats of the WireGuard whitepaper (Donenfeld,
"WireGuard: Next Generation Kernel Network Tunnel", §5.4.2-§5.4.7), one UDP datagram
each. Every message opens with a type byte and three reserved zero bytes::

    01 00 00 00  <sender 4> <ephemeral 32> <static 32+16> <timestamp 12+16> <mac1 16> <mac2 16>
    handshake initiation, 148 bytes
    02 00 00 00  <sender 4> <receiver 4> <ephemeral 32> <empty 0+16> <mac1 16> <mac2 16>
    handshake response, 92 bytes
    03 00 00 00  <receiver 4> <nonce 24> <cookie 16+16>        cookie reply, 64 bytes
    04 00 00 00  <receiver 4> <counter 8 LE> <packet, padded to 16, +16>   transport data

Indices are little-endian 32-bit values a peer picks per session; a data packet names
the receiver's index, so the indices tie sessions and rekeys (every 2 minutes) together.
A non-zero mac2 means the initiator answered a cookie (the responder was under load).
Nothing is decrypted: the record says which messages, sessions and volumes were seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "WireGuard"
PORT_HINTS = frozenset({51820})
#: message type -> (name, exact size or None for "at least 32, a multiple of 16")
MESSAGES: dict[int, tuple[str, int | None]] = {
    1: ("handshake_initiation", 148),
    2: ("handshake_response", 92),
    3: ("cookie_reply", 64),
    4: ("transport_data", None),
}
MIN_DATA = 32  # header 16 + the AEAD tag of an empty keepalive
MAX_INDICES = 16


@dataclass(frozen=True, slots=True)
class WireGuardHandshake(AppEvent):
    """A handshake response: a new session between the two indices (hex)."""

    initiator_index: str
    responder_index: str


def _index_text(raw: bytes) -> str:
    return raw[::-1].hex()  # little-endian on the wire, shown as a number


def _shape(data: bytes) -> int | None:
    """The message type if ``data`` has a WireGuard message's header and size."""
    if len(data) < MIN_DATA or data[1:4] != b"\x00\x00\x00":
        return None
    entry = MESSAGES.get(data[0])
    if entry is None:
        return None
    size = entry[1]
    if size is None:
        return 4 if len(data) % 16 == 0 else None
    return data[0] if len(data) == size else None


def detect_udp(data: bytes) -> bool:
    """A handshake initiation, response or cookie reply (exact sizes)."""
    kind = _shape(data)
    return kind is not None and kind != 4


def detect_udp_midstream(data: bytes) -> bool:
    """A transport data message of a tunnel the capture joined late: the header, a size
    that is a multiple of 16, and a counter below 2**48 (they start at zero)."""
    return _shape(data) == 4 and data[14:16] == b"\x00\x00"


class WireGuardAnalyzer(AnalyzerBase):
    """One WireGuard tunnel (a UDP flow between two peers)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._counts: dict[str, int] = {name: 0 for name, _ in MESSAGES.values()}
        self._data_bytes = [0, 0]
        self._indices: list[list[str]] = [[], []]  # sender indices per direction
        self._initiator: Dir | None = None
        self._handshakes = 0
        self._under_load = False
        self._keepalives = 0
        self._max_counter = [0, 0]
        self._first_handshake_ts: float | None = None
        self._last_handshake_ts: float | None = None

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        kind = _shape(data)
        if kind is None:
            raise MalformedError(PROTO, "not a WireGuard message (type, reserved bytes, size)")
        name = MESSAGES[kind][0]
        self._counts[name] += 1
        event: WireGuardHandshake | None = None
        if kind == 1:
            if self._initiator is None:
                self._initiator = direction
            self._index(direction, data[4:8])
            if data[132:148] != b"\x00" * 16:
                self._under_load = True
        elif kind == 2:
            self._index(direction, data[4:8])
            self._handshakes += 1
            event = WireGuardHandshake(ts, _index_text(data[8:12]), _index_text(data[4:8]))
            if self._first_handshake_ts is None:
                self._first_handshake_ts = ts
            self._last_handshake_ts = ts
            if data[76:92] != b"\x00" * 16:
                self._under_load = True
        elif kind == 3:
            self._under_load = True
        else:
            self._data_bytes[direction] += len(data) - MIN_DATA
            if len(data) == MIN_DATA:
                self._keepalives += 1
            counter = int.from_bytes(data[8:16], "little")
            self._max_counter[direction] = max(self._max_counter[direction], counter)
        return () if event is None else (event,)

    def _index(self, direction: Dir, raw: bytes) -> None:
        text = _index_text(raw)
        seen = self._indices[direction]
        if text not in seen and len(seen) < MAX_INDICES:
            seen.append(text)

    @property
    def finished(self) -> bool:
        return False

    def record(self) -> dict[str, Any]:
        init = self._initiator
        initiator = None if init is None else ("originator" if init == Dir.CLIENT else "responder")
        return {
            "messages": dict(self._counts),
            "handshakes": self._handshakes,
            "initiator": initiator,
            "originator_indices": list(self._indices[Dir.CLIENT]),
            "responder_indices": list(self._indices[Dir.SERVER]),
            "under_load": self._under_load,
            "keepalives": self._keepalives,
            "data_bytes_originator": self._data_bytes[Dir.CLIENT],
            "data_bytes_responder": self._data_bytes[Dir.SERVER],
            "max_counter": max(self._max_counter),
            "first_handshake": self._first_handshake_ts,
            "last_handshake": self._last_handshake_ts,
        }

    def summary(self) -> str:
        if self._handshakes:
            return f"WireGuard ({self._handshakes} handshake{'s' if self._handshakes > 1 else ''})"
        return "WireGuard"

    @property
    def app_state(self) -> str | None:
        if self._handshakes:
            return "WG_ESTABLISHED"
        return "WG_HANDSHAKE" if self._counts["handshake_initiation"] else None

    @property
    def idle_timeout(self) -> float | None:
        return 180.0  # REJECT_AFTER_TIME: a session's keys die after 3 minutes
