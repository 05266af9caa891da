"""Splitting a filter expression into tokens, each with the offset where it starts.

Token forms (``docs/filter-language.md`` has the full grammar)::

    (  )                      grouping
    and && &   or || |  not ! -   boolean operators (words are case-insensitive)
    "a b"                     a quoted phrase; backslash escapes the next character
    /re/                      a regex; ``\\/`` is a literal slash; ``/usr/bin/x`` (text after
                              the closing slash) is a path, i.e. a plain word
    key:value  key>=value     a term: a keyword or dotted field, an operator, a value
    anything-else             a plain word, up to whitespace or a parenthesis

A keyword is recognised only when the operator follows it: ``port:443``, ``bytes > 1M``.
``:`` must touch the keyword (``port: 443`` is an error with a hint), so IPv6 words like
``fe80::1`` and ``host.example:8080`` stay plain words; other operators may have spaces
around them (``tls.ja3 = abc``, the recorder's style).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from netwatch.errors import FilterSyntaxError
from netwatch.filters.keywords import FIELD_ROOTS, KEYWORD_INDEX, is_dotted_field

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_*-]+)*")
_OPS = ("==", "!=", "!~", "<=", ">=", "=", "<", ">", "~", ":")
_WORD_END = frozenset(" \t\r\n\f\v()")
_BOOL_WORDS = {"and": "and", "or": "or", "not": "not"}
_HEXCOLON = re.compile(r"[0-9A-Fa-f:.%/]+\Z")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ( ) and or not word quoted regex term
    pos: int
    text: str = ""  # word / quoted / regex text; a term's keyword
    op: str = ""
    value: str = ""
    value_kind: str = ""  # bare | quoted | regex
    value_pos: int = 0


def tokenize(s: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(Token(c, i))
            i += 1
        elif c == '"':
            text, i2 = _quoted(s, i)
            tokens.append(Token("quoted", i, text))
            i = i2
        elif c == "/":
            found = _regex(s, i, path_ok=True)
            if found is None:  # /usr/bin/curl: a path, searched as a plain word
                end = _bare_end(s, i)
                tokens.append(Token("word", i, s[i:end]))
                i = end
            else:
                tokens.append(Token("regex", i + 1, found[0]))
                i = found[1]
        elif c == "!":
            if s.startswith(("!=", "!~"), i):
                raise FilterSyntaxError(_no_field_msg(s[i : i + 2]), i)
            tokens.append(Token("not", i))
            i += 1
        elif c == "-":
            if i + 1 >= n or s[i + 1] in _WORD_END:
                raise FilterSyntaxError("'-' negates the term right after it: write -term", i)
            tokens.append(Token("not", i))
            i += 1
        elif c in "&|":
            kind = "and" if c == "&" else "or"
            tokens.append(Token(kind, i))
            i += 2 if s.startswith(c * 2, i) else 1
        elif c in "=<>~":
            raise FilterSyntaxError(_no_field_msg(c), i)
        else:
            tok, i = _term_or_word(s, i)
            tokens.append(tok)
    return tokens


def _no_field_msg(op: str) -> str:
    return f"operator '{op}' needs a field before it, e.g. bytes>1M or tls.sni = example.com"


def _bare_end(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] not in _WORD_END:
        i += 1
    return i


def _term_or_word(s: str, start: int) -> tuple[Token, int]:
    m = _IDENT.match(s, start)
    if m is not None:
        j = m.end()
        k = j
        while k < len(s) and s[k] in " \t":
            k += 1
        op = next((o for o in _OPS if s.startswith(o, k)), None)
        if op == ":" and k != j:
            op = None  # "word :x": a colon must touch its keyword
        if op is not None:
            tok = _term(s, start, m.group(0), op, k)
            if tok is not None:
                return tok
    end = _bare_end(s, start)
    word = s[start:end]
    boolean = _BOOL_WORDS.get(word.lower())
    if boolean is not None:
        return Token(boolean, start), end
    return Token("word", start, word), end


def _term(s: str, start: int, ident: str, op: str, op_pos: int) -> tuple[Token, int] | None:
    """A term token, or None when ``ident:`` should be read as a plain word."""
    name = ident.lower()
    known = name in KEYWORD_INDEX or is_dotted_field(name)
    if not known:
        bare = s[start : _bare_end(s, start)]
        if op == ":" and (
            "." in ident
            or (bare[len(ident) + 1 :].isdigit() and not _close_keyword(name, 0.75))
            or (bare.count(":") >= 2 and _HEXCOLON.match(bare))
        ):
            # host.example:8080, localhost:631, fe80::1, a MAC: plain words. A typo of
            # a keyword ("prot:6") stays an error, with its hint.
            return None
        raise FilterSyntaxError(_unknown_msg(ident, op), start)
    p = op_pos + len(op)
    if op != ":":
        while p < len(s) and s[p] in " \t":
            p += 1
    if p >= len(s) or s[p] in _WORD_END:
        hint = " (no space after ':')" if op == ":" and p < len(s) and s[p].isspace() else ""
        raise FilterSyntaxError(f"missing value after '{ident}{op}'{hint}", p)
    op_norm = "=" if op == "==" else op
    if s[p] == '"':
        value, end = _quoted(s, p)
        return Token("term", start, name, op_norm, value, "quoted", p), end
    if s[p] == "/" and op in (":", "~", "!~"):
        found = _regex(s, p, path_ok=op == ":")
        if found is not None:
            return Token("term", start, name, op_norm, found[0], "regex", p + 1), found[1]
        # "process:/usr/bin/curl": text follows the second slash, so it is a path.
    end = _bare_end(s, p)
    return Token("term", start, name, op_norm, s[p:end], "bare", p), end


def _unknown_msg(ident: str, op: str) -> str:
    name = ident.lower()
    if "." in name:
        root = name.partition(".")[0]
        if root not in FIELD_ROOTS:
            roots = ", ".join(FIELD_ROOTS)
            return f"unknown field {ident!r}: dotted fields start with one of {roots}"
        return f"incomplete field {ident!r}"
    close = _close_keyword(name)
    hint = f" (did you mean '{close}{op}'?)" if close else ""
    return f"unknown keyword '{ident}'{hint}; to search for text with '{op}' in it, quote it"


def _close_keyword(name: str, cutoff: float = 0.6) -> str | None:
    close = difflib.get_close_matches(name, list(KEYWORD_INDEX), n=1, cutoff=cutoff)
    return close[0] if close else None


def _quoted(s: str, start: int) -> tuple[str, int]:
    """``"..."`` from ``start`` (the quote): (text, index after the closing quote)."""
    out: list[str] = []
    i, n = start + 1, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            out.append(s[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise FilterSyntaxError('unterminated quoted string (missing closing ")', start)


def _regex(s: str, start: int, *, path_ok: bool) -> tuple[str, int] | None:
    """``/.../`` from ``start`` (the slash): (pattern, index after the closing slash).

    Text right after the closing slash means the value was a path (``/usr/bin/curl``):
    None when ``path_ok``, else an error.
    """
    out: list[str] = []
    i, n = start + 1, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            out.append("/" if s[i + 1] == "/" else s[i : i + 2])
            i += 2
        elif c == "/":
            if i + 1 < n and s[i + 1] not in _WORD_END:
                if path_ok:
                    return None
                raise FilterSyntaxError(
                    "text right after a regex's closing '/': quote the value if it is a path",
                    i + 1,
                )
            if i == start + 1:
                raise FilterSyntaxError("empty regular expression '//'", start)
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise FilterSyntaxError("unterminated regular expression (missing closing '/')", start)
