"""OpenVPNAnalyzer end to end on real tunnels: two OpenVPN 2.6 processes on loopback
(``--dev null``, a throwaway CA), over UDP and TCP, plain, tls-auth (SHA256) and tls-crypt;
the capture goes through the engine and must give the wrapping and the TLS handshake."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.live.test_apps_live import app_records, capture, need, sh
from tests.unit.dpi.test_http_live import free_port

pytestmark = pytest.mark.live


def _openvpn_certs(d: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh(
        "openssl",
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.crt"),
        "-days",
        "1",
        "-subj",
        "/CN=live-ca",
    )
    for n in ("server", "client"):
        sh(
            "openssl",
            "req",
            *ec,
            "-keyout",
            str(d / f"{n}.key"),
            "-out",
            str(d / f"{n}.csr"),
            "-subj",
            f"/CN=live-{n}",
        )
        sh(
            "openssl",
            "x509",
            "-req",
            "-in",
            str(d / f"{n}.csr"),
            "-CA",
            str(d / "ca.crt"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-out",
            str(d / f"{n}.crt"),
            "-days",
            "1",
        )
    sh("openvpn", "--genkey", "secret", str(d / "ta.key"))


@pytest.mark.parametrize(
    "proto,wrap,hmac",
    [
        ("udp", "none", None),
        ("tcp", "none", None),
        ("udp", "tls-auth", 32),
        ("udp", "tls-crypt", None),
    ],
)
def test_openvpn(tmp_path: Path, proto: str, wrap: str, hmac: int | None) -> None:
    need("openvpn", "openssl")
    _openvpn_certs(tmp_path)
    port = free_port()
    common = [
        "openvpn",
        "--dev",
        "null",
        "--ping",
        "1",
        "--verb",
        "1",
        "--ca",
        str(tmp_path / "ca.crt"),
        "--auth",
        "SHA256",
    ]
    side = {
        "server": [
            "--tls-server",
            "--local",
            "127.0.0.1",
            "--lport",
            str(port),
            "--dh",
            "none",
            "--proto",
            "tcp-server" if proto == "tcp" else "udp",
        ],
        "client": [
            "--tls-client",
            "--remote",
            "127.0.0.1",
            str(port),
            "--nobind",
            "--proto",
            "tcp-client" if proto == "tcp" else "udp",
        ],
    }
    for n, direction in (("server", "0"), ("client", "1")):
        side[n] += ["--cert", str(tmp_path / f"{n}.crt"), "--key", str(tmp_path / f"{n}.key")]
        if wrap == "tls-auth":
            side[n] += ["--tls-auth", str(tmp_path / "ta.key"), direction]
        elif wrap == "tls-crypt":
            side[n] += ["--tls-crypt", str(tmp_path / "ta.key")]
    log = (tmp_path / "client.log").open("w")
    with capture(tmp_path / "o.pcap", f"{proto} port {port}"):
        server = subprocess.Popen([*common, *side["server"]], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        client = subprocess.Popen([*common, *side["client"]], stdout=log)
        try:
            end = time.monotonic() + 20
            while "Initialization Sequence Completed" not in (tmp_path / "client.log").read_text():
                assert time.monotonic() < end, (tmp_path / "client.log").read_text()[-500:]
                time.sleep(0.2)
            time.sleep(2.5)  # a few data-channel pings
        finally:
            for p in (client, server):
                p.terminate()
                p.wait(timeout=10)
    (rec,) = app_records(tmp_path / "o.pcap")
    ovpn = rec["app"]["openvpn"]
    assert rec["app"]["protocol"] == "OpenVPN" and ovpn["transport"] == proto
    assert (ovpn["control_wrapping"], ovpn["hmac_size"]) == (wrap, hmac)
    assert ovpn["data_packets"] >= 2
    if wrap != "tls-crypt":
        assert ovpn["tls"]["version"] == "TLSv1.3"
