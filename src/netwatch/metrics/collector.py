"""The Prometheus collector: every value is read from the latest snapshot at scrape time.

Nothing is counted per packet for the metrics: the engine publishes an immutable
:class:`~netwatch.model.snapshot.Snapshot` about once a second, and a scrape turns the
newest one (with the totals of ended connections frozen beside it, see
:mod:`netwatch.metrics.totals`) into metric families. Names follow the Prometheus
conventions: a ``netwatch_`` prefix, base units in the name, ``_total`` on counters.
Label sets are bounded: protocols and applications come from fixed tables, error
reasons are stable tokens, and remote addresses only as the top N plus ``other``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from netwatch import __version__
from netwatch.metrics.recorder import RecorderStats
from netwatch.metrics.talkers import top_remotes
from netwatch.metrics.totals import FlowTotals, Frozen
from netwatch.model.snapshot import ConnectionView, Snapshot

TOP_TALKERS = 10


class ExportCounts(Protocol):
    @property
    def messages(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def send_errors(self) -> int: ...


class ExportStats(Protocol):
    """The IPFIX exporter (``netwatch.export.ipfix_exporter.IpfixExporter``)."""

    def stats(self) -> ExportCounts: ...


class NetwatchCollector(Collector):
    """``on_finish`` → :meth:`finished`, ``on_snapshot`` → :meth:`snapshot` (engine thread);
    :meth:`collect` runs in the HTTP server's thread."""

    def __init__(self, recorder: RecorderStats | None = None, top: int = TOP_TALKERS) -> None:
        self.totals = FlowTotals()
        self.recorder = recorder
        self.top = top
        self.ipfix: ExportStats | None = None

    def finished(self, v: ConnectionView) -> None:
        self.totals.finished(v)

    def snapshot(self, snap: Snapshot) -> None:
        self.totals.snapshot(snap)

    def describe(self) -> list[Metric]:
        return []  # families depend on the data; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        frozen = self.totals.latest()
        if frozen is not None:
            yield from _capture(frozen)
            yield from _flows(frozen)
            yield _talkers(frozen.snapshot, self.top)
        if self.recorder is not None:
            yield from _recorder(self.recorder)
        if self.ipfix is not None:
            yield from _ipfix(self.ipfix)


def _capture(f: Frozen) -> Iterator[Metric]:
    snap = f.snapshot
    st = snap.stats
    info = InfoMetricFamily("netwatch", "What this netwatch is watching.")
    info.add_metric(
        [], {"version": __version__, "interface": snap.interface,
             "attribution": snap.attribution_backend},
    )  # fmt: skip
    yield info
    yield GaugeMetricFamily(
        "netwatch_snapshot_timestamp_seconds",
        "Time of the snapshot these values come from (the capture's clock), in seconds "
        "since the epoch.",
        value=snap.ts,
    )
    yield CounterMetricFamily(
        "netwatch_packets", "Packets seen by the connection tracker.", value=st.packets
    )
    yield CounterMetricFamily(
        "netwatch_bytes", "Bytes of the packets seen (captured frame lengths).", value=st.bytes
    )
    drops = CounterMetricFamily(
        "netwatch_dropped_packets",
        "Packets lost before netwatch saw them: by the kernel (capture buffer full) or "
        "by netwatch itself (its own queues full).",
        labels=["by"],
    )
    drops.add_metric(["kernel"], st.kernel_drops)
    drops.add_metric(["netwatch"], st.internal_drops)
    yield drops
    yield _by_label(
        CounterMetricFamily,
        "netwatch_decode_errors",
        "Packets whose headers could not be decoded.",
        "reason",
        st.decode_errors,
    )
    yield _by_label(
        CounterMetricFamily,
        "netwatch_analyzer_errors",
        "Connections whose protocol analyzer stopped on malformed data.",
        "protocol",
        st.analyzer_errors,
    )
    yield CounterMetricFamily(
        "netwatch_evicted_connections",
        "Connections ended early because the table was full.",
        value=st.evictions,
    )
    yield CounterMetricFamily(
        "netwatch_expired_connections",
        "Connections ended by their idle timeout.",
        value=st.expired,
    )
    yield GaugeMetricFamily(
        "netwatch_fragments_pending",
        "IP datagrams waiting for their missing fragments.",
        value=st.fragments_pending,
    )
    yield _by_label(
        GaugeMetricFamily,
        "netwatch_buffered_bytes",
        "Bytes held in the engine's bounded buffers, over all flows.",
        "kind",
        st.buffered,
    )
    yield GaugeMetricFamily(
        "netwatch_tracked_connections",
        "Connections in the table now.",
        value=st.active_connections,
    )


def _by_label(
    family: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    documentation: str,
    label: str,
    values: Mapping[str, int],
) -> Metric:
    """One metric with a sample per key of ``values`` (in key order) under ``label``."""
    metric = family(name, documentation, labels=[label])
    for key, n in sorted(values.items()):
        metric.add_metric([key], n)
    return metric


def _flows(f: Frozen) -> Iterator[Metric]:
    proto_help = "by transport protocol (ended and open connections)."
    conns = CounterMetricFamily(
        "netwatch_protocol_connections", f"Connections seen, {proto_help}", labels=["proto"]
    )
    pkts = CounterMetricFamily(
        "netwatch_protocol_packets", f"Packets of connections, {proto_help}", labels=["proto"]
    )
    byts = CounterMetricFamily(
        "netwatch_protocol_bytes", f"Bytes of connections, {proto_help}", labels=["proto"]
    )
    for proto, t in sorted(f.by_proto().items()):
        conns.add_metric([proto], t.connections)
        pkts.add_metric([proto], t.packets)
        byts.add_metric([proto], t.bytes)
    yield from (conns, pkts, byts)
    app_help = "by transport protocol and application, counted when a connection ends."
    aconns = CounterMetricFamily(
        "netwatch_application_connections",
        f"Connections ended, {app_help}",
        labels=["proto", "app"],
    )
    apkts = CounterMetricFamily(
        "netwatch_application_packets",
        f"Packets of connections ended, {app_help}",
        labels=["proto", "app"],
    )
    abyts = CounterMetricFamily(
        "netwatch_application_bytes",
        f"Bytes of connections ended, {app_help}",
        labels=["proto", "app"],
    )
    for (proto, app), t in sorted(f.by_app().items()):
        aconns.add_metric([proto, app], t.connections)
        apkts.add_metric([proto, app], t.packets)
        abyts.add_metric([proto, app], t.bytes)
    yield from (aconns, apkts, abyts)
    active = GaugeMetricFamily(
        "netwatch_open_connections",
        "Connections open now, by transport protocol and application.",
        labels=["proto", "app"],
    )
    for (proto, app), n in sorted(f.active().items()):
        active.add_metric([proto, app], n)
    yield active


def _talkers(snap: Snapshot, n: int) -> Metric:
    g = GaugeMetricFamily(
        "netwatch_top_remote_bytes",
        f"Bytes moved by the connections in the table, by remote address: the top {n}, "
        'the rest under remote="other".',
        labels=["remote"],
    )
    for addr, nbytes in top_remotes(snap.connections, n):
        g.add_metric([addr], nbytes)
    return g


def _recorder(rec: RecorderStats) -> Iterator[Metric]:
    st = rec.stats()
    yield GaugeMetricFamily(
        "netwatch_store_size_bytes", "The recorder's store on disk.", value=st.store_bytes
    )
    yield CounterMetricFamily(
        "netwatch_store_connections", "Connections written to the store.", value=st.connections
    )
    yield CounterMetricFamily(
        "netwatch_store_events", "Analyzer events written to the store.", value=st.events
    )
    yield CounterMetricFamily(
        "netwatch_store_dropped",
        "Connections and events not written (queue full or store failed).",
        value=st.dropped,
    )
    yield GaugeMetricFamily(
        "netwatch_store_queue_items", "Items waiting to be written.", value=st.queued
    )
    if st.write_seconds is not None:
        yield SummaryMetricFamily(
            "netwatch_store_write_seconds",
            "Time spent in the store's write transactions.",
            count_value=st.transactions,
            sum_value=st.write_seconds,
        )
    else:
        yield CounterMetricFamily(
            "netwatch_store_transactions",
            "Write transactions committed.",
            value=st.transactions,
        )


def _ipfix(exp: ExportStats) -> Iterator[Metric]:
    st = exp.stats()
    yield CounterMetricFamily(
        "netwatch_ipfix_messages", "IPFIX messages sent to the collector.", value=st.messages
    )
    yield CounterMetricFamily(
        "netwatch_ipfix_records", "IPFIX flow records sent to the collector.", value=st.records
    )
    yield CounterMetricFamily(
        "netwatch_ipfix_send_errors",
        "IPFIX messages that could not be sent (collector unreachable); their records are lost.",
        value=st.send_errors,
    )
