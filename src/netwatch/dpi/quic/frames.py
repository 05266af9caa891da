"""Frames of decrypted Initial packets (RFC 9000 §12.4, §19; error codes §20).

An Initial packet may carry only PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE
(§12.4, Table 3). Example plaintext (RFC 9001 A.3, the server's Initial)::

    02 00 00 00 00                       ACK largest=0 delay=0 ranges=0 first=0
    06 00 40 5a 020000560303eefc...      CRYPTO offset=0 length=0x5a: a ServerHello

CONNECTION_CLOSE is ``1c`` (transport error, with the offending frame type) or ``1d``
(application error, not allowed in Initial packets but parsed anyway)::

    1c 41 28 06 0e "handshake fail"  ... code 0x128 = CRYPTO_ERROR, TLS alert 40
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netwatch.dpi.quic.packet import Buffer, read_varint
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"

PADDING = 0x00
PING = 0x01
ACK = 0x02
ACK_ECN = 0x03
CRYPTO = 0x06
CONNECTION_CLOSE = 0x1C
CONNECTION_CLOSE_APP = 0x1D

#: Transport error codes (§20.1, RFC 9368 §10.2 for 0x11).
TRANSPORT_ERRORS: dict[int, str] = {
    0x00: "NO_ERROR",
    0x01: "INTERNAL_ERROR",
    0x02: "CONNECTION_REFUSED",
    0x03: "FLOW_CONTROL_ERROR",
    0x04: "STREAM_LIMIT_ERROR",
    0x05: "STREAM_STATE_ERROR",
    0x06: "FINAL_SIZE_ERROR",
    0x07: "FRAME_ENCODING_ERROR",
    0x08: "TRANSPORT_PARAMETER_ERROR",
    0x09: "CONNECTION_ID_LIMIT_ERROR",
    0x0A: "PROTOCOL_VIOLATION",
    0x0B: "INVALID_TOKEN",
    0x0C: "APPLICATION_ERROR",
    0x0D: "CRYPTO_BUFFER_EXCEEDED",
    0x0E: "KEY_UPDATE_ERROR",
    0x0F: "AEAD_LIMIT_REACHED",
    0x10: "NO_VIABLE_PATH",
    0x11: "VERSION_NEGOTIATION_ERROR",
}

#: TLS alerts that end QUIC handshakes as CRYPTO_ERROR 0x100+alert (RFC 8446 §6).
TLS_ALERTS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}


def error_name(code: int, application: bool) -> str:
    """``PROTOCOL_VIOLATION``, ``CRYPTO_ERROR(handshake_failure)``, ``APPLICATION(0x10c)``."""
    if application:
        return f"APPLICATION(0x{code:x})"
    if 0x100 <= code <= 0x1FF:
        alert = code - 0x100
        return f"CRYPTO_ERROR({TLS_ALERTS.get(alert, str(alert))})"
    return TRANSPORT_ERRORS.get(code, f"0x{code:x}")


@dataclass(frozen=True, slots=True)
class CryptoFrame:
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseFrame:
    error_code: int
    #: The frame type that triggered the error (transport close only, else None).
    frame_type: int | None
    reason: str
    application: bool


@dataclass(frozen=True, slots=True)
class AckFrame:
    largest: int


@dataclass(frozen=True, slots=True)
class PingFrame:
    pass


InitialFrame = CryptoFrame | CloseFrame | AckFrame | PingFrame

_PING = PingFrame()  # immutable and field-less: one instance serves every PING
_NON_ZERO = re.compile(rb"[^\x00]")


def _ack(data: bytes, pos: int, end: int, ecn: bool) -> tuple[AckFrame, int]:
    """The ACK frame whose fields start at ``data[pos]``, and the offset after it.

    Offsets and :func:`read_varint` rather than a :class:`Buffer` (nearly every Initial
    carries an ACK): four to ten varints each.
    """
    largest, pos = read_varint(data, pos, end, "ack largest")
    _, pos = read_varint(data, pos, end, "ack delay")
    count, pos = read_varint(data, pos, end, "ack range count")
    first, pos = read_varint(data, pos, end, "ack first range")
    if first > largest:
        raise MalformedError(PROTOCOL, "ack: first range below packet 0")
    if count > (end - pos) // 2:
        raise MalformedError(PROTOCOL, "ack: more ranges than bytes")
    for _ in range(count):
        _, pos = read_varint(data, pos, end, "ack gap")
        _, pos = read_varint(data, pos, end, "ack range")
    if ecn:
        for _ in range(3):
            _, pos = read_varint(data, pos, end, "ack ecn count")
    return AckFrame(largest), pos


def _close(buf: Buffer, application: bool) -> CloseFrame:
    code = buf.varint("close error code")
    frame_type = None if application else buf.varint("close frame type")
    reason = buf.take(buf.varint("close reason length"), "close reason")
    return CloseFrame(code, frame_type, reason.decode("utf-8", "replace"), application)


def parse_initial_frames(payload: bytes) -> list[InitialFrame]:
    """The frames of a decrypted Initial (or Handshake) payload, PADDING dropped.

    Any frame type not allowed there raises :class:`MalformedError`
    (PROTOCOL_VIOLATION in §12.4 terms), as does a payload with no frame at all.
    """
    if not payload:
        raise MalformedError(PROTOCOL, "initial: empty payload")
    # A plain offset rather than a Buffer: only CONNECTION_CLOSE, rare, reads through one.
    end = len(payload)
    pos = 0
    frames: list[InitialFrame] = []
    while pos < end:
        ftype = payload[pos]
        if ftype < 0x40:  # the one-byte encoding every sender uses for these types
            pos += 1
        else:
            ftype, pos = read_varint(payload, pos, end, "frame type")
        if ftype == PADDING:
            # Runs of PADDING fill most Initials (and some clients scatter many short
            # runs between frames): find the next non-zero byte in C, copying nothing.
            found = _NON_ZERO.search(payload, pos, end)
            pos = found.start() if found is not None else end
        elif ftype == PING:
            frames.append(_PING)
        elif ftype == ACK or ftype == ACK_ECN:
            ack, pos = _ack(payload, pos, end, ftype == ACK_ECN)
            frames.append(ack)
        elif ftype == CRYPTO:
            offset, pos = read_varint(payload, pos, end, "crypto offset")
            size, start = read_varint(payload, pos, end, "crypto length")
            pos = start + size
            if pos > end:
                raise MalformedError(PROTOCOL, "crypto data: truncated")
            if offset + size >= 1 << 62:
                raise MalformedError(PROTOCOL, "crypto: offset past 2^62")
            frames.append(CryptoFrame(offset, payload[start:pos]))
        elif ftype in (CONNECTION_CLOSE, CONNECTION_CLOSE_APP):
            buf = Buffer(payload, pos, end)
            frames.append(_close(buf, ftype == CONNECTION_CLOSE_APP))
            pos = buf.pos
        else:
            raise MalformedError(PROTOCOL, f"initial: frame type 0x{ftype:x} not allowed")
    return frames
