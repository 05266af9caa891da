"""pcapng blocks for the recorder's packet files, and classic pcap for exports.

Implements the parts of the pcapng format (IETF draft-ietf-opsawg-pcapng, sections 4.1
Section Header Block, 4.2 Interface Description Block, 4.3 Enhanced Packet Block, and the
options of section 3.5) that the recorder writes, in the writer's (little-endian) order.
Every block is ``type(4) total_length(4) body... total_length(4)``, padded to 32 bits.

An Enhanced Packet Block with a comment, worked (one 60-byte Ethernet frame on interface 0,
timestamp 1.5 s in microseconds = 0x16E360, comment ``"hi"``)::

    06000000 68000000           type 6, total length 104
    00000000                    interface id 0
    00000000 60e31600           timestamp high, low (units of if_tsresol: 1 µs)
    3c000000 3c000000           captured length 60, original length 60
    <60 bytes of frame>         (a multiple of 4: no padding)
    0100 0200 68690000          opt_comment, length 2, "hi" + 2 bytes of padding
    0000 0000                   opt_endofopt
    68000000                    total length again

Interfaces carry the link type of their packets: a file gets one IDB per link type, added
the first time a packet of that type is written (an IDB may follow packet blocks, section
4.2). Readers find a packet by its block's byte offset (the recorder's index), so reading
never scans a file. Classic pcap (``write_pcap_header``/``pcap_record``) is the libpcap
file format of draft-ietf-opsawg-pcap: a 24-byte header, then 16-byte record headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from netwatch.errors import MalformedError

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
#: Largest packet kept whole (bytes); the IDB's snaplen.
SNAPLEN = 262_144
#: Longest comment written (bytes of UTF-8); longer ones are cut at a character boundary.
MAX_COMMENT = 1024
#: A block bigger than this is not one netwatch wrote (a damaged file or a wrong offset).
MAX_BLOCK = SNAPLEN + MAX_COMMENT + 64

_HDR = struct.Struct("<II")
_EPB = struct.Struct("<IIIIIII")  # type, total length, if id, ts hi, ts lo, caplen, origlen
_OPT = struct.Struct("<HH")
_PCAP_HDR = struct.Struct("<IHHiIII")
_PCAP_REC = struct.Struct("<IIII")
PCAP_MAGIC_US = 0xA1B2C3D4
#: Zero padding after n bytes, by ``n % 4``; the end-of-options marker.
_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")
_END = _OPT.pack(OPT_ENDOFOPT, 0)


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return _OPT.pack(code, len(value)) + value + b"\0" * _pad(len(value))


def _block(btype: int, body: bytes) -> bytes:
    total = len(body) + 12
    return _HDR.pack(btype, total) + body + total.to_bytes(4, "little")


def section_header(application: str) -> bytes:
    """An SHB (section length unknown: -1) naming the application that wrote it."""
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
    body += _option(SHB_USERAPPL, application.encode()) + _OPT.pack(OPT_ENDOFOPT, 0)
    return _block(SHB_TYPE, body)


def interface_block(linktype: int, snaplen: int = SNAPLEN) -> bytes:
    """An IDB for ``linktype``; no if_tsresol option, so timestamps are in microseconds."""
    return _block(IDB_TYPE, struct.pack("<HHI", linktype, 0, snaplen))


def _cut_utf8(text: str, limit: int) -> bytes:
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw
    return raw[:limit].decode("utf-8", "ignore").encode()


def packet_block(
    interface: int, ts: float, data: bytes | memoryview, wirelen: int, comment: str = ""
) -> bytes:
    """An EPB; ``data`` beyond :data:`SNAPLEN` is cut (``wirelen`` keeps the true size).

    Written for the writer thread's per-packet loop (measured: about 1 µs): one ``pack``
    for the fixed header, the paddings from a table, one ``join``."""
    caplen = len(data)
    if caplen > SNAPLEN:
        data = data[:SNAPLEN]
        caplen = SNAPLEN
    us = round(ts * 1_000_000) if ts > 0 else 0
    pad = _PADS[caplen & 3]
    if comment:
        raw = comment.encode("utf-8", "replace")
        if len(raw) > MAX_COMMENT:
            raw = _cut_utf8(comment, MAX_COMMENT)
        n = len(raw)
        opts = _OPT.pack(OPT_COMMENT, n) + raw + _PADS[n & 3] + _END
    else:
        opts = b""
    total = 32 + caplen + len(pad) + len(opts)
    orig = wirelen if wirelen >= caplen else caplen
    head = _EPB.pack(EPB_TYPE, total, interface, us >> 32, us & 0xFFFFFFFF, caplen, orig)
    return b"".join((head, data, pad, opts, total.to_bytes(4, "little")))


@dataclass(frozen=True, slots=True)
class StoredPacket:
    """One EPB read back: ``ts_us`` in microseconds, the raw block for pcapng copies."""

    interface: int
    ts_us: int
    data: bytes
    wirelen: int
    comment: str
    block: bytes


def read_packet_at(fh: BinaryIO, offset: int) -> StoredPacket:
    """The EPB at ``offset`` (an index entry); :class:`MalformedError` if it is not one."""
    fh.seek(offset)
    head = fh.read(8)
    if len(head) < 8:
        raise MalformedError("pcapng", f"no block at offset {offset}")
    btype, total = _HDR.unpack(head)
    if btype != EPB_TYPE or total < 32 or total % 4 or total > MAX_BLOCK:
        raise MalformedError("pcapng", f"no packet block at offset {offset}")
    block = head + fh.read(total - 8)
    return parse_packet_block(block, offset)


def parse_packet_block(block: bytes, offset: int = 0) -> StoredPacket:
    total = len(block)
    if total < 32 or int.from_bytes(block[-4:], "little") != total:
        raise MalformedError("pcapng", f"truncated packet block at offset {offset}")
    _, _, iface, hi, lo, caplen, wirelen = _EPB.unpack_from(block, 0)
    end = 28 + caplen
    if end + _pad(caplen) > total - 4:
        raise MalformedError("pcapng", f"captured length overruns the block at offset {offset}")
    data = block[28:end]
    comment = ""
    pos = end + _pad(caplen)
    while pos + 4 <= total - 4:
        code, length = _OPT.unpack_from(block, pos)
        pos += 4
        if code == OPT_ENDOFOPT:
            break
        if pos + length > total - 4:
            raise MalformedError("pcapng", f"option overruns the block at offset {offset}")
        if code == OPT_COMMENT:
            comment = block[pos : pos + length].decode("utf-8", "replace")
        pos += length + _pad(length)
    return StoredPacket(iface, (hi << 32) | lo, data, wirelen, comment, block)


def with_interface(block: bytes, interface: int) -> bytes:
    """The same EPB on another interface id (exports renumber the interfaces)."""
    return block[:8] + interface.to_bytes(4, "little") + block[12:]


def pcap_header(linktype: int, snaplen: int = SNAPLEN) -> bytes:
    return _PCAP_HDR.pack(PCAP_MAGIC_US, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(p: StoredPacket) -> bytes:
    sec, us = divmod(p.ts_us, 1_000_000)
    return _PCAP_REC.pack(sec, us, len(p.data), p.wirelen) + p.data
