"""ClientHello and ServerHello bodies (RFC 8446 §4.1.2, §4.1.3; RFC 5246 §7.4.1.2-3).

The input is the handshake message *body*, after the 4-byte handshake header
(msg_type, uint24 length). Both TCP TLS and QUIC (whose CRYPTO frames carry the same
handshake messages, RFC 9001 §4) call these parsers::

    struct {
        ProtocolVersion legacy_version;            03 03
        Random random;                             32 bytes
        opaque legacy_session_id<0..32>;           20 <32 bytes>
        CipherSuite cipher_suites<2..2^16-2>;      00 20 13 01 13 02 ...
        opaque legacy_compression_methods<1..2^8-1>;   01 00
        Extension extensions<8..2^16-1>;           01 93 00 00 00 10 ...
    } ClientHello;

A ServerHello has one cipher suite and one compression method instead of lists. Before
TLS 1.2 the extensions block is optional (absent when the body ends after compression).
A HelloRetryRequest is a ServerHello whose random is the fixed value of RFC 8446 §4.1.3.

Everything is kept in wire order, GREASE values (RFC 8701) included: fingerprints decide
themselves what to drop. Every length is bounds-checked; a violation raises
:class:`netwatch.errors.MalformedError` (``"TLS"``). Well-formed hellos are read by a
one-pass scanner; anything irregular is re-read by the checked parsers of
:mod:`netwatch.dpi.tls.hello_checked`, which name the fault (see "the parsers" below).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from netwatch.model.frozen import frozen_builder

# Extension code points (IANA "TLS ExtensionType Values").
EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_PRE_SHARED_KEY = 0x0029
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_KEY_SHARE = 0x0033
EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039
EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT = 0xFFA5
EXT_ENCRYPTED_CLIENT_HELLO = 0xFE0D
_QUIC_TP = (EXT_QUIC_TRANSPORT_PARAMETERS, EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT)
#: The ClientHello extensions the scanner reads (the others are kept, not read).
_CLIENT_READS = frozenset(
    {
        EXT_SERVER_NAME,
        EXT_ALPN,
        EXT_SUPPORTED_VERSIONS,
        EXT_SUPPORTED_GROUPS,
        EXT_EC_POINT_FORMATS,
        EXT_SIGNATURE_ALGORITHMS,
        EXT_KEY_SHARE,
        EXT_PRE_SHARED_KEY,
        EXT_ENCRYPTED_CLIENT_HELLO,
        *_QUIC_TP,
    }
)

#: SHA-256("HelloRetryRequest"), the ServerHello.random of a HelloRetryRequest.
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE: 0x0a0a, 0x1a1a, ... 0xfafa (both bytes equal, low nibble 0xa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


_PRINTABLE = re.compile(rb"[\x21-\x7e]+")


def alpn_value(raw: bytes) -> str | bytes:
    """An ALPN protocol id as text when it is printable ASCII, else the raw bytes."""
    if _PRINTABLE.fullmatch(raw):  # one C-level match rather than a per-byte loop (speed)
        return raw.decode("ascii")
    return raw


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    #: (type, data) in wire order, GREASE included.
    extensions: tuple[tuple[int, bytes], ...]
    sni: str | None = None
    alpn: tuple[str | bytes, ...] = ()
    supported_versions: tuple[int, ...] = ()
    supported_groups: tuple[int, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    key_share_groups: tuple[int, ...] = ()
    psk_offered: bool = False
    ech_offered: bool = False
    #: The raw quic_transport_parameters extension (0x39, or 0xffa5 for drafts).
    quic_transport_parameters: bytes | None = None

    @property
    def extension_types(self) -> tuple[int, ...]:
        return tuple(t for t, _ in self.extensions)


@dataclass(frozen=True, slots=True)
class ServerHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[tuple[int, bytes], ...]
    #: The version chosen through supported_versions (TLS 1.3), else None.
    selected_version: int | None = None
    alpn: str | bytes | None = None
    #: key_share group (for a HelloRetryRequest: the group the server asks for).
    key_share_group: int | None = None
    psk_selected: bool = False
    quic_transport_parameters: bytes | None = None

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions if present, else legacy_version."""
        return self.selected_version if self.selected_version is not None else self.legacy_version

    @property
    def extension_types(self) -> tuple[int, ...]:
        return tuple(t for t, _ in self.extensions)


# -- the parsers --------------------------------------------------------------------
#
# A handshake is parsed once per flow, so its cost is per-flow DPI cost. The scanner
# below walks a well-formed hello in one pass with plain index arithmetic (no reader
# object per vector) and reads 16-bit lists with one ``struct`` call. It accepts only
# what the checked parsers of :mod:`netwatch.dpi.tls.hello_checked` accept, with the same
# result; at the first irregularity it gives up and the checked parser takes the whole
# body again, so errors keep their exact diagnostics.


# (Built without the frozen dataclass's __init__, which was a quarter of the ClientHello
# scan: see ``frozen_builder``.)
_CLIENT_HELLO = frozen_builder(
    ClientHello,
    "legacy_version",
    "random",
    "session_id",
    "cipher_suites",
    "compression_methods",
    "extensions",
    "sni",
    "alpn",
    "supported_versions",
    "supported_groups",
    "ec_point_formats",
    "signature_algorithms",
    "key_share_groups",
    "psk_offered",
    "ech_offered",
    "quic_transport_parameters",
)
_SERVER_HELLO = frozen_builder(
    ServerHello,
    "legacy_version",
    "random",
    "session_id",
    "cipher_suite",
    "compression_method",
    "extensions",
    "selected_version",
    "alpn",
    "key_share_group",
    "psk_selected",
    "quic_transport_parameters",
)


class _Irregular(Exception):
    """The scanner met something it leaves to the checked parser."""


class _U16Formats(dict[int, struct.Struct]):
    """``Struct(">nH")`` by ``n``, compiled once: the same few list sizes (cipher suites,
    groups, signature algorithms) come back in every hello."""

    def __missing__(self, count: int) -> struct.Struct:
        fmt = struct.Struct(f">{count}H")
        if count <= 256:  # a hello's lists are short; do not keep a struct per odd size
            self[count] = fmt
        return fmt


_U16_FORMATS = _U16Formats()


def _u16s(data: bytes, start: int, end: int) -> tuple[int, ...]:
    """``data[start:end]`` as big-endian uint16s (even length, inside ``data``)."""
    size = end - start
    if size & 1 or end > len(data):
        raise _Irregular
    # One C-level unpack instead of a loop of 2-byte reads.
    values: tuple[int, ...] = _U16_FORMATS[size >> 1].unpack_from(data, start)
    return values


def _vector_end(data: bytes, prefix: int) -> int:
    """End of the vector that starts ``data`` (length prefix of 1 or 2 bytes), which must
    fill ``data`` exactly."""
    n = len(data)
    if n < prefix:
        raise _Irregular
    end = prefix + (data[0] if prefix == 1 else (data[0] << 8) | data[1])
    if end != n:
        raise _Irregular
    return end


def _scan_extensions(body: bytes, pos: int) -> tuple[tuple[int, bytes], ...]:
    n = len(body)
    if pos == n:
        return ()  # optional before TLS 1.2
    if pos + 2 > n or pos + 2 + ((body[pos] << 8) | body[pos + 1]) != n:
        raise _Irregular
    pos += 2
    out = []
    while pos < n:
        start = pos + 4  # extension_type, then extension_data<0..2^16-1>
        if start > n:
            raise _Irregular
        end = start + ((body[pos + 2] << 8) | body[pos + 3])
        if end > n:
            raise _Irregular
        out.append(((body[pos] << 8) | body[pos + 1], body[start:end]))
        pos = end
    return tuple(out)


def _scan_sni(data: bytes) -> str | None:
    if len(data) < 2:
        raise _Irregular
    end = 2 + ((data[0] << 8) | data[1])  # trailing bytes after the list are ignored
    if end > len(data):
        raise _Irregular
    pos = 2
    while pos < end:
        start = pos + 3
        if start > end:
            raise _Irregular
        stop = start + ((data[pos + 1] << 8) | data[pos + 2])
        if stop > end:
            raise _Irregular
        if data[pos] == 0:  # host_name
            return data[start:stop].decode("utf-8", "replace")
        pos = stop
    return None


def _scan_alpn(data: bytes) -> tuple[str | bytes, ...]:
    end = _vector_end(data, 2)
    pos = 2
    out = []
    while pos < end:
        stop = pos + 1 + data[pos]
        if stop > end:
            raise _Irregular
        out.append(alpn_value(data[pos + 1 : stop]))
        pos = stop
    return tuple(out)


def _scan_key_share(data: bytes) -> tuple[int, ...]:
    end = _vector_end(data, 2)
    pos = 2
    groups = []
    while pos < end:
        if pos + 4 > end:
            raise _Irregular
        groups.append((data[pos] << 8) | data[pos + 1])
        pos += 4 + ((data[pos + 2] << 8) | data[pos + 3])
    if pos != end:
        raise _Irregular
    return tuple(groups)


def _u16_vector(data: bytes, prefix: int) -> tuple[int, ...]:
    """The uint16 list of a vector (length prefix of 1 or 2 bytes) that fills ``data``:
    ``_u16s(data, prefix, _vector_end(data, prefix))`` in one call."""
    n = len(data)
    if n < prefix or n & 1 != prefix & 1:  # no room for the prefix, or an odd list
        raise _Irregular
    if prefix + (data[0] if prefix == 1 else (data[0] << 8) | data[1]) != n:
        raise _Irregular
    values: tuple[int, ...] = _U16_FORMATS[(n - prefix) >> 1].unpack_from(data, prefix)
    return values


def _u16_vector1(data: bytes) -> tuple[int, ...]:
    return _u16_vector(data, 1)


def _u16_vector2(data: bytes) -> tuple[int, ...]:
    return _u16_vector(data, 2)


def _u8_vector1(data: bytes) -> tuple[int, ...]:
    return tuple(data[1 : _vector_end(data, 1)])


def _u16_list(data: bytes) -> tuple[int, ...]:
    return _u16s(data, 0, len(data))


# -- list memos ------------------------------------------------------------------------
#
# A client stack sends the same cipher suite list and the same ALPN, supported_versions,
# supported_groups, signature_algorithms and ec_point_formats bodies in every hello. The
# scanner keeps what it read from each such body, keyed by the body's bytes, so a repeat
# costs one dict lookup instead of a parse (a quarter of a browser hello's scan). Bounded
# like the fingerprint memos: short bodies only, each memo emptied whole when full.

_T = TypeVar("_T")
MEMO_MAX = 512
MEMO_KEY_MAX = 256
_SUITE_LISTS: dict[bytes, tuple[int, ...]] = {}
_VERSION_LISTS: dict[bytes, tuple[int, ...]] = {}  # supported_versions
_U16_VECTORS: dict[bytes, tuple[int, ...]] = {}  # supported_groups, signature_algorithms
_FORMAT_LISTS: dict[bytes, tuple[int, ...]] = {}  # ec_point_formats
_ALPN_LISTS: dict[bytes, tuple[str | bytes, ...]] = {}
_MEMOS: tuple[dict[bytes, Any], ...] = (
    _SUITE_LISTS,
    _VERSION_LISTS,
    _U16_VECTORS,
    _FORMAT_LISTS,
    _ALPN_LISTS,
)


def _remembered(memo: dict[bytes, _T], parse: Callable[[bytes], _T], data: bytes) -> _T:
    """``parse(data)``, from ``memo`` when the same bytes were parsed before."""
    found = memo.get(data)
    if found is None:
        found = parse(data)  # _Irregular leaves the memo as it was
        if len(data) <= MEMO_KEY_MAX:
            if len(memo) >= MEMO_MAX:
                memo.clear()
            memo[data] = found
    return found


def clear_memos() -> None:
    """Forget the remembered lists (benchmarks measure a cold start with this)."""
    for memo in _MEMOS:
        memo.clear()


def _scan_client_hello(body: bytes) -> ClientHello:
    n = len(body)
    if n < 38:  # version, random, session_id length, cipher_suites length, compression
        raise _Irregular
    sid_end = 35 + body[34]
    if body[34] > 32 or sid_end + 2 > n:
        raise _Irregular
    cs_end = sid_end + 2 + ((body[sid_end] << 8) | body[sid_end + 1])
    if cs_end >= n:
        raise _Irregular
    suites = _remembered(_SUITE_LISTS, _u16_list, body[sid_end + 2 : cs_end])
    comp_end = cs_end + 1 + body[cs_end]
    if comp_end > n:
        raise _Irregular

    sni: str | None = None
    alpn: tuple[str | bytes, ...] = ()
    versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    formats: tuple[int, ...] = ()
    sigalgs: tuple[int, ...] = ()
    shares: tuple[int, ...] = ()
    psk = ech = False
    qtp: bytes | None = None
    # The extensions block (optional before TLS 1.2), cut and read in one pass: each
    # extension is kept, and the first of each type the scanner reads is read (RFC 8446
    # §4.2: duplicates are illegal; the first one counts).
    out = []
    seen: set[int] = set()
    pos = comp_end
    if pos != n:
        if pos + 2 > n or pos + 2 + ((body[pos] << 8) | body[pos + 1]) != n:
            raise _Irregular
        pos += 2
    while pos < n:
        start = pos + 4  # extension_type, then extension_data<0..2^16-1>
        if start > n:
            raise _Irregular
        end = start + ((body[pos + 2] << 8) | body[pos + 3])
        if end > n:
            raise _Irregular
        ext_type = (body[pos] << 8) | body[pos + 1]
        data = body[start:end]
        out.append((ext_type, data))
        pos = end
        if ext_type not in _CLIENT_READS or ext_type in seen:
            continue  # most of a browser's extensions: skip the comparisons below
        seen.add(ext_type)
        if ext_type == EXT_SERVER_NAME:
            sni = _scan_sni(data) if data else None
        elif ext_type == EXT_ALPN:
            alpn = _remembered(_ALPN_LISTS, _scan_alpn, data)
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            versions = _remembered(_VERSION_LISTS, _u16_vector1, data)
        elif ext_type == EXT_SUPPORTED_GROUPS:
            groups = _remembered(_U16_VECTORS, _u16_vector2, data)
        elif ext_type == EXT_EC_POINT_FORMATS:
            formats = _remembered(_FORMAT_LISTS, _u8_vector1, data)
        elif ext_type == EXT_SIGNATURE_ALGORITHMS:
            sigalgs = _remembered(_U16_VECTORS, _u16_vector2, data)
        elif ext_type == EXT_KEY_SHARE:
            shares = _scan_key_share(data)
        elif ext_type == EXT_PRE_SHARED_KEY:
            psk = True
        elif ext_type == EXT_ENCRYPTED_CLIENT_HELLO:
            ech = True
        elif qtp is None:  # one of _QUIC_TP, the last of _CLIENT_READS
            qtp = data
    extensions = tuple(out)
    # Positional, in field order: a 16-keyword call costs ~0.5 us more.
    return _CLIENT_HELLO(
        (body[0] << 8) | body[1],  # legacy_version
        body[2:34],  # random
        body[35:sid_end],  # session_id
        suites,  # cipher_suites
        tuple(body[cs_end + 1 : comp_end]),  # compression_methods
        extensions,
        sni,
        alpn,
        versions,  # supported_versions
        groups,  # supported_groups
        formats,  # ec_point_formats
        sigalgs,  # signature_algorithms
        shares,  # key_share_groups
        psk,  # psk_offered
        ech,  # ech_offered
        qtp,  # quic_transport_parameters
    )


def _scan_server_hello(body: bytes) -> ServerHello:
    n = len(body)
    if n < 38 or body[34] > 32:  # version, random, session_id length, suite, compression
        raise _Irregular
    pos = 35 + body[34]
    if pos + 3 > n:
        raise _Irregular
    extensions = _scan_extensions(body, pos + 3)
    random = body[2:34]
    hrr = random == HELLO_RETRY_REQUEST_RANDOM

    selected: int | None = None
    alpn: str | bytes | None = None
    group: int | None = None
    psk = False
    qtp: bytes | None = None
    for ext_type, data in extensions:  # no de-duplication: the last one counts
        if ext_type == EXT_SUPPORTED_VERSIONS:
            if len(data) != 2:
                raise _Irregular
            selected = (data[0] << 8) | data[1]
        elif ext_type == EXT_ALPN:
            names = _scan_alpn(data)
            if len(names) != 1:
                raise _Irregular
            alpn = names[0]
        elif ext_type == EXT_KEY_SHARE:
            # group, then (not in a HelloRetryRequest) key_exchange<1..2^16-1>, nothing more
            size = len(data)
            if hrr:
                if size != 2:
                    raise _Irregular
            elif size < 4 or size != 4 + ((data[2] << 8) | data[3]):
                raise _Irregular
            group = (data[0] << 8) | data[1]
        elif ext_type == EXT_PRE_SHARED_KEY:
            psk = True
        elif ext_type in _QUIC_TP and qtp is None:
            qtp = data
    return _SERVER_HELLO(  # positional, in field order (see _scan_client_hello)
        (body[0] << 8) | body[1],  # legacy_version
        random,
        body[35:pos],  # session_id
        (body[pos] << 8) | body[pos + 1],  # cipher_suite
        body[pos + 2],  # compression_method
        extensions,
        selected,  # selected_version
        alpn,
        group,  # key_share_group
        psk,  # psk_selected
        qtp,  # quic_transport_parameters
    )


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello body (the handshake message without its 4-byte header)."""
    try:
        return _scan_client_hello(body)
    except _Irregular:
        from netwatch.dpi.tls.hello_checked import checked_client_hello  # cold path

        return checked_client_hello(body)


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello (or HelloRetryRequest) body, without the handshake header."""
    try:
        return _scan_server_hello(body)
    except _Irregular:
        from netwatch.dpi.tls.hello_checked import checked_server_hello  # cold path

        return checked_server_hello(body)
