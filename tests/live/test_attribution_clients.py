"""The client programs the live attribution tests run, and a packet tap that learns their
5-tuples the way the engine would (from the wire, not from the programs).

Each long-lived client prints ``ok`` once its socket is set up, then blocks on stdin.
(No tests here: the helpers of ``test_attribution.py``, named to sit beside it.)
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

LONG_NAME = "netwatch-thirty-char-name-proc"  # 30 characters; comm keeps 15
assert len(LONG_NAME) == 30

HOLD_TCP = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"hello")
print("ok", flush=True)
sys.stdin.read()
"""

UDP_SENDTO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))  # no connect()
print("ok", flush=True)
sys.stdin.read()
"""

THREADED = """
import ctypes, socket, sys, threading
done = threading.Event()
held = []
def worker():
    # name the thread the way browsers do: the owner must still be the process
    ctypes.CDLL(None).prctl(15, b"Socket Thread", 0, 0, 0)  # PR_SET_NAME
    held.append(socket.create_connection((sys.argv[1], int(sys.argv[2]))))
    done.set()
    threading.Event().wait()
threading.Thread(target=worker, daemon=True).start()
done.wait()
print("ok", flush=True)
sys.stdin.read()
"""

# The server side of the namespace: accepts and holds TCP on every port given, drains UDP.
SINK = """
import socket, sys, threading
def hold(c):
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
def tcp(port):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", port)); s.listen(64)
    ready.release()
    while True:
        c, _ = s.accept(); threading.Thread(target=hold, args=(c,), daemon=True).start()
def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", port))
    ready.release()
    while True:
        s.recv(4096)
ready = threading.Semaphore(0)
specs = [a.split("/") for a in sys.argv[1:]]
for proto, port in specs:
    threading.Thread(target=tcp if proto == "tcp" else udp, args=(int(port),), daemon=True).start()
for _ in specs:
    ready.acquire()
print("ok", flush=True)
sys.stdin.read()
"""

# A listening server in the root namespace: the process an accepted connection belongs to.
LISTENER = """
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
print("ok", flush=True)
c, _ = s.accept()
sys.stdin.read()
"""

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


@dataclass
class Tap:
    """Outgoing TCP/UDP 5-tuples seen on one interface (AF_PACKET, root namespace)."""

    ifname: str
    flows: set[tuple[str, tuple[str, int], tuple[str, int]]] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((self.ifname, 0))
        sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    frame, addr = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                if addr[2] == PACKET_OUTGOING:
                    flow = parse_frame(frame)
                    if flow is not None:
                        self.flows.add(flow)

    def find(self, proto: str, *, dport: int = 0, sport: int = 0
             ) -> list[tuple[tuple[str, int], tuple[str, int]]]:  # fmt: skip
        return sorted(
            (local, remote)
            for p, local, remote in self.flows
            if p == proto and (not dport or remote[1] == dport) and (not sport or local[1] == sport)
        )


def parse_frame(frame: bytes) -> tuple[str, tuple[str, int], tuple[str, int]] | None:
    """(proto, (src, sport), (dst, dport)) of an Ethernet IPv4/IPv6 TCP SYN or UDP frame."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800 and len(frame) >= 34:
        ihl = (frame[14] & 0x0F) * 4
        proto, src, dst = frame[23], socket.inet_ntop(socket.AF_INET, frame[26:30]), \
            socket.inet_ntop(socket.AF_INET, frame[30:34])  # fmt: skip
        l4 = 14 + ihl
    elif ethertype == 0x86DD and len(frame) >= 54:
        proto = frame[20]
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
        l4 = 54
    else:
        return None
    if proto not in (6, 17) or len(frame) < l4 + (14 if proto == 6 else 4):
        return None
    if proto == 6 and not frame[l4 + 13] & 0x02:
        return None  # only connections opened while the tap runs: SYN or SYN-ACK
    sport, dport = struct.unpack_from("!HH", frame, l4)
    return ("tcp" if proto == 6 else "udp", (src, sport), (dst, dport))
