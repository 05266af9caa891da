"""The fast paths of the TLS package give exactly what the careful ones give.

``parse_client_hello``/``parse_server_hello`` scan a well-formed hello quickly and hand
anything else to the checked parsers. Whatever the input, the public functions must give
exactly what the checked parsers give: the same object, or the same error reason.
Inputs: real hellos (OpenSSL fixtures, aioquic, every hello of the corpus captures) and
hypothesis mutations of them (a byte changed, bytes cut or inserted: lying lengths).
Certificate summaries are cached by SHA-256: a cached summary equals a fresh one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aioquic.buffer import Buffer  # type: ignore[attr-defined]
from aioquic.tls import Context, Epoch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwatch.dpi.tls.hello import parse_client_hello, parse_server_hello
from netwatch.dpi.tls.hello_checked import checked_client_hello, checked_server_hello
from netwatch.dpi.tls.record import RecordSplitter
from netwatch.errors import MalformedError
from tests.unit.dpi.test_tls_corpus import TLS_STEMS, tls_flows
from tests.unit.dpi.test_tls_malformed import CLIENT13, SERVER13, _messages
from tests.util import certs as certs_util

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(parse: Callable[[bytes], Any], body: bytes) -> tuple[str, Any]:
    try:
        return "ok", parse(body)
    except MalformedError as exc:
        return "error", exc.reason


def _same(body: bytes, client: bool) -> None:
    if client:
        assert _outcome(parse_client_hello, body) == _outcome(checked_client_hello, body)
    else:
        assert _outcome(parse_server_hello, body) == _outcome(checked_server_hello, body)


def _aioquic_client_hello() -> bytes:
    """A QUIC ClientHello body from aioquic's TLS 1.3 stack (transport parameters, ALPN)."""
    ctx = Context(is_client=True, alpn_protocols=["h3", "h3-29"], server_name="quic.test")
    ctx.handshake_extensions = [(0x39, bytes.fromhex("0104000075300304000005dc"))]
    buffers = {e: Buffer(capacity=4096) for e in (Epoch.INITIAL, Epoch.HANDSHAKE, Epoch.ONE_RTT)}
    ctx.handle_message(b"", buffers)
    return bytes(buffers[Epoch.INITIAL].data[4:])


def _hellos() -> tuple[list[bytes], list[bytes]]:
    from tests.unit.dpi.test_tls_malformed import CH_BODY, SH_BODY

    clients = [CH_BODY, _messages(CLIENT13)[0][1]]
    servers = [SH_BODY, _messages(SERVER13)[0][1]]
    return [*clients, _aioquic_client_hello()], servers


CLIENTS, SERVERS = _hellos()


def _handshake_bodies(data: bytes, wanted: int) -> list[bytes]:
    """Bodies of handshake messages of type ``wanted`` in the first records of a stream."""
    records = RecordSplitter()
    records.push(data)
    out = []
    buf = b""
    try:
        while (rec := records.pull()) is not None and rec[0] == 22:
            buf += rec[1]
    except MalformedError:
        pass
    pos = 0
    while len(buf) - pos >= 4:
        size = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if buf[pos] == wanted and pos + 4 + size <= len(buf):
            out.append(buf[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


@pytest.mark.parametrize("stem", TLS_STEMS)
def test_corpus_hellos_scan_like_the_checked_parser(stem: str, tmp_path: Path) -> None:
    seen = 0
    for tf in tls_flows(stem, tmp_path):
        client = b"".join(d for dr, d, _ in tf.chunks if dr == 0)
        server = b"".join(d for dr, d, _ in tf.chunks if dr == 1)
        for body in _handshake_bodies(client, 1):
            assert parse_client_hello(body) == checked_client_hello(body)
            seen += 1
        for body in _handshake_bodies(server, 2):
            assert parse_server_hello(body) == checked_server_hello(body)
    assert seen


def _mutated(bodies: list[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        body = bytearray(draw(st.sampled_from(bodies)))
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(("set", "cut", "insert", "truncate", "append")))
            at = draw(st.integers(0, max(len(body) - 1, 0)))
            if kind == "set" and body:
                body[at] = draw(st.integers(0, 255))
            elif kind == "cut":
                del body[at : at + draw(st.integers(1, 4))]
            elif kind == "insert":
                body[at:at] = draw(st.binary(min_size=1, max_size=4))
            elif kind == "truncate":
                del body[at:]
            else:
                body += draw(st.binary(min_size=1, max_size=4))
        return bytes(body)

    return build()


@FUZZ
@given(_mutated(CLIENTS))
def test_mutated_client_hellos(body: bytes) -> None:
    _same(body, client=True)


@FUZZ
@given(_mutated(SERVERS))
def test_mutated_server_hellos(body: bytes) -> None:
    _same(body, client=False)


#: Extensions whose data the parsers look inside.
PARSED = frozenset((0x0000, 0x000A, 0x000B, 0x000D, 0x0010, 0x002B, 0x0033))


def _rebuild(body: bytes, client: bool, session_id: bytes, extensions: list[Any]) -> bytes:
    """``body`` with another session_id and extension list, every outer length fixed up."""
    hello = checked_client_hello(body) if client else checked_server_hello(body)
    head = body[:34] + bytes([len(session_id)]) + session_id
    if client:
        ch = checked_client_hello(body)
        suites = b"".join(c.to_bytes(2, "big") for c in ch.cipher_suites)
        head += len(suites).to_bytes(2, "big") + suites
        head += bytes([len(ch.compression_methods), *ch.compression_methods])
    else:
        at = 35 + len(hello.session_id)
        head += body[at : at + 3]
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in extensions)
    return head + len(block).to_bytes(2, "big") + block


@st.composite
def _one_extension_changed(draw: st.DrawFn, bodies: list[bytes], client: bool) -> bytes:
    """A real hello where one extension's data (or the session_id) is mutated; the outer
    lengths stay consistent, so the inner parsers are what gets tested."""
    body = draw(st.sampled_from(bodies))
    hello = checked_client_hello(body) if client else checked_server_hello(body)
    extensions = list(hello.extensions)
    session_id = hello.session_id
    if draw(st.booleans()):
        session_id = draw(st.binary(min_size=30, max_size=36))
    parsed = [i for i, (t, _) in enumerate(extensions) if t in PARSED]  # inner structure
    i = draw(
        st.sampled_from(parsed)
        if parsed and draw(st.booleans())
        else st.integers(0, len(extensions) - 1)
    )
    ext_type, data = extensions[i]
    data = bytearray(data)
    kind = draw(st.sampled_from(("set", "cut", "append", "duplicate")))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "set" and data:
        data[at] = draw(st.integers(0, 255))
    elif kind == "cut":
        del data[at : at + draw(st.integers(1, 3))]
    elif kind == "append":
        data += draw(st.binary(min_size=1, max_size=3))
    else:
        extensions.append((ext_type, bytes(data)))
    extensions[i] = (ext_type, bytes(data))
    return _rebuild(body, client, session_id, extensions)


@FUZZ
@given(_one_extension_changed(CLIENTS, client=True))
def test_client_hellos_with_one_extension_changed(body: bytes) -> None:
    _same(body, client=True)


@FUZZ
@given(_one_extension_changed(SERVERS, client=False))
def test_server_hellos_with_one_extension_changed(body: bytes) -> None:
    _same(body, client=False)


@FUZZ
@given(st.binary(max_size=120))
def test_random_bytes(body: bytes) -> None:
    _same(body, client=True)
    _same(body, client=False)


def test_fixtures_take_the_fast_path() -> None:
    from netwatch.dpi.tls import hello

    for body in CLIENTS:
        assert hello._scan_client_hello(body) == checked_client_hello(body)
    for body in SERVERS:
        assert hello._scan_server_hello(body) == checked_server_hello(body)


def test_remembered_lists_give_the_same_hellos() -> None:
    """The scanner's list memos: a hello scanned cold, then again from the memos, is what
    the checked parser gives; the memos stay bounded and clear_memos empties them."""
    from netwatch.dpi.tls import fingerprints, hello

    fingerprints.clear_memos()
    assert not any(hello._MEMOS)
    for _ in range(2):
        for body in CLIENTS:
            assert hello._scan_client_hello(body) == checked_client_hello(body)
    assert hello._SUITE_LISTS and hello._ALPN_LISTS and hello._U16_VECTORS
    for n in range(hello.MEMO_MAX + 10):
        data = (2 + 2 * n).to_bytes(2, "big") + bytes(2 * n + 2)
        assert hello._remembered(hello._U16_VECTORS, hello._u16_vector2, data) == (0,) * (n + 1)
        assert len(hello._U16_VECTORS) <= hello.MEMO_MAX
        if len(data) > hello.MEMO_KEY_MAX:
            assert data not in hello._U16_VECTORS
    fingerprints.clear_memos()
    assert not any(hello._MEMOS)


@pytest.mark.parametrize("client", [True, False])
def test_every_lying_byte_of_the_parsed_extensions(client: bool) -> None:
    """Deterministic: each byte of each parsed extension (lengths included) set to 0,
    0xff and its neighbours, one at a time."""
    checked = 0
    for body in CLIENTS if client else SERVERS:
        hello = checked_client_hello(body) if client else checked_server_hello(body)
        for i, (ext_type, data) in enumerate(hello.extensions):
            if ext_type not in PARSED:
                continue
            positions = range(len(data)) if len(data) <= 80 else [*range(8), len(data) - 1]
            for at in positions:
                for value in {0, 0xFF, (data[at] + 1) & 0xFF, (data[at] - 1) & 0xFF}:
                    changed = list(hello.extensions)
                    changed[i] = (ext_type, data[:at] + bytes([value]) + data[at + 1 :])
                    _same(_rebuild(body, client, hello.session_id, changed), client)
                    checked += 1
    assert checked > 100


def test_grease_set_is_rfc_8701() -> None:
    from netwatch.dpi.tls.fingerprints import _GREASE
    from netwatch.dpi.tls.hello import is_grease

    assert {v for v in range(0x10000) if is_grease(v)} == _GREASE
    assert len(_GREASE) == 16


def _self_signed(name: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    cert, _key = certs_util.self_signed(name, san=True)
    der: bytes = cert.public_bytes(serialization.Encoding.DER)
    return der


def test_certificate_summary_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from netwatch.dpi.tls import certs

    ders = [_self_signed(f"c{i}.test") for i in range(3)]
    fresh = [certs._describe(der, hashlib.sha256(der).hexdigest()) for der in ders]
    assert [c.san for c in fresh] == [("c0.test",), ("c1.test",), ("c2.test",)]
    certs.clear_summary_cache()
    monkeypatch.setattr(certs, "MAX_CACHED_SUMMARIES", 2)
    assert [certs.describe_certificate(der) for der in ders] == fresh
    assert list(certs._SUMMARIES) == [c.sha256 for c in fresh[1:]]  # bounded, oldest out
    assert certs.describe_certificate(bytes(ders[2])) is certs._SUMMARIES[fresh[2].sha256]
    certs.clear_summary_cache()
    with pytest.raises(ValueError):
        certs.describe_certificate(b"\x30\x03\x02\x01\x00")  # not cached, still an error
    assert not certs._SUMMARIES


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    size = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + size + content


def _with_serial(der: bytes, serial: bytes) -> bytes:
    """``der`` with its serialNumber's content replaced by ``serial``, the enclosing
    SEQUENCEs re-encoded (the signature no longer matches, which parsing does not check)."""
    from netwatch.dpi.tls import certs

    outer_start, outer_end = certs._element(der, 0)
    tbs_start, tbs_end = certs._element(der, outer_start)
    pos = tbs_start
    if der[pos] == 0xA0:
        pos = certs._element(der, pos)[1]
    assert der[pos] == 0x02
    end = certs._element(der, pos)[1]
    tbs = der[tbs_start:pos] + _tlv(0x02, serial) + der[end:tbs_end]
    return _tlv(0x30, _tlv(0x30, tbs) + der[tbs_end:outer_end])


@pytest.mark.parametrize(
    ("serial", "shown"), [(b"\x00", "00"), (b"\x80\x01", "80:01"), (b"\xff", "ff")]
)
def test_certificate_with_a_serial_that_is_not_positive(serial: bytes, shown: str) -> None:
    """RFC 5280 forbids a zero or negative serial, but such certificates exist: they are
    described like any other, and cryptography's deprecation warning stays quiet (the
    suite turns warnings into errors)."""
    from netwatch.dpi.tls import certs

    der = _with_serial(_self_signed("odd-serial.test"), serial)
    assert certs._serial_not_positive(der)
    info = certs._describe(der, hashlib.sha256(der).hexdigest())
    assert info.serial == shown and info.san == ("odd-serial.test",)
    assert not certs._serial_not_positive(_self_signed("plain.test"))
    assert not certs._serial_not_positive(b"\x30\x03\x02\x01")  # cut short: not a cert


@FUZZ
@given(st.lists(st.integers(0, 0xFFFF), max_size=40))
def test_spelled_code_points(values: list[int]) -> None:
    from netwatch.dpi.tls.fingerprints import _dash, _hex4

    assert _dash(values) == "-".join(str(v) for v in values)
    assert _hex4(values) == ",".join(f"{v:04x}" for v in values)


def test_spelling_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from netwatch.dpi.tls.fingerprints import _Spelled

    monkeypatch.setattr(_Spelled, "MAX", 3)
    memo = _Spelled(str)
    assert [memo[v] for v in range(10)] == [str(v) for v in range(10)]
    assert len(memo) == 3


def test_framer_keeps_no_reference_to_a_mutable_chunk() -> None:
    from netwatch.dpi.tls.record import RecordSplitter

    record = bytes([22, 3, 3, 0, 4]) + b"\x01\x00\x00\x00"
    whole = RecordSplitter()
    whole.push(record + record[:3])  # bytes kept as is; a partial record stays behind
    assert whole.pull() == (22, record[5:])
    assert whole.pull() is None and whole.buffered == 3
    whole.push(record[3:])
    assert whole.pull() == (22, record[5:])

    chunk = bytearray(record)
    split = RecordSplitter()
    split.push(chunk)
    chunk[5:] = b"\xff" * 4  # the caller reuses its buffer
    assert split.pull() == (22, record[5:])


@FUZZ
@given(st.lists(st.integers(0, 40), max_size=8), st.booleans())
def test_framer_any_split_gives_the_same_records(cuts: list[int], mutable: bool) -> None:
    from netwatch.dpi.tls.record import RecordSplitter

    stream = b"".join(bytes([22, 3, 3, 0, n]) + bytes(range(n)) for n in (4, 0, 9, 1))
    points = sorted({min(c, len(stream)) for c in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    splitter = RecordSplitter()
    got = []
    for piece in pieces:
        splitter.push(bytearray(piece) if mutable else piece)
        while (rec := splitter.pull()) is not None:
            got.append(rec)
    assert got == [(22, bytes(range(n))) for n in (4, 0, 9, 1)]
    assert splitter.buffered == 0


# -- memoised fingerprints -----------------------------------------------------------------


def _fresh_and_memo(ch: Any, sh: Any = None) -> None:
    from netwatch.dpi.tls.fingerprints import (
        client_fingerprints,
        ja3,
        ja3s,
        ja4,
        server_fingerprint,
    )

    for transport in ("t", "q"):
        want = (ja3(ch)[1], ja4(ch, transport))
        assert client_fingerprints(ch, transport) == want  # cold or warm
        assert client_fingerprints(ch, transport) == want  # warm
    if sh is not None:
        assert server_fingerprint(sh) == server_fingerprint(sh) == ja3s(sh)[1]


@pytest.mark.parametrize("stem", TLS_STEMS)
def test_corpus_fingerprints_memoised_like_fresh(stem: str, tmp_path: Path) -> None:
    from netwatch.dpi.tls.fingerprints import clear_memos

    clear_memos()
    for _ in range(2):  # the second pass answers from the memo
        for tf in tls_flows(stem, tmp_path):
            client = b"".join(d for dr, d, _ in tf.chunks if dr == 0)
            server = b"".join(d for dr, d, _ in tf.chunks if dr == 1)
            for body in _handshake_bodies(client, 1):
                _fresh_and_memo(parse_client_hello(body))
            for body in _handshake_bodies(server, 2):
                sh = parse_server_hello(body)
                _fresh_and_memo(parse_client_hello(CLIENTS[0]), sh)


@FUZZ
@given(st.lists(_mutated(CLIENTS), min_size=1, max_size=8), _mutated(SERVERS))
def test_memo_never_confuses_two_hellos(bodies: list[bytes], server: bytes) -> None:
    """Hellos that differ in anything a fingerprint reads never share a memo entry: with
    the memo warmed by real and mutated hellos, every answer equals a fresh one."""
    for body in [*CLIENTS, *bodies]:
        try:
            ch = parse_client_hello(body)
        except MalformedError:
            continue
        _fresh_and_memo(ch)
    for body in [*SERVERS, server]:
        try:
            sh = parse_server_hello(body)
        except MalformedError:
            continue
        _fresh_and_memo(parse_client_hello(CLIENTS[0]), sh)


def test_memo_ignores_what_fingerprints_do_not_read() -> None:
    import dataclasses

    from netwatch.dpi.tls import fingerprints as fp

    fp.clear_memos()
    ch = parse_client_hello(CLIENTS[0])
    first = fp.client_fingerprints(ch)
    other = dataclasses.replace(ch, random=bytes(32), session_id=b"", sni="other.test")
    assert fp.client_fingerprints(other) == first
    assert len(fp._CLIENT_MEMO) == 1


def test_memo_is_bounded_and_takes_any_hello(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from netwatch.dpi.tls import fingerprints as fp

    fp.clear_memos()
    monkeypatch.setattr(fp, "MEMO_MAX", 2)
    ch = parse_client_hello(CLIENTS[0])
    for version in range(0x0300, 0x0305):
        hello = dataclasses.replace(ch, legacy_version=version)
        assert fp.client_fingerprints(hello) == (fp.ja3(hello)[1], fp.ja4(hello))
        assert len(fp._CLIENT_MEMO) <= 2
    listed = dataclasses.replace(ch, cipher_suites=list(ch.cipher_suites))  # type: ignore[arg-type]
    assert fp.client_fingerprints(listed) == (fp.ja3(ch)[1], fp.ja4(ch))
    fp.clear_memos()
    assert not fp._CLIENT_MEMO and not fp._SERVER_MEMO


@FUZZ
@given(st.lists(st.one_of(st.integers(0, 0xFFFF), st.sampled_from(range(0x0A0A, 0xFAFB, 0x1010)))))
def test_no_grease_is_the_filter(values: list[int]) -> None:
    from netwatch.dpi.tls.fingerprints import _no_grease
    from netwatch.dpi.tls.hello import is_grease

    want = [v for v in values if not is_grease(v)]
    assert list(_no_grease(values)) == want
    assert list(_no_grease(tuple(values))) == want


def test_x509_is_imported_on_the_first_certificate_only() -> None:
    """TLS 1.3 and QUIC never show a certificate: their analyzers leave X.509 unloaded."""
    import subprocess
    import sys

    code = (
        "import sys, netwatch.dpi.tls.analyzer, netwatch.dpi.quic.analyzer\n"
        "assert 'cryptography.x509' not in sys.modules, 'x509 imported early'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
