"""The parser: tree shapes, precedence, every token form, and error messages/positions."""

from __future__ import annotations

import pytest

from netwatch.errors import FilterSyntaxError, UsageError
from netwatch.filters import MATCH_ALL, And, Not, Or, Regex, Term, Word, compile, parse


def test_empty_and_blank_match_all() -> None:
    assert parse("") == MATCH_ALL
    assert parse("  \t ") == MATCH_ALL
    assert compile("").matches_all
    assert not compile("x").matches_all


def test_juxtaposition_is_and() -> None:
    assert parse("a b c") == And((Word("a"), Word("b"), Word("c")))
    assert parse("a and b AND c") == parse("a b c")
    assert parse("a && b & c") == parse("a b c")


@pytest.mark.parametrize(
    ("expr", "tree"),
    [
        ("a or b c", Or((Word("a"), And((Word("b"), Word("c")))))),
        ("a b or c", Or((And((Word("a"), Word("b"))), Word("c")))),
        ("a or b or c", Or((Word("a"), Word("b"), Word("c")))),
        ("(a or b) c", And((Or((Word("a"), Word("b"))), Word("c")))),
        ("not a b", And((Not(Word("a")), Word("b")))),
        ("-a or b", Or((Not(Word("a")), Word("b")))),
        ("!(a or b)", Not(Or((Word("a"), Word("b"))))),
        ("a || b | c", Or((Word("a"), Word("b"), Word("c")))),
        ("NOT a OR b", Or((Not(Word("a")), Word("b")))),
        ("((a))", Word("a")),
    ],
)
def test_precedence(expr: str, tree: object) -> None:
    assert parse(expr) == tree


def test_positions_point_into_the_expression() -> None:
    tree = parse("foo  port:443 -bar")
    assert isinstance(tree, And)
    word, term, neg = tree.operands
    assert isinstance(word, Word) and word.position == 0
    assert isinstance(term, Term) and (term.position, term.value_position) == (5, 10)
    assert isinstance(neg, Not) and neg.position == 14
    assert isinstance(neg.operand, Word) and neg.operand.position == 15


@pytest.mark.parametrize(
    ("expr", "tree"),
    [
        ("port:443", Term("port", ":", "443")),
        ("PORT:443", Term("port", ":", "443")),
        ("bytes>1M", Term("bytes", ">", "1M")),
        ("bytes > 1M", Term("bytes", ">", "1M")),
        ("rtt<=100", Term("rtt", "<=", "100")),
        ("tls.ja3 = abc", Term("tls.ja3", "=", "abc")),
        ("tls.ja3 == abc", Term("tls.ja3", "=", "abc")),
        ("tls.sni != x", Term("tls.sni", "!=", "x")),
        ("dns.qname ~ /.*\\.example$/", Term("dns.qname", "~", Regex(".*\\.example$"))),
        ("dns.qname ~ example", Term("dns.qname", "~", Regex("example"))),
        ("sni!~/x/", Term("sni", "!~", Regex("x"))),
        ("sni:/git(hub|lab)/", Term("sni", "~", Regex("git(hub|lab)"))),
        ("sni:/a b/", Term("sni", "~", Regex("a b"))),
        ("sni:/a\\/b/", Term("sni", "~", Regex("a/b"))),
        ('process:"my app"', Term("process", ":", "my app")),
        ('process:"say \\"hi\\""', Term("process", ":", 'say "hi"')),
        ("process:/usr/bin/curl", Term("process", ":", "/usr/bin/curl")),
        ("dst:10.0.0.0/8", Term("dst", ":", "10.0.0.0/8")),
        ("src:fe80::1", Term("src", ":", "fe80::1")),
        ("port:8000-8100", Term("port", ":", "8000-8100")),
        ("sni:*", Term("sni", ":", "*")),
        ("http.path = /index.html", Term("http.path", "=", "/index.html")),
    ],
)
def test_terms(expr: str, tree: object) -> None:
    assert parse(expr) == tree


@pytest.mark.parametrize(
    ("expr", "tree"),
    [
        ('"a b"', Word("a b")),
        ('"or"', Word("or")),  # quoting makes an operator a word
        ("/git(hub|lab)/", Regex("git(hub|lab)")),
        ("/usr/bin/curl", Word("/usr/bin/curl")),
        ("fe80::1", Word("fe80::1")),  # IPv6: not "keyword fe80"
        ("::1", Word("::1")),
        (":443", Word(":443")),
        ("aa:bb:cc:dd:ee:ff", Word("aa:bb:cc:dd:ee:ff")),
        ("github.com:443", Word("github.com:443")),
        ("localhost:631", Word("localhost:631")),
        ("10.0.0.1:53", Word("10.0.0.1:53")),
        ("foo-bar", Word("foo-bar")),
        ("a:b:c::1", Word("a:b:c::1")),
        ("UPPER", Word("UPPER")),
    ],
)
def test_words(expr: str, tree: object) -> None:
    assert parse(expr) == tree


# (expression, position of the error, a fragment of the message)
ERRORS = [
    ("(a", 0, "never closed"),
    ("a (b or (c)", 2, "never closed"),
    ("a)", 1, "unmatched ')'"),
    (")", 0, "unmatched ')'"),
    ("()", 0, "empty parentheses"),
    ("or a", 0, "needs a term before"),
    ("a or", 4, "needs a term after"),
    ("a or )", 5, "needs a term after"),
    ("a and", 5, "needs a term after"),
    ("not", 3, "'not' needs a term"),
    ("a !", 3, "'not' needs a term"),
    ("a - b", 2, "-term"),
    ("a -", 2, "-term"),
    ('"abc', 0, "unterminated quoted"),
    ('x "abc', 2, "unterminated quoted"),
    ("/abc", 0, "unterminated regular"),
    ("sni:/abc", 4, "unterminated regular"),
    ("//", 0, "empty regular"),
    ("/a(/", 2, "bad regular expression"),  # re points at the unclosed group
    ("sni:/a(b/", 6, "bad regular expression"),
    ("sni~/x/y", 7, "quote the value"),
    ("sni:", 4, "missing value"),
    ("sni: github", 4, "no space after ':'"),
    ("bytes >", 7, "missing value"),
    ("port:(443)", 5, "missing value"),
    ("= x", 0, "needs a field"),
    ("!= x", 0, "needs a field"),
    ("> 5", 0, "needs a field"),
    ("prot:tcp", 0, "did you mean 'proto:'"),
    ("snii:x", 0, "did you mean 'sni:'"),
    ("prot:6", 0, "did you mean 'proto:'"),  # not a word like localhost:631
    ("http://example.com", 0, "quote it"),
    ("foo = bar", 0, "unknown keyword 'foo'"),
    ("www.example.com = x", 0, "dotted fields start with"),
    ("port:abc", 5, "expected a number"),
    ("port:70000", 5, "not a port"),
    ("port:1.5", 5, "not a port"),
    ("port>99999", 5, "not a port"),
    ("port:9000-8000", 5, "empty range"),
    ("port:80-x", 8, "expected a number"),
    ("bytes>1X", 6, "unknown unit"),
    ("rtt>1h", 4, "unknown unit"),
    ("sni>5", 0, "compares numbers"),
    ("proto<3", 0, "compares numbers"),
    ("dst>1", 0, "compares numbers"),
    ("bytes~/1/", 7, "is a number"),
    ("port!~/1/", 7, "is a number"),
    ("bytes~x", 6, "is a number"),
    ("dst:10.0.0.0/33", 4, "bad network"),
    ("dst:300.1.1.1/8", 4, "bad network"),
    ("process.nope = 1", 0, "process fields"),
    ("tls.sni > abc", 10, "expected a number"),
    ("a" + "(" * 100 + "b" + ")" * 100, 66, "nested too deeply"),
    ("sni:/" + "a" * 300 + "/", 5, "longer than"),
    ("x" * 9000, 8192, "longer than"),
]


@pytest.mark.parametrize(("expr", "pos", "fragment"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_errors(expr: str, pos: int, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as err:
        compile(expr)
    assert fragment in str(err.value)
    assert err.value.position == pos
    assert 0 <= err.value.position <= len(expr)
    assert isinstance(err.value, UsageError)  # the CLI prints it as one line


def test_record_compile_reports_the_same_errors() -> None:
    from netwatch.filters import compile_record

    for expr, pos, fragment in ERRORS:
        with pytest.raises(FilterSyntaxError) as err:
            compile_record(expr)
        assert fragment in str(err.value) and err.value.position == pos


def test_not_text_is_an_error() -> None:
    with pytest.raises(FilterSyntaxError):
        compile(b"port:443")  # type: ignore[arg-type]


def test_nested_within_limit_is_fine() -> None:
    assert parse("(" * 60 + "a" + ")" * 60) == Word("a")
    assert parse("not " * 60 + "a") is not None


@pytest.mark.parametrize("joiner", [" or ", " ", " and -"])
def test_long_flat_expressions_evaluate(joiner: str) -> None:
    import sys

    from .samples import ALL

    expr = joiner.join(f"zq{i}" for i in range(700))
    assert len(expr) < 8192
    f = compile(expr)
    g = compile(expr + " or github")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # far below 700 nested calls: the chain must be a loop
    try:
        assert [f(v) for v in ALL] == [False] * len(ALL)
        assert [g(v) for v in ALL].count(True) == 1
    finally:
        sys.setrecursionlimit(limit)


def test_quoted_empty_regex_is_an_error() -> None:
    with pytest.raises(FilterSyntaxError) as err:
        compile('sni~""')
    assert "empty regular expression" in str(err.value) and err.value.position == 4
