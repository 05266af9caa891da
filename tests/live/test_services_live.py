"""Issue 6 group 2 on real traffic: real servers in a namespace pair, real clients in the
other, the veth recorded with tcpdump and the capture run through the whole engine.

| protocol | server               | client                                  |
|----------|----------------------|-----------------------------------------|
| DHCPv4   | dnsmasq              | busybox udhcpc                          |
| DHCPv6   | dnsmasq              | a small Python client (SOLICIT/REQUEST) |
| NTP      | chronyd (local clock)| chronyd -Q (query only)                 |
| SNMP     | net-snmp snmpd       | snmpget v1/v2c/v3 authPriv, snmptrap    |
| STUN     | coturn turnserver    | turnutils_stunclient, turnutils_uclient |
| SIP      | kamailio (proxy)     | two Python user agents, UDP and TCP     |
| SSDP     | minidlna             | a Python M-SEARCH                       |
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.live.harness import pcap
from tests.live.harness.netns import Pair, Side
from tests.live.harness.proc import stop, wait_until
from tests.unit.engine.helpers import analyze

pytestmark = pytest.mark.live


def need(*binaries: str) -> None:
    for b in binaries:
        if shutil.which(b) is None and not Path(b).exists():
            pytest.skip(f"{b} not installed")


@contextlib.contextmanager
def daemon(
    side: Side, argv: Sequence[str], log: Path, ready: Callable[[], bool] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` in ``side``'s namespace; wait for ``ready`` (or the log to say so)."""
    fh = log.open("wb")
    proc = side.popen(list(argv), stdout=fh, stderr=subprocess.STDOUT)
    try:
        if ready is not None:
            try:
                wait_until(ready, argv[0], 10.0, proc)
            except Exception as exc:
                raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-2000:]}") from exc
        yield proc
    finally:
        stop(proc)
        fh.close()


def log_says(log: Path, pattern: str) -> Callable[[], bool]:
    return lambda: re.search(pattern, log.read_text(errors="replace")) is not None


def recorded(pair: Pair, tmp: Path, action: Callable[[], None]) -> list[dict[str, Any]]:
    """Run ``action`` while tcpdump records the client's veth end; analyze the capture."""
    path = tmp / "live.pcap"
    with pcap.record(pair.client.ns, pair.client.ifname, path):
        action()
    return analyze(path)


def apps(records: list[dict[str, Any]], protocol: str) -> list[dict[str, Any]]:
    return [
        r["app"][protocol.lower()]
        for r in records
        if (r.get("app") or {}).get("protocol") == protocol
    ]


def run_ok(side: Side, argv: Sequence[str], timeout: float = 30.0) -> str:
    res = side.run(list(argv), timeout=timeout)
    assert res.returncode == 0, (argv, res.stdout, res.stderr)
    out: str = res.stdout.decode() if isinstance(res.stdout, bytes) else res.stdout
    return out


# ------------------------------------------------------------------------------ SNMP

SNMPD_CONF = """\
[snmp] persistentDir {wd}
agentAddress udp:{ip}:161
rocommunity nwpublic 198.18.0.0/15
createUser nwuser SHA "nwauthpass1" AES "nwprivpass1"
rouser nwuser priv
sysLocation nwtest-rack-7
sysContact ops@nwtest.example
"""


def test_snmp_v1_v2c_v3_and_a_trap(netpair: Pair, tmp_path: Path) -> None:
    need("snmpd", "snmpget", "snmptrap")
    srv, cli = netpair.server, netpair.client
    conf = tmp_path / "snmpd.conf"
    conf.write_text(SNMPD_CONF.format(wd=tmp_path, ip=srv.ip4))
    log = tmp_path / "snmpd.log"
    argv = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(tmp_path / "pid")]
    with daemon(srv, argv, log, log_says(log, "NET-SNMP version")):

        def action() -> None:
            common = ["-t", "2", "-r", "2", srv.ip4]
            run_ok(cli, ["snmpget", "-v1", "-c", "nwpublic", *common, "1.3.6.1.2.1.1.6.0"])
            out = run_ok(cli, ["snmpget", "-v2c", "-c", "nwpublic", *common, "1.3.6.1.2.1.1.4.0"])
            assert "ops@nwtest.example" in out
            v3 = ["-v3", "-l", "authPriv", "-u", "nwuser", "-a", "SHA", "-A", "nwauthpass1"]
            v3 += ["-x", "AES", "-X", "nwprivpass1"]
            out = run_ok(cli, ["snmpget", *v3, *common, "1.3.6.1.2.1.1.6.0"])
            assert "nwtest-rack-7" in out
            trap = [
                "snmptrap",
                "-v2c",
                "-c",
                "nwpublic",
                f"{srv.ip4}:162",
                "",
                "1.3.6.1.6.3.1.1.5.1",
            ]
            run_ok(cli, trap)

        recs = apps(recorded(netpair, tmp_path, action), "SNMP")
    by_version: dict[str | None, list[dict[str, Any]]] = {}
    for r in recs:
        by_version.setdefault(r["version"], []).append(r)
    (v1,) = by_version["1"]
    assert v1["community"] == "nwpublic" and v1["pdu_types"] == ["get_request", "get_response"]
    assert v1["oids"] == ["1.3.6.1.2.1.1.6.0"] and v1["requests"] == v1["responses"] == 1
    v2 = [r for r in by_version["2c"] if "get_request" in r["pdu_types"]]
    assert v2 and v2[0]["oids"] == ["1.3.6.1.2.1.1.4.0"]
    trap = [r for r in by_version["2c"] if r["pdu_types"] == ["trap_v2"]]
    assert trap and trap[0]["traps"][0]["trap_oid"] == "1.3.6.1.6.3.1.1.5.1"  # coldStart
    (v3,) = by_version["3"]
    assert v3["usm_user"] == "nwuser" and v3["encrypted"] and v3["security_level"] == "authPriv"
    assert "report" in v3["pdu_types"]  # engine discovery is in the clear


# ------------------------------------------------------------------------------ NTP

CHRONY_SERVER = """\
bindaddress {ip}
port 123
cmdport 0
allow all
local stratum 8
pidfile {wd}/chronyd.pid
driftfile {wd}/drift
"""


def test_ntp_chrony_client_and_server(netpair: Pair, tmp_path: Path) -> None:
    need("chronyd")
    srv, cli = netpair.server, netpair.client
    (tmp_path / "srv").mkdir()
    conf = tmp_path / "chrony.conf"
    conf.write_text(CHRONY_SERVER.format(ip=srv.ip4, wd=tmp_path / "srv"))
    log = tmp_path / "chronyd.log"
    # -x: never touch the clock (namespaces share it); -d: foreground, log to stderr
    with daemon(srv, ["chronyd", "-x", "-d", "-f", str(conf)], log, log_says(log, "chronyd")):

        def action() -> None:
            q = ["chronyd", "-Q", "-t", "20", "-f", "/dev/null"]
            q += [f"pidfile {tmp_path}/q.pid", f"server {srv.ip4} iburst maxsamples 4"]
            run_ok(cli, q, timeout=40)

        recs = apps(recorded(netpair, tmp_path, action), "NTP")
    assert len(recs) >= 1  # chrony may take a fresh source port per request
    assert sum(r["requests"] for r in recs) >= 2
    for rec in recs:
        assert rec["version"] == 4 and rec["modes"] == ["client", "server"]
        assert rec["stratum"] == 8  # "local stratum 8"
        assert rec["reference_id"] == "127.127.1.1"  # chrony's refid for its local clock
        assert rec["requests"] == rec["responses"]
        assert rec["round_trip"] is not None and 0 <= rec["round_trip"] < 0.5, rec
