"""Synthetic connection views for retention and writer tests (real captures elsewhere)."""

from __future__ import annotations

from netwatch.model.snapshot import ConnectionView


def view(i: int, first: float, *, sni: str | None = None, size: int = 0) -> ConnectionView:
    app: dict[str, object] = {}
    if sni is not None:
        app = {"protocol": "TLS", "summary": f"HTTPS ({sni})", "tls": {"sni": sni}}
    if size:
        app["note"] = "x" * size
    return ConnectionView(
        id=i,
        proto="tcp",
        ip_version=4,
        local_addr="198.18.0.1",
        local_port=40000 + i % 20000,
        remote_addr=f"198.19.{i >> 8 & 255}.{i & 255}",
        remote_port=443,
        state="CLOSED",
        service="https",
        first_seen=first,
        last_seen=first + 1.0,
        packets_out=3,
        packets_in=2,
        bytes_out=300,
        bytes_in=200,
        closed=True,
        app=app,
    )
