"""Bounded reassembly of the CRYPTO stream of one packet number space (RFC 9000 §19.6).

CRYPTO frames carry the TLS handshake as a byte stream with explicit offsets, like a
TCP stream without sequence wrap. A ClientHello larger than one packet (post-quantum key
shares, long ALPN lists) spans several frames, packets and datagrams, which may arrive
in any order and overlap when retransmitted. Frames beyond ``limit`` (the bytes a
monitor is willing to hold to see a ClientHello) raise :class:`MalformedError`.

Example: frames (100, b"B"*50) then (0, b"A"*100) give ``contiguous`` of 150 bytes.
"""

from __future__ import annotations

from netwatch.errors import MalformedError

PROTOCOL = "QUIC"
#: Largest CRYPTO offset held. Real ClientHellos are 0.3-3 KB; TLS allows 16 MB.
DEFAULT_LIMIT = 64 * 1024
#: At most this many out-of-order fragments wait (a CRYPTO frame per byte is an attack).
MAX_PENDING = 256


class CryptoStream:
    """In-order bytes from offset 0 up to the first hole; later fragments wait."""

    __slots__ = ("_buf", "_limit", "_pending")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._buf = bytearray()
        self._pending: dict[int, bytes] = {}
        self._limit = limit

    @property
    def contiguous(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def held(self) -> int:
        """Bytes held: the in-order ones and the fragments waiting past a hole."""
        pending = self._pending
        return len(self._buf) + (sum(map(len, pending.values())) if pending else 0)

    def add(self, offset: int, data: bytes) -> None:
        """Insert a fragment; overlapping bytes already held are kept (first wins)."""
        if not data:
            return
        if offset + len(data) > self._limit:
            raise MalformedError(PROTOCOL, f"crypto: offset {offset + len(data)} over limit")
        have = len(self._buf)
        if offset > have:
            old = self._pending.get(offset)
            if old is None or len(old) < len(data):
                if old is None and len(self._pending) >= MAX_PENDING:
                    raise MalformedError(PROTOCOL, "crypto: too many fragments")
                self._pending[offset] = data
            return
        if offset + len(data) > have:
            self._buf += data[have - offset :]
            self._drain()

    def _drain(self) -> None:
        progressed = True
        while progressed and self._pending:
            progressed = False
            have = len(self._buf)
            for off in sorted(self._pending):
                if off > have:
                    break
                data = self._pending.pop(off)
                if off + len(data) > have:
                    self._buf += data[have - off :]
                    have = len(self._buf)
                progressed = True
