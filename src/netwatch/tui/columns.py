"""The connection table's columns as data: label, width, priority, cell and sort key.

``priority`` decides what survives a narrow terminal (1 = always kept). ``numeric`` columns
sort descending first (bandwidth, RTT); text columns ascending. :func:`fit_columns` picks
the columns that fit a width and hands spare cells to the ones that ``grow``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.model.snapshot import ConnectionView
from netwatch.tui import fmt


@dataclass(frozen=True, slots=True)
class DisplayToggles:
    """The display switches the cells depend on (p, d)."""

    port_names: bool = True
    hostnames: bool = True


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    width: int
    priority: int
    numeric: bool
    grow: int
    cell: Callable[[ConnectionView, DisplayToggles], str]
    sort_key: Callable[[ConnectionView, DisplayToggles], Any]


def _proc_sort(v: ConnectionView, _t: DisplayToggles) -> tuple[str, int]:
    p = v.process
    return ("\uffff", 0) if p is None else (p.name.lower(), p.pid)


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("process", "Process", 14, 2, False, 2,
               lambda v, t: fmt.process_text(v), _proc_sort),
    ColumnSpec("proto", "Proto", 6, 1, False, 0,
               lambda v, t: v.proto.upper(), lambda v, t: v.proto),
    ColumnSpec("local", "Local", 15, 5, False, 2,
               lambda v, t: fmt.endpoint(v.local_addr, v.local_port, v.proto, t.port_names),
               lambda v, t: (v.local_addr, v.local_port)),
    ColumnSpec("remote", "Remote", 18, 1, False, 4,
               lambda v, t: fmt.remote_text(v, t.hostnames, t.port_names),
               lambda v, t: fmt.remote_text(v, t.hostnames, t.port_names)),
    ColumnSpec("state", "State", 12, 4, False, 0,
               lambda v, t: v.state, lambda v, t: v.state),
    ColumnSpec("service", "Service", 8, 6, False, 0,
               lambda v, t: v.service, lambda v, t: v.service),
    ColumnSpec("app", "Application", 14, 3, False, 5,
               lambda v, t: fmt.app_text(v), lambda v, t: fmt.app_text(v).lower()),
    ColumnSpec("down", "Down", 7, 1, True, 0,
               lambda v, t: fmt.human_rate(v.rate_in), lambda v, t: v.rate_in),
    ColumnSpec("up", "Up", 7, 2, True, 0,
               lambda v, t: fmt.human_rate(v.rate_out), lambda v, t: v.rate_out),
    ColumnSpec("rtt", "RTT", 6, 5, True, 0,
               lambda v, t: fmt.fmt_rtt(v.rtt_ms),
               lambda v, t: -1.0 if v.rtt_ms is None else v.rtt_ms),
    ColumnSpec("geo", "Location", 10, 7, False, 1,
               lambda v, t: fmt.geo_text(v), lambda v, t: fmt.geo_text(v)),
)  # fmt: skip

BY_KEY: dict[str, ColumnSpec] = {c.key: c for c in COLUMNS}
DEFAULT_SORT = "down"


def fit_columns(
    width: int, offered: Sequence[str] = (), with_geo: bool = False, padding: int = 1
) -> list[tuple[ColumnSpec, int]]:
    """The columns that fit ``width`` cells, in display order, with their widths.

    Columns are admitted by priority (ties by display order) while their minimum width plus
    ``2*padding`` fits; the remaining cells are shared among admitted ``grow`` columns in
    proportion to their weight. Priority-1 columns are always kept, squeezed if need be.
    """
    wanted = [c for c in COLUMNS if (not offered or c.key in offered)]
    if not with_geo:
        wanted = [c for c in wanted if c.key != "geo"]
    ranked = sorted(wanted, key=lambda c: (c.priority, COLUMNS.index(c)))
    chosen: set[str] = set()
    used = 0
    for col in ranked:
        need = col.width + 2 * padding
        if used + need <= width or col.priority == 1:
            chosen.add(col.key)
            used += need
    shown = [c for c in wanted if c.key in chosen]
    widths = {c.key: c.width for c in shown}
    spare = width - used
    if spare < 0:  # tiny terminal: squeeze the growing columns, never below 4 cells
        for col in sorted(shown, key=lambda c: -c.grow):
            take = min(-spare, max(0, widths[col.key] - 4))
            widths[col.key] -= take
            spare += take
    weight = sum(c.grow for c in shown)
    if spare > 0 and weight:
        given = 0
        growers = [c for c in shown if c.grow]
        for i, col in enumerate(growers):
            extra = spare - given if i == len(growers) - 1 else spare * col.grow // weight
            widths[col.key] += extra
            given += extra
    return [(c, widths[c.key]) for c in shown]
