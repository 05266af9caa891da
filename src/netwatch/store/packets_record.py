"""``netwatch record`` options for packets: ``--packets``, ``--dedup``, ``--sample``.

Kept here so the command adds them with one call and wires them with a few lines:
:func:`add_arguments` declares the options, :func:`packet_recording` builds what they ask
for (a :class:`PacketRecording`: the engine's batch filter and packet sink, the writer to
start and close, and the one-line report printed on stderr at the end).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import Any

from netwatch.capture.base import Packet
from netwatch.engine.dedup import Deduplicator
from netwatch.engine.sampling import Sampler
from netwatch.errors import UsageError
from netwatch.flows.tracker import PacketSink
from netwatch.store.packets import QUEUE_SIZE, PacketWriter
from netwatch.store.timespec import parse_age, parse_size

log = logging.getLogger("netwatch.record")
#: Live: seconds a packet waits before it is written (its process is found meanwhile).
LIVE_HOLD = 1.5


class PacketRecording:
    """What the packet options built; ``writer`` is None without ``--packets``."""

    def __init__(self, dedup: Deduplicator | None, writer: PacketWriter | None) -> None:
        self.dedup = dedup
        self.writer = writer

    @property
    def batch_filter(self) -> Callable[[Sequence[Packet]], Sequence[Packet]] | None:
        return self.dedup.filter if self.dedup is not None else None

    @property
    def sink(self) -> PacketSink | None:
        return self.writer.sink if self.writer is not None else None

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    @property
    def error(self) -> str | None:
        return self.writer.error if self.writer is not None else None

    def report(self) -> str:
        parts = []
        if self.writer is not None:
            st = self.writer.stats()
            parts.append(
                f"packets: {st.seen} seen, {st.stored} stored in {st.files} files, "
                f"{st.sampled_out} sampled out (1 in {st.sample_every}), "
                f"{st.adaptive_skipped} skipped by adaptive sampling "
                f"(engaged {st.adaptive_engaged} times), {st.dropped} dropped"
            )
        if self.dedup is not None:
            verb = "dropped" if self.dedup.mode == "drop" else "counted"
            parts.append(f"{self.dedup.duplicates} duplicate packets {verb}")
        return "; ".join(parts)


def parse_rotate(text: str) -> tuple[int, float]:
    size, _, age = text.partition("/")
    try:
        return parse_size(size) if size else 256 << 20, parse_age(age) if age else 3600.0
    except (ValueError, UsageError) as exc:
        raise UsageError(f"--rotate {text!r}: {exc}") from None


def packet_recording(
    args: argparse.Namespace,
    directory: str,
    store: Any,
    on_error: Callable[[str], None],
    *,
    live: bool = False,
) -> PacketRecording | None:
    """The packet machinery ``args`` ask for, None when none; ``store`` is the
    :class:`netwatch.store.StoreWriter` (its run id; its retention, followed on reload)."""
    packets = bool(getattr(args, "packets", False))
    mode = getattr(args, "dedup", None)
    every = int(getattr(args, "sample", 1) or 1)
    adaptive = bool(getattr(args, "adaptive_sample", False))
    if every < 1:
        raise UsageError("--sample N needs N >= 1")
    if not packets and (every > 1 or adaptive):
        raise UsageError("--sample and --adaptive-sample apply to stored packets: add --packets")
    if not packets and mode is None:
        return None
    dedup = Deduplicator(mode) if mode is not None else None
    writer = None
    if packets:
        rotate_bytes, rotate_seconds = parse_rotate(getattr(args, "rotate", "") or "")
        sampler = (
            Sampler(every, adaptive=adaptive, capacity=QUEUE_SIZE)
            if every > 1 or adaptive
            else None
        )
        writer = PacketWriter(
            directory,
            run=store.run,
            sampler=sampler,
            retention=lambda: store.retention,
            duplicates=(lambda: dedup.duplicates) if dedup is not None else None,
            on_error=on_error,
            rotate_bytes=rotate_bytes,
            rotate_seconds=rotate_seconds,
            hold=LIVE_HOLD if live else 0.0,
            lossless=not live,
        )
    return PacketRecording(dedup, writer)
