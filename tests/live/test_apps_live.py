"""App analyzers against real servers and clients, end to end through the engine.

Each test starts a real daemon on 127.0.0.1, drives it with its real client, captures the
loopback traffic with tcpdump and checks what ``netwatch analyze`` makes of the capture:
Redis (redis-server, redis-cli), PostgreSQL (postgres, psql), MariaDB (mariadbd, mariadb)
and MQTT (mosquitto, mosquitto_pub/sub). The helpers here (``capture``, ``app_records``)
also serve the OpenVPN, WireGuard and BitTorrent live tests beside their unit tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.dpi.test_http_live import free_port, wait_port
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR

pytestmark = pytest.mark.live


def need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (tcpdump)")
    for tool in ("tcpdump", *tools):
        if shutil.which(tool) is None and not Path(tool).exists():
            pytest.skip(f"{tool} not installed")


@contextlib.contextmanager
def capture(path: Path, bpf: str, iface: str = "lo", ns: str | None = None) -> Iterator[None]:
    argv = ["tcpdump", "--immediate-mode", "-U", "-n", "-i", iface, "-s", "0", "-w", str(path)]
    if ns is not None:
        argv = ["ip", "netns", "exec", ns, *argv]
    proc = subprocess.Popen([*argv, bpf], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "listening on lo, ..." once the socket is open
        assert "listening" in line, line
        yield
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def app_records(pcap: Path) -> list[dict[str, Any]]:
    recs = [r for r in analyze(pcap) if r.get("app")]
    for rec in recs:
        errors = list(VALIDATOR.iter_errors(rec))
        assert not errors, errors[0].message
    return sorted(recs, key=lambda r: r["first_seen"])


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory daemons that drop root (postgres, mysql, mosquitto) can
    traverse: pytest's own is private to root."""
    path = Path(tempfile.mkdtemp(prefix="nwt-apps-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sh(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, **kw)


def test_redis(tmp_path: Path) -> None:
    need("redis-server", "redis-cli")
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "pw1",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        cli = ["redis-cli", "-p", str(port), "--no-auth-warning"]
        (tmp_path / "value").write_bytes(b"v" * 300_000)
        with capture(tmp_path / "r.pcap", f"tcp port {port}"):
            sh(*cli, "-a", "nope", "PING")
            with (tmp_path / "value").open("rb") as fh:
                sh(*cli, "-a", "pw1", "-x", "SET", "big", stdin=fh)
            assert sh(*cli, "-a", "pw1", "STRLEN", "big").stdout.strip() == "300000"
            sh(*cli, "-a", "pw1", "-3", "HELLO", "3", "SETNAME", "live")
    finally:
        server.terminate()
        server.wait(timeout=10)
    refused, big, strlen, hello = (r["app"] for r in app_records(tmp_path / "r.pcap"))
    assert refused["protocol"] == "Redis" and refused["redis"]["auth"] == "failed"
    assert big["redis"]["commands"] == ["AUTH", "SET"] and big["redis"]["errors"] == 0
    assert strlen["redis"]["commands"] == ["AUTH", "STRLEN"]
    assert hello["redis"]["resp_version"] == 3 and hello["redis"]["client_name"] == "live"
    assert hello["redis"]["server_version"]


def _pg_bin() -> Path:
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "postgres").exists():
            return cand
    pytest.skip("postgresql server not installed")


def test_postgresql(open_tmp: Path) -> None:
    tmp_path = open_tmp
    need("psql", "openssl")
    bindir = _pg_bin()
    if sh("id", "postgres").returncode != 0:
        pytest.skip("no postgres user")
    root = tmp_path / "pg"
    root.mkdir()
    shutil.chown(root, "postgres")
    (tmp_path / "pw").write_text("s3cret\n")
    shutil.chown(tmp_path / "pw", "postgres")
    data = root / "data"
    init = sh(
        "su",
        "postgres",
        "-c",
        f"{bindir}/initdb -D {data} -A scram-sha-256 -U postgres --pwfile={tmp_path}/pw",
    )
    assert init.returncode == 0, init.stderr
    sh(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=pg.test",
        "-keyout",
        str(data / "server.key"),
        "-out",
        str(data / "server.crt"),
    )
    for name in ("server.key", "server.crt"):
        shutil.chown(data / name, "postgres")
    os.chmod(data / "server.key", 0o600)
    port = free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c ssl=on"
    ctl = f"{bindir}/pg_ctl -D {data} -l {root}/log"
    try:
        start = sh("su", "postgres", "-c", f"{ctl} -o '{opts}' -w start")
        assert start.returncode == 0, start.stderr
        env = {**os.environ, "PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "10"}
        dsn = f"host=127.0.0.1 port={port} user=postgres"
        with capture(tmp_path / "p.pcap", f"tcp port {port}"):
            ok = sh(
                "psql",
                f"{dsn} dbname=postgres sslmode=disable application_name=live",
                "-c",
                "SELECT 6 * 7",
                env=env,
            )
            assert "42" in ok.stdout
            sh(
                "psql",
                f"{dsn} dbname=postgres sslmode=disable",
                "-c",
                "SELECT 1",
                env={**env, "PGPASSWORD": "wrong"},
            )
            sh("psql", f"{dsn} dbname=postgres sslmode=require", "-c", "SELECT 2", env=env)
    finally:
        sh("su", "postgres", "-c", f"{ctl} -m fast stop")
    ok_rec, wrong, tls = (r["app"] for r in app_records(tmp_path / "p.pcap"))
    pg = ok_rec["postgresql"]
    assert ok_rec["protocol"] == "PostgreSQL" and pg["auth_ok"]
    assert (pg["user"], pg["database"], pg["application_name"]) == ("postgres", "postgres", "live")
    assert pg["queries"] == ["SELECT 6 * 7"] and pg["server_version"]
    assert wrong["postgresql"]["error"]["code"] == "28P01"
    assert tls["protocol"] == "TLS" and tls["postgresql"]["ssl_response"] == "S"
    assert tls["tls"]["version"] in ("TLSv1.2", "TLSv1.3")


def test_mariadb(open_tmp: Path) -> None:
    tmp_path = open_tmp
    need("mariadbd", "mariadb", "mariadb-install-db", "openssl")
    root = tmp_path / "my"
    root.mkdir()
    shutil.chown(root, "mysql")
    sh(
        "mariadb-install-db",
        f"--datadir={root}/data",
        "--user=mysql",
        "--auth-root-authentication-method=socket",
    )
    sh(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=my.test",
        "-keyout",
        str(root / "key.pem"),
        "-out",
        str(root / "cert.pem"),
    )
    for name in ("key.pem", "cert.pem"):
        shutil.chown(root / name, "mysql")
    port, sock = free_port(), root / "sock"
    server = subprocess.Popen(
        [
            "mariadbd",
            "--user=mysql",
            f"--datadir={root}/data",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={sock}",
            f"--pid-file={root}/pid",
            "--skip-log-bin",
            f"--ssl-cert={root}/cert.pem",
            f"--ssl-key={root}/key.pem",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, deadline=30)
        setup = (
            "CREATE USER 'live'@'127.0.0.1' IDENTIFIED BY 'pw2'; CREATE DATABASE app; "
            "GRANT ALL ON app.* TO 'live'@'127.0.0.1';"
        )
        assert sh("mariadb", "-S", str(sock), "-u", "root", "-e", setup).returncode == 0
        cli = ["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", "live"]
        with capture(tmp_path / "m.pcap", f"tcp port {port}"):
            out = sh(*cli, "-ppw2", "--skip-ssl", "app", "-e", "SELECT REPEAT('x', 70000) AS big")
            assert out.returncode == 0, out.stderr
            sh(*cli, "-pnope", "--skip-ssl", "-e", "SELECT 1")
            sh(*cli, "-ppw2", "--ssl", "--ssl-verify-server-cert=0", "-e", "SELECT 2")
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok, refused, tls = (r["app"] for r in app_records(tmp_path / "m.pcap"))
    my = ok["mysql"]
    assert ok["protocol"] == "MySQL" and "MariaDB" in my["server_version"]
    assert (my["user"], my["database"], my["login"]) == ("live", "app", "ok")
    assert my["queries"] == ["SELECT REPEAT('x', 70000) AS big"]
    assert refused["mysql"]["login"] == "failed" and refused["mysql"]["error"]["code"] == 1045
    assert tls["protocol"] == "TLS" and tls["mysql"]["ssl"]


def test_mosquitto(open_tmp: Path) -> None:
    tmp_path = open_tmp
    need("mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd")
    pw = tmp_path / "pw"
    sh("mosquitto_passwd", "-b", "-c", str(pw), "carol", "pw3")
    os.chmod(pw, 0o644)
    port = free_port()
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    (tmp_path / "payload").write_bytes(b"p" * 200_000)
    try:
        wait_port(port)
        auth = ["-h", "127.0.0.1", "-p", str(port), "-u", "carol", "-P", "pw3"]
        with capture(tmp_path / "q.pcap", f"tcp port {port}"):
            sub = subprocess.Popen(
                [
                    "mosquitto_sub",
                    *auth,
                    "-V",
                    "mqttv5",
                    "-i",
                    "live-sub",
                    "-q",
                    "1",
                    "-t",
                    "plant/+/level",
                    "-C",
                    "2",
                    "-W",
                    "10",
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            sh(
                "mosquitto_pub",
                *auth,
                "-V",
                "mqttv311",
                "-i",
                "live-pub",
                "-q",
                "1",
                "-t",
                "plant/a/level",
                "-m",
                "7",
            )
            sh(
                "mosquitto_pub",
                *auth,
                "-V",
                "mqttv31",
                "-i",
                "live-big",
                "-q",
                "2",
                "-t",
                "plant/b/level",
                "-f",
                str(tmp_path / "payload"),
            )
            sub.wait(timeout=15)
            sh(
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-u",
                "carol",
                "-P",
                "x",
                "-i",
                "live-bad",
                "-t",
                "t",
                "-m",
                "m",
            )
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    recs = {
        r["app"]["mqtt"]["client_id"]: r["app"]["mqtt"] for r in app_records(tmp_path / "q.pcap")
    }
    assert recs["live-sub"]["version"] == "5.0"
    assert recs["live-sub"]["subscribed"] == [{"topic": "plant/+/level", "qos": 1}]
    assert recs["live-sub"]["publishes"] == 2  # both messages delivered, the big one too
    assert recs["live-pub"]["published"] == ["plant/a/level"] and recs["live-pub"]["qos"] == [1]
    big = recs["live-big"]
    assert (big["version"], big["published"], big["qos"]) == ("3.1", ["plant/b/level"], [2])
    assert big["msg_types"][-1] == "DISCONNECT"  # framing kept across the 200 kB payload
    assert recs["live-bad"]["connack"] == "not_authorized"
