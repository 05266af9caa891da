"""Capture files: classic pcap and pcapng, read in large chunks, yielded in batches.

Formats:
* pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html): 24-byte file header whose
  magic gives byte order and timestamp unit (a1b2c3d4 = microseconds, a1b23c4d =
  nanoseconds), then records of ``ts_sec, ts_frac, incl_len, orig_len`` + data.
* pcapng (RFC-draft ietf-opsawg-pcapng): blocks ``type, total_len, body, total_len``.
  We read SHB (byte order), IDB (link type and ``if_tsresol``/``if_tsoffset`` per
  interface: several interfaces may have several link types), EPB, SPB and the obsolete
  PB; other blocks (name resolution, statistics, DSB secrets) are skipped.

Why our own reader instead of dpkt's: dpkt builds a Python object per record and reads with
one ``read`` per record; we ``readinto`` 4 MiB at a time and walk it with
``struct.unpack_from`` over a memoryview, yielding :class:`FrameBlock` batches (frames as
offsets into the chunk; see capture/base.py). That keeps the per-packet cost to a couple
of struct calls (benchmarks/bench_analyze.py).

Damage: a record cut short by the end of the file, or one whose length cannot be right,
ends the read with :class:`TruncatedCaptureError` naming the byte offset, *after* every
packet before it was yielded.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from io import BufferedReader
from pathlib import Path

from netwatch.capture.base import Packet, SourceStats
from netwatch.errors import CaptureError, TruncatedCaptureError
from netwatch.model.frames import Frame, FrameBlock

CHUNK = 4 << 20
MAX_RECORD = 256 << 20  # a record larger than this is damage, not data
BATCH = 512

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


def open_capture_file(path: str | os.PathLike[str]) -> FileSource:
    """Open a pcap or pcapng file, raising :class:`CaptureError` with one clear line."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise CaptureError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{p}: is a directory, not a capture file") from None
    except PermissionError:
        raise CaptureError(f"{p}: permission denied") from None
    except OSError as exc:
        raise CaptureError(f"{p}: cannot open ({exc.strerror})") from None
    head = fh.read(4)
    fh.seek(0)
    if head in PCAP_MAGICS:
        return PcapSource(p, fh)
    if head == PCAPNG_SHB:
        return PcapngSource(p, fh)
    fh.close()
    if not head:
        raise CaptureError(f"{p}: empty file, not a pcap or pcapng capture")
    raise CaptureError(f"{p}: not a pcap or pcapng capture (magic {head.hex()})")


class FileSource:
    """Common parts of the two readers: chunked reading and progress."""

    live = False

    def __init__(self, path: Path, fh: BufferedReader) -> None:
        self.path = path
        self.description = f"file {path.name}"
        self._fh = fh
        self._total = os.fstat(fh.fileno()).st_size
        self._read = 0
        self._packets = 0
        self._closed = False

    def stats(self) -> SourceStats:
        return SourceStats(received=self._packets, bytes_read=self._read, bytes_total=self._total)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._fh.close()

    def batches(self) -> Iterator[Sequence[Packet]]:
        raise NotImplementedError  # each format's reader overrides this

    def _truncated(self, offset: int, reason: str = "truncated record") -> TruncatedCaptureError:
        return TruncatedCaptureError(str(self.path), offset, reason)


class _Buffer:
    """A refillable window over the file: keeps unconsumed bytes when it reads more.

    One buffer, refilled in place with ``readinto`` (measured: allocating a fresh 4 MiB
    buffer per refill and joining the leftover cost a quarter of a whole ``analyze`` run
    in copies and page faults). Views handed out before a refill see new bytes afterwards,
    which the source contract allows: a batch is valid until the next one is requested,
    and the readers never refill while a batch they built is still unyielded.
    """

    def __init__(self, fh: BufferedReader, base: int = 0) -> None:
        self.fh = fh
        self.buf = bytearray(CHUNK)
        self.view = memoryview(self.buf)
        self.pos = 0  # next unread byte in buf
        self.end = 0  # end of the valid bytes in buf
        self.base = base  # file offset of buf[0]
        self.eof = False

    def refill(self, need: int) -> bool:
        """Make ``need`` bytes available at ``pos``; False at end of file."""
        while self.end - self.pos < need:
            if self.eof:
                return False
            rest = self.end - self.pos
            if need > len(self.buf):  # a record larger than the buffer: a bigger one
                bigger = bytearray(need + CHUNK)
                bigger[:rest] = self.view[self.pos : self.end]
                self.buf = bigger
                self.view = memoryview(bigger)
            elif rest:
                # Same length, so the bytearray is not resized: allowed while views exist.
                self.buf[:rest] = self.buf[self.pos : self.end]
            self.base += self.pos
            self.pos = 0
            got = self.fh.readinto(self.view[rest:])
            if not got:
                self.eof = True
            self.end = rest + (got or 0)
        return True

    @property
    def offset(self) -> int:
        return self.base + self.pos


class PcapSource(FileSource):
    def __init__(self, path: Path, fh: BufferedReader) -> None:
        super().__init__(path, fh)
        hdr = fh.read(24)
        if len(hdr) < 24:
            raise CaptureError(f"{path}: truncated pcap file header")
        endian, unit = PCAP_MAGICS[hdr[:4]]
        _major, _minor, _zone, _sigfigs, self.snaplen, linktype = struct.unpack(
            endian + "HHiIII", hdr[4:]
        )
        # The upper bits of the link-type field carry FCS info (pcap-savefile(5)).
        self.linktype = linktype & 0x0FFFFFFF
        self._endian = endian
        self._unit = unit

    def batches(self) -> Iterator[Sequence[Packet]]:
        unpack = struct.Struct(self._endian + "IIII").unpack_from
        linktype = self.linktype
        unit = self._unit
        b = _Buffer(self._fh, 24)
        while True:
            # The tight loop: walk every whole record in the buffer, then refill once.
            view = b.view
            n = b.end
            pos = b.pos
            frames: list[Frame] = []
            append = frames.append
            while pos + 16 <= n:
                sec, frac, incl, orig = unpack(view, pos)
                end = pos + 16 + incl
                if end > n or incl > MAX_RECORD:
                    break
                append((sec + frac * unit, linktype, view, pos + 16, incl, orig))
                pos = end
                if len(frames) >= BATCH:
                    break
            b.pos = pos
            self._packets += len(frames)
            self._read = b.offset
            if frames:
                yield FrameBlock(frames)  # frames in ``view``: valid until the next refill
                continue
            if n - pos >= 16:
                (incl,) = struct.unpack_from(self._endian + "I", view, pos + 8)
                if incl > MAX_RECORD:
                    raise self._truncated(b.offset, f"impossible record length {incl}")
            if not b.refill(16):
                if n - pos:
                    raise self._truncated(b.offset, "truncated record header")
                return
            (incl,) = struct.unpack_from(self._endian + "I", b.view, b.pos + 8)
            if incl > MAX_RECORD:
                raise self._truncated(b.offset, f"impossible record length {incl}")
            if not b.refill(16 + incl):
                raise self._truncated(b.offset)


class PcapngSource(FileSource):
    """pcapng: several sections and interfaces, each with its own link type and clock."""

    def __init__(self, path: Path, fh: BufferedReader) -> None:
        super().__init__(path, fh)
        self.linktype = -1
        self._ifaces: list[tuple[int, float, float]] = []  # (linktype, resolution, offset)

    def batches(self) -> Iterator[Sequence[Packet]]:
        b = _Buffer(self._fh)
        e = "<"
        batch: list[Frame] = []
        ifaces = self._ifaces
        epbs = {order: struct.Struct(order + "IIIIIII").unpack_from for order in "<>"}
        while True:
            # The tight loop, as for pcap: walk the Enhanced Packet Blocks that lie whole in
            # the buffer with one struct call each (block header and EPB fields at once);
            # anything else (another block type, a block cut by the buffer's end, damage)
            # goes to the block-by-block code below, which refills, parses and reports.
            # Measured on the benchmark capture saved as pcapng: 0.8 us per packet less,
            # most of what pcapng cost over pcap.
            epb = epbs[e]
            view = b.view
            n = b.end
            pos = b.pos
            nif = len(ifaces)
            append = batch.append
            start = len(batch)
            while pos + 28 <= n:
                btype, blen, ifid, hi, lo, cap, orig = epb(view, pos)
                if btype != 6 or blen & 3 or pos + blen > n or ifid >= nif or cap + 32 > blen:
                    break
                lt, res, off = ifaces[ifid]
                append((((hi << 32) | lo) * res + off, lt, view, pos + 28, cap, orig))
                pos += blen
                if len(batch) >= BATCH:
                    break
            if len(batch) > start:
                self._packets += len(batch) - start
                b.pos = pos
                if len(batch) >= BATCH or n - pos < 65536 + 32:
                    self._read = b.offset
                    yield FrameBlock(batch)
                    batch = []
                continue
            if not b.refill(12):
                if b.end - b.pos:
                    if batch:
                        yield FrameBlock(batch)
                    raise self._truncated(b.offset, "truncated block header")
                break
            btype_raw = bytes(b.view[b.pos : b.pos + 4])
            if btype_raw == PCAPNG_SHB:
                bom = bytes(b.view[b.pos + 8 : b.pos + 12])
                if bom == b"\x4d\x3c\x2b\x1a":
                    e = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    e = ">"
                else:
                    if batch:
                        yield FrameBlock(batch)
                    raise self._truncated(b.offset, "bad pcapng byte-order magic")
                ifaces.clear()
            btype, blen = struct.unpack_from(e + "II", b.view, b.pos)
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                if batch:
                    yield FrameBlock(batch)
                raise self._truncated(b.offset, f"impossible block length {blen}")
            if b.end - b.pos < blen and batch:
                yield FrameBlock(batch)  # before the refill overwrites the bytes its views show
                batch = []
            if not b.refill(blen):
                raise self._truncated(b.offset)
            body = b.pos + 8
            end = b.pos + blen - 4
            if btype == 6:  # Enhanced Packet Block
                ifid, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", b.view, body)
                if ifid >= len(ifaces) or body + 20 + cap > end:
                    if batch:
                        yield FrameBlock(batch)
                    raise self._truncated(
                        b.offset, "packet block for unknown interface or overlong"
                    )
                lt, res, off = ifaces[ifid]
                ts = ((hi << 32) | lo) * res + off
                batch.append((ts, lt, b.view, body + 20, cap, orig))
                self._packets += 1
            elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                (orig,) = struct.unpack_from(e + "I", b.view, body)
                if not ifaces:
                    if batch:
                        yield FrameBlock(batch)
                    raise self._truncated(b.offset, "simple packet block before any interface")
                lt, _res, _off = ifaces[0]
                cap = min(orig, end - body - 4)
                batch.append((0.0, lt, b.view, body + 4, cap, orig))
                self._packets += 1
            elif btype == 2:  # obsolete Packet Block
                ifid, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", b.view, body)
                if ifid >= len(ifaces) or body + 20 + cap > end:
                    if batch:
                        yield FrameBlock(batch)
                    raise self._truncated(
                        b.offset, "packet block for unknown interface or overlong"
                    )
                lt, res, off = ifaces[ifid]
                ts = ((hi << 32) | lo) * res + off
                batch.append((ts, lt, b.view, body + 20, cap, orig))
                self._packets += 1
            elif btype == 1:  # Interface Description Block
                lt, _r, _snap = struct.unpack_from(e + "HHI", b.view, body)
                res, off = _idb_options(b.view, body + 8, end, e)
                ifaces.append((lt, res, off))
                if self.linktype < 0:
                    self.linktype = lt
            b.pos += blen
            if len(batch) >= BATCH or b.end - b.pos < 65536 + 32:
                self._read = b.offset
                if batch:
                    yield FrameBlock(batch)
                    batch = []
        self._read = b.offset
        if batch:
            yield FrameBlock(batch)


def _idb_options(view: memoryview, pos: int, end: int, e: str) -> tuple[float, float]:
    """``if_tsresol`` (code 9) and ``if_tsoffset`` (code 14) of an IDB."""
    res, off = 1e-6, 0.0
    while pos + 4 <= end:
        code, length = struct.unpack_from(e + "HH", view, pos)
        if code == 0:
            break
        val = pos + 4
        if val + length > end:
            break
        if code == 9 and length >= 1:
            r = view[val]
            res = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
        elif code == 14 and length >= 8:
            (o,) = struct.unpack_from(e + "q", view, val)
            off = float(o)
        pos = val + ((length + 3) & ~3)
    return res, off
