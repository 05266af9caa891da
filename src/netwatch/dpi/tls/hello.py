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
:class:`netwatch.errors.MalformedError` (``"TLS"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from netwatch.dpi.tls.reader import Reader
from netwatch.errors import MalformedError

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

#: SHA-256("HelloRetryRequest"), the ServerHello.random of a HelloRetryRequest.
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE: 0x0a0a, 0x1a1a, ... 0xfafa (both bytes equal, low nibble 0xa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def alpn_value(raw: bytes) -> str | bytes:
    """An ALPN protocol id as text when it is printable ASCII, else the raw bytes."""
    if raw and all(0x20 < b < 0x7F for b in raw):
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


def _extensions(r: Reader) -> tuple[tuple[int, bytes], ...]:
    """The extensions block, if any bytes remain (it is optional before TLS 1.2)."""
    if r.eof():
        return ()
    block = r.vector(2, "extensions")
    r.expect_end()
    out = []
    while not block.eof():
        ext_type = block.u16()
        out.append((ext_type, block.opaque(2)))
    return tuple(out)


def _sni(data: bytes) -> str | None:
    lst = Reader(data, "server_name").vector(2)
    while not lst.eof():
        name_type = lst.u8()
        name = lst.opaque(2)
        if name_type == 0:  # host_name; other types are skipped (none defined today)
            return name.decode("utf-8", "replace")
    return None


def _alpn_list(data: bytes) -> tuple[str | bytes, ...]:
    r = Reader(data, "alpn")
    lst = r.vector(2)
    r.expect_end()
    out = []
    while not lst.eof():
        out.append(alpn_value(lst.opaque(1)))
    return tuple(out)


def _u16_vector(data: bytes, len_size: int, what: str) -> tuple[int, ...]:
    r = Reader(data, what)
    values = r.vector(len_size).u16_list()
    r.expect_end()
    return values


def _key_share_groups(data: bytes) -> tuple[int, ...]:
    r = Reader(data, "key_share")
    shares = r.vector(2)
    r.expect_end()
    groups = []
    while not shares.eof():
        groups.append(shares.u16())
        shares.opaque(2)
    return tuple(groups)


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello body (the handshake message without its 4-byte header)."""
    r = Reader(body, "client_hello")
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.opaque(1)
    if len(session_id) > 32:
        raise MalformedError("TLS", "client_hello: session_id longer than 32")
    suites = r.vector(2, "cipher_suites").u16_list()
    compression = r.vector(1, "compression_methods").u8_list()
    extensions = _extensions(r)

    sni: str | None = None
    alpn: tuple[str | bytes, ...] = ()
    versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    formats: tuple[int, ...] = ()
    sigalgs: tuple[int, ...] = ()
    shares: tuple[int, ...] = ()
    psk = ech = False
    qtp: bytes | None = None
    seen: set[int] = set()
    for ext_type, data in extensions:
        if ext_type in seen:
            continue  # RFC 8446 §4.2: duplicates are illegal; the first one counts
        seen.add(ext_type)
        if ext_type == EXT_SERVER_NAME:
            # An empty server_name is legal in a ServerHello only, but harmless here.
            sni = _sni(data) if data else None
        elif ext_type == EXT_ALPN:
            alpn = _alpn_list(data)
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            sv = Reader(data, "supported_versions")
            versions = sv.vector(1).u16_list()
            sv.expect_end()
        elif ext_type == EXT_SUPPORTED_GROUPS:
            groups = _u16_vector(data, 2, "supported_groups")
        elif ext_type == EXT_EC_POINT_FORMATS:
            pf = Reader(data, "ec_point_formats")
            formats = pf.vector(1).u8_list()
            pf.expect_end()
        elif ext_type == EXT_SIGNATURE_ALGORITHMS:
            sigalgs = _u16_vector(data, 2, "signature_algorithms")
        elif ext_type == EXT_KEY_SHARE:
            shares = _key_share_groups(data)
        elif ext_type == EXT_PRE_SHARED_KEY:
            psk = True
        elif ext_type == EXT_ENCRYPTED_CLIENT_HELLO:
            ech = True
        elif ext_type in _QUIC_TP and qtp is None:
            qtp = data
    return ClientHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=compression,
        extensions=extensions,
        sni=sni,
        alpn=alpn,
        supported_versions=versions,
        supported_groups=groups,
        ec_point_formats=formats,
        signature_algorithms=sigalgs,
        key_share_groups=shares,
        psk_offered=psk,
        ech_offered=ech,
        quic_transport_parameters=qtp,
    )


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello (or HelloRetryRequest) body, without the handshake header."""
    r = Reader(body, "server_hello")
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.opaque(1)
    if len(session_id) > 32:
        raise MalformedError("TLS", "server_hello: session_id longer than 32")
    suite = r.u16()
    compression = r.u8()
    extensions = _extensions(r)
    hrr = random == HELLO_RETRY_REQUEST_RANDOM

    selected: int | None = None
    alpn: str | bytes | None = None
    group: int | None = None
    psk = False
    qtp: bytes | None = None
    for ext_type, data in extensions:
        if ext_type == EXT_SUPPORTED_VERSIONS:
            sv = Reader(data, "supported_versions")
            selected = sv.u16()
            sv.expect_end()
        elif ext_type == EXT_ALPN:
            names = _alpn_list(data)
            if len(names) != 1:
                raise MalformedError("TLS", "server_hello: ALPN must select one protocol")
            alpn = names[0]
        elif ext_type == EXT_KEY_SHARE:
            ks = Reader(data, "key_share")
            group = ks.u16()
            if not hrr:
                ks.opaque(2)
            ks.expect_end()
        elif ext_type == EXT_PRE_SHARED_KEY:
            psk = True
        elif ext_type in _QUIC_TP and qtp is None:
            qtp = data
    return ServerHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suite=suite,
        compression_method=compression,
        extensions=extensions,
        selected_version=selected,
        alpn=alpn,
        key_share_group=group,
        psk_selected=psk,
        quic_transport_parameters=qtp,
    )
