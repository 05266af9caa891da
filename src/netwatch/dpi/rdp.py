"""RDP connection start: [MS-RDPBCGR] §2.2.1.1 (X.224 Connection Request: cookie and
RDP_NEG_REQ), §2.2.1.2 (Connection Confirm: RDP_NEG_RSP / RDP_NEG_FAILURE), §2.2.1.3
(MCS Connect Initial with the GCC client data: §2.2.1.3.2 TS_UD_CS_CORE, §2.2.1.3.4
TS_UD_CS_NET); TPKT is RFC 1006 §6, X.224 is ITU-T X.224 §13.3; the MCS PDU is BER
(T.125), its GCC payload PER (T.124).

::

    03 00 00 13  0e e0 00 00 00 00 00  01 00 08 00 0b 00 00 00
    TPKT len=19  LI  CR  dst  src cls  NEG_REQ flags len=8 requestedProtocols=0x0b
    03 00 00 13  0e d0 00 00 12 34 00  02 1f 08 00 08 00 00 00
                     CC                NEG_RSP           selectedProtocol=8 (HYBRID_EX)

A selected protocol other than 0 (standard RDP security) means TLS follows at once
(CredSSP/NLA and RDSTLS run inside it): ``handoff = "TLS"``. With standard security the
client's next PDU, the MCS Connect Initial, names the client (computer name, build,
desktop size, virtual channels); after it the session is RC4-encrypted: ``finished``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.smtp.text import text
from netwatch.errors import MalformedError

PROTO = "RDP"
PORTS = frozenset({3389})
X224_CR, X224_CC, X224_DT = 0xE0, 0xD0, 0xF0
NEG_REQ, NEG_RSP, NEG_FAILURE = 1, 2, 3
#: requestedProtocols / selectedProtocol bits ([MS-RDPBCGR] §2.2.1.1.1).
PROTOCOLS = {0x1: "TLS", 0x2: "CredSSP", 0x4: "RDSTLS", 0x8: "CredSSP-EX", 0x10: "RDSAAD"}
FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}
#: TS_UD_CS_CORE.version -> RDP version ([MS-RDPBCGR] §2.2.1.3.2).
VERSIONS = {0x00080001: "4", 0x00080004: "5+", 0x00080005: "10.0", 0x00080006: "10.1",
            0x00080007: "10.2", 0x00080008: "10.3", 0x00080009: "10.4", 0x0008000A: "10.5",
            0x0008000B: "10.6", 0x0008000C: "10.7", 0x0008000D: "10.8", 0x0008000E: "10.9",
            0x0008000F: "10.10", 0x00080010: "10.11", 0x00080011: "10.12"}  # fmt: skip
CS_CORE, CS_NET = 0xC001, 0xC003
MAX_TPKT_BUFFER = 70 * 1024
MAX_CHANNELS = 31  # §2.2.1.3.4: at most 31 static channels


def protocol_names(flags: int) -> list[str]:
    names = [name for bit, name in PROTOCOLS.items() if flags & bit]
    return names or ["RDP"]


def _ber_len(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise MalformedError(PROTO, "BER length truncated")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n == 0 or n > 3 or pos + 1 + n > len(buf):
        raise MalformedError(PROTO, "bad BER length")
    return int.from_bytes(buf[pos + 1 : pos + 1 + n], "big"), pos + 1 + n


def connect_initial_user_data(pdu: bytes) -> bytes:
    """The userData OCTET STRING of an MCS Connect-Initial (BER ``7f 65``, T.125 §11.1)."""
    if pdu[:2] != b"\x7f\x65":
        raise MalformedError(PROTO, "not an MCS Connect-Initial")
    length, pos = _ber_len(pdu, 2)
    end = pos + length
    if end > len(pdu):
        raise MalformedError(PROTO, "Connect-Initial truncated")
    user_data = b""
    while pos < end:  # domain selectors, upwardFlag, three DomainParameters, userData
        tag = pdu[pos]
        length, body = _ber_len(pdu, pos + 1)
        if body + length > end:
            raise MalformedError(PROTO, "Connect-Initial element runs past its end")
        if tag == 0x04:
            user_data = pdu[body : body + length]
        pos = body + length
    return user_data


def client_data_blocks(user_data: bytes) -> dict[int, bytes]:
    """GCC Conference Create Request (T.124, PER) -> {block type: block body}."""
    key = user_data.find(b"Duca")  # H.221 non-standard key of the client data
    if key < 0:
        raise MalformedError(PROTO, "no client data in the GCC request")
    pos = key + 4
    if pos >= len(user_data):
        raise MalformedError(PROTO, "GCC request truncated")
    length = user_data[pos]
    pos += 1
    if length & 0x80:  # PER length in two bytes
        if pos >= len(user_data):
            raise MalformedError(PROTO, "GCC length truncated")
        length = ((length & 0x3F) << 8) | user_data[pos]
        pos += 1
    data = user_data[pos : pos + length]
    blocks: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(data):
        btype, blen = struct.unpack_from("<HH", data, off)
        if blen < 4 or off + blen > len(data):
            raise MalformedError(PROTO, "client data block runs past its end")
        blocks.setdefault(btype, data[off + 4 : off + blen])
        off += blen
    return blocks


def _utf16z(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").split("\x00", 1)[0]


class RDPAnalyzer(AnalyzerBase):
    """The negotiation of one RDP connection (and the client data with standard security)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._bufs = (bytearray(), bytearray())
        self._pdus = [0, 0]
        self._handoff: str | None = None
        self._done = False
        self.cookie: str | None = None
        self.routing_token: str | None = None
        self.requested: int | None = None
        self.selected: int | None = None
        self.failure: str | None = None
        self.client: dict[str, Any] | None = None
        self.channels: list[str] = []

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if self._handoff or self._done or not data:
            return ()
        buf = self._bufs[direction]
        buf += data
        while not (self._handoff or self._done) and len(buf) >= 4:
            if buf[0] != 3:
                raise MalformedError(PROTO, "not a TPKT")
            (length,) = struct.unpack_from("!H", buf, 2)
            if length < 7:
                raise MalformedError(PROTO, "TPKT shorter than its header")
            if len(buf) < length:
                if len(buf) > MAX_TPKT_BUFFER:
                    raise MalformedError(PROTO, "TPKT buffer overflow")
                break
            tpdu = bytes(buf[4:length])
            del buf[:length]
            self._tpdu(direction, tpdu)
        return ()

    def gap(self, direction: Dir, length: int) -> None:
        self._done = True

    @property
    def buffered(self) -> int:
        client, server = self._bufs
        return len(client) + len(server)

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def handoff(self) -> str | None:
        return self._handoff

    def record(self) -> dict[str, Any]:
        return {
            "cookie": self.cookie,
            "routing_token": self.routing_token,
            "requested_protocols": (
                protocol_names(self.requested) if self.requested is not None else None
            ),
            "requested_protocols_flags": self.requested,
            "selected_protocol": (
                protocol_names(self.selected)[0] if self.selected is not None else None
            ),
            "negotiation_failure": self.failure,
            "client": self.client,
            "channels": self.channels,
        }

    def summary(self) -> str:
        parts = [PROTO]
        if self.cookie:
            parts.append(self.cookie)
        if self.selected is not None:
            parts.append(protocol_names(self.selected)[0])
        return " ".join(parts)

    # -- PDUs ----------------------------------------------------------------------------

    def _tpdu(self, direction: Dir, tpdu: bytes) -> None:
        li = tpdu[0]
        if li + 1 > len(tpdu) or li < 2:
            raise MalformedError(PROTO, "X.224 length indicator past the TPKT")
        code = tpdu[1] & 0xF0
        self._pdus[direction] += 1
        first = self._pdus[direction] == 1
        if direction is Dir.CLIENT and first:
            if code != X224_CR or li < 6:
                raise MalformedError(PROTO, "first client TPDU is not a Connection Request")
            self._request(tpdu[7 : li + 1])
        elif direction is Dir.SERVER and first:
            if code != X224_CC or li < 6:
                raise MalformedError(PROTO, "first server TPDU is not a Connection Confirm")
            self._confirm(tpdu[7 : li + 1])
        elif direction is Dir.CLIENT and code == X224_DT:
            self._client_data(tpdu[li + 1 :])
            self._done = True  # standard security: the rest is encrypted

    def _request(self, var: bytes) -> None:
        if var.startswith(b"Cookie: "):
            end = var.find(b"\r\n")
            if end < 0:
                raise MalformedError(PROTO, "cookie without CRLF")
            token = var[8:end]
            if token.startswith(b"mstshash="):
                self.cookie = text(token[9:])[:128]
            else:
                self.routing_token = text(token)[:128]
            var = var[end + 2 :]
        if len(var) >= 8 and var[0] == NEG_REQ:
            (self.requested,) = struct.unpack_from("<I", var, 4)

    def _confirm(self, var: bytes) -> None:
        if len(var) >= 8 and var[0] == NEG_RSP:
            (self.selected,) = struct.unpack_from("<I", var, 4)
        elif len(var) >= 8 and var[0] == NEG_FAILURE:
            (code,) = struct.unpack_from("<I", var, 4)
            self.failure = FAILURES.get(code, f"0x{code:x}")
            self._done = True
            return
        else:
            self.selected = 0  # no RDP_NEG_RSP: standard RDP security
        if self.selected:
            self._handoff = "TLS"

    def _client_data(self, pdu: bytes) -> None:
        blocks = client_data_blocks(connect_initial_user_data(pdu))
        core = blocks.get(CS_CORE)
        if core is not None and len(core) >= 52:
            version, width, height = struct.unpack_from("<IHH", core, 0)
            layout, build = struct.unpack_from("<II", core, 12)
            client: dict[str, Any] = {
                "version": VERSIONS.get(version, f"0x{version:08x}"),
                "desktop_width": width,
                "desktop_height": height,
                "keyboard_layout": layout,
                "build": build,
                "name": _utf16z(core[20:52]),
                "product_id": None,
            }
            if len(core) >= 206:  # clientDigProductId, after the optional colour fields
                client["product_id"] = _utf16z(core[142:206]) or None
            self.client = client
        net = blocks.get(CS_NET)
        if net is not None and len(net) >= 4:
            (count,) = struct.unpack_from("<I", net, 0)
            for i in range(min(count, MAX_CHANNELS)):
                raw = net[4 + 12 * i : 4 + 12 * i + 8]
                if len(raw) < 8:
                    raise MalformedError(PROTO, "channel list truncated")
                self.channels.append(text(raw.split(b"\x00", 1)[0]))


def detect_tcp(data: bytes) -> bool:
    """A TPKT carrying an X.224 Connection Request (the client's first bytes)."""
    if len(data) < 11 or data[0] != 3 or data[1] != 0:
        return False
    (length,) = struct.unpack_from("!H", data, 2)
    return data[5] & 0xF0 == X224_CR and data[4] == length - 5 and length >= 11
