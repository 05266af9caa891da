"""The few libbpf 1.x entry points netwatch needs, through ctypes on ``libbpf.so.1``.

No bcc and no compiler at run time: the programs are compiled CO-RE objects, and libbpf
relocates them against the running kernel's BTF when ``bpf_object__load`` runs.
Every libbpf call that returns a pointer returns NULL and sets errno on failure
(libbpf 1.0 semantics); :func:`check_ptr` turns that into an OSError.

libbpf's own log (the verifier's complaints) is captured through ``libbpf_set_print``
with a ctypes callback that formats through libc ``vsnprintf``, so ``diagnose`` can quote
it instead of it going to stderr over the TUI.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections import deque
from typing import Any

c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_char_p = ctypes.c_char_p

#: int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size)
SAMPLE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, ctypes.c_size_t)
#: int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char *fmt, va_list ap)
PRINT_FN = ctypes.CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "bpf_object__open_file": (c_void_p, [c_char_p, c_void_p]),
    "bpf_object__load": (c_int, [c_void_p]),
    "bpf_object__close": (None, [c_void_p]),
    "bpf_object__find_program_by_name": (c_void_p, [c_void_p, c_char_p]),
    "bpf_object__find_map_by_name": (c_void_p, [c_void_p, c_char_p]),
    "bpf_program__attach": (c_void_p, [c_void_p]),
    "bpf_program__attach_cgroup": (c_void_p, [c_void_p, c_int]),
    "bpf_program__attach_iter": (c_void_p, [c_void_p, c_void_p]),
    "bpf_program__set_autoload": (c_int, [c_void_p, ctypes.c_bool]),
    "bpf_link__fd": (c_int, [c_void_p]),
    "bpf_link__destroy": (c_int, [c_void_p]),
    "bpf_iter_create": (c_int, [c_int]),
    "bpf_map__fd": (c_int, [c_void_p]),
    "bpf_map_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),
    "ring_buffer__new": (c_void_p, [c_int, SAMPLE_FN, c_void_p, c_void_p]),
    "ring_buffer__consume": (c_int, [c_void_p]),
    "ring_buffer__poll": (c_int, [c_void_p, c_int]),
    "ring_buffer__free": (None, [c_void_p]),
    "libbpf_set_print": (c_void_p, [PRINT_FN]),
    "libbpf_major_version": (ctypes.c_uint32, []),
    "libbpf_minor_version": (ctypes.c_uint32, []),
}


class LibBpf:
    """A loaded ``libbpf.so.1`` with typed entry points and a captured log."""

    def __init__(self, path: str | None = None) -> None:
        name = path or ctypes.util.find_library("bpf") or "libbpf.so.1"
        try:
            self.lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            self.lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
        for fn, (restype, argtypes) in _SIGNATURES.items():
            f = getattr(self.lib, fn)
            f.restype = restype
            f.argtypes = argtypes
        self.log: deque[str] = deque(maxlen=200)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        vsnprintf = libc.vsnprintf
        vsnprintf.argtypes = [c_char_p, ctypes.c_size_t, c_char_p, c_void_p]
        vsnprintf.restype = c_int
        buf = ctypes.create_string_buffer(4096)

        def _print(_level: int, fmt: bytes | None, ap: int | None) -> int:
            if fmt is not None:
                vsnprintf(buf, len(buf), fmt, ap)
                self.log.append(buf.value.decode("utf-8", "replace").rstrip())
            return 0

        self._print_cb = PRINT_FN(_print)  # kept alive as long as the library
        self.lib.libbpf_set_print(self._print_cb)

    def version(self) -> str:
        return f"{self.lib.libbpf_major_version()}.{self.lib.libbpf_minor_version()}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lib, name)


def check_ptr(ptr: int | None, what: str) -> int:
    """``ptr`` unless NULL; then OSError with libbpf's errno."""
    if not ptr:
        err = ctypes.get_errno() or 1
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ptr


def check_int(ret: int, what: str) -> int:
    """``ret`` unless negative (libbpf returns -errno)."""
    if ret < 0:
        raise OSError(-ret, f"{what}: {os.strerror(-ret)}")
    return ret
