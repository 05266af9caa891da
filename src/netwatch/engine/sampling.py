"""Which packets the recorder stores: every one, 1 in N, and fewer under load.

Sampling applies to *stored* packets only: the tracker still counts every packet, so
connections keep their true packet and byte counts (``--sample N``).

Adaptive sampling (``--adaptive-sample``) watches the backlog of the packet writer's
queue: when it passes the high-water mark the sampler keeps 1 packet in 2, then 1 in 4, ...
(doubling at most once per :data:`STEP_PACKETS` packets while the backlog stays high, up to
:data:`MAX_EVERY`); once the backlog is back under the low-water mark it halves again. Every
engagement and every packet skipped this way is counted, so a store says how complete its
packets are. Rules are plain numbers here so tests and docs can show them.

Called on the capture thread for every packet: one counter and two comparisons, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Backlog fractions of the queue's capacity that engage / release adaptive sampling.
HIGH_WATER = 0.5
LOW_WATER = 0.25
#: Packets between two adaptive steps (the backlog needs time to react).
STEP_PACKETS = 1024
#: The sparsest adaptive rate: 1 packet in this many.
MAX_EVERY = 1024


@dataclass(frozen=True, slots=True)
class SamplingStats:
    sample_every: int
    sampled_out: int
    adaptive_skipped: int
    adaptive_engaged: int
    adaptive_every: int


class Sampler:
    """``keep(backlog)`` for each packet; ``every``: the fixed 1-in-N rate (1: all)."""

    def __init__(self, every: int = 1, *, adaptive: bool = False, capacity: int = 1) -> None:
        if every < 1:
            raise ValueError("sampling rate must be at least 1")
        self.every = every
        self.adaptive = adaptive
        self._high = max(1, int(capacity * HIGH_WATER))
        self._low = int(capacity * LOW_WATER)
        self._n = 0
        self._step = 0
        self.adaptive_every = 1
        self.sampled_out = 0
        self.adaptive_skipped = 0
        self.adaptive_engaged = 0

    def keep(self, backlog: int) -> bool:
        n = self._n = self._n + 1
        if self.every > 1 and n % self.every:
            self.sampled_out += 1
            return False
        if not self.adaptive:
            return True
        self._step += 1
        if self._step >= STEP_PACKETS:
            self._step = 0
            self._adapt(backlog)
        a = self.adaptive_every
        if a > 1 and (n // self.every) % a:
            self.adaptive_skipped += 1
            return False
        return True

    def _adapt(self, backlog: int) -> None:
        a = self.adaptive_every
        if backlog >= self._high and a < MAX_EVERY:
            if a == 1:
                self.adaptive_engaged += 1
            self.adaptive_every = a * 2
        elif backlog <= self._low and a > 1:
            self.adaptive_every = a // 2

    def stats(self) -> SamplingStats:
        return SamplingStats(
            self.every,
            self.sampled_out,
            self.adaptive_skipped,
            self.adaptive_engaged,
            self.adaptive_every,
        )
