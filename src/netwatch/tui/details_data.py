"""Everything in a ConnectionView as a tree of (label, value) pairs, generically.

The ``app`` mapping (whatever the analyzers put there), ``geo`` and ``extra`` are walked
recursively, so a new analyzer field shows up without touching the UI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.model.snapshot import ConnectionView, rfc3339
from netwatch.tui import fmt


@dataclass(frozen=True, slots=True)
class Node:
    """A detail line: ``value`` is the copyable text (None for a section)."""

    label: str
    value: str | None = None
    children: tuple[Node, ...] = ()


def _scalar(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "-"
    return str(value)


def generic(label: str, value: Any) -> Node:
    """A mapping or list becomes a section; anything else a leaf."""
    if isinstance(value, Mapping):
        return Node(label, None, tuple(generic(str(k), v) for k, v in value.items()))
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return Node(label, ", ".join(_scalar(v) for v in value))
        return Node(label, None, tuple(generic(f"[{i}]", v) for i, v in enumerate(value)))
    return Node(label, _scalar(value))


def _leaf(label: str, value: Any) -> Node:
    return Node(label, _scalar(value))


def connection_tree(v: ConnectionView) -> tuple[Node, ...]:
    duration = max(0.0, v.last_seen - v.first_seen)
    sections = [
        Node("Connection", None, (
            _leaf("id", v.id),
            _leaf("protocol", f"{v.proto.upper()} / IPv{v.ip_version}"),
            _leaf("state", v.state + (" (closed)" if v.closed else "")),
            _leaf("service", v.service or "-"),
            _leaf("first seen", rfc3339(v.first_seen)),
            _leaf("last seen", rfc3339(v.last_seen)),
            _leaf("duration", f"{duration:.3f}s"),
            _leaf("idle", f"{v.staleness * 100:.0f}% of {v.timeout:g}s timeout"),
            *([_leaf("vlan", v.vlan)] if v.vlan is not None else []),
        )),
        Node("Local", None, (
            _leaf("address", v.local_addr),
            _leaf("port", v.local_port),
            _leaf("endpoint", fmt.endpoint(v.local_addr, v.local_port, v.proto, False)),
        )),
        Node("Remote", None, (
            _leaf("address", v.remote_addr),
            _leaf("port", v.remote_port),
            _leaf("name", v.remote_name or "-"),
            _leaf("name source", v.remote_name_source or "-"),
            _leaf("endpoint", fmt.endpoint(v.remote_addr, v.remote_port, v.proto, False)),
        )),
    ]  # fmt: skip
    p = v.process
    if p is not None:
        proc = [
            _leaf("pid", p.pid),
            _leaf("name", p.name),
            _leaf("exe", p.exe or "-"),
            _leaf("cmdline", " ".join(p.cmdline) or "-"),
            _leaf("user", f"{p.user} ({p.uid})" if p.user else p.uid),
            _leaf("ppid", p.ppid),
        ]
        if p.ancestors:
            proc.append(
                Node("ancestors", None, tuple(_leaf(str(pid), n) for pid, n in p.ancestors))
            )
        if p.container is not None:
            proc.append(generic("container", p.container.to_dict()))
        if v.attribution is not None:
            proc.append(generic("attribution", v.attribution.to_dict()))
        sections.append(Node("Process", None, tuple(proc)))
    else:
        sections.append(Node("Process", None, (_leaf("pid", "not attributed"),)))
    app = generic("Application", dict(v.app)) if v.app else Node("Application", "-")
    sections.append(app)
    sections.append(Node("TCP health" if v.proto.lower() == "tcp" else "Transport", None, (
        _leaf("rtt", fmt.fmt_rtt(v.rtt_ms) or "-"),
        _leaf("retransmits", v.retransmits),
        _leaf("out of order", v.out_of_order),
        _leaf("duplicate acks", v.dup_acks),
    )))  # fmt: skip
    extra = dict(v.extra)
    layers = tuple(_leaf(label, extra.pop(key)) for label, key in _LAYER_COUNTS if key in extra)
    sections.append(Node("Counters", None, (
        _leaf("packets out", v.packets_out),
        _leaf("packets in", v.packets_in),
        _leaf("bytes out", v.bytes_out),
        _leaf("bytes in", v.bytes_in),
        *layers,
        _leaf("rate out", fmt.human_rate(v.rate_out) or "0"),
        _leaf("rate in", fmt.human_rate(v.rate_in) or "0"),
    )))  # fmt: skip
    if v.geo:
        sections.append(generic("Location", dict(v.geo)))
    if extra:
        sections.append(generic("Extra", extra))
    return tuple(sections)


#: The record's per-layer byte counts, shown with the other counters (not under Extra).
_LAYER_COUNTS = (
    ("IP bytes out", "ip_bytes_out"),
    ("IP bytes in", "ip_bytes_in"),
    ("payload out", "payload_bytes_out"),
    ("payload in", "payload_bytes_in"),
)
