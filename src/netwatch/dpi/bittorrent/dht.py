"""BitTorrent Mainline DHT (BEP 5): KRPC messages, one bencoded dictionary per datagram.

``y`` is the kind (``q`` query, ``r`` response, ``e`` error), ``t`` the transaction id,
``q`` the method (ping, find_node, get_peers, announce_peer, and BEP 44's get/put),
``a``/``r`` the arguments or results (``id`` = the sender's 20-byte node id), ``e`` a
list ``[code, message]``; ``v`` an optional client version (``UT01``)::

    d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe
"""

from __future__ import annotations

from dataclasses import dataclass

from netwatch.dpi.bittorrent.bencode import PROTO, decode
from netwatch.errors import MalformedError


@dataclass(frozen=True, slots=True)
class KRPC:
    kind: str  # "q" | "r" | "e"
    method: str | None
    node_id: bytes | None
    info_hash: bytes | None
    error: tuple[int, str] | None
    version: str | None


def looks_like_krpc(data: bytes) -> bool:
    """Cheap shape check: a bencoded dictionary whose keys include ``y`` with q/r/e."""
    return (
        data[:1] == b"d"
        and data[-1:] == b"e"
        and (b"1:y1:q" in data or b"1:y1:r" in data or b"1:y1:e" in data)
    )


def parse_krpc(data: bytes) -> KRPC:
    d = decode(data)
    if not isinstance(d, dict):
        raise MalformedError(PROTO, "KRPC message is not a dictionary")
    y = d.get(b"y")
    if y not in (b"q", b"r", b"e"):
        raise MalformedError(PROTO, "KRPC message without a y of q/r/e")
    kind = y.decode()
    method = node = info_hash = error = version = None
    q = d.get(b"q")
    if isinstance(q, bytes):
        method = q.decode("ascii", "replace")[:32]
    body = d.get(b"a" if kind == "q" else b"r")
    if isinstance(body, dict):
        nid = body.get(b"id")
        node = nid if isinstance(nid, bytes) and len(nid) == 20 else None
        ih = body.get(b"info_hash")
        info_hash = ih if isinstance(ih, bytes) and len(ih) == 20 else None
    e = d.get(b"e")
    if kind == "e" and isinstance(e, list) and len(e) >= 2:
        code, msg = e[0], e[1]
        if isinstance(code, int) and isinstance(msg, bytes):
            error = (code, msg.decode("utf-8", "replace")[:128])
    v = d.get(b"v")
    if isinstance(v, bytes):
        version = v[:2].decode("ascii", "replace") + v[2:4].hex()
    return KRPC(kind, method, node, info_hash, error, version)
