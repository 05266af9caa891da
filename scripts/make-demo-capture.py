#!/usr/bin/env python3
"""Record the bundled demo capture (src/netwatch/data/demo.pcap) from real traffic.

Runs the live-test servers (nginx, sshd, dnsmasq, an aioquic HTTP/3 server) in a network
namespace and real clients in the root namespace, spaced over ~30 s so a replay at recorded
speed looks like a live screen; tcpdump records the veth. Test addresses only
(198.18.0.0/15, fd00::/8). Needs root. Usage: sudo scripts/make-demo-capture.py [OUT]
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live.harness import certs, clients, servers  # noqa: E402
from tests.live.harness.netns import make_rootpair  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src/netwatch/data/demo.pcap"
    with tempfile.TemporaryDirectory() as tmp, make_rootpair() as pair:
        cs = certs.make_certs(Path(tmp) / "certs")
        srv = pair.server
        ip4, ip6 = srv.ip4, srv.ip6
        www, api = servers.WWW, servers.API
        with servers.start_nginx(srv, cs), servers.start_sshd(srv) as sshd, \
                servers.start_dnsmasq(srv), servers.start_h3(srv, cs):
            td = subprocess.Popen(["tcpdump", "-i", pair.client.ifname, "-w", str(out), "-U",
                                   "-s", "0", "-n"], stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            steps = [
                lambda: clients.dig(None, ip4, www, "A"),
                lambda: clients.dig(None, ip6, www, "AAAA"),
                lambda: clients.curl(None, f"https://{www}/", http="2", insecure=True,
                                     resolve={f"{www}:443": ip4}),
                lambda: subprocess.run(["ping", "-c", "3", "-i", "0.3", ip4],
                                       capture_output=True, check=False),
                lambda: clients.curl(None, f"http://{www}/", http="1.1",
                                     resolve={f"{www}:80": ip4}),
                lambda: clients.ssh(None, ip4, sshd.key, command=("sleep", "4")),
                lambda: clients.dig(None, ip4, f"alias.{servers.ZONE}", "A", tcp=True),
                lambda: clients.curl(None, f"https://{api}:8443/", http="1.1", insecure=True,
                                     tls_max="1.2", resolve={f"{api}:8443": f"[{ip6}]"}),
                lambda: clients.h3_get(None, ip4, servers.H3, insecure=True),
                lambda: clients.ssh(None, ip4, sshd.key, port=2222),
                lambda: clients.curl(None, f"https://{www}{servers.SLOW_PREFIX}/64k.bin",
                                     insecure=True, resolve={f"{www}:443": ip4}),
                lambda: clients.dig(None, ip4, servers.ZONE, "MX"),
            ]
            for step in steps:
                step()
                time.sleep(1.5)
            time.sleep(1)
            td.send_signal(signal.SIGINT)
            td.wait(timeout=10)
    print(f"{out}: {out.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
