"""The live harness itself: namespace pairs come up, carry traffic and always go away."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.harness import netns
from tests.live.harness.netns import Pair

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parents[2]
TEST_V4 = ipaddress.ip_network("198.18.0.0/15")
TEST_V6 = ipaddress.ip_network("fd00::/8")

# A one-shot TCP echo server: prints "ready", echoes one message reversed, exits.
ECHO = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7007)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.sendall(c.recv(100)[::-1]); c.close()
"""
CONNECT = """
import socket, sys
c = socket.create_connection((sys.argv[1], 7007), timeout=5)
c.sendall(b"netwatch"); print(c.recv(100).decode())
"""


def _echo_roundtrip(pair: Pair, server_ip: str) -> str:
    srv = pair.server.popen(
        [sys.executable, "-c", ECHO, server_ip], stdout=subprocess.PIPE, text=True
    )
    try:
        assert srv.stdout is not None
        assert srv.stdout.readline().strip() == "ready"
        res = pair.client.run([sys.executable, "-c", CONNECT, server_ip], text=True)
        assert res.returncode == 0, res.stderr
        return str(res.stdout.strip())
    finally:
        srv.kill()
        srv.wait()


def _links(ns: str | None) -> str:
    return str(netns.run(ns, ["ip", "-br", "addr"], text=True).stdout)


def test_netpair_carries_v4_and_v6(netpair2: Pair) -> None:
    pair = netpair2
    assert pair.client.ns in netns.list_namespaces()
    assert pair.server.ns in netns.list_namespaces()
    for side in (pair.client, pair.server):
        assert side.ns is not None and side.ns.startswith("nwt-")
        shown = _links(side.ns)
        assert side.ifname in shown
        assert "lo" in shown and "UNKNOWN" in shown.splitlines()[0]
        for ip in (*side.ip4s, *side.ip6s):
            assert ip in shown
            addr = ipaddress.ip_address(ip)
            assert addr in (TEST_V4 if addr.version == 4 else TEST_V6)
    assert len(pair.server.ip4s) == 2 and len(pair.server.ip6s) == 2
    for ip in (*pair.server.ip4s, *pair.server.ip6s):
        assert _echo_roundtrip(pair, ip) == "hctawten"


def test_rootpair_client_is_root_namespace(rootpair: Pair) -> None:
    assert rootpair.client.ns is None
    assert rootpair.namespaces == (rootpair.server.ns,)
    assert f"{rootpair.client.ip4}/24" in _links(None)
    assert rootpair.client.ip4.endswith(".1") and rootpair.server.ip4.endswith(".2")
    assert _echo_roundtrip(rootpair, rootpair.server.ip4) == "hctawten"
    assert _echo_roundtrip(rootpair, rootpair.server.ip6) == "hctawten"


def test_close_removes_everything_and_kills_stragglers() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    with netns.make_rootpair() as pair:
        sleeper = pair.server.popen(["sleep", "600"])
        names = (*pair.namespaces, pair.client.ifname)
    # The sleeper was SIGKILLed by close(), the namespace and both veth ends are gone.
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    assert not set(names) & set(netns.list_namespaces())
    assert pair.client.ifname not in _links(None)
    pair.close()  # idempotent


def test_teardown_on_exception() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt), netns.make_netpair() as pair:
        seen.extend(pair.namespaces)
        raise KeyboardInterrupt
    assert len(seen) == 2
    assert not set(seen) & set(netns.list_namespaces())


def test_parallel_pairs_get_distinct_subnets(netpair: Pair, rootpair: Pair) -> None:
    assert netpair.index != rootpair.index
    assert netpair.stem != rootpair.stem
    assert netpair.subnet4 != rootpair.subnet4


CRASHER = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from tests.live.harness import netns
cm = netns.make_rootpair()
pair = cm.__enter__()
print(pair.stem, flush=True)
if sys.argv[2] == "crash":
    os.kill(os.getpid(), 9)
time.sleep(600)
"""


def _spawn_owner(mode: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(REPO), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    stem = proc.stdout.readline().strip()
    assert stem, "owner process did not build a pair"
    return proc, stem


def _mine(stem: str) -> list[str]:
    return [n for n in netns.list_namespaces() if n.startswith(f"nwt-{stem}")]


def test_sweep_removes_crashed_runs_only() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    alive, alive_stem = _spawn_owner("hold")
    crashed, crashed_stem = _spawn_owner("crash")
    try:
        assert crashed.wait(timeout=10) == -signal.SIGKILL
        assert _mine(crashed_stem), "a SIGKILLed run leaves its namespace behind"
        removed = netns.sweep_stale()
        assert f"nwt-{crashed_stem}-s" in removed
        assert not _mine(crashed_stem)
        # The live owner's namespace survives the sweep.
        assert _mine(alive_stem)
    finally:
        alive.kill()
        alive.wait()
    deadline = time.monotonic() + 5
    while _mine(alive_stem) and time.monotonic() < deadline:
        netns.sweep_stale()
        time.sleep(0.1)
    assert not _mine(alive_stem)
    assert f"nwt-{alive_stem}-c" not in _links(None)


def test_not_root_is_a_clean_skip_reason() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user")
    res = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
         "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
         "from tests.live.harness import netns\n"
         "try:\n    netns.require_netns()\nexcept netns.HarnessUnavailable as e:\n"
         "    print(e)"],
        capture_output=True, text=True, cwd="/", check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "root" in res.stdout
