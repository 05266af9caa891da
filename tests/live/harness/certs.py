"""A throw-away test CA and server certificates (RFC 5280 profile, SANs per RFC 6125).

``make_certs(directory)`` writes ``ca.pem`` and, for every name in ``NAMES``, ``<name>.pem``
(leaf then CA, the chain nginx wants) and ``<name>.key``. Key types differ on purpose so TLS
tests see both signature families: www is ECDSA P-256, api is RSA-2048, h3 is ECDSA P-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ZONE = "nwtest.example"
WWW = f"www.{ZONE}"
API = f"api.{ZONE}"
H3 = f"h3.{ZONE}"
NAMES: tuple[str, ...] = (WWW, API, H3)
_RSA_NAMES = frozenset({API})

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class ServerCert:
    name: str  # the DNS name (CN and the only SAN)
    cert: Path  # PEM chain: leaf then CA
    key: Path  # PEM private key, unencrypted
    sha256: str  # hex SHA-256 of the leaf DER (what an x509 fingerprint shows)
    key_type: str  # "ecdsa-p256" or "rsa-2048"


@dataclass(frozen=True, slots=True)
class CertSet:
    directory: Path
    ca: Path  # CA certificate, for curl --cacert / openssl -CAfile / aioquic cafile
    servers: dict[str, ServerCert]

    def __getitem__(self, name: str) -> ServerCert:
        return self.servers[name]


def _new_key(rsa_key: bool) -> _PrivateKey:
    if rsa_key:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netwatch tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def make_certs(directory: Path) -> CertSet:
    """Create the CA and one certificate per name in ``NAMES`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("netwatch test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_pem)
    servers: dict[str, ServerCert] = {}
    for name in NAMES:
        rsa_key = name in _RSA_NAMES
        key = _new_key(rsa_key)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        der = cert.public_bytes(serialization.Encoding.DER)
        servers[name] = ServerCert(
            name=name,
            cert=cert_path,
            key=key_path,
            sha256=hashlib.sha256(der).hexdigest(),
            key_type="rsa-2048" if rsa_key else "ecdsa-p256",
        )
    return CertSet(directory=directory, ca=ca_path, servers=servers)
