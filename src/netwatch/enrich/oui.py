"""MAC address → vendor: IEEE 802 organisationally unique identifiers (IEEE Std 802-2014 §8).

A 48-bit MAC's first 24 bits are an OUI (MA-L block); the IEEE also hands out 28-bit
(MA-M) and 36-bit (MA-S, and the older IAB) blocks inside OUIs it holds itself. The
first octet carries two flag bits (§8.2)::

    first octet  b7 b6 b5 b4 b3 b2 b1 b0
                                   |  +-- I/G: 1 = group (multicast) address
                                   +----- U/L: 1 = locally administered (random MACs,
                                                   VMs, containers): no vendor

Example: ``b8:27:eb:12:34:56`` → prefix ``B827EB`` → ``Raspberry Pi Foundation``;
``70:b3:d5:f2:f1:23`` is inside the MA-S block ``70B3D5F2F``.

The table is ``netwatch/data/oui.tsv.gz`` (built by ``scripts/update-oui.py`` from the IEEE
listings), read on first use and kept for the process (~46k prefixes, ~6 MB in memory).
The longest matching prefix wins: 36 bits, then 28, then 24.
"""

from __future__ import annotations

import gzip
import threading

from netwatch import datafiles

_LOCK = threading.Lock()
_TABLE: dict[str, str] | None = None
#: hex digits per block size, longest first (36, 28, 24 bits)
PREFIX_DIGITS = (9, 7, 6)
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def parse_table(text: str) -> dict[str, str]:
    """The TSV (``PREFIX<TAB>VENDOR`` lines, ``#`` comments) as a prefix → vendor dict."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        prefix, sep, vendor = line.partition("\t")
        if sep and len(prefix) in PREFIX_DIGITS and vendor:
            table[prefix.upper()] = vendor
    return table


def _table() -> dict[str, str]:
    global _TABLE  # noqa: PLW0603 - a load-once cache, guarded by _LOCK
    if _TABLE is None:
        with _LOCK:
            if _TABLE is None:
                raw = datafiles.read_bytes("oui.tsv.gz")
                _TABLE = parse_table(gzip.decompress(raw).decode("utf-8"))
    return _TABLE


def normalise(mac: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` / ``AA-BB-..`` / ``aabb.ccdd.eeff`` / bare hex → 12 upper hex
    digits, or None when it is not a 48-bit MAC."""
    digits = "".join(ch for ch in mac if ch not in ":-. ")
    if len(digits) != 12 or not _HEXDIGITS.issuperset(digits):
        return None
    return digits.upper()


def is_local(mac: str) -> bool:
    """Locally administered (U/L bit set): randomised or virtual, never in the IEEE table."""
    digits = normalise(mac)
    return digits is not None and bool(int(digits[:2], 16) & 0x02)


def vendor(mac: str) -> str | None:
    """The IEEE registrant of ``mac``'s block, or None (unknown, local, group or invalid)."""
    digits = normalise(mac)
    if digits is None:
        return None
    first = int(digits[:2], 16)
    if first & 0x03:  # group or locally administered: no registrant to name
        return None
    table = _table()
    for n in PREFIX_DIGITS:
        name = table.get(digits[:n])
        if name is not None:
            return name
    return None
