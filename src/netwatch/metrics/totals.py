"""Per-protocol and per-application totals that stay monotonic across a connection's life.

Prometheus counters must never go down. The tracker counts per connection, and a
connection leaves the snapshot when it ends, so a counter is built from two parts taken
at the same instant in the engine's thread: the sum over connections that already
ended (``finished``), frozen when a snapshot is published (``snapshot``), plus the sum
over the connections still open in that very snapshot. Between two snapshots a
connection either grows or moves from the open part to the ended part with at least
the same counts, so every sum only grows.

Per application the ended part alone is used: an open connection's application is not
known until detection succeeds, and moving it from "unknown" to "TLS" would make the
"unknown" series go down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netwatch.model.snapshot import ConnectionView, Snapshot

#: The ``app`` label of connections no analyzer recognised.
UNKNOWN_APP = "unknown"


@dataclass(frozen=True, slots=True)
class Tally:
    connections: int = 0
    packets: int = 0
    bytes: int = 0

    def plus(self, connections: int, packets: int, nbytes: int) -> Tally:
        return Tally(self.connections + connections, self.packets + packets, self.bytes + nbytes)


Key = tuple[str, str]  # (proto, app)


def app_of(v: ConnectionView) -> str:
    return v.app_protocol or UNKNOWN_APP


@dataclass(frozen=True, slots=True)
class Frozen:
    """One published snapshot with the ended connections' totals as of that snapshot."""

    snapshot: Snapshot
    ended: Mapping[Key, Tally]

    def by_app(self) -> dict[Key, Tally]:
        """Ended connections only, by (proto, app)."""
        return dict(self.ended)

    def by_proto(self) -> dict[str, Tally]:
        """Ended plus open connections, by proto (monotonic: see the module text)."""
        out: dict[str, Tally] = {}
        for (proto, _), t in self.ended.items():
            out[proto] = out.get(proto, Tally()).plus(t.connections, t.packets, t.bytes)
        if not self.snapshot.finished:  # at the end every open row was also ended
            for v in self.snapshot.connections:
                out[v.proto] = out.get(v.proto, Tally()).plus(
                    1, v.packets_out + v.packets_in, v.bytes_out + v.bytes_in
                )
        return out

    def active(self) -> dict[Key, int]:
        out: dict[Key, int] = {}
        if self.snapshot.finished:
            return out
        for v in self.snapshot.connections:
            k = (v.proto, app_of(v))
            out[k] = out.get(k, 0) + 1
        return out


class FlowTotals:
    """Fed by the engine's thread (``finished``, ``snapshot``); read by any (``latest``)."""

    def __init__(self) -> None:
        self._ended: dict[Key, Tally] = {}
        self._latest: Frozen | None = None

    def finished(self, v: ConnectionView) -> None:
        k = (v.proto, app_of(v))
        self._ended[k] = self._ended.get(k, Tally()).plus(
            1, v.packets_out + v.packets_in, v.bytes_out + v.bytes_in
        )

    def snapshot(self, snap: Snapshot) -> None:
        # One reference assignment: a reader sees the old pair or the new one, whole.
        self._latest = Frozen(snap, dict(self._ended))

    def latest(self) -> Frozen | None:
        return self._latest
