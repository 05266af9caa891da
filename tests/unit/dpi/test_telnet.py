"""TelnetAnalyzer: tshark's data samples, CredSLayer's credentials and nDPI's user on a
real capture (three feeding shapes); IAC escapes, subnegotiations, line editing, fuzzing."""

from __future__ import annotations

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.telnet import SAMPLE, TelnetAnalyzer, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script, tcp_flows
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow

C, S = 0, 1


def only_flow() -> Flow:
    (flow,) = tcp_flows(corpus_file("ndpi_telnet.pcap"), detect_tcp)
    return flow


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_tshark_credslayer_ndpi(shape: str) -> None:
    (t,) = [t for t in expected("ndpi_telnet") if t.get("kind") == "flow"]
    (cred,) = expected_peer("ndpi_telnet", "credslayer")
    (peer,) = expected_peer("ndpi_telnet", "ndpi")
    a = TelnetAnalyzer()
    replay(a, only_flow().chunks, shape)
    r = a.record()
    assert r["user"] == cred["username"] == peer["raw"]["Username"]
    assert r["password_sent"] is True and r["login_prompt"] == "login:"
    # tshark's sample is the first 200 data characters; ours the first 256 bytes
    assert r["server_data_sample"].startswith(t["telnet_server_data_sample"])
    # tshark's client sample includes the password line; ours leaves it out
    secret = cred["password"] + "\r\n"
    assert r["client_data_sample"] == t["telnet_client_data_sample"].replace(secret, "", 1)
    assert cred["password"] not in r["client_data_sample"].split("\r\n")
    assert (r["terminal_type"], r["window_size"]) == ("xterm-color", "80x32")
    assert r["x_display"] == "bam.zing.org:0.0" and r["terminal_speed"] == "9600,9600"
    assert r["client_negotiation"][:3] == ["DO SGA", "WILL TTYPE", "WILL NAWS"]
    assert r["server_negotiation"][:2] == ["DO AUTHENTICATION", "WILL SGA"]
    assert a.summary() == "Telnet fake"


def test_character_mode_with_echo_and_backspace() -> None:
    a = TelnetAnalyzer()
    steps = [(S, b"\xff\xfb\x01\xff\xfb\x03\r\n\r\x00Debian login: ")]
    for ch in b"roox\x7ft\r\x00":
        steps += [(C, bytes([ch])), (S, bytes([ch]) if ch >= 0x20 else b"")]
    steps += [(S, b"\r\nPassword: "), (C, b"s"), (C, b"3"), (C, b"\r\n"), (S, b"\r\n$ "),
              (C, b"id\r\n")]  # fmt: skip
    replay(a, script(*steps))
    r = a.record()
    assert r["user"] == "root" and r["password_sent"] is True
    assert r["login_prompt"] == "Debian login:"
    assert r["client_data_sample"] == "roox\x7ft\r\x00id\r\n"  # as sent, minus the secret
    assert r["server_negotiation"] == ["WILL ECHO", "WILL SGA"]


def test_escaped_iac_and_split_subnegotiation() -> None:
    a = TelnetAnalyzer()
    replay(
        a,
        script(
            (C, b"\xff\xfa\x18\x00vt1"),
            (C, b"00\xff"),
            (C, b"\xf0data \xff\xff byte"),
            (C, b"\xff\xfa\x1f\x00\x84\x00\x2a\xff\xf0"),
            (C, b"\xff\xf1"),  # NOP
        ),
    )
    r = a.record()
    assert r["terminal_type"] == "vt100" and r["window_size"] == "132x42"
    assert r["client_data_bytes"] == len(b"data \xff byte")


def test_sample_is_bounded_and_finishes() -> None:
    a = TelnetAnalyzer()
    replay(a, script((S, b"login: "), (C, b"u\r\n"), (S, b"x" * 5000), (C, b"y\r\n" * 200)))
    r = a.record()
    assert len(r["server_data_sample"]) == SAMPLE and len(r["client_data_sample"]) == SAMPLE
    assert a.finished


def test_trailing_partial_sequence() -> None:
    a = TelnetAnalyzer()
    replay(a, script((S, b"login: "), (C, b"ann\r\n")))
    before = a.record()
    a.feed(Dir.CLIENT, b"\xff\xfa\x18", 1.0)  # an unfinished subnegotiation
    assert a.record() == before


@pytest.mark.parametrize(
    ("data", "telnet"),
    [(b"\xff\xfd\x03\xff\xfb\x18", True), (b"\xff\xfb\x01", True), (b"\xff\xfa\x18\x01", True),
     (b"\xff", True), (b"\xff\xf0", False), (b"login: ", False), (b"\x16\x03\x01", False),
     (b"\xff\xfb\x99", False), (b"\xff\xfd\xff", True)],
)  # fmt: skip
def test_detect(data: bytes, telnet: bool) -> None:
    assert detect_tcp(data) is telnet


def test_iac_before_a_non_command_is_malformed() -> None:
    a = TelnetAnalyzer()
    with pytest.raises(MalformedError) as exc:
        replay(a, script((C, b"\xff\xfd\x03"), (S, b"abc\xff\x41")))
    assert exc.value.reason == "IAC followed by 0x41"


test_fuzz = fuzz_only_malformed(TelnetAnalyzer)
test_fuzz_at_login = fuzz_only_malformed(TelnetAnalyzer, script((S, b"login: ")))
