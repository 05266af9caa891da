"""Pick the best attribution backend this host allows, once, with an explicit chain.

    Linux:   ebpf -> sockdiag -> procfs (/proc/net tables) -> psutil
    macOS:   psutil -> lsof
    other:   psutil

Each backend that fails to start says why (and how to fix it) once, through the
``netwatch.attribution`` logger, and again in ``diagnose()`` of the one chosen, which is
what ``netwatch --diagnose`` prints.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from netwatch.attribution.base import BackendUnavailable, ProcessResolver, Resolved
from netwatch.attribution.fake import FakeResolver
from netwatch.attribution.table import Endpoint

log = logging.getLogger("netwatch.attribution")


def _ebpf() -> ProcessResolver:
    from netwatch.attribution.ebpf import EbpfResolver

    return EbpfResolver()


def _sockdiag() -> ProcessResolver:
    from netwatch.attribution.sockdiag import SockDiagResolver

    return SockDiagResolver()


def _procfs() -> ProcessResolver:
    from netwatch.attribution.procnet import ProcNetResolver

    return ProcNetResolver()


def _psutil() -> ProcessResolver:
    from netwatch.attribution.psutil_backend import PsutilResolver

    return PsutilResolver()


def _lsof() -> ProcessResolver:
    from netwatch.attribution.lsof import LsofResolver

    return LsofResolver()


FACTORIES: dict[str, Callable[[], ProcessResolver]] = {
    "ebpf": _ebpf,
    "sockdiag": _sockdiag,
    "procfs": _procfs,
    "psutil": _psutil,
    "lsof": _lsof,
}


def platform_chain(platform: str = sys.platform) -> tuple[str, ...]:
    """The backends worth trying here, best first."""
    if platform.startswith("linux"):
        return ("ebpf", "sockdiag", "procfs", "psutil")
    if platform == "darwin":
        return ("psutil", "lsof")
    return ("psutil",)


class ChosenResolver:
    """The started backend, plus why the better ones were passed over."""

    def __init__(self, inner: ProcessResolver, passed_over: list[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.passed_over = passed_over

    def start(self) -> None:
        """Already started by :func:`choose_resolver`."""

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        return self.inner.lookup(proto, local, remote)

    def refresh(self) -> None:
        self.inner.refresh()

    def poll(self, timeout_ms: int) -> None:
        self.inner.poll(timeout_ms)

    def diagnose(self) -> list[str]:
        return [*self.passed_over, *self.inner.diagnose()]

    def close(self) -> None:
        self.inner.close()


def diagnose_host(platform: str = sys.platform) -> list[str]:
    """Why each better backend cannot run here, without starting any (for --diagnose)."""
    if not platform.startswith("linux"):
        return []
    import ctypes.util

    from netwatch.attribution.ebpf import prereq
    from netwatch.attribution.ebpf.resolver import OBJECT_NAME, find_object

    out = prereq.problems()
    if ctypes.util.find_library("bpf") is None:
        out.append("ebpf: libbpf.so.1 not found: install libbpf1 (Debian/Ubuntu) or libbpf")
    if find_object() is None:
        out.append(f"ebpf: {OBJECT_NAME} not found: rebuild it with `make -C ebpf`")
    return out


def choose_resolver(
    prefer: str | None = None,
    chain: tuple[str, ...] | None = None,
    factories: dict[str, Callable[[], ProcessResolver]] | None = None,
) -> ProcessResolver:
    """Start and return the first backend that works (``prefer`` tried first).

    Never fails: with no backend at all, a resolver that attributes nothing is returned
    and its ``diagnose()`` lists every reason.
    """
    makers = factories if factories is not None else FACTORIES
    order = list(chain if chain is not None else platform_chain())
    if prefer:
        if prefer not in makers:
            raise ValueError(f"unknown attribution backend {prefer!r}: one of {sorted(makers)}")
        order = [prefer, *(n for n in order if n != prefer)]
    passed_over: list[str] = []
    for name in order:
        make = makers.get(name)
        if make is None:
            continue
        resolver = make()
        try:
            resolver.start()
        except BackendUnavailable as exc:
            resolver.close()
            passed_over.append(f"{name}: {exc.reason}")
            log.warning("attribution backend %s unavailable: %s", name, exc.reason)
            continue
        except OSError as exc:
            resolver.close()
            passed_over.append(f"{name}: {exc}")
            log.warning("attribution backend %s failed: %s", name, exc)
            continue
        if passed_over:
            log.info("attribution: using %s", name)
        return ChosenResolver(resolver, passed_over)
    return ChosenResolver(FakeResolver("none"), [*passed_over, "no attribution backend works"])
