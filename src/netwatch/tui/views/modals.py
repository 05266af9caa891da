"""Modal screens: a yes/no question and the help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """``question`` answered with y/Enter (or ``again``, e.g. q for quit) or n/Esc."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: auto; max-width: 90%; height: auto; border: thick $warning; padding: 0 1;
        background: $surface;
    }
    ConfirmScreen Static { width: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, again: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.again = again
        if again:
            self._bindings.bind(again, "answer(True)", "Yes", show=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            hint = "y / Enter" + (f" / {self.again}" if self.again else "") + ": yes   n / Esc: no"
            yield Static(self.question)
            yield Static(hint, classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,h,q,question_mark", "close", "Close"),
    ]

    def __init__(
        self,
        rows: Sequence[tuple[str, str]],
        filter_help: str,
        keywords: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        super().__init__()
        self.rows = rows
        self.filter_help = filter_help
        self.keywords = keywords

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, header_style="bold", box=None, expand=True)
        table.add_column("Key", style="cyan", no_wrap=True)
        table.add_column("Action")
        for keys, text in self.rows:
            table.add_row(keys, text)
        with VerticalScroll():
            yield Static("netwatch: keys (Esc closes)", classes="title")
            yield Static(table)
            yield Static(self.filter_help)
            if self.keywords:
                kw = Table(show_header=True, header_style="bold", box=None, expand=True)
                kw.add_column("Keyword", style="cyan", no_wrap=True)
                kw.add_column("Matches")
                kw.add_column("Example", style="green", no_wrap=True)
                for names, meaning, example in self.keywords:
                    kw.add_row(names, meaning, example)
                yield Static(kw)

    def action_close(self) -> None:
        self.dismiss(None)
