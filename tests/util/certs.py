"""Certificates for tests: self-signed, made on the spot."""

from __future__ import annotations

import datetime
from typing import Any


def self_signed(name: str, san: bool = False) -> tuple[Any, Any]:
    """(certificate, private key): a self-signed P-256 certificate for ``name`` (CN, and
    with ``san`` a DNS subjectAltName too), valid through 2026."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when)
        .not_valid_after(when + datetime.timedelta(days=365))
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(key, hashes.SHA256()), key
