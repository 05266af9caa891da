"""The main screen: tabs, totals, the four views, the filter box and the status bar.

It holds the view state (sort, filter, toggles) and turns each applied snapshot into what
the active view shows. Inactive views are refreshed when they become active.
"""

from __future__ import annotations

import time
from dataclasses import replace

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Input

from netwatch.model.snapshot import ConnectionView, Snapshot
from netwatch.tui import columns as cols
from netwatch.tui import fmt
from netwatch.tui import rowmodel as rm
from netwatch.tui.config import TuiConfig
from netwatch.tui.filtering import compile_filter
from netwatch.tui.stats import History, ProcessRow, Totals, by_process, totals
from netwatch.tui.views.graphs import GraphsView
from netwatch.tui.views.processes import PROC_COLUMNS, ProcessesView
from netwatch.tui.widgets.bars import VIEWS, StatusBar, SummaryBar, TabBar
from netwatch.tui.widgets.details import DetailsTree, DetailsView
from netwatch.tui.widgets.keyed_table import KeyedTable

SPLIT_MIN_WIDTH = 150  # wide terminals show the details beside the table
SPLIT_DETAILS_WIDTH = 56
SHORT_HEIGHT = 16  # below this the totals header shrinks to one line
MESSAGE_SECONDS = 4.0


def initial_state(config: TuiConfig) -> rm.ViewState:
    sort, desc = rm.parse_sort(config.sort) if config.sort else (cols.DEFAULT_SORT, True)
    return rm.ViewState(
        sort=sort,
        descending=desc,
        group_by_process=config.group_by_process,
        show_closed=config.show_closed,
    )


class MainScreen(Screen[None]):
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    MainScreen.short SummaryBar { height: 1; }
    MainScreen.tiny SummaryBar { display: none; }
    #views { height: 1fr; }
    #overview { height: 1fr; }
    #conn-table { width: 1fr; height: 1fr; scrollbar-size-vertical: 1; }
    #side-details { width: 56; border-left: solid $panel-lighten-2; display: none; }
    MainScreen.split #side-details { display: block; }
    #filter { dock: bottom; height: 1; border: none; padding: 0 1; display: none; }
    #filter.shown { display: block; }
    #filter.invalid { color: $error; }
    """

    def __init__(self, config: TuiConfig) -> None:
        super().__init__()
        self.config = config
        self.state = initial_state(config)
        self.filter = compile_filter(config.filter)
        self.snapshot: Snapshot | None = None
        self.pending: Snapshot | None = None
        self.paused = False
        self.active = "overview"
        self.history = History()
        self.totals: Totals | None = None
        self.procs: list[ProcessRow] = []
        self.sorted: list[ConnectionView] = []
        self.shown_rows: list[ConnectionView] = []
        self.details_key: str | None = None
        self.columns: list[tuple[cols.ColumnSpec, int]] = []
        self.specs: list[cols.ColumnSpec] = []
        self.last_seen_views: dict[str, ConnectionView] = {}
        self._index: dict[str, ConnectionView] = {}
        self._index_seq = -1
        self.message: Text | None = None
        self.message_until = 0.0
        self.error: str | None = None

    # ---- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TabBar(id="tabs")
        yield SummaryBar(id="summary")
        with ContentSwitcher(initial="overview", id="views"):
            with Horizontal(id="overview"):
                yield KeyedTable(self.format_cell, rm.row_style, id="conn-table")
                yield DetailsView(id="side-details")
            yield DetailsView(id="details")
            yield ProcessesView(id="processes")
            yield GraphsView(id="graphs")
        yield Input(self.config.filter, placeholder="filter  (Esc leaves)", id="filter")
        yield StatusBar(id="status")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#conn-table", KeyedTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def on_mount(self) -> None:
        if self.config.filter:
            self.filter_input.add_class("shown")
        self._layout_for(self.size.width, self.size.height)
        self.refresh_all()
        self.table.focus()

    def on_resize(self, event: events.Resize) -> None:
        self._layout_for(event.size.width, event.size.height)
        self.refresh_all()

    def _layout_for(self, width: int, height: int) -> None:
        self.set_class(width >= SPLIT_MIN_WIDTH, "split")
        self.set_class(height < SHORT_HEIGHT, "short")
        self.set_class(height < 12, "tiny")
        table_width = width - (SPLIT_DETAILS_WIDTH if width >= SPLIT_MIN_WIDTH else 0) - 1
        with_geo = any(fmt.has_location(v) for v in self.sorted[:200])
        self.columns = cols.fit_columns(max(10, table_width), self.config.columns, with_geo)

    # ---- snapshots ----------------------------------------------------------------
    def apply_snapshot(self, snap: Snapshot) -> None:
        """A new frame from the monitor (already coalesced by the app)."""
        error = snap.error
        self.error = str(error) if error else None
        if self.paused:
            self.pending = snap
            self.update_status()
            return
        self.snapshot = snap
        live = snap.connections
        self.totals = totals(live)
        self.procs = by_process(live)
        self.history.record(snap, self.procs, self.totals)
        had_geo = any(c.key == "geo" for c, _ in self.columns)
        self.resort()
        if had_geo != any(fmt.has_location(v) for v in self.sorted[:200]):
            self._layout_for(self.size.width, self.size.height)
        self.refresh_all()

    def resort(self) -> None:
        rows = rm.gather(self.snapshot, self.state.show_closed) if self.snapshot else []
        self.sorted = rm.sort_rows(rows, self.state)
        self.shown_rows = rm.filter_rows(self.sorted, self.filter.predicate)

    def refilter(self) -> None:
        self.shown_rows = rm.filter_rows(self.sorted, self.filter.predicate)
        self.refresh_active()

    # ---- drawing ------------------------------------------------------------------
    def refresh_all(self) -> None:
        self.query_one(SummaryBar).show(self.snapshot, self.totals)
        self.refresh_active()

    def refresh_active(self) -> None:
        self.query_one(TabBar).show(self.active, self.paused)
        if self.active == "overview":
            self.sync_table()
            if self.has_class("split"):
                self.show_details(self.query_one("#side-details", DetailsView), self.table_key())
        elif self.active == "details":
            self.show_details(self.query_one("#details", DetailsView), self.details_key)
        elif self.active == "processes":
            self.query_one(ProcessesView).show(self.procs)
        else:
            self.query_one(GraphsView).show(self.history, self.totals)
        self.update_status()

    def format_cell(self, view: ConnectionView, index: int, cont: bool) -> str:
        """Called by the table for visible cells only."""
        spec = self.specs[index]
        if cont and index == 0 and spec.key == "process":
            return "  └"
        return spec.cell(view, self.state.toggles)

    def sync_table(self) -> None:
        labels = []
        for spec, width in self.columns:
            label = spec.label
            if spec.key == self.state.sort:
                label += " ▼" if self.state.descending else " ▲"
            labels.append((spec.key, label, width))
        self.specs = [c for c, _ in self.columns]
        self.table.set_columns(labels)
        rows = self.shown_rows
        keys = [str(v.id) for v in rows]  # rm.row_key, inlined: 20,000 calls a frame
        flags: list[bool] | None = None
        if self.state.group_by_process and self.specs and self.specs[0].key == "process":
            pids = [v.process.pid if v.process else None for v in rows]
            flags = [i > 0 and pids[i - 1] == pid for i, pid in enumerate(pids)]
        self.table.sync(keys, rows, flags)

    def table_key(self) -> str | None:
        return self.table.selected_key()

    def show_details(self, pane: DetailsView, key: str | None) -> None:
        view = self.lookup(key)
        gone = False
        if view is not None:
            self.last_seen_views[key or ""] = view
        elif key is not None and key in self.last_seen_views:
            view, gone = self.last_seen_views[key], True  # expired or cleared: last known
        if len(self.last_seen_views) > 4:
            self.last_seen_views = {k: v for k, v in self.last_seen_views.items() if k == key}
        series = self.history.per_conn.get(view.id, ()) if view else ()
        pane.show(view, list(series), gone=gone)

    def lookup(self, key: str | None) -> ConnectionView | None:
        """The current view of a row key in the applied snapshot (live rows first)."""
        if key is None or self.snapshot is None:
            return None
        view: ConnectionView | None = self.table.item(key)
        if self.active == "overview" and view is not None:
            return view  # the table was just synced from this snapshot
        snap = self.snapshot
        if self._index_seq != snap.seq:
            self._index = {rm.row_key(v): v for v in snap.closed}
            self._index.update((rm.row_key(v), v) for v in snap.connections)
            self._index_seq = snap.seq
        return self._index.get(key)

    def notify_status(self, text: str, style: str = "") -> None:
        self.message = Text(text, style=style)
        self.message_until = time.monotonic() + MESSAGE_SECONDS
        self.update_status()
        self.set_timer(MESSAGE_SECONDS + 0.05, self.update_status)

    def update_status(self) -> None:
        left = Text()
        if self.error:
            left.append(f"capture error: {self.error}  ", style="bold red")
        if self.filter.error:
            left.append(self.filter.hint + "  ", style="bold yellow")
        elif self.filter.text.strip():
            left.append(f"filter: {self.filter.text}  ", style="cyan")
        if self.message is not None and time.monotonic() < self.message_until:
            left.append_text(self.message)
        if self.paused:
            left.append("  PAUSED (space resumes)", style="bold yellow")
        elif self.snapshot is not None and self.snapshot.finished:
            left.append("end of capture  ", style="bold green")
        total = len(self.sorted)
        right = [f"{len(self.shown_rows)}/{total} rows"]
        if self.active == "processes":
            pv = self.query_one(ProcessesView)
            label = next(c.label for c in PROC_COLUMNS if c.key == pv.sort)
            right = [
                f"{len(self.procs)} processes",
                f"sort {label} {'▼' if pv.descending else '▲'}",
            ]
        else:
            label = cols.BY_KEY[self.state.sort].label
            right.append(f"sort {label} {'▼' if self.state.descending else '▲'}")
        if self.state.group_by_process:
            right.append("grouped")
        if self.state.show_closed:
            right.append("+closed")
        right.append("h help")
        self.query_one(StatusBar).show(left, " · ".join(right))

    # ---- view state changes (called by the app's actions) ------------------------------
    def set_view(self, name: str) -> None:
        if name not in dict(VIEWS):
            return
        if name == "details" and self.details_key is None:
            self.details_key = self.table_key()
        self.active = name
        self.query_one(ContentSwitcher).current = name
        focus = {
            "overview": "#conn-table",
            "details": "#details-tree",
            "processes": "#proc-table",
        }.get(name)
        if focus:
            self.query_one(f"#{name} {focus}" if name != "overview" else focus).focus()
        self.refresh_active()

    def cycle_view(self, step: int) -> None:
        names = [k for k, _ in VIEWS]
        self.set_view(names[(names.index(self.active) + step) % len(names)])

    def open_details(self, key: str | None) -> None:
        self.details_key = key
        self.set_view("details")

    def change_state(self, **changes: object) -> None:
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        self.resort()
        self.refresh_active()
        self.table.redraw()  # same rows may now read differently (p, d)

    def sort_next(self) -> None:
        if self.active == "processes":
            self.query_one(ProcessesView).sort_next()
            self.update_status()
            return
        keys = [c.key for c, _ in self.columns] or [cols.DEFAULT_SORT]
        current = keys.index(self.state.sort) if self.state.sort in keys else -1
        nxt = keys[(current + 1) % len(keys)]
        self.change_state(sort=nxt, descending=rm.default_direction(nxt))

    def sort_reverse(self) -> None:
        if self.active == "processes":
            self.query_one(ProcessesView).sort_reverse()
            self.update_status()
            return
        self.change_state(descending=not self.state.descending)

    def sort_by(self, key: str) -> None:
        if key == self.state.sort:
            self.sort_reverse()
        else:
            self.change_state(sort=key, descending=rm.default_direction(key))

    def set_filter(self, text: str) -> None:
        self.filter = compile_filter(text)
        self.filter_input.set_class(self.filter.error is not None, "invalid")
        if self.filter.error is None:
            self.refilter()
        else:
            self.update_status()

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.pending is not None:
            pending, self.pending = self.pending, None
            self.apply_snapshot(pending)
        else:
            self.refresh_active()

    def reset_view(self) -> None:
        self.state = initial_state(replace(self.config, filter="", sort=""))
        self.filter_input.value = ""
        self.filter_input.remove_class("shown")
        self.set_filter("")
        self.resort()
        self.refresh_active()
        self.table.move_cursor(row=0)
        self.notify_status("view reset")

    def copy_target(self) -> str | None:
        """What c copies here: a detail's value, a process, else the remote address."""
        if self.active == "details":
            value = self.query_one("#details DetailsTree", DetailsTree).selected_value()
            if value:
                return value
            view = self.lookup(self.details_key)
        elif self.active == "processes":
            return self.query_one(ProcessesView).selected_text()
        else:
            focused = self.focused
            if isinstance(focused, DetailsTree) and focused.selected_value():
                return focused.selected_value()
            view = self.lookup(self.table_key())
        return view.remote_addr if view else None

    # ---- widget messages ---------------------------------------------------------
    @on(DataTable.RowSelected, "#conn-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_details(event.row_key.value)

    @on(DataTable.RowHighlighted, "#conn-table")
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        if self.has_class("split") and self.active == "overview":
            self.show_details(self.query_one("#side-details", DetailsView), self.table_key())

    @on(DataTable.HeaderSelected, "#conn-table")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(DataTable.HeaderSelected, "#proc-table")
    def _proc_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.query_one(ProcessesView).sort_by(str(event.column_key.value))
        self.update_status()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.leave_filter()

    def enter_filter(self) -> None:
        if self.active not in ("overview",):
            self.set_view("overview")
        self.filter_input.add_class("shown")
        self.filter_input.focus()

    def leave_filter(self) -> None:
        if not self.filter_input.value:
            self.filter_input.remove_class("shown")
        self.table.focus()

    def move_cursor(self, action: str) -> None:
        """Arrows and pages keep moving the table while the filter box has focus."""
        getattr(self.table, f"action_{action}")()
