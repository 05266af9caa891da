"""Every key binding as data: the app builds its bindings and the help screen from this.

``action`` names are what ``TuiConfig.keys`` overrides (``[tui.keys] copy = "y"``).
``priority`` bindings work even while the filter box has focus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config loader reads this table without loading Textual
    from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class KeySpec:
    action: str
    keys: str
    description: str
    footer: bool = False
    priority: bool = False


KEYMAP: tuple[KeySpec, ...] = (
    KeySpec("ask_quit", "q", "Quit (asks once more)", footer=True),
    KeySpec("force_quit", "ctrl+c", "Quit now", priority=True),
    KeySpec("next_view", "tab", "Next screen", priority=True),
    KeySpec("prev_view", "shift+tab", "Previous screen", priority=True),
    KeySpec("view('overview')", "1", "Overview: the connections"),
    KeySpec("view('details')", "2", "Details of the selected connection"),
    KeySpec("view('processes')", "3", "Processes"),
    KeySpec("view('graphs')", "4", "Graphs"),
    KeySpec("help", "h,question_mark", "This help", footer=True),
    KeySpec("go_back", "escape", "Back / leave the filter box"),
    KeySpec("filter", "slash", "Filter (narrows as you type)", footer=True),
    KeySpec("sort_next", "s", "Sort by the next column", footer=True),
    KeySpec("sort_reverse", "S", "Reverse the sort direction"),
    KeySpec("copy", "c", "Copy the remote address (or the selected detail)", footer=True),
    KeySpec("toggle_ports", "p", "Service names <-> port numbers"),
    KeySpec("toggle_names", "d", "Host names <-> IP addresses"),
    KeySpec("group", "a", "Group by process"),
    KeySpec("toggle_closed", "t", "Show closed connections (dimmed)"),
    KeySpec("clear_closed", "x", "Forget closed connections (asks)"),
    KeySpec("pause", "space", "Pause / resume the display", footer=True),
    KeySpec("reset", "r", "Reset the view (filter, sort, toggles)"),
    KeySpec("cursor_down", "down", "Next row (also j)"),
    KeySpec("cursor_up", "up", "Previous row (also k)"),
    KeySpec("page_down", "pagedown", "Page down"),
    KeySpec("page_up", "pageup", "Page up"),
)

TABLE_KEYS: tuple[tuple[str, str], ...] = (
    ("j / k", "Down / up"),
    ("g / G", "First / last row"),
    ("Enter", "Details of the row"),
    ("Mouse", "Click selects, double-click opens details, click a header sorts"),
)


def action_names() -> set[str]:
    """What ``[tui.keys]`` may override: ``copy``, ``view('graphs')``, ..."""
    return {spec.action for spec in KEYMAP}


def bindings(overrides: Mapping[str, str] | None = None) -> list[Binding]:
    """Textual bindings from :data:`KEYMAP`, with the user's key overrides applied."""
    from textual.binding import Binding

    overrides = overrides or {}
    out = []
    for spec in KEYMAP:
        keys = overrides.get(spec.action.split("(")[0], spec.keys)
        if spec.action.startswith("view("):
            keys = overrides.get(spec.action, spec.keys)
        out.append(
            Binding(keys, spec.action, spec.description, show=spec.footer, priority=spec.priority)
        )
    return out


def help_rows(overrides: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    overrides = overrides or {}
    rows = []
    for spec in KEYMAP:
        keys = overrides.get(spec.action, overrides.get(spec.action.split("(")[0], spec.keys))
        rows.append((keys.replace("slash", "/").replace("question_mark", "?"), spec.description))
    return rows + list(TABLE_KEYS)
