"""Canned connection views and snapshots for the metrics and IPFIX tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netwatch.model.snapshot import CaptureStats, ConnectionView, Snapshot


def conn(
    cid: int,
    *,
    proto: str = "tcp",
    app: str = "",
    remote: str = "198.51.100.1",
    local: str = "192.0.2.10",
    pk: tuple[int, int] = (1, 1),
    by: tuple[int, int] = (100, 100),
    first: float = 1000.0,
    last: float = 1001.0,
    **kw: Any,
) -> ConnectionView:
    return ConnectionView(
        id=cid,
        proto=proto,
        ip_version=6 if ":" in remote else 4,
        local_addr=local,
        local_port=40000 + cid,
        remote_addr=remote,
        remote_port=443,
        state="ESTABLISHED" if proto == "tcp" else "UDP_ACTIVE",
        service="https",
        first_seen=first,
        last_seen=last,
        packets_out=pk[0],
        packets_in=pk[1],
        bytes_out=by[0],
        bytes_in=by[1],
        app={"protocol": app} if app else {},
        **kw,
    )


def grow(v: ConnectionView, pk: int, nbytes: int, last: float | None = None) -> ConnectionView:
    return replace(
        v,
        packets_out=v.packets_out + pk,
        bytes_out=v.bytes_out + nbytes,
        last_seen=v.last_seen if last is None else last,
    )


def snap(
    seq: int, conns: list[ConnectionView], ts: float = 2000.0, finished: bool = False, **st: Any
) -> Snapshot:
    return Snapshot(
        seq=seq,
        ts=ts,
        connections=tuple(conns),
        stats=CaptureStats(**st),
        interface="lo",
        attribution_backend="none",
        finished=finished,
    )
