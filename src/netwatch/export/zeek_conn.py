"""conn.log's ``history`` and ``conn_state``, and the address table behind ``local_orig``.

``history`` letters (Zeek, ``base/protocols/conn/main.zeek``): ``s`` SYN without ACK,
``h`` SYN+ACK, ``a`` pure ACK, ``d`` payload, ``f`` FIN, ``r`` RST, ``q`` SYN with FIN or
RST, ``i`` FIN with RST; upper case from the originator, lower case from the responder;
each letter once per direction here (Zeek repeats f, h, r, s when the sequence number
changes, and logs c, g, t, w on a log scale: those need sequence and window data this
function is not given). :func:`history` builds the string from a connection's segments;
the tracker keeps the same string incrementally as the record's ``history``.

``conn_state`` follows Zeek's rule table over the two endpoints' TCP states (INACTIVE,
SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET), which :func:`endpoint_states`
replays from the history letters. Example: ``ShADadFf`` ends with both sides CLOSED, so
``SF``; ``Dr`` (mid-stream data, then the responder resets) is ``RSTRH``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = (
    "INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET",
)  # fmt: skip

_ONCE = frozenset("adiqshfr")


def _letters(flags: int, payload_len: int) -> list[str]:
    if flags & SYN:
        if flags & (FIN | RST):
            return ["q"]
        return ["h" if flags & ACK else "s"] + (["d"] if payload_len > 0 else [])
    if flags & FIN and flags & RST:
        return ["i"]
    out = []
    if flags & FIN:
        out.append("f")
    if flags & RST:
        out.append("r")
    if payload_len > 0:
        out.append("d")
    elif flags & ACK and not flags & (FIN | RST):
        out.append("a")
    return out


def history(segments: Iterable[tuple[int, int, int]]) -> str:
    """The history string of a TCP connection's segments, each ``(direction, flags,
    payload_len)`` with direction 0 for the originator, 1 for the responder."""
    seen: set[str] = set()
    out = []
    for direction, flags, payload_len in segments:
        for letter in _letters(flags, payload_len):
            key = letter.upper() if direction == 0 else letter
            if key in seen and letter in _ONCE:
                continue
            seen.add(key)
            out.append(key)
    return "".join(out)


def endpoint_states(hist: str) -> tuple[str, str]:
    """(originator, responder) TCP endpoint states after the history's events."""
    st = {0: INACTIVE, 1: INACTIVE}
    for ch in hist.lstrip("^"):
        e = 0 if ch.isupper() else 1
        peer = 1 - e
        c = ch.lower()
        if st[e] == RESET:
            continue
        if c == "r":
            st[e] = RESET
        elif c in ("f", "i"):
            st[e] = CLOSED
        elif st[e] == CLOSED:
            continue
        elif c == "s":
            if st[e] == INACTIVE:
                st[e] = SYN_SENT
        elif c == "h":
            if st[peer] == SYN_SENT:
                st[e] = st[peer] = ESTABLISHED
            elif st[e] in (INACTIVE, SYN_SENT):
                st[e] = SYN_ACK_SENT
        elif c in ("a", "d"):
            if st[e] == INACTIVE:
                st[e] = PARTIAL
            elif st[e] == SYN_SENT and st[peer] == SYN_ACK_SENT:
                st[e] = st[peer] = ESTABLISHED
    return st[0], st[1]


_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def conn_state(proto: str, hist: str | None, orig_pkts: int, resp_pkts: int,
               orig_size: int = 0, resp_size: int = 0) -> str:  # fmt: skip
    """Zeek's ``conn_state`` of a connection (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0,
    RSTRH, SH, SHR, OTH)."""
    if proto == "udp":
        if orig_pkts:
            return "SF" if resp_pkts else "S0"
        return "SHR" if resp_pkts else "OTH"
    if proto != "tcp" or hist is None:
        return "OTH"
    os_, rs = endpoint_states(hist)
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and not orig_size and not resp_size):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == RESET:
        if r_inactive:
            return "RSTOS0" if _RSTOS0.fullmatch(hist) else "OTH"
        return "RSTO"
    if rs == CLOSED and os_ == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


#: Zeek's ``Site::private_address_space`` (IANA special-purpose blocks, their 6to4 forms,
#: and the local multicast control blocks), which its default makes ``Site::local_nets``.
LOCAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "2002::/24", "10.0.0.0/8", "2002:a00::/24", "100.64.0.0/10",
        "2002:6440::/26", "127.0.0.0/8", "2002:7f00::/24", "169.254.0.0/16", "2002:a9fe::/32",
        "172.16.0.0/12", "2002:ac10::/28", "192.0.0.0/24", "2002:c000::/40", "192.0.2.0/24",
        "2002:c000:200::/40", "192.168.0.0/16", "2002:c0a8::/32", "198.18.0.0/15",
        "2002:c612::/31", "198.51.100.0/24", "2002:c633:6400::/40", "203.0.113.0/24",
        "2002:cb00:7100::/40", "224.0.0.0/24", "2002:e000::/40", "239.0.0.0/8",
        "2002:ef00::/24", "240.0.0.0/4", "2002:f000::/20", "255.255.255.255/32",
        "2002:ffff:ffff::/48", "::/128", "::1/128", "64:ff9b:1::/48", "100::/64",
        "2001::/23", "2001:2::/48", "2001:db8::/32", "fc00::/7", "fe80::/10",
    )
)  # fmt: skip


def is_local(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in LOCAL_NETS if net.version == ip.version)
