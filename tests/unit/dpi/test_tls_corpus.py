"""TLS analyzer against every TLS-over-TCP flow of the corpus, field by field.

The truth is tshark's (``expected/<stem>.jsonl``). Each flow is fed three ways (h11's
discipline): as captured, one byte at a time, and whole flights with trailing garbage.
The helpers at the top are shared by the other TLS test modules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dpkt
import pytest

from netwatch.dpi.base import AppEvent, Dir
from netwatch.dpi.tls.analyzer import TLSAnalyzer, detect_tcp, detect_tcp_midstream
from netwatch.dpi.tls.ciphers import cipher_name
from netwatch.errors import MalformedError
from tests.util.corpus import CORPUS, corpus_file, expected
from tests.util.streams import Flow, flows_of

#: Captures whose tshark truth has TLS over TCP (STARTTLS ones included).
TLS_STEMS = (
    "foxio_browsers-x509",
    "foxio_chrome-cloudflare-keylog",
    "foxio_chrome-cloudflare-quic-with-secrets",
    "foxio_tls-alpn-h2",
    "foxio_tls-handshake",
    "foxio_tls-non-ascii-alpn",
    "ndpi_6in4tunnel",
    "ndpi_ftp-start-tls",
    "ndpi_http_ipv6",
    "ndpi_ja3_lots_of_cipher_suites",
    "ndpi_smtp-starttls",
    "ndpi_tls-rdn-extract",
    "sv_ja4-tls",
    "sv_tls-alpn-rawip",
    "sv_tls-client-hello-frag",
)


@dataclass
class TLSFlow:
    stem: str
    flow: Flow
    truth: dict[str, Any]
    #: per direction, the (direction, bytes, ts) chunks from the first TLS record on
    chunks: list[tuple[Dir, bytes, float]]

    @property
    def key(self) -> str:
        return f"{self.stem}:{self.flow.client[1]}->{self.flow.server[1]}"


def _capture_path(stem: str) -> Path:
    for suffix in (".pcap", ".pcapng"):
        if (CORPUS / f"{stem}{suffix}").exists():
            return corpus_file(f"{stem}{suffix}")
    return corpus_file(f"{stem}.pcap")  # skips


def _decapsulated_6in4(path: Path, out: Path) -> Path:
    """IPv6-in-IPv4 (protocol 41) packets rewritten as raw IPv6 frames."""
    with path.open("rb") as src, out.open("wb") as dst:
        writer = dpkt.pcap.Writer(dst, linktype=dpkt.pcap.DLT_RAW)
        for ts, buf in dpkt.pcap.Reader(src):
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, dpkt.ip.IP) and ip.p == 41:
                writer.writepkt(bytes(ip.data), ts=ts)
    return out


def _tls_chunks(flow: Flow) -> list[tuple[Dir, bytes, float]]:
    """The flow's chunks from the first TLS record of each direction (skips STARTTLS)."""
    out: list[tuple[Dir, bytes, float]] = []
    started = [False, False]
    for direction, data, ts in flow.chunks:
        if not started[direction]:
            # Plaintext before STARTTLS is ASCII lines: 0x16 0x03 cannot occur in it.
            at = data.find(b"\x16\x03")
            if at < 0:
                continue
            data = data[at:]
            started[direction] = True
        out.append((Dir(direction), data, ts))
    return out


def tls_flows(stem: str, tmp_dir: Path | None = None) -> list[TLSFlow]:
    path = _capture_path(stem)
    if stem == "ndpi_6in4tunnel":
        assert tmp_dir is not None
        path = _decapsulated_6in4(path, tmp_dir / "inner.pcap")
    truths = {
        (t["src"], t["sport"], t["dst"], t["dport"]): t
        for t in expected(stem)
        if t.get("kind") == "flow" and t.get("transport") == "tcp" and "ja3" in t
    }
    out = []
    for flow in flows_of(path):
        truth = truths.pop((*flow.client, *flow.server), None)
        if truth is not None:
            out.append(TLSFlow(stem, flow, truth, _tls_chunks(flow)))
    assert not truths, f"flows of the truth not found in {stem}: {list(truths)}"
    return out


def all_tls_flows(tmp_dir: Path) -> Iterator[TLSFlow]:
    for stem in TLS_STEMS:
        yield from tls_flows(stem, tmp_dir)


def run(analyzer: TLSAnalyzer, chunks: list[tuple[Dir, bytes, float]], mode: str) -> None:
    """Feed chunks as captured (``chunks``), per byte (``bytes``) or per flight (``flights``)."""
    if mode == "flights":
        merged: list[tuple[Dir, bytes, float]] = []
        for d, data, ts in chunks:
            if merged and merged[-1][0] == d:
                merged[-1] = (d, merged[-1][1] + data, merged[-1][2])
            else:
                merged.append((d, data, ts))
        chunks = merged
    for d, data, ts in chunks:
        if mode == "bytes":
            for i in range(len(data)):
                analyzer.feed(d, data[i : i + 1], ts)
        else:
            analyzer.feed(d, data, ts)


def comparable(analyzer: TLSAnalyzer) -> dict[str, Any]:
    """Our record in the shape of tshark's flow truth."""
    rec = analyzer.record()
    return {
        "tls_sni": rec["sni"],
        "tls_alpn": rec["alpn_offered"] or None,
        "tls_alpn_negotiated": rec["alpn"],
        "tls_version": rec["version"],
        "tls_client_version": rec["client_version"],
        "tls_cipher": rec["cipher"],
        "ja3": rec["ja3"],
        "ja3s": rec["ja3s"],
        "ja4": rec["ja4"],
    }


def truth_view(truth: dict[str, Any]) -> dict[str, Any]:
    view = {k: truth.get(k) for k in comparable(TLSAnalyzer())}
    if view["tls_cipher"] is not None:
        view["tls_cipher"] = cipher_name(int(view["tls_cipher"], 16))
    if view["tls_alpn"]:
        # Binary ALPN ids (ba ad) come as latin-1 text in the truth; ours are 0x + hex.
        view["tls_alpn"] = [
            a if a.isascii() and a.isprintable() else "0x" + a.encode("latin-1").hex()
            for a in view["tls_alpn"]
        ]
    return view


def cert_view(cert: dict[str, Any]) -> dict[str, Any]:
    """tshark's certificate fields in our format (RFC 3339 times, SAN dNSNames)."""

    def rfc3339(text: str) -> str:
        # UTCTime prints as "2023-06-27 18:17:14 (UTC)"; GeneralizedTime as
        # "Apr 15, 2024 23:59:59.000000000 UTC" (tshark 4.0).
        if text.endswith(" (UTC)"):
            when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S (UTC)")
        else:
            when = datetime.strptime(text.split(".", maxsplit=1)[0], "%b %d, %Y %H:%M:%S")
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "subject": cert["subject"],
        "issuer": cert["issuer"],
        "serial": cert["serial"],
        "not_before": rfc3339(cert["not_before"]),
        "not_after": rfc3339(cert["not_after"]),
        "san": cert["san_dns"],
    }


def our_cert_view(cert: dict[str, Any]) -> dict[str, Any]:
    view = {k: cert[k] for k in ("subject", "issuer", "serial", "not_before", "not_after")}
    view["san"] = [s for s in cert["san"] if not s[:1].isdigit() and ":" not in s]
    return view


# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", TLS_STEMS)
@pytest.mark.parametrize("mode", ["chunks", "bytes", "flights"])
def test_every_tls_flow_matches_tshark(stem: str, mode: str, tmp_path: Path) -> None:
    flows = tls_flows(stem, tmp_path)
    assert flows
    for tf in flows:
        analyzer = TLSAnalyzer(server_port=tf.flow.server[1])
        run(analyzer, tf.chunks, mode)
        assert comparable(analyzer) == truth_view(tf.truth), tf.key
        ours = [our_cert_view(c) for c in analyzer.record()["certs"]]
        assert ours == [cert_view(c) for c in tf.truth.get("tls_certs", [])], tf.key
        if tf.truth.get("tls_version") == "TLSv1.3":
            assert analyzer.finished, tf.key  # all after the ServerHello is encrypted


def test_flow_count_and_sni_coverage(tmp_path: Path) -> None:
    """The corpus exercises what we claim: many flows, TLS 1.0-1.3, certs, HRR, STARTTLS."""
    flows = list(all_tls_flows(tmp_path))
    versions = set()
    hrr = certs = finished12 = 0
    for tf in flows:
        analyzer = TLSAnalyzer()
        run(analyzer, tf.chunks, "chunks")
        versions.add(analyzer.record()["version"])
        hrr += analyzer.hello_retry is not None
        certs += bool(analyzer.certs)
        finished12 += analyzer.finished and analyzer.record()["version"] == "TLSv1.2"
    assert len(flows) >= 80
    assert {"TLSv1.0", "TLSv1.2", "TLSv1.3"} <= versions
    assert hrr >= 5  # foxio_tls-handshake: servers that asked for another key share
    assert certs >= 20
    assert finished12 >= 10  # TLS 1.2 handshakes followed to the server's ChangeCipherSpec


@pytest.mark.parametrize("stem", TLS_STEMS)
def test_trailing_garbage_after_handshake_is_ignored(stem: str, tmp_path: Path) -> None:
    garbage = b"\x00\xffnot tls at all\r\n" * 4
    for tf in tls_flows(stem, tmp_path):
        analyzer = TLSAnalyzer()
        run(analyzer, tf.chunks, "flights")
        before = analyzer.record()
        if analyzer.finished:
            assert analyzer.feed(Dir.CLIENT, garbage, 0.0) == ()
            assert analyzer.feed(Dir.SERVER, garbage, 0.0) == ()
        else:  # the capture ends mid-handshake: garbage breaks the framing
            with pytest.raises(MalformedError):
                analyzer.feed(Dir.CLIENT, garbage, 0.0)
                analyzer.feed(Dir.SERVER, garbage, 0.0)
        assert analyzer.record() == before, tf.key


def test_client_hello_split_over_many_segments() -> None:
    """suricata-verify's capture: the ClientHello arrives in 10+ TCP segments."""
    (tf,) = tls_flows("sv_tls-client-hello-frag")
    client = [c for c in tf.chunks if c[0] == Dir.CLIENT]
    analyzer = TLSAnalyzer()
    events: list[AppEvent] = []
    for d, data, ts in tf.chunks:
        events.extend(analyzer.feed(d, data, ts))
        if analyzer.client_hello is not None:
            break
    assert len(client) >= 10
    assert analyzer.client_hello is not None
    assert analyzer.client_hello.sni == "www.google.com"
    assert [type(e).__name__ for e in events] == ["ClientHelloSeen"]


def test_detect_tcp_on_corpus_first_client_bytes(tmp_path: Path) -> None:
    flows = list(all_tls_flows(tmp_path))
    for tf in flows:
        first = next(data for d, data, _ in tf.chunks if d == Dir.CLIENT)
        assert detect_tcp(first), tf.key
    # and no first client bytes of the non-TLS captures look like TLS
    for stem in ("ndpi_ssh", "ndpi_smtp", "ndpi_imap", "sv_dns-tcp", "ndpi_ftp", "ndpi_http2"):
        for flow in flows_of(_capture_path(stem)):
            if flow.transport == "tcp" and flow.data(0):
                assert not detect_tcp(flow.data(0)[:64]), (stem, flow.client)


def test_expected_files_are_the_ones_listed() -> None:
    """Every corpus truth with TLS over TCP is covered by TLS_STEMS (catches new files)."""
    stems = set()
    for path in (CORPUS / "expected").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("transport") == "tcp" and "ja3" in rec:
                stems.add(path.stem)
                break
    if not stems:
        pytest.skip("corpus not available")
    assert stems == set(TLS_STEMS)


def test_midstream_tls_is_recognised() -> None:
    """ndpi_whatsapp_login_chat starts after the handshakes: tshark calls 2 flows TLS."""
    truth = {
        (t["src"], t["sport"], t["dst"], t["dport"])
        for t in expected("ndpi_whatsapp_login_chat")
        if t.get("kind") == "flow" and "tls" in t.get("app", [])
    }
    seen = set()
    for flow in flows_of(_capture_path("ndpi_whatsapp_login_chat")):
        if flow.transport != "tcp" or not flow.chunks:
            continue
        first = flow.chunks[0][1]
        is_tls = (*flow.client, *flow.server) in truth
        assert detect_tcp_midstream(first) == is_tls, flow.client
        assert not detect_tcp(first)
        if is_tls:
            seen.add((*flow.client, *flow.server))
            analyzer = TLSAnalyzer(server_port=flow.server[1])
            for d, data, t in flow.chunks:
                assert list(analyzer.feed(Dir(d), data, t)) == []
            assert analyzer.finished  # ciphertext from the first record on
            assert analyzer.record()["version"] is None
    assert seen == truth and len(truth) == 2
    for stem in ("ndpi_ssh", "ndpi_smtp", "ndpi_imap", "sv_dns-tcp", "ndpi_ftp", "ndpi_http2"):
        for flow in flows_of(_capture_path(stem)):
            if flow.transport == "tcp" and flow.data(0):
                assert not detect_tcp_midstream(flow.data(0)[:64]), (stem, flow.client)
