"""``netwatch record --packets`` on a live veth while curl fetches from nginx in a namespace,
then ``netwatch export``: the session's packets equal what tcpdump saw of it, and their
comments name the process (curl, attributed live), the direction and the application."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dpkt
import pytest

from tests.live.harness import clients, servers
from tests.live.harness.armed import wait_armed
from tests.live.harness.netns import Pair

pytestmark = pytest.mark.live
DURATION = 10.0


def _tcp_packets(pcap: Path, port: int) -> int:
    """Packets of the TCP connection from local ``port``, counted by dpkt."""
    n = 0
    with pcap.open("rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(buf).data
            tcp = getattr(ip, "data", None)
            if isinstance(tcp, dpkt.tcp.TCP) and port in (tcp.sport, tcp.dport):
                n += 1
    return n


def _netwatch(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netwatch", *argv], capture_output=True, text=True, timeout=60
    )


def test_record_packets_live_and_export(
    server_pair: Pair, nginx_server: servers.NginxServer, tmp_path: Path
) -> None:
    iface = server_pair.client.ifname
    srv4 = server_pair.server.ip4
    store = tmp_path / "store"
    truth = tmp_path / "tcpdump.pcap"
    td = subprocess.Popen(
        ["tcpdump", "-i", iface, "-w", str(truth), "-U", "-s", "0", "-n", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rec = subprocess.Popen(
        [sys.executable, "-m", "netwatch", "record", "-i", iface, "--store", str(store),
         "--packets", "--duration", str(DURATION)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_armed(td, iface)
        wait_armed(rec, iface)
        # /slow/: 64 KiB at 64 KiB/s, a second of traffic: attributed while it runs.
        slow = clients.curl(None, f"http://{srv4}/slow/64k.bin", http="1.1")
        fast = clients.curl(None, f"http://{srv4}/1k.bin", http="1.1")
        assert slow.returncode == 0 and fast.returncode == 0, slow.stderr
        _, err = rec.communicate(timeout=DURATION + 30)
    finally:
        if rec.poll() is None:
            rec.kill()
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
    assert rec.returncode == 0, err.decode()
    assert "packets:" in err.decode()

    q = _netwatch("query", "--store", str(store), "--format", "jsonl", "dport:80")
    assert q.returncode == 0, q.stderr
    records = [json.loads(line) for line in q.stdout.splitlines()]
    slow_rec = max(records, key=lambda r: r["bytes_in"])
    assert slow_rec["bytes_in"] > 65536
    assert slow_rec["process"] and slow_rec["process"]["name"] == "curl"

    one = tmp_path / "one.pcap"
    ex = _netwatch("export", "--store", str(store), "--conn", str(slow_rec["id"]),
                   "--format", "pcap", "-o", str(one))  # fmt: skip
    assert ex.returncode == 0, ex.stderr
    with one.open("rb") as fh:
        exported = sum(1 for _ in dpkt.pcap.Reader(fh))
    assert exported == slow_rec["packets_out"] + slow_rec["packets_in"]
    assert exported == _tcp_packets(truth, slow_rec["local_port"])

    allp = tmp_path / "all.pcapng"
    ex = _netwatch("export", "--store", str(store), "--format", "pcapng", "-o", str(allp))
    assert ex.returncode == 0, ex.stderr
    fields = subprocess.run(
        ["tshark", "-r", str(allp), "-T", "fields", "-e", "frame.comment", "-e", "tcp.srcport"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    mine = [f.split("\t") for f in fields if f.startswith(f"conn={slow_rec['id']} ")]
    assert len(mine) == exported
    for comment, sport in mine:
        want = "dir=c2s" if int(sport) == slow_rec["local_port"] else "dir=s2c"
        assert want in comment, comment
    named = [c for c, _ in mine if "process=curl pid=" in c]
    # Packets wait 1.5 s before they are written: attribution has named curl by then.
    assert len(named) == len(mine), [c for c, _ in mine if c not in named]
    assert any("app=HTTP" in c for c, _ in mine)


def _armed_any(proc: subprocess.Popen[bytes]) -> None:
    """``proc`` (in its namespace) holds an AF_PACKET socket on every interface (0)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            lines = Path(f"/proc/{proc.pid}/net/packet").read_text().splitlines()[1:]
            bound = {f[8] for f in (line.split() for line in lines) if f[4] == "0"}
            fds = [os.readlink(fd) for fd in Path(f"/proc/{proc.pid}/fd").iterdir()]
            if any(link[8:-1] in bound for link in fds if link.startswith("socket:[")):
                time.sleep(0.3)
                return
        except (OSError, IndexError):
            pass
        assert proc.poll() is None, f"capture exited early: {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError("capture did not start")


def test_dedup_on_any_across_a_bridge(netpair: Pair, tmp_path: Path) -> None:
    """In a namespace whose veth is a port of a bridge, ``-i any`` sees each packet twice
    (on the veth and on the bridge): ``--dedup drop`` counts and stores it once, a
    recorder with ``--dedup count`` beside it counts both copies."""
    side, peer = netpair.client, netpair.server
    for argv in (
        ["ip", "addr", "flush", "dev", side.ifname],
        ["ip", "link", "add", "nwbr0", "type", "bridge"],
        ["ip", "link", "set", side.ifname, "master", "nwbr0"],
        ["ip", "addr", "add", f"{side.ip4}/24", "dev", "nwbr0"],
        ["ip", "link", "set", "nwbr0", "up"],
    ):
        assert side.run(argv, capture_output=True).returncode == 0, argv
    recorders = {}
    for mode in ("drop", "count"):
        recorders[mode] = side.popen(
            [sys.executable, "-m", "netwatch", "record", "-i", "any", "--store",
             str(tmp_path / mode), "--packets", "--dedup", mode, "--attribution", "none",
             "--duration", "8"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
    try:
        for proc in recorders.values():
            _armed_any(proc)
        ping = peer.run(["ping", "-c", "10", "-i", "0.2", side.ip4], capture_output=True)
        assert ping.returncode == 0, ping.stderr
        errs = {mode: proc.communicate(timeout=40)[1].decode() for mode, proc in recorders.items()}
    finally:
        for proc in recorders.values():
            if proc.poll() is None:
                proc.kill()
    for mode, proc in recorders.items():
        assert proc.returncode == 0, errs[mode]

    def ping_records(mode: str) -> list[dict[str, Any]]:
        q = _netwatch("query", "--store", str(tmp_path / mode), "--format", "jsonl", "icmp")
        assert q.returncode == 0, q.stderr
        recs = [json.loads(line) for line in q.stdout.splitlines()]
        return [r for r in recs if {r["local_addr"], r["remote_addr"]} == {side.ip4, peer.ip4}]

    def packets(recs: list[dict[str, Any]]) -> int:
        return sum(int(r["packets_out"]) + int(r["packets_in"]) for r in recs)

    (echo,) = ping_records("drop")
    assert packets([echo]) == 20
    assert packets(ping_records("count")) == 40
    dropped = int(errs["drop"].split(" duplicate packets dropped")[0].rsplit(" ", 1)[-1])
    counted = int(errs["count"].split(" duplicate packets counted")[0].rsplit(" ", 1)[-1])
    assert dropped >= 20 and counted >= 20
    one = tmp_path / "ping.pcapng"
    ex = _netwatch("export", "--store", str(tmp_path / "drop"), "--conn", str(echo["id"]),
                   "--format", "pcapng", "-o", str(one))  # fmt: skip
    assert ex.returncode == 0, ex.stderr
    with one.open("rb") as fh:
        assert sum(1 for _ in dpkt.pcapng.Reader(fh)) == 20
