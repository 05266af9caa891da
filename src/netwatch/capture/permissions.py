"""Capture permission and missing-interface errors, worded so the user can act on them.

Live capture on Linux needs ``CAP_NET_RAW`` (to open an ``AF_PACKET`` socket, see
packet(7)) and ``CAP_NET_ADMIN`` (promiscuous mode). Either run as root, or grant the
capabilities to the interpreter binary with setcap(8). File capabilities only work on a
real file, not on a symlink, and they apply to every script that interpreter runs, which
the message says.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable

from netwatch.errors import CaptureError

AF_PACKET = 17


def real_interpreter() -> str:
    """The interpreter's real path (setcap refuses symlinks such as a venv's python)."""
    return os.path.realpath(sys.executable or "python3")


def setcap_command(binary: str | None = None) -> str:
    """The exact setcap line that grants capture rights to ``binary``."""
    return f"sudo setcap cap_net_raw,cap_net_admin=eip {binary or real_interpreter()}"


def permission_error(what: str = "capture packets") -> CaptureError:
    """The one-line error for a missing capture permission (EPERM/EACCES)."""
    return CaptureError(
        f"no permission to {what}: run netwatch with sudo, or grant the capability to "
        f"the Python interpreter (it then applies to every script that interpreter runs): "
        f"{setcap_command()}"
    )


def missing_interface_error(name: str, available: Iterable[str]) -> CaptureError:
    """The one-line error for an unknown interface, listing the ones that exist."""
    names = sorted(available)
    listing = ", ".join([*names, "any"]) if names else "none found"
    return CaptureError(f"no such interface {name!r}; interfaces here: {listing}")


def check_capture_permission() -> None:
    """Raise the permission CaptureError if this process cannot open a packet socket."""
    try:
        sock = socket.socket(AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise permission_error() from exc
    sock.close()
