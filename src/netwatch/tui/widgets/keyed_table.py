"""A DataTable that is reconciled with a new ordered list of keyed rows, once per frame.

Why not ``add_row``/``remove_row``/``update_cell`` one by one: ``remove_row`` rebuilds the
row-location map (O(n) per call, O(n^2) when a filter hides thousands of rows), ``add_row``
measures every new cell, and each ``update_cell`` bumps the render generation. With
20,000 rows that is seconds per frame. :meth:`KeyedTable.sync` does the same bookkeeping
in one pass (as ``DataTable.sort`` itself does: it rewrites the location map), so only the
changed cells are replaced, keys stay stable, the cursor stays on its row, and rendering
remains lazy (only visible lines are drawn). ``benchmarks/tui_refresh.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

STYLES: dict[str, Style] = {
    "": Style(),
    "closed": Style(dim=True),
    "stale-warn": Style(color="yellow"),
    "stale-crit": Style(color="red"),
    "group": Style(bold=True),
}


class Cell:
    """A cell value that becomes Rich Text only when drawn (visible rows only)."""

    __slots__ = ("style", "text")

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style

    def __rich__(self) -> Text:
        return Text(self.text, style=STYLES[self.style], no_wrap=True, overflow="ellipsis")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Cell({self.text!r}, {self.style!r})"


RowData = tuple[tuple[str, ...], str]  # (cell texts, style class)


class KeyedTable(DataTable[Cell]):
    """Rows are identified by string keys; the app hands over whole frames via sync."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rowdata: dict[str, RowData] = {}
        self._order: list[str] = []
        self._column_keys: list[str] = []

    def set_columns(self, columns: Sequence[tuple[str, str | Text, int]]) -> bool:
        """(key, label, width) per column; rebuilds only when the set of keys changes.

        Returns True when rows must be re-sent (columns were rebuilt).
        """
        keys = [k for k, _, _ in columns]
        if keys != self._column_keys:
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, width=width, key=key)
            self._column_keys = keys
            self._rowdata = {}
            self._order = []
            return True
        changed = False
        for key, label, width in columns:
            col = self.columns[ColumnKey(key)]
            text = Text(label) if isinstance(label, str) else label
            if col.width != width or col.label != text:
                col.width = width
                col.label = text
                changed = True
        if changed:
            self._clear_caches()
            self._require_update_dimensions = True
            self.refresh()
        return False

    @property
    def order(self) -> list[str]:
        return self._order

    def selected_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def sync(self, rows: Sequence[tuple[str, RowData]]) -> None:
        """Make the table show ``rows`` (key, (texts, style)) in this order."""
        selected = self.selected_key()
        old_row = self.cursor_row
        data = self._data
        meta = self.rows
        colkeys = [ColumnKey(k) for k in self._column_keys]
        previous = self._rowdata
        current: dict[str, RowData] = {}
        order: list[str] = []
        for key, rowdata in rows:
            if key in current:
                continue
            current[key] = rowdata
            order.append(key)
            old = previous.get(key)
            if old == rowdata:
                continue
            rk = RowKey(key)
            texts, style = rowdata
            if old is None:
                data[rk] = {ck: Cell(t, style) for ck, t in zip(colkeys, texts, strict=True)}
                meta[rk] = Row(rk, 1)
            elif old[1] != style:
                cells = data[rk]
                for ck, t in zip(colkeys, texts, strict=True):
                    cells[ck] = Cell(t, style)
            else:
                cells = data[rk]
                for ck, t, o in zip(colkeys, texts, old[0], strict=True):
                    if t != o:
                        cells[ck] = Cell(t, style)
        for key in previous:
            if key not in current:
                rk = RowKey(key)
                del data[rk]
                del meta[rk]
        if order != self._order:
            self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(order)})
        self._rowdata = current
        self._order = order
        self._update_count += 1
        self._require_update_dimensions = True
        self.check_idle()
        self.refresh()
        self._restore_cursor(selected, old_row)

    def _restore_cursor(self, selected: str | None, old_row: int) -> None:
        """Keep the cursor on the same connection; if it left, on the same line."""
        if not self._order:
            return
        target = old_row
        if selected is not None:
            loc = self._row_locations.get(RowKey(selected))
            if loc is not None:
                target = loc
        target = max(0, min(target, len(self._order) - 1))
        if target != self.cursor_row or selected is None:
            self.move_cursor(row=target, animate=False, scroll=False)
        else:
            self.cursor_coordinate = self.cursor_coordinate
