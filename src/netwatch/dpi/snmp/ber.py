"""A small bounded BER reader (ITU-T X.690 §8.1 identifier and length octets, §8.3
INTEGER, §8.19 OBJECT IDENTIFIER): enough for SNMP (RFC 3416 §3, RFC 1157 §4).

Every TLV is checked against the end of the value that contains it, lengths use the
definite form only (SNMP forbids the indefinite form), and nesting is bounded by the
caller walking a fixed message shape::

    30 29                 SEQUENCE, 41 bytes
       02 01 01           INTEGER 1 (version-2c)
       04 06 70 75 62 6c 69 63   OCTET STRING "public"
       a1 1c ...          GetNextRequest-PDU
"""

from __future__ import annotations

from netwatch.errors import MalformedError

PROTO = "SNMP"
MAX_INT_BYTES = 9  # Counter64 plus a sign byte
MAX_OID_ARCS = 128  # RFC 2578 §7.1.3


class Reader:
    """Sequential TLV reader over ``data[pos:end]``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek_tag(self) -> int:
        if self.pos >= self.end:
            raise MalformedError(PROTO, "expected a TLV, value ended")
        return self.data[self.pos]

    def tlv(self) -> tuple[int, int, int]:
        """(tag, start of value, end of value); the reader moves past the TLV."""
        data, pos = self.data, self.pos
        if pos + 2 > self.end:
            raise MalformedError(PROTO, "TLV header truncated")
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise MalformedError(PROTO, "multi-byte tags are not used by SNMP")
        first = data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise MalformedError(PROTO, "indefinite or oversized length")
            if pos + count > self.end:
                raise MalformedError(PROTO, "length octets truncated")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > self.end:
            raise MalformedError(PROTO, f"tag 0x{tag:02x}: {length} bytes run past their container")
        self.pos = pos + length
        return tag, pos, pos + length

    def expect(self, tag: int) -> tuple[int, int]:
        got, start, end = self.tlv()
        if got != tag:
            raise MalformedError(PROTO, f"expected tag 0x{tag:02x}, got 0x{got:02x}")
        return start, end

    def enter(self, tag: int) -> Reader:
        """A reader over the value of the next TLV, which must have ``tag``."""
        start, end = self.expect(tag)
        return Reader(self.data, start, end)

    def integer(self, tag: int = 0x02) -> int:
        start, end = self.expect(tag)
        if end == start or end - start > MAX_INT_BYTES:
            raise MalformedError(PROTO, "integer of bad size")
        return int.from_bytes(self.data[start:end], "big", signed=(tag == 0x02))

    def octets(self, tag: int = 0x04) -> bytes:
        start, end = self.expect(tag)
        return self.data[start:end]

    def oid(self) -> str:
        start, end = self.expect(0x06)
        return decode_oid(self.data[start:end])

    def skip(self) -> int:
        tag, _, _ = self.tlv()
        return tag


def decode_oid(raw: bytes) -> str:
    """X.690 §8.19: base-128 arcs, the first octet(s) packing the first two arcs."""
    if not raw:
        raise MalformedError(PROTO, "empty OID")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(raw):
        value = (value << 7) | (byte & 0x7F)
        if value.bit_length() > 64:
            raise MalformedError(PROTO, "OID arc too large")
        if not byte & 0x80:
            arcs.append(value)
            value = 0
            if len(arcs) > MAX_OID_ARCS:
                raise MalformedError(PROTO, "OID has too many arcs")
        elif i == len(raw) - 1:
            raise MalformedError(PROTO, "OID ends inside an arc")
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])
