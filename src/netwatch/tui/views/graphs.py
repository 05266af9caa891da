"""Graphs: bandwidth over time (total and top processes), protocols, states."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Sparkline, Static

from netwatch.tui import fmt
from netwatch.tui.stats import History, Totals

TOP = 5
BAR_COLORS = ("cyan", "green", "magenta", "yellow", "blue", "red")


def bar_chart(title: str, counts: Sequence[tuple[str, int]], width: int, rows: int = 6) -> Text:
    """A plain horizontal bar chart: ``label ████ 12 (40%)``."""
    out = Text(title + "\n", style="bold")
    total = sum(n for _, n in counts) or 1
    shown = list(counts[:rows])
    label_w = max([len(k) for k, _ in shown] + [4])
    bar_w = max(4, width - label_w - 14)
    peak = max([n for _, n in shown] + [1])
    for i, (label, n) in enumerate(shown):
        filled = max(1, round(bar_w * n / peak)) if n else 0
        out.append(f"{label:<{label_w}} ")
        out.append("█" * filled, style=BAR_COLORS[i % len(BAR_COLORS)])
        out.append(f" {n} ({100 * n / total:.0f}%)\n")
    if not shown:
        out.append("(none)\n", style="dim")
    out.no_wrap = True
    out.overflow = "ellipsis"
    return out


class GraphsView(VerticalScroll):
    DEFAULT_CSS = """
    GraphsView .label { height: 1; padding: 0 1; }
    GraphsView Sparkline { height: 3; margin: 0 1 1 1; }
    GraphsView Sparkline.proc { height: 1; margin: 0 1; }
    GraphsView #charts { height: auto; }
    GraphsView #charts Static { width: 1fr; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Download", classes="label", id="lbl-in")
        yield Sparkline([], id="spark-in")
        yield Static("Upload", classes="label", id="lbl-out")
        yield Sparkline([], id="spark-out")
        for i in range(TOP):
            yield Static("", classes="label proc-label", id=f"lbl-proc-{i}")
            yield Sparkline([], classes="proc", id=f"spark-proc-{i}")
        with Horizontal(id="charts"):
            yield Static("", id="chart-proto")
            yield Static("", id="chart-state")

    def show(self, history: History, tot: Totals | None) -> None:
        now_in = history.total_in[-1] if history.total_in else 0.0
        now_out = history.total_out[-1] if history.total_out else 0.0
        peak_in = max(history.total_in, default=0.0)
        peak_out = max(history.total_out, default=0.0)
        for which, name, now, peak in (("in", "Download", now_in, peak_in),
                                       ("out", "Upload", now_out, peak_out)):  # fmt: skip
            rate, top_rate = fmt.human_rate(now) or "0", fmt.human_rate(peak) or "0"
            self.query_one(f"#lbl-{which}", Static).update(
                Text(f"{name} {rate}  (peak {top_rate})"),
                layout=False,  # one fixed line
            )
        self.query_one("#spark-in", Sparkline).data = list(history.total_in) or [0.0]
        self.query_one("#spark-out", Sparkline).data = list(history.total_out) or [0.0]
        top = history.top_processes(TOP)
        for i in range(TOP):
            label = self.query_one(f"#lbl-proc-{i}", Static)
            spark = self.query_one(f"#spark-proc-{i}", Sparkline)
            if i < len(top):
                name, series = top[i]
                label.update(Text(f"{name}  {fmt.human_rate(series[-1]) or 'idle'}"), layout=False)
                spark.data = series
                label.display = spark.display = True
            else:
                label.display = spark.display = False
        width = max(20, self.size.width // 2 - 2)
        protos = tot.by_app if tot else ()
        states = tot.by_state if tot else ()
        self.query_one("#chart-proto", Static).update(bar_chart("Protocols", protos, width))
        self.query_one("#chart-state", Static).update(bar_chart("States", states, width))
