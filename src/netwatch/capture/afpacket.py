"""Linux live capture: an AF_PACKET socket with a TPACKET_V3 memory-mapped RX ring.

Implements packet(7) and ``Documentation/networking/packet_mmap.rst`` ("TPACKET_V3"):
the kernel fills fixed-size *blocks* of a ring shared with us; each block holds a
variable number of packets and is handed over whole (``block_status`` gains
``TP_STATUS_USER``) when full or after ``tp_retire_blk_tov`` ms. We walk the block's
``tpacket3_hdr`` chain, yield its packets as one batch of memoryviews into the ring,
and give the block back (``TP_STATUS_KERNEL``) when the consumer asks for the next one.

A block starts with ``struct tpacket_block_desc`` (48 bytes; little-endian offsets)::

    +0 version  +4 offset_to_priv  +8 block_status  +12 num_pkts
    +16 offset_to_first_pkt  +20 blk_len  +24 seq_num  +32 ts_first  +40 ts_last

and each packet with ``struct tpacket3_hdr`` (48 bytes) then ``struct sockaddr_ll``::

    +0 tp_next_offset  +4 tp_sec  +8 tp_nsec  +12 tp_snaplen  +16 tp_len  +20 tp_status
    +24 tp_mac (u16)  +26 tp_net (u16)  +28 tp_rxhash  +32 tp_vlan_tci  +36 tp_vlan_tpid
    +48 sll_family  +50 sll_protocol (network order)  +52 sll_ifindex  +56 sll_hatype
    +58 sll_pkttype  +59 sll_halen  +60 sll_addr[8]

Link types. An Ethernet-like interface (ARPHRD_ETHER, ARPHRD_LOOPBACK) is captured with
``SOCK_RAW``: every frame carries its 14-byte header, LINKTYPE_ETHERNET. Everything else,
and ``any``, is captured *cooked* (``SOCK_DGRAM``): the kernel hands over the network
layer, whatever the device's header, so one filter compiled for DLT_RAW is right for every
packet (a ``SOCK_RAW`` socket on ``any`` would mix header layouts under one filter).
Per packet, IPv4/IPv6 is yielded zero-copy as LINKTYPE_RAW; any other protocol (ARP,
...) and VLAN-tagged packets get a 16-byte LINKTYPE_LINUX_SLL header built from
``sockaddr_ll`` (a copy of that packet only). See :data:`HATYPE_LINKTYPE`.

VLAN. The kernel (or NIC) strips the 802.1Q tag into ``tp_vlan_tci`` and sets
``TP_STATUS_VLAN_VALID``; the tag is re-inserted after the MAC addresses (Ethernet) or
at the SLL protocol field (cooked), as libpcap does, so the decoder keeps the VLAN id.

Loopback. A packet sent over ``lo`` passes the tap twice, as PACKET_OUTGOING and again as
PACKET_HOST; the outgoing copy is skipped (as libpcap does), both on ``lo`` and on
``any``. Packets netwatch itself sends on other interfaces are shown like any other.

Memory ordering: the block status is read and written with plain loads and stores.
That is sufficient on x86 (TSO); on weakly-ordered CPUs the ``poll()`` system call
between blocks is the barrier, and a block found ready without polling relies on the
kernel's own ``smp_wmb`` before it set the status.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import select
import socket
import struct
import threading
from collections.abc import Iterator, Sequence

from netwatch.capture.base import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    Packet,
    SourceStats,
)
from netwatch.capture.bpf import DLT_EN10MB, DLT_RAW, attach_filter, compile_filter
from netwatch.capture.bpf import snaplen_program as _snaplen_program
from netwatch.capture.interfaces import list_interfaces
from netwatch.capture.permissions import missing_interface_error, permission_error
from netwatch.errors import CaptureError
from netwatch.model.frames import Frame, FrameBlock

AF_PACKET = 17
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
SIOCGIFHWADDR = 0x8927

TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1 << 0
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
PACKET_OUTGOING = 4
ETH_P_8021Q = 0x8100

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE

#: sll_hatype → the link type the interface is captured as. Ethernet-like devices keep
#: their frames (SOCK_RAW); devices without a link header (tun, WireGuard, PPP, IP
#: tunnels, raw-IP modems) are cooked and give LINKTYPE_RAW for IP; any other hardware
#: type (Infiniband, 802.11 radiotap, CAN, ...) is cooked and shown with an SLL header
#: (its own link header is not kept).
HATYPE_LINKTYPE: dict[int, int] = {
    ARPHRD_ETHER: LINKTYPE_ETHERNET,
    ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,
    ARPHRD_NONE: LINKTYPE_RAW,
    512: LINKTYPE_RAW,  # ARPHRD_PPP
    519: LINKTYPE_RAW,  # ARPHRD_RAWIP
    768: LINKTYPE_RAW,  # ARPHRD_TUNNEL (ipip)
    769: LINKTYPE_RAW,  # ARPHRD_TUNNEL6
    776: LINKTYPE_RAW,  # ARPHRD_SIT
    778: LINKTYPE_RAW,  # ARPHRD_IPGRE
    823: LINKTYPE_RAW,  # ARPHRD_IP6GRE
}


def linktype_for_hatype(hatype: int) -> int:
    """The link type packets of an interface with ``hatype`` are yielded as."""
    return HATYPE_LINKTYPE.get(hatype, LINKTYPE_LINUX_SLL)


# --- ring walking (pure: works on any buffer, tested on synthetic blocks) ------------

BLOCK_DESC = struct.Struct("<IIIIII")  # version .. blk_len
# tp_next_offset .. tp_mac, then sll_protocol (at +50): all the common path reads.
# The rarer fields (VLAN, hatype, address) are read only when a packet needs them:
# measured ~5% faster than unpacking all 17 fields per packet (430 against 460 ns per
# packet, benchmarks/live_capture.py --ring). Most of the rest is the memoryview slice
# and the tuple, which the contract requires.
PKT_HDR = struct.Struct("<IIIIIIH24xH")
HDR_SPAN = 68  # tpacket3_hdr (48) + sockaddr_ll (20)
SLL_ADDR_OFF = 60
_IP_PROTOS = (0x0008, 0xDD86)  # ETH_P_IP, ETH_P_IPV6 as read little-endian from the ring
_VLAN_INFO = struct.Struct("<IH")  # tp_vlan_tci (+32), tp_vlan_tpid (+36)
_U16 = struct.Struct("<H")
_SLL_HDR = struct.Struct(">HHH8s")  # pkttype, hatype, halen, addr (protocol follows)
_TAG = struct.Struct(">HH")


def walk_block(ring: memoryview, start: int, block_size: int, cooked: bool) -> FrameBlock:
    """The packets of the ready block at ``start``: frames read in place in ``ring``
    (a :class:`FrameBlock`), copies only for those that need a header rebuilt.

    Raises CaptureError if a header points outside the block (the kernel never does;
    synthetic or corrupted buffers might).
    """
    if start + BLOCK_DESC.size > len(ring) or block_size > len(ring) - start:
        raise CaptureError("capture ring: block outside the ring")
    _v, _p, _status, count, off, _len = BLOCK_DESC.unpack_from(ring, start)
    end = start + block_size
    off += start
    out: list[Frame] = []
    append = out.append
    unpack = PKT_HDR.unpack_from
    linktype = LINKTYPE_RAW if cooked else LINKTYPE_ETHERNET
    loopback = ARPHRD_LOOPBACK  # a local: faster than a global lookup per packet
    for _ in range(count):
        if off + HDR_SPAN > end:
            raise CaptureError("capture ring: packet header outside its block")
        nxt, sec, nsec, caplen, wirelen, status, mac, proto = unpack(ring, off)
        data_off = off + mac
        if data_off + caplen > end:
            raise CaptureError("capture ring: packet data outside its block")
        if ring[off + 58] == PACKET_OUTGOING and _U16.unpack_from(ring, off + 56)[0] == loopback:
            pass  # a loopback packet's outgoing copy: seen again as incoming
        elif status & TP_STATUS_VLAN_VALID or (cooked and proto not in _IP_PROTOS):
            ts, lt, data, wire = _rebuilt(ring, off, sec + nsec * 1e-9, wirelen, status, cooked)
            append((ts, lt, data, 0, len(data), wire))
        else:
            append((sec + nsec * 1e-9, linktype, ring, data_off, caplen, wirelen))
        if nxt == 0:
            break
        off += nxt
    return FrameBlock(out)


def _rebuilt(
    ring: memoryview, off: int, ts: float, wirelen: int, status: int, cooked: bool
) -> Packet:
    """A packet that needs a copy: VLAN tag re-inserted, or an SLL header for non-IP."""
    caplen = struct.unpack_from("<I", ring, off + 12)[0]
    mac = _U16.unpack_from(ring, off + 24)[0]
    data = bytes(ring[off + mac : off + mac + caplen])
    tag = b""
    if status & TP_STATUS_VLAN_VALID:
        tci, tpid = _VLAN_INFO.unpack_from(ring, off + 32)
        tag_tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q
        tag = _TAG.pack(tag_tpid, tci & 0xFFFF)
    if not cooked:
        if len(data) < 12:
            return (ts, LINKTYPE_ETHERNET, data, wirelen)
        return (ts, LINKTYPE_ETHERNET, data[:12] + tag + data[12:], wirelen + len(tag))
    hatype, pkttype, halen = struct.unpack_from("<HBB", ring, off + 56)
    addr = bytes(ring[off + SLL_ADDR_OFF : off + SLL_ADDR_OFF + 8])
    head = _SLL_HDR.pack(pkttype, hatype, halen, addr) + tag + bytes(ring[off + 50 : off + 52])
    return (ts, LINKTYPE_LINUX_SLL, head + data, wirelen + len(head))


# --- the source ---------------------------------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)
_SOCKADDR_LL = struct.Struct("<HHiHBB8s")
_PAGE = mmap.PAGESIZE


def _interface_hatype(name: str) -> int:
    """The ARPHRD type of ``name`` in the calling thread's namespace (SIOCGIFHWADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        ifreq = fcntl.ioctl(probe.fileno(), SIOCGIFHWADDR, struct.pack("16s24x", name.encode()))
    return int(struct.unpack_from("=H", ifreq, 16)[0])


#: How long one wait for a ring block may last before an empty batch is yielded.
IDLE_POLL_MS = 250


class AfPacketSource:
    """Live capture on one interface (or ``any``) through a TPACKET_V3 ring.

    ``block_size`` × ``block_count`` bytes of kernel memory form the ring;
    ``timeout_ms`` bounds how long a partly filled block waits before it is handed over
    (the display latency at low packet rates). ``bpf`` is a tcpdump filter, run in the
    kernel; ``snaplen`` truncates packets there too.
    """

    live = True

    def __init__(
        self,
        interface: str | None = None,
        bpf: str | None = None,
        snaplen: int = 262144,
        block_size: int = 1 << 20,
        block_count: int = 32,
        frame_size: int = 2048,
        timeout_ms: int = 50,
        promiscuous: bool = False,
    ) -> None:
        name = interface or "any"
        self.description = f"interface {name}"
        self.interface = name
        if (
            not 0 < block_size < 1 << 32
            or block_size % _PAGE
            or frame_size < 16
            or frame_size % 16
            or block_size % frame_size
        ):
            raise CaptureError(
                f"capture ring: block size {block_size} must be a multiple of the page size "
                f"({_PAGE}) and of the frame size {frame_size} (itself a multiple of 16)"
            )
        if not 0 < block_count < 1 << 20 or not 0 < snaplen < 1 << 31 or timeout_ms < 0:
            raise CaptureError(
                f"capture ring: block count {block_count}, snaplen {snaplen} or timeout "
                f"{timeout_ms} ms out of range"
            )
        self._block_size = block_size
        self._block_count = block_count
        ifindex = 0
        hatype = ARPHRD_NONE
        if name != "any":
            try:
                ifindex = socket.if_nametoindex(name)
                hatype = _interface_hatype(name)
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
                raise missing_interface_error(name, list_interfaces()) from exc
        self.cooked = linktype_for_hatype(hatype) != LINKTYPE_ETHERNET
        program = (
            compile_filter(bpf, DLT_RAW if self.cooked else DLT_EN10MB, snaplen)
            if bpf
            else _snaplen_program(snaplen)
        )
        try:
            # Protocol 0: nothing is queued until bind(), so no packet escapes the filter.
            sock = socket.socket(
                AF_PACKET, socket.SOCK_DGRAM if self.cooked else socket.SOCK_RAW, 0
            )
        except PermissionError as exc:
            raise permission_error(f"capture on {name}") from exc
        self._sock = sock
        try:
            self._setup(sock, program, ifindex, frame_size, timeout_ms, promiscuous)
        except OSError as exc:  # PACKET_VERSION refused (old kernel), mmap ENOMEM, ...
            self._abort_setup()
            raise CaptureError(f"cannot set up capture on {name}: {exc.strerror}") from exc
        except BaseException:
            self._abort_setup()
            raise
        self._lock = threading.Lock()
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._closing = False
        self._running = False
        self._released = False
        self._received = 0
        self._bytes = 0
        self._drops = 0

    def _abort_setup(self) -> None:
        ring: memoryview | None = getattr(self, "_ring", None)
        if ring is not None:
            ring.release()
            self._mm.close()
        self._sock.close()

    def _setup(
        self,
        sock: socket.socket,
        program: list[tuple[int, int, int, int]],
        ifindex: int,
        frame_size: int,
        timeout_ms: int,
        promiscuous: bool,
    ) -> None:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frames = self._block_size * self._block_count // frame_size
        req = struct.pack(
            "<7I", self._block_size, self._block_count, frame_size, frames, max(1, timeout_ms), 0, 0
        )
        try:
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        except OSError as exc:
            raise CaptureError(
                f"capture ring of {self._block_count} x {self._block_size} bytes refused: "
                f"{exc.strerror}"
            ) from exc
        size = self._block_size * self._block_count
        self._mm = mmap.mmap(sock.fileno(), size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._ring = memoryview(self._mm)
        attach_filter(sock, program)
        if promiscuous and ifindex:
            mreq = struct.pack("<iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        addr = _SOCKADDR_LL.pack(AF_PACKET, socket.htons(ETH_P_ALL), ifindex, 0, 0, 0, b"")
        if _LIBC.bind(sock.fileno(), addr, len(addr)) != 0:
            err = ctypes.get_errno()
            raise CaptureError(
                f"cannot bind capture socket on {self.interface}: {os.strerror(err)}"
            )

    def batches(self) -> Iterator[Sequence[Packet]]:
        """One batch per ring block, until ``close()``; a block is returned on the next call."""
        with self._lock:
            if self._running or self._released:
                raise CaptureError(f"{self.description}: batches() already running or closed")
            self._running = True
        ring, bsize, nblocks, cooked = self._ring, self._block_size, self._block_count, self.cooked
        status_of = struct.Struct("<I")
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN | select.POLLERR)
        poller.register(self._wake, select.POLLIN)
        index = 0
        try:
            while not self._closing:
                start = index * bsize
                if not status_of.unpack_from(ring, start + 8)[0] & TP_STATUS_USER:
                    for fd, events in poller.poll(IDLE_POLL_MS):
                        if fd != self._wake and events & (select.POLLERR | select.POLLNVAL):
                            self._raise_socket_error()
                    # Nothing arrived: an empty batch, so the engine still runs its clock
                    # (snapshots, rates decaying, staleness) on a quiet interface.
                    yield []
                    continue
                batch = walk_block(ring, start, bsize, cooked)
                if batch:
                    self._received += len(batch)
                    self._bytes += batch.captured_bytes()
                    yield batch
                    del batch
                status_of.pack_into(ring, start + 8, TP_STATUS_KERNEL)
                index = (index + 1) % nblocks
        finally:
            with self._lock:
                self._running = False
            self._release()

    def _raise_socket_error(self) -> None:
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == errno.ENETDOWN:
            raise CaptureError(f"{self.description} went down or was removed")
        raise CaptureError(f"{self.description}: capture socket error: {os.strerror(err)}")

    def _read_kernel_stats(self) -> None:
        # tpacket_stats_v3; the kernel zeroes its counters on every read, so accumulate.
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        _packets, drops, _freeze = struct.unpack("<III", raw)
        self._drops += drops

    def stats(self) -> SourceStats:
        """Packets and bytes yielded so far, and the kernel's drops (ring full)."""
        with self._lock:
            if not self._released:
                self._read_kernel_stats()
            return SourceStats(
                received=self._received, kernel_drops=self._drops, bytes_read=self._bytes
            )

    def close(self) -> None:
        """Stop: wakes a blocked ``batches()`` at once; resources go when it returns."""
        self._closing = True
        with self._lock:
            running = self._running
            if not self._released:
                os.eventfd_write(self._wake, 1)
        if not running:
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            try:
                self._read_kernel_stats()
            except OSError:
                pass  # socket already unusable: the last counters are lost, nothing else
            self._ring.release()
            try:
                self._mm.close()
            except BufferError:
                pass  # the consumer still holds packet views; unmapped when they are freed
            self._sock.close()
            os.close(self._wake)

    def __enter__(self) -> AfPacketSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
