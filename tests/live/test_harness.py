"""The live harness itself: namespace pairs come up, carry traffic and always go away."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dpkt
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.live.harness import certs, clients, netns, pcap, servers
from tests.live.harness.certs import CertSet
from tests.live.harness.netns import Pair
from tests.live.harness.servers import DnsServer, H3Server, NginxServer, SshServer

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parents[2]
TEST_V4 = ipaddress.ip_network("198.18.0.0/15")
TEST_V6 = ipaddress.ip_network("fd00::/8")

# A one-shot TCP echo server: prints "ready", echoes one message reversed, exits.
ECHO = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7007)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.sendall(c.recv(100)[::-1]); c.close()
"""
CONNECT = """
import socket, sys
c = socket.create_connection((sys.argv[1], 7007), timeout=5)
c.sendall(b"netwatch"); print(c.recv(100).decode())
"""


def _echo_roundtrip(pair: Pair, server_ip: str) -> str:
    srv = pair.server.popen(
        [sys.executable, "-c", ECHO, server_ip], stdout=subprocess.PIPE, text=True
    )
    try:
        assert srv.stdout is not None
        assert srv.stdout.readline().strip() == "ready"
        res = pair.client.run([sys.executable, "-c", CONNECT, server_ip], text=True)
        assert res.returncode == 0, res.stderr
        return str(res.stdout.strip())
    finally:
        srv.kill()
        srv.wait()


def _links(ns: str | None) -> str:
    return str(netns.run(ns, ["ip", "-br", "addr"], text=True).stdout)


def test_netpair_carries_v4_and_v6(netpair2: Pair) -> None:
    pair = netpair2
    assert pair.client.ns in netns.list_namespaces()
    assert pair.server.ns in netns.list_namespaces()
    for side in (pair.client, pair.server):
        assert side.ns is not None and side.ns.startswith("nwt-")
        shown = _links(side.ns)
        assert side.ifname in shown
        assert "lo" in shown and "UNKNOWN" in shown.splitlines()[0]
        for ip in (*side.ip4s, *side.ip6s):
            assert ip in shown
            addr = ipaddress.ip_address(ip)
            assert addr in (TEST_V4 if addr.version == 4 else TEST_V6)
    assert len(pair.server.ip4s) == 2 and len(pair.server.ip6s) == 2
    for ip in (*pair.server.ip4s, *pair.server.ip6s):
        assert _echo_roundtrip(pair, ip) == "hctawten"


def test_rootpair_client_is_root_namespace(rootpair: Pair) -> None:
    assert rootpair.client.ns is None
    assert rootpair.namespaces == (rootpair.server.ns,)
    assert f"{rootpair.client.ip4}/24" in _links(None)
    assert rootpair.client.ip4.endswith(".1") and rootpair.server.ip4.endswith(".2")
    assert _echo_roundtrip(rootpair, rootpair.server.ip4) == "hctawten"
    assert _echo_roundtrip(rootpair, rootpair.server.ip6) == "hctawten"


def test_close_removes_everything_and_kills_stragglers() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    with netns.make_rootpair() as pair:
        sleeper = pair.server.popen(["sleep", "600"])
        # Wait until the sleeper is inside the namespace: before that, close() could delete
        # the namespace under a not-yet-entered `ip netns exec` (exit 255, not a kill).
        deadline = time.monotonic() + 10
        pids = ["ip", "netns", "pids", pair.server.ns or ""]
        while str(sleeper.pid) not in netns.run(None, pids, text=True).stdout.split():
            assert time.monotonic() < deadline, "sleeper never entered the namespace"
            time.sleep(0.02)
        names = (*pair.namespaces, pair.client.ifname)
    # The sleeper was SIGKILLed by close(), the namespace and both veth ends are gone.
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    assert not set(names) & set(netns.list_namespaces())
    assert pair.client.ifname not in _links(None)
    pair.close()  # idempotent


def test_teardown_on_exception() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt), netns.make_netpair() as pair:
        seen.extend(pair.namespaces)
        raise KeyboardInterrupt
    assert len(seen) == 2
    assert not set(seen) & set(netns.list_namespaces())


def test_parallel_pairs_get_distinct_subnets(netpair: Pair, rootpair: Pair) -> None:
    assert netpair.index != rootpair.index
    assert netpair.stem != rootpair.stem
    assert netpair.subnet4 != rootpair.subnet4


CRASHER = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from tests.live.harness import netns
cm = netns.make_rootpair()
pair = cm.__enter__()
print(pair.stem, flush=True)
if sys.argv[2] == "crash":
    os.kill(os.getpid(), 9)
time.sleep(600)
"""


def _spawn_owner(mode: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(REPO), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    stem = proc.stdout.readline().strip()
    assert stem, "owner process did not build a pair"
    return proc, stem


def _mine(stem: str) -> list[str]:
    return [n for n in netns.list_namespaces() if n.startswith(f"nwt-{stem}")]


def test_sweep_removes_crashed_runs_only() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    alive, alive_stem = _spawn_owner("hold")
    crashed, crashed_stem = _spawn_owner("crash")
    try:
        assert crashed.wait(timeout=10) == -signal.SIGKILL
        assert _mine(crashed_stem), "a SIGKILLed run leaves its namespace behind"
        removed = netns.sweep_stale()
        assert f"nwt-{crashed_stem}-s" in removed
        assert not _mine(crashed_stem)
        # The live owner's namespace survives the sweep.
        assert _mine(alive_stem)
    finally:
        alive.kill()
        alive.wait()
    deadline = time.monotonic() + 5
    while _mine(alive_stem) and time.monotonic() < deadline:
        netns.sweep_stale()
        time.sleep(0.1)
    assert not _mine(alive_stem)
    assert f"nwt-{alive_stem}-c" not in _links(None)


def test_not_root_is_a_clean_skip_reason() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user")
    res = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
         "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
         "from tests.live.harness import netns\n"
         "try:\n    netns.require_netns()\nexcept netns.HarnessUnavailable as e:\n"
         "    print(e)"],
        capture_output=True, text=True, cwd="/", check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "root" in res.stdout


# --------------------------------------------------------------------------- servers

WWW, API, H3 = certs.WWW, certs.API, certs.H3


def _leaf_sha256(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.mark.parametrize("port", [80, 8082])
@pytest.mark.parametrize("family", ["ip4", "ip6"])
def test_nginx_plain_http(nginx_server: NginxServer, port: int, family: str) -> None:
    ip = getattr(nginx_server.side, family)
    host = f"[{ip}]" if family == "ip6" else ip
    index = clients.curl(None, f"http://{host}:{port}/index.html").check()
    assert index.stdout == servers.INDEX_HTML
    for path, size in nginx_server.sizes.items():
        got = clients.curl(None, f"http://{host}:{port}{path}").check().stdout
        assert len(got) == size
        assert hashlib.sha256(got).hexdigest() == nginx_server.sha256(path)
    assert clients.curl(None, f"http://{host}:{port}/missing").returncode == 22  # HTTP 404


TLS_CASES = [
    # port, name, curl --http, tls min, tls max, expected HTTP version
    (443, WWW, "2", "1.3", None, "2"),
    (443, API, "2", "1.2", "1.2", "2"),
    (443, WWW, "1.1", "1.2", "1.3", "1.1"),
    (8443, API, "2", "1.3", None, "1.1"),  # 8443 offers no h2: curl falls back
    (8443, WWW, "1.1", "1.2", "1.2", "1.1"),
]


@pytest.mark.parametrize(("port", "name", "http", "tls_min", "tls_max", "version"), TLS_CASES)
def test_nginx_tls_by_name(
    nginx_server: NginxServer,
    port: int,
    name: str,
    http: str,
    tls_min: str,
    tls_max: str | None,
    version: str,
) -> None:
    ip = nginx_server.side.ip4
    run = clients.curl(
        None,
        f"https://{name}:{port}/whoami",
        resolve={f"{name}:{port}": ip},
        http=http,
        tls_min=tls_min,
        tls_max=tls_max,
        cacert=nginx_server.certs.ca,  # the chain verifies against the test CA
        extra=["--write-out", "%{stderr}%{http_version}"],
    ).check()
    assert run.stdout == f"{name}\n".encode()  # nginx picked the server block by SNI
    assert run.stderr == version
    body = clients.curl(
        None, f"https://{name}:{port}/64k.bin", resolve={f"{name}:{port}": ip},
        http=http, cacert=nginx_server.certs.ca,
    ).check()  # fmt: skip
    assert body.stdout == servers.pattern_bytes(65536)


@pytest.mark.parametrize(
    ("port", "sni", "tls", "cert_name", "alpn"),
    [
        (443, WWW, "1.3", WWW, "h2"),
        (443, API, "1.2", API, "h2"),
        (443, "unknown.example", "1.3", WWW, "h2"),  # default server
        (8443, API, "1.3", API, "http/1.1"),
        (8443, WWW, "1.2", WWW, "http/1.1"),
    ],
)
def test_s_client_sees_the_named_certificate(
    nginx_server: NginxServer, port: int, sni: str, tls: str, cert_name: str, alpn: str
) -> None:
    ca = nginx_server.certs.ca if sni == cert_name else None
    run = clients.s_client(
        None, nginx_server.side.ip6, port, sni, tls=tls, alpn=("h2", "http/1.1"), cafile=ca
    )
    assert run.returncode == 0, run.stderr
    report = clients.parse_s_client(run.stdout)
    assert report.subject_cn == cert_name
    assert report.protocol == f"TLSv{tls}"
    assert report.alpn == alpn
    assert _leaf_sha256(report.leaf_pem) == nginx_server.certs[cert_name].sha256
    key_type = nginx_server.certs[cert_name].key_type
    assert ("ECDHE-RSA" in report.cipher) == (tls == "1.2" and key_type == "rsa-2048")


def test_client_pid_owns_the_connection(nginx_server: NginxServer) -> None:
    """A background client's pid is the process holding the socket (for attribution)."""
    url = f"http://{nginx_server.side.ip4}{servers.SLOW_PREFIX}/1m.bin"
    proc = clients.spawn(None, ["curl", "-s", "-o", "/dev/null", url])
    try:
        deadline = time.monotonic() + 5
        remotes: set[tuple[str, int]] = set()
        while not remotes and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            conns = psutil.Process(proc.pid).net_connections(kind="tcp")
            remotes = {(c.raddr.ip, c.raddr.port) for c in conns if c.raddr}
            time.sleep(0.05)
        assert (nginx_server.side.ip4, 80) in remotes
        assert psutil.Process(proc.pid).name() == "curl"
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("port", [22, 2222])
@pytest.mark.parametrize("family", ["ip4", "ip6"])
def test_ssh_login(ssh_server: SshServer, port: int, family: str) -> None:
    ip = getattr(ssh_server.side, family)
    run = clients.ssh(None, ip, ssh_server.key, port=port, command=["echo", "netwatch", "$$"])
    assert run.returncode == 0, run.stderr
    word, _ = run.stdout.decode().split()
    assert word == "netwatch"
    assert run.pid > 0


def test_ssh_banner_and_wrong_key(ssh_server: SshServer, tmp_path: Path) -> None:
    with socket.create_connection((ssh_server.side.ip4, 22), timeout=5) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    denied = clients.ssh(None, ssh_server.side.ip4, other)
    assert denied.returncode == 255
    assert "Permission denied" in denied.stderr


def _answers(run: clients.ClientRun) -> tuple[str, ...]:
    assert run.returncode == 0, run.stderr
    return tuple(sorted(line for line in run.stdout.decode().splitlines() if line))


@pytest.mark.parametrize("tcp", [False, True])
def test_dns_zone(dns_server: DnsServer, tcp: bool) -> None:
    assert len(dns_server.records) >= 10
    for (name, rtype), want in dns_server.records.items():
        got = _answers(clients.dig(None, dns_server.side.ip4, name, rtype, tcp=tcp))
        assert got == tuple(sorted(want)), (name, rtype)
    v6 = clients.dig(None, dns_server.side.ip6, WWW, "AAAA", tcp=tcp)
    assert _answers(v6) == (dns_server.side.ip6,)


def test_dns_unknown_name_is_nxdomain(dns_server: DnsServer) -> None:
    run = clients.dig(None, dns_server.side.ip4, f"nope.{dns_server.zone}", short=False)
    assert run.returncode == 0
    assert "status: NXDOMAIN" in run.stdout.decode()
    assert "ANSWER: 0," in run.stdout.decode()
    # Outside the zone there is no upstream: dnsmasq refuses instead of recursing.
    out = clients.dig(None, dns_server.side.ip4, "example.org", short=False)
    assert "status: REFUSED" in out.stdout.decode()


def test_h3_get(h3_server: H3Server, tls_certs: CertSet, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    root = clients.h3_get(None, h3_server.side.ip4, H3, cafile=tls_certs.ca, keylog=keylog).check()
    assert root.stdout == servers.ROOT_BODY
    assert "status=200 alpn=h3" in root.stderr
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text()
    sized = clients.h3_get(None, h3_server.side.ip6, H3, cafile=tls_certs.ca, path="/bytes/70000")
    assert sized.check().stdout == servers.pattern_bytes(70000)
    missing = clients.h3_get(None, h3_server.side.ip4, H3, cafile=tls_certs.ca, path="/nope")
    assert missing.returncode == 1 and "status=404" in missing.stderr
    # The certificate names h3.nwtest.example only: another SNI fails verification.
    wrong = clients.h3_get(None, h3_server.side.ip4, WWW, cafile=tls_certs.ca)
    assert wrong.returncode != 0 and "status=200" not in wrong.stderr


def test_servers_between_two_namespaces(netpair: Pair, tls_certs: CertSet) -> None:
    """The ``start_*`` managers serve any Side; clients run in the other namespace."""
    with servers.start_nginx(netpair.server, tls_certs) as web:
        pid, workdir = web.pid, web.workdir
        run = clients.curl(
            netpair.client.ns, f"https://{WWW}/1k.bin",
            resolve={f"{WWW}:443": netpair.server.ip4}, cacert=tls_certs.ca, http="2",
        ).check()  # fmt: skip
        assert run.stdout == servers.pattern_bytes(1024)
        # curl ran in the client namespace: not reachable from the root namespace.
        assert clients.curl(None, f"http://{netpair.server.ip4}/", extra=["-m", "2"]).returncode
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not workdir.exists()


def test_pcap_record_sees_the_exchange(
    server_pair: Pair, nginx_server: NginxServer, tmp_path: Path
) -> None:
    side = nginx_server.side
    path = tmp_path / "http.pcap"
    # The root end of the server pair's veth: capture from the root namespace.
    with pcap.record(None, server_pair.client.ifname, path, bpf=["tcp", "port", "80"]):
        clients.curl(None, f"http://{side.ip4}/64k.bin").check()
    syns = gets = payload = 0
    with path.open("rb") as fh:
        for _ts, frame in dpkt.pcap.Reader(fh):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data
            assert isinstance(tcp, dpkt.tcp.TCP) and 80 in (tcp.sport, tcp.dport)
            syns += bool(tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK)
            gets += tcp.data.startswith(b"GET /64k.bin HTTP/1.1")
            if tcp.sport == 80:
                payload += len(tcp.data)
    assert syns == 1 and gets == 1
    assert payload > 65536  # the body plus the response head, every segment captured


SIGTERMED = """
import time
def test_hold(rootpair, ssh_server):
    print("HOLD", rootpair.server.ns, ssh_server.side.ns, ssh_server.pid, flush=True)
    time.sleep(60)
"""


def test_sigterm_during_a_live_test_still_cleans_up(tmp_path: Path) -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    # The inner run lives outside the tree (so no one else collects it) and loads the live
    # fixtures as a plugin.
    test_file = tmp_path / "test_sigterm_inner.py"
    test_file.write_text(SIGTERMED)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
             "-p", "tests.live.conftest", "-c", str(REPO / "pyproject.toml"),
             "--rootdir", str(tmp_path), str(test_file)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line = ""
        while not line.startswith("HOLD"):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "inner pytest ended early"
            line = line.lstrip(".")
        _, pair_ns, server_ns, sshd_pid = line.split()
        assert pair_ns in netns.list_namespaces() and psutil.pid_exists(int(sshd_pid))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        test_file.unlink()
    assert not {pair_ns, server_ns} & set(netns.list_namespaces())
    assert not psutil.pid_exists(int(sshd_pid))


PARALLEL = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.live.harness import netns
with netns.make_rootpair() as pair:
    print(pair.index, pair.client.ifname, flush=True)
    time.sleep(1.5)
"""


def test_concurrent_runs_never_share_a_subnet() -> None:
    try:
        netns.require_netns()
    except netns.HarnessUnavailable as exc:
        pytest.skip(str(exc))
    procs = [
        subprocess.Popen([sys.executable, "-c", PARALLEL, str(REPO)], stdout=subprocess.PIPE,
                         text=True)
        for _ in range(6)
    ]  # fmt: skip
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    indexes = [int(out[0]) for out in outs]
    assert len(set(indexes)) == 6, indexes
    assert not {out[1] for out in outs} & set(_links(None).split())


def test_address_plan_stays_in_test_ranges() -> None:
    seen: set[str] = set()
    for index in range(1, 255):
        client, server, c_addrs, s_addrs = netns._addr_plan(index, second_pair=True)
        addrs = [ipaddress.ip_address(a) for a in (*c_addrs, *s_addrs)]
        assert all(a in (TEST_V4 if a.version == 4 else TEST_V6) for a in addrs)
        assert len({str(a) for a in addrs}) == 8
        assert not {str(a) for a in addrs} & seen
        seen |= {str(a) for a in addrs}
        assert (client.ip4, server.ip4) == (f"198.18.{index}.1", f"198.18.{index}.2")
