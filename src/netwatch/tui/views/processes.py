"""Processes: connections grouped by owning process, rates summed, sortable (s / S)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical

from netwatch.tui import fmt
from netwatch.tui.stats import ProcessRow
from netwatch.tui.widgets.keyed_table import KeyedTable


@dataclass(frozen=True, slots=True)
class ProcColumn:
    key: str
    label: str
    width: int
    numeric: bool
    cell: Callable[[ProcessRow], str]
    sort_key: Callable[[ProcessRow], Any]


PROC_COLUMNS: tuple[ProcColumn, ...] = (
    ProcColumn("name", "Process", 20, False, lambda p: p.name, lambda p: p.name.lower()),
    ProcColumn("pid", "PID", 7, True, lambda p: "" if p.pid is None else str(p.pid),
               lambda p: -1 if p.pid is None else p.pid),
    ProcColumn("user", "User", 8, False, lambda p: p.user, lambda p: p.user),
    ProcColumn("conns", "Conns", 6, True, lambda p: str(p.connections), lambda p: p.connections),
    ProcColumn("down", "Down", 8, True, lambda p: fmt.human_rate(p.rate_in), lambda p: p.rate_in),
    ProcColumn("up", "Up", 8, True, lambda p: fmt.human_rate(p.rate_out), lambda p: p.rate_out),
    ProcColumn("total", "Rate", 8, True, lambda p: fmt.human_rate(p.rate_in + p.rate_out),
               lambda p: p.rate_in + p.rate_out),
    ProcColumn("bytes_in", "Recv", 7, True, lambda p: fmt.human_bytes(p.bytes_in),
               lambda p: p.bytes_in),
    ProcColumn("bytes_out", "Sent", 7, True, lambda p: fmt.human_bytes(p.bytes_out),
               lambda p: p.bytes_out),
)  # fmt: skip


def _format(row: ProcessRow, index: int, _cont: bool) -> str:
    return PROC_COLUMNS[index].cell(row)


class ProcessesView(Vertical):
    DEFAULT_CSS = "ProcessesView KeyedTable { height: 1fr; scrollbar-size-vertical: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort = "total"
        self.descending = True
        self._rows: Sequence[ProcessRow] = ()

    def compose(self) -> ComposeResult:
        yield KeyedTable(_format, id="proc-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#proc-table", KeyedTable)

    def sort_next(self) -> None:
        keys = [c.key for c in PROC_COLUMNS]
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.descending = next(c.numeric for c in PROC_COLUMNS if c.key == self.sort)
        self.show(self._rows)

    def sort_reverse(self) -> None:
        self.descending = not self.descending
        self.show(self._rows)

    def sort_by(self, key: str) -> None:
        if key == self.sort:
            self.sort_reverse()
            return
        self.sort = key
        self.descending = next(c.numeric for c in PROC_COLUMNS if c.key == key)
        self.show(self._rows)

    def selected_text(self) -> str | None:
        key = self.table.selected_key()
        for p in self._rows:
            if p.key == key:
                return p.name if p.pid is None else f"{p.name} {p.pid}"
        return None

    def show(self, rows: Sequence[ProcessRow]) -> None:
        self._rows = rows
        arrow = " ▼" if self.descending else " ▲"
        spec = next(c for c in PROC_COLUMNS if c.key == self.sort)
        self.table.set_columns(
            [
                (c.key, c.label + (arrow if c.key == self.sort else ""), c.width)
                for c in PROC_COLUMNS
            ]
        )
        ordered = sorted(rows, key=lambda p: p.key)
        ordered.sort(key=spec.sort_key, reverse=self.descending)
        self.table.sync([p.key for p in ordered], ordered)
