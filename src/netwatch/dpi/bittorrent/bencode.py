"""Bencoding (BEP 3, "The BitTorrent Protocol Specification", section "bencoding").

Four kinds of values: integers ``i42e``, byte strings ``4:spam``, lists ``l...e`` and
dictionaries ``d...e`` whose keys are byte strings::

    d 1:a d 2:id 20:<node id> e 1:q 4:ping 1:t 2:aa 1:y 1:q e
    {"a": {"id": ...}, "q": "ping", "t": "aa", "y": "q"}        a DHT ping (BEP 5)

Decoding is bounded: at most :data:`MAX_DEPTH` nested containers and
:data:`MAX_ITEMS` values, so a hostile datagram cannot make it recurse or allocate
without limit. Malformed input raises :class:`MalformedError`.
"""

from __future__ import annotations

from netwatch.errors import MalformedError

PROTO = "BitTorrent"
MAX_DEPTH = 16
MAX_ITEMS = 4096

Value = int | bytes | list["Value"] | dict[bytes, "Value"]


class _Decoder:
    __slots__ = ("data", "items", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.items = 0

    def _digits(self, end: int) -> int:
        stop = self.data.find(end, self.pos, self.pos + 24)
        if stop < 0:
            raise MalformedError(PROTO, "bencode number not terminated")
        text = self.data[self.pos : stop]
        body = text[1:] if text[:1] == b"-" else text
        if not body.isdigit() or (body[:1] == b"0" and len(body) > 1):
            raise MalformedError(PROTO, "bencode number malformed")
        self.pos = stop + 1
        return int(text)

    def value(self, depth: int) -> Value:
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise MalformedError(PROTO, "bencode too large or too deep")
        if self.pos >= len(self.data):
            raise MalformedError(PROTO, "bencode truncated")
        c = self.data[self.pos]
        if c == 0x69:  # i
            self.pos += 1
            return self._digits(0x65)
        if 0x30 <= c <= 0x39:
            n = self._digits(0x3A)
            if n < 0 or self.pos + n > len(self.data):
                raise MalformedError(PROTO, "bencode string runs past the data")
            self.pos += n
            return self.data[self.pos - n : self.pos]
        if c == 0x6C:  # l
            self.pos += 1
            out: list[Value] = []
            while self._more():
                out.append(self.value(depth + 1))
            return out
        if c == 0x64:  # d
            self.pos += 1
            d: dict[bytes, Value] = {}
            while self._more():
                key = self.value(depth + 1)
                if not isinstance(key, bytes):
                    raise MalformedError(PROTO, "bencode dictionary key is not a string")
                d[key] = self.value(depth + 1)
            return d
        raise MalformedError(PROTO, f"bencode: unexpected byte {c:#04x}")

    def _more(self) -> bool:
        if self.pos >= len(self.data):
            raise MalformedError(PROTO, "bencode container not terminated")
        if self.data[self.pos] == 0x65:  # e
            self.pos += 1
            return False
        return True


def decode_prefix(data: bytes) -> tuple[Value, int]:
    """The first bencoded value of ``data`` and the offset just past it."""
    dec = _Decoder(data)
    value = dec.value(0)
    return value, dec.pos


def decode(data: bytes) -> Value:
    """One bencoded value filling all of ``data``."""
    value, end = decode_prefix(data)
    if end != len(data):
        raise MalformedError(PROTO, "bytes after the bencoded value")
    return value
