"""TLS client/server fingerprints: JA3, JA3S (Salesforce) and JA4 (FoxIO, client only).

JA3 = md5 of ``SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats``: decimal
values in wire order joined by ``-``, GREASE values (RFC 8701) removed from the cipher,
extension and group lists. JA3S = md5 of ``SSLVersion,Cipher,Extensions`` of the
ServerHello. Both use the legacy_version field, never supported_versions. Example::

    771,4865-4866-4867-49195,0-23-65281-10-11-35-16-5-13-18-51-45-43-27-21,29-23-24,0

JA4 (the client part of FoxIO's JA4+ suite, BSD-3 licensed; JA4S/JA4X/JA4H/JA4SSH are
under FoxIO's own licence and are deliberately not implemented here) is ``a_b_c``:

* ``a`` = transport (``t`` TCP, ``q`` QUIC, ``d`` DTLS) + version (highest non-GREASE
  supported_versions entry, else legacy_version: ``13``, ``12``, ``11``, ``10``, ``s3``,
  ``s2``, ``d1``, ``d2``, ``d3``, ``00``) + ``d``/``i`` (SNI present or not) + cipher count
  and extension count (2 digits each, GREASE excluded, capped at 99) + the first and last
  character of the first ALPN value (``00`` when there is none).
* ``b`` = first 12 hex digits of sha256 over the sorted ciphers (4-hex, comma-joined).
* ``c`` = same over the sorted extensions without SNI (0000) and ALPN (0010), then
  ``_`` and the signature algorithms in wire order (no ``_`` when there are none).
  An empty list hashes to ``000000000000``.

``ja4_r`` is the same with the raw lists instead of the hashes.

Binary ALPN (a first ALPN whose first or last byte is not an ASCII letter or digit,
e.g. ``ba ad``): we follow the spec text, which takes the first and last characters of
the value's hex form (``bd``). FoxIO's reference programs print ``99`` instead; the spec
is the contract we document, and the corpus test pins both values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from netwatch.dpi.tls import hello
from netwatch.dpi.tls.hello import (
    EXT_ALPN,
    EXT_SERVER_NAME,
    ClientHello,
    ServerHello,
)

#: JA4 version codes (rules as data).
JA4_VERSIONS: dict[int, str] = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0x0200: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}

JA4_TRANSPORTS = ("t", "q", "d")
_EMPTY_HASH = "000000000000"
#: The 16 GREASE values (RFC 8701 §2): a set lookup per value instead of a call to
#: :func:`is_grease` (fingerprints run once per flow on lists of 10-100 values).
_GREASE = frozenset(range(0x0A0A, 0xFAFB, 0x1010))


class _Spelled(dict[int, str]):
    """A memo of how code points are written (``4865`` or ``1301``).

    The same few hundred cipher, extension, group and signature code points come back
    in every hello; ``",".join(map(memo.__getitem__, values))`` then formats a list
    without a Python-level loop (2-3x faster than formatting each value). Bounded: past
    ``MAX`` entries new values are formatted but not kept.
    """

    MAX = 4096

    def __init__(self, spell: Callable[[int], str]) -> None:
        super().__init__()
        self._spell = spell

    def __missing__(self, value: int) -> str:
        text = self._spell(value)
        if len(self) < self.MAX:
            self[value] = text
        return text


_DECIMAL = _Spelled(str)
_HEX4 = _Spelled("{:04x}".format)


def _dash(values: tuple[int, ...] | list[int]) -> str:
    """``4865-4866-...``: decimal values joined by dashes (JA3)."""
    return "-".join(map(_DECIMAL.__getitem__, values))


def _hex4(values: tuple[int, ...] | list[int]) -> str:
    """``0a0a,1301,...``: each value as 4 lowercase hex digits, comma-joined (JA4)."""
    return ",".join(map(_HEX4.__getitem__, values))


def _md5(text: str) -> str:
    # JA3 is defined with MD5; it is an identifier, not a security control.
    return hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest()


def _no_grease(values: tuple[int, ...] | list[int]) -> tuple[int, ...] | list[int]:
    """``values`` without GREASE entries, in order: ``values`` itself when it holds none
    (every stack's lists but Chromium's), found by one C-level set test instead of a
    Python-level filter."""
    if _GREASE.isdisjoint(values):
        return values
    return [v for v in values if v not in _GREASE]


def ja3_string(ch: ClientHello) -> str:
    return _ja3_string(ch, [t for t, _ in ch.extensions])


def _ja3_string(ch: ClientHello, ext_types: list[int]) -> str:
    return ",".join(
        (
            str(ch.legacy_version),
            _dash(_no_grease(ch.cipher_suites)),
            _dash(_no_grease(ext_types)),
            _dash(_no_grease(ch.supported_groups)),
            _dash(ch.ec_point_formats),
        )
    )


def ja3(ch: ClientHello) -> tuple[str, str]:
    """(JA3 string, its md5)."""
    text = ja3_string(ch)
    return text, _md5(text)


def ja3s(sh: ServerHello) -> tuple[str, str]:
    """(JA3S string, its md5)."""
    text = ",".join(
        (
            str(sh.legacy_version),
            str(sh.cipher_suite),
            _dash([t for t, _ in sh.extensions if t not in _GREASE]),
        )
    )
    return text, _md5(text)


def _is_alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _alpn_chars(ch: ClientHello) -> str:
    if not ch.alpn:
        return "00"
    first = ch.alpn[0]
    raw = first.encode("ascii") if isinstance(first, str) else first
    if not raw:
        return "00"
    if _is_alnum(raw[0]) and _is_alnum(raw[-1]):
        return chr(raw[0]) + chr(raw[-1])
    hexed = raw.hex()
    return hexed[0] + hexed[-1]


def _ja4_version(ch: ClientHello) -> str:
    versions = [v for v in ch.supported_versions if v not in _GREASE]
    version = max(versions) if versions else ch.legacy_version
    return JA4_VERSIONS.get(version, "00")


def _ja4_parts(
    ch: ClientHello, transport: str, ext_types: list[int] | None = None
) -> tuple[str, str, str]:
    if transport not in JA4_TRANSPORTS:
        raise ValueError(f"JA4 transport must be one of {JA4_TRANSPORTS}, not {transport!r}")
    ciphers = _no_grease(ch.cipher_suites)
    exts = _no_grease([t for t, _ in ch.extensions] if ext_types is None else ext_types)
    a = (
        transport
        + _ja4_version(ch)
        + ("d" if EXT_SERVER_NAME in exts else "i")
        + f"{min(len(ciphers), 99):02d}"
        + f"{min(len(exts), 99):02d}"
        + _alpn_chars(ch)
    )
    b = _hex4(sorted(ciphers))
    c = _hex4(sorted([t for t in exts if t != EXT_SERVER_NAME and t != EXT_ALPN]))
    sigalgs = _no_grease(ch.signature_algorithms)
    if sigalgs:
        c += "_" + _hex4(sigalgs)
    return a, b, c


def _sha12(text: str) -> str:
    if not text:
        return _EMPTY_HASH
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def ja4(ch: ClientHello, transport: str = "t") -> str:
    """The JA4 client fingerprint; ``transport`` is ``t`` (TCP), ``q`` (QUIC) or ``d``."""
    a, b, c = _ja4_parts(ch, transport)
    return f"{a}_{_sha12(b)}_{_sha12(c)}"


# -- per-flow entry points, memoised ------------------------------------------------------
#
# A capture holds many connections of few client and server stacks: their hellos differ
# in random, session id, SNI and key shares, none of which the fingerprints read. The
# analyzers ask for fingerprints once per flow through these two functions, which key a
# bounded memo by exactly the fields JA3/JA4 (JA3S) read, so a repeated stack costs one
# key and one lookup (~1 us) instead of the formatting and hashing (~10 us). A stack
# that randomises GREASE values or extension order per connection (Chromium) misses, at
# the price of the key. The memo is emptied whole when full (no eviction bookkeeping).

#: Entries each memo holds before it is emptied: a client entry keeps ~0.6-2 KB alive
#: (its key's lists), so a full memo stays near 1-2 MB; networks show far fewer
#: distinct stacks than this, Chromium's ever-new orders aside.
MEMO_MAX = 1024
_CLIENT_MEMO: dict[tuple[object, ...], tuple[str, str]] = {}
_SERVER_MEMO: dict[tuple[object, ...], str] = {}


def client_fingerprints(ch: ClientHello, transport: str = "t") -> tuple[str, str]:
    """``(ja3(ch)[1], ja4(ch, transport))``: the JA3 md5 and the JA4 of a ClientHello."""
    alpn = ch.alpn
    ext_types = [t for t, _ in ch.extensions]
    key = (
        transport,
        ch.legacy_version,
        ch.cipher_suites,
        tuple(ext_types),
        ch.supported_groups,
        ch.ec_point_formats,
        ch.supported_versions,
        ch.signature_algorithms,
        alpn[0] if alpn else None,
    )
    try:
        found = _CLIENT_MEMO.get(key)
    except TypeError:  # a hand-built hello with a list field: not memoised
        return ja3(ch)[1], ja4(ch, transport)
    if found is None:
        # ja3(ch)[1], ja4(ch, transport), sharing the extension types.
        a, b, c = _ja4_parts(ch, transport, ext_types)
        found = (_md5(_ja3_string(ch, ext_types)), f"{a}_{_sha12(b)}_{_sha12(c)}")
        if len(_CLIENT_MEMO) >= MEMO_MAX:
            _CLIENT_MEMO.clear()
        _CLIENT_MEMO[key] = found
    return found


def server_fingerprint(sh: ServerHello) -> str:
    """``ja3s(sh)[1]``: the JA3S md5 of a ServerHello."""
    key = (sh.legacy_version, sh.cipher_suite, tuple([t for t, _ in sh.extensions]))
    try:
        found = _SERVER_MEMO.get(key)
    except TypeError:
        return ja3s(sh)[1]
    if found is None:
        found = ja3s(sh)[1]
        if len(_SERVER_MEMO) >= MEMO_MAX:
            _SERVER_MEMO.clear()
        _SERVER_MEMO[key] = found
    return found


def clear_memos() -> None:
    """Forget the memoised fingerprints, and the hello scanner's remembered lists
    (benchmarks measure a cold start with this)."""
    _CLIENT_MEMO.clear()
    _SERVER_MEMO.clear()
    hello.clear_memos()


def ja4_r(ch: ClientHello, transport: str = "t") -> str:
    """JA4 with the sorted raw lists in place of the hashes."""
    a, b, c = _ja4_parts(ch, transport)
    return f"{a}_{b}_{c}"
