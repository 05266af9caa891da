"""Reading stored packets back through the index: one session, or every match, as a file.

:func:`export_packets` takes the ``(run, conn)`` pairs of the selected connections (the
store's filter and time range chose them), looks up their packets' block offsets in
``packet_index``, and copies those blocks, in capture order (file by file, offset by
offset), into a pcapng file (each packet keeps its comment; interfaces are renumbered, one
per link type) or a classic pcap (one link type only: pcap has one per file). Nothing is
scanned: each packet is one seek and one read.

:func:`search_payloads` (``export --payload REGEX``) reads the candidates' packets and
keeps the connections whose transport payload matches, within a byte budget.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from netwatch import __version__
from netwatch.decode.packet import decode
from netwatch.errors import DecodeError, MalformedError, UsageError
from netwatch.store.db import connect
from netwatch.store.packets import offsets_of
from netwatch.store.pcapng import (
    EPB_TYPE,
    StoredPacket,
    interface_block,
    pcap_header,
    pcap_record,
    read_packet_at,
    section_header,
    with_interface,
)

PacketFormat = Literal["pcap", "pcapng"]
#: Bytes of stored packets a payload search reads at most, unless told otherwise.
PAYLOAD_BUDGET = 256 * 1024 * 1024


@dataclass
class ExportCounts:
    packets: int = 0
    connections: int = 0
    #: Index entries whose file is gone (retention) or damaged: skipped, counted.
    missing: int = 0
    per_conn: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _File:
    name: str
    linktypes: tuple[int, ...]


def _files(db: sqlite3.Connection) -> dict[int, _File]:
    out = {}
    for fid, name, lts in db.execute("SELECT id, name, linktypes FROM packet_files"):
        out[int(fid)] = _File(str(name), tuple(int(x) for x in str(lts).split(",") if x))
    return out


def locations(
    db: sqlite3.Connection, pairs: Iterable[tuple[int, int]] | None
) -> list[tuple[int, int, int, int]]:
    """``(file, offset, run, conn)`` of the packets of ``pairs`` (None: every indexed
    packet), in capture order."""
    if pairs is None:
        cur = db.execute("SELECT run, conn, file, offsets FROM packet_index")
    else:
        db.execute("CREATE TEMP TABLE IF NOT EXISTS export_sel (run INTEGER, conn INTEGER)")
        db.execute("DELETE FROM temp.export_sel")
        db.executemany("INSERT INTO temp.export_sel VALUES (?, ?)", pairs)
        cur = db.execute(
            "SELECT p.run, p.conn, p.file, p.offsets FROM temp.export_sel s "
            "JOIN packet_index p ON p.run = s.run AND p.conn = s.conn"
        )
    out: list[tuple[int, int, int, int]] = []
    for run, conn, fid, blob in cur:
        out.extend((int(fid), off, int(run), int(conn)) for off in offsets_of(blob))
    out.sort()
    return out


def _open_store(directory: Path, pairs: Iterable[tuple[int, int]] | None) -> _Selection:
    db = connect(directory, create=False)
    try:
        return _Selection(directory, _files(db), locations(db, pairs))
    finally:
        db.close()


@dataclass
class _Selection:
    """The selected packets' locations, read back file by file (one handle open at once)."""

    directory: Path
    files: dict[int, _File]
    locs: list[tuple[int, int, int, int]]
    #: Index entries whose file is gone or whose block does not read back.
    missing: int = 0

    def read(self, *, header_only: bool = False) -> Iterator[tuple[int, int, int, StoredPacket]]:
        """``(run, conn, linktype, packet)`` in capture order; ``header_only``: the
        packet's data and block are left empty (a 12-byte read: the interface only)."""
        self.missing = 0
        fh: BinaryIO | None = None
        current = -1
        try:
            for fid, off, run, conn in self.locs:
                f = self.files.get(fid)
                if fid != current:
                    if fh is not None:
                        fh.close()
                    fh, current = None, fid
                    if f is not None:
                        with contextlib.suppress(OSError):
                            fh = open(self.directory / f.name, "rb")  # noqa: SIM115
                if f is None or fh is None:
                    self.missing += 1
                    continue
                try:
                    p = _header_at(fh, off) if header_only else read_packet_at(fh, off)
                except MalformedError:
                    self.missing += 1
                    continue
                if p.interface >= len(f.linktypes):
                    self.missing += 1
                    continue
                yield run, conn, f.linktypes[p.interface], p
        finally:
            if fh is not None:
                fh.close()


def _header_at(fh: BinaryIO, offset: int) -> StoredPacket:
    fh.seek(offset)
    head = fh.read(12)
    if len(head) < 12 or int.from_bytes(head[:4], "little") != EPB_TYPE:
        raise MalformedError("pcapng", f"no packet block at offset {offset}")
    return StoredPacket(int.from_bytes(head[8:12], "little"), 0, b"", 0, "", b"")


def export_packets(
    directory: str | Path,
    pairs: Iterable[tuple[int, int]] | None,
    out: BinaryIO,
    fmt: PacketFormat = "pcapng",
) -> ExportCounts:
    """Write the packets of ``pairs`` (``(run, conn)``; None: all) to ``out``.

    pcapng gets an interface per link type, written before the first packet of that type
    (section 4.2 allows IDBs after packet blocks); pcap needs the one link type first, so
    a first pass reads each block's interface id (12 bytes) and refuses a mix."""
    sel = _open_store(Path(directory), pairs)
    counts = ExportCounts()
    if fmt == "pcap":
        used = sorted({lt for _, _, lt, _ in sel.read(header_only=True)})
        if len(used) > 1:
            raise UsageError(
                f"the selected packets have {len(used)} link types ({', '.join(map(str, used))}); "
                "pcap holds one: use --format pcapng"
            )
        out.write(pcap_header(used[0] if used else 1))
    else:
        out.write(section_header(f"netwatch {__version__} export"))
    new_if: dict[int, int] = {}
    for run, conn, lt, p in sel.read():
        if fmt == "pcap":
            out.write(pcap_record(p))
        else:
            i = new_if.get(lt)
            if i is None:
                i = new_if[lt] = len(new_if)
                out.write(interface_block(lt))
            out.write(with_interface(p.block, i))
        counts.packets += 1
        key = (run, conn)
        counts.per_conn[key] = counts.per_conn.get(key, 0) + 1
    if fmt == "pcapng" and not new_if:
        out.write(interface_block(1))  # an empty export still has an interface: readers expect one
    counts.missing = sel.missing
    counts.connections = len(counts.per_conn)
    return counts


@dataclass
class PayloadSearch:
    """What :func:`search_payloads` found: the matching ``(run, conn)``, what it read."""

    matched: set[tuple[int, int]] = field(default_factory=set)
    scanned_bytes: int = 0
    #: The byte budget ran out before every candidate packet was read.
    truncated: bool = False


def search_payloads(
    directory: str | Path,
    pairs: Iterable[tuple[int, int]] | None,
    pattern: re.Pattern[bytes],
    budget: int = PAYLOAD_BUDGET,
) -> PayloadSearch:
    """The connections among ``pairs`` (None: all) with a stored packet whose transport
    payload ``pattern`` matches (each packet on its own: a match across two segments is not
    found). Reads at most ``budget`` bytes of packets, then stops and says so."""
    sel = _open_store(Path(directory), pairs)
    found = PayloadSearch()
    for run, conn, lt, p in sel.read():
        if (run, conn) in found.matched:
            continue  # matched already: its other packets need no search
        if found.scanned_bytes >= budget:
            found.truncated = True
            break
        found.scanned_bytes += len(p.data)
        if pattern.search(_payload(lt, p.data)):
            found.matched.add((run, conn))
    return found


def _payload(linktype: int, data: bytes) -> bytes:
    """The transport payload of a frame; the whole frame when it does not decode."""
    try:
        return bytes(decode(linktype, data).payload)
    except DecodeError:
        return data
