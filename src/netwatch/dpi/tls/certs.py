"""The Certificate handshake message of TLS <= 1.2 (RFC 5246 §7.4.2) and X.509 summaries.

::

    opaque ASN.1Cert<1..2^24-1>;
    struct {
        ASN.1Cert certificate_list<0..2^24-1>;
    } Certificate;

    00 0b 8a             certificate_list length
    00 06 b1  30 82 ...  first certificate (DER), the server's own
    00 04 d3  30 82 ...  the issuer's, and so on

(TLS 1.3 sends its Certificate encrypted, so only <= 1.2 handshakes reach this parser.)
The framing is strict (a lying length raises :class:`MalformedError`); a certificate whose
DER does not parse is skipped and counted in :attr:`CertificateList.skipped`, not fatal.

Names are printed in certificate order as ``C=US, O=Example, CN=example.com`` (the
one-line form of OpenSSL, Wireshark and Suricata), unknown attribute types by their
dotted OID. The serial is the DER INTEGER content as colon-separated lowercase hex
(``0d:7b:ed``), keeping the leading zero octets the encoding has.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from netwatch.dpi.tls.reader import Reader

if TYPE_CHECKING:
    from cryptography import x509

# ``cryptography.x509`` (~30 ms to import) is imported by the functions that read a
# certificate, on the first one: TLS 1.3 sends its certificates encrypted, so a capture
# of TLS 1.3 (and QUIC) alone never needs it.

#: X.520 attribute short names, by dotted OID (rules as data).
ATTRIBUTE_NAMES: dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "GN",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    #: subjectAltName dNSName entries then iPAddress entries, in certificate order.
    san: tuple[str, ...]
    not_before: str
    not_after: str
    serial: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "san": list(self.san),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "serial": self.serial,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class CertificateList:
    certs: tuple[CertInfo, ...]
    #: Certificates whose DER did not parse (skipped, not fatal).
    skipped: int = 0


def format_name(name: x509.Name) -> str:
    parts = []
    for rdn in name.rdns:
        attrs = []
        for attr in rdn:
            key = ATTRIBUTE_NAMES.get(attr.oid.dotted_string, attr.oid.dotted_string)
            value = attr.value
            text = value.hex() if isinstance(value, bytes) else value
            attrs.append(f"{key}={text}")
        parts.append("+".join(attrs))
    return ", ".join(parts)


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _serial_hex(serial: int) -> str:
    size = (serial + (serial < 0)).bit_length() // 8 + 1  # DER: minimal two's complement
    return serial.to_bytes(size, "big", signed=True).hex(":")


def _san(cert: x509.Certificate) -> tuple[str, ...]:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return ()
    except ValueError:  # a malformed extension: keep the rest of the certificate
        return ()
    if not isinstance(ext.value, x509.SubjectAlternativeName):
        return ()
    dns = ext.value.get_values_for_type(x509.DNSName)
    ips = ext.value.get_values_for_type(x509.IPAddress)
    return (*dns, *(str(ip) for ip in ips))


#: Summaries of recently seen certificates by SHA-256. The same chains (intermediates
#: above all) come back in handshake after handshake, and a summary costs ~50 us of
#: X.509 parsing; a bounded cache of immutable results skips that.
_SUMMARIES: dict[str, CertInfo] = {}
MAX_CACHED_SUMMARIES = 512


def describe_certificate(der: bytes) -> CertInfo:
    """Summarise one DER certificate; raises ValueError when it does not parse."""
    digest = hashlib.sha256(der).hexdigest()
    info = _SUMMARIES.get(digest)
    if info is None:
        info = _describe(der, digest)
        if len(_SUMMARIES) >= MAX_CACHED_SUMMARIES:
            try:
                del _SUMMARIES[next(iter(_SUMMARIES))]  # the oldest entry
            except (KeyError, RuntimeError, StopIteration):
                pass  # another thread's engine evicted at the same moment: fine either way
        _SUMMARIES[digest] = info
    return info


def clear_summary_cache() -> None:
    """Forget the cached summaries (benchmarks measure a cold start with this)."""
    _SUMMARIES.clear()


def _serial_not_positive(der: bytes) -> bool:
    """Whether the DER certificate's serialNumber INTEGER is negative (its first content
    byte has the high bit set) or zero; False for anything not shaped like a certificate."""
    try:
        if der[0] != 0x30:  # Certificate ::= SEQUENCE
            return False
        pos = _element(der, 0)[0]
        if der[pos] != 0x30:  # tbsCertificate ::= SEQUENCE
            return False
        pos = _element(der, pos)[0]
        if der[pos] == 0xA0:  # [0] EXPLICIT version, then the serial
            pos = _element(der, pos)[1]
        if der[pos] != 0x02:
            return False
        start, end = _element(der, pos)
        return bool(der[start] & 0x80) or (end - start == 1 and der[start] == 0)
    except IndexError:
        return False


def _element(der: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the content of the DER element whose tag is at ``pos``."""
    first = der[pos + 1]
    if first < 0x80:
        return pos + 2, pos + 2 + first
    n = first & 0x7F
    start = pos + 2 + n
    return start, start + int.from_bytes(der[pos + 2 : start], "big")


@contextlib.contextmanager
def _quiet_serial_warning() -> Iterator[None]:
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


def _describe(der: bytes, digest: str) -> CertInfo:
    from cryptography import x509

    # A zero or negative serial: RFC 5280 forbids it but such certificates exist;
    # cryptography still reads them, with a deprecation warning that would reach the
    # user's terminal. Only this rare case pays for catch_warnings (which touches
    # process-wide state).
    with _quiet_serial_warning() if _serial_not_positive(der) else contextlib.nullcontext():
        cert = x509.load_der_x509_certificate(der)
        serial = cert.serial_number
    return CertInfo(
        subject=format_name(cert.subject),
        issuer=format_name(cert.issuer),
        san=_san(cert),
        not_before=_rfc3339(cert.not_valid_before_utc),
        not_after=_rfc3339(cert.not_valid_after_utc),
        serial=_serial_hex(serial),
        sha256=digest,
    )


def split_certificate_message(body: bytes) -> tuple[bytes, ...]:
    """The DER blobs of a TLS <= 1.2 Certificate body; strict framing."""
    r = Reader(body, "certificate")
    chain = r.vector(3, "certificate_list")
    r.expect_end()
    out = []
    while not chain.eof():
        out.append(chain.opaque(3))
    return tuple(out)


def parse_certificate_message(body: bytes) -> CertificateList:
    """Parse a Certificate body (without the 4-byte handshake header)."""
    certs = []
    skipped = 0
    for der in split_certificate_message(body):
        try:
            certs.append(describe_certificate(der))
        except ValueError:
            skipped += 1
    return CertificateList(tuple(certs), skipped)
