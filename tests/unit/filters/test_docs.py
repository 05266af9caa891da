"""docs/filter-language.md shows the keyword table as it is, and its examples compile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netwatch.filters import KEYWORDS, compile, compile_record

DOC = Path(__file__).resolve().parents[3] / "docs" / "filter-language.md"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _rows() -> list[str]:
    rows = []
    for kw in KEYWORDS:
        names = f"`{kw.name}`" + (
            " (" + ", ".join(f"`{a}`" for a in kw.aliases) + ")" if kw.aliases else ""
        )
        kind = kw.kind
        if kind == "number" and kw.unit != "count":
            kind = f"number ({kw.unit})"
        example = kw.example.replace("|", "\\|")
        rows.append(f"| {names} | {kw.help} | {kind} | `{example}` |")
    return rows


def test_keyword_table_matches_the_code() -> None:
    m = re.search(r"<!-- keyword-table[^>]*-->\n(.*?)<!-- /keyword-table -->", _doc(), re.S)
    assert m is not None
    shown = m.group(1).strip().splitlines()[2:]  # after the header and its rule
    expected = _rows()
    assert shown == expected, "update the table in the doc to:\n" + "\n".join(expected)


def _examples() -> list[str]:
    blocks = re.findall(r"```filter\n(.*?)```", _doc(), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_there_are_examples() -> None:
    assert len(_examples()) > 40


@pytest.mark.parametrize("expr", _examples())
def test_example_compiles(expr: str) -> None:
    assert compile(expr).ast == compile_record(expr).ast


def test_error_table_messages_are_real() -> None:
    from netwatch.errors import FilterSyntaxError

    section = _doc().split("## Errors", 1)[1].split("##", 1)[0]
    rows = re.findall(r"^\| `(.+?)` \| `(.+?)`", section, re.M)
    assert len(rows) >= 6
    for expr, message in rows:
        with pytest.raises(FilterSyntaxError) as err:
            compile(expr.replace("\\|", "|"))
        assert message in str(err.value), expr
