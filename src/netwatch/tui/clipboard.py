"""Copy text to the user's clipboard: the system clipboard when there is one, else OSC 52.

OSC 52 (xterm "Manipulate Selection Data"): ``ESC ] 52 ; c ; <base64 text> BEL`` asks the
terminal itself to set its clipboard, which also works over SSH and inside tmux (with
``set-clipboard on``). Example: "10.0.0.1" -> ``\\x1b]52;c;MTAuMC4wLjE=\\x07``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

OSC52_LIMIT = 100_000  # terminals cap the sequence; refuse rather than truncate silently


def osc52_sequence(text: str) -> str:
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"\x1b]52;c;{payload}\x07"


def _system_copy(text: str) -> bool:
    """pyperclip when a clipboard program and a display exist; False otherwise."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        import pyperclip
    except ImportError:
        return False
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        return False
    return True


def copy_text(
    text: str,
    osc52: Callable[[str], None] | None,
    system: Callable[[str], bool] = _system_copy,
) -> str:
    """Copy ``text``; returns how: ``"clipboard"``, ``"osc52"`` or ``"none"``.

    ``osc52`` writes an escape sequence to the terminal (the app passes its driver).
    """
    if system(text):
        return "clipboard"
    if osc52 is None or len(text) > OSC52_LIMIT:
        return "none"
    osc52(osc52_sequence(text))
    return "osc52"
