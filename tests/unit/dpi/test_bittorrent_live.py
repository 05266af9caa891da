"""BitTorrentAnalyzer end to end on real swarms: two libtorrent sessions (Debian's
python3-libtorrent, run by the system interpreter) on loopback, a download over TCP and
over uTP (encryption off, as MSE hides the handshake), and a DHT bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.test_apps_live import app_records, capture, need, sh
from tests.unit.dpi.test_http_live import free_port

pytestmark = pytest.mark.live

SWARM = """
import os, sys, time
import libtorrent as lt
work, mode, p1, p2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for d in ("seed", "leech"):
    os.makedirs(f"{work}/{d}", exist_ok=True)
with open(f"{work}/seed/payload.bin", "wb") as fh:
    fh.write(os.urandom(256 * 1024))
fs = lt.file_storage()
lt.add_files(fs, f"{work}/seed/payload.bin")
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, f"{work}/seed")
ti = lt.torrent_info(lt.bencode(ct.generate()))
def session(port, boot=None):
    s = {"listen_interfaces": f"127.0.0.1:{port}", "enable_dht": mode == "dht",
         "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
         "allow_multiple_connections_per_ip": True, "out_enc_policy": 2, "in_enc_policy": 2,
         "enable_outgoing_utp": mode == "utp", "enable_incoming_utp": mode == "utp",
         "enable_outgoing_tcp": mode != "utp", "enable_incoming_tcp": mode != "utp",
         "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
         "user_agent": "netwatch-live/1.0"}
    if boot:
        s["dht_bootstrap_nodes"] = boot
    return lt.session(s)
a = session(p1)
b = session(p2, f"127.0.0.1:{p1}" if mode == "dht" else None)
a.add_torrent({"ti": ti, "save_path": f"{work}/seed"})
if mode == "dht":
    time.sleep(5)
    sys.exit(0)
hb = b.add_torrent({"ti": ti, "save_path": f"{work}/leech"})
time.sleep(0.5)
hb.connect_peer(("127.0.0.1", p1))
end = time.time() + 20
while time.time() < end and not hb.status().is_seeding:
    time.sleep(0.2)
print(str(ti.info_hashes().v1) if hb.status().is_seeding else "incomplete")
"""


@pytest.mark.parametrize("mode", ["tcp", "utp", "dht"])
def test_bittorrent_libtorrent(tmp_path: Path, mode: str) -> None:
    need("/usr/bin/python3")
    if sh("/usr/bin/python3", "-c", "import libtorrent").returncode != 0:
        pytest.skip("python3-libtorrent not installed")
    p1, p2 = free_port(), free_port()
    (tmp_path / "swarm.py").write_text(SWARM)
    transport = "tcp" if mode == "tcp" else "udp"
    with capture(tmp_path / "b.pcap", f"{transport} port {p1}"):
        out = sh(
            "/usr/bin/python3", str(tmp_path / "swarm.py"), str(tmp_path), mode, str(p1), str(p2)
        )
    recs = app_records(tmp_path / "b.pcap")
    assert recs and {r["app"]["protocol"] for r in recs} == {"BitTorrent"}
    bt = recs[0]["app"]["bittorrent"]
    assert bt["kind"] == mode
    if mode == "dht":
        assert bt["dht_queries"] and bt["dht_versions"][0].startswith("LT")
        return
    info_hash = out.stdout.strip()
    assert info_hash != "incomplete", out.stderr
    assert bt["info_hash"] == info_hash
    assert bt["client_names"] == ["netwatch-live/1.0", "netwatch-live/1.0"]
    assert all(c.startswith("libtorrent") for c in bt["clients"])
