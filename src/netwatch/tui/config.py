"""TUI settings: a frozen :class:`TuiConfig` and its loader.

Precedence (lowest first): built-in defaults, ``$XDG_CONFIG_HOME/netwatch/config.toml``
(``[tui]`` table, falling back to ``~/.config``), then the values the command line passed.
Unknown keys are reported, never silently dropped.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from netwatch.errors import UsageError

THEMES = ("dark", "light")


@dataclass(frozen=True, slots=True)
class TuiConfig:
    """What the user may choose about the TUI.

    ``columns``: column keys to offer (empty = all, see ``columns.COLUMNS``).
    ``sort``: a column key, ``-`` prefix for descending (``"-down"``); empty = by bandwidth.
    ``keys``: action name -> comma-separated keys, overriding ``keys.KEYMAP``.
    """

    filter: str = ""
    sort: str = ""
    columns: tuple[str, ...] = ()
    group_by_process: bool = False
    theme: str = "dark"
    refresh_rate: float = 4.0
    keys: Mapping[str, str] = field(default_factory=dict)
    no_color: bool = False
    show_closed: bool = False

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise UsageError(f"tui theme must be one of {', '.join(THEMES)}, not {self.theme!r}")
        if not 0.1 <= self.refresh_rate <= 60.0:
            raise UsageError(
                f"tui refresh_rate must be within 0.1..60 per second: {self.refresh_rate}"
            )

    @property
    def min_interval(self) -> float:
        """Seconds between two applied frames."""
        return 1.0 / self.refresh_rate


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/netwatch/config.toml`` (``~/.config`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "netwatch" / "config.toml"


def _coerce(name: str, value: Any) -> Any:
    """Check one TOML value against the field it sets; TOML arrays become tuples."""
    expected: dict[str, type | tuple[type, ...]] = {
        "filter": str,
        "sort": str,
        "columns": list,
        "group_by_process": bool,
        "theme": str,
        "refresh_rate": (int, float),
        "keys": dict,
        "no_color": bool,
        "show_closed": bool,
    }
    kind = expected[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise UsageError(f"config.toml [tui] {name}: wrong type {type(value).__name__}")
    raw: Any = value
    if name == "columns":
        return tuple(str(v) for v in raw)
    if name == "keys":
        return {str(k): str(v) for k, v in raw.items()}
    if name == "refresh_rate":
        return float(raw)
    return raw


def load_config(
    cli: Mapping[str, Any] | None = None,
    path: Path | None = None,
) -> TuiConfig:
    """Defaults, then the file's ``[tui]`` table, then ``cli`` (only keys whose value is not None).

    A missing file is fine; a file that does not parse, an unknown key or a wrong type raises
    :class:`UsageError` naming the file.
    """
    path = config_path() if path is None else path
    values: dict[str, Any] = {}
    known = {f.name for f in fields(TuiConfig)}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise UsageError(f"{path}: {exc}") from exc
        table = data.get("tui", {})
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [tui] must be a table")
        for name, value in table.items():
            if name not in known:
                raise UsageError(f"{path}: unknown [tui] key {name!r}")
            values[name] = _coerce(name, value)
    for name, value in (cli or {}).items():
        if name not in known:
            raise UsageError(f"unknown TUI option {name!r}")
        if value is not None:
            values[name] = tuple(value) if name == "columns" else value
    _check_names(values, path)
    return replace(TuiConfig(), **values)


def _check_names(values: Mapping[str, Any], path: Path) -> None:
    """Column, sort and action names must exist: a typo is an error, not a silent default."""
    from netwatch.tui.columns import BY_KEY
    from netwatch.tui.keys import action_names

    for col in values.get("columns", ()):
        if col not in BY_KEY:
            raise UsageError(f"{path}: unknown column {col!r} (known: {', '.join(BY_KEY)})")
    sort = str(values.get("sort", "")).lstrip("+-")
    if sort and sort not in BY_KEY:
        raise UsageError(f"unknown sort column {sort!r} (known: {', '.join(BY_KEY)})")
    actions = action_names()
    for action in values.get("keys", {}):
        if action not in actions:
            raise UsageError(f"{path}: unknown key action {action!r}")
