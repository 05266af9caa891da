"""DNS numbers the exports need back from the record's names (RFC 1035 §3.2.2, §4.1.1;
RFC 6895 registries; NetBIOS names per RFC 1001 §14.1).

The record keeps mnemonics (``AAAA``, ``NXDOMAIN``, header flags as a list); Zeek logs the
numbers next to names and Suricata logs the 16-bit header flags word in hex, e.g. a
recursive NOERROR answer ``qr rd ra`` is ``8180``.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Resource record type numbers by mnemonic; NB/NBSTAT are NetBIOS's reuse of 32/33.
QTYPE: dict[str, int] = {
    "A": 1, "NS": 2, "MD": 3, "MF": 4, "CNAME": 5, "SOA": 6, "MB": 7, "MG": 8, "MR": 9,
    "NULL": 10, "WKS": 11, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15, "TXT": 16,
    "RP": 17, "AFSDB": 18, "X25": 19, "ISDN": 20, "RT": 21, "NSAP": 22, "NSAP-PTR": 23,
    "SIG": 24, "KEY": 25, "PX": 26, "GPOS": 27, "AAAA": 28, "LOC": 29, "NXT": 30, "EID": 31,
    "NIMLOC": 32, "NB": 32, "SRV": 33, "NBSTAT": 33, "ATMA": 34, "NAPTR": 35, "KX": 36,
    "CERT": 37, "A6": 38, "DNAME": 39, "SINK": 40, "OPT": 41, "APL": 42, "DS": 43,
    "SSHFP": 44, "IPSECKEY": 45, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "DHCID": 49,
    "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52, "SMIMEA": 53, "HIP": 55, "CDS": 59,
    "CDNSKEY": 60, "OPENPGPKEY": 61, "CSYNC": 62, "ZONEMD": 63, "SVCB": 64, "HTTPS": 65,
    "SPF": 99, "TKEY": 249, "TSIG": 250, "IXFR": 251, "AXFR": 252, "MAILB": 253,
    "MAILA": 254, "ANY": 255, "URI": 256, "CAA": 257,
}  # fmt: skip

#: Zeek's ``qtype_name`` for a number where it differs from the mnemonic above.
ZEEK_QTYPE_NAME: dict[int, str] = {32: "NIMLOC", 33: "SRV", 255: "*"}

RCODE: dict[str, int] = {
    "NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5,
    "YXDOMAIN": 6, "YXRRSET": 7, "NXRRSET": 8, "NOTAUTH": 9, "NOTZONE": 10, "BADVERS": 16,
}  # fmt: skip

#: Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD).
FLAG_BITS: dict[str, int] = {"aa": 0x0400, "tc": 0x0200, "rd": 0x0100, "ra": 0x0080,
                             "ad": 0x0020, "cd": 0x0010}  # fmt: skip


def qtype_number(name: str) -> int | None:
    if name in QTYPE:
        return QTYPE[name]
    if name.startswith("TYPE") and name[4:].isdigit():
        return int(name[4:])
    return None


def zeek_qtype_name(number: int) -> str:
    if number in ZEEK_QTYPE_NAME:
        return ZEEK_QTYPE_NAME[number]
    for name, n in QTYPE.items():
        if n == number:
            return name
    return f"query-{number}"


def rcode_number(name: str | None) -> int | None:
    if name is None:
        return None
    if name in RCODE:
        return RCODE[name]
    if name.startswith("RCODE") and name[5:].isdigit():
        return int(name[5:])
    return None


def header_flags(flags: Iterable[str], rcode: int | None, *, response: bool) -> int:
    """The 16-bit flags word (opcode 0) from the record's flag names and rcode."""
    word = 0x8000 if response else 0
    for name in flags:
        word |= FLAG_BITS.get(name, 0)
    return word | ((rcode or 0) & 0xF)


def netbios_name(encoded: str) -> str | None:
    """RFC 1001 first-level decoding of a 32-letter NetBIOS name: the 15-byte name with its
    padding removed (the 16th byte, the service suffix, is dropped); None when ``encoded``
    is not such a name."""
    if len(encoded) != 32 or any(not "A" <= c <= "P" for c in encoded):
        return None
    raw = bytes(((ord(encoded[i]) - 65) << 4) | (ord(encoded[i + 1]) - 65) for i in range(0, 32, 2))
    return raw[:15].rstrip(b" \x00").decode("latin-1")
