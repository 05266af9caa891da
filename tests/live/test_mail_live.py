"""Mail and file-transfer analyzers on real servers and clients across a veth.

Each test starts a real server in the server namespace (aiosmtpd, pyftpdlib, Dovecot),
records the veth with tcpdump while Python's own clients (smtplib, ftplib, imaplib,
poplib) talk to it from the client namespace, then runs the whole engine over the capture
and checks what the analyzers report against what the clients did.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.harness import pcap
from tests.live.harness.certs import CertSet
from tests.live.harness.netns import Pair, Side
from tests.unit.engine.helpers import analyze

pytestmark = pytest.mark.live

SMTP_SERVER = """
import ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
host, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 Message accepted for delivery"
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"s3cret")
    return AuthResult(success=ok)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname=host, port=port, server_hostname="mail.nwtest.example",
               authenticator=check, auth_require_tls=False, tls_context=ctx)
c.start()
print("ready", flush=True)
sys.stdin.read()
"""

SMTP_CLIENT = """
import email.generator, io, smtplib, ssl, sys
from email.message import EmailMessage
host, port = sys.argv[1], int(sys.argv[2])
m = EmailMessage()
m["From"] = "Alice <alice@nwtest.example>"
m["To"] = "bob@nwtest.example, carol@nwtest.example"
m["Subject"] = "netwatch live"
m["Message-ID"] = "<live-1@nwtest.example>"
m.set_content("hello\\n.a line starting with a dot\\n")
out = io.BytesIO()
email.generator.BytesGenerator(out, policy=m.policy.clone(linesep="\\r\\n")).flatten(m)
with smtplib.SMTP(host, port, local_hostname="client.nwtest.example") as s:
    s.ehlo()
    s.login("alice", "s3cret")
    s.send_message(m, to_addrs=["bob@nwtest.example", "carol@nwtest.example"])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP(host, port, local_hostname="tls.nwtest.example") as s:
    s.starttls(context=ctx)
    s.ehlo()
    s.noop()
print(len(out.getvalue()))
"""

FTP_SERVER = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
host, root = sys.argv[1], sys.argv[2]
auth = DummyAuthorizer()
auth.add_user("alice", "s3cret", root, perm="elradfmw")
FTPHandler.authorizer = auth
FTPHandler.banner = "netwatch live FTP ready"
FTPHandler.passive_ports = range(50000, 50100)
server = FTPServer((host, 21), FTPHandler)
print("ready", flush=True)
server.serve_forever()
"""

FTP_CLIENT = """
import ftplib, io, sys
f = ftplib.FTP()
f.connect(sys.argv[1], 21, timeout=10)
f.login("alice", "s3cret")
got = io.BytesIO()
f.set_pasv(True)
f.retrbinary("RETR passive.txt", got.write)
f.set_pasv(False)
f.retrbinary("RETR active.bin", got.write)
f.set_pasv(True)
f.storbinary("STOR upload.txt", io.BytesIO(b"uploaded by netwatch\\n"))
f.quit()
print(len(got.getvalue()))
"""


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed (pip install {module})")


@contextlib.contextmanager
def serve(side: Side, script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run a Python server script in ``side``'s namespace until it prints "ready"."""
    proc = side.popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            raise AssertionError(f"server did not start: {proc.communicate()[1][-2000:]}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def client(side: Side, script: str, *args: str) -> str:
    res = side.run([sys.executable, "-c", script, *args], text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return str(res.stdout).strip()


def app_rows(records: list[dict[str, Any]], protocol: str) -> list[dict[str, Any]]:
    return [r for r in records if (r.get("app") or {}).get("protocol") == protocol]


def test_smtp_auth_message_and_starttls(netpair: Pair, tls_certs: CertSet, tmp_path: Path) -> None:
    need("aiosmtpd")
    cert = tls_certs["www.nwtest.example"]
    server, port = netpair.server, 10025  # no port hint: found by content
    with (
        serve(server, SMTP_SERVER, server.ip4, str(port), str(cert.cert), str(cert.key)),
        pcap.record(server.ns, server.ifname, tmp_path / "smtp.pcap", ["tcp"]) as path,
    ):
        size = int(client(netpair.client, SMTP_CLIENT, server.ip4, str(port)))
    records = analyze(path)
    (plain,) = app_rows(records, "SMTP")
    smtp = plain["app"]["smtp"]
    assert smtp["banner"].startswith("mail.nwtest.example Python SMTP")
    assert smtp["server_software"] == "aiosmtpd"
    assert smtp["helo"] == "client.nwtest.example"
    assert (smtp["auth_mechanism"], smtp["auth_user"], smtp["auth_success"]) == (
        "PLAIN",
        "alice",
        True,
    )
    assert smtp["mail_from"] == ["alice@nwtest.example"]
    assert smtp["rcpt_to"] == ["bob@nwtest.example", "carol@nwtest.example"]
    (msg,) = smtp["messages"]
    assert msg["subject"] == "netwatch live" and msg["message_id"] == "<live-1@nwtest.example>"
    assert msg["size"] == size and msg["result"] == 250
    assert smtp["commands"] == ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    assert "s3cret" not in str(plain)
    (tls,) = app_rows(records, "TLS")
    assert tls["app"]["smtp"]["starttls"] is True
    assert tls["app"]["smtp"]["helo"] == "tls.nwtest.example"
    assert tls["app"]["tls"]  # the TLS analyzer took the rest of the stream


@pytest.mark.parametrize("family", ["ip4", "ip6"])
def test_ftp_passive_active_and_data_rows(netpair: Pair, tmp_path: Path, family: str) -> None:
    """IPv4 uses PASV/PORT, IPv6 EPSV/EPRT (ftplib's choice): every data row must name
    the control session, the command and the file it carried."""
    need("pyftpdlib")
    root = tmp_path / "ftproot"
    root.mkdir()
    (root / "passive.txt").write_bytes(b"p" * 1234)
    (root / "active.bin").write_bytes(bytes(range(256)) * 40)
    server = netpair.server
    address = getattr(server, family)
    with (
        serve(server, FTP_SERVER, address, str(root)),
        pcap.record(server.ns, server.ifname, tmp_path / "ftp.pcap", ["tcp"]) as path,
    ):
        got = int(client(netpair.client, FTP_CLIENT, address))
    assert got == 1234 + 256 * 40
    records = analyze(path)
    (control,) = app_rows(records, "FTP")
    ftp = control["app"]["ftp"]
    assert ftp["banner"] == "netwatch live FTP ready" and ftp["user"] == "alice"
    assert ftp["login_success"] is True and "s3cret" not in str(control)
    assert ftp["files"] == ["passive.txt", "active.bin", "upload.txt"]
    modes = ["passive", "active", "passive"]
    assert [t["mode"] for t in ftp["transfers"]] == modes
    assert [t["reply_code"] for t in ftp["transfers"]] == [226, 226, 226]
    expected = {"PASV", "PORT"} if family == "ip4" else {"EPSV", "EPRT"}
    assert expected <= set(ftp["commands"])
    data = app_rows(records, "FTP-DATA")
    got_rows = sorted(
        (
            r["app"]["ftp-data"]["command"],
            r["app"]["ftp-data"]["file"],
            r["app"]["ftp-data"]["mode"],
        )
        for r in data
    )
    assert got_rows == sorted(
        [("RETR", "passive.txt", "passive"), ("RETR", "active.bin", "active"),
         ("STOR", "upload.txt", "passive")]
    )  # fmt: skip
    assert len({r["app"]["ftp-data"]["parent"] for r in data}) == 1
    for r in data:
        info = r["app"]["ftp-data"]
        assert info["control"].startswith("FTP alice")
        moved = {"passive.txt": 1234, "active.bin": 256 * 40, "upload.txt": 21}[info["file"]]
        # the bytes of the file crossed this row (plus TCP/IP headers)
        assert r["bytes_in"] + r["bytes_out"] > moved


DOVECOT_CONF = """
base_dir = {root}/run
log_path = {root}/dovecot.log
state_dir = {root}/state
protocols = imap pop3
listen = {address}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password=s3cret
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""

MAIL_CLIENT = """
import imaplib, poplib, sys
host = sys.argv[1]
i = imaplib.IMAP4(host, 143)
i.login("alice", "s3cret")
i.select("INBOX")
i.append("INBOX", None, None, b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
i.logout()
p = poplib.POP3(host, 110)
p.user("alice")
p.pass_("s3cret")
count, size = p.stat()
for n in range(1, count + 1):
    p.retr(n)
p.quit()
print(count, size)
"""


def test_dovecot_imap_and_pop3(netpair: Pair, tmp_path: Path) -> None:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.skip("dovecot not installed (apt install dovecot-imapd dovecot-pop3d)")
    # Dovecot's login processes (dovenull) and mail processes (nobody) must reach these
    # directories, so not under pytest's root-only tmp_path; removed at the end.
    root = Path(tempfile.mkdtemp(prefix="nwt-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "mail").chmod(0o777)
    conf = root / "dovecot.conf"
    server = netpair.server
    conf.write_text(DOVECOT_CONF.format(root=root, address=server.ip4))
    proc = server.popen([binary, "-F", "-c", str(conf)], stderr=subprocess.PIPE, text=True)
    try:
        ready = server.run(
            [sys.executable, "-c",
             "import socket, sys, time\n"
             "for _ in range(100):\n"
             "    try: socket.create_connection((sys.argv[1], 110), 0.2).close(); break\n"
             "    except OSError: time.sleep(0.1)\n",
             server.ip4], text=True)  # fmt: skip
        assert ready.returncode == 0
        with pcap.record(server.ns, server.ifname, tmp_path / "mail.pcap", ["tcp"]) as path:
            count, size = map(int, client(netpair.client, MAIL_CLIENT, server.ip4).split())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
    assert "Fatal" not in log, log[-2000:]
    records = analyze(path)
    (imap_row,) = app_rows(records, "IMAP")
    imap = imap_row["app"]["imap"]
    assert imap["server_software"] == "Dovecot"
    assert (imap["user"], imap["login_success"]) == ("alice", True)
    assert imap["commands"][:2] == ["CAPABILITY", "LOGIN"]
    assert {"SELECT", "APPEND", "LOGOUT"} <= set(imap["commands"])
    assert imap["mailboxes"] == ["INBOX"] and "IMAP4rev1" in imap["capabilities"]
    (pop_row,) = app_rows(records, "POP3")
    pop3 = pop_row["app"]["pop3"]
    assert pop3["greeting"].startswith("Dovecot") and pop3["server_software"] == "Dovecot"
    assert (pop3["user"], pop3["login_success"]) == ("alice", True)
    assert (pop3["mailbox_messages"], pop3["mailbox_bytes"]) == (count, size) == (1, size)
    assert pop3["retrieved"] == 1 and pop3["retrieved_bytes"] == size
    assert "s3cret" not in str(records)


TELNET_INETD = """
import socket, subprocess, sys
host, telnetd, login = sys.argv[1], sys.argv[2], sys.argv[3]
server = socket.create_server((host, 23))
print("ready", flush=True)
conn, _ = server.accept()
subprocess.run([telnetd, "-h", "-E", login], stdin=conn.fileno(), stdout=conn.fileno(),
               stderr=subprocess.DEVNULL, timeout=30)
"""

# The program telnetd runs on the pty instead of /bin/login (no test user is created).
TELNET_LOGIN = """#!/bin/sh
printf 'nwtest login: '
read user
stty -echo
printf 'Password: '
read pw
stty echo
printf '\\nWelcome %s\\n$ ' "$user"
read cmd
printf 'ran %s\\n' "$cmd"
sleep 1  # let the client read this before telnetd closes and telnet leaves the pty
"""

TELNET_CLIENT = """
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("telnet", ["telnet", sys.argv[1], "23"])
seen = b""
def expect(want):
    global seen
    end = time.monotonic() + 15
    while want not in seen:
        if time.monotonic() > end:
            sys.exit(f"timeout waiting for {want!r}, got {seen[-300:]!r}")
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # EIO: telnet has left the pty; what it wrote is all there is
                sys.exit(f"telnet ended before {want!r}, got {seen[-300:]!r}")
    seen = seen[seen.index(want) + len(want):]
expect(b"login: ")
os.write(fd, b"alice\\r")
expect(b"Password: ")
os.write(fd, b"s3cret\\r")
expect(b"$ ")
os.write(fd, b"uname\\r")
expect(b"ran uname")
os.waitpid(pid, 0)  # the login script ends, telnetd closes, telnet exits
"""


def test_telnetd_negotiation_and_login(netpair: Pair, tmp_path: Path) -> None:
    """GNU inetutils telnetd (started per connection, as inetd would) and its telnet
    client on a pty; telnetd runs a small login script instead of /bin/login."""
    telnetd = shutil.which("telnetd") or "/usr/sbin/telnetd"
    if not Path(telnetd).exists() or shutil.which("telnet") is None:
        pytest.skip("telnetd/telnet not installed (apt install telnetd inetutils-telnet)")
    login = tmp_path / "login.sh"
    login.write_text(TELNET_LOGIN)
    login.chmod(0o755)
    server = netpair.server
    with (
        serve(server, TELNET_INETD, server.ip4, telnetd, str(login)),
        pcap.record(server.ns, server.ifname, tmp_path / "telnet.pcap", ["tcp"]) as path,
    ):
        client(netpair.client, TELNET_CLIENT, server.ip4)
    (row,) = app_rows(analyze(path), "Telnet")
    t = row["app"]["telnet"]
    assert t["user"] == "alice" and t["login_prompt"] == "nwtest login:"
    assert t["password_sent"] is True
    assert "s3cret" not in str(row)
    assert "uname" in t["client_data_sample"] and "ran uname" in t["server_data_sample"]
    assert "DO TTYPE" in t["server_negotiation"] and "WILL TTYPE" in t["client_negotiation"]
    assert t["terminal_type"] and t["window_size"]
