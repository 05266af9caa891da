"""NetBIOS name service analyzer: RFC 1002 §4.2 (NAME SERVICE PACKETS: header, question
and resource record layouts, NB and NBSTAT records) and RFC 1001 §14.1 (first-level
encoding of names).

The header is DNS's shape (§4.2.1.1) with NetBIOS opcodes and a Broadcast flag::

    ff 6e 01 10 00 01 00 00 00 00 00 00   id, opcode 0 query, RD + B, 1 question
    20 45 43 46 43 ... 41 41 00           32-byte label "ECFC...AA" + root
    00 20 00 01                           NB, IN

A name is 16 bytes (15 characters padded with spaces, then a suffix byte: 00
workstation, 20 file server, 1d master browser...), each byte written as two letters
``'A' + nibble``: ``ECFCFHEDDAEDECDDDIDDEEDBEGDEDCAA`` is ``BRWC0CB383D1F42<00>``.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.dns.analyzer import DNSAnalyzer
from netwatch.errors import MalformedError

PROTO = "NetBIOS"  # name service; app key "netbios"
MAX_NAMES = 32  # names and addresses kept per flow
MAX_RECORDS = 64  # records walked per packet
MAX_SCOPE = 255  # bytes of scope labels after the encoded name
TYPE_NB, TYPE_NBSTAT = 0x20, 0x21
_RR = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
OPCODES = {
    0: "query",
    5: "registration",
    6: "release",
    7: "wack",
    8: "refresh",
    9: "refresh",
    15: "multihomed_registration",
}


def decode_name(encoded: bytes) -> str:
    """RFC 1001 §14.1: 32 letters A-P to ``NAME<xx>`` (trailing spaces dropped)."""
    if len(encoded) != 32 or any(not 0x41 <= c <= 0x50 for c in encoded):
        raise MalformedError(PROTO, "not a first-level encoded NetBIOS name")
    raw = bytes(((encoded[i] - 0x41) << 4) | (encoded[i + 1] - 0x41) for i in range(0, 32, 2))
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in raw[:15]).rstrip(" ")
    if raw[0] == 0x2A and not raw[1:15].strip(b"\x00"):
        text = "*"  # the wildcard name of a node status request (§4.2.17)
    return f"{text}<{raw[15]:02x}>"


def _name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` (or behind one compression pointer) and the position after it."""
    if pos >= len(data):
        raise MalformedError(PROTO, "name runs past the packet")
    if data[pos] & 0xC0 == 0xC0:
        if pos + 2 > len(data):
            raise MalformedError(PROTO, "label pointer truncated")
        target = ((data[pos] & 0x3F) << 8) | data[pos + 1]
        if target >= pos or target >= len(data) or data[target] & 0xC0:
            raise MalformedError(PROTO, "label pointer does not point back to a name")
        name, _ = _name(data, target)
        return name, pos + 2
    if data[pos] != 32:
        raise MalformedError(PROTO, f"first label is {data[pos]} bytes, not 32")
    name = decode_name(data[pos + 1 : pos + 33])
    pos += 33
    start = pos
    while True:  # scope labels (§4.1), usually none
        if pos >= len(data):
            raise MalformedError(PROTO, "name has no terminating root label")
        n = data[pos]
        if n == 0:
            return name, pos + 1
        if n & 0xC0 or pos + 1 + n - start > MAX_SCOPE:
            raise MalformedError(PROTO, "bad scope label")
        pos += 1 + n


def detect_udp(data: bytes) -> bool:
    """A name service packet: a header with at most a few records, then a 32-letter
    encoded name of type NB or NBSTAT in class IN."""
    if len(data) < 50 or data[12] != 32:
        return False
    qd, an, ns, ar = struct.unpack_from("!HHHH", data, 4)
    if qd + an + ns + ar == 0 or qd > 1 or an > 4 or ns > 4 or ar > 1:
        return False
    try:
        _, pos = _name(data, 12)
    except MalformedError:
        return False
    if pos + 4 > len(data):
        return False
    rtype, rclass = struct.unpack_from("!HH", data, pos)
    return rtype in (TYPE_NB, TYPE_NBSTAT) and rclass == 1


class NetBIOSAnalyzer(AnalyzerBase):
    """The name service packets of one UDP flow (queries, registrations, answers)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._opcodes: list[str] = []
        self._names: list[str] = []
        self._addresses: list[str] = []
        self._node_names: list[str] = []
        self._rcodes: list[int] = []
        self._broadcast = False
        self._counts = {"queries": 0, "responses": 0}
        # NetBIOS-NS messages are DNS messages (RFC 1002 §4.2): the DNS parser also reads
        # them, and its transactions (ids, TTLs, rcodes, pairing) feed Zeek's dns.log,
        # which logs name service traffic there. A message it refuses is simply not kept.
        self._dns = DNSAnalyzer(transport="udp")

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        if len(data) < 12:
            raise MalformedError(PROTO, "packet shorter than the header")
        _tid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
        if qd + an + ns + ar > MAX_RECORDS:
            raise MalformedError(PROTO, "too many records")
        response = bool(flags & 0x8000)
        self._counts["responses" if response else "queries"] += 1
        opcode = (flags >> 11) & 0xF
        _add(self._opcodes, OPCODES.get(opcode, str(opcode)))
        self._broadcast = self._broadcast or bool(flags & 0x0010)
        if response and flags & 0xF and (flags & 0xF) not in self._rcodes:
            self._rcodes.append(flags & 0xF)
        pos = 12
        for _ in range(qd):
            name, pos = _name(data, pos)
            _add(self._names, name)
            pos += 4  # type, class
        for _ in range(an + ns + ar):
            pos = self._record(data, pos)
        if pos > len(data):
            raise MalformedError(PROTO, "question runs past the packet")
        try:
            self._dns.feed(direction, data, ts)
        except MalformedError:
            pass  # the NetBIOS record above stands; only the DNS view of it is lost
        return ()

    def _record(self, data: bytes, pos: int) -> int:
        name, pos = _name(data, pos)
        _add(self._names, name)
        if pos + 10 > len(data):
            raise MalformedError(PROTO, "resource record header truncated")
        rtype, _rclass, _ttl, rdlen = _RR.unpack_from(data, pos)
        rdlen = int(rdlen)
        pos += 10
        rdata = data[pos : pos + rdlen]
        if len(rdata) != rdlen:
            raise MalformedError(PROTO, "RDATA runs past the packet")
        if rtype == TYPE_NB:
            # §4.2.2: NB_FLAGS (2) + NB_ADDRESS (4), repeated; registrations too.
            for i in range(0, rdlen - 5, 6):
                _add(self._addresses, str(ipaddress.IPv4Address(rdata[i + 2 : i + 6])))
        elif rtype == TYPE_NBSTAT and rdlen:
            # §4.2.18: NUM_NAMES (1), then 18-byte entries: 15 chars, suffix, flags (2).
            count = rdata[0]
            if 1 + 18 * count > rdlen:
                raise MalformedError(PROTO, "node status names run past RDATA")
            for i in range(count):
                entry = rdata[1 + 18 * i : 1 + 18 * i + 16]
                text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in entry[:15])
                _add(self._node_names, f"{text.rstrip(' ')}<{entry[15]:02x}>")
        return pos + rdlen

    @property
    def finished(self) -> bool:
        return False

    def record(self) -> dict[str, Any]:
        return {
            "opcodes": list(self._opcodes),
            "names": list(self._names),
            "addresses": list(self._addresses),
            "node_status_names": list(self._node_names),
            "rcodes": list(self._rcodes),
            "broadcast": self._broadcast,
            **self._counts,
            "dns": self._dns.record(),
        }

    def summary(self) -> str:
        parts = ["NetBIOS-NS"]
        if self._opcodes:
            parts.append(self._opcodes[0])
        if self._names:
            parts.append(self._names[0])
        if self._addresses:
            parts.append(f"-> {self._addresses[0]}")
        return " ".join(parts)


def _add(items: list[str], value: str) -> None:
    if value not in items and len(items) < MAX_NAMES:
        items.append(value)
