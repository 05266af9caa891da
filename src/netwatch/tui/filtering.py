"""Compile the user's filter expression into a row predicate, never raising.

The filter language lives in ``netwatch.filters`` (one implementation shared with queries
and exports): ``compile(expr) -> predicate`` raising ``FilterSyntaxError(message, position)``.
Until that package provides ``compile``, a plain case-insensitive substring match over the
row's visible text stands in, so the TUI keeps working.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from netwatch.errors import FilterSyntaxError
from netwatch.model.snapshot import ConnectionView

Predicate = Callable[[ConnectionView], bool]


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """``predicate`` is None for the empty filter (everything matches)."""

    text: str
    predicate: Predicate | None
    error: str | None = None
    position: int | None = None

    @property
    def hint(self) -> str:
        """One line for the status bar: the error with a caret under its position."""
        if self.error is None:
            return ""
        where = "" if self.position is None else f" at {self.position + 1}"
        return f"filter{where}: {self.error}"


def _haystack(v: ConnectionView) -> str:
    proc = v.process
    return " ".join(
        (
            v.proto,
            v.local_addr,
            str(v.local_port),
            v.remote_addr,
            str(v.remote_port),
            v.remote_name or "",
            v.state,
            v.service,
            v.app_protocol,
            v.app_summary,
            proc.name if proc else "",
            str(proc.pid) if proc else "",
        )
    ).lower()


def substring_predicate(text: str) -> Predicate:
    """Every whitespace-separated word must occur in the row's text."""
    words = text.lower().split()

    def match(v: ConnectionView) -> bool:
        hay = _haystack(v)
        return all(w in hay for w in words)

    return match


def _language() -> Callable[[str], Predicate] | None:
    try:
        module = importlib.import_module("netwatch.filters")
    except ImportError:
        return None
    fn = getattr(module, "compile", None)
    return fn if callable(fn) else None


def filter_help() -> list[tuple[str, str, str]]:
    """(keywords, meaning, example) rows from the filter language, empty before it exists."""
    try:
        module = importlib.import_module("netwatch.filters")
    except ImportError:
        return []
    fn = getattr(module, "keyword_help", None)
    return list(fn()) if callable(fn) else []


def compile_filter(text: str) -> CompiledFilter:
    """The predicate for ``text``; syntax errors come back as data for an inline hint."""
    if not text.strip():
        return CompiledFilter(text, None)
    language = _language()
    if language is None:
        return CompiledFilter(text, substring_predicate(text))
    try:
        return CompiledFilter(text, language(text))
    except FilterSyntaxError as exc:
        return CompiledFilter(text, None, str(exc), exc.position)


def safe_apply(pred: Predicate, view: ConnectionView) -> bool:
    """A predicate that fails on an odd row hides the row instead of crashing the UI."""
    try:
        return bool(pred(view))
    except (TypeError, ValueError, AttributeError, KeyError):
        return False
