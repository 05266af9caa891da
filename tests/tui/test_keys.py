"""Every key of the TUI, driven with Textual's Pilot on canned snapshots."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from netwatch.tui import TuiConfig
from netwatch.tui.views.modals import ConfirmScreen, HelpScreen
from netwatch.tui.widgets.details import DetailsTree, DetailsView
from tests.tui.canned import FakeMonitor, scaled, snapshot
from tests.tui.helpers import column_texts, keys_in_order, run, running, status_text, until


@run
async def test_rows_sorted_by_download_descending_first() -> None:
    async with running() as (app, _pilot, _mon):
        assert app.main.table.row_count == 9
        # rate_in = 1000*i except the two idle stale rows: highest first
        assert keys_in_order(app)[:7] == ["7", "6", "5", "4", "3", "2", "1"]
        labels = [str(c.label) for c in app.main.table.columns.values()]
        assert "Down ▼" in labels


@run
async def test_q_asks_and_n_cancels_then_q_q_quits() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is app.main
        await pilot.press("q")
        await pilot.press("q")
        await pilot.pause()
        assert app.return_value == 0


@run
async def test_ctrl_c_quits_at_once() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_value == 0


@run
async def test_tab_shift_tab_and_numbers_switch_screens() -> None:
    async with running() as (app, pilot, _mon):
        main = app.main
        assert main.active == "overview"
        await pilot.press("tab")
        assert main.active == "details"
        await pilot.press("tab")
        assert main.active == "processes"
        await pilot.press("tab")
        assert main.active == "graphs"
        await pilot.press("tab")
        assert main.active == "overview"
        await pilot.press("shift+tab")
        assert main.active == "graphs"
        for key, name in (("1", "overview"), ("2", "details"), ("3", "processes"), ("4", "graphs")):
            await pilot.press(key)
            assert main.active == name
        await pilot.press("escape")
        assert main.active == "overview"


@run
async def test_arrows_jk_g_G_and_pages_move_the_cursor() -> None:
    async with running(size=(140, 14)) as (app, pilot, _mon):
        table = app.main.table
        assert table.cursor_row == 0
        await pilot.press("down")
        assert table.cursor_row == 1
        await pilot.press("j", "j")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("up")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 8
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 1
        await pilot.press("pageup")
        assert table.cursor_row == 0


@run
async def test_cursor_stays_on_its_connection_when_the_order_changes() -> None:
    async with running() as (app, pilot, mon):
        table = app.main.table
        await pilot.press("down", "down")
        key = table.selected_key()
        assert key == "5"
        # the next frame reverses the rates: the row moves, the cursor follows it
        snap = snapshot(seq=2)
        flipped = tuple(replace(c, rate_in=1e6 - c.rate_in) for c in snap.connections)
        mon.publish(replace(snap, connections=flipped))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        assert table.selected_key() == "5"
        assert keys_in_order(app).index("5") == table.cursor_row


@run
async def test_enter_opens_details_with_every_app_field_and_esc_returns() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("G")  # last rows are idle; go to github.com (id 1) instead
        await pilot.press("g")
        while app.main.table.selected_key() != "1":
            await pilot.press("down")
        await pilot.press("enter")
        assert app.main.active == "details"
        tree = app.main.query_one("#details DetailsTree", DetailsTree)
        labels = []

        def walk(node):  # type: ignore[no-untyped-def]
            for child in node.children:
                labels.append(str(child.label))
                walk(child)

        walk(tree.root)
        text = "\n".join(labels)
        for expected in (
            "sni: github.com",
            "version: TLS 1.3",
            "alpn: h2, http/1.1",
            "subject: CN=github.com",
            "san: github.com, www.github.com",
            "ja4: t13d1516h2_8daaf6152771_02713d6af862",
            "name: github.com",
            "name source: tls-sni",
            "pid: 4242",
            "1800: gnome-shell",
            "retransmits: 0",
            "country: US",
            "as_org: GitHub",
            "bytes in: 5000",
        ):
            assert expected in text, expected
        await pilot.press("escape")
        assert app.main.active == "overview"


@run
async def test_c_copies_remote_address_via_osc52_without_a_clipboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    async with running() as (app, pilot, _mon):
        written: list[str] = []
        app.osc52_writer = written.append
        await pilot.press("c")
        assert written == ["\x1b]52;c;" + base64.b64encode(b"198.18.0.7").decode() + "\x07"]
        assert "OSC 52" in status_text(app)


@run
async def test_c_in_details_copies_the_selected_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    async with running() as (app, pilot, _mon):
        written: list[str] = []
        app.osc52_writer = written.append
        await pilot.press("enter")  # details of 198.18.0.7 (id 7)
        tree = app.main.query_one("#details DetailsTree", DetailsTree)
        tree.focus()
        await pilot.press("down")  # first leaf under "Connection": id
        await pilot.press("c")
        assert written, "nothing copied"
        copied = base64.b64decode(written[-1][len("\x1b]52;c;") : -1]).decode()
        assert copied == tree.selected_value()
        assert copied == "7"


@run
async def test_p_toggles_service_names_and_ports() -> None:
    async with running() as (app, pilot, _mon):
        assert "198.18.0.6:http" in column_texts(app, "remote")
        await pilot.press("p")
        assert "198.18.0.6:80" in column_texts(app, "remote")
        await pilot.press("p")
        assert "198.18.0.6:http" in column_texts(app, "remote")


@run
async def test_d_toggles_hostnames_and_ips() -> None:
    async with running() as (app, pilot, _mon):
        assert "github.com:https" in column_texts(app, "remote")
        await pilot.press("d")
        remote = column_texts(app, "remote")
        assert "198.18.0.1:https" in remote
        assert "[2001:db8::2]:https" in remote
        await pilot.press("d")
        assert "github.com:https" in column_texts(app, "remote")


@run
async def test_s_cycles_columns_and_S_reverses_with_indicator() -> None:
    async with running() as (app, pilot, _mon):
        main = app.main

        def labels() -> list[str]:
            return [str(c.label) for c in main.table.columns.values()]

        assert "Down ▼" in labels()
        await pilot.press("s")  # next column after Down: Up, numeric, descending first
        assert main.state.sort == "up" and main.state.descending
        assert "Up ▼" in labels() and "Down" in labels()
        await pilot.press("s")
        assert main.state.sort == "rtt"
        await pilot.press("s")
        assert main.state.sort == "geo" and not main.state.descending  # Location: text
        await pilot.press("s")  # wraps to the first column: Process, text ascending
        assert main.state.sort == "process" and not main.state.descending
        assert any(lbl.startswith("Process ▲") for lbl in labels())
        procs = column_texts(app, "process")
        assert procs[0] == "chrome (8100)" and procs[-1] == "-"
        await pilot.press("S")
        assert main.state.descending
        # descending: the unattributed row (sorted after every name) comes first
        assert column_texts(app, "process")[:2] == ["-", "systemd-resolve (612)"]


@run
async def test_a_groups_by_process() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("a")
        procs = column_texts(app, "process")
        names = [p for p in procs if not p.strip().startswith("└")]
        # each process appears once; its other rows are marked as continuations
        assert len(names) == len(set(names)) == 6
        assert procs.count("  └") == 3  # firefox has four connections
        await pilot.press("a")
        assert "  └" not in column_texts(app, "process")


@run
async def test_t_shows_closed_dimmed_and_x_clears_after_asking() -> None:
    async with running() as (app, pilot, mon):
        assert "100" not in keys_in_order(app)
        await pilot.press("t")
        assert "100" in keys_in_order(app)
        cell = app.main.table.get_cell("100", "state")
        assert cell.style == "closed"
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert mon.clear_calls == 0
        await pilot.press("x")
        await pilot.press("y")
        assert mon.clear_calls == 1
        await until(pilot, lambda: "100" not in keys_in_order(app))


@run
async def test_space_pauses_the_display_and_resumes_with_the_newest() -> None:
    async with running() as (app, pilot, mon):
        await pilot.press("space")
        assert app.main.paused and mon.paused_calls == [True]
        mon.publish(scaled(snapshot(), 5, 2.0))
        await until(pilot, lambda: app.main.pending is not None)
        assert app.main.snapshot is not None and app.main.snapshot.seq == 1
        assert "PAUSED" in status_text(app)
        await pilot.press("space")
        assert mon.paused_calls == [True, False]
        assert app.main.snapshot.seq == 5
        assert "14K/s" in column_texts(app, "down")  # 7000 B/s doubled


@run
async def test_r_resets_filter_sort_and_toggles() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("slash", *"ssh", "escape", "s", "p", "a", "t")
        assert app.main.table.row_count == 1
        await pilot.press("r")
        main = app.main
        assert main.filter.text == ""
        assert main.state.sort == "down" and main.state.descending
        assert not main.state.group_by_process and not main.state.show_closed
        assert main.state.toggles.port_names
        assert app.main.table.row_count == 9


@run
async def test_h_opens_help_listing_every_binding() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("h")
        assert isinstance(app.screen, HelpScreen)
        from netwatch.tui.keys import KEYMAP

        described = {text for _, text in app.screen.rows}
        assert all(spec.description in described for spec in KEYMAP)
        assert app.screen.keywords, "the filter keywords are listed"
        await pilot.press("escape")
        assert app.screen is app.main


@run
async def test_split_pane_on_wide_terminals_follows_the_cursor() -> None:
    async with running(size=(200, 40)) as (app, pilot, _mon):
        side = app.main.query_one("#side-details", DetailsView)
        assert side.display and app.main.has_class("split")
        assert side._conn_id == 7
        await pilot.press("down")
        assert side._conn_id == 6
    async with running(size=(100, 30)) as (app, _pilot, _mon):
        assert not app.main.has_class("split")


@run
async def test_mouse_click_selects_double_click_opens_and_header_sorts() -> None:
    async with running() as (app, pilot, _mon):
        table = app.main.table
        # header row is y=0 inside the table; the Remote column starts after Process/Proto/Local
        await pilot.click("#conn-table", offset=(2, 3))
        assert table.cursor_row == 2
        await pilot.click("#conn-table", offset=(2, 3))  # a second click on the row: details
        assert app.main.active == "details"
        await pilot.press("1")
        await pilot.click("#conn-table", offset=(2, 0))  # the Process header
        assert app.main.state.sort == "process" and not app.main.state.descending
        await pilot.click("#conn-table", offset=(2, 0))
        assert app.main.state.descending


@run
async def test_processes_screen_aggregates_and_sorts() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("3")
        pt = app.main.query_one("#proc-table")
        names = [str(c) for c in pt.get_column("name")]
        assert names[0] == "(unattributed)"  # 7000 B/s down + 700 up, the busiest
        conns = dict(zip(names, [str(c) for c in pt.get_column("conns")], strict=True))
        assert conns["firefox"] == "4"
        await pilot.press("s")  # next column after Rate: Recv
        assert app.main.query_one("ProcessesView").sort == "bytes_in"
        await pilot.press("S")
        assert not app.main.query_one("ProcessesView").descending


@run
async def test_graphs_screen_shows_history_and_distributions() -> None:
    async with running() as (app, pilot, mon):
        mon.publish(scaled(snapshot(), 2, 2.0))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        await pilot.press("4")
        assert list(app.main.history.total_in)[-2:] == [28000.0, 56000.0]
        chart = str(app.main.query_one("#chart-proto").render())
        assert "TLS" in chart and "QUIC" in chart and "DNS" in chart


@run
async def test_staleness_colours_yellow_and_red() -> None:
    async with running() as (app, _pilot, _mon):
        table = app.main.table
        assert table.get_cell("8", "state").style == "stale-warn"
        assert table.get_cell("9", "state").style == "stale-crit"
        assert table.get_cell("1", "state").style == ""
        rich = table.get_cell("9", "state").__rich__()
        assert str(rich.style) == "red"


@run
async def test_tiny_terminal_and_resizes_never_crash() -> None:
    async with running(size=(40, 10)) as (app, pilot, _mon):
        cols = [c.key.value for c in app.main.table.columns.values()]
        assert "remote" in cols and "down" in cols and "proto" in cols
        assert "service" not in cols
        for size in ((20, 5), (200, 50), (41, 11), (1, 1), (120, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert app.main.table.row_count == 9


@run
async def test_capture_error_shows_in_the_status_bar() -> None:
    async with running() as (app, pilot, mon):
        mon.fail(OSError("enp0s3: interface went down"))
        await until(pilot, lambda: app.main.error is not None)
        await pilot.pause()
        assert "interface went down" in status_text(app)


@run
async def test_initial_filter_and_sort_from_config() -> None:
    config = TuiConfig(filter="firefox", sort="remote")
    async with running(config=config) as (app, _pilot, _mon):
        assert app.main.table.row_count == 4
        assert app.main.state.sort == "remote" and not app.main.state.descending
        assert column_texts(app, "remote")[0].startswith("198.18.0.8")


@run
async def test_key_overrides_from_config() -> None:
    async with running(config=TuiConfig(keys={"copy": "y", "toggle_ports": "P"})) as (
        app,
        pilot,
        _mon,
    ):
        written: list[str] = []
        app.osc52_writer = written.append
        await pilot.press("P")
        assert "198.18.0.6:80" in column_texts(app, "remote")


@run
async def test_no_snapshot_yet_is_a_calm_screen() -> None:
    async with running(monitor=FakeMonitor()) as (app, pilot, mon):
        assert app.main.table.row_count == 0
        await pilot.press("enter", "c", "s", "3", "4", "2", "1")
        mon.publish(snapshot())
        await until(pilot, lambda: app.main.table.row_count == 9)


@run
async def test_end_of_capture_is_announced() -> None:
    async with running() as (app, pilot, mon):
        assert "end of capture" not in status_text(app)
        mon.publish(replace(snapshot(seq=2), finished=True))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        assert "end of capture" in status_text(app)


@run
async def test_details_keep_the_last_known_state_of_a_connection_that_left() -> None:
    async with running() as (app, pilot, mon):
        await pilot.press("enter")  # details of id 7
        rows = [c for c in snapshot().connections if c.id != 7]
        mon.publish(snapshot(seq=2, conns=rows))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        title = str(app.main.query_one("#details #details-title").render())
        assert "198.18.0.7" in title and "no longer tracked" in title


@run
async def test_details_update_in_place_keeping_the_tree_cursor() -> None:
    async with running() as (app, pilot, mon):
        await pilot.press("enter")  # id 7: rate in 7000 B/s
        tree = app.main.query_one("#details DetailsTree", DetailsTree)
        tree.focus()
        await pilot.press("down", "down", "down")
        line = tree.cursor_line
        first_leaf = tree.root.children[0].children[0]
        mon.publish(scaled(snapshot(), 2, 3.0))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        labels = [str(n.label) for n in tree.root.children[-1].children]  # Counters
        assert "rate in: 21K/s" in labels
        assert tree.cursor_line == line
        assert tree.root.children[0].children[0] is first_leaf  # relabelled, not rebuilt
