"""Recursive-descent parser: tokens → the tree of :mod:`netwatch.filters.nodes`.

Grammar (lowest precedence first; ``and`` binds tighter than ``or``, as in SQL and Wireshark,
so ``a or b c`` is ``a or (b and c)``)::

    expr    := and_expr ( OR and_expr )*
    and_expr:= unary ( [AND] unary )*          -- juxtaposition is "and"
    unary   := NOT unary | "(" expr ")" | WORD | QUOTED | REGEX | TERM

Nesting is capped (:data:`MAX_DEPTH`) so no input reaches Python's recursion limit.
"""

from __future__ import annotations

from netwatch.errors import FilterSyntaxError
from netwatch.filters.lexer import Token, tokenize
from netwatch.filters.nodes import MATCH_ALL, And, Node, Not, Or, Regex, Term, Word

MAX_DEPTH = 64

_STARTS_TERM = frozenset({"(", "not", "word", "quoted", "regex", "term"})


def parse(expr: str) -> Node:
    """The syntax tree of ``expr``; the empty expression is :data:`MATCH_ALL`.

    Only the syntax is checked here; :func:`netwatch.filters.compile` also checks values
    (numbers, networks, regexes) and the operators each keyword allows.
    """
    tokens = tokenize(expr)
    if not tokens:
        return MATCH_ALL
    p = _Parser(tokens, len(expr))
    node = p.expr(0)
    if p.i < len(tokens):
        tok = tokens[p.i]
        raise FilterSyntaxError("unmatched ')'" if tok.kind == ")" else "unexpected token", tok.pos)
    return node


class _Parser:
    def __init__(self, tokens: list[Token], end: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end = end

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expr(self, depth: int) -> Node:
        first = self.peek()
        parts = [self.and_expr(depth)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.i += 1
            self._need_operand(tok, "or")
            parts.append(self.and_expr(depth))
        if len(parts) == 1:
            return parts[0]
        return Or(tuple(parts), first.pos if first else 0)

    def and_expr(self, depth: int) -> Node:
        first = self.peek()
        parts = [self.unary(depth)]
        while (tok := self.peek()) is not None:
            if tok.kind == "and":
                self.i += 1
                self._need_operand(tok, "and")
            elif tok.kind not in _STARTS_TERM:
                break
            parts.append(self.unary(depth))
        if len(parts) == 1:
            return parts[0]
        return And(tuple(parts), first.pos if first else 0)

    def _need_operand(self, op_tok: Token, name: str) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind not in _STARTS_TERM:
            where = self.end if nxt is None else nxt.pos
            raise FilterSyntaxError(f"'{name}' needs a term after it", where)

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            tok = self.peek()
            raise FilterSyntaxError("expression nested too deeply", tok.pos if tok else self.end)
        tok = self.peek()
        if tok is None:
            raise FilterSyntaxError("expected a term at the end", self.end)
        self.i += 1
        kind = tok.kind
        if kind == "not":
            nxt = self.peek()
            if nxt is None or nxt.kind not in _STARTS_TERM:
                where = self.end if nxt is None else nxt.pos
                raise FilterSyntaxError("'not' needs a term after it", where)
            return Not(self.unary(depth + 1), tok.pos)
        if kind == "(":
            nxt = self.peek()
            if nxt is not None and nxt.kind == ")":
                raise FilterSyntaxError("empty parentheses", tok.pos)
            inner = self.expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != ")":
                raise FilterSyntaxError("'(' is never closed", tok.pos)
            self.i += 1
            return inner
        if kind in ("word", "quoted"):
            return Word(tok.text, tok.pos)
        if kind == "regex":
            return Regex(tok.text, tok.pos)
        if kind == "term":
            return _term(tok)
        if kind == ")":
            raise FilterSyntaxError("unmatched ')'", tok.pos)
        raise FilterSyntaxError(f"'{kind}' needs a term before it", tok.pos)


def _term(tok: Token) -> Term:
    op = tok.op
    value: str | Regex = tok.value
    if tok.value_kind == "regex":
        value = Regex(tok.value, tok.value_pos)
        if op == ":":
            op = "~"
    elif op in ("~", "!~"):
        value = Regex(tok.value, tok.value_pos)
    return Term(tok.text, op, value, tok.pos, tok.value_pos)
