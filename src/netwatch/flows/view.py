"""Freezing a live row into a :class:`ConnectionView` (the snapshot and output form)."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from netwatch.flows import timeouts
from netwatch.flows.addr import ntop
from netwatch.flows.conn import Conn, byte_counts, history
from netwatch.model.frozen import frozen_builder
from netwatch.model.snapshot import ConnectionView, rfc3339

if TYPE_CHECKING:
    from netwatch.flows.tracker import Tracker


def udp_state(idle: float, timeout: float) -> str:
    if idle < timeouts.UDP_ACTIVE_SECONDS:
        return "UDP_ACTIVE"
    if idle < timeouts.STALE_FRACTION * timeout:
        return "UDP_IDLE"
    return "UDP_STALE"


def _service(tr: Tracker, c: Conn, proto: str, s_port: int, c_port: int) -> str:
    if proto == "tcp" or proto == "udp":
        return tr.services.service_of(proto, s_port, c_port)
    if c.extra and "icmp" in c.extra:
        return str(c.extra["icmp"]["type_name"])
    return ""


#: A view per row per snapshot: built without the frozen dataclass's __init__ (which took
#: 4.6 us of 32 fields; see ``frozen_builder``). Every field is passed by keyword below,
#: so a field added to ConnectionView and not set here fails at once.
_VIEW = frozen_builder(ConnectionView, *(f.name for f in fields(ConnectionView)))


def view(tr: Tracker, c: Conn, now: float) -> ConnectionView:
    # (Properties derived from the key are read once: a view is built per row per frame.)
    proto = c.proto
    timeout = tr.timeout_of(c)
    idle = max(0.0, now - c.last)
    state = c.state
    if proto == "udp":
        state = c.app_state or udp_state(idle, timeout)
    elif proto != "tcp" and c.app_state:
        state = c.app_state
    c_addr, c_port, s_addr, s_port = c.endpoints()
    if c.local_is_client:
        laddr, lport, raddr, rport = c_addr, c_port, s_addr, s_port
        pk_out, pk_in, by_out, by_in = c.pk0, c.pk1, c.by0, c.by1
        rate_out, rate_in = c.rate0, c.rate1
    else:
        laddr, lport, raddr, rport = s_addr, s_port, c_addr, c_port
        pk_out, pk_in, by_out, by_in = c.pk1, c.pk0, c.by1, c.by0
        rate_out, rate_in = c.rate1, c.rate0
    app: dict[str, Any]
    if c.analyzer is not None:
        tr.settle(c)
    if c.analyzer is not None:
        an = c.analyzer
        app = dict(c.app) if c.app else {}
        try:
            app[an.protocol.lower()] = an.record()
            app["summary"] = an.summary()
        except Exception as exc:  # noqa: BLE001 - a view must never fail for an analyzer bug
            app["error"] = f"record failed: {type(exc).__name__}"
        app["protocol"] = an.protocol
    else:
        app = dict(c.app) if c.app else {}
    linked = app.get(str(app.get("protocol", "")).lower())
    if isinstance(linked, dict) and "parent" in linked:
        # An announced row (FTP data, RTP) shares its info dict with the announcing
        # analyzer, which may still fill it in: the view gets a copy.
        app[str(app["protocol"]).lower()] = dict(linked)
    name = c.name or tr.names.get(raddr)
    name_source = "dns" if name else None
    geo = tr.enrich(ntop(raddr)) if tr.enrich is not None else None
    if name is None and geo and geo.get("rdns"):
        name, name_source = str(geo["rdns"]), "rdns"
    extra: dict[str, Any] = {}
    if c.extra:
        extra = {k: v for k, v in c.extra.items() if not k.startswith("_")}
    vlan = c.vlan
    if isinstance(vlan, tuple):
        extra["vlan_stack"] = list(vlan)
        vlan = vlan[0]
    if c.hist:
        extra["history"] = history(c)
    counts = byte_counts(c)
    if counts is not None:
        ip0, ip1, pay0, pay1 = (
            counts if c.local_is_client else (counts[1], counts[0], counts[3], counts[2])
        )
        extra["ip_bytes_out"] = ip0
        extra["ip_bytes_in"] = ip1
        extra["payload_bytes_out"] = pay0
        extra["payload_bytes_in"] = pay1
    if not c.local_is_client:
        extra["initiator"] = "remote"  # live: the remote side opened it (inbound)
    if proto == "tcp":
        extra["picked_up"] = not c.syn_ts
        if c.closed_at is not None:
            extra["closed_at"] = rfc3339(c.closed_at)
    return _VIEW(
        id=c.id,
        proto=proto,
        ip_version=4 if len(c_addr) == 4 else 6,
        local_addr=ntop(laddr),
        local_port=lport,
        remote_addr=ntop(raddr),
        remote_port=rport,
        state=state,
        service=_service(tr, c, proto, s_port, c_port),
        first_seen=c.first,
        last_seen=c.last,
        packets_out=pk_out,
        packets_in=pk_in,
        bytes_out=by_out,
        bytes_in=by_in,
        rate_out=rate_out,
        rate_in=rate_in,
        rtt_ms=None if c.rtt is None else c.rtt * 1000.0,
        vlan=vlan,
        retransmits=c.retrans,
        out_of_order=c.ooo,
        dup_acks=c.dup_acks,
        staleness=idle / timeout if timeout else 0.0,
        timeout=timeout,
        closed=c.closed,
        app=app,
        process=c.proc[0] if c.proc else None,
        attribution=c.proc[1] if c.proc else None,
        remote_name=name,
        remote_name_source=name_source,
        geo=geo,
        extra=extra,
    )
