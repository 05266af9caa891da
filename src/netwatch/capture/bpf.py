"""Capture filters: tcpdump syntax compiled by libpcap, attached as classic BPF.

Implements the socket side of Linux ``Documentation/networking/filter.rst`` (classic BPF,
``SO_ATTACH_FILTER`` with a ``struct sock_fprog``) and uses libpcap's own compiler
(``pcap_compile(3PCAP)`` on a ``pcap_open_dead`` handle) so that the filter language is
exactly tcpdump's. A classic BPF instruction is 8 bytes, little-endian on x86::

    struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; };
    28 00 00 00 0c 00 00 00   ldh [12]            (code 0x28, k = 12)
    06 00 00 00 00 00 04 00   ret #262144         (code 0x06, k = snaplen)

The program's ``ret`` value is the snap length: the kernel truncates each accepted packet
to it, which is how ``snaplen`` is applied even without a user filter
(:func:`snaplen_program`).

Offsets in the compiled program are relative to what the kernel filter sees: the link
header on a ``SOCK_RAW`` packet socket, the network header on a ``SOCK_DGRAM`` one. So
callers compile for ``DLT_EN10MB`` on Ethernet-like interfaces and for ``DLT_RAW`` on
cooked (``SOCK_DGRAM``) sockets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import sys
import threading
from functools import cache

from netwatch.errors import CaptureError, UsageError

# pcap DLT_* values passed to pcap_open_dead (not LINKTYPE_*: DLT_RAW is 12 on Linux).
DLT_EN10MB = 1
DLT_RAW = 14 if sys.platform.startswith("openbsd") else 12

SOL_SOCKET = 1
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27

BPF_RET_K = 0x06  # BPF_RET | BPF_K
BPF_MAXINSNS = 4096
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF

#: One classic BPF instruction: (code, jt, jf, k).
Instruction = tuple[int, int, int, int]


class _BpfInsn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class BpfProgram(ctypes.Structure):
    # libpcap's struct bpf_program: u_int count, then the instruction array.
    _fields_ = (("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn)))


class _SockFprog(ctypes.Structure):
    # Linux's struct sock_fprog: unsigned short count, then the instruction array.
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_BpfInsn)))


LIBPCAP_NAMES: dict[str, tuple[str, ...]] = {
    "linux": ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so"),
    "darwin": ("libpcap.A.dylib", "libpcap.dylib"),
    "win32": ("wpcap.dll",),
}
_DEFAULT_NAMES = ("libpcap.so", "libpcap.so.1")


@cache
def load_libpcap() -> ctypes.CDLL:
    """The platform's libpcap (Npcap's wpcap.dll on Windows); CaptureError if absent."""
    key = "linux" if sys.platform.startswith("linux") else sys.platform
    names = list(LIBPCAP_NAMES.get(key, _DEFAULT_NAMES))
    found = ctypes.util.find_library("wpcap" if key == "win32" else "pcap")
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise CaptureError(f"libpcap not found (tried {', '.join(names)}): install libpcap")


def _declare(lib: ctypes.CDLL) -> None:
    vp = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = (ctypes.c_int, ctypes.c_int)
    lib.pcap_open_dead.restype = vp
    lib.pcap_compile.argtypes = (
        vp,
        ctypes.POINTER(BpfProgram),
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint32,
    )
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_freecode.argtypes = (ctypes.POINTER(BpfProgram),)
    lib.pcap_freecode.restype = None
    lib.pcap_geterr.argtypes = (vp,)
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_close.argtypes = (vp,)
    lib.pcap_close.restype = None


# Older libpcap's compiler is not reentrant (a global parser state); serialise it.
_COMPILE_LOCK = threading.Lock()


def compile_filter(
    expression: str, dlt: int = DLT_EN10MB, snaplen: int = 262144, optimize: bool = True
) -> list[Instruction]:
    """Compile a tcpdump filter for link type ``dlt``; UsageError with libpcap's message."""
    raw = filter_bytes(expression)
    lib = load_libpcap()
    prog = BpfProgram()
    with _COMPILE_LOCK:
        handle = lib.pcap_open_dead(dlt, snaplen)
        if not handle:
            raise CaptureError("libpcap: pcap_open_dead failed")
        try:
            rc = lib.pcap_compile(
                handle, ctypes.byref(prog), raw, int(optimize),
                PCAP_NETMASK_UNKNOWN,
            )  # fmt: skip
            if rc != 0:
                message = (lib.pcap_geterr(handle) or b"syntax error").decode(errors="replace")
                one_line = " ".join(message.split())
                raise UsageError(f"bad capture filter {expression!r}: {one_line}")
            try:
                return [
                    (ins.code, ins.jt, ins.jf, ins.k)
                    for ins in (prog.bf_insns[i] for i in range(prog.bf_len))
                ]
            finally:
                lib.pcap_freecode(ctypes.byref(prog))
        finally:
            lib.pcap_close(handle)


def filter_bytes(expression: str) -> bytes:
    """The expression as the C string libpcap reads; UsageError if it cannot be one."""
    if "\0" in expression:
        # A C string would end at the NUL and libpcap would silently compile a prefix.
        raise UsageError(f"bad capture filter {expression!r}: contains a NUL character")
    try:
        return expression.encode()
    except UnicodeEncodeError as exc:
        raise UsageError(f"bad capture filter {expression!r}: {exc.reason}") from exc


def snaplen_program(snaplen: int) -> list[Instruction]:
    """Accept every packet, truncated to ``snaplen`` bytes: ``ret #snaplen``."""
    return [(BPF_RET_K, 0, 0, snaplen)]


def encode_program(program: list[Instruction]) -> bytes:
    """The instructions as the kernel's ``struct sock_filter`` array."""
    arr = (_BpfInsn * len(program))(*(_BpfInsn(*ins) for ins in program))
    return bytes(arr)


def attach_filter(sock: socket.socket, program: list[Instruction]) -> None:
    """Attach ``program`` to a socket (``SO_ATTACH_FILTER``); the kernel copies it."""
    if not program or len(program) > BPF_MAXINSNS:
        raise CaptureError(f"capture filter has {len(program)} instructions (1..4096)")
    arr = (_BpfInsn * len(program))(*(_BpfInsn(*ins) for ins in program))
    fprog = _SockFprog(len(program), ctypes.cast(arr, ctypes.POINTER(_BpfInsn)))
    try:
        sock.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
    except OSError as exc:
        raise CaptureError(f"cannot attach capture filter: {exc.strerror}") from exc
