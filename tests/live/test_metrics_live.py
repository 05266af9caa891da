"""Prometheus scrapes netwatch: a real server started here on loopback with a generated
config, then its HTTP API is asked for what it stored.

Two paths: the engine in-process on a replayed capture (the values are exact), and
``netwatch analyze -i lo --metrics`` as a process on traffic this test makes (the values
must equal the records the same process printed).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netwatch.capture.open import open_file
from netwatch.engine import Engine
from netwatch.metrics import Outputs
from netwatch.model.snapshot import ConnectionView
from tests.live.harness.proc import stop, wait_until
from tests.util.corpus import corpus_file

pytestmark = pytest.mark.live
NETWATCH = [sys.executable, "-m", "netwatch"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bytes(resp.read())


def _ok(url: str) -> bool:
    try:
        _get(url)
    except OSError:
        return False
    return True


class Prometheus:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def query(self, q: str) -> list[dict[str, Any]]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        body = json.loads(_get(url))
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, q: str) -> float | None:
        res = self.query(q)
        return float(res[0]["value"][1]) if res else None

    def wait_value(self, q: str, want: float, timeout: float = 30) -> float | None:
        """Poll until the query gives ``want`` (scrapes come once a second)."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.value(q)
            if got == want:
                return got
            time.sleep(0.5)
        return got


@contextlib.contextmanager
def prometheus(tmp: Path, target_port: int) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    port = _free_port()
    cfg = tmp / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
        "scrape_configs:\n  - job_name: netwatch\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: _ok(f"http://127.0.0.1:{port}/-/ready"), "prometheus", 30, proc)
        yield Prometheus(port)
    finally:
        stop(proc)
        log.close()


def test_prometheus_scrapes_a_replayed_capture(tmp_path: Path) -> None:
    views: list[ConnectionView] = []
    mport = _free_port()
    outputs = Outputs.open(metrics=f"127.0.0.1:{mport}")
    try:
        engine = Engine(
            open_file(str(corpus_file("ndpi_whatsapp_login_chat.pcap"))),
            on_finish=outputs.on_finish(views.append),
            on_snapshot=outputs.on_snapshot,
        )
        engine.run()
        with prometheus(tmp_path, mport) as prom:
            tr = engine.tracker
            assert prom.wait_value("netwatch_packets_total", tr.packets) == tr.packets
            assert prom.value("netwatch_bytes_total") == tr.bytes
            assert prom.value('up{job="netwatch"}') == 1
            total = sum(v.bytes_out + v.bytes_in for v in views)
            assert prom.value("sum(netwatch_protocol_bytes_total)") == total
            tls = sum(v.packets_out + v.packets_in for v in views if v.app_protocol == "TLS")
            assert tls > 0
            assert prom.value('netwatch_application_packets_total{app="TLS"}') == tls
            talkers = prom.query("netwatch_top_remote_bytes")
            assert 1 < len(talkers) <= 11
    finally:
        outputs.close()


def test_prometheus_scrapes_analyze_on_loopback(tmp_path: Path) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    sport = srv.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    mport = _free_port()
    out = tmp_path / "records.jsonl"
    try:
        with prometheus(tmp_path, mport) as prom:
            proc = subprocess.Popen(
                [*NETWATCH, "analyze", "-i", "lo", "-f", f"tcp port {sport}", "--duration", "10",
                 "--metrics", f"127.0.0.1:{mport}", "-o", str(out), "--attribution", "none"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                wait_until(lambda: _ok(f"http://127.0.0.1:{mport}/metrics"), "metrics", 10,
                           proc)  # fmt: skip
                time.sleep(1.0)
                for i in range(3):
                    with socket.create_connection(("127.0.0.1", sport)) as c:
                        c.sendall(b"y" * 5000 * (i + 1))
                        got = 0
                        while got < 5000 * (i + 1):
                            got += len(c.recv(65536))
                time.sleep(3.0)  # several scrapes of the final counts
                _, err = proc.communicate(timeout=30)
                assert proc.returncode == 0, err
            finally:
                stop(proc)
            records = [json.loads(line) for line in out.read_text().splitlines()]
            assert len(records) == 3
            packets = sum(r["packets_out"] + r["packets_in"] for r in records)
            nbytes = sum(r["bytes_out"] + r["bytes_in"] for r in records)
            assert prom.value("max_over_time(netwatch_packets_total[1m])") == packets
            assert prom.value("max_over_time(netwatch_bytes_total[1m])") == nbytes
            assert (
                prom.value('max_over_time(netwatch_protocol_bytes_total{proto="tcp"}[1m])')
                == nbytes
            )
            info = prom.query("last_over_time(netwatch_info[1m])")  # the target is gone now
            assert info and info[0]["metric"]["interface"] == "interface lo"
    finally:
        srv.close()
        thread.join(timeout=5)
    # The server went away with the process: the port is free again.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", mport)) != 0
