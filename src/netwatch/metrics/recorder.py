"""What the metrics read from the recorder: a tiny Protocol the store implements.

``netwatch record`` passes its store writer; anything with a ``stats()`` returning these
fields will do. ``write_seconds`` is the total time spent in write transactions (its
average per transaction is ``write_seconds / transactions``); ``None`` when the writer
does not measure it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class RecorderSample(Protocol):
    @property
    def connections(self) -> int: ...  # connections written
    @property
    def events(self) -> int: ...  # events written
    @property
    def dropped(self) -> int: ...  # items dropped (queue full, store failed)
    @property
    def transactions(self) -> int: ...  # write transactions committed
    @property
    def queued(self) -> int: ...  # items waiting
    @property
    def store_bytes(self) -> int: ...  # the store's size on disk
    @property
    def write_seconds(self) -> float | None: ...  # total seconds in write transactions


class RecorderStats(Protocol):
    def stats(self) -> RecorderSample: ...


class _WriterCounts(Protocol):
    """The counters ``netwatch.store.StoreWriter.stats()`` returns today."""

    @property
    def connections(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def transactions(self) -> int: ...
    @property
    def queued(self) -> int: ...


class _Writer(Protocol):
    def stats(self) -> _WriterCounts: ...


@dataclass(frozen=True, slots=True)
class Sample:
    connections: int
    events: int
    dropped: int
    transactions: int
    queued: int
    store_bytes: int
    write_seconds: float | None = None


class StoreFiles:
    """A :class:`RecorderStats` for a writer that does not report its size: the writer's
    counters plus the size of the store's files (the database and its write-ahead log)."""

    def __init__(self, writer: _Writer, directory: str | Path) -> None:
        self._writer = writer
        self._dir = Path(directory)

    def stats(self) -> Sample:
        st = self._writer.stats()
        size = 0
        for name in ("netwatch.sqlite", "netwatch.sqlite-wal"):
            try:
                size += (self._dir / name).stat().st_size
            except OSError:
                continue  # no log yet, or the store went away: never fail a scrape
        return Sample(st.connections, st.events, st.dropped, st.transactions, st.queued, size)
