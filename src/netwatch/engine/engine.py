"""The engine: one capture thread owns the tracker; front ends read snapshots.

Offline (``analyze -r``) the engine runs in the caller's thread to the end of the file.
For the TUI it runs in a thread (``start()``): it pulls batches from the packet source,
feeds the tracker, and every ``snapshot_interval`` seconds (of the source's clock: the
capture's own time when replaying a file) publishes an immutable :class:`Snapshot`.
Commands from the front end (clear, pause, speed) are queued and executed by the capture
thread, so the tracker is never touched by two threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.attribution.base import ProcessResolver
from netwatch.capture.base import Packet, PacketSource
from netwatch.dpi.base import AppEvent
from netwatch.engine.resources import load_services
from netwatch.enrich import EnrichHandle
from netwatch.errors import TruncatedCaptureError
from netwatch.flows.addr import ntop
from netwatch.flows.conn import Conn
from netwatch.flows.tracker import PacketSink, Tracker
from netwatch.flows.view import view
from netwatch.model.frames import FrameBlock
from netwatch.model.snapshot import CaptureStats, ConnectionView, Snapshot

#: Rows attributed per snapshot at most, and lookups tried per row before giving up.
ATTRIBUTION_BUDGET = 5000
ATTRIBUTION_TRIES = 5
#: Seconds between attribution passes (new rows wait at most this long for a process).
ATTRIBUTION_INTERVAL = 0.5
#: How long one poll of the resolver may block (bounds the attribution thread's stop time).
ATTRIBUTION_POLL_MS = 200
#: Caller's-thread runs with ``on_snapshot`` (metrics, IPFIX): the next snapshot waits at
#: least this many times as long as the last one took, so snapshots of a big table take at
#: most ~1/10 of the capture thread (measured: 12,000 rows take 0.3 s to freeze).
PUBLISH_COST_FACTOR = 10


@dataclass(frozen=True, slots=True)
class EngineConfig:
    dpi: bool = True
    max_connections: int = 200_000
    history: int = 2000
    snapshot_interval: float = 1.0
    #: Replay speed for files in the UI: 1.0 = recorded speed, 0 = as fast as possible.
    replay_speed: float = 0.0
    local_refresh: float = 5.0


class Engine:
    def __init__(
        self,
        source: PacketSource,
        config: EngineConfig | None = None,
        *,
        on_finish: Callable[[ConnectionView], None] | None = None,
        local_addresses: Callable[[], set[bytes]] | None = None,
        resolver: ProcessResolver | None = None,
        on_event: Callable[[ConnectionView | None, AppEvent], None] | None = None,
        on_event_id: Callable[[int, AppEvent], None] | None = None,
        enrich: EnrichHandle | None = None,
        packet_sink: PacketSink | None = None,
        batch_filter: Callable[[Sequence[Packet]], Sequence[Packet]] | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.source = source
        self.resolver = resolver
        self.attribution_error: str | None = None
        self._attr_thread: threading.Thread | None = None
        self._attr_stop = threading.Event()
        self.config = config or EngineConfig()
        self._on_finish_view = on_finish
        self._local_addresses = local_addresses
        self.tracker = Tracker(
            live=source.live,
            services=load_services(),
            max_connections=self.config.max_connections,
            history=self.config.history,
            dpi=self.config.dpi,
            on_finish=self._finished if on_finish else None,
            on_event=self._event if on_event else self._event_id if on_event_id else None,
            enrich=enrich.enricher if enrich is not None else None,
        )
        self.enrich = enrich
        # Every packet with its row (data is a view valid until the next batch: copy it).
        self.tracker.packet_sink = packet_sink
        # Runs on each batch before the tracker sees it: packet deduplication
        # (netwatch.engine.dedup.Deduplicator.filter) drops copies here, so a packet seen
        # on two interfaces (-i any) is counted and stored once.
        self.batch_filter = batch_filter
        # Every published snapshot, in this thread (metrics, IPFIX active timeouts). Set,
        # it also makes ``run()`` in the caller's thread (analyze, record) publish, once
        # per ``snapshot_interval`` of wall time (a fast replay must not build one per
        # second of the capture's clock).
        self._on_snapshot = on_snapshot
        self._on_event = on_event
        # Cheaper than ``on_event``: the row's id only, no view built per event (recorder).
        self._on_event_id = on_event_id
        self.error: str | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._speed = self.config.replay_speed
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._latest: Snapshot | None = None
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._closed_views: dict[int, ConnectionView] = {}
        self._last_pub_ts = 0.0
        self.finished = False

    # -------------------------------------------------------------- running
    def _finished(self, c: Conn) -> None:
        assert self._on_finish_view is not None
        if self.resolver is not None and c.proc is None:
            self._lookup(self.resolver, c)  # short-lived: ask once more before it is written
        v = view(self.tracker, c, self.tracker.now)
        if self.enrich is not None:
            if self.enrich.hidden(v):
                return  # netwatch's own reverse-DNS queries
            if v.proto == "arp":
                self.enrich.enricher.observe(v)
        self._on_finish_view(v)

    def _event_id(self, c: Conn, ev: AppEvent) -> None:
        assert self._on_event_id is not None
        self._on_event_id(c.id, ev)

    def _event(self, c: Conn, ev: AppEvent) -> None:
        """An analyzer event, with the row it belongs to as it stands now (recorder)."""
        assert self._on_event is not None
        self._on_event(view(self.tracker, c, self.tracker.now), ev)

    # -------------------------------------------------------------- attribution
    def _attribution_loop(self, r: ProcessResolver) -> None:
        """The attribution thread: the resolver's I/O (eBPF events, /proc, netlink) runs
        here, off the capture path; the capture thread only does cache lookups."""
        while not self._attr_stop.is_set():
            try:
                r.poll(ATTRIBUTION_POLL_MS)
            except OSError as exc:  # the backend lost access: keep running, say so
                self.attribution_error = str(exc)
                self._attr_stop.wait(1.0)

    def _start_attribution(self) -> None:
        r = self.resolver
        if r is None or self._attr_thread is not None:
            return
        self._attr_stop.clear()
        self._attr_thread = threading.Thread(
            target=self._attribution_loop, args=(r,), name="netwatch-attribution", daemon=True
        )
        self._attr_thread.start()

    def _stop_attribution(self) -> None:
        """Stop the thread, then catch up once here (refresh is single-threaded)."""
        r = self.resolver
        if r is None:
            return
        if self._attr_thread is not None:
            self._attr_stop.set()
            self._attr_thread.join(timeout=2 + ATTRIBUTION_POLL_MS / 1000)
            self._attr_thread = None
        try:
            r.refresh()
        except OSError as exc:
            self.attribution_error = str(exc)

    def attribute(self) -> None:
        """Attribute rows that have no process yet (bounded; lookups in caches only)."""
        r = self.resolver
        if r is None:
            return
        budget = ATTRIBUTION_BUDGET
        for c in self.tracker.table.values():
            if c.proc is not None or c.proc_tries >= ATTRIBUTION_TRIES:
                continue
            if c.proto != "tcp" and c.proto != "udp":
                continue
            self._lookup(r, c)
            budget -= 1
            if not budget:
                break

    @staticmethod
    def _lookup(r: ProcessResolver, c: Conn) -> None:
        if c.proto != "tcp" and c.proto != "udp":
            return
        c.proc_tries += 1
        if c.local_is_client:
            local, remote = (ntop(c.c_addr), c.c_port), (ntop(c.s_addr), c.s_port)
        else:
            local, remote = (ntop(c.s_addr), c.s_port), (ntop(c.c_addr), c.c_port)
        try:
            c.proc = r.lookup(c.proto, local, remote)
        except OSError:
            c.proc = None  # a process gone mid-lookup is normal

    def run(self, progress: Callable[[int, int | None], None] | None = None) -> None:
        """Consume the source to its end (or ``stop()``), then flush every open row.

        A damaged capture raises :class:`TruncatedCaptureError` only after every row
        read before the damage has been flushed to ``on_finish``.
        """
        tr = self.tracker
        source = self.source
        interval = self.config.snapshot_interval
        next_snap = 0.0
        next_wall = 0.0
        next_local = 0.0
        next_attr = 0.0
        replay_anchor: tuple[float, float] | None = None  # (wall, capture) at last sync
        self._start_attribution()
        try:
            for batch in source.batches():
                if self.batch_filter is not None:  # deduplication (see __init__)
                    batch = self.batch_filter(batch)
                self._run_commands()
                if self._stop.is_set():
                    break
                if self.resolver is not None and time.monotonic() >= next_attr:
                    self.attribute()
                    next_attr = time.monotonic() + ATTRIBUTION_INTERVAL
                if self._local_addresses is not None and time.monotonic() >= next_local:
                    tr.set_local_addresses(self._local_addresses())
                    next_local = time.monotonic() + self.config.local_refresh
                    if self.enrich is not None:
                        self.enrich.enricher.refresh()  # gateways, neighbours (rate-limited)
                if self._speed > 0 and not source.live and batch:
                    replay_anchor = self._pace(batch, replay_anchor)
                    if self._stop.is_set():
                        break
                elif self._thread is not None and not source.live and batch:
                    next_snap = self._batch_with_snapshots(batch, next_snap, interval)
                else:
                    tr.packets_batch(batch)
                if progress is not None:
                    st = source.stats()
                    progress(st.bytes_read, st.bytes_total)
                now = tr.now if not source.live else time.time()
                if source.live and not batch:
                    tr.advance(now)  # a quiet interface: the wall clock still expires rows
                if now >= next_snap and (self._thread is not None):
                    self.publish(now)
                    next_snap = now + interval
                elif self._on_snapshot is not None and self._thread is None:
                    started = time.monotonic()
                    if started >= next_wall:
                        self.publish(now)
                        spent = time.monotonic() - started
                        next_wall = started + max(interval, PUBLISH_COST_FACTOR * spent)
        except TruncatedCaptureError as exc:
            self.error = str(exc)
            self._end()
            raise
        self._end()

    def _batch_with_snapshots(
        self, batch: Sequence[Packet], next_snap: float, interval: float
    ) -> float:
        """A file at full speed in the engine's own thread (monitor, IPFIX): a snapshot
        each ``interval`` of the capture's clock, also inside a batch (a small file is one
        batch; a snapshot per batch would skip the seconds between). The batch is cut
        after each packet that reaches the next snapshot's time, as if it came alone.
        Returns the next snapshot's time."""
        tr = self.tracker
        if max(batch[0][0], batch[-1][0]) < next_snap:
            tr.packets_batch(batch)  # the usual case: no snapshot falls inside
            return next_snap
        frames = FrameBlock.of(batch).frames
        start = 0
        for i, f in enumerate(frames):
            if f[0] >= next_snap:
                tr.packets_batch(FrameBlock(frames[start : i + 1]))
                start = i + 1
                if tr.now >= next_snap:
                    self.publish(tr.now)
                    next_snap = tr.now + interval
        if start < len(frames):
            tr.packets_batch(FrameBlock(frames[start:]))
        return next_snap

    def _end(self) -> None:
        tr = self.tracker
        self.source.close()
        self._stop_attribution()
        self.attribute()  # a last pass, so rows written now have their process
        if self._on_finish_view is not None:
            tr.finish_all()
        self.finished = True
        if self._thread is not None or self._on_snapshot is not None:
            self.publish(tr.now)

    def _pace(
        self,
        batch: Any,
        anchor: tuple[float, float] | None,
    ) -> tuple[float, float] | None:
        """Replay at recorded speed (× speed): sleep until each packet's time comes."""
        tr = self.tracker
        for pkt in batch:
            ts = pkt[0]
            while self._paused.is_set() and not self._stop.is_set():
                time.sleep(0.05)
                anchor = None
            if anchor is None:
                anchor = (time.monotonic(), ts)
            due = anchor[0] + (ts - anchor[1]) / max(self._speed, 1e-6)
            delay = due - time.monotonic()
            while delay > 0 and not self._stop.is_set():
                if tr.now and tr.now >= self._last_pub_ts + self.config.snapshot_interval:
                    self.publish(tr.now)
                time.sleep(min(delay, 0.05))
                delay = due - time.monotonic()
                self._run_commands()
                if self._paused.is_set():
                    break
            if self._stop.is_set():
                return anchor
            tr.packet(*pkt)
        return anchor

    def _run_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            cmd()

    # -------------------------------------------------------------- snapshots
    def snapshot(self, now: float) -> Snapshot:
        tr = self.tracker
        tr.tick(now)
        conns = tuple(view(tr, c, now) for c in tr.table.values())
        if self.enrich is not None:
            for v in conns:
                if v.proto == "arp":
                    self.enrich.enricher.observe(v)
            conns = tuple(v for v in conns if not self.enrich.hidden(v))
        closed_views = []
        keep: dict[int, ConnectionView] = {}
        for c in tr.closed:
            v = self._closed_views.get(c.id) or view(tr, c, now)
            keep[c.id] = v
            closed_views.append(v)
        self._closed_views = keep
        src = self.source.stats()
        stats = CaptureStats(
            packets=tr.packets,
            bytes=tr.bytes,
            kernel_drops=src.kernel_drops,
            internal_drops=0,
            decode_errors=dict(tr.decode_errors),
            analyzer_errors=dict(tr.analyzer_errors),
            evictions=tr.evictions,
            expired=tr.expired,
            fragments_pending=len(tr.frags),
            buffered=tr.buffered(),
            active_connections=len(tr.table),
        )
        self._seq += 1
        return Snapshot(
            seq=self._seq,
            ts=now,
            connections=conns,
            closed=tuple(closed_views),
            stats=stats,
            interface=self.source.description,
            attribution_backend=self.resolver.name if self.resolver else "none",
            finished=self.finished,
            error=self.error or self.attribution_error,
        )

    def publish(self, now: float) -> None:
        snap = self.snapshot(now)
        self._last_pub_ts = now
        with self._cond:
            self._latest = snap
            self._cond.notify_all()
        if self._on_snapshot is not None:
            self._on_snapshot(snap)

    # -------------------------------------------------------------- MonitorHandle
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._thread_main, name="netwatch-capture", daemon=True
        )
        self._thread.start()

    def _thread_main(self) -> None:
        try:
            self.run()
        except TruncatedCaptureError:
            pass  # kept in self.error, shown by the front end
        except Exception as exc:  # noqa: BLE001 - report in the UI, never kill it silently
            self.error = f"capture stopped: {exc}"
            self.finished = True
            self.publish(self.tracker.now)

    def latest(self) -> Snapshot | None:
        return self._latest

    def wait_next(self, after_seq: int, timeout: float) -> Snapshot | None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._latest is not None and self._latest.seq > after_seq, timeout
            )
            snap = self._latest
        return snap if snap is not None and snap.seq > after_seq else None

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    def set_speed(self, speed: float) -> None:
        self._speed = max(0.0, speed)

    def clear_closed(self) -> None:
        self._commands.put(self.tracker.closed.clear)

    def stop(self) -> None:
        self._stop.set()
        self.source.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
