"""POP3Analyzer: tshark truths, nDPI credentials and suricata-verify's CAPA/AUTH events on
real captures (three feeding shapes); multi-line responses, SASL, STLS, fuzzing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.pop3 import POP3Analyzer, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script, tcp_flows
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow

C, S = 0, 1


def flows(stem: str) -> dict[tuple[Any, ...], Flow]:
    return {(f.client, f.server): f for f in tcp_flows(corpus_file(stem + ".pcap"), detect_tcp)}


def run(flow: Flow, shape: str = "captured") -> POP3Analyzer:
    a = POP3Analyzer()
    replay(a, flow.chunks, shape)
    return a


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stem", ["ndpi_pop3", "sv_pop3-auth-01"])
def test_matches_tshark(stem: str, shape: str) -> None:
    truths = [t for t in expected(stem) if t.get("kind") == "flow" and "pop3" in t.get("app", [])]
    by = flows(stem)
    assert len(truths) == len(by) >= 1
    for t in truths:
        r = run(by[((t["src"], t["sport"]), (t["dst"], t["dport"]))], shape).record()
        assert r["commands"] == t["pop3_commands"]
        if "pop3_user" in t:
            assert r["user"] == t["pop3_user"]


def test_ndpi_credentials() -> None:
    by = flows("ndpi_pop3")
    for p in expected_peer("ndpi_pop3", "ndpi"):
        a = run(by[((p["src"], p["sport"]), (p["dst"], p["dport"]))])
        assert p["raw"]["proto"] == "2/POP3"
        if "User" in p["raw"]:
            assert a.record()["user"] == p["raw"]["User"]
            assert p["raw"]["Pwd"] not in repr(a.record())


def test_suricata_capa_and_xoauth2() -> None:
    (flow,) = flows("sv_pop3-auth-01").values()
    r = run(flow).record()
    events = [p["match"] for p in expected_peer("sv_pop3-auth-01", "suricata-verify")]
    capa = next(e for e in events if e.get("pop3.request.command") == "CAPA")
    want = [v for k, v in sorted(capa.items()) if k.startswith("pop3.response.data[")]
    assert r["capabilities"] == want
    auth = next(e for e in events if e.get("pop3.request.command") == "AUTH")
    assert r["auth_mechanism"] == auth["pop3.request.args[0]"]
    assert r["login_success"] is True and r["user"] == "joe.speedboat"
    stat = next(e for e in events if e.get("pop3.request.command") == "STAT")
    assert f"{r['mailbox_messages']} {r['mailbox_bytes']}" == stat["pop3.response.header"]


def test_retr_bytes_equal_the_listed_size() -> None:
    flow = flows("ndpi_pop3")[(("143.225.229.181", 35287), ("74.208.5.28", 110))]
    r = run(flow).record()
    listed = flow.data(1).split(b"+OK\r\n1 16196\r\n2 ")[1].split(b"\r\n")[0]
    assert r["retrieved"] == 1 and r["retrieved_bytes"] == int(listed)


SESSION = script(
    (S, b"+OK Dovecot ready.\r\n"),
    (C, b"CAPA\r\nUSER alice\r\n"),
    (S, b"+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n+OK\r\n"),
    (C, b"PASS hunter2\r\n"),
    (S, b"+OK Logged in.\r\n"),
    (C, b"RETR 1\r\n"),
    (S, b"+OK 12 octets\r\n..dot\r\n-ERR not a status\r\n.\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"+OK Logging out.\r\n"),
)


@pytest.mark.parametrize("shape", SHAPES)
def test_session(shape: str) -> None:
    a = POP3Analyzer()
    replay(a, SESSION, shape)
    r = a.record()
    assert a.finished and r["greeting"] == "Dovecot ready."
    assert r["capabilities"] == ["STLS", "SASL PLAIN"] and r["user"] == "alice"
    assert r["login_success"] is True and r["errors"] == 0
    assert r["retrieved"] == 1 and r["retrieved_bytes"] == len(b"..dot\r\n-ERR not a status\r\n")
    assert "hunter2" not in repr(r)
    assert a.summary() == "POP3 alice 1 retrieved"


def test_stls_and_auth_plain() -> None:
    a = POP3Analyzer()
    blob = base64.b64encode(b"\x00bob\x00pw")
    replay(
        a,
        script(
            (S, b"+OK\r\n"),
            (C, b"AUTH PLAIN " + blob + b"\r\n"),
            (S, b"-ERR no\r\n"),
            (C, b"STLS\r\n"),
            (S, b"+OK Begin TLS\r\n"),
            (C, b"\x16\x03\x01"),
        ),
    )
    r = a.record()
    assert (r["user"], r["auth_mechanism"], r["login_success"]) == ("bob", "PLAIN", False)
    assert a.handoff == "TLS" and r["stls"] is True


def test_trailing_partial_line() -> None:
    a = POP3Analyzer()
    replay(a, SESSION[:3])
    before = a.record()
    a.feed(Dir.SERVER, b"+OK partial", 1.0)
    assert a.record() == before


@pytest.mark.parametrize(
    "steps", [[(S, b"* OK imap\r\n")], [(C, b"\xff\xfe\r\n")], [(C, b"USER " + b"a" * 9000)]]
)
def test_malformed(steps: list[tuple[int, bytes]]) -> None:
    with pytest.raises(MalformedError):
        replay(POP3Analyzer(), script(*steps))


@pytest.mark.parametrize(
    ("data", "pop3"),
    [(b"+OK POP3 ready\r\n", True), (b"+OK", True), (b"CAPA\r\n", True), (b"STLS\r\n", True),
     (b"+OKAY\r\n", False), (b"USER bob\r\n", False), (b"* OK IMAP\r\n", False)],
)  # fmt: skip
def test_detect(data: bytes, pop3: bool) -> None:
    assert detect_tcp(data) is pop3


test_fuzz = fuzz_only_malformed(POP3Analyzer)
test_fuzz_in_list = fuzz_only_malformed(POP3Analyzer, SESSION[:6])
