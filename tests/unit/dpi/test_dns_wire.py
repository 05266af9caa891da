"""DNS message parsing: names and compression, record data, strictness, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.dns.names import read_name
from netwatch.dpi.dns.wire import parse_message
from netwatch.errors import MalformedError


def name(text: str) -> bytes:
    if text == ".":
        return b"\x00"
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\x00"


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 60, rclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def message(
    ident: int = 0x1234,
    flags: int = 0x0100,
    questions: tuple[tuple[str, int], ...] = (("example.com", 1),),
    answers: tuple[bytes, ...] = (),
    authority: tuple[bytes, ...] = (),
    additional: tuple[bytes, ...] = (),
) -> bytes:
    head = struct.pack(
        "!6H", ident, flags, len(questions), len(answers), len(authority), len(additional)
    )
    body = b"".join(name(q) + struct.pack("!HH", t, 1) for q, t in questions)
    return head + body + b"".join(answers + authority + additional)


# A response built by hand with compression: the question name sits at offset 12, and
# every later owner is the pointer c0 0c.
PTR = b"\xc0\x0c"


def test_compression_pointer_resolves_to_the_question_name() -> None:
    msg = parse_message(
        message(flags=0x8180, answers=(rr(PTR, 1, bytes([192, 0, 2, 1])),)),
    )
    assert msg.is_response and msg.rcode == 0
    assert msg.answers[0].name == "example.com"
    assert msg.answers[0].data == "192.0.2.1"


def test_pointer_after_labels() -> None:
    buf = message() + b"\x03www\xc0\x0c"
    assert read_name(buf, len(message())) == ("www.example.com", len(buf))


def test_pointer_loop_is_rejected() -> None:
    # a pointer to itself, and two pointers pointing at each other
    with pytest.raises(MalformedError, match="backwards"):
        read_name(b"\x00" * 12 + b"\xc0\x0c", 12)
    buf = b"\x00" * 12 + b"\x01a\xc0\x10" + b"\x01b\xc0\x0c"
    with pytest.raises(MalformedError):
        read_name(buf, 16)


def test_name_longer_than_255_is_rejected() -> None:
    long = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00"
    with pytest.raises(MalformedError, match="255"):
        read_name(long, 0)


def test_root_name_and_escapes() -> None:
    assert read_name(b"\x00", 0) == (".", 1)
    assert read_name(b"\x03a.b\x02\x00\xff\x00", 0)[0] == "a\\.b.\\000\\255"


@pytest.mark.parametrize(
    ("rtype", "rdata", "text"),
    [
        (28, bytes.fromhex("20010db8000000000000000000000001"), "2001:db8::1"),
        (5, name("edge.example.net"), "edge.example.net"),
        (2, name("ns1.example.com"), "ns1.example.com"),
        (12, name("host.example"), "host.example"),
        (15, b"\x00\x0a" + name("mx.example.com"), "mx.example.com"),
        (33, struct.pack("!3H", 0, 5, 5060) + name("sip.example.com"), "0 5 5060 sip.example.com"),
        (
            6,
            name("ns.example.com") + name("admin.example.com") + struct.pack("!5I", 1, 2, 3, 4, 5),
            "ns.example.com admin.example.com 1 2 3 4 5",
        ),
        (16, b"\x05hello\x06 world", "hello world"),
        (257, b"\x00\x05issue" + b"letsencrypt.org", '0 issue "letsencrypt.org"'),
        (99, b"\x03spf", "spf"),
        (48, b"\x01\x00\x03\x08\xaa", "0100030 8aa".replace(" ", "")),
    ],
)
def test_rdata_presentation(rtype: int, rdata: bytes, text: str) -> None:
    msg = parse_message(message(flags=0x8180, answers=(rr(PTR, rtype, rdata),)))
    assert msg.answers[0].data == text


def test_txt_keeps_each_string() -> None:
    msg = parse_message(message(flags=0x8180, answers=(rr(PTR, 16, b"\x02ab\x00\x02cd"),)))
    assert msg.answers[0].strings == ("ab", "", "cd")


def test_https_record_rfc9460_presentation() -> None:
    # RFC 9460 Appendix D.2 style: priority 1, target ".", alpn=h3,h2, port 8443,
    # ipv4hint, ech, ipv6hint, mandatory=alpn,port
    params = (
        struct.pack("!HH", 0, 4)
        + struct.pack("!HH", 1, 3)
        + struct.pack("!HH", 1, 6)
        + b"\x02h3\x02h2"
        + struct.pack("!HH", 3, 2)
        + struct.pack("!H", 8443)
        + struct.pack("!HH", 4, 8)
        + bytes([192, 0, 2, 1, 192, 0, 2, 2])
        + struct.pack("!HH", 5, 3)
        + b"\x01\x02\x03"
        + struct.pack("!HH", 6, 16)
        + bytes.fromhex("20010db8000000000000000000000053")
    )
    rdata = struct.pack("!H", 1) + b"\x00" + params
    msg = parse_message(
        message(flags=0x8180, questions=(("example.com", 65),), answers=(rr(PTR, 65, rdata),))
    )
    assert msg.answers[0].type == "HTTPS"
    assert msg.answers[0].data == (
        "1 . mandatory=alpn,port alpn=h3,h2 port=8443 ipv4hint=192.0.2.1,192.0.2.2 "
        "ech=AQID ipv6hint=2001:db8::53"
    )


def test_svcb_alias_mode_and_unknown_key() -> None:
    rdata = struct.pack("!H", 0) + name("svc.example.net")
    msg = parse_message(message(flags=0x8180, answers=(rr(PTR, 64, rdata),)))
    assert msg.answers[0].data == "0 svc.example.net"
    rdata = struct.pack("!H", 2) + b"\x00" + struct.pack("!HH", 667, 2) + b"\xbe\xef"
    msg = parse_message(message(flags=0x8180, answers=(rr(PTR, 64, rdata),)))
    assert msg.answers[0].data == "2 . key667=beef"


def test_svcb_keys_out_of_order_are_malformed() -> None:
    params = struct.pack("!HH", 3, 2) + b"\x01\xbb" + struct.pack("!HH", 1, 3) + b"\x02h2"
    rdata = struct.pack("!H", 1) + b"\x00" + params
    with pytest.raises(MalformedError, match="order"):
        parse_message(message(flags=0x8180, answers=(rr(PTR, 65, rdata),)))


def test_edns_opt_record() -> None:
    # RFC 6891 §6.1.2: class 1232 = UDP size, TTL 0x00008000 = version 0, DO bit; one
    # COOKIE option (10) of 8 bytes
    opt = (
        b"\x00" + struct.pack("!HHIH", 41, 1232, 0x8000, 12) + struct.pack("!HH", 10, 8) + b"c" * 8
    )
    msg = parse_message(message(additional=(opt,)))
    assert msg.edns is not None
    assert (msg.edns.udp_size, msg.edns.version, msg.edns.dnssec_ok) == (1232, 0, True)
    assert msg.edns.options == (10,)
    assert msg.additional == ()


def test_extended_rcode_badvers() -> None:
    opt = b"\x00" + struct.pack("!HHIH", 41, 512, 0x01000000, 0)
    msg = parse_message(message(flags=0x8180, additional=(opt,)))
    assert msg.rcode == 16


@pytest.mark.parametrize(
    ("buf", "reason"),
    [
        (b"\x12\x34\x01\x00\x00\x01", "header"),
        (message()[:-1], "question"),
        (message() + b"\x00", "after the last record"),
        (message(answers=(rr(PTR, 1, b"\x01\x02\x03"),)), "A rdata"),
        (message(answers=(rr(PTR, 28, b"\x00" * 4),)), "AAAA rdata"),
        # rdlength lies: claims 200 bytes
        (
            message(answers=(PTR + struct.pack("!HHIH", 1, 1, 0, 200) + b"\x01\x02\x03\x04",)),
            "rdlength",
        ),
        # counts lie: 40 answers announced, none present
        (struct.pack("!6H", 1, 0x8180, 0, 40, 0, 0), "counts"),
        (message(flags=0x3800), "opcode"),
        (struct.pack("!6H", 1, 0x0100, 1, 0, 0, 0) + b"\x80abc\x00\x00\x01\x00\x01", "label type"),
        (message(answers=(rr(PTR, 5, name("a.example") + b"x"),)), "after the name"),
        (message(answers=(rr(PTR, 16, b"\x09short"),)), "character-string"),
    ],
)
def test_malformed_messages(buf: bytes, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        parse_message(buf)


def test_name_inside_rdata_may_not_run_past_it() -> None:
    # the CNAME rdlength says 2 but the name inside is longer
    owner_then_cname = PTR + struct.pack("!HHIH", 5, 1, 0, 2) + b"\x03abc\x00"
    with pytest.raises(MalformedError):
        parse_message(message(answers=(owner_then_cname,)))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_only_raise_malformed(data: bytes) -> None:
    try:
        parse_message(data)
    except MalformedError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_real_message_only_raises_malformed(data: st.DataObject) -> None:
    base = bytearray(
        message(
            flags=0x8180,
            answers=(
                rr(PTR, 5, b"\x04edge\xc0\x0c"),
                rr(b"\xc0\x1d", 1, bytes([192, 0, 2, 7])),
                rr(PTR, 65, struct.pack("!H", 1) + b"\x00" + struct.pack("!HH", 1, 3) + b"\x02h2"),
            ),
        )
    )
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        parse_message(bytes(base[:cut]))
    except MalformedError:
        pass
