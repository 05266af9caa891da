"""Flow identifiers shared by the exports: Community ID v1, EVE ``flow_id``, Zeek ``uid``.

Community ID v1 (corelight/community-id-spec, "Pseudo code" and "Technical details"):
SHA-1 over ``seed(2) . saddr(4|16) . daddr(4|16) . proto(1) . 0(1) . sport(2) . dport(2)``,
all big-endian, with the endpoints ordered so the numerically smaller ``(addr, port)`` comes
first; the result is ``"1:" + base64(digest)``. ICMP and ICMPv6 use the message type as the
source "port" and, for request/response types, the counterpart type as the destination port
(otherwise the code): those one-way messages keep their order. Protocols without ports hash
the addresses and protocol only.

Worked example (the spec's TCP vector): 1.2.3.4:1122 -> 5.6.7.8:3344, seed 0 hashes
``0000 01020304 05060708 06 00 0462 0d10`` to ``1:wCb3OG7yAFWelaUydu0D+125CLM=``.

``flow_id`` and ``uid`` are ours: stable per connection (the same record always gives the
same value, so EVE and Zeek exports of one capture can be joined), derived from the
direction-free tuple plus the start time, so two connections on one 5-tuple differ.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct

#: IP protocol numbers by the record's ``proto`` name.
IP_PROTO: dict[str, int] = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}

#: Protocols whose ports take part in the hash.
_PORTED = frozenset({6, 17, 132})

#: ICMPv4 request/response pairs (echo, router, timestamp, information, address mask).
ICMP4_COUNTERPART: dict[int, int] = {
    8: 0, 0: 8, 10: 9, 9: 10, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17,
}  # fmt: skip
#: ICMPv6 pairs (echo, MLD query/report, router and neighbour discovery, node information,
#: home agent address discovery).
ICMP6_COUNTERPART: dict[int, int] = {
    128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136, 136: 135,
    139: 140, 140: 139, 144: 145, 145: 144,
}  # fmt: skip

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def proto_number(proto: str) -> int | None:
    """The IP protocol number of a record's ``proto`` (``ip-N`` for unnamed ones)."""
    if proto in IP_PROTO:
        return IP_PROTO[proto]
    if proto.startswith("ip-") and proto[3:].isdigit():
        return int(proto[3:])
    return None


def icmp_ports(icmp_type: int, code: int, v6: bool) -> tuple[int, int, bool]:
    """(sport, dport, one_way) for an ICMP message, as Zeek and the spec map them."""
    table = ICMP6_COUNTERPART if v6 else ICMP4_COUNTERPART
    if icmp_type in table:
        return icmp_type, table[icmp_type], False
    return icmp_type, code, True


def community_id(
    saddr: str,
    daddr: str,
    proto: int,
    sport: int | None = None,
    dport: int | None = None,
    seed: int = 0,
    one_way: bool = False,
) -> str:
    """Community ID v1 of one flow; ports are ignored for protocols that have none."""
    a = ipaddress.ip_address(saddr).packed
    b = ipaddress.ip_address(daddr).packed
    if len(a) != len(b):
        raise ValueError("addresses of different IP versions")
    ported = proto in _PORTED or proto in (1, 58)
    sp = sport or 0
    dp = dport or 0
    if not (0 <= sp <= 0xFFFF and 0 <= dp <= 0xFFFF and 0 <= proto <= 0xFF):
        raise ValueError("port or protocol out of range")
    if not one_way and (b, dp) < (a, sp):
        a, b, sp, dp = b, a, dp, sp
    data = struct.pack("!H", seed & 0xFFFF) + a + b + struct.pack("!BB", proto, 0)
    if ported:
        data += struct.pack("!HH", sp, dp)
    # SHA-1 is what the spec prescribes; the ID is a join key, not a security property.
    digest = hashlib.sha1(data).digest()  # noqa: S324
    return "1:" + base64.b64encode(digest).decode("ascii")


def _digest(key: str) -> bytes:
    return hashlib.sha1(key.encode("utf-8")).digest()  # noqa: S324 - an id, not security


def connection_key(record: dict[str, object]) -> str:
    """A direction-free text key of one connection: sorted endpoints, protocol, start."""
    ends = sorted(
        [
            f"{record.get('local_addr')}|{record.get('local_port')}",
            f"{record.get('remote_addr')}|{record.get('remote_port')}",
        ]
    )
    return (
        f"{record.get('proto')}|{ends[0]}|{ends[1]}|{record.get('vlan')}|{record.get('first_seen')}"
    )


def flow_id(record: dict[str, object]) -> int:
    """A stable positive 64-bit integer per connection, kept below 2**53 so that JSON
    readers that store numbers as doubles (JavaScript, jq) do not round it."""
    return int.from_bytes(_digest(connection_key(record))[:8], "big") & ((1 << 53) - 1)


def zeek_uid(record: dict[str, object]) -> str:
    """A Zeek-style connection uid: ``C`` and the base62 digits of a 96-bit hash."""
    n = int.from_bytes(_digest("uid|" + connection_key(record))[:12], "big")
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_B62[r])
    return "C" + "".join(reversed(digits or ["0"]))
