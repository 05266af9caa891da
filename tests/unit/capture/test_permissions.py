"""Permission and missing-interface errors, including a real capability-less process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from netwatch.capture.permissions import (
    missing_interface_error,
    permission_error,
    real_interpreter,
    setcap_command,
)
from netwatch.errors import CaptureError

LINUX = sys.platform.startswith("linux")


def test_setcap_names_the_real_interpreter() -> None:
    real = real_interpreter()
    assert os.path.isabs(real) and not os.path.islink(real)
    assert os.path.samefile(real, sys.executable)
    assert setcap_command() == f"sudo setcap cap_net_raw,cap_net_admin=eip {real}"


def test_permission_message_is_one_actionable_line() -> None:
    err = permission_error("capture on eth0")
    assert isinstance(err, CaptureError)
    text = str(err)
    assert "\n" not in text
    assert "sudo" in text and setcap_command() in text
    assert "capture on eth0" in text and "interpreter" in text


def test_missing_interface_lists_what_exists() -> None:
    text = str(missing_interface_error("eth9", ["lo", "eth0"]))
    assert text == "no such interface 'eth9'; interfaces here: eth0, lo, any"


@pytest.mark.skipif(not LINUX, reason="AF_PACKET")
@pytest.mark.parametrize("source", ["AfPacketSource", "LibpcapSource"])
def test_unknown_interface(source: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("libpcap checks permission before the interface")
    from netwatch.capture import afpacket, libpcap

    cls = getattr(afpacket if source == "AfPacketSource" else libpcap, source)
    with pytest.raises(CaptureError, match=r"no such interface 'nw-absent0'.*lo"):
        cls("nw-absent0")


@pytest.mark.skipif(
    not LINUX or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to drop CAP_NET_RAW",
)
@pytest.mark.parametrize("source", ["afpacket.AfPacketSource", "libpcap.LibpcapSource"])
def test_without_cap_net_raw_the_error_names_sudo_and_setcap(source: str) -> None:
    module, cls = source.split(".")
    code = (
        f"from netwatch.capture.{module} import {cls}\n"
        "from netwatch.errors import CaptureError\n"
        "try:\n"
        f"    {cls}('lo')\n"
        "except CaptureError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out.startswith("no permission to capture on lo")
    assert setcap_command() in out
