"""End to end with the real engine in a real terminal: ``netwatch -r`` on a corpus capture,
and the live monitor on a namespace veth with real clients (tmux send-keys/capture-pane)."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator

import pytest

from tests.tui.test_e2e_tmux import Tmux, table_lines
from tests.util.corpus import corpus_file

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def term() -> Iterator[Tmux]:
    t = Tmux(width=160, height=40)
    try:
        yield t
    finally:
        t.kill()


def test_replay_a_corpus_capture_filter_and_details(term: Tmux) -> None:
    path = corpus_file("foxio_tls-handshake.pcapng")
    term.start([sys.executable, "-m", "netwatch", "-r", str(path), "--speed", "0"])
    # Wait for the whole file, not the first frame: a frame may be drawn before the table
    # has rows, while "TLS" already shows elsewhere on the screen.
    screen = term.wait_for(
        lambda s: "rows ·" in s and ("TLS" in s or "HTTPS" in s) and _total(s) > 5, 30
    )
    assert "file foxio_tls-handshake.pcapng" in screen
    total = _total(screen)
    from netwatch.filters import compile_record
    from tests.unit.engine.helpers import analyze

    want = sum(1 for r in analyze(path) if compile_record("sni:fbcdn")(r))  # TLS + QUIC
    assert 0 < want < total
    term.keys("/")
    term.type("sni:fbcdn")

    # The split pane shows details on the right of "│": count the table's own cells. The
    # status line and the table are drawn apart: wait until both show the filtered rows.
    def cells(s: str) -> list[str]:
        return [r.split("│")[0] for r in table_lines(s) if r.split("│")[0].strip()]

    screen = term.wait_for(
        lambda s: "rows ·" in s and _shown(s) == want and len(cells(s)) == want, 15
    )
    rows = cells(screen)
    assert len(rows) == want
    assert all("fbcdn" in r or "…" in r or "UDP" in r for r in rows)
    term.keys("Enter", "Enter")
    term.wait_for("fbcdn.net", 10)
    term.keys("Escape", "q", "q")
    term.wait_for("EXITED 0", 15)


@pytest.mark.live
def test_live_monitor_on_a_veth_shows_real_clients(term: Tmux) -> None:
    from tests.live.harness import clients
    from tests.live.harness.certs import make_certs
    from tests.live.harness.netns import make_rootpair
    from tests.live.harness.servers import start_nginx

    with make_rootpair() as pair, start_nginx(pair.server, make_certs(_tmp())) as nginx:
        term.start([sys.executable, "-m", "netwatch", "-i", pair.client.ifname])
        term.wait_for("rows ·", 30)
        time.sleep(1.0)  # the ring is armed before the first frame; give it a moment
        srv = pair.server.ip4
        for _ in range(3):
            r = clients.curl(None, f"http://{srv}:8082/", http="1.1")
            assert r.returncode == 0, r.stderr
        screen = term.wait_for(lambda s: "HTTP GET" in s, 20)
        assert f"interface {pair.client.ifname}" in screen
        assert "curl" in screen  # the process column names the short-lived client
        term.keys("/")
        term.type("port:8082")

        def only_8082(screen: str) -> bool:
            if "rows ·" not in screen or "Process" not in screen:
                return False
            rows = [r.split("│")[0] for r in table_lines(screen) if r.split("│")[0].strip()]
            return len(rows) == 3 and all(":8082" in r and "curl" in r for r in rows)

        term.wait_for(only_8082, 15)
        term.keys("Escape", "C-c")
        term.wait_for("EXITED 0", 15)
        del nginx


def _total(screen: str) -> int:
    return int(
        screen.split("rows ·", maxsplit=1)[0].rsplit(maxsplit=1)[-1].split("/", maxsplit=1)[1]
    )


def _shown(screen: str) -> int:
    return int(
        screen.split("rows ·", maxsplit=1)[0].rsplit(maxsplit=1)[-1].split("/", maxsplit=1)[0]
    )


def _tmp():  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="nwt-tui-"))
