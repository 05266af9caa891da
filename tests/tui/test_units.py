"""The TUI's pure parts: config loading, column fitting, formatting, monitor, clipboard."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import UsageError
from netwatch.tui import StaticMonitor, TuiConfig, fmt, load_config, rowmodel
from netwatch.tui import columns as cols
from netwatch.tui.clipboard import copy_text, osc52_sequence
from netwatch.tui.config import config_path
from netwatch.tui.details_data import Node, connection_tree, generic
from netwatch.tui.stats import History, by_process, totals
from tests.tui.canned import closed, conn, connections, snapshot

# ---- config -----------------------------------------------------------------------------


def test_config_path_follows_xdg(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "netwatch/config.toml"
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.config/netwatch/config.toml")


def test_file_values_then_cli_values_win(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[tui]\n"
        'filter = "proto:tcp"\n'
        'sort = "-rtt"\n'
        'columns = ["remote", "down"]\n'
        "group_by_process = true\n"
        'theme = "light"\n'
        "refresh_rate = 2\n"
        "no_color = true\n"
        "[tui.keys]\n"
        'copy = "y"\n'
    )
    cfg = load_config(path=path)
    assert cfg == TuiConfig(
        filter="proto:tcp",
        sort="-rtt",
        columns=("remote", "down"),
        group_by_process=True,
        theme="light",
        refresh_rate=2.0,
        keys={"copy": "y"},
        no_color=True,
    )
    assert cfg.min_interval == 0.5
    cli = load_config(cli={"filter": "port:22", "sort": None, "theme": "dark"}, path=path)
    assert cli.filter == "port:22" and cli.sort == "-rtt" and cli.theme == "dark"


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(path=tmp_path / "absent.toml") == TuiConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tui]\nfilter = 3\n", "wrong type"),
        ("[tui]\nrefresh_rate = true\n", "wrong type"),
        ("[tui]\ncolour = 'x'\n", "unknown [tui] key"),
        ("[tui]\ntheme = 'blue'\n", "theme must be one of"),
        ("[tui]\nrefresh_rate = 1000\n", "refresh_rate"),
        ("[tui\n", "config.toml"),
        ("tui = 3\n", "must be a table"),
    ],
)
def test_bad_config_is_a_usage_error_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        load_config(path=path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tui]\ncolumns = ['remote', 'bogus']\n", "unknown column 'bogus'"),
        ("[tui]\nsort = '-speed'\n", "unknown sort column 'speed'"),
        ("[tui.keys]\nteleport = 'x'\n", "unknown key action 'teleport'"),
    ],
)
def test_unknown_names_are_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(path=path)


def test_view_actions_can_be_rebound(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[tui.keys]\n\"view('graphs')\" = 'G'\ncopy = 'y'\n")
    assert load_config(path=path).keys == {"view('graphs')": "G", "copy": "y"}


def test_unknown_cli_option_is_refused() -> None:
    with pytest.raises(UsageError):
        load_config(cli={"colour": "red"}, path=Path("/nonexistent/config.toml"))


# ---- columns ----------------------------------------------------------------------------


def test_wide_terminal_shows_every_column_and_grows_the_text_ones() -> None:
    fitted = cols.fit_columns(200, with_geo=True)
    assert [c.key for c, _ in fitted] == [c.key for c in cols.COLUMNS]
    widths = {c.key: w for c, w in fitted}
    assert sum(w + 2 for w in widths.values()) == 200
    assert widths["remote"] > cols.BY_KEY["remote"].width
    assert widths["down"] == cols.BY_KEY["down"].width


def test_narrow_terminal_keeps_the_most_important_columns_in_order() -> None:
    keys = [c.key for c, _ in cols.fit_columns(40)]
    assert keys == ["proto", "remote", "down"]
    keys80 = [c.key for c, _ in cols.fit_columns(80)]
    assert keys80[:2] == ["process", "proto"] and "geo" not in keys80
    assert "service" not in keys80  # the first to go after location


def test_offered_columns_limit_the_table() -> None:
    keys = [c.key for c, _ in cols.fit_columns(200, offered=("remote", "app", "down"))]
    assert keys == ["remote", "app", "down"]


@settings(max_examples=200, deadline=None)
@given(width=st.integers(min_value=0, max_value=400), geo=st.booleans())
def test_fit_never_overflows_once_the_essentials_fit(width: int, geo: bool) -> None:
    fitted = cols.fit_columns(width, with_geo=geo)
    essentials = [c for c in cols.COLUMNS if c.priority == 1]
    assert {c.key for c in essentials} <= {c.key for c, _ in fitted}
    total = sum(w + 2 for _, w in fitted)
    if width >= sum(4 + 2 for _ in essentials) + 8:
        assert total <= width
    assert all(w >= 4 for _, w in fitted)


# ---- formatting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1.0K"), (1536, "1.5K"), (10 * 1024, "10K"),
     (5 * 1024**2, "5.0M"), (3 * 1024**4, "3.0T"), (2000 * 1024**4, "2000T")],
)  # fmt: skip
def test_human_bytes(n: int, text: str) -> None:
    assert fmt.human_bytes(n) == text


def test_rates_counts_and_rtt() -> None:
    assert fmt.human_rate(0) == "" and fmt.human_rate(2048) == "2.0K/s"
    assert fmt.human_count(9999) == "9999" and fmt.human_count(1_234_567) == "1.2M"
    assert fmt.fmt_rtt(None) == ""
    assert fmt.fmt_rtt(0.84) == "0.8ms" and fmt.fmt_rtt(123.4) == "123ms"


def test_endpoints_ports_and_names() -> None:
    assert fmt.endpoint("2001:db8::1", 443, "tcp", True) == "[2001:db8::1]:https"
    assert fmt.endpoint("2001:db8::1", 443, "tcp", False) == "[2001:db8::1]:443"
    assert fmt.endpoint("198.18.0.1", 5353, "udp", True) == "198.18.0.1:mdns"
    assert fmt.endpoint("198.18.0.1", 40000, "tcp", True) == "198.18.0.1:40000"
    assert fmt.endpoint("198.18.0.1", 0, "icmp", True) == "198.18.0.1"
    assert fmt.port_name("quic", 443) == "https"
    v = connections()[1]  # IPv6 with a DNS name
    assert fmt.remote_text(v, True, True) == "www.example.com:https"
    assert fmt.remote_text(v, False, False) == "[2001:db8::2]:443"
    assert fmt.process_text(connections()[6]) == "-"
    assert fmt.geo_text(connections()[0]) == "US/San Francisco GitHub"


def test_sort_parsing_and_directions() -> None:
    assert rowmodel.parse_sort("-rtt") == ("rtt", True)
    assert rowmodel.parse_sort("+down") == ("down", False)
    assert rowmodel.parse_sort("remote") == ("remote", False)
    assert rowmodel.parse_sort("down") == ("down", True)
    assert rowmodel.parse_sort("nonsense") == ("down", True)


def test_sort_is_stable_by_id_and_groups_keep_the_column_order() -> None:
    rows = connections()
    state = rowmodel.ViewState(sort="state", descending=False)
    ordered = rowmodel.sort_rows(rows, state)
    estab = [v.id for v in ordered if v.state == "ESTABLISHED"]
    assert estab == sorted(estab)
    grouped = rowmodel.sort_rows(rows, rowmodel.ViewState(group_by_process=True))
    firefox = [v.id for v in grouped if v.process and v.process.name == "firefox"]
    assert firefox == [2, 1, 8, 9]  # by download, descending, inside the group


def test_row_styles_follow_staleness_thresholds() -> None:
    assert rowmodel.row_style(conn(1, staleness=0.74)) == ""
    assert rowmodel.row_style(conn(1, staleness=0.75)) == "stale-warn"
    assert rowmodel.row_style(conn(1, staleness=0.90)) == "stale-crit"
    assert rowmodel.row_style(closed()[0]) == "closed"


# ---- details ----------------------------------------------------------------------------


def test_details_tree_walks_every_app_field() -> None:
    nodes = {n.label: n for n in connection_tree(connections()[0])}
    app = nodes["Application"]
    tls = next(c for c in app.children if c.label == "tls")
    cert = next(c for c in tls.children if c.label == "cert")
    assert Node("san", "github.com, www.github.com") in cert.children
    assert nodes["Location"].children[0] == Node("country", "US")
    proc = {c.label: c for c in nodes["Process"].children}
    assert proc["ancestors"].children == (Node("1800", "gnome-shell"), Node("1", "systemd"))
    assert proc["attribution"].children == (Node("source", "sockdiag"), Node("match", "exact"))
    sshd = {n.label: n for n in connection_tree(connections()[2])}["Process"]
    assert any(c.label == "container" for c in sshd.children)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_generic_renders_any_nested_value(value: object) -> None:
    node = generic("x", value)

    def leaves(n: Node) -> int:
        return 1 if not n.children else sum(leaves(c) for c in n.children)

    assert leaves(node) >= 1
    assert all(isinstance(n.label, str) for n in node.children)


# ---- aggregates -------------------------------------------------------------------------


def test_totals_and_processes() -> None:
    rows = connections()
    tot = totals(rows)
    assert tot.connections == 9
    assert dict(tot.by_proto) == {"TCP": 7, "UDP": 2}
    assert dict(tot.by_app)["TLS"] == 3
    assert tot.rate_in == sum(v.rate_in for v in rows)
    procs = {p.name: p for p in by_process(rows)}
    assert procs["firefox"].connections == 4
    assert procs["firefox"].rate_in == 3000.0
    assert procs["(unattributed)"].pid is None


def test_history_is_bounded_and_drops_gone_connections() -> None:
    hist = History()
    for seq in range(1, 200):
        snap = snapshot(seq=seq, conns=connections()[: 1 + seq % 3])
        hist.record(snap, by_process(snap.connections), totals(snap.connections))
    assert len(hist.total_in) == 120
    assert set(hist.per_conn) <= {1, 2, 3}
    assert all(len(s) <= 40 for s in hist.per_conn.values())
    hist.record(snap, [], totals(()))  # same seq again: ignored
    assert len(hist.total_in) == 120
    assert hist.top_processes(2)[0][0] == "firefox (4242)"


# ---- StaticMonitor ----------------------------------------------------------------------


def test_static_monitor_releases_frames_in_order() -> None:
    frames = [snapshot(seq=s) for s in (1, 2, 3)]
    mon = StaticMonitor(frames, interval=0.05)
    first = mon.wait_next(-1, 1.0)
    assert first is not None and first.seq == 1
    second = mon.wait_next(first.seq, 1.0)
    assert second is not None and second.seq == 2
    third = mon.wait_next(2, 1.0)
    assert third is not None and third.seq == 3
    assert mon.wait_next(3, 0.1) is None  # not looping: nothing newer
    mon.stop()


def test_static_monitor_loops_pauses_and_clears() -> None:
    mon = StaticMonitor([snapshot(seq=1), snapshot(seq=2)], interval=0.02, loop=True)
    seqs = []
    seq = -1
    for _ in range(5):
        snap = mon.wait_next(seq, 1.0)
        assert snap is not None
        seq = snap.seq
        seqs.append(seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    mon.set_paused(True)
    held = mon.latest()
    assert held is not None
    assert mon.wait_next(held.seq, 0.1) is None
    mon.set_paused(False)
    assert mon.wait_next(held.seq, 1.0) is not None
    mon.clear_closed()
    latest = mon.latest()
    assert latest is not None and latest.closed == ()
    assert mon.clear_calls == 1
    mon.stop()


def test_static_monitor_wakes_a_waiter_on_stop() -> None:
    mon = StaticMonitor([snapshot(seq=1)], interval=0)
    mon.wait_next(-1, 0.1)
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(mon.wait_next(1, 5.0)))
    t.start()
    time.sleep(0.05)
    started = time.monotonic()
    mon.stop()
    t.join(2.0)
    assert results == [None] and time.monotonic() - started < 1.0


def test_static_monitor_needs_a_snapshot() -> None:
    with pytest.raises(ValueError, match="at least one"):
        StaticMonitor([])


# ---- clipboard --------------------------------------------------------------------------


def test_osc52_sequence() -> None:
    assert osc52_sequence("10.0.0.1") == "\x1b]52;c;MTAuMC4wLjE=\x07"
    assert osc52_sequence("ü") == "\x1b]52;c;w7w=\x07"


def test_copy_prefers_the_system_clipboard_then_osc52() -> None:
    sent: list[str] = []
    assert copy_text("a", sent.append, system=lambda _t: True) == "clipboard" and sent == []
    assert copy_text("a", sent.append, system=lambda _t: False) == "osc52"
    assert sent == ["\x1b]52;c;YQ==\x07"]
    assert copy_text("a", None, system=lambda _t: False) == "none"
    assert copy_text("x" * 200_000, sent.append, system=lambda _t: False) == "none"
