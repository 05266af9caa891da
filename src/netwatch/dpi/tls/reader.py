"""A bounded reader over TLS presentation-language vectors (RFC 8446 §3).

TLS structures are built from fixed-width big-endian integers and length-prefixed
vectors (``opaque x<0..2^16-1>`` carries a 2-byte length). Every pull checks that the
bytes exist inside the current bound; a vector is read as a child reader whose end is
the vector's end, so an inner length can never run past its container.

Worked example, a SNI extension body (RFC 6066 §3)::

    00 0e              server_name_list length = 14
    00                 name_type host_name
    00 0b              HostName length = 11
    65 78 61 6d ...    "example.com"

``Reader(body).vector(2)`` gives a child over the 14 list bytes; ``.u8()`` then
``.vector(2).rest()`` gives the name. Any length that points past its container raises
:class:`netwatch.errors.MalformedError` with protocol ``"TLS"``.
"""

from __future__ import annotations

from netwatch.errors import MalformedError

PROTOCOL = "TLS"


class Reader:
    """Pulls integers and vectors from ``data[pos:end]``, never past ``end``."""

    __slots__ = ("_data", "_end", "_pos", "_what")

    def __init__(self, data: bytes, what: str = "message") -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)
        self._what = what

    @classmethod
    def _child(cls, data: bytes, start: int, end: int, what: str) -> Reader:
        r = cls.__new__(cls)
        r._data = data
        r._pos = start
        r._end = end
        r._what = what
        return r

    def _need(self, n: int) -> int:
        pos = self._pos
        if pos + n > self._end:
            raise MalformedError(PROTOCOL, f"{self._what}: needs {n} bytes, {self._end - pos} left")
        self._pos = pos + n
        return pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def eof(self) -> bool:
        return self._pos >= self._end

    def u8(self) -> int:
        return self._data[self._need(1)]

    def u16(self) -> int:
        p = self._need(2)
        return (self._data[p] << 8) | self._data[p + 1]

    def u24(self) -> int:
        p = self._need(3)
        d = self._data
        return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]

    def take(self, n: int) -> bytes:
        p = self._need(n)
        return self._data[p : p + n]

    def rest(self) -> bytes:
        p = self._pos
        self._pos = self._end
        return self._data[p : self._end]

    def vector(self, len_size: int, what: str | None = None) -> Reader:
        """A child reader over a vector whose length prefix has ``len_size`` bytes."""
        if len_size == 1:
            n = self.u8()
        elif len_size == 2:
            n = self.u16()
        else:
            n = self.u24()
        start = self._need(n)
        return Reader._child(self._data, start, start + n, what or self._what)

    def opaque(self, len_size: int) -> bytes:
        """The bytes of a length-prefixed vector."""
        return self.vector(len_size).rest()

    def u16_list(self) -> tuple[int, ...]:
        """The rest of this reader as big-endian 16-bit values (an even count)."""
        if self.remaining % 2:
            raise MalformedError(PROTOCOL, f"{self._what}: odd length for a list of uint16")
        out = []
        while not self.eof():
            out.append(self.u16())
        return tuple(out)

    def u8_list(self) -> tuple[int, ...]:
        return tuple(self.rest())

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise MalformedError(PROTOCOL, f"{self._what}: {self._end - self._pos} trailing bytes")
