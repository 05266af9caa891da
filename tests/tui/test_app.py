"""App wiring: the import boundary, themes, coalescing bursts, big tables updated in place."""

from __future__ import annotations

import subprocess
import sys

from netwatch.model.snapshot import ConnectionView
from netwatch.tui import TuiConfig
from netwatch.tui.fmt import human_rate
from tests.tui.canned import FakeMonitor, conn, snapshot
from tests.tui.helpers import run, running, until


def test_importing_the_tui_package_does_not_load_textual() -> None:
    """The CLI imports netwatch.tui for its config; Textual loads only with the app."""
    code = (
        "import sys, netwatch.tui\n"
        "from netwatch.tui import TuiConfig, load_config, StaticMonitor\n"
        "assert 'textual' not in sys.modules, 'textual loaded'\n"
        "import netwatch.model, netwatch.filters\n"
        "assert 'textual' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@run
async def test_light_theme_and_no_color() -> None:
    async with running(config=TuiConfig(theme="light", no_color=True)) as (app, _pilot, _mon):
        assert app.theme == "textual-light"
        assert app.no_color
    async with running() as (app, _pilot, _mon):
        assert app.theme == "textual-dark"
        assert not app.no_color


@run
async def test_bursts_are_coalesced_and_the_newest_wins() -> None:
    mon = FakeMonitor(snapshot())
    async with running(monitor=mon, config=TuiConfig(refresh_rate=2.0)) as (app, pilot, _):
        applied: list[int] = []
        original = app.main.apply_snapshot

        def spy(snap):  # type: ignore[no-untyped-def]
            applied.append(snap.seq)
            original(snap)

        app.main.apply_snapshot = spy  # type: ignore[method-assign]
        for seq in range(2, 60):
            mon.publish(snapshot(seq=seq))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 59)
        assert applied[-1] == 59
        assert len(applied) <= 5, applied  # 58 snapshots, at most a few frames
        assert applied == sorted(applied)


def _many(n: int, seq: int, bump: int = 0) -> list[ConnectionView]:
    return [
        conn(i, remote_addr=f"198.18.{i >> 8 & 255}.{i & 255}", rate_in=float((i * 7 + bump) % 997))
        for i in range(1, n + 1)
    ]


@run
async def test_ten_thousand_rows_are_updated_in_place() -> None:
    mon = FakeMonitor(snapshot(conns=_many(10_000, 1)))
    async with running(monitor=mon, config=TuiConfig(refresh_rate=50.0)) as (app, pilot, _):
        table = app.main.table
        await until(pilot, lambda: table.row_count == 10_000)
        kept = "9000"  # survives the next frame
        cell_before = table.get_cell(kept, "remote")
        await pilot.press("G")
        bottom_key = table.selected_key()
        # every rate changes, 500 rows go away, 300 arrive
        rows = _many(10_000, 2, bump=13)[500:] + [
            conn(20_000 + i, remote_addr="198.19.0.1") for i in range(300)
        ]
        mon.publish(snapshot(seq=2, conns=rows))
        await until(pilot, lambda: app.main.snapshot is not None and app.main.snapshot.seq == 2)
        assert table.row_count == 9_800
        assert len(set(table.order)) == 9_800
        assert "1" not in table.order and "20299" in table.order
        # the row's cell objects are reused (updated in place), the value is the new one
        assert table.get_cell(kept, "remote") is cell_before
        assert table.item(kept) is next(v for v in rows if v.id == 9000)
        assert table.selected_key() == bottom_key
        shown = [str(c) for c in table.get_column("down")][:5]
        expected = sorted((v.rate_in for v in rows), reverse=True)[:5]
        assert shown == [human_rate(r) for r in expected]


@run
async def test_keyed_table_sync_adds_removes_reorders_and_ignores_repeats() -> None:
    async with running() as (app, pilot, _mon):
        await pilot.press("space")  # keep the worker's frames out of this test
        table = app.main.table
        views = {v.id: v for v in snapshot().connections}
        table.sync(["1", "2", "1", "3"], [views[1], views[2], views[1], views[3]])
        assert table.order == ["1", "2", "3"] and table.row_count == 3
        table.sync(["3", "1"], [views[3], views[1]])
        await pilot.pause()
        assert table.order == ["3", "1"] and table.row_count == 2
        assert [str(c) for c in table.get_column("remote")] == [
            "198.18.0.3:51515",
            "github.com:https",
        ]
        assert table.get_row_index("1") == 1


@run
async def test_rows_hidden_by_the_filter_come_back_with_their_cells() -> None:
    async with running() as (app, pilot, _mon):
        table = app.main.table
        before = table.get_cell("1", "remote")
        await pilot.press("slash", *"ssh")
        assert table.order == ["3"]
        await pilot.press("backspace", "backspace", "backspace")
        assert table.row_count == 9
        assert table.get_cell("1", "remote") is before  # reused, not rebuilt
        assert str(before) == "github.com:https"
