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

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from netwatch import __version__
from netwatch.decode.packet import decode
from netwatch.errors import DecodeError, MalformedError, UsageError
from netwatch.store.db import connect
from netwatch.store.packets import offsets_of
from netwatch.store.pcapng import (
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


def export_packets(
    directory: str | Path,
    pairs: Iterable[tuple[int, int]] | None,
    out: BinaryIO,
    fmt: PacketFormat = "pcapng",
) -> ExportCounts:
    """Write the packets of ``pairs`` (``(run, conn)``; None: all) to ``out``."""
    directory = Path(directory)
    db = connect(directory, create=False)
    try:
        files = _files(db)
        locs = locations(db, pairs)
    finally:
        db.close()
    used = sorted({lt for fid, *_ in locs if fid in files for lt in files[fid].linktypes})
    # An empty export still gets an interface (Ethernet): readers expect one.
    used = used or [1]
    if fmt == "pcap":
        if len(used) > 1:
            raise UsageError(
                f"the selected packets have {len(used)} link types ({', '.join(map(str, used))}); "
                "pcap holds one: use --format pcapng"
            )
        out.write(pcap_header(used[0]))
    else:
        out.write(section_header(f"netwatch {__version__} export"))
        for lt in used:
            out.write(interface_block(lt))
    new_if = {lt: i for i, lt in enumerate(used)}
    counts = ExportCounts()
    fh: BinaryIO | None = None
    current = -1
    try:
        for fid, off, run, conn in locs:
            f = files.get(fid)
            if f is None:
                counts.missing += 1
                continue
            if fid != current:
                if fh is not None:
                    fh.close()
                fh, current = None, fid
                try:
                    fh = open(directory / f.name, "rb")  # noqa: SIM115 - closed below
                except OSError:
                    pass
            if fh is None:
                counts.missing += 1
                continue
            try:
                p = read_packet_at(fh, off)
            except MalformedError:
                counts.missing += 1
                continue
            if p.interface >= len(f.linktypes):
                counts.missing += 1
                continue
            lt = f.linktypes[p.interface]
            if fmt == "pcap":
                out.write(pcap_record(p))
            else:
                out.write(with_interface(p.block, new_if[lt]))
            counts.packets += 1
            key = (run, conn)
            counts.per_conn[key] = counts.per_conn.get(key, 0) + 1
    finally:
        if fh is not None:
            fh.close()
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
    directory = Path(directory)
    db = connect(directory, create=False)
    try:
        files = _files(db)
        locs = locations(db, pairs)
    finally:
        db.close()
    found = PayloadSearch()
    fh: BinaryIO | None = None
    current = -1
    try:
        for fid, off, run, conn in locs:
            if (run, conn) in found.matched or fid not in files:
                continue
            if found.scanned_bytes >= budget:
                found.truncated = True
                break
            if fid != current:
                if fh is not None:
                    fh.close()
                fh, current = None, fid
                try:
                    fh = open(directory / files[fid].name, "rb")  # noqa: SIM115 - closed below
                except OSError:
                    continue
            if fh is None:
                continue
            try:
                p = read_packet_at(fh, off)
            except MalformedError:
                continue
            found.scanned_bytes += len(p.data)
            lts = files[fid].linktypes
            if p.interface < len(lts) and pattern.search(_payload(lts[p.interface], p.data)):
                found.matched.add((run, conn))
    finally:
        if fh is not None:
            fh.close()
    return found


def _payload(linktype: int, data: bytes) -> bytes:
    """The transport payload of a frame; the whole frame when it does not decode."""
    try:
        return bytes(decode(linktype, data).payload)
    except DecodeError:
        return data
