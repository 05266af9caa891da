"""IMAPAnalyzer: tshark truths, nDPI credentials and suricata-verify's classification on
real captures (three feeding shapes); literals, SASL, STARTTLS, IDLE, fuzzing."""

from __future__ import annotations

import base64

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.imap import IMAPAnalyzer, astrings, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script, tcp_flows
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow

C, S = 0, 1
STEMS = ["ndpi_imap", "sv_imap-detection"]


def only_flow(stem: str) -> Flow:
    (flow,) = tcp_flows(corpus_file(stem + ".pcap"), detect_tcp)
    return flow


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stem", STEMS)
def test_matches_tshark(stem: str, shape: str) -> None:
    (t,) = [t for t in expected(stem) if t.get("kind") == "flow" and "imap" in t.get("app", [])]
    flow = only_flow(stem)
    assert (flow.client, flow.server) == ((t["src"], t["sport"]), (t["dst"], t["dport"]))
    a = IMAPAnalyzer()
    replay(a, flow.chunks, shape)
    r = a.record()
    assert r["commands"] == t["imap_commands"]
    assert r["user"] == t["imap_user"]
    assert r["login_success"] is True and r["mailboxes"] == ["INBOX"]


def test_ndpi_credentials_and_suricata_classification() -> None:
    (peer,) = expected_peer("ndpi_imap", "ndpi")
    a = IMAPAnalyzer()
    replay(a, only_flow("ndpi_imap").chunks)
    assert a.record()["user"] == peer["raw"]["User"]
    assert peer["raw"]["Pwd"] not in repr(a.record())
    (sv,) = expected_peer("sv_imap-detection", "suricata-verify")
    flow = only_flow("sv_imap-detection")
    assert sv["app_proto"] == "imap" and (flow.server[1], sv["dport"]) == (143, 143)
    b = IMAPAnalyzer()
    replay(b, flow.chunks)
    assert b.record()["server_software"] == "Microsoft Exchange"
    assert "LITERAL+" in b.record()["capabilities"]


LITERALS = script(
    (S, b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n"),
    (C, b"a1 LOGIN {5}\r\n"),
    (S, b"+ OK\r\n"),
    (C, b'alice "p\\"w"\r\n'),
    (S, b"a1 OK Logged in\r\n"),
    (C, b"a2 SELECT {8+}\r\nArchive \r\n"),
    (S, b"a2 OK done\r\n"),
    (C, b"a3 UID FETCH 1 (BODY[])\r\n"),
    (S, b"* 1 FETCH (BODY[] {300}\r\n" + b"a9 BAD inside a literal\r\n" * 12 + b")\r\n"),
    (S, b"a3 OK fetched\r\n"),
    (C, b"a4 IDLE\r\n"),
    (S, b"+ idling\r\n"),
    (C, b"DONE\r\n"),
    (S, b"a4 OK idle done\r\n"),
    (C, b"a5 LOGOUT\r\n"),
    (S, b"* BYE\r\na5 OK bye\r\n"),
)


@pytest.mark.parametrize("shape", SHAPES)
def test_literals_are_read_and_skipped(shape: str) -> None:
    a = IMAPAnalyzer()
    replay(a, LITERALS, shape)
    r = a.record()
    assert r["user"] == "alice" and r["login_success"] is True
    assert r["mailboxes"] == ["Archive "]
    assert r["commands"] == ["LOGIN", "SELECT", "FETCH", "IDLE", "LOGOUT"]
    # the BAD lines were literal content, not responses
    assert r["responses"] == {"OK": 5, "NO": 0, "BAD": 0}
    assert r["capabilities"] == ["IMAP4rev1", "STARTTLS", "AUTH=PLAIN"]
    assert r["server_software"] == "Dovecot" and a.finished
    assert 'p"w' not in repr(r)


def test_authenticate_and_starttls() -> None:
    a = IMAPAnalyzer()
    replay(a, script((S, b"* OK ready\r\n"), (C, b"t1 STARTTLS\r\n"), (S, b"t1 OK begin\r\n")))
    assert a.handoff == "TLS" and a.record()["starttls"] is True
    b = IMAPAnalyzer()
    blob = base64.b64encode(b"\x00carol\x00secret")
    replay(
        b,
        script(
            (S, b"* OK ready\r\n"),
            (C, b"t1 AUTHENTICATE PLAIN\r\n"),
            (S, b"+ \r\n"),
            (C, blob + b"\r\n"),
            (S, b"t1 NO [AUTHENTICATIONFAILED] bad\r\n"),
        ),
    )
    r = b.record()
    assert (r["user"], r["auth_mechanism"], r["login_success"]) == ("carol", "PLAIN", False)
    assert r["commands"] == ["AUTHENTICATE"] and r["responses"]["NO"] == 1


def test_trailing_partial_literal() -> None:
    a = IMAPAnalyzer()
    replay(a, LITERALS[:5])
    before = a.record()
    a.feed(Dir.CLIENT, b"a2 APPEND INBOX {100}\r\nFrom: x", 9.0)
    assert a.record() == before


def test_astrings() -> None:
    assert astrings(b'"a b" c "d\\"e"', 3) == ["a b", "c", 'd"e']
    assert astrings(b"", 1) == []


@pytest.mark.parametrize(
    "steps",
    [
        [(S, b"220 smtp\r\n")],
        [(C, b"\x16\x03\x01\x02 x\r\n")],
        [(S, b"* OK\r\n"), (S, b"a1 MAYBE\r\n")],
        [(C, b"a " + b"{1}\r\nx" * 30000)],
    ],
)
def test_malformed(steps: list[tuple[int, bytes]]) -> None:
    with pytest.raises(MalformedError):
        replay(IMAPAnalyzer(), script(*steps))


@pytest.mark.parametrize(
    ("data", "imap"),
    [(b"* OK [CAPABILITY IMAP4rev1] hi\r\n", True), (b"* PREAUTH ready\r\n", True),
     (b"a001 CAPABILITY\r\n", True), (b"1 login a b\r\n", True), (b"+OK pop\r\n", False),
     (b"* SEARCH 1\r\n", False), (b"GET / HTTP/1.1\r\n", False)],
)  # fmt: skip
def test_detect(data: bytes, imap: bool) -> None:
    assert detect_tcp(data) is imap


test_fuzz = fuzz_only_malformed(IMAPAnalyzer)
test_fuzz_logged_in = fuzz_only_malformed(IMAPAnalyzer, LITERALS[:5])
