"""HTTPAnalyzer on real traffic: curl against nginx on loopback, through a recording relay.

The relay (also used by the SSH and DNS live tests) accepts on 127.0.0.1, connects to
the real server and records every chunk each side sends, in order, as the analyzer
would receive them from the engine.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.http import HTTPAnalyzer, detect_tcp

pytestmark = pytest.mark.live


class Relay:
    """A loopback TCP relay that records (direction, bytes) per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[list[tuple[Dir, bytes]]] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stop = False
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            chunks: list[tuple[Dir, bytes]] = []
            with self._lock:
                self.conns.append(chunks)
            server = socket.create_connection(("127.0.0.1", self.upstream))
            for src, dst, d in ((client, server, Dir.CLIENT), (server, client, Dir.SERVER)):
                t = threading.Thread(target=self._pump, args=(src, dst, d, chunks), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(
        self, src: socket.socket, dst: socket.socket, d: Dir, chunks: list[tuple[Dir, bytes]]
    ) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:
                    chunks.append((d, data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.listener.close()
        self._accept.join(timeout=2)
        for t in self._threads:
            t.join(timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


NGINX_CONF = """
daemon off;
user root;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location /chunked {{ chunked_transfer_encoding on; return 200 "chunky body\\n"; }}
        location /echo {{ return 201 "made\\n"; }}
        location /gone {{ return 404; }}
    }}
    server {{
        listen 127.0.0.1:{h2port} http2;
        root {root}/www;
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """(HTTP/1.1 port, cleartext HTTP/2 prior-knowledge port)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx not installed")
    root = tmp_path_factory.mktemp("nginx")
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("<h1>hello</h1>\n" * 100)
    (root / "www" / "big.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    port, h2port = free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, h2port=h2port))
    proc = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        wait_port(h2port)
        yield port, h2port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def nginx(nginx_ports: tuple[int, int]) -> int:
    return nginx_ports[0]


def curl(port: int, *args: str) -> None:
    subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "--max-time", "10", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "no_proxy": "*"},
    )


def analyze(chunks: list[tuple[Dir, bytes]]) -> HTTPAnalyzer:
    a = HTTPAnalyzer()
    for d, data in chunks:
        a.feed(d, data, 0.0)
    return a


def test_curl_keepalive_head_post_404_and_big_body(nginx: int) -> None:
    relay = Relay(nginx)
    try:
        base = f"http://127.0.0.1:{relay.port}"
        curl(
            relay.port,
            f"{base}/index.html",
            "--next",
            "-I",
            f"{base}/index.html",
            "--next",
            "-d",
            "a=1&b=2",
            f"{base}/echo",
            "--next",
            f"{base}/gone",
            "--next",
            f"{base}/big.bin",
            "--next",
            f"{base}/chunked",
        )
    finally:
        relay.close()
    assert len(relay.conns) == 1, "curl reuses one keep-alive connection"
    chunks = relay.conns[0]
    assert detect_tcp(chunks[0][1])
    rows = [
        (r["method"], r["path"], r["status"], r["request_body_bytes"], r["response_body_bytes"])
        for r in analyze(chunks).record()["requests"]
    ]
    assert rows == [
        ("GET", "/index.html", 200, 0, 1500),
        ("HEAD", "/index.html", 200, 0, 0),
        ("POST", "/echo", 201, 7, 5),
        ("GET", "/gone", 404, 0, rows[3][4]),
        ("GET", "/big.bin", 200, 0, 1 << 20),
        ("GET", "/chunked", 200, 0, 12),
    ]
    assert rows[3][4] > 0  # nginx's own error page
    # the same bytes, one byte at a time (the big body in 4 KiB steps)
    fine = [
        (d, data[i : i + 1 if len(data) < 5000 else i + 4096])
        for d, data in chunks
        for i in range(0, len(data), 1 if len(data) < 5000 else 4096)
    ]
    assert analyze(fine).record() == analyze(chunks).record()


def test_curl_http2_prior_knowledge_to_nginx_is_refused_cleanly(nginx: int) -> None:
    """nginx without 'http2' answers a prior-knowledge preface with HTTP/1 400; the client
    side is still parsed as HTTP/2 and the server side's bytes never raise."""
    relay = Relay(nginx)
    try:
        subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "5",
                "--http2-prior-knowledge",
                f"http://127.0.0.1:{relay.port}/",
            ],
            check=False,
        )
    finally:
        relay.close()
    a = HTTPAnalyzer()
    for d, data in relay.conns[0]:
        if d is Dir.CLIENT:
            a.feed(d, data, 0.0)
    rec = a.record()
    assert rec["version"] == "h2c"
    assert [(r["method"], r["path"]) for r in rec["requests"]] == [("GET", "/")]


def test_curl_h2c_prior_knowledge(nginx_ports: tuple[int, int]) -> None:
    """Real HPACK (nginx's encoder: Huffman, indexed fields) and real DATA framing with
    flow control. One request per connection: curl 7.88 fails to reuse a prior-knowledge
    connection (exit 16 even without the relay)."""
    relay = Relay(nginx_ports[1])
    paths = ["/index.html", "/big.bin", "/nothing-here"]
    try:
        for path in paths:
            curl(relay.port, "--http2-prior-knowledge", f"http://127.0.0.1:{relay.port}{path}")
    finally:
        relay.close()
    assert len(relay.conns) == 3
    host = f"127.0.0.1:{relay.port}"
    rows = []
    for chunks in relay.conns:
        assert chunks[0][1].startswith(b"PRI * HTTP/2.0")
        rec = analyze(chunks).record()
        assert rec["version"] == "h2c"
        (r,) = rec["requests"]
        assert r["server"].startswith("nginx") and r["user_agent"].startswith("curl/")
        rows.append((r["method"], r["host"], r["path"], r["status"], r["response_body_bytes"]))
    assert rows[:2] == [
        ("GET", host, "/index.html", 200, 1500),
        ("GET", host, "/big.bin", 200, 1 << 20),
    ]
    assert rows[2][:4] == ("GET", host, "/nothing-here", 404) and rows[2][4] > 0
