"""One direction of a TCP byte stream put back in order (RFC 9293 §3.4 sequence space).

``add(seq, data)`` returns what became contiguous: a list whose items are ``bytes`` (in
order) or ``int`` (a gap of that many bytes the analyzer must be told about). Handles
in-order, out-of-order, retransmitted and overlapping segments (the first copy of a byte
wins, as most stacks do), and sequence wrap-around (all comparisons are mod 2**32).

Skipping: an analyzer may say the next ``skip`` bytes need only be counted (a body of known
length, ciphertext). The tracker's fast path then advances ``next_seq`` over in-order
segments itself, without this class, and adds them to ``skipped`` until it tells the
analyzer (``Analyzer.skipped``).

Bounded: at most ``max_pending`` bytes wait out of order. Past that the lowest hole is
declared a gap and skipped, so a lost segment never makes memory grow. The reassemblers of
one tracker may also share a :class:`PendingBudget`: past its limit, a reassembler that
gets more out-of-order bytes declares its holes gaps until the total is back under it
(many flows with holes at once must not hold ``max_pending`` each). Only flows with an
attached analyzer have reassemblers; once the analyzer detaches they are dropped
(``release`` gives their waiting bytes back to the budget).

Example: next=1000; add(1010, b"bbbb") → [] (waits); add(1000, b"aaaaaaaaaa") →
[b"aaaaaaaaaa", b"bbbb"]; add(1005, b"xxxxx") → [] (old bytes, a retransmission).
"""

from __future__ import annotations

MOD = 1 << 32
HALF = 1 << 31


class PendingBudget:
    """Out-of-order bytes waiting in all the reassemblers that share it, and the limit."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class StreamReassembler:
    __slots__ = (
        "budget",
        "gap_bytes",
        "max_pending",
        "next_seq",
        "pending",
        "pending_bytes",
        "skip",
        "skipped",
    )

    def __init__(
        self,
        next_seq: int | None = None,
        max_pending: int = 256 << 10,
        budget: PendingBudget | None = None,
    ) -> None:
        self.next_seq = next_seq
        self.budget = budget
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.max_pending = max_pending
        self.gap_bytes = 0
        self.skip = 0  # in-order bytes the analyzer lets pass uninspected, from next_seq
        self.skipped = 0  # bytes passed that way, not yet reported to the analyzer

    def add(self, seq: int, data: bytes) -> list[bytes | int]:
        if not data:
            return []
        if self.next_seq is None:
            self.next_seq = seq
        nxt = self.next_seq
        rel = (seq - nxt) % MOD
        if rel >= HALF:  # starts before next_seq: trim the part already delivered
            over = MOD - rel
            if over >= len(data):
                return []
            data = data[over:]
            seq = nxt
            rel = 0
        if rel == 0:
            out: list[bytes | int] = [data]
            self.next_seq = (nxt + len(data)) % MOD
            if self.pending:
                self._drain(out)
            return out
        # Out of order: keep (bounded).
        if seq in self.pending and len(self.pending[seq]) >= len(data):
            return []
        old = self.pending.get(seq)
        self.pending[seq] = data
        delta = len(data) - (len(old) if old else 0)
        self.pending_bytes += delta
        budget = self.budget
        if budget is not None:
            budget.used += delta
            if budget.used > budget.limit:
                skipped: list[bytes | int] = []
                while self.pending and budget.used > budget.limit:
                    skipped.extend(self._skip_hole())
                return skipped
        if self.pending_bytes <= self.max_pending:
            return []
        return self._skip_hole()

    def _drain(self, out: list[bytes | int]) -> None:
        while self.pending:
            progressed = False
            assert self.next_seq is not None
            for s in list(self.pending):
                rel = (s - self.next_seq) % MOD
                d = self.pending[s]
                if rel >= HALF:
                    over = MOD - rel
                    del self.pending[s]
                    self._forget(len(d))
                    if over < len(d):
                        tail = d[over:]
                        out.append(tail)
                        self.next_seq = (self.next_seq + len(tail)) % MOD
                        progressed = True
                elif rel == 0:
                    del self.pending[s]
                    self._forget(len(d))
                    out.append(d)
                    self.next_seq = (self.next_seq + len(d)) % MOD
                    progressed = True
            if not progressed:
                return

    def _forget(self, n: int) -> None:
        self.pending_bytes -= n
        if self.budget is not None:
            self.budget.used -= n

    def release(self) -> None:
        """Drop what waits out of order (the stream is no longer followed)."""
        if self.pending:
            self._forget(self.pending_bytes)
            self.pending.clear()

    def _skip_hole(self) -> list[bytes | int]:
        """Too much waits: declare the hole before the lowest pending segment lost."""
        assert self.next_seq is not None
        nxt = self.next_seq
        first = min(self.pending, key=lambda s: (s - nxt) % MOD)
        gap = (first - nxt) % MOD
        self.gap_bytes += gap
        self.next_seq = first
        out: list[bytes | int] = [gap]
        self._drain(out)
        return out

    def flush(self) -> list[bytes | int]:
        """End of stream: deliver what waits, with its holes as gaps."""
        out: list[bytes | int] = []
        while self.pending:
            out.extend(self._skip_hole())
        return out
