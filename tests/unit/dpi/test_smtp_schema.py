"""Every record the mail, file-transfer and remote-login analyzers make validates against
its schema in docs/schema/app/: from every corpus flow they detect, from the hand-written
sessions of their tests, and from random input that did not raise MalformedError."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi import ftp, imap, pop3, rdp, smtp, telnet
from netwatch.dpi.base import Analyzer, Dir, ExpectConnection
from netwatch.errors import MalformedError
from tests.unit.dpi import test_ftp, test_imap, test_pop3, test_smtp_analyzer
from tests.unit.dpi.test_smtp_support import replay, script
from tests.util.corpus import CORPUS, REPO
from tests.util.streams import flows_of

SCHEMAS = REPO / "docs" / "schema" / "app"
#: schema name -> (analyzer factory, content checks that pick its flows)
ANALYZERS: dict[str, tuple[Callable[[], Analyzer], tuple[Callable[[bytes], bool], ...]]] = {
    "smtp": (smtp.SMTPAnalyzer, (smtp.detect_tcp,)),
    "ftp": (ftp.FTPAnalyzer, (ftp.detect_tcp, ftp.detect_tcp_greeting)),
    "imap": (imap.IMAPAnalyzer, (imap.detect_tcp,)),
    "pop3": (pop3.POP3Analyzer, (pop3.detect_tcp,)),
    "telnet": (telnet.TelnetAnalyzer, (telnet.detect_tcp,)),
    "rdp": (rdp.RDPAnalyzer, (rdp.detect_tcp,)),
}
SESSIONS = {
    "smtp": [test_smtp_analyzer.PIPELINED],
    "pop3": [test_pop3.SESSION],
    "imap": [test_imap.LITERALS],
    "ftp": [],
    "telnet": [],
    "rdp": [],
}


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def corpus_records(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    factory, checks = ANALYZERS[name]
    records, infos = [], []
    paths = sorted([*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/trace.pcap")])
    for path in paths:
        for flow in flows_of(path):
            first = flow.chunks[0][1][:64] if flow.chunks else b""
            if flow.transport != "tcp" or not any(check(first) for check in checks):
                continue
            a = factory()
            try:
                events = replay(a, flow.chunks)
            except MalformedError:
                events = []
            records.append(a.record())
            infos += [e.info for e in events if isinstance(e, ExpectConnection)]
    return records, infos


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_corpus_and_session_records_validate(name: str) -> None:
    v = validator(name)
    records, infos = corpus_records(name)
    assert records, f"no corpus flow for {name}"
    for steps in SESSIONS[name]:
        a = ANALYZERS[name][0]()
        replay(a, steps)
        records.append(a.record())
    records.append(ANALYZERS[name][0]().record())  # nothing seen yet
    for rec in records:
        v.validate(json.loads(json.dumps(rec)))
    if name == "ftp":
        data = validator("ftp-data")
        assert len(infos) >= 5
        for info in infos:
            data.validate({**info, "parent": 1})


def test_ftp_data_schema_rejects_what_it_should() -> None:
    data = validator("ftp-data")
    a, events = test_ftp.session((0, b"PASV\r\n"), (1, b"227 ok (10,0,0,1,4,1)\r\n"))
    good = {**events[0].info, "parent": 3}
    data.validate(good)
    for bad in ({**good, "mode": "sideways"}, {**good, "port": 0}, {**good, "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            data.validate(bad)
    assert a.record()["transfers"] == []


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_random_input_records_validate(name: str) -> None:
    v = validator(name)
    factory = ANALYZERS[name][0]
    greetings = {"smtp": b"220 x ESMTP\r\n", "pop3": b"+OK\r\n", "imap": b"* OK\r\n"}
    greetings["ftp"] = b"220 FTP\r\n"
    prefix = script((1, greetings[name])) if name in greetings else []
    words = st.sampled_from([b"\r\n", b" ", b".", b"250 ", b"250-", b"+OK ", b"a1 OK ", b"\xff\xfb",
                             b"AUTH PLAIN ", b"MAIL FROM:<a@b>", b"RCPT TO:<c@d>", b"DATA",
                             b"USER x", b"PASV", b"227 (1,2,3,4,5,6)", b"RETR f", b"login: ",
                             b"{3}", b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00"])  # fmt: skip
    chunk = st.lists(st.one_of(words, st.binary(max_size=8)), max_size=12).map(b"".join)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 1), chunk), max_size=10))
    def run(steps: list[tuple[int, bytes]]) -> None:
        a = factory()
        try:
            replay(a, prefix)
            for d, data in steps:
                if a.finished or a.handoff:
                    break
                a.feed(Dir(d), data, 0.0)
        except MalformedError:
            return
        v.validate(json.loads(json.dumps(a.record())))

    run()
