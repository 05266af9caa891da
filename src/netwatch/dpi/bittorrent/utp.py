"""uTP, the Micro Transport Protocol (BEP 29): BitTorrent's congestion-friendly transport
over UDP. Every packet starts with a 20-byte header::

    41 00 6f 0e  5a 3c 8b 10  00 00 00 00  00 10 00 00  00 01 00 00
    ty ext conn  timestamp_us timestamp_dif wnd_size    seq   ack
    (type 4 = ST_SYN, version 1)

then extensions (``ext`` = type of the next one; each is a next-type byte, a length byte
and data), then the payload. Types: 0 ST_DATA, 1 ST_FIN, 2 ST_STATE, 3 ST_RESET,
4 ST_SYN. The payload of ST_DATA packets is the peer wire stream (BEP 3).
"""

from __future__ import annotations

from netwatch.dpi.bittorrent.bencode import PROTO
from netwatch.errors import MalformedError

HEADER_LEN = 20
TYPE_NAMES = ("data", "fin", "state", "reset", "syn")
ST_DATA, ST_SYN = 0, 4


def parse_utp(data: bytes) -> tuple[int, int, int, bytes]:
    """(type, connection id, seq_nr, payload) of a uTP packet."""
    if len(data) < HEADER_LEN:
        raise MalformedError(PROTO, "uTP header truncated")
    ptype, version = data[0] >> 4, data[0] & 0x0F
    if version != 1 or ptype > 4:
        raise MalformedError(PROTO, "not a uTP version 1 packet")
    ext = data[1]
    pos = HEADER_LEN
    hops = 0
    while ext:
        if pos + 2 > len(data) or hops > 8:
            raise MalformedError(PROTO, "uTP extension runs past the packet")
        ext, n = data[pos], data[pos + 1]
        pos += 2 + n
        hops += 1
        if pos > len(data):
            raise MalformedError(PROTO, "uTP extension runs past the packet")
    conn = int.from_bytes(data[2:4], "big")
    seq = int.from_bytes(data[16:18], "big")
    return ptype, conn, seq, data[pos:]


def detect_utp_syn(data: bytes) -> bool:
    """A uTP ST_SYN: version 1, no payload, a zero ack number and timestamp difference."""
    if len(data) < HEADER_LEN or data[0] != 0x41 or data[1] not in (0, 1, 2):
        return False
    if data[8:12] != b"\x00\x00\x00\x00":
        return False
    try:
        ptype, _, _, payload = parse_utp(data)
    except MalformedError:
        return False
    return ptype == ST_SYN and not payload
