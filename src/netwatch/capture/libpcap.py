"""Live capture through libpcap (pcap(3PCAP)): macOS, the BSDs, Windows (Npcap), and a
Linux fallback when the AF_PACKET ring cannot be used.

The handle is built the modern way (``pcap_create`` → ``pcap_set_*`` → ``pcap_activate``),
with nanosecond timestamps where the platform has them, and the filter compiled *on the
live handle* (so libpcap applies its platform fixes, such as Linux's VLAN-offload loads).

Measured (benchmarks/live_capture.py, 100k small packets on a veth, 2 shared cores):
packets are read with ``pcap_dispatch`` and a ctypes callback, one foreign call per
buffer; ``pcap_next_ex`` per packet cost the same or slightly more (3.7-4.0 against
3.3-3.7 µs/packet on loopback). Immediate mode is *off*: with it, libpcap wakes per
packet (5.6 µs/packet at 50k pps, 22% loss at 150k pps); without it, ``timeout_ms``
bounds the latency and a wake-up drains a whole buffer (1.2 µs/packet, no loss at
185k pps). Most of that is the ctypes callback itself: taking the pointers as plain
ints and unpacking the header with ``struct`` instead of ``.contents`` measured the
same (1.21-1.26 µs/packet), so the typed form stays. libpcap's buffer is reused by the
next call, so each packet is copied.

``close()`` relies on ``pcap_breakloop`` waking a blocked read (libpcap >= 1.10 on
Linux, where poll() otherwise waits for the next ring block); with older versions it
returns at the next packet.

``struct pcap_pkthdr`` is ``{struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len;}``;
``timeval`` is two ``long`` on Linux and Windows (8 or 4 bytes each) and ``{long; int}``
padded to 16 bytes on macOS.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Iterator, Sequence

from netwatch.capture.base import (
    LINKTYPE_LOOP,
    LINKTYPE_RAW,
    Packet,
    SourceStats,
)
from netwatch.capture.bpf import PCAP_NETMASK_UNKNOWN, BpfProgram, filter_bytes, load_libpcap
from netwatch.capture.interfaces import default_route_interface, list_interfaces
from netwatch.capture.permissions import missing_interface_error, permission_error
from netwatch.errors import CaptureError, UsageError

PCAP_ERRBUF_SIZE = 256
PCAP_ERROR = -1
PCAP_ERROR_BREAK = -2
PCAP_ERROR_NO_SUCH_DEVICE = -5
PCAP_ERROR_PERM_DENIED = -8
PCAP_TSTAMP_PRECISION_NANO = 1

_PLATFORM: str = sys.platform


def dlt_to_linktype(dlt: int, platform: str = _PLATFORM) -> int:
    """libpcap's DLT_* value as a LINKTYPE_* (they differ only for a few old values)."""
    if dlt == 12:
        return LINKTYPE_LOOP if platform.startswith("openbsd") else LINKTYPE_RAW
    if dlt == 14:
        return LINKTYPE_RAW
    return dlt


class _Timeval(ctypes.Structure):
    _fields_ = (
        ("tv_sec", ctypes.c_long),
        ("tv_usec", ctypes.c_int32 if _PLATFORM == "darwin" else ctypes.c_long),
    )


class _PktHdr(ctypes.Structure):
    _fields_ = (("ts", _Timeval), ("caplen", ctypes.c_uint32), ("len", ctypes.c_uint32))


class _PcapStat(ctypes.Structure):
    # Npcap appends ps_capt/ps_sent/ps_netdrop; the extra room keeps it from overrunning.
    _fields_ = (
        ("ps_recv", ctypes.c_uint),
        ("ps_drop", ctypes.c_uint),
        ("ps_ifdrop", ctypes.c_uint),
        ("_reserved", ctypes.c_uint * 4),
    )


_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.POINTER(_PktHdr), ctypes.POINTER(ctypes.c_ubyte)
)


def _live_lib() -> ctypes.CDLL:
    lib = load_libpcap()
    vp, ci = ctypes.c_void_p, ctypes.c_int
    lib.pcap_create.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    lib.pcap_create.restype = vp
    for name in ("snaplen", "promisc", "timeout", "immediate_mode", "buffer_size"):
        fn = getattr(lib, f"pcap_set_{name}")
        fn.argtypes = (vp, ci)
        fn.restype = ci
    lib.pcap_activate.argtypes = (vp,)
    lib.pcap_activate.restype = ci
    lib.pcap_statustostr.argtypes = (ci,)
    lib.pcap_statustostr.restype = ctypes.c_char_p
    lib.pcap_datalink.argtypes = (vp,)
    lib.pcap_datalink.restype = ci
    lib.pcap_setfilter.argtypes = (vp, ctypes.POINTER(BpfProgram))
    lib.pcap_setfilter.restype = ci
    lib.pcap_dispatch.argtypes = (vp, ci, _HANDLER, vp)
    lib.pcap_dispatch.restype = ci
    lib.pcap_stats.argtypes = (vp, ctypes.POINTER(_PcapStat))
    lib.pcap_stats.restype = ci
    lib.pcap_breakloop.argtypes = (vp,)
    lib.pcap_breakloop.restype = None
    return lib


class LibpcapSource:
    """Live capture through libpcap; same contract as :class:`AfPacketSource`."""

    live = True

    def __init__(
        self,
        interface: str | None = None,
        bpf: str | None = None,
        snaplen: int = 262144,
        timeout_ms: int = 50,
        promiscuous: bool = False,
        buffer_size: int = 32 << 20,
    ) -> None:
        lib = self._lib = _live_lib()
        name = interface or ("any" if _PLATFORM.startswith("linux") else None)
        name = name or default_route_interface()
        if not name:
            raise CaptureError("no interface given and no default route to pick one")
        self.interface = name
        self.description = f"interface {name}"
        errbuf = ctypes.create_string_buffer(PCAP_ERRBUF_SIZE)
        handle = lib.pcap_create(name.encode(), errbuf)
        if not handle:
            raise CaptureError(f"libpcap: {errbuf.value.decode(errors='replace')}")
        self._handle: int | None = handle
        try:
            self._activate(name, snaplen, timeout_ms, promiscuous, buffer_size)
            if bpf:
                self._set_filter(bpf)
        except BaseException:
            lib.pcap_close(handle)
            raise
        self.linktype = dlt_to_linktype(lib.pcap_datalink(handle))
        self._nano = self._nano_ok
        self._lock = threading.Lock()
        self._closing = False
        self._running = False
        self._received = 0
        self._bytes = 0
        self._last = SourceStats()

    def _activate(
        self, name: str, snaplen: int, timeout_ms: int, promisc: bool, buffer_size: int
    ) -> None:
        lib, h = self._lib, self._handle
        lib.pcap_set_snaplen(h, snaplen)
        lib.pcap_set_promisc(h, int(promisc))
        lib.pcap_set_timeout(h, max(1, timeout_ms))
        lib.pcap_set_immediate_mode(h, 0)
        lib.pcap_set_buffer_size(h, buffer_size)
        self._nano_ok = False
        try:
            setter = lib.pcap_set_tstamp_precision
        except AttributeError:  # libpcap < 1.5: microseconds only
            setter = None
        if setter is not None:
            setter.argtypes = (ctypes.c_void_p, ctypes.c_int)
            self._nano_ok = setter(h, PCAP_TSTAMP_PRECISION_NANO) == 0
        rc = lib.pcap_activate(h)
        if rc >= 0:
            return  # > 0 are warnings (promiscuous mode not supported, ...)
        if rc == PCAP_ERROR_PERM_DENIED:
            raise permission_error(f"capture on {name}")
        if rc == PCAP_ERROR_NO_SUCH_DEVICE:
            raise missing_interface_error(name, list_interfaces())
        status = (lib.pcap_statustostr(rc) or b"error").decode(errors="replace")
        raise CaptureError(f"cannot capture on {name}: {status}: {self._error()}")

    def _error(self) -> str:
        raw: bytes = self._lib.pcap_geterr(self._handle) or b""
        return " ".join(raw.decode(errors="replace").split())

    def _set_filter(self, expression: str) -> None:
        lib, prog = self._lib, BpfProgram()
        if lib.pcap_compile(self._handle, ctypes.byref(prog), filter_bytes(expression), 1,
                            PCAP_NETMASK_UNKNOWN) != 0:  # fmt: skip
            raise UsageError(f"bad capture filter {expression!r}: {self._error()}")
        try:
            if lib.pcap_setfilter(self._handle, ctypes.byref(prog)) != 0:
                raise CaptureError(f"cannot set capture filter: {self._error()}")
        finally:
            lib.pcap_freecode(ctypes.byref(prog))

    def batches(self) -> Iterator[Sequence[Packet]]:
        """One batch per ``pcap_dispatch`` call (a buffer's worth), until ``close()``."""
        with self._lock:
            if self._running or self._handle is None:
                raise CaptureError(f"{self.description}: batches() already running or closed")
            self._running = True
        lib, handle, linktype = self._lib, self._handle, self.linktype
        scale = 1e-9 if self._nano else 1e-6
        batch: list[Packet] = []
        append = batch.append
        string_at = ctypes.string_at

        def on_packet(
            _user: int | None,
            hdr_p: ctypes._Pointer[_PktHdr],
            data_p: ctypes._Pointer[ctypes.c_ubyte],
        ) -> None:
            hdr = hdr_p.contents
            ts = hdr.ts.tv_sec + hdr.ts.tv_usec * scale
            append((ts, linktype, string_at(data_p, hdr.caplen), hdr.len))

        callback = _HANDLER(on_packet)
        try:
            while not self._closing:
                rc = lib.pcap_dispatch(handle, -1, callback, None)
                if rc == PCAP_ERROR_BREAK:
                    break
                if rc == PCAP_ERROR:
                    raise CaptureError(f"{self.description}: {self._error()}")
                if batch:
                    out = batch[:]
                    batch.clear()
                    self._received += len(out)
                    self._bytes += sum(len(p[2]) for p in out)
                    yield out
                else:
                    yield []  # the read timed out: the engine's clock still runs
        finally:
            with self._lock:
                self._running = False
            self._release()

    def stats(self) -> SourceStats:
        """libpcap's cumulative counters: drops in the buffer (kernel) and the interface."""
        with self._lock:
            if self._handle is not None:
                st = _PcapStat()
                if self._lib.pcap_stats(self._handle, ctypes.byref(st)) == 0:
                    self._last = SourceStats(kernel_drops=st.ps_drop, interface_drops=st.ps_ifdrop)
            return SourceStats(
                received=self._received,
                kernel_drops=self._last.kernel_drops,
                interface_drops=self._last.interface_drops,
                bytes_read=self._bytes,
            )

    def close(self) -> None:
        """Stop: ``pcap_breakloop`` wakes a blocked dispatch; the handle closes after it."""
        self._closing = True
        with self._lock:
            running = self._running
            if self._handle is not None:
                self._lib.pcap_breakloop(self._handle)
        if not running:
            self._release()

    def _release(self) -> None:
        self.stats()
        with self._lock:
            if self._handle is not None:
                self._lib.pcap_close(self._handle)
                self._handle = None

    def __enter__(self) -> LibpcapSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
