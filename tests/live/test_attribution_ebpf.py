"""eBPF specifics on this host: short-lived clients enriched from /proc when the events
are polled, and the kernel's own record kept when the process is gone first."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import pytest

from netwatch.attribution import BackendUnavailable
from netwatch.attribution.ebpf import EbpfResolver
from tests.live.harness.clients import curl_argv
from tests.live.harness.netns import Pair
from tests.live.harness.servers import NginxServer
from tests.live.test_attribution_clients import Tap

pytestmark = pytest.mark.live

RUNS = 5


@pytest.fixture
def ebpf() -> Iterator[EbpfResolver]:
    r = EbpfResolver()
    try:
        r.start()
    except BackendUnavailable as exc:
        pytest.skip(exc.reason)
    try:
        yield r
    finally:
        r.close()


def run_curls(pair: Pair) -> tuple[list[int], Tap]:
    tap = Tap(pair.client.ifname)
    tap.start()
    pids = []
    try:
        for _ in range(RUNS):
            with subprocess.Popen([*curl_argv(f"http://{pair.server.ip4}:8082/"), "-o",
                                   "/dev/null"]) as proc:  # fmt: skip
                pids.append(proc.pid)
            assert proc.returncode == 0
    finally:
        tap.stop()
    return pids, tap


def test_polled_events_enrich_short_lived_clients(
    ebpf: EbpfResolver, server_pair: Pair, nginx_server: NginxServer
) -> None:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            ebpf.poll(50)

    poller = threading.Thread(target=loop, daemon=True)
    poller.start()
    try:
        pids, tap = run_curls(server_pair)
    finally:
        stop.set()
        poller.join(5)
    flows = tap.find("tcp", dport=8082)
    assert len(flows) == RUNS
    enriched = 0
    for local, remote in flows:
        hit = ebpf.lookup("tcp", local, remote)
        assert hit is not None
        info = hit[0]
        assert info.pid in pids and info.name == "curl"
        enriched += info.exe.endswith("/curl") and info.cmdline[:1] == ("curl",)
    print(f"\nebpf poll: {enriched}/{RUNS} curl runs enriched from /proc before exiting")
    assert enriched >= RUNS - 1


def test_a_process_gone_before_refresh_keeps_the_kernel_record(
    ebpf: EbpfResolver, server_pair: Pair, nginx_server: NginxServer
) -> None:
    pids, tap = run_curls(server_pair)  # nobody reads the ring buffer meanwhile
    ebpf.refresh()
    flows = tap.find("tcp", dport=8082)
    assert len(flows) == RUNS
    for local, remote in flows:
        hit = ebpf.lookup("tcp", local, remote)
        assert hit is not None
        info, how = hit
        assert info.pid in pids and (info.name, how.match) == ("curl", "exact")
        assert info.exe == "" and info.cmdline == ()  # only what the kernel recorded
        assert info.uid == 0 and info.user == "root" and info.ppid > 0
