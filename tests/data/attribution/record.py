"""Re-record the attribution fixtures from this machine (root, Linux, BTF).

    python3 -m tests.data.attribution.record

Opens known sockets in this process (a TCP listener and a connection to it on 127.0.0.1,
a dual-stack UDP socket that sends without connect(), a TCP connection over ::1), then
saves what each source reports about them, keeping only this process's sockets:

    sockdiag_replies.bin   the raw netlink datagrams (one per dump, DONE-terminated)
    proc_net_*.txt         /proc/net/{tcp,tcp6,udp,udp6}: the header and our sockets' lines
    lsof.txt               ``lsof -nP -a -p PID -iTCP -iUDP -F pcuftPnT``
    ebpf_events.bin        kernel records from the ring buffer and the iterator (argv
                           paths cut to their basenames: no machine paths in fixtures)
    recorded.json          the truth, from the sockets themselves (getsockname, fstat)
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
from pathlib import Path

from netwatch.attribution.ebpf.events import EVENT_SIZE, decode_event
from netwatch.attribution.ebpf.resolver import EbpfResolver
from netwatch.attribution.sockdiag import (
    _HDR,
    _INODE_OFF,
    _NLH,
    DUMPS,
    NETLINK_SOCK_DIAG,
    build_request,
    iter_replies,
)

HERE = Path(__file__).parent
ARGS_LEN = 128


def open_sockets() -> dict[str, socket.socket]:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    cli = socket.create_connection(lst.getsockname())
    acc, _ = lst.accept()
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.sendto(b"q", ("::1", 9))
    lst6 = socket.socket(socket.AF_INET6)
    lst6.bind(("::1", 0))
    lst6.listen()
    cli6 = socket.create_connection(lst6.getsockname()[:2])
    acc6, _ = lst6.accept()
    return {"listener": lst, "client": cli, "accepted": acc, "udp": udp, "listener6": lst6,
            "client6": cli6, "accepted6": acc6}  # fmt: skip


def truth(socks: dict[str, socket.socket]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, s in socks.items():
        local = s.getsockname()[:2]
        try:
            remote = s.getpeername()[:2]
        except OSError:
            remote = ("::" if s.family == socket.AF_INET6 else "0.0.0.0", 0)
        out[name] = {
            "proto": "tcp" if s.type == socket.SOCK_STREAM else "udp",
            "local": list(local),
            "remote": list(remote),
            "inode": os.fstat(s.fileno()).st_ino,
            "listening": name.startswith("listener"),
        }
    return out


def record_sockdiag(inodes: set[int]) -> bytes:
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    out = bytearray()
    for seq, (_proto, family, protocol, states) in enumerate(DUMPS, 1):
        nl.send(build_request(family, protocol, states, seq))
        kept = bytearray()
        done = False
        while not done:
            data = nl.recv(1 << 20)
            for off, length in iter_replies(data):
                if off < 0:
                    done = True
                    break
                (inode,) = struct.unpack_from("=I", data, off + _INODE_OFF)
                if inode in inodes:
                    kept += data[off : off + ((length + 3) & ~3)]
        kept += _NLH.pack(_HDR + 4, 3, 2, seq, 0) + b"\0\0\0\0"
        out += struct.pack("=I", len(kept)) + kept
    nl.close()
    return bytes(out)


def scrub(record: bytes) -> bytes:
    """The record with each argv path reduced to its basename (args is the last field)."""
    args = record[-ARGS_LEN:]
    if not args[0]:
        return record
    parts = [os.path.basename(a) if a.startswith(b"/") else a for a in args.split(b"\0")]
    return record[:-ARGS_LEN] + b"\0".join(parts).ljust(ARGS_LEN, b"\0")[:ARGS_LEN]


def main() -> None:
    ebpf = EbpfResolver()
    socks0 = open_sockets()  # exist before start: seen by the iterator
    ebpf.refresh = lambda: None  # type: ignore[method-assign]  # keep the raw records
    ebpf.start()
    socks1 = open_sockets()  # opened after start: seen through the ring buffer
    assert ebpf._bpf is not None and ebpf._rb is not None
    ebpf._bpf.ring_buffer__consume(ebpf._rb)
    pid = os.getpid()
    pending = list(ebpf._pending)
    ebpf.close()
    socks = {**{k + "_before": v for k, v in socks0.items()}, **socks1}
    facts = truth(socks)
    # Ours: events of this process, and task-less ones (ESTABLISHED, CLOSE) on our ports.
    ports = {f["local"][1] for f in facts.values()}  # type: ignore[index]
    raw = []
    for r in pending:
        ev = decode_event(r)
        if ev.tgid == pid or (ev.tgid == 0 and ev.local[1] in ports):
            raw.append(scrub(r))
    assert all(len(r) == EVENT_SIZE for r in raw)
    (HERE / "ebpf_events.bin").write_bytes(b"".join(raw))
    inodes = {int(f["inode"]) for f in facts.values()}  # type: ignore[call-overload]
    (HERE / "sockdiag_replies.bin").write_bytes(record_sockdiag(inodes))
    for table in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()
        ours = [ln for ln in lines[1:] if int(ln.split()[9]) in inodes]
        (HERE / f"proc_net_{table}.txt").write_text("\n".join([lines[0], *ours]) + "\n")
    argv = ["lsof", "-nP", "-a", "-p", str(pid), "-iTCP", "-iUDP", "-F", "pcuftPnT"]
    lsof = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    (HERE / "lsof.txt").write_text(lsof)
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    (HERE / "recorded.json").write_text(
        json.dumps({"pid": pid, "comm": comm, "uid": os.getuid(), "sockets": facts}, indent=1)
        + "\n"
    )


if __name__ == "__main__":
    main()
