"""The filter / query language shared by the TUI, exports and the recorder.

``compile(expr)`` gives a :class:`Filter`, a predicate over
:class:`~netwatch.model.ConnectionView`; ``compile_record(expr)`` the same language over the
plain dict records of ``netwatch analyze`` (what the recorder stores). Both expose ``.ast``
(:mod:`netwatch.filters.nodes`) for the recorder to translate to SQL. Bad input raises
:class:`netwatch.errors.FilterSyntaxError` with the offending ``position``, and nothing else.
The language is documented in ``docs/filter-language.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from netwatch.errors import FilterSyntaxError
from netwatch.filters.evaluate import Subject, build
from netwatch.filters.fields import RECORD_FIELDS, VIEW_FIELDS
from netwatch.filters.keywords import KEYWORDS, FieldSpec, Keyword, field_spec, keyword_help
from netwatch.filters.nodes import MATCH_ALL, And, Node, Not, Or, Regex, Term, Word
from netwatch.filters.parser import parse
from netwatch.filters.search import DEFAULT_CACHE, SearchCache, record_text
from netwatch.model.snapshot import ConnectionView

__all__ = [
    "KEYWORDS",
    "MATCH_ALL",
    "And",
    "FieldSpec",
    "Filter",
    "FilterSyntaxError",
    "Keyword",
    "Node",
    "Not",
    "Or",
    "RecordFilter",
    "Regex",
    "SearchCache",
    "Term",
    "Word",
    "compile",
    "compile_record",
    "field_spec",
    "keyword_help",
    "parse",
    "prepare",
]

#: Longest expression accepted (the TUI's input line; a query file is far shorter).
MAX_EXPRESSION_LENGTH = 8192


class _Compiled:
    __slots__ = ("_pred", "ast", "expr")

    def __init__(self, expr: str, ast: Node, pred: Callable[[Any], bool]) -> None:
        self.expr = expr
        self.ast = ast
        self._pred = pred

    @property
    def matches_all(self) -> bool:
        """True for the empty filter: callers may skip filtering altogether."""
        return self.ast == MATCH_ALL

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expr!r})"


class Filter(_Compiled):
    """A compiled filter over connection views: ``f(view) -> bool``."""

    __slots__ = ()

    def __call__(self, view: ConnectionView) -> bool:
        return bool(self._pred(view))


class RecordFilter(_Compiled):
    """A compiled filter over analyze records (dicts): ``f(record) -> bool``."""

    __slots__ = ()

    def __call__(self, record: Mapping[str, Any]) -> bool:
        return bool(self._pred(record))


def _parse_checked(expr: str) -> Node:
    if not isinstance(expr, str):
        raise FilterSyntaxError("a filter expression must be text", 0)
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise FilterSyntaxError(
            f"expression longer than {MAX_EXPRESSION_LENGTH} characters", MAX_EXPRESSION_LENGTH
        )
    return parse(expr)


def compile(expr: str, *, cache: SearchCache | None = None) -> Filter:
    """Compile ``expr`` into a predicate over :class:`ConnectionView`.

    ``cache`` holds each row's search text between calls; the default one is shared by
    every filter, which is what the TUI wants (a new filter per keystroke, same rows).
    """
    ast = _parse_checked(expr)
    rows = DEFAULT_CACHE if cache is None else cache
    return Filter(expr, ast, build(ast, Subject(VIEW_FIELDS, rows.text, rows.values)))


def prepare(views: Iterable[ConnectionView], *, cache: SearchCache | None = None) -> int:
    """Build the search text of rows new to ``cache`` (default: the one ``compile`` uses).

    For a front end's worker thread when a snapshot arrives, so that the next keystroke
    only filters. Returns how many rows were built."""
    return (DEFAULT_CACHE if cache is None else cache).prepare(views)


def compile_record(expr: str) -> RecordFilter:
    """Compile ``expr`` into a predicate over ``ConnectionView.to_record()``-shaped dicts."""
    ast = _parse_checked(expr)
    return RecordFilter(expr, ast, build(ast, Subject(RECORD_FIELDS, record_text)))
