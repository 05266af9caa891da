"""ICMP/ICMPv6 and ARP rows: echo pairing with RTT, ARP request/reply (RFC 792, 4443, 826).

Echo request/reply pairs share a row keyed by the two addresses and the echo identifier;
the requester is the originator. The row keeps the send time of the last few outstanding
sequence numbers (bounded) to measure each reply's RTT. Other ICMP types get a row per
address pair and type. ARP rows are keyed by the two protocol addresses; state moves
ARP_REQUEST → ARP_REPLY.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netwatch.decode.packet import PROTO_ICMP, Packet
from netwatch.flows.addr import mac, ntop

if TYPE_CHECKING:
    from netwatch.flows.conn import Conn
    from netwatch.flows.tracker import Tracker

ECHO_REQUEST = {PROTO_ICMP: 8, 58: 128}
ECHO_REPLY = {PROTO_ICMP: 0, 58: 129}
MAX_OUTSTANDING = 16

ICMP_NAMES = {
    0: "echo-reply",
    3: "dest-unreachable",
    4: "source-quench",
    5: "redirect",
    8: "echo",
    9: "router-advert",
    10: "router-solicit",
    11: "time-exceeded",
    12: "parameter-problem",
    13: "timestamp",
    14: "timestamp-reply",
}
ICMP6_NAMES = {
    1: "dest-unreachable",
    2: "packet-too-big",
    3: "time-exceeded",
    4: "parameter-problem",
    128: "echo",
    129: "echo-reply",
    130: "mld-query",
    131: "mld-report",
    132: "mld-done",
    133: "router-solicit",
    134: "router-advert",
    135: "neighbor-solicit",
    136: "neighbor-advert",
    137: "redirect",
    143: "mldv2-report",
}


def type_name(proto: int, t: int) -> str:
    names = ICMP_NAMES if proto == PROTO_ICMP else ICMP6_NAMES
    return names.get(t, f"type-{t}")


def icmp_packet(tr: Tracker, p: Packet, ts: float, wirelen: int) -> Conn:
    proto = p.proto
    t = p.icmp_type
    src, dst = p.src, p.dst
    lo, hi = (src, dst) if src <= dst else (dst, src)
    is_req = t == ECHO_REQUEST[proto]
    is_rep = t == ECHO_REPLY[proto]
    if is_req or is_rep:
        key: tuple[Any, ...] = (proto, lo, 0, hi, ("echo", p.icmp_id), p.vlan)
    else:
        key = (proto, lo, 0, hi, ("type", t), p.vlan)
    c = tr.table.get(key)
    if c is None:
        c = tr._new(key, p, not is_rep, ts)
        c.extra = {
            "icmp": {
                "type": t,
                "code": p.icmp_code,
                "type_name": type_name(proto, t),
                "echo_id": p.icmp_id if (is_req or is_rep) else None,
                "requests": 0,
                "replies": 0,
            }
        }
        c.state = "ECHO_REQUEST" if is_req else ("ECHO_REPLY" if is_rep else "ACTIVE")
        if is_req or is_rep:
            c.extra["_pending"] = {}
    # Echo direction by type (a host pinging itself has one address on both sides).
    from_client = is_req or (not is_rep and src == c.c_addr)
    tr.count(c, from_client, ts, wirelen, p)
    assert c.extra is not None
    info = c.extra["icmp"]
    if is_req:
        info["requests"] += 1
        pending = c.extra["_pending"]
        pending[p.icmp_seq] = ts
        if len(pending) > MAX_OUTSTANDING:
            pending.pop(next(iter(pending)))
        if c.state != "ECHO_REPLY":
            c.state = "ECHO_REQUEST"
    elif is_rep:
        info["replies"] += 1
        sent = c.extra["_pending"].pop(p.icmp_seq, None)
        if sent is not None:
            c.rtt = ts - sent
        c.state = "ECHO_REPLY"
    return c


ARP_REQUEST, ARP_REPLY = 1, 2


def arp_packet(tr: Tracker, p: Packet, ts: float, wirelen: int) -> Conn:
    src, dst = p.src, p.dst
    lo, hi = (src, dst) if src <= dst else (dst, src)
    key = ("arp", lo, 0, hi, 0, p.vlan)
    c = tr.table.get(key)
    if c is None:
        c = tr._new(key, p, p.arp_op != ARP_REPLY, ts)
        c.extra = {"arp": {"requests": 0, "replies": 0, "macs": {}}}
    tr.count(c, src == c.c_addr, ts, wirelen)
    assert c.extra is not None
    info = c.extra["arp"]
    info["macs"][ntop(src)] = mac(p.mac_src)
    if p.arp_op == ARP_REQUEST:
        info["requests"] += 1
        if c.state != "ARP_REPLY":
            c.state = "ARP_REQUEST"
    elif p.arp_op == ARP_REPLY:
        info["replies"] += 1
        if c.state == "ARP_REQUEST" and info["requests"]:
            c.rtt = ts - c.first
        c.state = "ARP_REPLY"
    return c
