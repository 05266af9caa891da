"""IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), bounded in memory and time.

Keyed by (version, src, dst, ident, proto). A datagram completes when the fragment with
More-Fragments clear has arrived and the byte ranges cover 0..end without holes.
Overlapping fragments keep the first bytes seen (RFC 5722 says IPv6 overlaps should be
dropped: we count them as ``overlap`` and drop that datagram for IPv6).

Bounds: at most ``max_datagrams`` pending datagrams and ``max_bytes`` buffered in total;
a datagram not completed within ``timeout`` seconds (capture time) is discarded. Every
discard is counted by reason so the status bar can show it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

FragKey = tuple[int, bytes, bytes, int, int]
MAX_DATAGRAM = 65535 + 40


@dataclass(slots=True)
class _Pending:
    first_ts: float
    parts: dict[int, bytes] = field(default_factory=dict)
    end: int | None = None
    size: int = 0
    overlap: bool = False


class FragmentReassembler:
    def __init__(
        self, max_datagrams: int = 4096, max_bytes: int = 16 << 20, timeout: float = 30.0
    ) -> None:
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._pending: dict[FragKey, _Pending] = {}
        self._bytes = 0
        self.dropped: Counter[str] = Counter()
        self.completed = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: FragKey, offset: int, more: bool, data: bytes, ts: float) -> bytes | None:
        """Add one fragment's payload; return the whole payload when complete."""
        p = self._pending.get(key)
        if p is None:
            if len(self._pending) >= self.max_datagrams:
                self._evict_oldest()
            p = self._pending[key] = _Pending(ts)
        if offset + len(data) > MAX_DATAGRAM:
            self._drop(key, "oversized")
            return None
        if not more:
            if p.end is not None and p.end != offset + len(data):
                self._drop(key, "inconsistent-end")
                return None
            p.end = offset + len(data)
        if offset in p.parts:
            return None  # duplicate
        for o, part in p.parts.items():
            if o < offset + len(data) and offset < o + len(part):
                p.overlap = True
                if key[0] == 6:
                    self._drop(key, "overlap")
                    return None
        p.parts[offset] = data
        p.size += len(data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes and self._pending:
            self._evict_oldest()
        if key not in self._pending or p.end is None:
            return None
        return self._try_complete(key, p)

    def _try_complete(self, key: FragKey, p: _Pending) -> bytes | None:
        assert p.end is not None
        out = bytearray(p.end)
        covered = 0
        for o in sorted(p.parts):
            part = p.parts[o]
            if o > covered:
                return None  # a hole remains
            if o + len(part) > covered:
                out[covered : o + len(part)] = part[covered - o :]
                covered = o + len(part)
        if covered < p.end:
            return None
        del self._pending[key]
        self._bytes -= p.size
        self.completed += 1
        return bytes(out[: p.end])

    def expire(self, now: float) -> None:
        for key in [k for k, p in self._pending.items() if now - p.first_ts > self.timeout]:
            self._drop(key, "timeout")

    def _evict_oldest(self) -> None:
        key = min(self._pending, key=lambda k: self._pending[k].first_ts)
        self._drop(key, "evicted")

    def _drop(self, key: FragKey, reason: str) -> None:
        p = self._pending.pop(key, None)
        if p is not None:
            self._bytes -= p.size
        self.dropped[reason] += 1
