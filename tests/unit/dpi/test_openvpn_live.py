"""OpenVPNAnalyzer end to end on real tunnels: two OpenVPN 2.6 processes on loopback
(``--dev null``, a throwaway CA), over UDP and TCP, plain, tls-auth (SHA256), tls-crypt and
tls-crypt-v2; the capture goes through the engine and must give the wrapping and the TLS
handshake."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.live.test_apps_live import app_records, capture, need, sh
from tests.unit.dpi.test_http_live import free_port

pytestmark = pytest.mark.live


def _keys(d: Path) -> None:
    """A throwaway CA, server and client certificates, and the control-channel keys."""
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    sh(*f"openssl req -x509 {ec} -keyout {d}/ca.key -out {d}/ca.crt -subj /CN=live-ca".split())
    for n in ("server", "client"):
        sh(*f"openssl req {ec} -keyout {d}/{n}.key -out {d}/{n}.csr -subj /CN=live-{n}".split())
        sh(
            *f"openssl x509 -req -in {d}/{n}.csr -CA {d}/ca.crt -CAkey {d}/ca.key -days 1"
            f" -CAcreateserial -out {d}/{n}.crt".split()
        )
    sh(*f"openvpn --genkey secret {d}/ta.key".split())
    sh(*f"openvpn --genkey tls-crypt-v2-server {d}/v2s.key".split())
    sh(*f"openvpn --tls-crypt-v2 {d}/v2s.key --genkey tls-crypt-v2-client {d}/v2c.key".split())


#: wrapping -> (server options, client options) for the control channel
WRAP_ARGS = {
    "none": ("", ""),
    "tls-auth": ("--tls-auth {d}/ta.key 0", "--tls-auth {d}/ta.key 1"),
    "tls-crypt": ("--tls-crypt {d}/ta.key", "--tls-crypt {d}/ta.key"),
    "tls-crypt-v2": ("--tls-crypt-v2 {d}/v2s.key", "--tls-crypt-v2 {d}/v2c.key"),
}


@pytest.mark.parametrize(
    "proto,wrap,hmac",
    [
        ("udp", "none", None),
        ("tcp", "none", None),
        ("udp", "tls-auth", 32),  # --auth SHA256
        ("udp", "tls-crypt", None),
        ("tcp", "tls-crypt-v2", None),
    ],
)
def test_openvpn(tmp_path: Path, proto: str, wrap: str, hmac: int | None) -> None:
    need("openvpn", "openssl")
    d = tmp_path
    _keys(d)
    port = free_port()
    common = f"openvpn --dev null --ping 1 --verb 1 --auth SHA256 --ca {d}/ca.crt"
    server = (
        f"{common} --tls-server --local 127.0.0.1 --lport {port} --dh none"
        f" --proto {'tcp-server' if proto == 'tcp' else 'udp'}"
        f" --cert {d}/server.crt --key {d}/server.key {WRAP_ARGS[wrap][0].format(d=d)}"
    )
    client = (
        f"{common} --tls-client --remote 127.0.0.1 {port} --nobind"
        f" --proto {'tcp-client' if proto == 'tcp' else 'udp'}"
        f" --cert {d}/client.crt --key {d}/client.key {WRAP_ARGS[wrap][1].format(d=d)}"
    )
    log = d / "client.log"
    with capture(d / "o.pcap", f"{proto} port {port}"), log.open("w") as out:
        procs = [subprocess.Popen(server.split(), stdout=subprocess.DEVNULL)]
        time.sleep(0.5)
        procs.append(subprocess.Popen(client.split(), stdout=out))
        try:
            end = time.monotonic() + 20
            while "Initialization Sequence Completed" not in log.read_text():
                assert time.monotonic() < end, log.read_text()[-500:]
                time.sleep(0.2)
            time.sleep(2.5)  # a few data-channel pings
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    (rec,) = app_records(d / "o.pcap")
    ovpn = rec["app"]["openvpn"]
    assert rec["app"]["protocol"] == "OpenVPN" and ovpn["transport"] == proto
    assert (ovpn["control_wrapping"], ovpn["hmac_size"]) == (wrap.removesuffix("-v2"), hmac)
    assert ovpn["data_packets"] >= 2
    if wrap.startswith("tls-crypt"):
        assert ovpn["tls"] is None
    else:
        assert ovpn["tls"]["version"] == "TLSv1.3"
