"""DHCP analyzer: DHCPv4 (RFC 2131 §2 message format, RFC 2132 options, §9.6 message
types) and DHCPv6 (RFC 8415 §8 client/server messages, §9 relay messages, §21 options).

DHCPv4 is BOOTP (RFC 951) plus options after a magic cookie::

    01 01 06 00  00 00 3d 1d  00 00 00 00  <ciaddr> <yiaddr> <siaddr> <giaddr>
    op htype hlen hops  xid   secs flags   <chaddr 16> <sname 64> <file 128>
    63 82 53 63  35 01 01  3d 07 01 00 0b 82 01 fc 42 ... ff
    magic cookie  type=DISCOVER  client-id ...                  end

A DHCPv4 conversation spans flows: DISCOVER/REQUEST go from 0.0.0.0:68 to
255.255.255.255:67, OFFER/ACK come back from server:67 to the offered address (or the
broadcast address). Each flow records what its own datagrams say.

DHCPv6 is ``msg-type (1) | transaction-id (3) | options``, each option ``code (2) | len
(2) | data``; IA_NA (3) nests IAADDR (5) options carrying the assigned address.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "DHCP"
MAGIC = b"\x63\x82\x53\x63"
BOOTP_LEN = 236
MAX_MESSAGES = 32  # message types kept per flow; the rest are counted
MAX_OPTIONS = 255  # options walked per message
MAX_NESTING = 4  # DHCPv6 relay-message depth

V4_TYPES = {
    1: "DISCOVER",
    2: "OFFER",
    3: "REQUEST",
    4: "DECLINE",
    5: "ACK",
    6: "NAK",
    7: "RELEASE",
    8: "INFORM",
    9: "FORCERENEW",
    10: "LEASEQUERY",
    11: "LEASEUNASSIGNED",
    12: "LEASEUNKNOWN",
    13: "LEASEACTIVE",
}
V6_TYPES = {
    1: "SOLICIT",
    2: "ADVERTISE",
    3: "REQUEST",
    4: "CONFIRM",
    5: "RENEW",
    6: "REBIND",
    7: "REPLY",
    8: "RELEASE",
    9: "DECLINE",
    10: "RECONFIGURE",
    11: "INFORMATION-REQUEST",
    12: "RELAY-FORW",
    13: "RELAY-REPL",
}
#: v4 option code -> (record field, decoder)
V4_FIELDS = {
    12: "hostname",
    50: "requested_ip",
    51: "lease_time",
    54: "server_id",
    60: "vendor_class",
    1: "subnet_mask",
    3: "routers",
    6: "dns_servers",
    15: "domain",
    55: "parameter_list",
}


def _ip4(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _ip4_list(raw: bytes) -> list[str]:
    if not raw or len(raw) % 4:
        raise MalformedError(PROTO, "address list not a multiple of 4 bytes")
    return [_ip4(raw[i : i + 4]) for i in range(0, len(raw), 4)]


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("utf-8", "replace")


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def detect_udp(data: bytes) -> bool:
    """A BOOTP header with the DHCP magic cookie, or a DHCPv6 message whose options
    exactly fill the datagram (and begin with a known v6 option)."""
    if len(data) >= BOOTP_LEN + 4 and data[236:240] == MAGIC:
        return data[0] in (1, 2) and data[2] <= 16
    if 8 <= len(data) <= 1500 and 1 <= data[0] <= 11:
        try:
            opts = _v6_options(data, 4)
        except MalformedError:
            return False
        return bool(opts) and opts[0][0] in (1, 2, 3, 6, 8, 14, 16, 25, 39)
    return False


def _v6_options(data: bytes, pos: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while pos < len(data):
        if pos + 4 > len(data):
            raise MalformedError(PROTO, "DHCPv6 option header truncated")
        code, length = struct.unpack_from("!HH", data, pos)
        body = data[pos + 4 : pos + 4 + length]
        if len(body) != length:
            raise MalformedError(PROTO, f"DHCPv6 option {code} runs past the message")
        out.append((code, body))
        if len(out) > MAX_OPTIONS:
            raise MalformedError(PROTO, "too many DHCPv6 options")
        pos += 4 + length
    return out


def _v4_options(data: bytes) -> dict[int, bytes]:
    opts: dict[int, bytes] = {}
    pos = BOOTP_LEN + 4
    while pos < len(data):
        code = data[pos]
        if code == 0:  # Pad
            pos += 1
            continue
        if code == 255:  # End
            break
        if pos + 2 > len(data):
            raise MalformedError(PROTO, f"option {code} has no length")
        length = data[pos + 1]
        body = data[pos + 2 : pos + 2 + length]
        if len(body) != length:
            raise MalformedError(PROTO, f"option {code} runs past the message")
        # RFC 3396: a repeated option is one long option, concatenated.
        opts[code] = opts.get(code, b"") + body
        pos += 2 + length
    return opts


class DHCPAnalyzer(AnalyzerBase):
    """The DHCP messages of one flow (v4 or v6)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._version: int | None = None
        self._messages: list[str] = []
        self._more_messages = 0
        self._xids: list[str] = []
        self._f: dict[str, Any] = {
            "client_mac": None,
            "client_id": None,
            "hostname": None,
            "requested_ip": None,
            "assigned_ip": None,
            "lease_time": None,
            "server_id": None,
            "vendor_class": None,
            "subnet_mask": None,
            "routers": None,
            "dns_servers": None,
            "domain": None,
            "parameter_list": None,
            "relay": None,
        }

    # -- feeding -------------------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        if not data:
            return ()
        if len(data) >= BOOTP_LEN + 4 and data[236:240] == MAGIC:
            self._feed_v4(data)
        elif len(data) >= 4 and 1 <= data[0] <= 13 and self._version != 4:
            self._feed_v6(data, 0)
        else:
            raise MalformedError(PROTO, "neither a DHCPv4 nor a DHCPv6 message")
        return ()

    def _add_message(self, name: str, xid: str) -> None:
        if len(self._messages) < MAX_MESSAGES:
            self._messages.append(name)
        else:
            self._more_messages += 1
        if xid not in self._xids and len(self._xids) < MAX_MESSAGES:
            self._xids.append(xid)

    def _feed_v4(self, data: bytes) -> None:
        self._version = 4
        op, htype, hlen = data[0], data[1], data[2]
        if op not in (1, 2) or hlen > 16:
            raise MalformedError(PROTO, f"BOOTP op {op} hlen {hlen}")
        xid = f"0x{data[4:8].hex()}"
        ciaddr, yiaddr, giaddr = data[12:16], data[16:20], data[24:28]
        opts = _v4_options(data)
        mtype = opts.get(53, b"")
        if len(mtype) != 1:
            raise MalformedError(PROTO, "no single-byte DHCP message type (option 53)")
        name = V4_TYPES.get(mtype[0], str(mtype[0]))
        self._add_message(name, xid)
        f = self._f
        if htype == 1 and hlen == 6:
            f["client_mac"] = _mac(data[28:34])
        if giaddr != b"\x00\x00\x00\x00":
            f["relay"] = _ip4(giaddr)
        if name in ("OFFER", "ACK") and yiaddr != b"\x00\x00\x00\x00":
            f["assigned_ip"] = _ip4(yiaddr)
        if name in ("REQUEST", "INFORM", "RELEASE") and ciaddr != b"\x00\x00\x00\x00":
            f["requested_ip"] = _ip4(ciaddr)
        if 61 in opts:
            f["client_id"] = opts[61].hex(":")
        for code, field in V4_FIELDS.items():
            raw = opts.get(code)
            if raw is None:
                continue
            f[field] = self._v4_value(code, raw)

    @staticmethod
    def _v4_value(code: int, raw: bytes) -> Any:
        if code in (50, 54, 1):
            if len(raw) != 4:
                raise MalformedError(PROTO, f"option {code} is not one address")
            return _ip4(raw)
        if code in (3, 6):
            return _ip4_list(raw)
        if code == 51:
            if len(raw) != 4:
                raise MalformedError(PROTO, "lease time is not 4 bytes")
            return int.from_bytes(raw, "big")
        if code == 55:
            return list(raw)
        return _text(raw)

    def _feed_v6(self, data: bytes, depth: int) -> None:
        self._version = 6
        mtype = data[0]
        name = V6_TYPES.get(mtype, str(mtype))
        if mtype in (12, 13):
            # Relay: hop-count (1), link-address (16), peer-address (16), options.
            if len(data) < 34:
                raise MalformedError(PROTO, "DHCPv6 relay header truncated")
            self._f["relay"] = str(ipaddress.IPv6Address(data[2:18]))
            for code, body in _v6_options(data, 34):
                if code == 9 and body and depth < MAX_NESTING:  # Relay Message
                    self._feed_v6(body, depth + 1)
            return
        self._add_message(name, f"0x{data[1:4].hex()}")
        f = self._f
        for code, body in _v6_options(data, 4):
            if code == 1:  # Client Identifier: a DUID
                f["client_id"] = body.hex(":")
                mac = _duid_mac(body)
                if mac:
                    f["client_mac"] = mac
            elif code == 2:
                f["server_id"] = body.hex(":")
            elif code in (3, 4):  # IA_NA / IA_TA
                self._v6_ia(body, 12 if code == 3 else 4)
            elif code == 39 and len(body) > 1:  # Client FQDN: flags, wire-format name
                f["hostname"] = _wire_name(body[1:])
            elif code == 16 and len(body) > 6:  # Vendor Class: enterprise, len-prefixed
                f["vendor_class"] = _text(body[6:])
            elif code == 6:  # Option Request
                f["parameter_list"] = [
                    int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)
                ]
            elif code == 23 and body:  # DNS Recursive Name Server
                f["dns_servers"] = [
                    str(ipaddress.IPv6Address(body[i : i + 16]))
                    for i in range(0, len(body) - 15, 16)
                ]

    def _v6_ia(self, body: bytes, head: int) -> None:
        if len(body) < head:
            raise MalformedError(PROTO, "IA option shorter than its fixed part")
        for code, sub in _v6_options(body, head):
            if code == 5:  # IA Address: address (16), preferred (4), valid (4)
                if len(sub) < 24:
                    raise MalformedError(PROTO, "IAADDR option truncated")
                addr = str(ipaddress.IPv6Address(sub[:16]))
                valid = int.from_bytes(sub[20:24], "big")
                if self._messages and self._messages[-1] in ("ADVERTISE", "REPLY"):
                    self._f["assigned_ip"] = addr
                    self._f["lease_time"] = valid
                else:
                    self._f["requested_ip"] = addr

    # -- output --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return False

    @property
    def app_state(self) -> str | None:
        if not self._messages:
            return None
        return f"DHCP_{self._messages[-1].replace('-', '_')}"

    def record(self) -> dict[str, Any]:
        return {
            "version": self._version,
            "message_types": list(self._messages),
            "more_messages": self._more_messages,
            "transaction_ids": list(self._xids),
            **{k: (list(v) if isinstance(v, list) else v) for k, v in self._f.items()},
        }

    def summary(self) -> str:
        head = "DHCPv6" if self._version == 6 else "DHCP"
        parts = [head, "/".join(dict.fromkeys(self._messages))]
        f = self._f
        if f["assigned_ip"]:
            parts.append(f["assigned_ip"])
        elif f["requested_ip"]:
            parts.append(f"? {f['requested_ip']}")
        if f["hostname"]:
            parts.append(f"({f['hostname']})")
        return " ".join(p for p in parts if p)


def _duid_mac(duid: bytes) -> str | None:
    """RFC 8415 §11.2/§11.4: DUID-LLT (1) and DUID-LL (3) over Ethernet carry the MAC."""
    if len(duid) == 14 and duid[:4] == b"\x00\x01\x00\x01":
        return _mac(duid[8:14])
    if len(duid) == 10 and duid[:4] == b"\x00\x03\x00\x01":
        return _mac(duid[4:10])
    return None


def _wire_name(raw: bytes) -> str:
    labels: list[str] = []
    pos = 0
    while pos < len(raw) and raw[pos]:
        n = raw[pos]
        label = raw[pos + 1 : pos + 1 + n]
        if len(label) != n:
            raise MalformedError(PROTO, "FQDN label runs past the option")
        labels.append(label.decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels)
