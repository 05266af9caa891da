"""The TLS record layer and handshake framing (RFC 8446 §5.1, §4; RFC 5246 §6.2.1, §7.4).

A record is a 5-byte header and a fragment::

    16            ContentType handshake (22)
    03 01         legacy_record_version (any 3.x)
    00 f4         length of the fragment (at most 2^14 + 2048)
    01 00 00 f0   the fragment: here a handshake header, ClientHello of 240 bytes
    03 03 ...

Handshake messages (1-byte type, uint24 length, body) are a stream of their own: one
message may span many records and one record may carry many messages. Both layers are
reassembled here, across any split of the input, with bounded buffers; the QUIC analyzer
can reuse :class:`HandshakeAssembler` on CRYPTO stream bytes, which carry the same
handshake messages without records (RFC 9001 §4).
"""

from __future__ import annotations

from netwatch.errors import MalformedError

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23
CT_HEARTBEAT = 24
CONTENT_TYPES = frozenset(
    (CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA, CT_HEARTBEAT)
)

#: RFC 5246 §6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes.
MAX_RECORD = 2**14 + 2048
#: A cleartext handshake message larger than this is refused (long chains are ~20 KiB).
MAX_HANDSHAKE_MESSAGE = 256 * 1024

HT_HELLO_REQUEST = 0
HT_CLIENT_HELLO = 1
HT_SERVER_HELLO = 2
HT_NEW_SESSION_TICKET = 4
HT_END_OF_EARLY_DATA = 5
HT_ENCRYPTED_EXTENSIONS = 8
HT_CERTIFICATE = 11
HT_SERVER_KEY_EXCHANGE = 12
HT_CERTIFICATE_REQUEST = 13
HT_SERVER_HELLO_DONE = 14
HT_CERTIFICATE_VERIFY = 15
HT_CLIENT_KEY_EXCHANGE = 16
HT_FINISHED = 20
HT_CERTIFICATE_URL = 21
HT_CERTIFICATE_STATUS = 22
HT_SUPPLEMENTAL_DATA = 23
HT_KEY_UPDATE = 24
HT_MESSAGE_HASH = 254
HANDSHAKE_TYPES = frozenset(
    (
        HT_HELLO_REQUEST,
        HT_CLIENT_HELLO,
        HT_SERVER_HELLO,
        HT_NEW_SESSION_TICKET,
        HT_END_OF_EARLY_DATA,
        HT_ENCRYPTED_EXTENSIONS,
        HT_CERTIFICATE,
        HT_SERVER_KEY_EXCHANGE,
        HT_CERTIFICATE_REQUEST,
        HT_SERVER_HELLO_DONE,
        HT_CERTIFICATE_VERIFY,
        HT_CLIENT_KEY_EXCHANGE,
        HT_FINISHED,
        HT_CERTIFICATE_URL,
        HT_CERTIFICATE_STATUS,
        HT_SUPPLEMENTAL_DATA,
        HT_KEY_UPDATE,
        HT_MESSAGE_HASH,
    )
)

#: AlertDescription names (RFC 8446 §6, RFC 5246 §7.2, IANA "TLS Alerts").
ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
    121: "ech_required",
}
ALERT_FATAL = 2

#: ProtocolVersion -> the name used in records and the UI.
VERSION_NAMES: dict[int, str] = {
    0x0002: "SSLv2",
    0x0200: "SSLv2",
    0x0300: "SSLv3",
    0x0301: "TLSv1.0",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}


def version_name(version: int) -> str:
    """``TLSv1.2``; TLS 1.3 drafts (0x7fNN) as ``TLSv1.3-draftNN``; others ``0xNNNN``."""
    name = VERSION_NAMES.get(version)
    if name is not None:
        return name
    if version >> 8 == 0x7F:
        return f"TLSv1.3-draft{version & 0xFF}"
    return f"0x{version:04x}"


def is_tls13(version: int) -> bool:
    return version == 0x0304 or version >> 8 == 0x7F


class _Framer:
    """A byte buffer cut into frames one at a time: ``push`` bytes, then ``pull`` frames.

    Pulling one frame at a time lets the caller stop at any frame (the handshake is
    over, the rest is ciphertext) without the bytes after it being judged.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        # ``bytes`` while it holds one pushed chunk as is, ``bytearray`` once chunks are
        # joined: a chunk of whole frames (the usual case) is cut without being copied.
        self._buf: bytes | bytearray = b""
        self._pos = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def push(self, data: bytes) -> None:
        buf = self._buf
        if self._pos >= len(buf) and isinstance(data, bytes):
            self._buf = data  # nothing left over: keep the caller's (immutable) bytes
            self._pos = 0
            return
        if isinstance(buf, bytes):
            buf = self._buf = bytearray(buf[self._pos :])
        elif self._pos:
            del buf[: self._pos]
        self._pos = 0
        buf += data


class RecordSplitter(_Framer):
    """Cuts one direction's byte stream into (content_type, fragment) records."""

    __slots__ = ()

    def pull(self) -> tuple[int, bytes] | None:
        """The next complete record, or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 5:
            return None
        ctype = buf[pos]
        if ctype not in CONTENT_TYPES:
            raise MalformedError("TLS", f"record: unknown content type {ctype}")
        if buf[pos + 1] != 3:
            raise MalformedError("TLS", f"record: version major {buf[pos + 1]} is not 3")
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        if length > MAX_RECORD:
            raise MalformedError("TLS", f"record: length {length} exceeds 2^14+2048")
        if len(buf) - pos - 5 < length:
            return None
        # The frame cut here rather than in a shared method: a call less per record. A
        # slice of bytes is bytes, which bytes() returns as is; a bytearray's is copied.
        start = pos + 5
        self._pos = end = start + length
        return ctype, bytes(buf[start:end])


class HandshakeAssembler(_Framer):
    """Cuts a handshake byte stream (record fragments, or QUIC CRYPTO data) into messages."""

    __slots__ = ()

    def pull(self) -> tuple[int, bytes] | None:
        """The next complete (msg_type, body), or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            return None
        msg_type = buf[pos]
        if msg_type not in HANDSHAKE_TYPES:
            raise MalformedError("TLS", f"handshake: unknown message type {msg_type}")
        length = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
        if length > MAX_HANDSHAKE_MESSAGE:
            raise MalformedError("TLS", f"handshake: message of {length} bytes refused")
        if len(buf) - pos - 4 < length:
            return None
        start = pos + 4  # cut as in RecordSplitter.pull
        self._pos = end = start + length
        return msg_type, bytes(buf[start:end])
