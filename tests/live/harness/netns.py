"""Network namespace pairs joined by a veth, for live tests (ip-netns(8), veth(4)).

Two shapes:

* ``make_netpair()``: two fresh namespaces, ``client`` and ``server``, joined by a veth.
* ``make_rootpair()``: the ``client`` side is the ROOT namespace (so clients started there
  have ordinary pids visible to socket attribution), the ``server`` side a fresh namespace.

Address plan (only test ranges, RFC 2544 and RFC 4193): every pair owns one subnet index
``x`` in 1..254, taken under an ``flock`` so parallel pytest runs never share one:

    IPv4  198.18.x.0/24       client 198.18.x.1   server 198.18.x.2   (second pair .3 / .4)
    IPv6  fd00:6e77:0:x::/64  client ...::1       server ...::2       (second pair ::3 / ::4)

Cleanup is layered: ``Pair.close()`` (idempotent, never raises mid-way) runs from the context
manager's ``finally`` (exceptions and KeyboardInterrupt), an ``atexit`` guard closes whatever
is still open, and ``sweep_stale()`` removes ``nwt-*`` namespaces and veths whose owning
process is gone (its lock file is no longer held), killing any process still inside them.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PREFIX = "nwt-"
V4_BASE = "198.18"
V6_BASE = "fd00:6e77:0"
DEFAULT_TIMEOUT = 60.0


def _lock_dir() -> Path:
    base = Path("/run/lock")
    if not base.is_dir():
        base = Path("/tmp")
    path = base / "netwatch-live"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class HarnessUnavailable(Exception):
    """The machine cannot run live tests; ``str(exc)`` is the reason (for pytest.skip)."""


class HarnessError(Exception):
    """A harness step failed (namespace creation, a server that never answered...)."""


# --------------------------------------------------------------------------- commands


def ns_argv(ns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` prefixed so it runs in namespace ``ns`` (``None`` is the root namespace).

    ``ip netns exec`` calls setns() then execvp(), so the pid of the returned process IS
    the pid of the program (no wrapper process in between).
    """
    if ns is None:
        return list(argv)
    return ["ip", "netns", "exec", ns, *argv]


def run(ns: str | None, argv: Sequence[str], **popen_kw: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` in namespace ``ns``; output captured, 60 s timeout unless given."""
    popen_kw.setdefault("timeout", DEFAULT_TIMEOUT)
    if "stdout" not in popen_kw and "stderr" not in popen_kw:
        popen_kw.setdefault("capture_output", True)
    return subprocess.run(ns_argv(ns, argv), check=popen_kw.pop("check", False), **popen_kw)


def popen(ns: str | None, argv: Sequence[str], **popen_kw: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` in namespace ``ns``; the caller owns the process."""
    return subprocess.Popen(ns_argv(ns, argv), **popen_kw)


def _ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", *args] if ns is None else ["ip", "-n", ns, *args]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if res.returncode != 0:
        raise HarnessError(f"{' '.join(argv)}: {res.stderr.strip()}")


def _quiet(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)


# --------------------------------------------------------------------------- checks

_PROBED: list[str | None] = []


def require_netns() -> None:
    """Raise HarnessUnavailable unless we are root and ``ip netns`` really works here."""
    if _PROBED:
        if _PROBED[0] is not None:
            raise HarnessUnavailable(_PROBED[0])
        return
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "live tests need root (network namespaces)"
    elif shutil.which("ip") is None:
        reason = "iproute2 `ip` not found"
    else:
        stem = secrets.token_hex(3)
        lock = _try_lock(_lock_dir() / f"{PREFIX}{stem}.lock")
        probe = f"{PREFIX}{stem}-p"
        res = _quiet("ip", "netns", "add", probe)
        if res.returncode != 0:
            reason = f"`ip netns add` failed: {res.stderr.strip()}"
        else:
            res = _quiet("ip", "netns", "exec", probe, "ip", "link", "set", "lo", "up")
            if res.returncode != 0:
                reason = f"`ip netns exec` failed: {res.stderr.strip()}"
            _quiet("ip", "netns", "del", probe)
        with contextlib.suppress(FileNotFoundError):
            (_lock_dir() / f"{PREFIX}{stem}.lock").unlink()
        if lock is not None:
            lock.close()
    _PROBED.append(reason)
    if reason is not None:
        raise HarnessUnavailable(reason)


# --------------------------------------------------------------------------- locks


def _try_lock(path: Path) -> IO[bytes] | None:
    """An open file holding an exclusive flock on ``path``, or None if someone holds it."""
    fh = path.open("a+b")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fh


def _root_v4_indexes() -> set[int]:
    """Subnet indexes already configured in the root namespace (by anything)."""
    res = _quiet("ip", "-4", "-o", "addr", "show")
    used: set[int] = set()
    for word in res.stdout.split():
        if word.startswith(V4_BASE + "."):
            parts = word.split("/")[0].split(".")
            if len(parts) == 4 and parts[2].isdigit():
                used.add(int(parts[2]))
    return used


def _allocate_subnet() -> tuple[int, IO[bytes]]:
    busy = _root_v4_indexes()
    start = secrets.randbelow(254)
    for step in range(254):
        index = (start + step) % 254 + 1
        if index in busy:
            continue
        fh = _try_lock(_lock_dir() / f"subnet-{index}.lock")
        if fh is not None:
            return index, fh
    raise HarnessError("no free 198.18.x.0/24 test subnet (254 pairs in use?)")


# --------------------------------------------------------------------------- pairs


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a veth: its namespace (None = root), interface and addresses."""

    ns: str | None
    ifname: str
    ip4: str
    ip6: str
    extra_ip4: tuple[str, ...] = ()
    extra_ip6: tuple[str, ...] = ()

    @property
    def ip4s(self) -> tuple[str, ...]:
        return (self.ip4, *self.extra_ip4)

    @property
    def ip6s(self) -> tuple[str, ...]:
        return (self.ip6, *self.extra_ip6)

    def run(self, argv: Sequence[str], **popen_kw: Any) -> subprocess.CompletedProcess[Any]:
        return run(self.ns, argv, **popen_kw)

    def popen(self, argv: Sequence[str], **popen_kw: Any) -> subprocess.Popen[Any]:
        return popen(self.ns, argv, **popen_kw)


@dataclass(slots=True)
class Pair:
    """A client side and a server side joined by one veth; ``close()`` removes everything."""

    kind: str  # "netpair" or "rootpair"
    stem: str  # the random part shared by every name this pair owns
    index: int  # the x in 198.18.x.0/24
    client: Side
    server: Side
    namespaces: tuple[str, ...]  # the namespaces this pair created (never the root)
    _locks: list[IO[bytes]] = field(default_factory=list, repr=False)
    closed: bool = False

    @property
    def subnet4(self) -> str:
        return f"{V4_BASE}.{self.index}.0/24"

    @property
    def subnet6(self) -> str:
        return f"{V6_BASE}:{self.index:x}::/64"

    def close(self) -> None:
        """Kill what runs inside our namespaces, delete them and the veth. Idempotent."""
        if self.closed:
            return
        self.closed = True
        _LIVE.pop(self.stem, None)
        for ns in self.namespaces:
            _destroy_namespace(ns)
        if self.client.ns is None:  # rootpair: the root end normally died with its peer
            with contextlib.suppress(HarnessError):
                if _link_exists(self.client.ifname):
                    _ip("link", "del", self.client.ifname)
        lock_path = _lock_dir() / f"{PREFIX}{self.stem}.lock"
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()
        for fh in self._locks:
            fh.close()
        self._locks.clear()


_LIVE: dict[str, Pair] = {}


def _close_all_at_exit() -> None:
    for pair in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            pair.close()


atexit.register(_close_all_at_exit)


def _link_exists(ifname: str) -> bool:
    return _quiet("ip", "link", "show", "dev", ifname).returncode == 0


def _ns_pids(ns: str) -> list[int]:
    res = _quiet("ip", "netns", "pids", ns)
    return [int(w) for w in res.stdout.split() if w.isdigit()]


def _destroy_namespace(ns: str) -> None:
    """SIGKILL every process still inside ``ns`` then delete it; failures are ignored."""
    for pid in _ns_pids(ns):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _quiet("ip", "netns", "del", ns)


def _addr_plan(index: int, second_pair: bool) -> tuple[Side, Side, list[str], list[str]]:
    v4 = f"{V4_BASE}.{index}."
    v6 = f"{V6_BASE}:{index:x}::"
    c4, s4 = [v4 + "1"], [v4 + "2"]
    c6, s6 = [v6 + "1"], [v6 + "2"]
    if second_pair:
        c4.append(v4 + "3")
        s4.append(v4 + "4")
        c6.append(v6 + "3")
        s6.append(v6 + "4")
    placeholder = Side(None, "", c4[0], c6[0], tuple(c4[1:]), tuple(c6[1:]))
    server = Side(None, "", s4[0], s6[0], tuple(s4[1:]), tuple(s6[1:]))
    return placeholder, server, c4 + c6, s4 + s6


def _configure(ifname: str, addrs: list[str], ns: str | None) -> None:
    if ns is not None:
        _ip("link", "set", "lo", "up", ns=ns)
        _quiet("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=0")
    else:
        _quiet("sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=0")
    for addr in addrs:
        if ":" in addr:
            _ip("addr", "add", f"{addr}/64", "dev", ifname, "nodad", ns=ns)
        else:
            _ip("addr", "add", f"{addr}/24", "dev", ifname, ns=ns)
    _ip("link", "set", ifname, "up", ns=ns)


def _build(kind: str, second_pair: bool) -> Pair:
    require_netns()
    stem = secrets.token_hex(3)
    own = _try_lock(_lock_dir() / f"{PREFIX}{stem}.lock")
    if own is None:  # 16M stems: only a collision with a live run gets here
        raise HarnessError(f"namespace stem {stem} is in use")
    index, subnet_lock = _allocate_subnet()
    c_side, s_side, c_addrs, s_addrs = _addr_plan(index, second_pair)
    c_if, s_if = f"{PREFIX}{stem}-c", f"{PREFIX}{stem}-s"
    s_ns = f"{PREFIX}{stem}-s"
    c_ns = f"{PREFIX}{stem}-c" if kind == "netpair" else None
    namespaces = tuple(n for n in (c_ns, s_ns) if n is not None)
    pair = Pair(
        kind=kind,
        stem=stem,
        index=index,
        client=Side(c_ns, c_if, c_side.ip4, c_side.ip6, c_side.extra_ip4, c_side.extra_ip6),
        server=Side(s_ns, s_if, s_side.ip4, s_side.ip6, s_side.extra_ip4, s_side.extra_ip6),
        namespaces=namespaces,
        _locks=[own, subnet_lock],
    )
    _LIVE[stem] = pair
    try:
        for ns in namespaces:
            _ip("netns", "add", ns)
        if c_ns is None:
            _ip("link", "add", c_if, "type", "veth", "peer", "name", s_if, "netns", s_ns)
        else:
            _ip("link", "add", c_if, "netns", c_ns, "type", "veth", "peer", "name", s_if,
                "netns", s_ns)  # fmt: skip
        _configure(c_if, c_addrs, c_ns)
        _configure(s_if, s_addrs, s_ns)
    except BaseException:
        pair.close()
        raise
    return pair


@contextlib.contextmanager
def make_netpair(second_pair: bool = False) -> Iterator[Pair]:
    """Two fresh namespaces (client, server) joined by a veth; removed on exit."""
    pair = _build("netpair", second_pair)
    try:
        yield pair
    finally:
        pair.close()


@contextlib.contextmanager
def make_rootpair(second_pair: bool = False) -> Iterator[Pair]:
    """The root namespace (client side, 198.18.x.1) and a server namespace (198.18.x.2)."""
    pair = _build("rootpair", second_pair)
    try:
        yield pair
    finally:
        pair.close()


# --------------------------------------------------------------------------- sweeping


def _stem_of(name: str) -> str | None:
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    stem = rest.split("-", 1)[0]
    return stem or None


def _owner_alive(stem: str) -> bool:
    """True while some process holds the stem's lock (or we own it in this process)."""
    if stem in _LIVE:
        return True
    path = _lock_dir() / f"{PREFIX}{stem}.lock"
    if not path.exists():
        return False
    fh = _try_lock(path)
    if fh is None:
        return True
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fh.close()
    return False


def list_namespaces() -> list[str]:
    res = _quiet("ip", "netns", "list")
    return [line.split()[0] for line in res.stdout.splitlines() if line.strip()]


def _root_links() -> list[str]:
    res = _quiet("ip", "-o", "link", "show")
    names: list[str] = []
    for line in res.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def sweep_stale() -> list[str]:
    """Remove ``nwt-*`` namespaces and root veths left by dead runs; returns what went."""
    removed: list[str] = []
    for ns in list_namespaces():
        stem = _stem_of(ns)
        if stem is None or _owner_alive(stem):
            continue
        _destroy_namespace(ns)
        removed.append(ns)
    for link in _root_links():
        stem = _stem_of(link)
        if stem is None or _owner_alive(stem):
            continue
        if _quiet("ip", "link", "del", link).returncode == 0:
            removed.append(link)
    return removed
