"""Record what crosses a veth end with tcpdump (pcap(7) file format via libpcap).

``record(ns, ifname, path)`` returns only once tcpdump is capturing (it says "listening on"),
and on exit waits until the file stops growing, then stops it with SIGINT: tests can then
feed ``path`` to netwatch's offline reader and compare with what the clients did.

The capture is the reference the tests compare netwatch with, so it must be whole: the
kernel buffer is large (``-B``; in immediate mode libpcap uses one ring slot per packet of
the snapshot length, 256 KiB with whole packets, so the default 2 MiB held 8 packets and a
loaded machine dropped bursts), and a capture that still reports kernel drops fails the
test with that reason rather than with a wrong count.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.live.harness import netns
from tests.live.harness.netns import HarnessError
from tests.live.harness.servers import require_binary


def _settle(path: Path, quiet: float = 0.25, limit: float = 3.0) -> None:
    """Wait until the file stops growing: SIGINT makes tcpdump drop what it has not read."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = path.stat().st_size if path.exists() else 0
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


#: tcpdump's kernel buffer (-B), in KiB: 256 ring slots of whole packets.
BUFFER_KIB = 64 * 1024


@contextlib.contextmanager
def record(
    ns: str | None,
    ifname: str,
    path: Path,
    bpf: Sequence[str] = (),
    snaplen: int = 0,
    timeout: float = 10.0,
) -> Iterator[Path]:
    """Capture on ``ifname`` in namespace ``ns`` into ``path`` while the block runs.

    ``bpf`` is a tcpdump filter as words (``["tcp", "port", "443"]``); ``snaplen`` 0 keeps
    whole packets. Packets are written unbuffered (``-U``).
    """
    binary = require_binary("tcpdump")
    argv = [binary, "-i", ifname, "-w", str(path), "-U", "-n", "-s", str(snaplen),
            "-B", str(BUFFER_KIB), "--immediate-mode", "-Z", "root", *bpf]  # fmt: skip
    proc = netns.popen(ns, argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    ready = threading.Event()
    lines: list[bytes] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if b"listening on" in line:
                ready.set()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout):
            raise HarnessError(f"tcpdump on {ifname} did not start: {b''.join(lines)!r}")
        yield path
        _settle(path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=2)
        proc.stderr.close()
    dropped = re.search(rb"(\d+) packets? dropped by kernel", b"".join(lines))
    if dropped and int(dropped[1]):
        raise HarnessError(
            f"tcpdump on {ifname}: {int(dropped[1])} packets dropped by the kernel, "
            "the reference capture is incomplete"
        )
