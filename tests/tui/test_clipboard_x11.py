"""The system clipboard path: pyperclip with xclip on a private Xvfb display."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwatch.tui.clipboard import copy_text
from tests.tui.helpers import run, running, status_text

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xclip") is None,
    reason="Xvfb and xclip are needed",
)


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    display = f":{_free_display()}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        sock = Path(f"/tmp/.X11-unix/X{display[1:]}")
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip("Xvfb did not start")
            time.sleep(0.05)
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        import pyperclip

        pyperclip.set_clipboard("xclip")
        yield display
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _clipboard(display: str) -> str:
    """The clipboard's text; xclip serves it from a forked owner that needs a moment."""
    deadline = time.monotonic() + 5
    text = ""
    while not text and time.monotonic() < deadline:
        out = subprocess.run(
            ["xclip", "-o", "-selection", "clipboard"],
            capture_output=True,
            text=True,
            timeout=5,
            env={**os.environ, "DISPLAY": display},
        )
        text = out.stdout
        if not text:
            time.sleep(0.1)
    return text


def test_copy_text_uses_the_x_clipboard(xvfb: str) -> None:
    sent: list[str] = []
    assert copy_text("2001:db8::1", sent.append) == "clipboard"
    assert sent == []
    assert _clipboard(xvfb) == "2001:db8::1"


@run
async def test_c_copies_to_the_x_clipboard_and_says_so(xvfb: str) -> None:
    async with running() as (app, pilot, _mon):
        written: list[str] = []
        app.osc52_writer = written.append
        await pilot.press("c")
        assert written == []
        assert "to the clipboard" in status_text(app)
    assert _clipboard(xvfb) == "198.18.0.7"
