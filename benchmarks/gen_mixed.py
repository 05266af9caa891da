"""Generate a realistic mixed capture (~1M packets by default) for the benchmarks.

Flows, IPv4 and IPv6 (benchmarking and unique-local addresses only):
* HTTPS: TCP handshake, a real-shaped TLS 1.3 ClientHello (SNI, ALPN, key share), a
  ServerHello + ChangeCipherSpec, then encrypted application-data records both ways, FIN.
* HTTP/1.1: keep-alive requests and responses.
* SSH: banners, KEXINIT both ways, then encrypted packets.
* DNS over UDP: query/response pairs with A/AAAA answers.
* QUIC: real client Initial datagrams made by aioquic (encrypted, with SNI), then
  short-header packets both ways.
* A tail of one-packet UDP flows (scans, NTP-like noise).
Most packets belong to bulk transfers after the handshake, as on a real link: that is what
lets an analyzer detach. Deterministic (seeded). Usage:

    python benchmarks/gen_mixed.py OUT.pcap [--packets N]
"""

from __future__ import annotations

import argparse
import heapq
import random
import struct
import sys
from pathlib import Path

ETH_V4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
ETH_V6 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x86\xdd"
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def ip4(i: int) -> bytes:
    return bytes([198, 18 + (i >> 16 & 1), i >> 8 & 255, i & 255])


def ip6(i: int) -> bytes:
    return b"\xfd\x00\x6e\x77" + b"\x00" * 8 + struct.pack("!I", i)


class Writer:
    """Writes packets in timestamp order: flows overlap in time as on a real link.

    Packets wait in a heap until no flow still to be generated can precede them (every
    new flow starts at or after ``horizon``).
    """

    def __init__(self, path: Path) -> None:
        self.f = path.open("wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.n = 0
        self.buf: list[bytes] = []
        self.heap: list[tuple[float, int, bytes]] = []

    def pkt(self, ts: float, frame: bytes) -> None:
        heapq.heappush(self.heap, (ts, self.n, frame))
        self.n += 1

    def release(self, horizon: float) -> None:
        while self.heap and self.heap[0][0] < horizon:
            ts, _, frame = heapq.heappop(self.heap)
            self._emit(ts, frame)

    def _emit(self, ts: float, frame: bytes) -> None:
        sec = int(ts)
        self.buf.append(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
        self.buf.append(frame)
        if len(self.buf) > 20000:
            self.flush()

    def flush(self) -> None:
        self.f.write(b"".join(self.buf))
        self.buf.clear()

    def close(self) -> None:
        self.release(float("inf"))
        self.flush()
        self.f.close()


def l3(src: bytes, dst: bytes, proto: int, l4: bytes) -> bytes:
    if len(src) == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst)
        return ETH_V4 + hdr + l4
    return ETH_V6 + struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, src, dst) + l4


def tcp(
    src: bytes, sp: int, dst: bytes, dp: int, seq: int, ack: int, flags: int, data: bytes = b""
) -> bytes:
    return l3(
        src,
        dst,
        6,
        struct.pack(
            "!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0
        )
        + data,
    )


def udp(src: bytes, sp: int, dst: bytes, dp: int, data: bytes) -> bytes:
    return l3(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data)


def _ext(t: int, body: bytes) -> bytes:
    return struct.pack("!HH", t, len(body)) + body


def client_hello(sni: str, rnd: random.Random) -> bytes:
    name = sni.encode()
    exts = b"".join(
        [
            _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),
            _ext(10, struct.pack("!H", 6) + bytes.fromhex("001d00170018")),
            _ext(11, b"\x01\x00"),
            _ext(13, struct.pack("!H", 8) + bytes.fromhex("0403080404010201")),
            _ext(16, struct.pack("!H", 12) + b"\x02h2\x08http/1.1"),
            _ext(43, b"\x04\x03\x04\x03\x03"),
            _ext(45, b"\x01\x01"),
            _ext(51, struct.pack("!HHH", 36, 0x001D, 32) + rnd.randbytes(32)),
        ]
    )
    ciphers = bytes.fromhex("130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035")
    body = (
        b"\x03\x03"
        + rnd.randbytes(32)
        + b"\x20"
        + rnd.randbytes(32)
        + struct.pack("!H", len(ciphers))
        + ciphers
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello(rnd: random.Random) -> bytes:
    exts = _ext(43, b"\x03\x04") + _ext(51, struct.pack("!HH", 0x001D, 32) + rnd.randbytes(32))
    body = (
        b"\x03\x03"
        + rnd.randbytes(32)
        + b"\x20"
        + rnd.randbytes(32)
        + b"\x13\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


def app_data(n: int, rnd: random.Random) -> bytes:
    return b"\x17\x03\x03" + struct.pack("!H", n) + rnd.randbytes(n)


def dns_msg(qid: int, name: str, answer: bytes | None) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    if answer is None:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04" + answer
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + rr


class Gen:
    def __init__(self, w: Writer, seed: int = 7) -> None:
        self.w = w
        self.rnd = random.Random(seed)
        self.t = 1_700_000_000.0
        self.host = 0
        self.quic_sessions = self._quic_sessions()
        self.blob = self.rnd.randbytes(1500)

    def _quic_sessions(self) -> list[list[tuple[int, bytes]]]:
        """Real QUIC handshakes (aioquic client and server in memory), as datagram lists.

        Each item: (0 client→server | 1 server→client, datagram), handshake and a little
        1-RTT data; the flow generator then appends short-header bulk.
        """
        try:
            import aioquic  # noqa: F401 - a test dependency; without it, no QUIC flows
        except ImportError:
            return []
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.util import quic

        cert_key = quic.self_signed("bench.example")
        return [quic.handshake(f"cdn{i}.bench.example", cert_key) for i in range(24)]

    def addrs(self) -> tuple[bytes, bytes]:
        self.host += 1
        if self.rnd.random() < 0.3:
            return ip6(self.host), ip6(0x10000 + self.host % 500)
        return ip4(self.host % 60000 + 256), ip4(0x10000 + self.host % 500)

    def tcp_flow(self, dport: int, c_first: list[bytes], s_first: list[bytes], bulk: int) -> None:
        w, r = self.w, self.rnd
        c, s = self.addrs()
        cp = 20000 + r.randrange(40000)
        t = self.t
        cs, ss = r.getrandbits(32), r.getrandbits(32)
        rtt = r.uniform(0.001, 0.08)
        w.pkt(t, tcp(c, cp, s, dport, cs, 0, SYN))
        w.pkt(t + rtt, tcp(s, dport, c, cp, ss, cs + 1, SYN | ACK))
        t += rtt
        cs += 1
        ss += 1
        w.pkt(t + 1e-4, tcp(c, cp, s, dport, cs, ss, ACK))
        for data in c_first:
            t += 1e-4
            w.pkt(t, tcp(c, cp, s, dport, cs, ss, ACK | PSH, data))
            cs += len(data)
        for data in s_first:
            t += rtt
            w.pkt(t, tcp(s, dport, c, cp, ss, cs, ACK | PSH, data))
            ss += len(data)
        down = r.random() < 0.8
        for i in range(bulk):
            n = r.choice((1448, 1448, 1448, 600, 90))
            data = self.blob[:n]
            t += r.uniform(1e-5, 2e-3)
            if down:
                w.pkt(t, tcp(s, dport, c, cp, ss, cs, ACK, data))
                ss += n
                if i % 2:
                    w.pkt(t + 1e-5, tcp(c, cp, s, dport, cs, ss, ACK))
            else:
                w.pkt(t, tcp(c, cp, s, dport, cs, ss, ACK, data))
                cs += n
                if i % 2:
                    w.pkt(t + 1e-5, tcp(s, dport, c, cp, ss, cs, ACK))
        t += 1e-3
        w.pkt(t, tcp(c, cp, s, dport, cs, ss, FIN | ACK))
        w.pkt(t + rtt, tcp(s, dport, c, cp, ss, cs + 1, FIN | ACK))
        w.pkt(t + rtt + 1e-4, tcp(c, cp, s, dport, cs + 1, ss + 1, ACK))

    def https(self) -> None:
        r = self.rnd
        sni = f"www{r.randrange(2000)}.bench.example"
        bulk = int(r.paretovariate(1.2) * 20)
        self.tcp_flow(
            443, [client_hello(sni, r)], [server_hello(r), app_data(900, r)], min(bulk, 4000)
        )

    def http(self) -> None:
        r = self.rnd
        req = (
            f"GET /item/{r.randrange(10**6)} HTTP/1.1\r\nHost: api{r.randrange(50)}."
            "bench.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
        ).encode()
        body = r.randrange(100, 20000)
        resp = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body}\r\n\r\n"
        ).encode()
        self.tcp_flow(80, [req], [resp], body // 1448 + 1)

    def ssh(self) -> None:
        r = self.rnd
        lists = [
            b"curve25519-sha256,diffie-hellman-group14-sha256",
            b"ssh-ed25519,rsa-sha2-512",
            b"chacha20-poly1305@openssh.com,aes128-ctr",
            b"chacha20-poly1305@openssh.com,aes128-ctr",
            b"hmac-sha2-256,hmac-sha1",
            b"hmac-sha2-256,hmac-sha1",
            b"none",
            b"none",
            b"",
            b"",
        ]
        payload = (
            b"\x14"
            + r.randbytes(16)
            + b"".join(struct.pack("!I", len(x)) + x for x in lists)
            + b"\x00\x00\x00\x00\x00"
        )
        pad = 8 - (len(payload) + 5) % 8 + 8
        kex = struct.pack("!IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad
        newkeys = struct.pack("!IB", 12, 10) + b"\x15" + b"\x00" * 10
        self.tcp_flow(
            22,
            [b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", kex, newkeys],
            [b"SSH-2.0-OpenSSH_9.6\r\n", kex, newkeys],
            int(r.paretovariate(1.5) * 10),
        )

    def dns(self) -> None:
        r, w = self.rnd, self.w
        c, s = self.addrs()
        cp = 20000 + r.randrange(40000)
        name = f"host{r.randrange(5000)}.bench.example"
        qid = r.getrandbits(16)
        w.pkt(self.t, udp(c, cp, s, 53, dns_msg(qid, name, None)))
        w.pkt(self.t + 0.003, udp(s, 53, c, cp, dns_msg(qid, name, bytes([198, 19, 1, 1]))))

    def quic(self) -> None:
        r, w = self.rnd, self.w
        if not self.quic_sessions:
            return
        c, s = self.addrs()
        cp = 20000 + r.randrange(40000)
        t = self.t
        for direction, data in r.choice(self.quic_sessions):
            t += r.uniform(1e-4, 0.02)
            if direction == 0:
                w.pkt(t, udp(c, cp, s, 443, data))
            else:
                w.pkt(t, udp(s, 443, c, cp, data))
        for _ in range(int(r.paretovariate(1.3) * 15)):
            t += r.uniform(1e-4, 2e-3)
            n = r.choice((1200, 1200, 300, 60))
            w.pkt(t, udp(s, 443, c, cp, b"\x40" + self.blob[: n - 1]))
            if r.random() < 0.3:
                w.pkt(t + 1e-5, udp(c, cp, s, 443, b"\x40" + self.blob[:40]))

    def noise(self) -> None:
        c, s = self.addrs()
        self.w.pkt(
            self.t, udp(c, 40000 + self.rnd.randrange(20000), s, 123, b"\x23" + b"\x00" * 47)
        )

    def run(self, packets: int) -> None:
        kinds = [
            (self.https, 40),
            (self.http, 12),
            (self.ssh, 3),
            (self.dns, 25),
            (self.quic, 12),
            (self.noise, 8),
        ]
        funcs = [k for k, wgt in kinds for _ in range(wgt)]
        while self.w.n < packets:
            self.rnd.choice(funcs)()
            self.t += self.rnd.expovariate(400.0)
            self.w.release(self.t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    w = Writer(a.out)
    Gen(w, a.seed).run(a.packets)
    w.close()
    print(f"{a.out}: {w.n} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
