"""Turning a syntax tree into a predicate over one kind of subject.

One implementation serves both subjects: :class:`Subject` bundles the accessor table of
:mod:`netwatch.filters.fields` and the search-text function; ``build`` closes over it. Every
value check is decided here, at compile time, so a bad value is a FilterSyntaxError pointing
at it and evaluation never raises.

Semantics shared by all terms (the values of a field are all it holds: both ports for
``port``, every DNS qname for ``dns``):

* ``:`` ``=`` ``~`` ``<`` ... hold when *any* value matches;
* ``!=`` and ``!~`` hold when the field has values and *none* matches (``-sni=x`` also
  keeps rows without an SNI);
* ``key:*`` holds when the field has any value.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.errors import FilterSyntaxError
from netwatch.filters.fields import Fetch, text_of, values_getter
from netwatch.filters.keywords import PROTO_FAMILIES, field_spec
from netwatch.filters.nodes import And, Node, Not, Or, Regex, Term, Word
from netwatch.filters.values import (
    FALSE_WORDS,
    TRUE_WORDS,
    NumberRange,
    address_key,
    as_float,
    check_port,
    compile_regex,
    parse_network,
    parse_number,
    parse_range,
)

Pred = Callable[[Any], bool]
Match = Callable[[Any], bool]

_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TEXT_OPS = frozenset({":", "=", "!=", "~", "!~"})
_NUMBER_OPS = frozenset({":", "=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Subject:
    """What a predicate runs on: accessors by field name and the search text."""

    fields: Mapping[str, Callable[[Any], Any]]
    text: Callable[[Any], str]
    memo: Callable[[Any, str, Fetch], Sequence[Any]] | None = None


def build(node: Node, subject: Subject) -> Pred:
    if isinstance(node, Word):
        needle = node.text.lower()
        text = subject.text
        return lambda s: needle in text(s)
    if isinstance(node, Regex):
        rx = compile_regex(node.pattern, node.position, multiline=True)
        text = subject.text
        return lambda s: rx.search(text(s)) is not None
    if isinstance(node, Term):
        return _term(node, subject)
    if isinstance(node, Not):
        inner = build(node.operand, subject)
        return lambda s: not inner(s)
    if isinstance(node, And):
        return _and(node, subject)
    if isinstance(node, Or):
        return _chain([build(n, subject) for n in node.operands], any_of=True)
    raise FilterSyntaxError(f"not a filter node: {node!r}", 0)


def _and(node: And, subject: Subject) -> Pred:
    # Plain words are folded into one check on the search text: typing "a b c" costs one
    # lookup per row, not three (it is the TUI's hot path).
    words = tuple(n.text.lower() for n in node.operands if isinstance(n, Word))
    preds = [build(n, subject) for n in node.operands if not isinstance(n, Word)]
    if len(words) > 1:
        text = subject.text

        def all_words(s: Any) -> bool:
            t = text(s)
            for w in words:  # noqa: SIM110 - a loop is cheaper than all() over a generator
                if w not in t:
                    return False
            return True

        preds.insert(0, all_words)
    elif words:
        preds.insert(0, build(Word(words[0]), subject))
    return _chain(preds, any_of=False)


def _chain(preds: list[Pred], *, any_of: bool) -> Pred:
    """``a(s) or b(s) or ...`` (``and`` when not ``any_of``) as nested closures: cheaper
    per row than ``any(p(s) for p in preds)``, which builds a generator every call."""
    if not preds:
        return lambda s: not any_of
    if len(preds) > _MAX_CHAIN:
        # Long flat lists (a pasted "a or b or ..." of thousands) would nest closures
        # past the recursion limit: loop instead.
        items = tuple(preds)
        if any_of:
            return lambda s: any(p(s) for p in items)
        return lambda s: all(p(s) for p in items)
    pred = preds[-1]
    for left in reversed(preds[:-1]):
        pred = _or2(left, pred) if any_of else _and2(left, pred)
    return pred


_MAX_CHAIN = 16


def _or2(a: Pred, b: Pred) -> Pred:
    return lambda s: a(s) or b(s)


def _and2(a: Pred, b: Pred) -> Pred:
    return lambda s: a(s) and b(s)


def _term(term: Term, subject: Subject) -> Pred:
    spec = field_spec(term.keyword)
    if spec is None:
        raise FilterSyntaxError(f"unknown keyword {term.keyword!r}", term.position)
    kind, unit, sources = spec.kind, spec.unit, spec.sources
    getters = []
    for src in sources:
        try:
            getters.append(values_getter(src, subject.fields, subject.memo))
        except KeyError:
            known = ", ".join(k for k in subject.fields if k.startswith("process."))
            raise FilterSyntaxError(
                f"unknown field {term.keyword!r} (process fields: {known})", term.position
            ) from None
    fetch = tuple(getters)

    def values(s: Any) -> Sequence[Any]:
        if len(fetch) == 1:
            return fetch[0](s)
        out: list[Any] = []
        for g in fetch:
            out.extend(g(s))
        return out

    if term.op == ":" and term.value == "*":
        return lambda s: any(v != "" for v in values(s))
    match = _matcher(term, kind, unit)
    if term.op in ("!=", "!~"):

        def none_match(s: Any) -> bool:
            vals = values(s)
            return bool(vals) and not any(map(match, vals))

        return none_match
    if len(fetch) == 1:
        only = fetch[0]
        return lambda s: any(map(match, only(s)))

    def any_source(s: Any) -> bool:
        for g in fetch:  # noqa: SIM110 - as above: no generator per row
            if any(map(match, g(s))):
                return True
        return False

    return any_source


def _matcher(term: Term, kind: str, unit: str) -> Match:
    """The test of one value against the term (``!=``/``!~`` get the positive test)."""
    op, value, pos = term.op, term.value, term.value_position
    name = term.keyword
    if isinstance(value, Regex):
        if kind in ("number", "port"):
            raise FilterSyntaxError(f"'{name}' is a number: use = < > or a range", pos)
        rx = compile_regex(value.pattern, value.position)
        return lambda v: rx.search(text_of(v)) is not None
    allowed = _NUMBER_OPS if kind in ("number", "port") else _TEXT_OPS
    if kind == "field":
        allowed = _TEXT_OPS | _NUMBER_OPS
    if op not in allowed:
        what = "compares numbers" if op in _ORDER else "is for text"
        raise FilterSyntaxError(f"'{op}' {what}; {name!r} does not allow it", term.position)
    if kind in ("number", "port"):
        return _number_matcher(term, value, unit, kind == "port")
    if kind == "addr":
        return _addr_matcher(op, value, pos)
    if kind == "proto":
        family = PROTO_FAMILIES.get(value.lower(), frozenset({value.lower()}))
        return lambda v: text_of(v).lower() in family
    if kind == "asn":
        return _asn_matcher(op, value)
    if kind == "field":
        return _field_matcher(op, value, pos)
    return _text_matcher(op, value)


def _text_matcher(op: str, value: str) -> Match:
    needle = value.lower()
    if op == ":":
        return lambda v: needle in text_of(v).lower()
    return lambda v: text_of(v).lower() == needle


def _number_matcher(term: Term, value: str, unit: str, port: bool) -> Match:
    pos, op = term.value_position, term.op
    if op in _ORDER:
        bound = parse_number(value, unit, pos)
        if port:
            check_port(NumberRange(bound, bound), value, pos)
        cmp = _ORDER[op]

        def ordered(v: Any) -> bool:
            x = as_float(v)
            return x is not None and cmp(x, bound)

        return ordered
    rng = parse_range(value, unit, pos)
    if port:
        check_port(rng, value, pos)

    def in_range(v: Any) -> bool:
        x = as_float(v)
        return x is not None and rng.low <= x <= rng.high

    return in_range


def _addr_matcher(op: str, value: str, pos: int) -> Match:
    net = parse_network(value, pos)
    if net is None:
        return _text_matcher(op, value)

    def in_net(v: Any) -> bool:
        return isinstance(v, str) and net.contains(address_key(v))

    return in_net


_ASN = re.compile(r"(?:as)?(\d+)\Z", re.IGNORECASE)


def _asn_matcher(op: str, value: str) -> Match:
    m = _ASN.match(value.strip())
    if m is None:
        return _text_matcher(op, value)
    number = int(m.group(1))

    def same_asn(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int):
            return v == number
        if isinstance(v, str):
            mv = _ASN.match(v.strip())
            return mv is not None and int(mv.group(1)) == number
        return False

    return same_asn


def _field_matcher(op: str, value: str, pos: int) -> Match:
    """Dotted fields have no declared type: compare by the value found."""
    if op in _ORDER:
        bound = parse_number(value, "count", pos)
        cmp = _ORDER[op]

        def ordered(v: Any) -> bool:
            x = as_float(v)
            return x is not None and cmp(x, bound)

        return ordered
    if op == ":":
        return _text_matcher(op, value)
    needle = value.lower()
    number = as_float(value)
    truth = True if needle in TRUE_WORDS else False if needle in FALSE_WORDS else None

    def equal(v: Any) -> bool:
        if isinstance(v, bool):
            return truth is not None and v is truth
        if number is not None and isinstance(v, int | float):
            return float(v) == number
        return text_of(v).lower() == needle

    return equal
