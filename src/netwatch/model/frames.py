"""A batch of frames that lie in shared buffers, read in place by the tracker.

Sources yield batches of packets ``(ts, linktype, data, wirelen)``. Most of a capture file
chunk or a ring block is headers the tracker reads once and drops, so building a
``memoryview`` slice per packet, and reading the headers through it, was a large share of
the per-packet cost (measured: ~87 ns for the slice and ~190 ns for one ``struct`` read
through it, against ~106 ns for the same read on the shared buffer at an offset).

A :class:`FrameBlock` keeps ``(ts, linktype, buf, offset, caplen, wirelen)`` records
instead: the frame is ``buf[offset:offset + caplen]``, and ``buf`` is usually the same
chunk or block for the whole batch. It is still a sequence of ordinary packets to every
other consumer (deduplication, replay pacing, the packet store): iterating or indexing
builds the slice on demand. Its buffers are valid as long as the batch is (until the
source is asked for the next one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

#: (ts, linktype, buffer, offset of the frame in it, captured length, length on the wire)
Frame = tuple[float, int, "bytes | memoryview", int, int, int]
#: (ts, linktype, frame bytes, length on the wire): what iterating a block gives
PacketTuple = tuple[float, int, "bytes | memoryview", int]


class FrameBlock(Sequence[PacketTuple]):
    __slots__ = ("frames",)

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames

    @classmethod
    def of(cls, batch: Iterable[PacketTuple]) -> FrameBlock:
        """``batch`` as a block: itself if it is one, else its packets as frames."""
        if type(batch) is cls:
            return batch
        return cls([(ts, lt, d, 0, len(d), w) for ts, lt, d, w in batch])

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[PacketTuple]:
        for ts, lt, buf, off, cap, wirelen in self.frames:
            yield ts, lt, buf[off : off + cap], wirelen

    @overload
    def __getitem__(self, i: int) -> PacketTuple: ...

    @overload
    def __getitem__(self, i: slice) -> list[PacketTuple]: ...

    def __getitem__(self, i: int | slice) -> PacketTuple | list[PacketTuple]:
        if isinstance(i, slice):
            return [(ts, lt, b[o : o + c], w) for ts, lt, b, o, c, w in self.frames[i]]
        ts, lt, buf, off, cap, wirelen = self.frames[i]
        return ts, lt, buf[off : off + cap], wirelen

    def captured_bytes(self) -> int:
        return sum(f[4] for f in self.frames)
