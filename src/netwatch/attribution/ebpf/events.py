"""Decoding the records the attribution programs send (``ebpf/netwatch_attrib.h``).

``struct nw_event`` is 264 bytes, host byte order except the addresses::

    0  cookie u64     8  ts_ns u64     16 tgid u32   20 tid u32   24 uid u32   28 ppid u32
    32 kind u8  33 proto u8  34 family u8  35 state u8   36 lport u16   38 rport u16
    40 laddr[16] (IPv4 in the first 4 bytes)   56 raddr[16]   72 comm[16]
    88 exe[48] (basename of the executable)   136 args[128] (argv start, NUL-separated)

``exe`` and ``args`` are filled by the tracing programs only (empty otherwise).

Pure: bytes in, :class:`KernelEvent` out; MalformedError for a record of the wrong size.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from enum import IntEnum

from netwatch.errors import MalformedError

EVENT = struct.Struct("=QQIIIIBBBBHH16s16s16s48s128s")
EVENT_SIZE = EVENT.size  # 264


class Kind(IntEnum):
    CONNECT = 1
    SENDMSG = 2
    BIND = 3
    SYN_SENT = 4
    ESTAB = 5
    LISTEN = 6
    CLOSE = 7
    UDP_SEND = 8
    ITER = 9


#: Kinds whose task fields are the socket's owner (run in the owning task's context).
OWNER_KINDS = frozenset(
    {Kind.CONNECT, Kind.SENDMSG, Kind.BIND, Kind.SYN_SENT, Kind.LISTEN, Kind.UDP_SEND, Kind.ITER}
)

_PROTO = {6: "tcp", 17: "udp"}


@dataclass(frozen=True, slots=True)
class KernelEvent:
    kind: Kind
    cookie: int
    ts_ns: int
    tgid: int
    tid: int
    uid: int
    ppid: int
    proto: str
    family: int
    state: int
    local: tuple[str, int]
    remote: tuple[str, int]
    comm: str
    exe_name: str = ""
    args: tuple[str, ...] = ()


def _addr(family: int, raw: bytes) -> str:
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return socket.inet_ntop(socket.AF_INET, raw[:4])


def decode_event(data: bytes | memoryview) -> KernelEvent:
    """One record; MalformedError when it is not a whole ``nw_event``."""
    if len(data) != EVENT_SIZE:
        raise MalformedError("ebpf", f"event of {len(data)} bytes, want {EVENT_SIZE}")
    (cookie, ts, tgid, tid, uid, ppid, kind, proto, family, state, lport, rport, laddr,
     raddr, comm, exe, args) = EVENT.unpack(data)  # fmt: skip
    try:
        k = Kind(kind)
    except ValueError as exc:
        raise MalformedError("ebpf", f"unknown event kind {kind}") from exc
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise MalformedError("ebpf", f"address family {family}")
    return KernelEvent(
        kind=k,
        cookie=cookie,
        ts_ns=ts,
        tgid=tgid,
        tid=tid,
        uid=uid,
        ppid=ppid,
        proto=_PROTO.get(proto, str(proto)),
        family=family,
        state=state,
        local=(_addr(family, laddr), lport),
        remote=(_addr(family, raddr), rport),
        comm=_cstr(comm),
        exe_name=_cstr(exe),
        args=tuple(a.decode("utf-8", "replace") for a in args.rstrip(b"\0").split(b"\0"))
        if args[0]
        else (),
    )


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def split_records(blob: bytes) -> list[bytes]:
    """The iterator's output: back-to-back records; MalformedError on a torn tail."""
    if len(blob) % EVENT_SIZE:
        raise MalformedError("ebpf", f"iterator output of {len(blob)} bytes is torn")
    return [blob[i : i + EVENT_SIZE] for i in range(0, len(blob), EVENT_SIZE)]
