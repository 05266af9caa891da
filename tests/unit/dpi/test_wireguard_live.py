"""WireGuardAnalyzer end to end on a real tunnel: wireguard-go in a namespace pair, keys
from ``wg``, pings through the tunnel, the veth captured and run through the engine."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.live.harness.netns import HarnessUnavailable, make_netpair, require_netns
from tests.live.test_apps_live import app_records, capture, need, sh

pytestmark = pytest.mark.live


def test_wireguard(tmp_path: Path) -> None:
    need("wireguard-go", "wg", "ping")
    try:
        require_netns()
    except HarnessUnavailable as exc:
        pytest.skip(str(exc))
    with make_netpair() as pair:
        x, procs = pair.index, []
        sides = (pair.client, pair.server)
        keys = []
        for _ in sides:
            priv = sh("wg", "genkey").stdout.strip()
            keys.append((priv, sh("wg", "pubkey", input=priv).stdout.strip()))
        names = [f"nwtwg{x}c", f"nwtwg{x}s"]  # distinct: the UAPI socket dir is shared
        try:
            for i, s in enumerate(sides):
                (tmp_path / f"k{i}").write_text(keys[i][0])
                env = {**os.environ, "WG_PROCESS_FOREGROUND": "1"}
                procs.append(
                    s.popen(
                        ["wireguard-go", "-f", names[i]],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            time.sleep(1)
            for i, s in enumerate(sides):
                peer = sides[1 - i]
                r = s.run(
                    [
                        "wg",
                        "set",
                        names[i],
                        "private-key",
                        str(tmp_path / f"k{i}"),
                        "listen-port",
                        "51820",
                        "peer",
                        keys[1 - i][1],
                        "endpoint",
                        f"{peer.ip4}:51820",
                        "allowed-ips",
                        f"198.19.{x}.{2 - i}/32",
                    ]
                )
                assert r.returncode == 0, r.stderr
                s.run(["ip", "addr", "add", f"198.19.{x}.{i + 1}/24", "dev", names[i]])
                s.run(["ip", "link", "set", names[i], "up"])
            with capture(tmp_path / "w.pcap", "udp port 51820", pair.client.ifname, pair.client.ns):
                ping = pair.client.run(["ping", "-c", "3", "-i", "0.2", f"198.19.{x}.2"])
                assert ping.returncode == 0, ping.stdout
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    (rec,) = app_records(tmp_path / "w.pcap")
    wg = rec["app"]["wireguard"]
    assert rec["app"]["protocol"] == "WireGuard" and wg["handshakes"] == 1
    assert wg["messages"]["transport_data"] >= 6 and wg["initiator"] == "originator"
