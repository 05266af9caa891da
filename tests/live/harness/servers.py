"""Real servers inside a namespace: nginx (HTTP/1.1, HTTP/2, TLS 1.2/1.3 with SNI), OpenSSH,
dnsmasq (a small authoritative-style zone) and an aioquic HTTP/3 server.

Each ``start_*`` is a context manager taking the ``Side`` to serve on (its ``ns`` and
addresses) and yielding a frozen description of the running server; it returns only once the
server answers, and on exit stops the process and removes its working directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.live.harness import proc
from tests.live.harness.certs import API, H3, WWW, ZONE, CertSet
from tests.live.harness.netns import HarnessError, HarnessUnavailable, Side

HARNESS_DIR = Path(__file__).resolve().parent


def require_binary(name: str) -> str:
    """The absolute path of ``name``, or HarnessUnavailable (a skip reason)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise HarnessUnavailable(f"{name} is not installed")
    return path


@contextlib.contextmanager
def _workdir(workdir: Path | None, prefix: str) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pattern_bytes(size: int) -> bytes:
    """The deterministic body of the static files: 0x00..0xff repeated, cut to ``size``."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


# --------------------------------------------------------------------------- nginx

INDEX_HTML = b"<html><body><h1>netwatch test page</h1></body></html>\n"
STATIC_SIZES: dict[str, int] = {"/1k.bin": 1024, "/64k.bin": 65536, "/1m.bin": 1048576}


@dataclass(frozen=True, slots=True)
class NginxServer:
    """nginx serving the same static tree on every port.

    80 and 8082: plain HTTP/1.1. 443: TLS 1.2/1.3, ALPN h2 and http/1.1. 8443: TLS 1.2/1.3,
    HTTP/1.1 only (no ALPN h2). Certificates by SNI: www (default) and api. ``/whoami``
    answers with the server_name that handled the request. ``/slow/<file>`` sends the same
    files at 64 KiB/s, for connections that must stay open a while (``/slow/1m.bin``: 16 s).
    """

    side: Side
    certs: CertSet
    pid: int
    workdir: Path
    http_ports: tuple[int, ...] = (80, 8082)
    tls_ports: tuple[int, ...] = (443, 8443)
    h2_ports: tuple[int, ...] = (443,)
    names: tuple[str, ...] = (WWW, API)
    files: dict[str, bytes] = field(default_factory=dict)  # url path -> exact body

    @property
    def sizes(self) -> dict[str, int]:
        return {path: len(body) for path, body in self.files.items()}

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()


SLOW_PREFIX = "/slow"
SLOW_RATE = 65536  # bytes per second per connection under SLOW_PREFIX


def _slow(wd: Path) -> str:
    """``/slow/<file>``: the same files, sent at SLOW_RATE (long-lived connections)."""
    return f"    location {SLOW_PREFIX}/ {{ alias {wd}/www/; limit_rate {SLOW_RATE}; }}\n"


def _nginx_conf(side: Side, certs: CertSet, wd: Path) -> str:
    def listens(port: int, opts: str, default: bool) -> str:
        extra = " default_server" if default else ""
        return "".join(
            f"    listen {_host(ip)}:{port}{opts}{extra};\n" for ip in (*side.ip4s, *side.ip6s)
        )

    def tls_server(name: str, default: bool) -> str:
        cert = certs[name]
        return (
            "  server {\n"
            + listens(443, " ssl http2", default)
            + listens(8443, " ssl", default)
            + f"    server_name {name};\n"
            f"    ssl_certificate {cert.cert};\n    ssl_certificate_key {cert.key};\n"
            f"    root {wd}/www;\n{_slow(wd)}"
            f'    location = /whoami {{ default_type text/plain; return 200 "{name}\\n"; }}\n'
            "  }\n"
        )

    temps = "".join(
        f"  {kind}_temp_path {wd}/tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"user root;\nworker_processes 1;\npid {wd}/nginx.pid;\nerror_log {wd}/error.log;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {wd}/access.log;\n{temps}"
        "  types { text/html html; application/octet-stream bin; }\n"
        "  default_type application/octet-stream;\n"
        "  keepalive_timeout 30;\n  server_tokens off;\n"
        "  ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_prefer_server_ciphers off;\n"
        "  server {\n"
        + listens(80, "", True)
        + listens(8082, "", True)
        + f"    server_name {WWW} {API};\n    root {wd}/www;\n{_slow(wd)}"
        + '    location = /whoami { default_type text/plain; return 200 "$host\\n"; }\n'
        "  }\n" + tls_server(WWW, True) + tls_server(API, False) + "}\n"
    )


@contextlib.contextmanager
def start_nginx(side: Side, certs: CertSet, workdir: Path | None = None) -> Iterator[NginxServer]:
    binary = require_binary("nginx")
    with _workdir(workdir, "nwt-nginx-") as wd:
        files = {"/index.html": INDEX_HTML}
        files |= {path: pattern_bytes(size) for path, size in STATIC_SIZES.items()}
        (wd / "www").mkdir(exist_ok=True)
        (wd / "tmp").mkdir(exist_ok=True)
        for path, body in files.items():
            (wd / "www" / path.lstrip("/")).write_bytes(body)
        conf = wd / "nginx.conf"
        conf.write_text(_nginx_conf(side, certs, wd))
        process = side.popen(
            [binary, "-p", str(wd), "-c", str(conf), "-e", str(wd / "error.log"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            for port in (80, 8082, 443, 8443):
                proc.wait_tcp(side.ns, side.ip4, port, proc=process)
            proc.wait_tcp(side.ns, side.ip6, 443, proc=process)
            yield NginxServer(side=side, certs=certs, pid=process.pid, workdir=wd, files=files)
        except HarnessError as exc:
            log = (wd / "error.log").read_text(errors="replace")[-2000:]
            raise HarnessError(f"nginx: {exc}\n{log}") from exc
        finally:
            proc.stop(process)


# --------------------------------------------------------------------------- sshd


SSH_PORTS = (22, 2222)
SSH_HOST_KEYS = ("ed25519", "ecdsa", "rsa")


@dataclass(frozen=True, slots=True)
class SshServer:
    """OpenSSH on 22 and 2222, host keys ed25519/ecdsa/rsa, login as ``user`` with ``key``."""

    side: Side
    pid: int
    workdir: Path
    key: Path  # the client's private key (ed25519, no passphrase)
    user: str = "root"
    ports: tuple[int, ...] = SSH_PORTS
    host_key_types: tuple[str, ...] = SSH_HOST_KEYS


def _keygen(path: Path, kind: str) -> None:
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "netwatch-test", "-f", str(path)]
    if kind == "rsa":
        argv += ["-b", "2048"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if res.returncode != 0:
        raise HarnessError(f"ssh-keygen {kind}: {res.stderr.strip()}")


@contextlib.contextmanager
def start_sshd(side: Side, workdir: Path | None = None) -> Iterator[SshServer]:
    binary = require_binary("sshd")
    require_binary("ssh-keygen")
    # sshd refuses to start without its privilege-separation directory.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    with _workdir(workdir, "nwt-sshd-") as wd:
        wd.chmod(0o700)
        lines = ["Port 22", "Port 2222"]
        lines += [f"ListenAddress {ip}" for ip in (*side.ip4s, *side.ip6s)]
        for kind in SSH_HOST_KEYS:
            _keygen(wd / f"ssh_host_{kind}_key", kind)
            lines.append(f"HostKey {wd}/ssh_host_{kind}_key")
        _keygen(wd / "client_key", "ed25519")
        (wd / "authorized_keys").write_bytes((wd / "client_key.pub").read_bytes())
        lines += [
            f"PidFile {wd}/sshd.pid",
            f"AuthorizedKeysFile {wd}/authorized_keys",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "UseDNS no",
            "LogLevel VERBOSE",
        ]
        conf = wd / "sshd_config"
        conf.write_text("\n".join(lines) + "\n")
        process = side.popen(
            [binary, "-D", "-e", "-f", str(conf), "-E", str(wd / "sshd.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for port in SSH_PORTS:
                proc.wait_tcp(side.ns, side.ip4, port, proc=process)
            yield SshServer(side=side, pid=process.pid, workdir=wd, key=wd / "client_key")
        except HarnessError as exc:
            log = (wd / "sshd.log").read_text(errors="replace")[-2000:]
            raise HarnessError(f"sshd: {exc}\n{log}") from exc
        finally:
            proc.stop(process)


# --------------------------------------------------------------------------- dnsmasq


@dataclass(frozen=True, slots=True)
class DnsServer:
    """dnsmasq answering for ``zone`` only (no upstream, no /etc/hosts, no DHCP).

    ``records`` maps (name, type) to the answers ``dig +short`` prints, in the order the
    tests compare them (sorted).
    """

    side: Side
    pid: int
    workdir: Path
    zone: str
    records: dict[tuple[str, str], tuple[str, ...]]
    port: int = 53


def dns_records(side: Side) -> dict[tuple[str, str], tuple[str, ...]]:
    """The zone contents for a server side (addresses follow the side's subnet)."""
    ip4, ip6 = side.ip4, side.ip6
    prefix4 = ip4.rsplit(".", 1)[0]
    mail4 = f"{prefix4}.25"
    rev = ".".join(reversed(ip4.split("."))) + ".in-addr.arpa"
    return {
        (WWW, "A"): (ip4,),
        (WWW, "AAAA"): (ip6,),
        (API, "A"): (ip4,),
        (H3, "A"): (ip4,),
        (f"mail.{ZONE}", "A"): (mail4,),
        (f"alias.{ZONE}", "CNAME"): (f"{WWW}.",),
        (ZONE, "MX"): (f"10 mail.{ZONE}.",),
        (ZONE, "TXT"): ('"v=spf1 -all"',),
        (f"info.{ZONE}", "TXT"): ('"netwatch test zone"',),
        (f"_https._tcp.{ZONE}", "SRV"): (f"10 20 443 {WWW}.",),
        (rev, "PTR"): (f"{WWW}.",),
    }


def _dnsmasq_args(side: Side) -> list[str]:
    ip4, ip6 = side.ip4, side.ip6
    mail4 = f"{ip4.rsplit('.', 1)[0]}.25"
    args = [
        "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--no-poll", "--bind-interfaces", "--port=53", "--user=root", "--group=root",
        "--pid-file", "--log-queries", "--log-facility=-", f"--local=/{ZONE}/",
        f"--host-record={WWW},{ip4},{ip6}",
        f"--address=/{API}/{ip4}", f"--address=/{H3}/{ip4}",
        f"--host-record=mail.{ZONE},{mail4}",
        f"--cname=alias.{ZONE},{WWW}",
        f"--mx-host={ZONE},mail.{ZONE},10",
        f"--txt-record={ZONE},v=spf1 -all",
        f"--txt-record=info.{ZONE},netwatch test zone",
        f"--srv-host=_https._tcp.{ZONE},{WWW},443,10,20",
    ]  # fmt: skip
    args += [f"--listen-address={ip}" for ip in (*side.ip4s, *side.ip6s)]
    return args


@contextlib.contextmanager
def start_dnsmasq(side: Side, workdir: Path | None = None) -> Iterator[DnsServer]:
    binary = require_binary("dnsmasq")
    with _workdir(workdir, "nwt-dns-") as wd:
        log = (wd / "dnsmasq.log").open("wb")
        process = side.popen([binary, *_dnsmasq_args(side)], stdout=log, stderr=log)
        try:
            proc.wait_dns(side.ns, side.ip4, WWW, proc=process)
            proc.wait_dns(side.ns, side.ip6, WWW, proc=process)
            yield DnsServer(
                side=side, pid=process.pid, workdir=wd, zone=ZONE, records=dns_records(side)
            )
        except HarnessError as exc:
            text = (wd / "dnsmasq.log").read_text(errors="replace")[-2000:]
            raise HarnessError(f"dnsmasq: {exc}\n{text}") from exc
        finally:
            proc.stop(process)
            log.close()


# --------------------------------------------------------------------------- HTTP/3


@dataclass(frozen=True, slots=True)
class H3Server:
    """aioquic HTTP/3 server (ALPN h3) on UDP ``port`` of every server address.

    ``GET /`` answers ``ROOT_BODY``; ``GET /bytes/N`` answers ``pattern_bytes(N)``
    (N <= 10 MB); anything else 404. Certificate: ``h3.nwtest.example`` from the test CA.
    """

    side: Side
    pid: int
    workdir: Path
    name: str
    port: int


ROOT_BODY = b"netwatch h3 ok\n"


@contextlib.contextmanager
def start_h3(
    side: Side, certs: CertSet, port: int = 443, workdir: Path | None = None
) -> Iterator[H3Server]:
    try:
        import aioquic  # noqa: F401
    except ImportError as exc:
        raise HarnessUnavailable("aioquic is not installed") from exc
    cert = certs[H3]
    with _workdir(workdir, "nwt-h3-") as wd:
        argv = [sys.executable, str(HARNESS_DIR / "h3server.py"), "--cert", str(cert.cert),
                "--key", str(cert.key), "--port", str(port)]  # fmt: skip
        for ip in (*side.ip4s, *side.ip6s):
            argv += ["--host", ip]
        log = (wd / "h3server.log").open("wb")
        process = side.popen(argv, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != b"ready":
                text = (wd / "h3server.log").read_text(errors="replace")[-2000:]
                raise HarnessError(f"h3 server did not start: {line!r}\n{text}")
            yield H3Server(side=side, pid=process.pid, workdir=wd, name=H3, port=port)
        finally:
            proc.stop(process)
            log.close()
