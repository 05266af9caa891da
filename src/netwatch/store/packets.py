"""The recorder's packet store (``netwatch record --packets``): pcapng files and their index.

The engine calls :meth:`PacketWriter.sink` for every packet on the capture thread
(``Engine(packet_sink=...)``). The sink samples (``netwatch.engine.sampling``), copies the
bytes (the source's buffer is reused after the batch) and appends to a bounded deque: a
``deque.append`` and a ``len`` (no lock: both are atomic in CPython) cost a fraction of a
``queue.Queue.put_nowait``, which takes a lock and a condition per call; at 100k packets/s
that difference is a few percent of a core. A full queue drops the packet and counts it.

One writer thread takes what is queued every ``commit_interval`` seconds, writes Enhanced
Packet Blocks to the current pcapng file (``packets/`` under the store; a new file past
``rotate_bytes`` or ``rotate_seconds`` of capture time), flushes it, and only then commits
the index rows, so an index entry never points past what the file holds. Each block carries
an ``opt_comment``: ``conn=17 dir=c2s app=TLS process=curl pid=4242`` (the process and the
application as known when the packet is written: live, packets wait ``hold`` seconds in the
queue first, so attribution, which runs every half second, usually has named the process;
a connection's first packets may still precede its detection). ``dir`` is ``c2s`` from
the originator, ``s2c`` from the responder.

Retention (the store's ``Retention``): a file goes, with its index rows, when its last
packet is older than ``max_age`` (wall clock, as the store's connections), and the oldest
files go while all packet files exceed ``max_bytes`` (the database has its own budget).
Rows are deleted first, then the file: a crash between leaves a stray file, never an index
entry without its file.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from netwatch import __version__
from netwatch.engine.dedup import ip_offset
from netwatch.engine.sampling import Sampler
from netwatch.flows.conn import Conn
from netwatch.store.db import connect
from netwatch.store.pcapng import interface_block, packet_block, section_header
from netwatch.store.retention import SIZE_TARGET, Retention

log = logging.getLogger("netwatch.record")

PACKETS_DIR = "packets"
#: Packets waiting at most (about 150 MB of full-size frames); beyond, dropped and counted.
QUEUE_SIZE = 100_000
ROTATE_BYTES = 256 * 1024 * 1024
ROTATE_SECONDS = 3600.0
COMMIT_INTERVAL = 0.5
#: Packets written per transaction at most.
BATCH_PACKETS = 20_000

_QueueItem = tuple[float, int, bytes, int, Conn | None]


@dataclass(frozen=True, slots=True)
class PacketStats:
    seen: int
    stored: int
    stored_bytes: int
    sampled_out: int
    adaptive_skipped: int
    adaptive_engaged: int
    dropped: int
    duplicates: int
    files: int
    sample_every: int


def direction(lt: int, d: bytes, c: Conn) -> str:
    """``c2s``/``s2c`` from the packet's source address (and port when both sides share
    an address); ``?`` when the frame does not say."""
    where = ip_offset(lt, d)
    if where is None:
        return "?"
    ver, off = where
    src = d[off + 12 : off + 16] if ver == 4 else d[off + 8 : off + 24]
    ca, sa = c.c_addr, c.s_addr
    if ca != sa:
        return "c2s" if src == ca else "s2c" if src == sa else "?"
    if len(d) <= off:
        return "?"
    l4 = off + ((d[off] & 0x0F) * 4 if ver == 4 else 40)
    if len(d) < l4 + 2:
        return "?"
    sport = (d[l4] << 8) | d[l4 + 1]
    return "c2s" if sport == c.c_port else "s2c"


def comment_of(lt: int, d: bytes, c: Conn | None) -> str:
    if c is None:
        return NO_CONN_COMMENT
    return f"conn={c.id} dir={direction(lt, d, c)}{_tail(c)}"


NO_CONN_COMMENT = "conn=- (no connection)"


def _tail(c: Conn) -> str:
    """`` app=TLS process=curl pid=4242``: what is known of the row now."""
    an = c.analyzer
    app = an.protocol if an is not None else (c.app or {}).get("protocol")
    out = f" app={app}" if app else ""
    proc = c.proc
    if proc is not None:
        out += f" process={proc[0].name} pid={proc[0].pid}"
    return out


class _File:
    """The pcapng file being written: its handle, position, interfaces and index."""

    def __init__(self, db: sqlite3.Connection, directory: Path, run: int, seq: int) -> None:
        self.name = f"{PACKETS_DIR}/netwatch-r{run}-{seq:05d}.pcapng"
        self.path = directory / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self.pos = self.fh.write(section_header(f"netwatch {__version__}"))
        self.linktypes: dict[int, int] = {}
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.packets = 0
        cur = db.execute(
            "INSERT INTO packet_files (run, name, created) VALUES (?, ?, ?)",
            (run, self.name, time.time()),
        )
        self.id = int(cur.lastrowid or 0)

    def interface(self, lt: int) -> int:
        i = self.linktypes.get(lt)
        if i is None:
            i = self.linktypes[lt] = len(self.linktypes)
            self.pos += self.fh.write(interface_block(lt))
        return i

    def row(self) -> tuple[Any, ...]:
        lts = ",".join(str(lt) for lt in self.linktypes)
        return (self.first_ts, self.last_ts, self.packets, self.pos, lts, self.id)


class PacketWriter:
    """``PacketWriter(dir, run=...)``; ``start()``; ``sink`` as the engine's packet hook;
    ``close()`` writes what is queued."""

    def __init__(
        self,
        directory: str | Path,
        *,
        run: int,
        sampler: Sampler | None = None,
        retention: Retention | Callable[[], Retention] | None = None,
        duplicates: Callable[[], int] | None = None,
        on_error: Callable[[str], None] | None = None,
        queue_size: int = QUEUE_SIZE,
        rotate_bytes: int = ROTATE_BYTES,
        rotate_seconds: float = ROTATE_SECONDS,
        commit_interval: float = COMMIT_INTERVAL,
        retention_interval: float = 60.0,
        hold: float = 0.0,
        lossless: bool = False,
    ) -> None:
        self.directory = Path(directory)
        # Live: packets wait ``hold`` seconds (of capture time against the wall clock)
        # before they are written, so the process found meanwhile is in their comment.
        self.hold = hold
        # Files: a full queue makes the reader wait instead of dropping (nothing is lost
        # by reading a file more slowly); live capture cannot wait, so it drops and counts.
        self.lossless = lossless
        self.run = run
        self.sampler = sampler
        # A callable is asked at each pass (the recorder's SIGHUP reload changes it).
        self.retention = retention or Retention()
        self._duplicates = duplicates
        self._on_error = on_error
        self.capacity = queue_size
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.commit_interval = commit_interval
        self.retention_interval = retention_interval
        self._q: deque[_QueueItem] = deque()
        self.seen = 0
        self.dropped = 0
        self.stored = 0
        self.stored_bytes = 0
        self.files = 0
        self.error: str | None = None
        self._db = connect(self.directory, create=True)
        self._db.execute("INSERT OR IGNORE INTO packet_stats (run) VALUES (?)", (run,))
        self._file: _File | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._wake = threading.Event()  # a lossless sink waits: write without delay
        self._thread = threading.Thread(target=self._main, name="netwatch-packets", daemon=True)

    # ------------------------------------------------------------ capture thread side
    def sink(
        self, ts: float, lt: int, data: bytes | memoryview, wirelen: int, conn: Conn | None
    ) -> None:
        self.seen += 1
        q = self._q
        backlog = len(q)
        s = self.sampler
        if s is not None and not s.keep(backlog):
            return
        if backlog >= self.capacity and self.lossless:
            backlog = self._wait_for_room()
        if backlog >= self.capacity or self.error is not None:
            self.dropped += 1
            return
        q.append((ts, lt, bytes(data), wirelen, conn))

    def _wait_for_room(self) -> int:
        """Files: wait until the writer has taken a quarter of the queue (or failed)."""
        self._wake.set()
        while len(self._q) > self.capacity * 3 // 4 and self.error is None:
            if not self._thread.is_alive():
                break  # not started (tests) or ended: nothing will make room
            time.sleep(0.001)
        return len(self._q)

    def backlog(self) -> int:
        return len(self._q)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._wake.set()
            self._thread.join()
        else:
            self._drain()
        try:
            self._close_file()
            self._save_stats()
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)
        self._db.close()

    def stats(self) -> PacketStats:
        s = self.sampler.stats() if self.sampler is not None else None
        return PacketStats(
            seen=self.seen,
            stored=self.stored,
            stored_bytes=self.stored_bytes,
            sampled_out=s.sampled_out if s else 0,
            adaptive_skipped=s.adaptive_skipped if s else 0,
            adaptive_engaged=s.adaptive_engaged if s else 0,
            dropped=self.dropped,
            duplicates=self._duplicates() if self._duplicates is not None else 0,
            files=self.files,
            sample_every=s.sample_every if s else 1,
        )

    # ------------------------------------------------------------ writer thread
    def _main(self) -> None:
        next_retention = time.monotonic()  # at start too: a restart removes what expired
        while not self._stop.is_set():
            self._wake.wait(self.commit_interval)
            self._wake.clear()
            self._drain(time.time() - self.hold if self.hold > 0 else None)
            if self.error is None and time.monotonic() >= next_retention:
                next_retention = time.monotonic() + self.retention_interval
                self.retain(time.time())
        self._drain()

    def _drain(self, before: float | None = None) -> None:
        """Write what is queued (``before``: only packets captured before that time)."""
        q = self._q
        while q and self.error is None:
            n = min(len(q), BATCH_PACKETS)
            if before is None:
                batch = [q.popleft() for _ in range(n)]
            else:
                batch = []
                while q and len(batch) < n and q[0][0] < before:
                    batch.append(q.popleft())
                if not batch:
                    break
            try:
                self._write(batch)
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)
        if self.error is not None:
            q.clear()

    def _write(self, batch: list[_QueueItem]) -> None:
        index: dict[tuple[int, int], array[int]] = {}
        for ts, lt, data, wirelen, conn in batch:
            f = self._current(ts)
            block = packet_block(f.interface(lt), ts, data, wirelen, comment_of(lt, data, conn))
            # conn 0: packets counted in no row (fragments awaiting the rest, decode
            # errors): indexed too, so exporting everything is every stored packet.
            key = (conn.id if conn is not None else 0, f.id)
            offs = index.get(key)
            if offs is None:
                offs = index[key] = array("Q")
            offs.append(f.pos)
            f.pos += f.fh.write(block)
            if f.first_ts is None:
                f.first_ts = ts
            f.last_ts = ts if f.last_ts is None else max(f.last_ts, ts)
            f.packets += 1
            self.stored_bytes += len(data)
        cur = self._file
        assert cur is not None
        cur.fh.flush()  # the file holds every block before the index names it
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO packet_index (run, conn, file, count, offsets) VALUES (?, ?, ?, ?, ?)",
                [(self.run, c, fid, len(o), _le(o)) for (c, fid), o in index.items()],
            )
            db.execute(
                "UPDATE packet_files SET first_ts = ?, last_ts = ?, packets = ?, bytes = ?, "
                "linktypes = ? WHERE id = ?",
                cur.row(),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.stored += len(batch)
        self._save_stats()

    def _current(self, ts: float) -> _File:
        f = self._file
        if f is not None and (
            f.pos >= self.rotate_bytes
            or (f.first_ts is not None and ts - f.first_ts >= self.rotate_seconds)
        ):
            self._close_file()
            f = None
        if f is None:
            self._seq += 1
            f = self._file = _File(self._db, self.directory, self.run, self._seq)
            self.files += 1
        return f

    def _close_file(self) -> None:
        f = self._file
        if f is None:
            return
        self._file = None
        f.fh.close()
        self._db.execute(
            "UPDATE packet_files SET first_ts = ?, last_ts = ?, packets = ?, bytes = ?, "
            "linktypes = ? WHERE id = ?",
            f.row(),
        )

    def _save_stats(self) -> None:
        st = self.stats()
        self._db.execute(
            "UPDATE packet_stats SET seen = ?, stored = ?, stored_bytes = ?, sampled_out = ?, "
            "adaptive_skipped = ?, adaptive_engaged = ?, dropped = ?, duplicates = ?, "
            "sample_every = ? WHERE run = ?",
            (
                st.seen,
                st.stored,
                st.stored_bytes,
                st.sampled_out,
                st.adaptive_skipped,
                st.adaptive_engaged,
                st.dropped,
                st.duplicates,
                st.sample_every,
                self.run,
            ),
        )

    def retain(self, now: float) -> int:
        """Apply the retention policy to the packet files; returns how many went."""
        try:
            policy = self.retention if isinstance(self.retention, Retention) else self.retention()
            keep = self._file.id if self._file else None
            return remove_old_files(self._db, self.directory, policy, now, keep)
        except (OSError, sqlite3.Error) as exc:
            log.warning("packet retention failed: %s", exc)
            return 0

    def _fail(self, exc: Exception) -> None:
        msg = f"{self.directory}: cannot write packets ({exc}), packet recording stopped"
        if self.error is None:
            self.error = msg
            log.error("%s", msg)
            if self._on_error is not None:
                self._on_error(msg)


_BIG_ENDIAN = sys.byteorder == "big"


def _le(offsets: array[int]) -> bytes:
    if _BIG_ENDIAN:  # the index is little-endian whatever the host
        offsets = array("Q", offsets)
        offsets.byteswap()
    return offsets.tobytes()


def offsets_of(blob: bytes) -> array[int]:
    a = array("Q")
    a.frombytes(blob)
    if _BIG_ENDIAN:
        a.byteswap()
    return a


def remove_old_files(
    db: sqlite3.Connection,
    directory: Path,
    policy: Retention,
    now: float,
    keep: int | None = None,
) -> int:
    """Delete the files (rows, index rows, then the file) that ``policy`` no longer keeps;
    ``keep`` is the file being written, never removed."""
    rows = db.execute("SELECT id, name, last_ts, bytes FROM packet_files ORDER BY id").fetchall()
    doomed: list[tuple[int, str]] = []
    total = sum(int(r[3]) for r in rows)
    target = None if policy.max_bytes is None else policy.max_bytes * SIZE_TARGET
    over = policy.max_bytes is not None and total > policy.max_bytes
    for fid, name, last_ts, size in rows:
        if fid == keep:
            continue
        old = policy.max_age is not None and last_ts is not None and last_ts < now - policy.max_age
        if old or (over and target is not None and total > target):
            doomed.append((fid, name))
            total -= int(size)
    if not doomed:
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for fid, _ in doomed:
            db.execute("DELETE FROM packet_index WHERE file = ?", (fid,))
            db.execute("DELETE FROM packet_files WHERE id = ?", (fid,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    for _, name in doomed:
        (directory / name).unlink(missing_ok=True)
    log.info("packet retention removed %d files", len(doomed))
    return len(doomed)
