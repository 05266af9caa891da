"""``record --packets`` on real captures, read back through ``export`` and by tshark.

Each capture is recorded into its own store; exporting everything gives back every packet
of the capture, byte for byte; each connection's packets (by the comment tshark shows)
number exactly what ``analyze`` counts for it; one session exports alone.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pytest

from netwatch.cli import main
from netwatch.store import store_path
from netwatch.store.packets_export import search_payloads
from tests.util.corpus import corpus_file

#: Ethernet, Linux SLL2, IPv6, QinQ VLANs, DNS, SSH, IPv4 fragments (packets in no
#: connection until reassembled), a 6in4 tunnel, DHCP broadcasts, HTTP/1.1.
CAPTURES = (
    "foxio_tls-handshake.pcapng",
    "sv_decode-sll2-01.pcap",
    "ndpi_http_ipv6.pcap",
    "sv_eve-flow-vlan-qinq.pcap",
    "ndpi_ssh.pcap",
    "ndpi_dns_fragmented.pcap",
    "ndpi_6in4tunnel.pcap",
    "foxio_dhcp.pcapng",
    "foxio_http1-with-cookies.pcapng",
)

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@dataclass
class Recorded:
    capture: Path
    store: Path
    records: list[dict[str, Any]]


def _frames(path: Path) -> list[tuple[float, bytes]]:
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        reader = dpkt.pcapng.Reader(fh) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        return [(float(ts), bytes(buf)) for ts, buf in reader]


def _tshark(path: Path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recorded]:
    base = tmp_path_factory.mktemp("packets")
    out = {}
    for name in CAPTURES:
        cap = corpus_file(name)
        store = base / name
        assert main(["record", "-r", str(cap), "--store", str(store), "--packets"]) == 0
        jsonl = base / f"{name}.jsonl"
        assert main(["analyze", "-r", str(cap), "-o", str(jsonl), "--no-progress"]) == 0
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
        out[name] = Recorded(cap, store, records)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_export_all_gives_back_every_packet(
    recorded: dict[str, Recorded], name: str, tmp_path: Path
) -> None:
    r = recorded[name]
    out = tmp_path / "all.pcapng"
    assert main(["export", "--store", str(r.store), "--format", "pcapng", "-o", str(out)]) == 0
    got = _frames(out)
    want = _frames(r.capture)
    assert [d for _, d in got] == [d for _, d in want]
    assert [round(t, 6) for t, _ in got] == [round(t, 6) for t, _ in want]


@needs_tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_packets_per_connection_equal_analyze(
    recorded: dict[str, Recorded], name: str, tmp_path: Path
) -> None:
    r = recorded[name]
    out = tmp_path / "all.pcapng"
    assert main(["export", "--store", str(r.store), "--format", "pcapng", "-o", str(out)]) == 0
    comments = [row[0] for row in _tshark(out, "frame.comment")]
    assert all(c.startswith("conn=") for c in comments)
    per_conn = collections.Counter(c.split()[0].removeprefix("conn=") for c in comments)
    assert len(r.records) == len(set(per_conn) - {"-"})
    for rec in r.records:
        assert per_conn[str(rec["id"])] == rec["packets_out"] + rec["packets_in"], rec["id"]


@needs_tshark
def test_comments_name_direction_and_application(recorded: dict[str, Recorded]) -> None:
    r = recorded["ndpi_ssh.pcap"]
    # The stored files themselves (the capture spans over an hour: time rotation made two).
    files = sorted((r.store / "packets").glob("*.pcapng"))
    assert len(files) == 2
    rows = [row for f in files for row in _tshark(f, "frame.comment", "ip.src", "tcp.srcport")]
    client = next(rec for rec in r.records if rec["app"].get("protocol") == "SSH")
    cid = client["id"]
    mine = [row for row in rows if row[0].split()[0] == f"conn={cid}"]
    assert len(mine) == client["packets_out"] + client["packets_in"]
    for comment, _src, sport in mine:
        assert "app=SSH" in comment
        want = "dir=c2s" if int(sport) == client["local_port"] else "dir=s2c"
        assert want in comment, comment


@needs_tshark
def test_one_session(recorded: dict[str, Recorded], tmp_path: Path) -> None:
    r = recorded["foxio_tls-handshake.pcapng"]
    rec = max(r.records, key=lambda x: x["packets_out"] + x["packets_in"])
    out = tmp_path / "one.pcap"
    argv = ["export", "--store", str(r.store), "--conn", str(rec["id"]), "--format", "pcap"]
    assert main([*argv, "-o", str(out)]) == 0
    rows = _tshark(out, "ip.src", "ip.dst")
    assert len(rows) == rec["packets_out"] + rec["packets_in"]
    ends = {rec["local_addr"], rec["remote_addr"]}
    assert all({src, dst} == ends for src, dst in rows)


@needs_tshark
def test_filter_selects_sessions(recorded: dict[str, Recorded], tmp_path: Path) -> None:
    r = recorded["foxio_tls-handshake.pcapng"]
    quic = [x for x in r.records if x["app"].get("protocol") == "QUIC"]
    assert quic
    out = tmp_path / "quic.pcapng"
    argv = ["export", "--store", str(r.store), "proto:quic", "--format", "pcapng"]
    assert main([*argv, "-o", str(out)]) == 0
    rows = _tshark(out, "frame.comment", "udp.dstport")
    assert len(rows) == sum(x["packets_out"] + x["packets_in"] for x in quic)
    assert all("app=QUIC" in c for c, _ in rows)


@needs_tshark
def test_several_link_types_in_one_store(tmp_path: Path) -> None:
    """Two runs (Ethernet, then Linux SLL2) in one store: pcapng keeps both interfaces,
    pcap (one link type per file) is refused with a reason."""
    store = tmp_path / "s"
    eth = corpus_file("ndpi_dns.pcap")
    sll2 = corpus_file("sv_decode-sll2-01.pcap")
    for cap in (eth, sll2):
        assert main(["record", "-r", str(cap), "--store", str(store), "--packets"]) == 0
    out = tmp_path / "both.pcapng"
    assert main(["export", "--store", str(store), "--format", "pcapng", "-o", str(out)]) == 0
    encaps = collections.Counter(row[0] for row in _tshark(out, "frame.interface_id"))
    assert encaps == {"0": len(_frames(eth)), "1": len(_frames(sll2))}
    linktypes = _tshark(out, "frame.encap_type")
    assert len({row[0] for row in linktypes}) == 2
    assert main(["export", "--store", str(store), "--format", "pcap", "-o", str(out)]) == 2
    # One run's packets alone have one link type: pcap works.
    assert (
        main(["export", "--store", str(store), "--run", "2", "--format", "pcap", "-o", str(out)])
        == 0
    )
    assert len(_frames(out)) == len(_frames(sll2))


def test_record_formats_from_the_store(recorded: dict[str, Recorded], tmp_path: Path) -> None:
    r = recorded["foxio_tls-handshake.pcapng"]
    out = tmp_path / "c.jsonl"
    assert main(["export", "--store", str(r.store), "--format", "jsonl", "-o", str(out)]) == 0
    got = sorted(json.dumps(json.loads(x), sort_keys=True) for x in out.read_text().splitlines())
    assert got == sorted(json.dumps(x, sort_keys=True) for x in r.records)
    eve = tmp_path / "e.json"
    assert main(["export", "--store", str(r.store), "--format", "eve", "-o", str(eve)]) == 0
    types = collections.Counter(json.loads(x)["event_type"] for x in eve.read_text().splitlines())
    assert types["flow"] == len(r.records)
    assert types["tls"] > 0
    zeek = tmp_path / "z"
    assert main(["export", "--store", str(r.store), "--format", "zeek", "-o", str(zeek)]) == 0
    conn_log = [x for x in (zeek / "conn.log").read_text().splitlines() if not x.startswith("#")]
    assert len(conn_log) == len(r.records)
    assert (zeek / "ssl.log").exists()


def test_export_without_packets_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s"
    assert main(["record", "-r", str(corpus_file("ndpi_dns.pcap")), "--store", str(store)]) == 0
    out = tmp_path / "x.pcapng"
    assert main(["export", "--store", str(store), "udp", "--format", "pcapng", "-o", str(out)]) == 0
    assert "none has stored packets" in capsys.readouterr().err
    assert _frames(out) == []


def test_sampling_stores_fewer_packets_and_counts_all(tmp_path: Path) -> None:
    cap = corpus_file("ndpi_http_ipv6.pcap")
    store = tmp_path / "s"
    argv = ["record", "-r", str(cap), "--store", str(store), "--packets", "--sample", "4"]
    assert main(argv) == 0
    total = len(_frames(cap))
    out = tmp_path / "c.jsonl"
    assert main(["export", "--store", str(store), "--format", "jsonl", "-o", str(out)]) == 0
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert sum(r["packets_out"] + r["packets_in"] for r in records) == total
    pcap = tmp_path / "s.pcapng"
    assert main(["export", "--store", str(store), "--format", "pcapng", "-o", str(pcap)]) == 0
    assert len(_frames(pcap)) == total // 4
    db = sqlite3.connect(store_path(store))
    row = db.execute("SELECT seen, stored, sampled_out, sample_every FROM packet_stats").fetchone()
    db.close()
    assert row == (total, total // 4, total - total // 4, 4)


def test_sampling_needs_packets(tmp_path: Path) -> None:
    cap = str(corpus_file("ndpi_dns.pcap"))
    assert main(["record", "-r", cap, "--store", str(tmp_path), "--sample", "2"]) == 2


def test_payload_search(recorded: dict[str, Recorded], tmp_path: Path) -> None:
    """HTTP request lines in the stored packets select their connections; a budget bounds
    the search and says it stopped."""
    r = recorded["foxio_http1-with-cookies.pcapng"]
    http = [x for x in r.records if x["app"].get("protocol") == "HTTP"]
    assert http
    out = tmp_path / "p.jsonl"
    base = ["export", "--store", str(r.store), "--format", "jsonl", "-o", str(out)]
    assert main([*base, "--payload", r"^(GET|POST) /"]) == 0
    got = {json.loads(x)["id"] for x in out.read_text().splitlines()}
    assert got == {x["id"] for x in http}
    assert main([*base, "--payload", "no such bytes"]) == 0
    assert out.read_text() == ""
    found = search_payloads(r.store, None, re.compile(rb"HTTP/1\.1 200"), budget=1)
    assert found.truncated and len(found.matched) <= 1
    assert main([*base, "--payload", "("]) == 2


def test_payload_search_finds_server_names(recorded: dict[str, Recorded]) -> None:
    """SNI bytes in ClientHellos: the matching connections are those whose record names it
    (TLS over TCP; QUIC's Initial is encrypted, so its SNI is not in the clear)."""
    r = recorded["foxio_tls-handshake.pcapng"]
    sni = "static.xx.fbcdn.net"
    found = search_payloads(r.store, None, re.compile(re.escape(sni.encode())))
    assert not found.truncated
    want = {
        (1, x["id"])
        for x in r.records
        if x["app"].get("protocol") == "TLS" and x["app"]["tls"].get("sni") == sni
    }
    assert len(want) > 1
    assert found.matched == want


def test_retention_through_record(tmp_path: Path) -> None:
    """A second run with ``--retain`` removes the first run's old packet files and their
    index rows at its start, as the store removes their connections."""
    store = tmp_path / "s"
    first, second = corpus_file("ndpi_dns.pcap"), corpus_file("sv_decode-sll2-01.pcap")
    assert main(["record", "-r", str(first), "--store", str(store), "--packets"]) == 0
    assert list((store / "packets").glob("netwatch-r1-*.pcapng"))
    argv = ["record", "-r", str(second), "--store", str(store), "--packets", "--retain", "1d"]
    assert main(argv) == 0
    assert [p.name for p in (store / "packets").glob("*.pcapng")] == ["netwatch-r2-00001.pcapng"]
    db = sqlite3.connect(store_path(store))
    assert db.execute("SELECT DISTINCT run FROM packet_index").fetchall() == [(2,)]
    db.close()
    out = tmp_path / "all.pcapng"
    assert main(["export", "--store", str(store), "--format", "pcapng", "-o", str(out)]) == 0
    assert [d for _, d in _frames(out)] == [d for _, d in _frames(second)]
