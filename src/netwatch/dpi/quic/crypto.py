"""Initial packet protection (RFC 9001 §5.2-§5.4; RFC 9369 §3.3 for QUIC v2).

Initial packets are encrypted, but with keys anyone can derive from the client's first
Destination Connection ID, so a passive observer can read the ClientHello::

    initial_secret = HKDF-Extract(initial_salt, client_dcid)
    client_secret  = HKDF-Expand-Label(initial_secret, "client in", "", 32)
    server_secret  = HKDF-Expand-Label(initial_secret, "server in", "", 32)
    key = HKDF-Expand-Label(secret, "quic key", "", 16)     ("quicv2 key" in v2)
    iv  = HKDF-Expand-Label(secret, "quic iv",  "", 12)
    hp  = HKDF-Expand-Label(secret, "quic hp",  "", 16)

Header protection (§5.4): ``sample`` is the 16 bytes that start 4 bytes after the packet
number field; ``mask = AES-128-ECB(hp, sample)``. The low 4 bits of the first byte (5 for
short headers) and the packet number bytes are XORed with the mask. Payload protection
(§5.3) is AEAD_AES_128_GCM with ``nonce = iv XOR packet_number`` and the unprotected
header as associated data. Worked example (RFC 9001 A.2, DCID ``8394c8f03e515708``)::

    protected  c0 00000001 08 8394c8f03e515708 00 00 449e 7b9aec34 d1b1c98d...
    sample     d1b1c98dd7689fb8ec11d242b123dc9b   (pn_offset 18, +4)
    mask       437b9aec36
    header     c3 00000001 08 8394c8f03e515708 00 00 449e 00000002   (pn 2, 4 bytes)
"""

from __future__ import annotations

import functools
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from netwatch.dpi.quic.versions import QuicVersion
from netwatch.errors import MalformedError

PROTOCOL = "QUIC"
SAMPLE_LEN = 16
TAG_LEN = 16


_SHA256 = hashes.SHA256()  # stateless: one instance serves every derivation


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 §2.2: PRK = HMAC-SHA256(salt, IKM)."""
    h = hmac.HMAC(salt, _SHA256)
    h.update(ikm)
    return h.finalize()


@functools.lru_cache(maxsize=64)
def _hkdf_label(label: bytes, context: bytes, length: int) -> bytes:
    """The HkdfLabel structure (RFC 8446 §7.1); the few Initial labels are built once."""
    full = b"tls13 " + label
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """RFC 8446 §7.1 HKDF-Expand-Label with SHA-256 (the Initial cipher suite's hash)."""
    return HKDFExpand(_SHA256, length, _hkdf_label(label, context, length)).derive(secret)


#: The HMAC pads (RFC 2104 §2) as byte translations: ``key.translate(_IPAD)`` is the key
#: XOR 0x36 in one C call.
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_BLOCK = 64  # SHA-256 block size


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) keyed once, then one :meth:`digest` per message.

    Built on ``hashlib`` rather than ``cryptography``'s ``HMAC``: keying is two hash
    states over the padded key (~0.8 us), each message two state copies (~0.6 us), where
    an ``HMAC`` object costs ~1.1 us to key and ~0.65 us per copy, and ``HKDFExpand``
    ~2.3 us per call. A flow's Initial keys take four keyings and nine messages.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=16)
def _salted(salt: bytes) -> HmacSha256:
    """HKDF-Extract keyed with a version's Initial salt: the few salts are keyed once."""
    return HmacSha256(salt)


@functools.lru_cache(maxsize=16)
def _packet_key_infos(prefix: bytes) -> tuple[bytes, bytes, bytes]:
    """HKDF-Expand inputs ``HkdfLabel | 0x01`` of a version's key (16), iv (12), hp (16)."""
    return (
        _hkdf_label(prefix + b"key", b"", 16) + b"\x01",
        _hkdf_label(prefix + b"iv", b"", 12) + b"\x01",
        _hkdf_label(prefix + b"hp", b"", 16) + b"\x01",
    )


def initial_secrets(version: QuicVersion, dcid: bytes) -> tuple[bytes, bytes]:
    """(client_initial_secret, server_initial_secret) for a client's first DCID."""
    if version.salt is None:
        raise MalformedError(PROTOCOL, f"no Initial protection known for {version.name}")
    initial = hkdf_extract(version.salt, dcid)
    return (
        hkdf_expand_label(initial, b"client in", b"", 32),
        hkdf_expand_label(initial, b"server in", b"", 32),
    )


def retry_integrity_ok(version: QuicVersion, odcid: bytes, retry: bytes) -> bool | None:
    """RFC 9001 §5.8: does the Retry's tag authenticate it for ``odcid``?

    The tag is AES-128-GCM over nothing, with the "Retry pseudo-packet"
    (``len(odcid) | odcid | retry without its tag``) as associated data. None when the
    version's Retry key is unknown.
    """
    if version.retry_key is None:
        return None
    if len(retry) < TAG_LEN:
        return False
    key, nonce = version.retry_key
    pseudo = bytes([len(odcid)]) + odcid + retry[:-TAG_LEN]
    return AESGCM(key).encrypt(nonce, b"", pseudo) == retry[-TAG_LEN:]


def decode_packet_number(largest: int, truncated: int, nbits: int) -> int:
    """RFC 9000 §A.3: the full packet number nearest to ``largest + 1``.

    ``largest`` is the largest packet number received in the space so far (-1 if none).
    Example (§A.3): largest ``0xa82f30ea``, truncated ``0x9b32`` in 16 bits gives
    ``0xa82f9b32``.
    """
    expected = largest + 1
    win = 1 << nbits
    hwin = win // 2
    mask = win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


#: ECB holds no state (no IV, no counter): one mode object serves every cipher.
_ECB = modes.ECB()  # noqa: S305 - header protection is AES-ECB by definition (RFC 9001 §5.4.3)


def _xor(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR ``mask`` (equal lengths, 1 to 4 bytes here)."""
    return (int.from_bytes(data, "big") ^ int.from_bytes(mask, "big")).to_bytes(len(data), "big")


class PacketProtection:
    """One direction's Initial keys: removes header protection and opens the payload."""

    __slots__ = ("_aead", "_hp", "_iv", "hp", "iv", "key")

    def __init__(self, secret: bytes, version: QuicVersion) -> None:
        # hkdf_expand_label(secret, label, b"", n) for the version's key (16), iv (12) and
        # hp (16): with at most one hash output, HKDF-Expand is T(1) = HMAC(secret, info |
        # 0x01) (RFC 5869 §2.3), the HMAC keyed once and the three inputs built once.
        keyed = HmacSha256(secret)
        key_info, iv_info, hp_info = _packet_key_infos(version.label_prefix)
        self.key = keyed.digest(key_info)[:16]
        self.iv = keyed.digest(iv_info)[:12]
        self.hp = keyed.digest(hp_info)[:16]
        self._iv = int.from_bytes(self.iv, "big")  # XORed with each packet number
        self._aead = AESGCM(self.key)
        # One ECB encryptor for every mask: ECB enciphers each 16-byte block on its own,
        # so the context carries nothing from one sample to the next, and is never
        # finalized. Saves a context set-up per packet.
        self._hp = Cipher(algorithms.AES(self.hp), _ECB).encryptor()

    @classmethod
    def initial_pair(
        cls, version: QuicVersion, dcid: bytes
    ) -> tuple[PacketProtection, PacketProtection]:
        """(client, server) protections of the Initial packets of a connection."""
        client, server = initial_secrets(version, dcid)
        return cls(client, version), cls(server, version)

    @classmethod
    def initial(cls, version: QuicVersion, dcid: bytes, direction: int) -> PacketProtection:
        """One direction's protection (0 client, 1 server) of a connection's Initials."""
        return InitialKeys(version, dcid).side(direction)

    def mask(self, sample: bytes) -> bytes:
        """AES-128-ECB(hp, sample) of a 16-byte sample (RFC 9001 §5.4.3)."""
        if len(sample) != SAMPLE_LEN:  # a partial block would stay in the shared context
            raise ValueError(f"header protection sample must be {SAMPLE_LEN} bytes")
        return self._hp.update(sample)

    def _nonce(self, pn: int) -> bytes:
        return (self._iv ^ pn).to_bytes(12, "big")

    def unprotect(self, packet: bytes, pn_offset: int, largest_pn: int) -> tuple[bytes, int, bytes]:
        """Open one packet: (plain header, packet number, plaintext payload).

        ``packet`` spans exactly the packet (the long header's Length ends it);
        ``pn_offset`` is where its packet number field starts. A packet that is too
        short or does not authenticate raises :class:`MalformedError`.
        """
        sample_at = pn_offset + 4
        if len(packet) < sample_at + SAMPLE_LEN:
            raise MalformedError(PROTOCOL, "packet too short for a header protection sample")
        # mask(), _xor() and _nonce() written out: every Initial comes through here. The
        # check above makes the sample exactly one block, as mask() requires.
        mask = self._hp.update(packet[sample_at : sample_at + SAMPLE_LEN])
        first = packet[0] ^ (mask[0] & (0x0F if packet[0] & 0x80 else 0x1F))
        pn_len = (first & 0x03) + 1
        pn_end = pn_offset + pn_len
        truncated = int.from_bytes(packet[pn_offset:pn_end], "big") ^ int.from_bytes(
            mask[1 : 1 + pn_len], "big"
        )
        header = bytes([first]) + packet[1:pn_offset] + truncated.to_bytes(pn_len, "big")
        pn = decode_packet_number(largest_pn, truncated, pn_len * 8)
        ciphertext = packet[pn_end:]
        if len(ciphertext) < TAG_LEN:
            raise MalformedError(PROTOCOL, "packet shorter than the AEAD tag")
        try:
            payload = self._aead.decrypt((self._iv ^ pn).to_bytes(12, "big"), ciphertext, header)
        except InvalidTag:
            raise MalformedError(PROTOCOL, "Initial packet does not decrypt") from None
        return header, pn, payload

    def protect(self, header: bytes, payload: bytes, pn: int) -> bytes:
        """Seal a packet (the inverse of :meth:`unprotect`).

        ``header`` is the plain header ending with the packet number field, whose length
        the first byte's low bits give. Used by tests to build packets from scratch.
        """
        pn_len = (header[0] & 0x03) + 1
        pn_offset = len(header) - pn_len
        sealed = self._aead.encrypt(self._nonce(pn), payload, header)
        sample_at = 4 - pn_len
        if sample_at + SAMPLE_LEN > len(sealed):
            raise ValueError("payload too short to sample for header protection")
        mask = self.mask(sealed[sample_at : sample_at + SAMPLE_LEN])
        first = header[0] ^ (mask[0] & (0x0F if header[0] & 0x80 else 0x1F))
        pn_bytes = _xor(header[pn_offset:], mask[1 : 1 + pn_len])
        return bytes([first]) + header[1:pn_offset] + pn_bytes + sealed


class InitialKeys:
    """The Initial protections of one client DCID, each direction derived on first use.

    A direction costs four HKDF steps and two cipher set-ups (~10 us); many QUIC flows
    never show a server Initial (blocked UDP, scans, a capture of one side), so the
    server's keys wait until one arrives. The initial secret is kept as an HMAC keyed
    with it, keyed once for both directions.
    """

    __slots__ = ("_initial", "_sides", "_version")

    def __init__(self, version: QuicVersion, dcid: bytes) -> None:
        if version.salt is None:
            raise MalformedError(PROTOCOL, f"no Initial protection known for {version.name}")
        self._version = version
        # HMAC keyed with hkdf_extract(salt, dcid), the initial secret.
        self._initial = HmacSha256(_salted(version.salt).digest(dcid))
        self._sides: list[PacketProtection | None] = [None, None]

    def side(self, direction: int) -> PacketProtection:
        pp = self._sides[direction]
        if pp is None:
            # hkdf_expand_label(initial, "client in" / "server in", b"", 32): T(1).
            secret = self._initial.digest(_SECRET_INFOS[direction])
            pp = self._sides[direction] = PacketProtection(secret, self._version)
        return pp


#: HKDF-Expand inputs ``HkdfLabel | 0x01`` of the client's and the server's secrets.
_SECRET_INFOS = (
    _hkdf_label(b"client in", b"", 32) + b"\x01",
    _hkdf_label(b"server in", b"", 32) + b"\x01",
)
