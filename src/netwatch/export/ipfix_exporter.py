"""Live IPFIX export over UDP (RFC 7011 §10.3): finished flows and active-timeout updates.

Each connection becomes up to two unidirectional flow records (local → remote and
remote → local, only directions that carried packets). A record carries *delta* counts
(``octetDeltaCount``, ``packetDeltaCount``): a connection older than ``active_timeout``
is reported again with what it moved since its last report (``flowEndReason`` 2, active
timeout), and once more when it ends (1 idle timeout, 3 end of flow, 4 forced end at the
end of the capture). The sum of a connection's records is its total.

Hooks: ``finished(view)`` is the engine's ``on_finish``, ``snapshot(snap)`` its
``on_snapshot`` (both in the engine's thread). Templates go out in the first message and
again every ``template_interval`` seconds (UDP: RFC 7011 §8.4), so a collector started
later learns them.

Counting: ``layer2OctetDeltaCount`` is the frame lengths netwatch counts (``bytes_out``/
``_in``); ``octetDeltaCount`` (IP header and payload) is the row's ``ip_bytes_out``/``_in``,
the sum of its packets' IP lengths. ``tcpControlBits`` are the flags seen so far in that direction,
from the connection's history (SYN, SYN+ACK, ACK, FIN, RST), not only since the last
report.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from netwatch.errors import MalformedError, UsageError
from netwatch.export.ids import proto_number
from netwatch.export.ipfix import (
    ACK,
    END_ACTIVE,
    END_FORCED,
    END_IDLE,
    END_OF_FLOW,
    FIN,
    RST,
    SYN,
    FlowRecord,
    pack_messages,
)
from netwatch.model.snapshot import ConnectionView, Snapshot

IPFIX_PORT = 4739  # IANA: ipfix/udp
#: Records buffered before a message is sent anyway (about one full 1400-byte message).
FLUSH_RECORDS = 20
_PORTED = frozenset({6, 17, 132})
#: History letters → tcpControlBits (upper case: the originator sent it).
_HISTORY_FLAGS = {"s": SYN, "h": SYN | ACK, "a": ACK, "d": ACK, "f": FIN, "r": RST}
_CLOSED_STATES = frozenset({"CLOSED", "TIME_WAIT", "CLOSING", "LAST_ACK", "RESET"})


def parse_collector(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``HOST`` (port 4739) → (host, port)."""
    host, port = text, IPFIX_PORT
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"--ipfix {text!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"--ipfix {text!r}: expected [ADDR]:PORT")
            port = _port(text, rest[1:])
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(text, p)
    if not host:
        raise UsageError(f"--ipfix {text!r}: no host")
    return host, port


def _port(text: str, p: str) -> int:
    if not p.isdigit() or not 0 < int(p) < 65536:
        raise UsageError(f"--ipfix {text!r}: {p!r} is not a port")
    return int(p)


@dataclass(slots=True)
class _Sent:
    """What was already reported of one open connection."""

    pk_out: int = 0
    by_out: int = 0
    ip_out: int = 0
    pk_in: int = 0
    by_in: int = 0
    ip_in: int = 0
    at: float = 0.0  # snapshot time of the last report


@dataclass(frozen=True, slots=True)
class ExporterStats:
    messages: int
    records: int
    send_errors: int
    skipped: int


def tcp_flags(v: ConnectionView) -> tuple[int, int]:
    """(flags local → remote, flags remote → local) seen so far, from the history."""
    hist = str(v.extra.get("history", "")) if v.proto == "tcp" else ""
    orig = resp = 0
    for ch in hist:
        bits = _HISTORY_FLAGS.get(ch.lower(), 0)
        if ch.isupper():
            orig |= bits
        else:
            resp |= bits
    if v.extra.get("initiator") == "remote":
        return resp, orig
    return orig, resp


def end_reason(v: ConnectionView) -> int:
    if not v.closed:
        return END_FORCED  # still open when the capture ended
    if v.proto == "tcp" and v.state in _CLOSED_STATES:
        return END_OF_FLOW
    return END_IDLE


class IpfixExporter:
    """``IpfixExporter(host, port)``; the engine's hooks; ``close()`` flushes."""

    def __init__(
        self,
        host: str,
        port: int = IPFIX_PORT,
        *,
        active_timeout: float = 60.0,
        template_interval: float = 60.0,
        domain: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise UsageError(f"--ipfix {host}:{port}: cannot resolve ({exc})") from None
        family, kind, proto, _, addr = infos[0]
        self._sock = socket.socket(family, kind, proto)
        self._sock.connect(addr)
        self.active_timeout = active_timeout
        self.template_interval = template_interval
        self.domain = domain
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[int, _Sent] = {}
        self._pending: list[FlowRecord] = []
        self._sequence = 0
        self._last_templates: float | None = None
        self.messages = 0
        self.records = 0
        self.send_errors = 0
        self.skipped = 0  # not IP (ARP) or not encodable

    # ------------------------------------------------------------ engine hooks
    def finished(self, v: ConnectionView) -> None:
        """A connection ended: report what it moved since its last report."""
        with self._lock:
            sent = self._sent.pop(v.id, None) or _Sent()
            self._add(v, sent, end_reason(v))
            if len(self._pending) >= FLUSH_RECORDS:
                self._flush()

    def snapshot(self, snap: Snapshot) -> None:
        """Active timeout: report connections not reported for ``active_timeout`` seconds
        (of the snapshot's clock); then send what is buffered."""
        with self._lock:
            if not snap.finished:  # at the end every open row was just finished
                for v in snap.connections:
                    sent = self._sent.get(v.id)
                    since = sent.at if sent is not None else v.first_seen
                    if snap.ts - since < self.active_timeout:
                        continue
                    if sent is None:
                        sent = self._sent[v.id] = _Sent()
                    self._add(v, sent, END_ACTIVE)
                    sent.at = snap.ts
            self._flush()

    def close(self) -> None:
        with self._lock:
            self._flush()
            self._sock.close()

    def stats(self) -> ExporterStats:
        return ExporterStats(self.messages, self.records, self.send_errors, self.skipped)

    # ------------------------------------------------------------ building
    def _add(self, v: ConnectionView, sent: _Sent, reason: int) -> None:
        number = proto_number(v.proto)
        if number is None or v.ip_version not in (4, 6):
            self.skipped += 1
            return
        ip_out = int(v.extra.get("ip_bytes_out", v.bytes_out))
        ip_in = int(v.extra.get("ip_bytes_in", v.bytes_in))
        ported = number in _PORTED
        lport, rport = (v.local_port, v.remote_port) if ported else (0, 0)
        f_out, f_in = tcp_flags(v)
        start = int(v.first_seen * 1000)
        end = int(v.last_seen * 1000)
        vlan = v.vlan or 0
        for src, dst, sport, dport, pk, by, ip, flags in (
            (v.local_addr, v.remote_addr, lport, rport, v.packets_out - sent.pk_out,
             v.bytes_out - sent.by_out, ip_out - sent.ip_out, f_out),
            (v.remote_addr, v.local_addr, rport, lport, v.packets_in - sent.pk_in,
             v.bytes_in - sent.by_in, ip_in - sent.ip_in, f_in),
        ):  # fmt: skip
            if pk <= 0:
                continue
            self._pending.append(
                FlowRecord(
                    src=src, dst=dst, sport=sport, dport=dport, protocol=number,
                    octets=max(ip, 0), packets=pk, l2_octets=max(by, 0), start_ms=start,
                    end_ms=end, tcp_flags=flags, vlan=vlan, end_reason=reason, flow_id=v.id,
                )
            )  # fmt: skip
        sent.pk_out, sent.by_out, sent.ip_out = v.packets_out, v.bytes_out, ip_out
        sent.pk_in, sent.by_in, sent.ip_in = v.packets_in, v.bytes_in, ip_in

    def _flush(self) -> None:
        now = self._clock()
        templates = (
            self._last_templates is None or now - self._last_templates >= self.template_interval
        )
        if not self._pending and not templates:
            return
        records, self._pending = self._pending, []
        try:
            messages = pack_messages(
                records,
                export_time=int(now),
                sequence=self._sequence,
                domain=self.domain,
                with_templates=templates,
            )
        except MalformedError:
            messages = self._pack_each(records, int(now), templates)
        if templates:
            self._last_templates = now
        for data, count in messages:
            self._sequence += count
            try:
                self._sock.send(data)
            except OSError:
                # No collector listening (ICMP port unreachable) or a full buffer: the
                # records are lost, as UDP export allows; the sequence tells the collector.
                self.send_errors += 1
                continue
            self.messages += 1
            self.records += count

    def _pack_each(
        self, records: list[FlowRecord], now: int, templates: bool
    ) -> list[tuple[bytes, int]]:
        """Slow path: drop (and count) the records that cannot be encoded."""
        good = []
        for r in records:
            try:
                r.encode()
            except MalformedError:
                self.skipped += 1
                continue
            good.append(r)
        return pack_messages(
            good, export_time=now, sequence=self._sequence, domain=self.domain,
            with_templates=templates,
        )  # fmt: skip
