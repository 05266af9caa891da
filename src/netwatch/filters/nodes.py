"""The filter language's syntax tree: a few frozen dataclasses.

The tree is what the parser hands to the evaluator and what the recorder translates to SQL.
Every node keeps ``position`` (the offset in the expression where it starts) for error
messages; positions do not take part in equality, so ``parse("a b") == And((Word("a"),
Word("b")))`` holds in tests.

``Term.op`` is normalised: ``==`` becomes ``=``; ``key:/re/`` becomes ``op="~"`` with a
:class:`Regex` value. Values stay the text the user typed (``"8000-8100"``, ``"1M"``);
:mod:`netwatch.filters.values` parses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Term operators after normalisation.
OPERATORS = (":", "=", "!=", "~", "!~", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Word:
    """A plain word (or quoted phrase): a case-insensitive substring of any field."""

    text: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Regex:
    """A ``/pattern/``: bare, it is searched in every field; as a Term value, in that field."""

    pattern: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Term:
    """``keyword op value``: ``port:443``, ``bytes>1M``, ``tls.ja3 = abc``.

    ``keyword`` is lower-cased: a name from :data:`netwatch.filters.keywords.KEYWORDS` or a
    dotted field (``tls.sni``, ``dns.queries.qname``, ``geo.asn``).
    """

    keyword: str
    op: str
    value: str | Regex
    position: int = field(default=0, compare=False)
    value_position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """All operands hold. ``And(())`` is the empty filter: it matches everything."""

    operands: tuple[Node, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]
    position: int = field(default=0, compare=False)


Node = Word | Regex | Term | Not | And | Or

MATCH_ALL = And(())
