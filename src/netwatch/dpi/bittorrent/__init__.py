"""BitTorrent: peer wire (BEP 3/10) over TCP and uTP (BEP 29), Mainline DHT (BEP 5), UDP
trackers (BEP 15)."""

from netwatch.dpi.bittorrent.analyzer import BitTorrentAnalyzer, detect_tcp, detect_udp

__all__ = ["BitTorrentAnalyzer", "detect_tcp", "detect_udp"]
