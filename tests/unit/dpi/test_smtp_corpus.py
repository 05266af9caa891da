"""SMTPAnalyzer on real captures: tshark truths, CredSLayer's credentials, nDPI's
classification and Zeek's smtp.log, each in three feeding shapes."""

from __future__ import annotations

from typing import Any

import pytest

from netwatch.dpi.smtp import SMTPAnalyzer, detect_tcp
from tests.unit.dpi.test_smtp_support import SHAPES, replay, tcp_flows
from tests.util.corpus import CORPUS, corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of


def analyze(flow: Flow, shape: str = "captured") -> SMTPAnalyzer:
    a = SMTPAnalyzer()
    replay(a, flow.chunks, shape)
    return a


def by_tuple(stem: str) -> dict[tuple[Any, ...], Flow]:
    flows = tcp_flows(corpus_file(stem + ".pcap"), detect_tcp)
    return {(f.client, f.server): f for f in flows}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stem", ["ndpi_smtp", "ndpi_smtp-starttls", "sv_smtp-bug-3616"])
def test_matches_tshark(stem: str, shape: str) -> None:
    truths = [r for r in expected(stem) if r.get("kind") == "flow" and "smtp" in r.get("app", [])]
    flows = by_tuple(stem)
    assert len(truths) == len(flows) >= 1
    for t in truths:
        a = analyze(flows[((t["src"], t["sport"]), (t["dst"], t["dport"]))], shape)
        r = a.record()
        assert r["banner"] == t["smtp_banner"].rstrip("\r\n")[4:]
        assert r["helo"] == t["smtp_helo"]
        # tshark 4.0 keeps a command's first four letters (STARTTLS -> STAR)
        assert [c[:4] for c in r["commands"]] == [c[:4] for c in t["smtp_commands"]]
        assert r["reply_codes"] == t["smtp_response_codes"]
        assert r["mail_from"] == [m.strip("<>") for m in t.get("smtp_mail_from", [])]
        assert r["rcpt_to"] == [m.strip("<>") for m in t.get("smtp_rcpt_to", [])]
        assert r["auth_user"] == t.get("smtp_auth_user")
        assert r["starttls"] == ("tls" in t["app"])
        assert (a.handoff == "TLS") == ("tls" in t["app"])


def test_credslayer_user_and_never_the_password() -> None:
    (cred,) = expected_peer("sv_smtp-bug-3616", "credslayer")
    (flow,) = by_tuple("sv_smtp-bug-3616").values()
    a = analyze(flow)
    assert a.record()["auth_user"] == cred["username"]
    assert a.record()["auth_mechanism"] == "LOGIN"
    assert a.record()["auth_success"] is True
    assert cred["password"] not in repr(a.record()) + a.summary()


def test_message_headers_and_size() -> None:
    (flow,) = by_tuple("sv_smtp-bug-3616").values()
    (msg,) = analyze(flow).record()["messages"]
    assert msg["subject"] == "SMTP"
    assert msg["from"] == '"Gurpartap Singh" <gurpartap@patriots.in>'
    assert msg["date"] == "Mon, 5 Oct 2009 11:36:07 +0530"
    assert msg["message_id"] == "<000301ca4581$ef9e57f0$cedb07d0$@in>"
    assert msg["result"] == 250
    # the size of the body as sent, dot-stuffing undone: the client's DATA bytes between
    # the 354 reply and the final ".\r\n"
    sent = flow.data(0)
    body = sent[sent.index(b"DATA\r\n") + 6 : sent.index(b"\r\n.\r\n") + 2]
    assert msg["size"] == len(body.replace(b"\r\n..", b"\r\n."))


@pytest.mark.parametrize("stem", ["ndpi_smtp", "ndpi_smtp-starttls"])
def test_matches_ndpi(stem: str) -> None:
    peers = {
        ((p["src"], p["sport"]), (p["dst"], p["dport"])): p for p in expected_peer(stem, "ndpi")
    }
    flows = by_tuple(stem)
    assert set(flows) <= set(peers)
    for key, flow in flows.items():
        p = peers[key]
        r = analyze(flow).record()
        # nDPI: SMTPS once STARTTLS succeeded, SMTP otherwise
        name = p["raw"]["proto"].split("/")[1].split(".")[0]  # "29.126/SMTPS.Google"
        assert name == ("SMTPS" if r["starttls"] else "SMTP")
        if not r["starttls"]:  # nDPI names the server after the greeting's first word
            assert r["banner"].split()[0] == p["raw"]["Hostname/SNI"]
    products = {
        flow.server[0]: analyze(flow).record()["server_software"] for flow in flows.values()
    }
    assert (
        set(products.values())
        == {"ndpi_smtp": {"Sendmail"}, "ndpi_smtp-starttls": {"Gmail", "Postfix"}}[stem]
    )


def zeek_smtp(folder: str) -> dict[str, str]:
    log = CORPUS / "zeek" / folder / "smtp.log"
    if not log.exists():
        pytest.skip("zeek oracles not available")
    fields: list[str] = []
    rows = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    (row,) = rows
    return row


def zeek_flow(folder: str) -> Flow:
    (flow,) = [f for f in flows_of(CORPUS / "zeek" / folder / "trace.pcap") if f.transport == "tcp"]
    return flow


def test_matches_zeek_starttls() -> None:
    row = zeek_smtp("smtp-starttls")
    a = analyze(zeek_flow("smtp-starttls"))
    r = a.record()
    assert r["helo"] == row["helo"]
    assert r["starttls"] is (row["tls"] == "T")
    assert r["last_reply"] == row["last_reply"]
    assert a.handoff == "TLS"


def test_matches_zeek_after_http_connect() -> None:
    """The SMTP session inside an HTTP CONNECT tunnel, from the first byte after the
    proxy's 200 (the HTTP analyzer's part is not ours)."""
    row = zeek_smtp("http-connect-smtp")
    flow = zeek_flow("http-connect-smtp")
    assert flow.chunks[0][1].startswith(b"CONNECT ") and flow.chunks[1][1].startswith(b"HTTP/")
    a = SMTPAnalyzer()
    replay(a, flow.chunks[2:])
    r = a.record()
    assert r["helo"] == row["helo"]
    assert r["mail_from"] == [row["mailfrom"]]
    assert r["rcpt_to"] == row["rcptto"].split(",")
    (msg,) = r["messages"]
    assert msg["date"] == row["date"]
    assert msg["from"] == row["from"]
    assert msg["to"] == row["to"]
    assert msg["subject"] == row["subject"]
    assert msg["user_agent"] == row["user_agent"]
    assert f"{msg['result']} " == row["last_reply"][:4]
    assert r["starttls"] is (row["tls"] == "T")
