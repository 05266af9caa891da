"""End to end in a real terminal: the app inside tmux, driven with send-keys.

Most tests run ``python -m netwatch.tui.demo`` (canned connections, deterministic); one
runs ``netwatch --demo``, the real engine replaying the bundled capture. Each test runs
its own tmux server (``-L``) and always kills it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

COMMAND = [sys.executable, "-m", "netwatch.tui.demo", "--interval", "0.3"]


class Tmux:
    def __init__(self, width: int = 130, height: int = 32) -> None:
        self.socket = f"nwtest-{uuid.uuid4().hex[:8]}"
        self.width = width
        self.height = height

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout

    def start(self, command: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        shell = " ".join(command) + "; echo EXITED $?; sleep 30"
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "nw",
             "-x", str(self.width), "-y", str(self.height), shell],
            check=True, env=env, timeout=10,
        )  # fmt: skip
        self.run("set-option", "-g", "set-clipboard", "on")

    def keys(self, *keys: str) -> None:
        """One key at a time: ESC followed at once by a key would read as Alt+key."""
        for key in keys:
            self.run("send-keys", "-t", "nw", key)
            time.sleep(0.25 if key == "Escape" else 0.05)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "nw", "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "nw")

    def wait_for(self, predicate: object, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            ok = predicate(screen) if callable(predicate) else str(predicate) in screen
            if ok:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {predicate!r}; screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    try:
        t.start(COMMAND)
        t.wait_for("github.com")
        yield t
    finally:
        t.kill()


def table_lines(screen: str) -> list[str]:
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Process"))
    end = next(i for i, line in enumerate(lines) if "rows ·" in line)
    return [line for line in lines[start + 1 : end] if line.strip()]


def test_overview_filter_screens_and_quit(tmux: Tmux) -> None:
    screen = tmux.wait_for("9/9 rows")
    assert "demo0" in screen and "attribution sockdiag" in screen and "Down ▼" in screen
    assert "kernel drops 0" in screen and "internal drops" in screen

    tmux.keys("/")
    tmux.type("ssh")
    screen = tmux.wait_for("1/9 rows")
    rows = table_lines(screen)
    assert len(rows) == 1 and "ssh (5150)" in rows[0], rows
    tmux.keys("Escape")
    tmux.keys("Escape")  # out of the box, then clear the filter
    tmux.wait_for("9/9 rows")

    tmux.keys("/")
    tmux.type("port:99999")
    screen = tmux.wait_for("filter at")
    assert "not a port" in screen
    tmux.keys("C-u", "Escape", "Escape")
    tmux.wait_for("9/9 rows")

    tmux.keys("p")
    tmux.wait_for(":443")
    tmux.keys("p", "d")
    screen = tmux.wait_for("198.18.0.10:https")
    assert "github.com:https" not in screen

    tmux.keys("3")
    tmux.wait_for("Conns")
    tmux.keys("4")
    tmux.wait_for("Download")
    tmux.keys("1", "Enter")
    tmux.wait_for("▼ Connection")
    tmux.keys("Escape", "h")
    tmux.wait_for("netwatch: keys")
    tmux.keys("Escape", "q")
    tmux.wait_for("Quit netwatch?")
    tmux.keys("n")
    tmux.wait_for(lambda s: "Quit netwatch?" not in s)
    tmux.keys("q", "q")
    tmux.wait_for("EXITED 0")


def test_resize_to_a_tiny_terminal_and_back(tmux: Tmux) -> None:
    tmux.run("resize-window", "-t", "nw", "-x", "40", "-y", "10")
    screen = tmux.wait_for(lambda s: "Proto" in s and "Application" not in s)
    assert max(len(line) for line in screen.splitlines()) <= 40
    tmux.run("resize-window", "-t", "nw", "-x", "200", "-y", "50")
    tmux.wait_for("Application")
    tmux.keys("C-c")
    tmux.wait_for("EXITED 0")


def test_copy_reaches_the_terminal_through_osc52(tmux: Tmux) -> None:
    screen = tmux.wait_for("9/9 rows")
    first = table_lines(screen)[0]
    tmux.keys("d")  # IP addresses: the copied text is the first row's remote address
    tmux.keys("c")
    screen = tmux.wait_for("OSC 52")
    deadline = time.monotonic() + 5
    buffer = ""
    while time.monotonic() < deadline and not buffer:
        buffer = tmux.run("show-buffer")
        time.sleep(0.1)
    assert buffer.startswith("198.18.")
    assert f"copied {buffer}" in screen
    assert first  # the table was there when we copied


DEMO_PCAP = Path(__file__).resolve().parents[2] / "src" / "netwatch" / "data" / "demo.pcap"


@pytest.mark.skipif(not DEMO_PCAP.is_file(), reason="the bundled demo capture is not there")
def test_the_real_engine_replaying_the_bundled_capture() -> None:
    """``netwatch --demo``: the engine's snapshots through the same UI."""
    t = Tmux(width=140, height=36)
    try:
        t.start([sys.executable, "-m", "netwatch", "--demo"])
        screen = t.wait_for(lambda s: " conns " in s and "rows ·" in s, timeout=30)
        assert "attribution" in screen and "kernel drops" in screen
        t.keys("/")
        t.type("proto:udp")
        screen = t.wait_for(lambda s: "filter: proto:udp" in s and table_lines(s), timeout=30)
        rows = table_lines(screen)
        assert all(" UDP " in row for row in rows), rows
        t.keys("Enter", "Enter")
        t.wait_for("▼ Connection")
        t.keys("3")
        t.wait_for("Conns")
        t.keys("q", "y")
        t.wait_for("EXITED 0")
    finally:
        t.kill()
