"""Peer-id conventions (BEP 20): which client a 20-byte peer id names.

Azureus style, the common one: ``-`` two letters, four version characters, ``-``, then
random bytes (``-UT3450-...`` = uTorrent 3.4.5.0). Mainline style: one letter and a
dotted version ended by dashes (``M4-3-6--...``). The table is data; add rows freely.
"""

from __future__ import annotations

# fmt: off
AZUREUS_CLIENTS: dict[bytes, str] = {
    b"AG": "Ares", b"AZ": "Vuze", b"BB": "BitBuddy", b"BC": "BitComet", b"BF": "Bitflu",
    b"BG": "BTG", b"BI": "BiglyBT", b"BL": "BitBlinder", b"BT": "BitTorrent",
    b"BW": "BitWombat", b"CD": "Enhanced CTorrent", b"DE": "Deluge", b"FD": "Free Download Manager",
    b"FW": "FrostWire", b"HL": "Halite", b"KG": "KGet", b"KT": "KTorrent", b"LT": "libtorrent",
    b"lt": "libtorrent (Rakshasa)", b"LW": "LimeWire", b"MG": "MediaGet", b"PI": "PicoTorrent",
    b"qB": "qBittorrent", b"RT": "Retriever", b"SD": "Thunder", b"TB": "Torch",
    b"TL": "Tribler", b"TR": "Transmission", b"TT": "TuoTu", b"UE": "uTorrent Embedded",
    b"UL": "uLeecher", b"UM": "uTorrent Mac", b"UT": "uTorrent", b"UW": "uTorrent Web",
    b"WD": "WebTorrent Desktop", b"WW": "WebTorrent", b"XL": "Xunlei", b"XX": "Xtorrent",
    b"ZT": "ZipTorrent", b"AR": "Arctic", b"AX": "BitPump", b"BR": "BitRocket",
    b"BS": "BTSlave", b"EB": "EBit", b"ES": "electric sheep", b"HN": "Hydranode",
    b"MP": "MooPolice", b"MT": "MoonlightTorrent", b"PD": "Pando", b"QD": "QQDownload",
    b"RZ": "RezTorrent", b"SZ": "Shareaza", b"TN": "TorrentDotNET", b"TS": "Torrentstorm",
    b"UL_": "uLeecher", b"VG": "Vagaa", b"XT": "XanTorrent",
}
MAINLINE_CLIENTS: dict[bytes, str] = {b"M": "BitTorrent (mainline)", b"Q": "Queen Bee"}
# fmt: on


def client_of(peer_id: bytes) -> str | None:
    """A readable client name and version for a peer id, or None if the style is unknown."""
    if len(peer_id) != 20:
        return None
    if peer_id[0:1] == b"-" and peer_id[7:8] == b"-":
        name = AZUREUS_CLIENTS.get(peer_id[1:3])
        ver = peer_id[3:7]
        if name is None or not ver.isascii() or not ver.isalnum():
            return None
        digits = ".".join(str(int(chr(c), 36)) for c in ver.rstrip(b"0") or b"0")
        return f"{name} {digits}"
    name = MAINLINE_CLIENTS.get(peer_id[0:1])
    if name is not None:
        head = peer_id[1:8].split(b"--", 1)[0]
        parts = head.split(b"-")
        if parts and all(p.isdigit() for p in parts):
            return f"{name} {'.'.join(p.decode() for p in parts)}"
    return None
