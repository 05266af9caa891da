"""Pieces the live commands share: the host's addresses and the process resolver."""

from __future__ import annotations

from netwatch.attribution import ProcessResolver, choose_resolver
from netwatch.capture import interfaces
from netwatch.flows.addr import pton


def local_addresses() -> set[bytes]:
    """The host's own addresses, raw, for local/remote orientation (refreshed by the engine)."""
    out = set()
    for a in interfaces.local_addresses():
        raw = pton(a.split("%")[0])
        if raw is not None:
            out.add(raw)
    return out


def make_resolver(choice: str) -> ProcessResolver | None:
    """The process resolver for live capture: ``auto`` walks the fallback chain."""
    if choice == "none":
        return None
    return choose_resolver(prefer=None if choice == "auto" else choice)
