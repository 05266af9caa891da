"""One-line bars: the screen tabs, the totals header and the status bar."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from netwatch.model.snapshot import Snapshot
from netwatch.tui import fmt
from netwatch.tui.stats import Totals

VIEWS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("details", "Details"),
    ("processes", "Processes"),
    ("graphs", "Graphs"),
)


class Bar(Static):
    """A fixed-height line: redrawn only when its text changes, never re-laid out.

    ``Static.update`` re-lays out the whole screen by default; at 4 frames a second with
    a 20,000-row table that is a measurable share of the frame.
    """

    _last: object = None

    def set_content(self, content: Text | Content, key: object = None) -> None:
        """``key`` identifies the content (Content equality ignores styles)."""
        key = content if key is None else key
        if key == self._last:
            return
        self._last = key
        self.update(content, layout=False)


class TabBar(Bar):
    """``1 Overview  2 Details ...`` with the active one highlighted; click to switch."""

    DEFAULT_CSS = "TabBar { height: 1; background: $panel; }"

    def show(self, active: str, paused: bool) -> None:
        parts = []
        for i, (key, label) in enumerate(VIEWS, 1):
            style = "reverse bold" if key == active else ""
            parts.append(Content.from_markup(f"[@click=app.view('{key}')] {i} {label} [/]"))
            if style:
                parts[-1] = parts[-1].stylize(style)
        if paused:
            parts.append(Content.styled(" PAUSED ", "bold black on yellow"))
        self.set_content(Content(" ").join(parts), key=(active, paused))


def summary_lines(snap: Snapshot | None, tot: Totals | None) -> tuple[Text, Text]:
    """Totals: connections by protocol and state, packets, drops (kernel apart from ours)."""
    if snap is None or tot is None:
        return Text("waiting for the first snapshot..."), Text("")
    st = snap.stats
    iface = snap.interface or "-"
    backend = snap.attribution_backend or "none"
    protos = " ".join(f"{p} {n}" for p, n in tot.by_proto) or "-"
    line1 = Text.assemble(
        (f"{iface}", "bold"),
        f"  attribution {backend}  ",
        (f"{tot.connections} conns", "bold"),
        f" ({protos})  ",
        ("down ", "dim"),
        fmt.human_rate(tot.rate_in) or "0",
        ("  up ", "dim"),
        fmt.human_rate(tot.rate_out) or "0",
    )
    states = " ".join(f"{s} {n}" for s, n in tot.by_state[:6]) or "-"
    kdrop_style = "bold red" if st.kernel_drops else ""
    idrop_style = "bold red" if st.internal_drops else ""
    line2 = Text.assemble(  # counters first: drops matter more than the state mix
        ("packets ", "dim"),
        fmt.human_count(st.packets),
        ("  kernel drops ", "dim"),
        (str(st.kernel_drops), kdrop_style),
        ("  internal drops ", "dim"),
        (str(st.internal_drops), idrop_style),
        "  ",
        states,
    )
    for line in (line1, line2):
        line.no_wrap = True
        line.overflow = "ellipsis"
    return line1, line2


class SummaryBar(Bar):
    DEFAULT_CSS = "SummaryBar { height: 2; padding: 0 1; }"

    def show(self, snap: Snapshot | None, tot: Totals | None) -> None:
        a, b = summary_lines(snap, tot)
        both = Text("\n").join([a, b])
        both.no_wrap = True  # each line keeps its own ellipsis instead of wrapping
        both.overflow = "ellipsis"
        self.set_content(both)


class StatusBar(Bar):
    """Left: errors, filter hint, messages. Right: row counts, sort, help key."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; padding: 0 1; }"

    def show(self, left: Text, right: str) -> None:
        line = Text.assemble(left, "  ", (right, "dim"))
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.set_content(line)
