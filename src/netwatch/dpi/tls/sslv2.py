"""The SSL 2.0-compatible ClientHello (RFC 5246 Appendix E.2; RFC 6101 Appendix E).

Old clients opened with an SSL 2.0 record so that SSL 2.0 servers could answer, while
offering TLS in its version field. There is no 5-byte TLS record header: a 2-byte length
with the top bit set, then the message::

    80 2e          record length 0x002e, no padding
    01             msg_type CLIENT-HELLO
    03 01          version: TLS 1.0 offered
    00 15          cipher_spec_length 21 (seven 3-byte specs)
    00 00          session_id_length 0
    00 10          challenge_length 16
    00 00 2f ...   cipher specs: 00 xx yy is TLS suite xxyy, others are SSL 2.0 kinds
    <16 bytes>     challenge, which becomes the right end of the 32-byte random

We turn it into a :class:`ClientHello` (no extensions; SSL 2.0 specs kept as 24-bit
values so fingerprints still see them) and stop there: an SSL 2.0 server answer is not
analysed (SSL 2.0 is prohibited by RFC 6176).
"""

from __future__ import annotations

from netwatch.dpi.tls.hello import ClientHello
from netwatch.dpi.tls.reader import Reader
from netwatch.errors import MalformedError

SSL2_MT_CLIENT_HELLO = 1


def is_sslv2_client_hello(data: bytes) -> bool:
    """A 2-byte SSL 2.0 header, CLIENT-HELLO, and a version of 0.2 or 3.x."""
    return (
        len(data) >= 5
        and data[0] & 0x80 != 0
        and data[2] == SSL2_MT_CLIENT_HELLO
        and ((data[3] == 3 and data[4] <= 4) or (data[3], data[4]) == (0, 2))
    )


def sslv2_record_length(data: bytes | bytearray) -> int | None:
    """Bytes of the whole first record (header included), or None if fewer than 2 bytes."""
    if len(data) < 2:
        return None
    return 2 + (((data[0] & 0x7F) << 8) | data[1])


def parse_sslv2_client_hello(record: bytes) -> ClientHello:
    """Parse one complete SSL 2.0 CLIENT-HELLO record (2-byte header included)."""
    r = Reader(record, "sslv2_client_hello")
    header = r.u16()
    if not header & 0x8000:
        raise MalformedError("TLS", "sslv2: a 3-byte (padded) header is not a CLIENT-HELLO")
    body = Reader(r.take(header & 0x7FFF), "sslv2_client_hello")
    r.expect_end()
    if body.u8() != SSL2_MT_CLIENT_HELLO:
        raise MalformedError("TLS", "sslv2: not a CLIENT-HELLO")
    version = body.u16()
    spec_len, sid_len, challenge_len = body.u16(), body.u16(), body.u16()
    if spec_len % 3:
        raise MalformedError("TLS", "sslv2: cipher_spec_length is not a multiple of 3")
    if not 16 <= challenge_len <= 32:
        raise MalformedError("TLS", f"sslv2: challenge of {challenge_len} bytes")
    specs = body.take(spec_len)
    session_id = body.take(sid_len)
    challenge = body.take(challenge_len)
    body.expect_end()
    suites = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, spec_len, 3))
    return ClientHello(
        legacy_version=version,
        random=challenge.rjust(32, b"\x00"),
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=(0,),
        extensions=(),
    )
