"""SMTPAnalyzer on hand-written sessions: pipelining, BDAT, AUTH variants, refusals,
case-insensitive verbs, trailing bytes, detection, malformed input and fuzzing."""

from __future__ import annotations

import base64

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.smtp import SMTPAnalyzer, detect_tcp, detect_tcp_greeting
from netwatch.errors import MalformedError
from tests.unit.dpi.test_smtp_support import SHAPES, fuzz_only_malformed, replay, script

C, S = 0, 1
PIPELINED = script(
    (S, b"220 mx.example ESMTP Postfix\r\n"),
    (C, b"ehlo client.example\r\n"),
    (S, b"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
    (
        C,
        b"mail from:<a@x.example> SIZE=99\r\nrcpt to:<b@y.example>\r\n"
        b"RCPT TO:<c@y.example>\r\nDATA\r\n",
    ),
    (S, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n"),
    (C, b"Subject: hi\r\n there\r\nFrom: A <a@x.example>\r\n\r\n..leading dot\r\nbody\r\n.\r\n"),
    (S, b"250 2.0.0 queued as 1234\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 bye\r\n"),
)


@pytest.mark.parametrize("shape", SHAPES)
def test_pipelined_session(shape: str) -> None:
    a = SMTPAnalyzer()
    replay(a, PIPELINED, shape)
    r = a.record()
    assert a.finished
    assert r["helo"] == "client.example"
    assert r["commands"] == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert r["reply_codes"] == [220, 250, 550, 354, 221]
    assert r["capabilities"] == ["PIPELINING", "8BITMIME"]
    assert r["pipelining"] is True
    assert r["mail_from"] == ["a@x.example"]
    assert r["rcpt_to"] == ["b@y.example", "c@y.example"]
    (msg,) = r["messages"]
    assert msg["subject"] == "hi there"  # RFC 5322 §2.2.3 unfolding
    assert msg["from"] == "A <a@x.example>"
    assert msg["result"] == 250
    lines = (b"Subject: hi", b" there", b"From: A <a@x.example>", b"", b".leading dot", b"body")
    assert msg["size"] == sum(len(x) + 2 for x in lines)
    assert r["message_count"] == 1 and r["message_bytes"] == msg["size"]
    assert a.summary() == "SMTP client.example a@x.example → 2 rcpt"


def test_trailing_partial_line_changes_nothing() -> None:
    a = SMTPAnalyzer()
    replay(a, PIPELINED[:5])
    before = a.record()
    a.feed(Dir.CLIENT, b"Subject: hi\r\nFrom: A", 9.0)  # mid-message, no line end yet
    assert a.record() == before


@pytest.mark.parametrize(
    ("auth", "user"),
    [
        (b"AUTH PLAIN " + base64.b64encode(b"\x00alice\x00secret") + b"\r\n", "alice"),
        (b"AUTH LOGIN " + base64.b64encode(b"bob") + b"\r\n", "bob"),
        (
            b"AUTH XOAUTH2 " + base64.b64encode(b"user=carol\x01auth=Bearer t\x01\x01") + b"\r\n",
            "carol",
        ),
    ],
)
def test_auth_initial_response(auth: bytes, user: str) -> None:
    a = SMTPAnalyzer()
    replay(
        a,
        script(
            (S, b"220 x ESMTP\r\n"),
            (C, b"EHLO h\r\n"),
            (S, b"250 x\r\n"),
            (C, auth),
            (S, b"235 ok\r\n"),
            (C, b"NOOP\r\n"),
            (S, b"250 ok\r\n"),
        ),
    )
    r = a.record()
    assert r["auth_user"] == user and r["auth_success"] is True
    assert r["commands"] == ["EHLO", "AUTH", "NOOP"]
    assert "secret" not in repr(r)


def test_auth_plain_after_challenge_failed() -> None:
    a = SMTPAnalyzer()
    blob = base64.b64encode(b"authz\x00dave\x00pw")
    replay(
        a,
        script(
            (S, b"220 x SMTP\r\n"),
            (C, b"AUTH PLAIN\r\n"),
            (S, b"334 \r\n"),
            (C, blob + b"\r\n"),
            (S, b"535 5.7.8 bad\r\n"),
            (C, b"QUIT\r\n"),
        ),
    )
    r = a.record()
    assert (r["auth_mechanism"], r["auth_user"], r["auth_success"]) == ("PLAIN", "dave", False)
    assert r["commands"] == ["AUTH", "QUIT"]  # the SASL line is not a command


def test_starttls_refused_keeps_reading() -> None:
    a = SMTPAnalyzer()
    replay(
        a,
        script(
            (S, b"220 x ESMTP\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"454 4.7.0 TLS not available\r\n"),
            (C, b"MAIL FROM:<>\r\n"),
            (S, b"250 ok\r\n"),
        ),
    )
    assert a.handoff is None and a.record()["starttls"] is False
    assert a.record()["mail_from"] == [""]


def test_starttls_accepted_hands_over() -> None:
    a = SMTPAnalyzer()
    replay(a, script((S, b"220 x ESMTP\r\n"), (C, b"StartTLS\r\n"), (S, b"220 2.0.0 go\r\n")))
    assert a.handoff == "TLS" and a.record()["starttls"] is True and not a.finished
    assert a.feed(Dir.CLIENT, b"\x16\x03\x01\x00\x05hello", 9.0) == ()  # TLS is not ours


def test_data_refused_is_not_a_body() -> None:
    a = SMTPAnalyzer()
    replay(
        a,
        script(
            (S, b"220 x ESMTP\r\n"),
            (C, b"DATA\r\n"),
            (S, b"503 5.5.1 need RCPT\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 bye\r\n"),
        ),
    )
    assert a.finished and a.record()["commands"] == ["DATA", "QUIT"]
    assert a.record()["message_count"] == 0


def test_bdat_chunks() -> None:
    a = SMTPAnalyzer()
    replay(
        a,
        script(
            (S, b"220 x ESMTP\r\n"),
            (C, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"),
            (S, b"250 ok\r\n250 ok\r\n"),
            (C, b"BDAT 5\r\nab\r\nc"),
            (S, b"250 5 bytes\r\n"),
            (C, b"BDAT 3 LAST\r\n.\r\n"),
            (S, b"250 queued\r\n"),
            (C, b"QUIT\r\n"),
        ),
    )
    r = a.record()
    assert r["message_count"] == 1 and r["messages"][0]["size"] == 8
    assert r["commands"] == ["MAIL", "RCPT", "BDAT", "QUIT"]


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([(S, b"hello world\r\n")], "reply without a code"),
        ([(C, b"\x16\x03\x01 binary\r\n")], "not an SMTP command"),
        ([(C, b"X" * 9000)], "line too long"),
        ([(S, b"220 x\r\n"), (C, b"BDAT x\r\n")], "BDAT without a chunk size"),
        ([(S, b"250-x\r\n" * 200)], "reply of too many lines"),
    ],
)
def test_malformed(steps: list[tuple[int, bytes]], reason: str) -> None:
    a = SMTPAnalyzer()
    with pytest.raises(MalformedError) as exc:
        replay(a, script(*steps))
    assert exc.value.reason == reason and exc.value.protocol == "SMTP"


def test_many_recipients_are_capped_and_counted() -> None:
    rcpts = b"".join(b"RCPT TO:<u%d@x>\r\n" % i for i in range(300))
    a = SMTPAnalyzer()
    replay(a, script((S, b"220 x ESMTP\r\n"), (C, b"MAIL FROM:<a@b>\r\n" + rcpts)))
    r = a.record()
    assert len(r["rcpt_to"]) == 256 and r["rcpt_to_more"] == 44


def test_gap_stops_that_direction() -> None:
    a = SMTPAnalyzer()
    replay(a, script((S, b"220 x ESMTP\r\n")))
    a.gap(Dir.CLIENT, 100)
    a.feed(Dir.CLIENT, b"garbage without structure\r\n", 1.0)  # not parsed: no error
    a.gap(Dir.SERVER, 10)
    assert a.finished


@pytest.mark.parametrize(
    ("data", "smtp", "greeting"),
    [
        (b"220 mx.google.com ESMTP s4si - gsmtp\r\n", True, True),
        (b"220-xc90.websitewelcome.com ESMTP Exim 4.69\r\n", True, True),
        (b"EHLO client\r\n", True, False),
        (b"helo x\r\n", True, False),
        (b"220 (vsFTPd 3.0.3)\r\n", False, False),
        (b"220 mail.example ready\r\n", False, True),
        (b"GET / HTTP/1.1\r\n", False, False),
        (b"220", False, False),  # too short to tell
    ],
)
def test_detect(data: bytes, smtp: bool, greeting: bool) -> None:
    assert detect_tcp(data) is smtp
    assert detect_tcp_greeting(data) is greeting


test_fuzz_from_start = fuzz_only_malformed(SMTPAnalyzer)
test_fuzz_in_data = fuzz_only_malformed(SMTPAnalyzer, PIPELINED[:5])
