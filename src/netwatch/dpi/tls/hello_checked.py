"""The reference ClientHello/ServerHello parsers (RFC 8446 §4.1.2-3), every read bounded.

:mod:`netwatch.dpi.tls.hello` parses well-formed hellos with a single-pass scanner and
hands anything it does not accept to these parsers, which walk the same structures with
:class:`~netwatch.dpi.tls.reader.Reader` and raise :class:`MalformedError` with the exact
place that is wrong. They are also the specification the scanner is tested against
(same result or same error on any input).
"""

from __future__ import annotations

from netwatch.dpi.tls.hello import (
    _QUIC_TP,
    EXT_ALPN,
    EXT_EC_POINT_FORMATS,
    EXT_ENCRYPTED_CLIENT_HELLO,
    EXT_KEY_SHARE,
    EXT_PRE_SHARED_KEY,
    EXT_SERVER_NAME,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    HELLO_RETRY_REQUEST_RANDOM,
    ClientHello,
    ServerHello,
    alpn_value,
)
from netwatch.dpi.tls.reader import Reader
from netwatch.errors import MalformedError


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


def checked_client_hello(body: bytes) -> ClientHello:
    """The reference ClientHello parser: every read bounded by :class:`Reader`."""
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


def checked_server_hello(body: bytes) -> ServerHello:
    """The reference ServerHello parser: every read bounded by :class:`Reader`."""
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
