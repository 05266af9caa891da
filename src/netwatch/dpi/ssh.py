"""SSH analyzer: RFC 4253 §4.2 (protocol version exchange), §6 (binary packet protocol),
§7.1 (KEXINIT and algorithm negotiation), §7.3 (NEWKEYS); HASSH client/server
fingerprints (Salesforce, BSD-3-Clause: MD5 of ``kex;ciphers;macs;compression``).

Each side first sends a version line ``SSH-2.0-OpenSSH_9.7\\r\\n``; a server may send
other lines before it (§4.2), which are skipped. Then binary packets, unencrypted until
that side's NEWKEYS::

    00 00 05 dc  0a  14  <16-byte cookie> <10 name-lists> <bool> <uint32 0> <padding>
    packet_len   pad  KEXINIT

A name-list is a uint32 length and comma-separated ASCII names. The server's
key-exchange reply (§8; RFC 5656 §4; RFC 4419 §3 for group exchange) starts with the
host key blob K_S, whose SHA-256 gives the ``ssh-keygen -l`` fingerprint.

After both NEWKEYS the stream is ciphertext; ``state`` then moves from AUTHENTICATION to
ESTABLISHED by a size heuristic (:data:`ESTABLISHED_RULES`), since message types are no
longer visible: a server that has sent more than 2 KiB of encrypted data (OpenSSH sends its
host keys, ~1-2 KiB, right after a successful login, then the session's output), or both
sides past 12 encrypted segments (more than a full round of failed attempts: OpenSSH's
MaxAuthTries is 6), or a client that has sent more than 16 KiB (an upload: authentication
messages are a few hundred bytes to a few KiB, even with certificates, while the server
answers an upload with bare ACKs). It is a guess and is documented as one in the schema.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Sequence
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.errors import MalformedError

PROTO = "SSH"
PORT_HINTS: frozenset[int] = frozenset({22, 2222, 8000, 830})
MAX_LINE = 1024  # a version or pre-banner line
MAX_PRE_BANNER = 64 * 1024  # bytes of text a server may send before its version line
MAX_PACKET = 256 * 1024  # OpenSSH's PACKET_MAX_SIZE
MSG_KEXINIT, MSG_NEWKEYS = 20, 21
#: The server's reply carrying its host key K_S (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3:
#: message 31); with group exchange (RFC 4419 §3) 31 is the group and 33 the reply.
MSG_KEX_REPLY, MSG_KEX_DH_GEX_REPLY = 31, 33

#: (server encrypted bytes >=, or both sides' encrypted segments >=, or client encrypted
#: bytes >=) -> ESTABLISHED
ESTABLISHED_RULES = {"server_bytes": 2048, "segments_each": 12, "client_bytes": 16384}

KEXINIT_LISTS = (
    "kex",
    "host_key",
    "ciphers_c2s",
    "ciphers_s2c",
    "macs_c2s",
    "macs_s2c",
    "compression_c2s",
    "compression_s2c",
    "languages_c2s",
    "languages_s2c",
)
_VERSION = re.compile(rb"SSH-([0-9]+\.[0-9]+)-([^ \r\n]+)(?: ([^\r\n]*))?")
_DETECT = re.compile(rb"SSH-[0-9]\.[0-9]{1,2}-")
_PACKET_HEADER = struct.Struct("!IB")  # packet_length, padding_length
_UINT32 = struct.Struct("!I")


class _Side:
    __slots__ = (
        "banner",
        "buf",
        "enc_bytes",
        "enc_segments",
        "host_key_fp",
        "kexinit",
        "lost",
        "newkeys",
        "pre_banner_bytes",
        "pre_banner_lines",
        "proto",
        "software",
    )

    def __init__(self) -> None:
        self.buf = bytearray()
        self.banner: str | None = None
        self.proto: str | None = None  # the banner's protocol version ("2.0", "1.99")
        self.software: str | None = None  # software_of(banner), read once per banner
        self.pre_banner_lines = 0
        self.pre_banner_bytes = 0
        self.kexinit: dict[str, list[str]] | None = None
        self.newkeys = False
        self.enc_bytes = 0
        self.enc_segments = 0
        self.lost = False
        self.host_key_fp: str | None = None


def parse_kexinit(payload: bytes) -> dict[str, list[str]]:
    """The ten name-lists of a KEXINIT payload (starting at the message byte 20)."""
    pos = 17  # message code + 16-byte cookie
    size = len(payload)
    lists: dict[str, list[str]] = {}
    for key in KEXINIT_LISTS:
        if pos + 4 > size:
            raise MalformedError(PROTO, "KEXINIT truncated")
        (n,) = _UINT32.unpack_from(payload, pos)
        pos += 4
        end = pos + n
        if end > size:
            raise MalformedError(PROTO, "name-list runs past KEXINIT")
        raw = payload[pos:end]
        if not raw.isascii():
            raise MalformedError(PROTO, "non-ASCII name-list")
        lists[key] = raw.decode("ascii").split(",") if n else []
        pos = end
    if pos + 5 > size:
        raise MalformedError(PROTO, "KEXINIT truncated after the name-lists")
    return lists


def negotiate(client: list[str], server: list[str]) -> str | None:
    """RFC 4253 §7.1: the first client algorithm the server also supports."""
    offered = set(server)
    for name in client:  # (a plain loop: a generator costs more than these short lists)
        if name in offered:
            return name
    return None


def _hassh(lists: dict[str, list[str]], suffix: str) -> tuple[str, str]:
    keys = ("kex", f"ciphers_{suffix}", f"macs_{suffix}", f"compression_{suffix}")
    text = ";".join(",".join(lists[k]) for k in keys)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(), text


def software_of(banner: str) -> str | None:
    m = _VERSION.fullmatch(banner.encode("utf-8", "replace"))
    return m[2].decode("utf-8", "replace") if m else None


def proto_of(banner: str) -> str | None:
    m = _VERSION.fullmatch(banner.encode("utf-8", "replace"))
    return m[1].decode("ascii") if m else None


class SSHAnalyzer(AnalyzerBase):
    """One SSH connection, up to the end of the key exchange (plus the size heuristic)."""

    protocol = PROTO

    def __init__(self) -> None:
        self._sides = (_Side(), _Side())
        # ``state`` and ``finished`` as of the last feed or gap (the engine asks both
        # after every segment; they change only when bytes arrive).
        self._state = "BANNER"
        self._finished = False
        # ``_version()`` as of the last banner (it depends on the banners only, and is
        # read on every segment)
        self._ver: int | None = None

    # -- Analyzer protocol ---------------------------------------------------------------

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        side = self._sides[direction]
        if side.lost or not data:
            return ()
        try:
            if side.newkeys:
                side.enc_bytes += len(data)
                side.enc_segments += 1
            else:
                side.buf += data
                self._parse(direction, side)
        finally:
            self._update()  # also when a malformed packet ends the parse: as far as it got
        return ()

    def _parse(self, direction: Dir, side: _Side) -> None:
        pos = 0
        while not side.newkeys:
            if side.banner is None:
                step = self._line(direction, side, pos)
            else:
                step = self._packet(direction, side, pos)
            if step == 0:
                break
            pos += step
        if side.newkeys and len(side.buf) > pos:  # ciphertext in the same segment
            side.enc_bytes += len(side.buf) - pos
            side.enc_segments += 1
            pos = len(side.buf)
        del side.buf[:pos]

    def gap(self, direction: Dir, length: int) -> None:
        side = self._sides[direction]
        if side.newkeys:
            side.enc_bytes += length
        else:
            side.lost = True
            side.buf.clear()
        self._update()

    def _update(self) -> None:
        self._state = state = self._compute_state()
        client, server = self._sides
        self._finished = (client.lost and server.lost) or self._ver == 1 or state == "ESTABLISHED"

    @property
    def state(self) -> str:
        return self._state

    def _compute_state(self) -> str:
        client, server = self._sides
        if self._ver == 1 or (client.kexinit is None and server.kexinit is None):
            return "BANNER"  # (SSH-1 is never parsed past its version lines)
        if not (client.newkeys and server.newkeys):
            return "KEYEXCHANGE"
        rules = ESTABLISHED_RULES
        if (
            server.enc_bytes >= rules["server_bytes"]
            or min(client.enc_segments, server.enc_segments) >= rules["segments_each"]
            or client.enc_bytes >= rules["client_bytes"]
        ):
            return "ESTABLISHED"
        return "AUTHENTICATION"

    @property
    def buffered(self) -> int:
        """Bytes of a banner line or binary packet waiting for their rest, both sides."""
        return len(self._sides[0].buf) + len(self._sides[1].buf)

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def app_state(self) -> str | None:
        return f"SSH_{self.state}"

    def record(self) -> dict[str, Any]:
        client, server = self._sides
        out: dict[str, Any] = {
            "version": self._ver,
            "client_version": client.banner,
            "server_version": server.banner,
            "client_software": client.software if client.banner else None,
            "server_software": server.software if server.banner else None,
            "client_algorithms": _algorithms(client.kexinit),
            "server_algorithms": _algorithms(server.kexinit),
            "kex": None,
            "host_key": None,
            "cipher": None,
            "mac": None,
            "compression": None,
            "hassh": None,
            "hassh_algorithms": None,
            "hassh_server": None,
            "hassh_server_algorithms": None,
            "state": self.state,
            "server_pre_banner_lines": server.pre_banner_lines,
            "host_key_fingerprint": server.host_key_fp,
        }
        if client.kexinit:
            out["hassh"], out["hassh_algorithms"] = _hassh(client.kexinit, "c2s")
        if server.kexinit:
            out["hassh_server"], out["hassh_server_algorithms"] = _hassh(server.kexinit, "s2c")
        if client.kexinit and server.kexinit:
            c, s = client.kexinit, server.kexinit
            out["kex"] = negotiate(c["kex"], s["kex"])
            out["host_key"] = negotiate(c["host_key"], s["host_key"])
            for field, lists in (
                ("cipher", "ciphers"),
                ("mac", "macs"),
                ("compression", "compression"),
            ):
                c2s = negotiate(c[f"{lists}_c2s"], s[f"{lists}_c2s"])
                s2c = negotiate(c[f"{lists}_s2c"], s[f"{lists}_s2c"])
                out[field] = c2s
                if s2c != c2s:
                    out[f"{field}_s2c"] = s2c
        return out

    def summary(self) -> str:
        client, server = self._sides
        names = [s.software for s in (client, server) if s.banner]
        return "SSH " + " → ".join(n for n in names if n) if names else "SSH"

    # -- internals ----------------------------------------------------------------------

    def _version(self) -> int | None:
        protos = [s.proto for s in self._sides if s.banner]
        if not protos:
            return None
        # 1.99 means "2.0, and 1.x too" (RFC 4253 §5.1): two sides agreeing on 2 speak 2
        return 2 if all(p in ("2.0", "1.99") for p in protos) else 1

    def _line(self, direction: Dir, side: _Side, pos: int) -> int:
        buf = side.buf
        nl = buf.find(b"\n", pos, pos + MAX_LINE)
        if nl < 0:
            if len(buf) - pos >= MAX_LINE:
                raise MalformedError(PROTO, "version line longer than 1024 bytes")
            return 0
        line = bytes(buf[pos:nl]).rstrip(b"\r")
        if line.startswith(b"SSH-"):
            if not _VERSION.fullmatch(line):
                raise MalformedError(PROTO, "bad SSH version line")
            side.banner = line.decode("utf-8", "replace")
            side.proto = proto_of(side.banner)
            side.software = software_of(side.banner)
            self._ver = self._version()
            if side.proto not in ("2.0", "1.99"):
                side.newkeys = True  # SSH-1: its binary protocol is not parsed; count only
            return nl + 1 - pos
        # RFC 4253 §4.2: the server MAY send other lines first (the client MUST NOT)
        side.pre_banner_lines += 1
        side.pre_banner_bytes += nl + 1 - pos
        if direction is Dir.CLIENT or side.pre_banner_bytes > MAX_PRE_BANNER:
            raise MalformedError(PROTO, "text before the version line")
        return nl + 1 - pos

    def _packet(self, direction: Dir, side: _Side, pos: int) -> int:
        buf = side.buf
        if len(buf) - pos < 5:
            return 0
        length: int
        padding: int
        length, padding = _PACKET_HEADER.unpack_from(buf, pos)
        if length < 5 or length > MAX_PACKET or padding >= length:
            raise MalformedError(PROTO, f"bad packet length {length} / padding {padding}")
        if len(buf) - pos < 4 + length:
            return 0
        # The payload is buf[pos + 5 : pos + 4 + length - padding]; it is copied out only
        # for the messages that are read (most packets need only their message code).
        if length - padding <= 1:
            raise MalformedError(PROTO, "packet without a message")
        code = buf[pos + 5]
        if code == MSG_KEXINIT:
            if side.kexinit is not None:
                raise MalformedError(PROTO, "second KEXINIT before NEWKEYS")
            side.kexinit = parse_kexinit(bytes(buf[pos + 5 : pos + 4 + length - padding]))
        elif code == MSG_NEWKEYS:
            side.newkeys = True
        elif direction is Dir.SERVER and side.host_key_fp is None and self._is_kex_reply(code):
            side.host_key_fp = host_key_fingerprint(
                bytes(buf[pos + 5 : pos + 4 + length - padding])
            )
        return 4 + length

    def _is_kex_reply(self, code: int) -> bool:
        client, server = self._sides
        if client.kexinit is None or server.kexinit is None:
            return code == MSG_KEX_DH_GEX_REPLY
        kex = negotiate(client.kexinit["kex"], server.kexinit["kex"]) or ""
        gex = kex.startswith("diffie-hellman-group-exchange")
        return code == (MSG_KEX_DH_GEX_REPLY if gex else MSG_KEX_REPLY)


def host_key_fingerprint(payload: bytes) -> str:
    """OpenSSH's ``SHA256:<base64 without padding>`` of the host key blob K_S, the first
    string of the server's key-exchange reply."""
    if len(payload) < 5:
        raise MalformedError(PROTO, "key-exchange reply truncated")
    (n,) = struct.unpack_from("!I", payload, 1)
    blob = payload[5 : 5 + n]
    if len(blob) != n or n == 0:
        raise MalformedError(PROTO, "host key runs past the key-exchange reply")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def _algorithms(lists: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    if lists is None:
        return None
    return {k: v for k, v in lists.items() if not k.startswith("languages")}


def detect_tcp(data: bytes) -> bool:
    """True if a TCP direction starts with an SSH version line (``SSH-2.0-…``); with
    fewer than 9 bytes, a plausible prefix of one."""
    if not data.startswith(b"SSH-"):
        return False
    if _DETECT.match(data):
        return True
    return len(data) < 9 and all(c in b"0123456789.-" for c in data[4:])
