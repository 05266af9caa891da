"""IPFIX to a real collector: nfcapd (nfdump) on loopback receives netwatch's export, and
``nfdump`` reads it back; every flow must match netwatch's own connection records.

Three paths: ``netwatch analyze -r CAPTURE --ipfix`` (a process), ``analyze -i lo`` on
traffic this test makes, and the engine in-process with a short active timeout, so long
connections arrive as several delta records that must add up to the record's totals.
"""

from __future__ import annotations

import contextlib
import csv
import io
import ipaddress
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netwatch.capture.open import open_file
from netwatch.engine import Engine
from netwatch.export.ipfix_exporter import IpfixExporter
from netwatch.model.snapshot import ConnectionView
from tests.live.harness.proc import stop, wait_until
from tests.util.corpus import corpus_file

pytestmark = pytest.mark.live
NETWATCH = [sys.executable, "-m", "netwatch"]
#: nfdump's protocol names → the record's ``proto``.
PROTO = {"TCP": "tcp", "UDP": "udp", "ICMP": "icmp", "ICMP6": "icmpv6"}
Key = tuple[str, str, int, int, str, int]  # src, dst, sport, dport, proto, vlan


def _tools() -> tuple[str, str]:
    nfcapd, nfdump = shutil.which("nfcapd"), shutil.which("nfdump")
    if nfcapd is None or nfdump is None:
        pytest.skip("nfcapd/nfdump not installed (Debian package nfdump)")
    return nfcapd, nfdump


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def collector(tmp: Path) -> Iterator[tuple[int, Path]]:
    """nfcapd bound to 127.0.0.1; stopped (and its file closed) when the block ends."""
    nfcapd, _ = _tools()
    flows = tmp / "flows"
    flows.mkdir()
    port = _free_udp_port()
    log = (tmp / "nfcapd.log").open("wb")
    proc = subprocess.Popen(
        [nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", str(flows), "-t", "3600"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(
            lambda: b"Startup" in (tmp / "nfcapd.log").read_bytes(),
            "nfcapd",
            10,
            proc,
        )
        yield port, flows
    finally:
        stop(proc)
        log.close()


def read_flows(flows: Path) -> list[dict[str, str]]:
    _, nfdump = _tools()
    out = subprocess.run(
        [nfdump, "-R", str(flows), "-o", "csv"], capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    rows = []
    for row in csv.DictReader(io.StringIO(out.stdout)):
        if not row.get("sa") or row["ts"].startswith("Summary"):
            break  # the summary lines after the flows
        rows.append(row)
    return rows


def _addr(text: str) -> str:
    return str(ipaddress.ip_address(text.strip()))


def collected(rows: list[dict[str, str]]) -> tuple[Counter[Key], Counter[Key], Counter[Key]]:
    """(packets, bytes, records) per unidirectional flow as nfdump read them."""
    pk: Counter[Key] = Counter()
    by: Counter[Key] = Counter()
    n: Counter[Key] = Counter()
    for r in rows:
        proto = PROTO.get(r["pr"].strip(), r["pr"].strip().lower())
        ported = proto in ("tcp", "udp")
        key = (
            _addr(r["sa"]), _addr(r["da"]), int(r["sp"]) if ported else 0,
            int(r["dp"].split(".")[0]) if ported else 0, proto, int(r["svln"]),
        )  # fmt: skip
        pk[key] += int(r["ipkt"])
        by[key] += int(r["ibyt"])
        n[key] += 1
    return pk, by, n


def expected(records: list[dict[str, Any]]) -> tuple[Counter[Key], Counter[Key]]:
    """The same from netwatch's records: local → remote and remote → local."""
    pk: Counter[Key] = Counter()
    by: Counter[Key] = Counter()
    for r in records:
        if r["ip_version"] not in (4, 6):
            continue
        ported = r["proto"] in ("tcp", "udp")
        lp, rp = (r["local_port"], r["remote_port"]) if ported else (0, 0)
        vlan = r["vlan"] or 0
        la, ra = _addr(r["local_addr"]), _addr(r["remote_addr"])
        # octetDeltaCount, nfdump's ibyt, counts IP headers and payload (RFC 7012).
        for key, p, b in (
            ((la, ra, lp, rp, r["proto"], vlan), r["packets_out"], r["ip_bytes_out"]),
            ((ra, la, rp, lp, r["proto"], vlan), r["packets_in"], r["ip_bytes_in"]),
        ):
            if p:
                pk[key] += p
                by[key] += b
    return pk, by


@pytest.mark.parametrize(
    "name",
    ["ndpi_whatsapp_login_chat.pcap", "ndpi_http_ipv6.pcap", "sv_eve-flow-vlan-qinq.pcap",
     "ndpi_bittorrent.pcap"],
)  # fmt: skip
def test_analyze_file_to_nfcapd(tmp_path: Path, name: str) -> None:
    capture = corpus_file(name)
    out = tmp_path / "records.jsonl"
    with collector(tmp_path) as (port, flows):
        subprocess.run(
            [*NETWATCH, "analyze", "-r", str(capture), "--ipfix", f"127.0.0.1:{port}",
             "-o", str(out)],
            check=True, timeout=120, capture_output=True,
        )  # fmt: skip
        time.sleep(0.5)  # let nfcapd take the last datagrams off its socket
    records = [json.loads(line) for line in out.read_text().splitlines()]
    pk, by, _ = collected(read_flows(flows))
    want_pk, want_by = expected(records)
    assert want_pk and pk == want_pk
    assert by == want_by


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def test_live_capture_on_loopback_to_nfcapd(tmp_path: Path) -> None:
    srv, thread = _echo_server()
    sport = srv.getsockname()[1]
    out = tmp_path / "records.jsonl"
    try:
        with collector(tmp_path) as (port, flows):
            proc = subprocess.Popen(
                [*NETWATCH, "analyze", "-i", "lo", "-f", f"tcp port {sport}", "--duration", "5",
                 "--ipfix", f"127.0.0.1:{port}", "-o", str(out), "--attribution", "none"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                time.sleep(2.0)  # the capture is open
                for i in range(5):
                    with socket.create_connection(("127.0.0.1", sport)) as c:
                        c.sendall(b"x" * (1000 * (i + 1)))
                        got = 0
                        while got < 1000 * (i + 1):
                            got += len(c.recv(65536))
                _, err = proc.communicate(timeout=30)
                assert proc.returncode == 0, err
            finally:
                stop(proc)
            time.sleep(0.5)
    finally:
        srv.close()
        thread.join(timeout=5)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5 and all(r["remote_port"] == sport or r["local_port"] == sport
                                     for r in records)  # fmt: skip
    pk, by, _ = collected(read_flows(flows))
    want_pk, want_by = expected(records)
    assert pk == want_pk and by == want_by
    assert sum(want_by.values()) > 2 * sum(1000 * (i + 1) for i in range(5))


def test_active_timeout_updates_add_up(tmp_path: Path) -> None:
    """ndpi_ssh.pcap holds a four-minute SSH session: with a 30 s active timeout (of the
    capture's clock, snapshots once a capture second) it arrives as several records."""
    views: list[ConnectionView] = []
    with collector(tmp_path) as (port, flows):
        exporter = IpfixExporter("127.0.0.1", port, active_timeout=30)

        def finished(v: ConnectionView) -> None:
            views.append(v)
            exporter.finished(v)

        engine = Engine(
            open_file(str(corpus_file("ndpi_ssh.pcap"))),
            on_finish=finished,
            on_snapshot=exporter.snapshot,
        )
        engine.start()  # its own thread: a snapshot per second of the capture's clock
        try:
            seq = 0
            deadline = time.monotonic() + 60
            while not engine.finished and time.monotonic() < deadline:
                snap = engine.wait_next(seq, 1.0)
                seq = snap.seq if snap is not None else seq
        finally:
            engine.stop()
            exporter.close()
        time.sleep(0.5)
    assert engine.finished
    pk, by, n = collected(read_flows(flows))
    want_pk, want_by = expected([v.to_record() for v in views])
    assert pk == want_pk and by == want_by
    longest = max(views, key=lambda v: v.last_seen - v.first_seen)
    assert longest.last_seen - longest.first_seen > 200
    key = (_addr(longest.local_addr), _addr(longest.remote_addr), longest.local_port,
           longest.remote_port, "tcp", 0)  # fmt: skip
    # Snapshots come only with packets, and the session has long quiet gaps: at least
    # two active-timeout records and the final one, adding up to the row's totals above.
    assert n[key] >= 3
    assert exporter.stats().send_errors == 0
