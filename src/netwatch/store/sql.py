"""Filter expressions → SQL over the store's indexed columns, plus a residual check.

:func:`translate` turns a parsed filter (:mod:`netwatch.filters.nodes`) into a SQL
condition that holds for *at least* every connection the filter matches: a superset,
narrowed with the indexes (time, addresses as CIDR ranges, ports, protocols, the DPI values
of ``dpi_index``). The query then runs the compiled filter (``compile_record``) on each
candidate's stored record, so the result is exactly the filter's, whatever could not be
translated (plain words, regexes, fields without a column). A condition is ``exact`` when
it equals the filter on every row; only exact conditions may be negated (``NOT``).

Translated: ``port sport dport`` (all operators), ``addr src dst`` with an IP or CIDR,
``proto``, ``bytes bytes_in bytes_out payload payload_in payload_out packets duration pid``,
``sni ja3 ja4 hassh host`` and ``process`` names (``=`` and ``:``), dotted DPI fields of the
index (``tls.ja3``, ``tls.sni``, ``dns.qname``, ``http.host``, ``http.status`` ...: ``=``,
``:``, ``< <= > >=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netwatch.filters import And, Node, Not, Or, Regex, Term, Word, field_spec
from netwatch.filters.keywords import PROTO_FAMILIES
from netwatch.filters.values import (
    FALSE_WORDS,
    TRUE_WORDS,
    as_float,
    parse_network,
    parse_number,
    parse_range,
)
from netwatch.store.rows import INDEXED_PATHS, ip_key_of

#: Sources whose values the index holds under another path. Sound because the DNS and HTTP
#: objects have no ``qname``/``host`` of their own (docs/schema/app): the deep-search path
#: reaches every value of the explicit one.
_ALIASES = {
    "app.dns.queries.qname": "app.dns.qname",
    "app.http.requests.host": "app.http.host",
}
_INDEXED = frozenset(INDEXED_PATHS)
#: Numeric filter fields with a column expression; ``exact`` when the column equals the
#: record's value (``duration`` is rounded in the record).
_NUMBER_COLUMNS: dict[str, tuple[str, bool]] = {
    "bytes": ("(bytes_in + bytes_out)", True),
    "bytes_in": ("bytes_in", True),
    "bytes_out": ("bytes_out", True),
    "packets": ("(packets_in + packets_out)", True),
    # NULL on rows stored before the columns existed (their records lack the field too):
    # a superset, never negated.
    "payload": ("(payload_in + payload_out)", False),
    "payload_in": ("payload_in", False),
    "payload_out": ("payload_out", False),
    "duration": ("(last_seen - first_seen)", False),
    "process.pid": ("pid", False),
    "local_port": ("local_port", True),
    "remote_port": ("remote_port", True),
}
#: A remote name that is an IP literal is compared as an address (``name_ip``, rows.py).
_ADDR_COLUMNS = {"local_addr": "local_ip", "remote_addr": "remote_ip", "remote_name": "name_ip"}
_TEXT_COLUMNS = {"remote_name": "remote_name", "process.name": "process"}
_ORDER = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Cond:
    sql: str
    params: tuple[Any, ...]
    exact: bool


TRUE = Cond("1", (), True)


def translate(node: Node) -> Cond | None:
    """A SQL superset of ``node``; None when nothing narrows it (every row is a candidate).

    ``node`` must come from a compiled filter (its values are already checked)."""
    if isinstance(node, And):
        if not node.operands:
            return TRUE
        parts = [translate(n) for n in node.operands]
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return Cond(
            " AND ".join(f"({p.sql})" for p in kept),
            tuple(x for p in kept for x in p.params),
            len(kept) == len(parts) and all(p.exact for p in kept),
        )
    if isinstance(node, Or):
        ors = [translate(n) for n in node.operands]
        if any(p is None for p in ors):
            return None
        done = [p for p in ors if p is not None]
        return Cond(
            " OR ".join(f"({p.sql})" for p in done),
            tuple(x for p in done for x in p.params),
            all(p.exact for p in done),
        )
    if isinstance(node, Not):
        inner = translate(node.operand)
        if inner is None or not inner.exact:
            return None
        return Cond(f"NOT COALESCE(({inner.sql}), 0)", inner.params, True)
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Word):
        return _word(node.text)
    return None  # Regex: searched in the record by the residual filter


#: Characters a plain word may hold for the record's JSON text to contain it whenever the
#: search text does: JSON escapes quotes, backslashes and controls; endpoints are composed
#: as ``addr:port`` / ``[addr]:port`` (a part without ``:[]`` lies in the address or port).
_WORD_UNSAFE = frozenset('":[]\\') | frozenset(map(chr, range(32))) | {chr(127)}


def _word(text: str) -> Cond | None:
    """A plain word → ``record LIKE '%word%'``: a cheap scan in SQLite before any record is
    decoded. LIKE folds ASCII case only, so records with any non-ASCII character stay
    candidates (their lower case may differ in ways LIKE does not know)."""
    if not text or not text.isascii() or _WORD_UNSAFE.intersection(text):
        return None
    return Cond(
        # non-ASCII test: characters != bytes (a GLOB for it was ten times slower)
        "record LIKE ? ESCAPE '\\' OR length(CAST(record AS BLOB)) != length(record)",
        (_like(text.lower()),),
        False,
    )


def _any(conds: list[Cond | None]) -> Cond | None:
    """Any of several sources: None if one of them cannot be translated."""
    if not conds or any(c is None for c in conds):
        return None
    done = [c for c in conds if c is not None]
    if len(done) == 1:
        return done[0]
    return Cond(
        " OR ".join(f"({c.sql})" for c in done),
        tuple(x for c in done for x in c.params),
        all(c.exact for c in done),
    )


def _none(conds: list[Cond | None]) -> Cond | None:
    """``!=``: every source has a value and none matches; ``conds`` test "has a value that
    matches" per source over NOT NULL columns, so a conjunction of negations is exact."""
    if not conds or any(c is None or not c.exact for c in conds):
        return None
    done = [c for c in conds if c is not None]
    return Cond(
        " AND ".join(f"NOT COALESCE(({c.sql}), 0)" for c in done),
        tuple(x for c in done for x in c.params),
        True,
    )


def _term(t: Term) -> Cond | None:
    spec = field_spec(t.keyword)
    if spec is None or isinstance(t.value, Regex) or t.value == "*":
        return None
    value, op = t.value, t.op
    if op in ("~", "!~"):
        return None
    negate = op == "!="
    kind = spec.kind
    conds: list[Cond | None]
    if kind in ("port", "number"):
        conds = [_number(src, op, value, spec.unit) for src in spec.sources]
        if negate:
            if kind != "port":
                return None
            conds = [_number(src, "=", value, spec.unit) for src in spec.sources]
            return _none(conds)
        return _any(conds)
    if kind == "addr":
        net = parse_network(value, 0)
        if net is None or negate:
            return None  # text match on addresses and names: the residual does it
        low = ip_key_of(net.version, net.first)
        high = ip_key_of(net.version, net.last)
        conds = []
        for src in spec.sources:
            col = _ADDR_COLUMNS.get(src)
            conds.append(None if col is None else Cond(f"{col} BETWEEN ? AND ?", (low, high), True))
        return _any(conds)
    if kind == "proto":
        family = sorted(PROTO_FAMILIES.get(value.lower(), frozenset({value.lower()})))
        marks = ", ".join("?" * len(family))
        conds = []
        for src in spec.sources:
            # both columns hold lower-case names (rows.py), as the filter compares them
            col = "proto" if src == "proto" else "app" if src == "app.protocol" else None
            if col is None:
                return None
            conds.append(Cond(f"COALESCE({col} IN ({marks}), 0)", tuple(family), True))
        return _none(conds) if negate else _any(conds)
    if kind in ("text", "field") and not negate:
        return _any([_text(src, op, value, kind) for src in spec.sources])
    return None


def _number(src: str, op: str, value: str, unit: str) -> Cond | None:
    col = _NUMBER_COLUMNS.get(src)
    if col is None:
        return None
    expr, exact = col
    if op in _ORDER:
        return Cond(f"{expr} {op} ?", (parse_number(value, unit, 0),), exact)
    rng = parse_range(value, unit, 0)
    if rng.low == rng.high:
        return Cond(f"{expr} = ?", (rng.low,), exact)
    return Cond(f"{expr} BETWEEN ? AND ?", (rng.low, rng.high), exact)


def _like(needle: str) -> str:
    esc = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def _index_key(src: str) -> str | None:
    src = _ALIASES.get(src, src)
    if src in _INDEXED:
        return src
    parts = src.split(".")
    if len(parts) == 3 and parts[0] == "app":
        wild = f"app.*.{parts[2]}"  # app.tls.ja3 ⊆ app.*.ja3: any protocol's ja3
        if wild in _INDEXED:
            return wild
    return None


def _text(src: str, op: str, value: str, kind: str) -> Cond | None:
    needle = value.lower()
    col = _TEXT_COLUMNS.get(src)
    if col is not None:
        if op == ":":
            return Cond(f"lower({col}) LIKE ? ESCAPE '\\'", (_like(needle),), False)
        if op == "=":
            return Cond(f"lower({col}) = ?", (needle,), False)
        return None
    key = _index_key(src)
    if key is None:
        return None
    sub = "id IN (SELECT connection FROM dpi_index WHERE key = ? AND {})"
    if op == ":":
        return Cond(sub.format("value LIKE ? ESCAPE '\\'"), (key, _like(needle)), False)
    if op in _ORDER:
        if kind != "field":
            return None
        bound = parse_number(value, "count", 0)
        return Cond(sub.format(f"num {op} ?"), (key, bound), False)
    if op != "=":
        return None
    if kind != "field":
        return Cond(sub.format("value = ?"), (key, needle), False)
    # Dotted fields compare by the value's type: numbers numerically, booleans by truth
    # words, the rest as text (netwatch.filters.evaluate._field_matcher).
    alts = ["value = ?"]
    params: list[Any] = [key, needle]
    number = as_float(value)
    if number is not None:
        alts.append("num = ?")
        params.append(number)
    if needle in TRUE_WORDS:
        alts.append("value = 'true'")
    elif needle in FALSE_WORDS:
        alts.append("value = 'false'")
    return Cond(sub.format("(" + " OR ".join(alts) + ")"), tuple(params), False)
