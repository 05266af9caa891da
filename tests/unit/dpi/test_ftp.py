"""FTPAnalyzer: tshark truths, nDPI and suricata-verify peers on real captures (three
feeding shapes); data connections announced for PASV/EPSV/PORT/EPRT and labelled by the
engine end to end; AUTH TLS; malformed input and fuzzing."""

from __future__ import annotations

from typing import Any

import pytest

from netwatch.dpi.base import Dir, ExpectConnection
from netwatch.dpi.ftp import FTPAnalyzer, detect_tcp, detect_tcp_greeting, eprt, host_port
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script
from tests.unit.engine.helpers import analyze as engine_analyze
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

C, S = 0, 1
STEMS = ["ndpi_ftp", "ndpi_ftp-start-tls", "sv_ftp-download-passive"]


def control_flows(stem: str) -> dict[tuple[Any, ...], Flow]:
    path = corpus_file(stem + ".pcap")
    return {
        (f.client, f.server): f
        for f in flows_of(path)
        if f.transport == "tcp"
        and f.chunks
        and (detect_tcp(f.chunks[0][1]) or detect_tcp_greeting(f.chunks[0][1]))
    }


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stem", STEMS)
def test_matches_tshark(stem: str, shape: str) -> None:
    truths = [t for t in expected(stem) if t.get("kind") == "flow" and "ftp" in t.get("app", [])]
    flows = control_flows(stem)
    assert len(truths) == len(flows) == 1
    for t in truths:
        a = FTPAnalyzer()
        events = replay(a, flows[((t["src"], t["sport"]), (t["dst"], t["dport"]))].chunks, shape)
        r = a.record()
        assert r["banner"] == t["ftp_banner"]
        assert r["user"] == t.get("ftp_user")
        if "tls" in t["app"]:
            # tshark reads on after the TLS session closes (cleartext PASV/STOR); we stop
            # at the hand-over, so ours is the prefix up to AUTH TLS
            assert a.handoff == "TLS" and r["auth_tls"] is True
            assert r["commands"] == t["ftp_commands"][:1]
            assert r["reply_codes"] == t["ftp_response_codes"][:2]
            continue
        assert r["commands"] == t["ftp_commands"]
        assert r["reply_codes"] == t["ftp_response_codes"]
        assert r["files"] == t["ftp_files"]
        # every data connection tshark saw was announced, on its responder port
        data_ports = {
            x["dport"]
            for x in expected(stem)
            if x.get("kind") == "flow" and "ftp-data" in x.get("app", [])
        }
        announced = {e.port for e in events if isinstance(e, ExpectConnection)}
        assert data_ports <= announced


def test_ndpi_user_and_never_the_password() -> None:
    (peer,) = [p for p in expected_peer("ndpi_ftp", "ndpi") if p["raw"]["proto"] == "1/FTP_CONTROL"]
    (flow,) = control_flows("ndpi_ftp").values()
    a = FTPAnalyzer()
    replay(a, flow.chunks)
    assert a.record()["user"] == peer["raw"]["User"]
    assert a.record()["server_software"] == "vsftpd"
    assert peer["raw"]["Pwd"] not in repr(a.record()) + a.summary()
    assert {"command": "PASS", "arg": None, "reply_code": 230, "reply": "Login successful."} in (
        a.record()["requests"]
    )


@pytest.mark.parametrize(
    ("stem", "commands"),
    [("ndpi_ftp", {"LIST": None, "RETR": "1MB.zip"}), ("sv_ftp-download-passive", None)],
)
def test_engine_labels_data_rows(stem: str, commands: dict[str, Any] | None) -> None:
    """End to end: the tracker gives each data connection the announced info, with the
    command and file the control connection sent after announcing it."""
    records = engine_analyze(corpus_file(stem + ".pcap"))
    control = [r for r in records if (r.get("app") or {}).get("protocol") == "FTP"]
    data = [r for r in records if (r.get("app") or {}).get("protocol") == "FTP-DATA"]
    truths = [t for t in expected(stem) if "ftp-data" in t.get("app", [])]
    assert len(control) == 1 and len(data) == len(truths) >= 2
    for r in data:
        info = r["app"]["ftp-data"]
        assert info["mode"] == "passive" and info["control"].startswith("FTP ")
        assert info["command"] in ("LIST", "NLST", "RETR")
    files = [(r["app"]["ftp-data"]["command"], r["app"]["ftp-data"]["file"]) for r in data]
    if commands is not None:
        assert sorted(files, key=str) == sorted(commands.items(), key=str)
    # suricata-verify: the data connection carrying RETR index.html says so
    for peer in expected_peer(stem, "suricata-verify") if commands is None else []:
        if peer["event_type"] == "ftp_data":
            want = (peer["match"]["ftp_data.command"], peer["match"]["ftp_data.filename"])
            assert want in files


def session(*steps: tuple[int, bytes]) -> tuple[FTPAnalyzer, list[Any]]:
    a = FTPAnalyzer()
    events = replay(a, script((S, b"220 ProFTPD Server\r\n"), *steps))
    return a, events


def test_active_and_extended_modes() -> None:
    a, events = session(
        (C, b"PORT 192,168,1,2,7,138\r\n"),
        (S, b"200 PORT command successful\r\n"),
        (C, b"STOR up.txt\r\n"),
        (S, b"150 Opening\r\n226 Done\r\n"),
        (C, b"EPRT |2|fd00::1|5282|\r\n"),
        (S, b"200 EPRT ok\r\n"),
        (C, b"RETR down.bin\r\n"),
        (S, b"150 Opening BINARY mode data connection for down.bin (42 bytes)\r\n"),
        (S, b"226 Transfer complete\r\n"),
        (C, b"EPSV\r\n"),
        (S, b"229 Entering Extended Passive Mode (|||6446|)\r\n"),
        (C, b"MLSD /pub\r\n"),
    )
    got = [(e.address, e.port, e.info["mode"], e.info["command"], e.info["file"]) for e in events]
    assert got == [
        ("192.168.1.2", 1930, "active", "STOR", "up.txt"),
        ("fd00::1", 5282, "active", "RETR", "down.bin"),
        ("", 6446, "passive", "MLSD", "/pub"),
    ]
    assert all(e.protocol == "FTP-DATA" and e.transport == "tcp" for e in events)
    r = a.record()
    assert r["files"] == ["up.txt", "down.bin"]
    assert [t["size"] for t in r["transfers"]] == [None, 42, None]
    assert [t["reply_code"] for t in r["transfers"]] == [226, 226, None]


def test_port_is_announced_before_the_reply() -> None:
    """Servers connect to the client before answering 200 (pyftpdlib does)."""
    a, _ = session()
    (event,) = a.feed(Dir.CLIENT, b"PORT 10,0,0,1,4,1\r\n", 5.0)
    assert isinstance(event, ExpectConnection)
    assert (event.address, event.port, event.info["mode"], event.ts) == (
        "10.0.0.1",
        1025,
        "active",
        5.0,
    )


def test_auth_tls_hands_over_and_refusal_does_not() -> None:
    a, _ = session((C, b"AUTH TLS\r\n"), (S, b"234 AUTH TLS OK\r\n"))
    assert a.handoff == "TLS" and a.record()["auth_tls"] and not a.finished
    b, _ = session((C, b"AUTH TLS\r\n"), (S, b"500 not understood\r\n"))
    assert b.handoff is None


def test_multiline_reply_with_unnumbered_lines() -> None:
    a, _ = session(
        (C, b"FEAT\r\n"),
        (S, b"211-Features:\r\n EPRT\r\n211-still going\r\n SIZE\r\n211 End\r\n"),
        (C, b"QUIT\r\n"),
        (S, b"221 Goodbye\r\n"),
    )
    assert a.finished and a.record()["reply_codes"] == [220, 211, 221]
    assert a.record()["requests"][0]["reply"] == "Features:"


def test_trailing_partial_line() -> None:
    a, _ = session((C, b"USER x\r\n"), (S, b"331 pw\r\n"))
    before = a.record()
    a.feed(Dir.CLIENT, b"PASS secr", 9.0)
    assert a.record() == before and "secr" not in repr(a.record())


def test_host_port_parsers() -> None:
    assert host_port(b"Entering Passive Mode (90,130,70,73,95,203).") == ("90.130.70.73", 24523)
    assert host_port(b"no numbers") is None
    assert eprt(b"|1|132.235.1.2|6275|") == ("132.235.1.2", 6275)
    assert eprt(b"|1|x|99999|") is None
    with pytest.raises(MalformedError):
        host_port(b"(300,1,1,1,1,1)")


@pytest.mark.parametrize(
    "steps",
    [
        [(S, b"hello\r\n")],
        [(C, b"\x00\x01\x02\r\n")],
        [(S, b"220 x\r\n"), (C, b"PASV\r\n"), (S, b"227 Entering (1,2,3,4,0,0)\r\n")],
        [(C, b"A" * 9000)],
    ],
)
def test_malformed(steps: list[tuple[int, bytes]]) -> None:
    with pytest.raises(MalformedError):
        replay(FTPAnalyzer(), script(*steps))


@pytest.mark.parametrize(
    ("data", "ftp", "greeting"),
    [
        (b"220 (vsFTPd 3.0.3)\r\n", True, True),
        (b"220 FTP Sandbox Ready.\r\n", True, True),
        (b"120 wait\r\n220 ProFTPD ready\r\n", True, True),
        (b'220 "Authorized users only."\r\n', False, True),
        (b"220 mx ESMTP Postfix\r\n", False, False),
        (b"AUTH TLS\r\n", True, False),
        (b"USER bob\r\n", False, False),
    ],
)
def test_detect(data: bytes, ftp: bool, greeting: bool) -> None:
    assert detect_tcp(data) is ftp
    assert detect_tcp_greeting(data) is greeting


test_fuzz = fuzz_only_malformed(FTPAnalyzer)
test_fuzz_logged_in = fuzz_only_malformed(
    FTPAnalyzer, script((S, b"220 x\r\n"), (C, b"USER a\r\nPASV\r\n"), (S, b"331 pw\r\n"))
)
