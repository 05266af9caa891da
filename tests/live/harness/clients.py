"""Real clients run from a namespace (``ns``) or the root namespace (``ns=None``).

Each ``*_argv`` builds the command line; each same-named function runs it to completion and
returns a ``ClientRun`` (the CompletedProcess and the client's pid, which is the program's
own pid: ``ip netns exec`` execs in place). ``spawn(ns, argv)`` starts one in the background
(e.g. a rate-limited download that stays open while a test inspects it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec

from tests.live.harness import netns
from tests.live.harness.servers import HARNESS_DIR

DEFAULT_TIMEOUT = 30.0
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class ClientRun:
    proc: subprocess.CompletedProcess[bytes]
    pid: int

    @property
    def returncode(self) -> int:
        return self.proc.returncode

    @property
    def stdout(self) -> bytes:
        return bytes(self.proc.stdout)

    @property
    def stderr(self) -> str:
        return bytes(self.proc.stderr).decode(errors="replace")

    def check(self) -> ClientRun:
        """Raise CalledProcessError (with stderr) unless the client exited 0."""
        self.proc.check_returncode()
        return self


def spawn(ns: str | None, argv: Sequence[str], **popen_kw: object) -> subprocess.Popen[bytes]:
    """Start a client in the background; output piped unless told otherwise."""
    popen_kw.setdefault("stdout", subprocess.PIPE)
    popen_kw.setdefault("stderr", subprocess.PIPE)
    return netns.popen(ns, argv, **popen_kw)


def run_client(
    ns: str | None, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, stdin: bytes = b""
) -> ClientRun:
    """Run a client to completion (killed after ``timeout``) and keep its pid."""
    proc = spawn(ns, argv, stdin=subprocess.PIPE)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    completed = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return ClientRun(proc=completed, pid=proc.pid)


def _runner(build: Callable[P, list[str]]) -> Callable[Concatenate[str | None, P], ClientRun]:
    """``f(ns, *args, **kw)`` running ``build(*args, **kw)`` in namespace ``ns``."""

    def run(ns: str | None, /, *args: P.args, **kwargs: P.kwargs) -> ClientRun:
        return run_client(ns, build(*args, **kwargs))

    run.__name__ = build.__name__.removesuffix("_argv")
    run.__doc__ = f"Run ``{build.__name__}(...)`` in namespace ``ns``: {build.__doc__}"
    return run


# --------------------------------------------------------------------------- curl


def curl_argv(
    url: str,
    *,
    resolve: Mapping[str, str] | None = None,
    http: str | None = None,
    tls_min: str | None = None,
    tls_max: str | None = None,
    cacert: Path | None = None,
    insecure: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """curl printing the body to stdout; errors fail the run (``--fail``).

    ``resolve`` maps ``"host:port"`` to an address (``--resolve``) so a TLS name reaches a
    namespace address without DNS; ``http`` is ``"1.1"``, ``"2"`` (ALPN h2) or None;
    ``tls_min``/``tls_max`` are ``"1.2"``/``"1.3"``.
    """
    argv = ["curl", "--silent", "--show-error", "--fail", "--max-time", "20"]
    for hostport, ip in (resolve or {}).items():
        argv += ["--resolve", f"{hostport}:{ip}"]
    if http == "1.1":
        argv.append("--http1.1")
    elif http == "2":
        argv.append("--http2")
    elif http is not None:
        raise ValueError(f"http must be '1.1' or '2', not {http!r}")
    if tls_min is not None:
        argv.append(f"--tlsv{tls_min}")
    if tls_max is not None:
        argv += ["--tls-max", tls_max]
    if cacert is not None:
        argv += ["--cacert", str(cacert)]
    if insecure:
        argv.append("--insecure")
    return [*argv, *extra, url]


# --------------------------------------------------------------------------- openssl


def s_client_argv(
    ip: str,
    port: int,
    servername: str,
    *,
    tls: str | None = None,
    alpn: Sequence[str] = (),
    cafile: Path | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``openssl s_client`` handshake with SNI ``servername``; stdin closed, so it quits."""
    host = f"[{ip}]" if ":" in ip else ip
    argv = ["openssl", "s_client", "-connect", f"{host}:{port}", "-servername", servername]
    if tls is not None:
        argv.append({"1.2": "-tls1_2", "1.3": "-tls1_3"}[tls])
    if alpn:
        argv += ["-alpn", ",".join(alpn)]
    if cafile is not None:
        argv += ["-CAfile", str(cafile), "-verify_return_error"]
    return [*argv, *extra]


@dataclass(frozen=True, slots=True)
class TlsReport:
    """What ``openssl s_client`` reports about one handshake."""

    subject_cn: str  # CN of the leaf certificate the server sent
    protocol: str  # "TLSv1.2", "TLSv1.3"
    cipher: str
    alpn: str | None  # None when no ALPN protocol was negotiated
    leaf_pem: bytes  # the leaf certificate as sent


def parse_s_client(stdout: bytes) -> TlsReport:
    """Read the session report ``s_client`` prints (OpenSSL 3 layout); ValueError if absent."""
    text = stdout.decode(errors="replace")
    cn = protocol = cipher = ""
    alpn: str | None = None
    for line in text.splitlines():
        if line.startswith("subject=") and "CN = " in line:
            cn = line.split("CN = ", 1)[1].split(",", 1)[0].strip()
        elif line.startswith("New, ") and ", Cipher is " in line:
            head, cipher = line[len("New, ") :].split(", Cipher is ", 1)
            protocol = head.strip()
        elif line.startswith("ALPN protocol: "):
            alpn = line[len("ALPN protocol: ") :].strip()
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if not (cn and protocol and begin in text):
        raise ValueError(f"no TLS session in s_client output: {text[-300:]!r}")
    pem = text[text.index(begin) : text.index(end) + len(end)] + "\n"
    return TlsReport(cn, protocol, cipher.strip(), alpn, pem.encode())


# --------------------------------------------------------------------------- dig


def dig_argv(
    server: str,
    name: str,
    rtype: str = "A",
    *,
    port: int = 53,
    tcp: bool = False,
    short: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """``dig @server name rtype``; ``rtype="PTR"`` takes the reverse name as ``name``."""
    argv = ["dig", f"@{server}", "-p", str(port), name, rtype, "+time=2", "+tries=2"]
    if tcp:
        argv.append("+tcp")
    if short:
        argv.append("+short")
    return [*argv, *extra]


# --------------------------------------------------------------------------- ssh


def ssh_argv(
    ip: str,
    key: Path,
    *,
    port: int = 22,
    user: str = "root",
    command: Sequence[str] = ("true",),
    extra: Sequence[str] = (),
) -> list[str]:
    """Non-interactive ssh with ``key``; no config files, no known_hosts, no prompts."""
    return [
        "ssh", "-F", "/dev/null", "-i", str(key), "-p", str(port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
        *extra, f"{user}@{ip}", *command,
    ]  # fmt: skip


# --------------------------------------------------------------------------- HTTP/3


def h3_argv(
    ip: str,
    sni: str,
    *,
    port: int = 443,
    path: str = "/",
    cafile: Path | None = None,
    insecure: bool = False,
    keylog: Path | None = None,
) -> list[str]:
    """The aioquic HTTP/3 client script: body to stdout, ``status= alpn= bytes=`` to stderr."""
    argv = [sys.executable, str(HARNESS_DIR / "h3client.py"), "--host", ip,
            "--port", str(port), "--sni", sni, "--path", path]  # fmt: skip
    if cafile is not None:
        argv += ["--cafile", str(cafile)]
    if insecure:
        argv.append("--insecure")
    if keylog is not None:
        argv += ["--keylog", str(keylog)]
    return argv


curl = _runner(curl_argv)
s_client = _runner(s_client_argv)
dig = _runner(dig_argv)
ssh = _runner(ssh_argv)
h3_get = _runner(h3_argv)
