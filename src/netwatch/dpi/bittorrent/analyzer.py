"""BitTorrent analyzer: the peer wire protocol over TCP or uTP, the Mainline DHT and the
UDP tracker protocol.

One flow is one of four kinds, fixed by its first payload:

* ``tcp``: a peer connection (BEP 3 handshake, BEP 10 extension handshake);
* ``utp``: the same peer protocol carried in uTP (BEP 29) datagrams;
* ``dht``: KRPC queries and answers (BEP 5);
* ``tracker``: a UDP tracker exchange (BEP 15: connect, announce, scrape).

Detection is by content: the ``\\x13BitTorrent protocol`` handshake, a uTP SYN (or a uTP
data packet carrying the handshake), a bencoded KRPC dictionary, or a tracker connect
request with its magic. Clients send DHT and uTP from one UDP socket, so a ``utp`` or
``dht`` flow takes datagrams of the other kind too. uTP payloads are fed to the peer
parser in arrival order, duplicates (same seq_nr) dropped; a reordered packet ends what
that direction can tell (as a TCP gap would).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netwatch.dpi.base import AnalyzerBase, AppEvent, Dir
from netwatch.dpi.bittorrent.bencode import PROTO
from netwatch.dpi.bittorrent.clients import client_of
from netwatch.dpi.bittorrent.dht import looks_like_krpc, parse_krpc
from netwatch.dpi.bittorrent.peer import HANDSHAKE_PREFIX, PeerSide
from netwatch.dpi.bittorrent.tracker import (
    detect_announce,
    detect_connect,
    parse_request,
    parse_response,
)
from netwatch.dpi.bittorrent.utp import (
    HEADER_LEN,
    ST_DATA,
    TYPE_NAMES,
    detect_utp_syn,
    parse_utp,
)
from netwatch.errors import MalformedError

MAX_LIST = 16
#: after this many datagrams a DHT or uTP flow with nothing new is only counted
MAX_DATAGRAMS = 256


@dataclass(frozen=True, slots=True)
class PeerHandshake(AppEvent):
    """One side's peer-wire handshake (hex info hash and peer id, BEP 20 client name)."""

    direction: Dir
    info_hash: str
    peer_id: str
    client: str | None


@dataclass(frozen=True, slots=True)
class TrackerAnnounce(AppEvent):
    """A UDP tracker announce request."""

    info_hash: str
    event: str | None


def detect_tcp(data: bytes) -> bool:
    return data[:20] == HANDSHAKE_PREFIX[: len(data[:20])] and len(data) >= 20


def _utp_handshake(data: bytes) -> bool:
    if len(data) < HEADER_LEN + 20 or data[0] != 0x01:
        return False
    try:
        ptype, _, _, payload = parse_utp(data)
    except MalformedError:
        return False
    return ptype == ST_DATA and payload[:20] == HANDSHAKE_PREFIX


def detect_udp(data: bytes) -> bool:
    if looks_like_krpc(data):
        try:
            parse_krpc(data)
        except MalformedError:
            return False
        return True
    if detect_connect(data) or detect_announce(data):
        return True
    return detect_utp_syn(data) or _utp_handshake(data)


def _udp_kind(data: bytes) -> str:
    if detect_connect(data) or detect_announce(data):
        return "tracker"
    return "dht" if data[:1] == b"d" else "utp"


def _add(items: list[str], value: str) -> None:
    if value not in items and len(items) < MAX_LIST:
        items.append(value)


class BitTorrentAnalyzer(AnalyzerBase):
    protocol = PROTO

    def __init__(self, transport: str = "tcp") -> None:
        self._kind: str | None = "tcp" if transport == "tcp" else None
        self._peers = (PeerSide(), PeerSide())
        self._datagrams = 0
        # DHT
        self._queries: list[str] = []
        self._node_ids: list[str] = []
        self._dht_hashes: list[str] = []
        self._errors: list[dict[str, Any]] = []
        self._versions: list[str] = []
        self._counts = {"q": 0, "r": 0, "e": 0}
        # uTP
        self._utp_conn: int | None = None
        self._utp_types: list[str] = []
        self._utp_seen: tuple[set[int], set[int]] = (set(), set())
        self._utp_next: list[int | None] = [None, None]
        # UDP tracker
        self._actions: list[str] = []
        self._tracker: dict[str, Any] = {}

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        peer = self._peers[direction]
        had_handshake = peer.peer_id is not None
        if self._kind == "tcp":
            peer.feed(data)
        else:
            self._datagrams += 1
            if self._kind is None:
                self._kind = _udp_kind(data)
            if self._kind == "tracker":
                return self._track(direction, data, ts)
            if data[:1] == b"d" and looks_like_krpc(data):
                self._krpc(data)
            else:
                self._utp(direction, data)
        if had_handshake or peer.peer_id is None or peer.info_hash is None:
            return ()
        pid = peer.peer_id
        return (PeerHandshake(ts, direction, peer.info_hash.hex(), pid.hex(), client_of(pid)),)

    def _track(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        t = self._tracker
        if direction == Dir.CLIENT:
            msg = parse_request(data)
            _add(self._actions, msg.action)
            if msg.peer_id is not None:
                t.setdefault("peer_id", msg.peer_id)
            if msg.port:
                t["port"] = msg.port
            if msg.info_hash is None:
                return ()
            t.setdefault("info_hash", msg.info_hash)
            if msg.event is None:
                return ()
            t["event"] = msg.event
            return (TrackerAnnounce(ts, msg.info_hash.hex(), msg.event),)
        msg = parse_response(data)
        _add(self._actions, msg.action)
        if msg.action == "announce" and msg.seeders is not None:
            t.update(seeders=msg.seeders, leechers=msg.leechers, peers=msg.peers)
        elif msg.error is not None:
            t["error"] = msg.error
        return ()

    def _krpc(self, data: bytes) -> None:
        msg = parse_krpc(data)
        self._counts[msg.kind] += 1
        if msg.kind == "q" and msg.method:
            _add(self._queries, msg.method)
        if msg.node_id is not None:
            _add(self._node_ids, msg.node_id.hex())
        if msg.info_hash is not None:
            _add(self._dht_hashes, msg.info_hash.hex())
        if msg.version:
            _add(self._versions, msg.version)
        if msg.error is not None and len(self._errors) < MAX_LIST:
            self._errors.append({"code": msg.error[0], "message": msg.error[1]})

    def _utp(self, direction: Dir, data: bytes) -> None:
        ptype, conn, seq, payload = parse_utp(data)
        if self._utp_conn is None:
            self._utp_conn = conn
        _add(self._utp_types, TYPE_NAMES[ptype])
        if ptype != ST_DATA or not payload:
            return
        seen = self._utp_seen[direction]
        if seq in seen:
            return  # a retransmission
        if len(seen) < 1024:
            seen.add(seq)
        expect = self._utp_next[direction]
        if expect is not None and seq != expect:
            self._peers[direction].lost = True  # reordered or lost: stream framing gone
        self._utp_next[direction] = (seq + 1) & 0xFFFF
        self._peers[direction].feed(payload)

    def gap(self, direction: Dir, length: int) -> None:
        self._peers[direction].lost = True

    @property
    def buffered(self) -> int:
        client, server = self._peers
        return len(client.buf) + len(server.buf)

    @property
    def finished(self) -> bool:
        if self._kind == "tcp" or self._kind == "utp":
            c, s = self._peers
            return c.done and s.done
        return self._datagrams >= MAX_DATAGRAMS

    def record(self) -> dict[str, Any]:
        c, s = self._peers
        t = self._tracker
        info = next((p.info_hash for p in (c, s) if p.info_hash), None) or t.get("info_hash")
        ids = [p.peer_id for p in (c, s) if p.peer_id is not None]
        if not ids and t.get("peer_id") is not None:
            ids = [t["peer_id"]]
        clients = [client_of(i) for i in ids]
        ext = sorted(set(c.extensions) | set(s.extensions))[:32]
        messages: dict[str, int] = {}
        for p in (c, s):
            for k, v in p.messages.items():
                messages[k] = messages.get(k, 0) + v
        return {
            "kind": self._kind,
            "info_hash": info.hex() if info else None,
            "peer_ids": [i.hex() for i in ids],
            "clients": [x for x in clients if x],
            "client_names": [p.client_name for p in (c, s) if p.client_name],
            "extensions": ext,
            "listen_ports": [p.listen_port for p in (c, s) if p.listen_port],
            "messages": messages,
            "dht_queries": list(self._queries),
            "dht_node_ids": list(self._node_ids),
            "dht_info_hashes": list(self._dht_hashes),
            "dht_versions": list(self._versions),
            "dht_errors": [dict(e) for e in self._errors],
            "dht_messages": dict(self._counts) if any(self._counts.values()) else {},
            "utp_connection_id": self._utp_conn,
            "utp_types": list(self._utp_types),
            "tracker_actions": list(self._actions),
            "tracker_event": t.get("event"),
            "tracker_port": t.get("port"),
            "tracker_seeders": t.get("seeders"),
            "tracker_leechers": t.get("leechers"),
            "tracker_peers": t.get("peers"),
            "tracker_error": t.get("error"),
        }

    def summary(self) -> str:
        if self._kind == "dht":
            return "BitTorrent DHT " + ",".join(self._queries[:3])
        c, s = self._peers
        info = next((p.info_hash for p in (c, s) if p.info_hash), None)
        if self._kind == "tracker":
            info = self._tracker.get("info_hash")
            text = "BitTorrent tracker " + ",".join(self._actions[1:2] or self._actions[:1])
            return f"{text} {info.hex()[:16]}" if info else text
        text = "BitTorrent" + (" uTP" if self._kind == "utp" else "")
        if info:
            text += f" {info.hex()[:16]}"
        name = s.client_name or (client_of(s.peer_id) if s.peer_id else None)
        return f"{text} ({name})" if name else text
