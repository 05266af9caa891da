"""A DataTable reconciled with a new ordered list of keyed rows, once per frame, lazily.

Why not ``add_row``/``remove_row``/``update_cell`` one by one: ``remove_row`` rebuilds the
row-location map (O(n) per call, O(n^2) when a filter hides thousands of rows), ``add_row``
measures every new cell, and formatting every cell of 20,000 rows costs more than a frame.
:meth:`KeyedTable.sync` does the bookkeeping in one pass (as ``DataTable.sort`` itself
does: it rewrites the location map). Each row holds a :class:`RowRef` pointing at the
row's current item; its cells are :class:`LazyCell` objects that format the item only when
the DataTable draws them, i.e. for the visible rows. An update of a kept row is one
pointer store; keys stay stable and the cursor stays on its row.
``benchmarks/tui_refresh.py`` measures it (20,000 rows changing every frame).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
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

# (item, column index, continuation flag) -> cell text; item -> style class
Formatter = Callable[[Any, int, bool], str]
Styler = Callable[[Any], str]


class RowRef:
    """The current item of one row, shared by the row's cells (kept in ``cells``)."""

    __slots__ = ("cells", "flag", "item", "row")

    def __init__(self, item: Any, flag: bool, row: Row) -> None:
        self.item = item
        self.flag = flag
        self.row = row
        self.cells: dict[ColumnKey, LazyCell] = {}


class LazyCell:
    """Formats its row's current item when drawn."""

    __slots__ = ("index", "ref", "table")

    def __init__(self, table: KeyedTable, ref: RowRef, index: int) -> None:
        self.table = table
        self.ref = ref
        self.index = index

    @property
    def text(self) -> str:
        return self.table.formatter(self.ref.item, self.index, self.ref.flag)

    @property
    def style(self) -> str:
        return self.table.styler(self.ref.item)

    def __rich__(self) -> Text:
        return Text(self.text, style=STYLES[self.style], no_wrap=True, overflow="ellipsis")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"LazyCell({self.text!r}, {self.style!r})"


class LineOffsets:
    """DataTable's line -> (row key, line in row) map for one-line rows, without the list.

    DataTable builds a list of 20,000 tuples per update for this; indexing the ordered
    rows directly gives the same answers with no allocation (and no GC pressure).
    """

    __slots__ = ("rows",)

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, y: int) -> tuple[RowKey, int]:
        return (self.rows[y].key, 0)

    def clear(self) -> None:
        """DataTable.clear() clears the offsets; ours follow the rows."""


def _no_style(_item: Any) -> str:
    return ""


class KeyedTable(DataTable[LazyCell]):
    """Rows identified by string keys; the owner hands over whole frames via sync."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    _rows_cache: tuple[tuple[int, int], list[Row], LineOffsets] | None = None

    def __init__(
        self, formatter: Formatter, styler: Styler = _no_style, *, id: str | None = None
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self.formatter = formatter
        self.styler = styler
        self._refs: dict[str, RowRef] = {}
        self._spare: dict[str, RowRef] = {}  # rows hidden by the filter, cells kept
        self._order: list[str] = []
        self._column_keys: list[str] = []

    def _ordered(self) -> tuple[list[Row], LineOffsets]:
        """Rows in display order and their line offsets, rebuilt only when the order changes.

        DataTable recomputes both on every update (every frame here), walking the location
        map row by row; all our rows are one line high, so one pass over the rows suffices.
        The cache key is the identity of the location map, which every reorder replaces.
        """
        key = (id(self._row_locations), len(self.rows))
        cached = self._rows_cache
        if cached is None or cached[0] != key:
            get_key = self._row_locations.get_key
            rows = self.rows
            ordered = [rows[get_key(i)] for i in range(len(rows))]  # type: ignore[index]
            cached = (key, ordered, LineOffsets(ordered))
            self._rows_cache = cached
        return cached[1], cached[2]

    @property
    def ordered_rows(self) -> list[Row]:
        return self._ordered()[0]

    @property
    def _y_offsets(self) -> LineOffsets:  # type: ignore[override]
        return self._ordered()[1]

    def set_columns(self, columns: Sequence[tuple[str, str | Text, int]]) -> None:
        """(key, label, width) per column; rebuilds only when the set of keys changes."""
        keys = [k for k, _, _ in columns]
        if keys != self._column_keys:
            old_keys = list(self._order)
            items = [self._refs[k].item for k in old_keys]
            flags = [self._refs[k].flag for k in old_keys]
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, width=width, key=key)
            self._column_keys = keys
            self._refs = {}
            self._spare = {}
            self._order = []
            if old_keys:
                self.sync(old_keys, items, flags)
            return
        changed = False
        for key, label, width in columns:
            col = self.columns[ColumnKey(key)]
            text = Text(label) if isinstance(label, str) else label
            if col.width != width or col.label != text:
                col.width = width
                col.label = text
                changed = True
        if changed:
            self.redraw()

    def redraw(self) -> None:
        """Drop rendered lines (the items' formatting changed, e.g. a display toggle)."""
        self._clear_caches()
        self._update_count += 1
        self._require_update_dimensions = True
        self.refresh()

    @property
    def order(self) -> list[str]:
        return self._order

    def item(self, key: str) -> Any:
        ref = self._refs.get(key)
        return None if ref is None else ref.item

    def selected_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def sync(
        self, keys: Sequence[str], items: Sequence[Any], flags: Sequence[bool] | None = None
    ) -> None:
        """Make the table show ``items`` under ``keys`` in this order (keys unique).

        ``flags`` marks continuation rows (grouping); the formatter receives it.
        """
        selected = self.selected_key()
        old_row = self.cursor_row
        data = self._data
        meta = self.rows
        colkeys = [ColumnKey(k) for k in self._column_keys]
        refs = self._refs
        spare = self._spare
        current: dict[str, RowRef] = {}
        changed = False
        for key, item, flag in zip(keys, items, flags or repeat(False), strict=False):
            ref = refs.get(key)
            if ref is None:
                ref = spare.pop(key, None)
                if ref is None:
                    ref = RowRef(item, flag, Row(RowKey(key), 1))
                    ref.cells = {ck: LazyCell(self, ref, i) for i, ck in enumerate(colkeys)}
                else:
                    ref.item = item
                    ref.flag = flag
                data[ref.row.key] = ref.cells
                meta[ref.row.key] = ref.row
                changed = True
            elif ref.item is not item or ref.flag != flag:
                ref.item = item
                ref.flag = flag
                changed = True
            current[key] = ref
        for key, ref in refs.items():
            if key not in current:
                del data[ref.row.key]
                del meta[ref.row.key]
                spare[key] = ref  # filtered out now, likely back after a backspace
                changed = True
        if len(spare) > 2 * len(current) + 1000:  # rows that left for good
            spare.clear()
        order = list(keys)
        if len(order) != len(current):  # a repeated key keeps its first place only
            order = list(dict.fromkeys(order))
        if order != self._order:
            changed = True
            ordered = [current[k].row for k in order]
            self._row_locations = TwoWayDict({r.key: i for i, r in enumerate(ordered)})
            self._rows_cache = (
                (id(self._row_locations), len(ordered)),
                ordered,
                LineOffsets(ordered),
            )
        if not changed:  # same rows, same objects (a keystroke that hides nothing)
            return
        self._refs = current
        self._order = order
        self._update_count += 1
        self._require_update_dimensions = True
        self.check_idle()
        self.refresh()
        self._restore_cursor(selected, old_row)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """Draw a body cell as three segments instead of through Rich's generic pipeline.

        DataTable renders every cell via ``Styled(Padding(renderable))`` and
        ``console.render_lines``: about 0.2 ms a cell, so redrawing a 200x50 screen of
        changing rows costs ~100 ms. Our cells are single-line text, so the same result
        (pre style + cell style + post style, padded, cut with an ellipsis) is built
        directly. Headers and anything else still go through DataTable.
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cell: object = self._data[row_key][column_key]
        if not isinstance(cell, LazyCell):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        component, post = self._get_styles_to_render_cell(
            False,
            False,
            row_index < self.fixed_rows or column_index < self.fixed_columns,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        pad = " " * self.cell_padding
        inner = max(0, width - 2 * self.cell_padding)
        text = cell.text
        size = cell_len(text)
        if size > inner:
            text = set_cell_size(text, max(0, inner - 1)) + ("…" if inner else "")
        elif size < inner:
            text += " " * (inner - size)
        edge = pre + post
        lines = [
            [
                Segment(pad, edge),
                Segment(text, pre + STYLES[cell.style] + post),
                Segment(pad, edge),
            ]
        ]
        self._cell_render_cache[key] = lines
        return lines

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
