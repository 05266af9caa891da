"""The filter box: narrowing as you type, every keyword form, errors as hints, Esc."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input

import netwatch.filters as language
from netwatch.tui import filtering, rowmodel
from tests.tui.canned import closed, connections
from tests.tui.helpers import keys_in_order, run, running, status_text

# Forms that select something in the canned rows, with the ids they must leave.
FORMS: list[tuple[str, set[int]]] = [
    ("github", {1, 4}),  # a plain word searches every column (DNS query too)
    ("port:80", {6}),
    ("dport>=1024", {3, 7}),
    ("sport:22", {3}),
    ("proto:udp", {4, 5}),
    ("proto:quic", {5}),
    ("process:firefox", {1, 2, 8, 9}),
    ("pid:777", {3}),
    ("user=alice", {1, 2, 5, 8, 9}),
    ("sni:github.com", {1}),
    ("app:dns", {4}),
    ("state:close", {9}),
    ("rtt>10", {1}),
    ("dst:198.18.0.0/30", {1, 2, 3} - {2}),  # .1-.3 (row 2 is IPv6)
    ("ip:2001:db8::/32", {2}),
    ("country=US", {1}),
    ("process:firefox and not app:tls", {2}),
    ("proto:udp or port:80", {4, 5, 6}),
    ("(process:firefox or process:chrome) and rate_in>4k", {5}),
    ("sni:/git(hub|lab)/", {1}),
    ("hassh:ec7378c1", {3}),
]


@pytest.mark.parametrize(("expr", "ids"), FORMS)
def test_forms_select_the_expected_rows_directly(expr: str, ids: set[int]) -> None:
    compiled = filtering.compile_filter(expr)
    assert compiled.error is None, compiled.hint
    shown = rowmodel.filter_rows(connections(), compiled.predicate)
    assert {v.id for v in shown} == ids


@run
async def test_every_form_through_the_filter_box() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash")
        box = app.main.query_one("#filter", Input)
        assert app.focused is box
        for expr, ids in FORMS:
            box.value = expr
            await pilot.pause()
            assert {int(k) for k in keys_in_order(app)} == ids, expr
            assert "invalid" not in box.classes


@run
async def test_every_keyword_example_is_accepted_without_a_hint() -> None:
    """Each documented keyword example compiles and filters the same as the predicate."""
    rows = connections()
    async with running() as (app, pilot, _mon):
        await pilot.press("slash")
        box = app.main.query_one("#filter", Input)
        for _names, _help, example in language.keyword_help():
            box.value = example
            await pilot.pause()
            assert app.main.filter.error is None, example
            expected = [v.id for v in rows if language.compile(example)(v)]
            assert sorted(int(k) for k in keys_in_order(app)) == sorted(expected), example


@run
async def test_the_table_narrows_as_you_type() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash")
        counts = []
        for ch in "firefox":
            await pilot.press(ch)
            counts.append(app.main.table.row_count)
        assert counts == sorted(counts, reverse=True)  # each keystroke narrows (or keeps)
        assert counts[0] < 9 and counts[-1] == 4
        assert "filter: firefox" in status_text(app)


@run
async def test_invalid_syntax_is_a_hint_and_the_last_good_filter_stays() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash", *"port:80")
        assert keys_in_order(app) == ["6"]
        box = app.main.query_one("#filter", Input)
        box.value = "port:80 and ("
        await pilot.pause()
        assert "invalid" in box.classes
        assert app.main.filter.error is not None
        assert app.main.filter.position is not None
        assert "filter at" in status_text(app)
        assert keys_in_order(app) == ["6"], "the table keeps the last good filter"
        await pilot.press("end", *["backspace"] * 6)
        assert box.value == "port:80"
        assert "invalid" not in box.classes
        assert keys_in_order(app) == ["6"]


@run
async def test_bad_port_value_points_at_the_value() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash")
        app.main.query_one("#filter", Input).value = "port:99999"
        await pilot.pause()
        assert app.main.filter.position == 5
        assert "filter at 6" in status_text(app)


@run
async def test_arrows_still_move_the_table_while_typing() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash", *"firefox")
        table = app.main.table
        assert table.cursor_row == 0
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        await pilot.press("up")
        assert table.cursor_row == 1
        assert isinstance(app.focused, Input)
        await pilot.press("x")  # still typing: x goes into the box, not the clear-closed key
        assert app.main.query_one("#filter", Input).value == "firefoxx"


@run
async def test_esc_leaves_the_box_keeping_the_filter_then_clears_it() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash", *"ssh", "escape")
        assert app.focused is app.main.table
        assert keys_in_order(app) == ["3"]
        await pilot.press("escape")
        assert app.main.table.row_count == 9
        assert app.main.filter.text == ""


@run
async def test_enter_in_the_box_returns_to_the_table() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash", *"dns", "enter")
        assert app.focused is app.main.table
        assert keys_in_order(app) == ["4"]


@run
async def test_filter_applies_to_closed_rows_too() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("t", "slash", *"old")
        assert keys_in_order(app) == ["100"]
        assert closed()[0].app_summary == "GET /old"


def test_substring_fallback_when_the_language_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filtering, "_language", lambda: None)
    compiled = filtering.compile_filter("FIREFOX 4242")
    assert compiled.error is None
    assert {v.id for v in rowmodel.filter_rows(connections(), compiled.predicate)} == {1, 2, 8, 9}


def test_a_predicate_that_raises_hides_the_row_instead_of_crashing() -> None:
    def picky(v: Any) -> bool:
        if v.id == 3:
            raise KeyError("no such field")
        return True

    assert [v.id for v in rowmodel.filter_rows(connections(), picky)] == [1, 2, 4, 5, 6, 7, 8, 9]
