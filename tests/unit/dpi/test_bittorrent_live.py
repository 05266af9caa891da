"""BitTorrentAnalyzer end to end on real swarms: two libtorrent sessions (Debian's
python3-libtorrent, run by the system interpreter) on loopback, a download over TCP and
over uTP (encryption off, as MSE hides the handshake), a DHT bootstrap, and announces to
a real opentracker over UDP."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.live.test_apps_live import app_records, capture, need, sh
from tests.unit.dpi.test_http_live import free_port

pytestmark = pytest.mark.live

SWARM = """
import os, sys, time
import libtorrent as lt
work, mode, tracker = sys.argv[1], sys.argv[2], sys.argv[5]
p1, p2 = int(sys.argv[3]), int(sys.argv[4])
tfile = f"{work}/t.torrent"
if not os.path.exists(tfile):  # "make": the payload and a v1 torrent (one info hash)
    for d in ("seed", "leech"):
        os.makedirs(f"{work}/{d}", exist_ok=True)
    with open(f"{work}/seed/payload.bin", "wb") as fh:
        fh.write(os.urandom(256 * 1024))
    fs = lt.file_storage()
    lt.add_files(fs, f"{work}/seed/payload.bin")
    ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
    if tracker != "0":
        ct.add_tracker(f"udp://127.0.0.1:{tracker}/announce")
    lt.set_piece_hashes(ct, f"{work}/seed")
    with open(tfile, "wb") as fh:
        fh.write(lt.bencode(ct.generate()))
ti = lt.torrent_info(tfile)
if mode == "make":
    print(str(ti.info_hashes().v1))
    sys.exit(0)
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
if mode != "tracker":  # with a tracker the leecher learns the seeder from it
    hb.connect_peer(("127.0.0.1", p1))
end = time.time() + 20
while time.time() < end and not hb.status().is_seeding:
    time.sleep(0.2)
print(str(ti.info_hashes().v1) if hb.status().is_seeding else "incomplete")
"""


def swarm(work: Path, mode: str, p1: int, p2: int, tracker: int = 0) -> str:
    script = work / "swarm.py"
    script.write_text(SWARM)
    out = sh("/usr/bin/python3", str(script), str(work), mode, str(p1), str(p2), str(tracker))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def need_libtorrent() -> None:
    need("/usr/bin/python3")
    if sh("/usr/bin/python3", "-c", "import libtorrent").returncode != 0:
        pytest.skip("python3-libtorrent not installed")


@pytest.mark.parametrize("mode", ["tcp", "utp", "dht"])
def test_bittorrent_libtorrent(tmp_path: Path, mode: str) -> None:
    need_libtorrent()
    p1, p2 = free_port(), free_port()
    transport = "tcp" if mode == "tcp" else "udp"
    with capture(tmp_path / "b.pcap", f"{transport} port {p1}"):
        info_hash = swarm(tmp_path, mode, p1, p2)
    recs = app_records(tmp_path / "b.pcap")
    assert recs and {r["app"]["protocol"] for r in recs} == {"BitTorrent"}
    bt = recs[0]["app"]["bittorrent"]
    assert bt["kind"] == mode
    if mode == "dht":
        assert bt["dht_queries"] and bt["dht_versions"][0].startswith("LT")
        return
    assert info_hash != "incomplete"
    assert bt["info_hash"] == info_hash
    assert bt["client_names"] == ["netwatch-live/1.0", "netwatch-live/1.0"]
    assert all(c.startswith("libtorrent") for c in bt["clients"])


def test_opentracker_udp(tmp_path: Path) -> None:
    """Both sessions announce to a real opentracker over UDP; the leecher finds the seeder
    through it. opentracker lists only whitelisted torrents, so the torrent is made first."""
    need_libtorrent()
    need("opentracker")
    os.chmod(tmp_path, 0o755)  # opentracker drops to nobody and chroots here
    p1, p2, tport = free_port(), free_port(), free_port()
    info_hash = swarm(tmp_path, "make", p1, p2, tport)
    (tmp_path / "white").write_text(info_hash + "\n")
    argv = f"opentracker -i 127.0.0.1 -p {tport} -P {tport} -d {tmp_path} -w /white"
    tracker = subprocess.Popen(argv.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        with capture(tmp_path / "t.pcap", f"udp port {tport}"):
            assert swarm(tmp_path, "tracker", p1, p2, tport) == info_hash
    finally:
        tracker.terminate()
        tracker.wait(timeout=10)
    recs = [r["app"]["bittorrent"] for r in app_records(tmp_path / "t.pcap")]
    assert len(recs) == 2 and {r["kind"] for r in recs} == {"tracker"}
    assert {r["info_hash"] for r in recs} == {info_hash}
    assert "announce" in recs[0]["tracker_actions"] and recs[0]["tracker_event"] == "started"
    assert max(r["tracker_seeders"] or 0 for r in recs) >= 1
    assert sum(r["tracker_peers"] or 0 for r in recs) >= 1
