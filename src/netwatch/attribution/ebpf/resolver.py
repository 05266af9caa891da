"""The eBPF attribution backend: loads ``netwatch_attrib.bpf.o`` and folds its events.

start():  check prerequisites -> open + load the CO-RE object (optional programs are
          dropped and noted if this kernel refuses them) -> attach the cgroup programs to
          the cgroup v2 root and the tracepoints -> open the ring buffer -> walk the
          existing sockets once with the task_file iterator.
refresh(): ``ring_buffer__consume`` (never blocks), decode, fold into
          :class:`KernelState`, enrich new owners from /proc while they are alive.
lookup():  dict probes only.
"""

from __future__ import annotations

import ctypes
import os
import re
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from netwatch.attribution.base import BackendUnavailable, Resolved
from netwatch.attribution.ebpf import prereq
from netwatch.attribution.ebpf.events import decode_event, split_records
from netwatch.attribution.ebpf.libbpf import SAMPLE_FN, LibBpf, check_int, check_ptr
from netwatch.attribution.ebpf.state import KernelState
from netwatch.attribution.procfs import ProcReader, full_name, user_name
from netwatch.attribution.table import Endpoint
from netwatch.errors import MalformedError
from netwatch.model.process import Attribution, ProcessInfo

OBJECT_NAME = "netwatch_attrib.bpf.o"
PRUNE_EVERY = 5.0
CGROUP_PROGRAMS = ("nw_connect4", "nw_connect6", "nw_sendmsg4", "nw_sendmsg6",
                   "nw_post_bind4", "nw_post_bind6")  # fmt: skip
TRACE_PROGRAMS = ("nw_set_state", "nw_send_length")
ITER_PROGRAM = "nw_iter"
#: Programs the backend can do without (older kernels): dropped with a note.
OPTIONAL = frozenset({"nw_send_length", "nw_iter", "nw_sendmsg4", "nw_sendmsg6",
                      "nw_post_bind4", "nw_post_bind6"})  # fmt: skip


def find_object() -> str | None:
    """The compiled object: $NETWATCH_BPF_OBJECT, package data, or the source tree."""
    env = os.environ.get("NETWATCH_BPF_OBJECT")
    here = Path(__file__).resolve()
    candidates = [
        Path(env) if env else None,
        here.parents[2] / "data" / OBJECT_NAME,
        here.parents[4] / "ebpf" / OBJECT_NAME,
    ]
    for c in candidates:
        if c is not None and c.is_file():
            return str(c)
    return None


#: What the backend cannot see without each optional program (for the diagnose note).
LOST_WITHOUT = {
    "nw_send_length": "UDP sockets bound implicitly by their first send are not attributed",
    "nw_iter": "sockets opened before start are not attributed",
    "nw_sendmsg4": "unconnected UDP over IPv4 is seen only after its first send",
    "nw_sendmsg6": "unconnected UDP over IPv6 is seen only after its first send",
    "nw_post_bind4": "IPv4 servers are seen only once they listen or send",
    "nw_post_bind6": "IPv6 servers are seen only once they listen or send",
}
_REFUSED = re.compile(r"prog '(\w+)': (?:BPF program load failed|failed to load)")


class ProgramFailed(OSError):
    """One program could not be attached; ``program`` names it."""

    def __init__(self, err: int, program: str, what: str) -> None:
        super().__init__(err, f"{what} {program}: {os.strerror(err)}")
        self.program = program


def check_program(ptr: int | None, program: str, what: str) -> int:
    if not ptr:
        raise ProgramFailed(ctypes.get_errno() or 1, program, what)
    return ptr


def failed_programs(log: Iterable[str]) -> set[str]:
    """Programs libbpf's log says the verifier or the kernel refused."""
    return {m.group(1) for line in log for m in _REFUSED.finditer(line)}


def _program_of(exc: OSError) -> set[str]:
    return {exc.program} if isinstance(exc, ProgramFailed) else set()


class EbpfResolver:
    """Kernel-event attribution (Linux, BTF, CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN)."""

    name = "ebpf"

    def __init__(self, obj_path: str | None = None, proc_root: str = "/proc") -> None:
        self.obj_path = obj_path
        self.proc = ProcReader(proc_root)
        self.state = KernelState()
        self.notes: list[str] = []
        self.malformed = 0
        self.lost = 0
        self._bpf: LibBpf | None = None
        self._obj: int | None = None
        self._links: list[int] = []
        self._rb: int | None = None
        self._lost_fd = -1
        self._pending: list[bytes] = []
        self._cb = SAMPLE_FN(self._on_sample)
        self._enriched: dict[int, ProcessInfo] = {}
        self._last_expire = 0.0
        self._last_prune = 0.0
        self._dead: dict[int, float] = {}

    # ---- libbpf plumbing -------------------------------------------------------------

    def _on_sample(self, _ctx: int | None, data: int | None, size: int) -> int:
        if data:
            self._pending.append(ctypes.string_at(data, size))
        return 0

    def _open(self, bpf: LibBpf, path: str, skip: set[str]) -> int:
        obj = check_ptr(bpf.bpf_object__open_file(path.encode(), None), f"open {path}")
        for name in skip:
            prog = bpf.bpf_object__find_program_by_name(obj, name.encode())
            if prog:
                bpf.bpf_program__set_autoload(prog, False)
        if bpf.bpf_object__load(obj) < 0:
            err = ctypes.get_errno()
            bpf.bpf_object__close(obj)
            raise OSError(err, "load: " + " | ".join(list(bpf.log)[-3:]))
        return obj

    def start(self) -> None:
        problems = prereq.problems()
        if problems:
            reasons = "; ".join(p.removeprefix("ebpf: ") for p in problems)
            raise BackendUnavailable(self.name, reasons)
        path = self.obj_path or find_object()
        if path is None:
            raise BackendUnavailable(
                self.name, f"{OBJECT_NAME} not found: rebuild it with `make -C ebpf`"
            )
        try:
            self._bpf = bpf = LibBpf()
        except OSError as exc:
            raise BackendUnavailable(
                self.name,
                f"libbpf.so.1 not loadable ({exc}): "
                "install libbpf1 (Debian/Ubuntu) or libbpf (Fedora)",
            ) from exc
        skipped: set[str] = set()
        try:
            while True:
                bpf.log.clear()
                try:
                    self._obj = self._open(bpf, path, skipped)
                    self._attach(bpf, skipped)
                    break
                except OSError as exc:
                    refused = (failed_programs(bpf.log) | _program_of(exc)) - skipped
                    self._unload()
                    if not refused or not refused <= OPTIONAL:
                        raise
                    skipped |= refused
            if skipped:
                self.notes.append(
                    "ebpf: this kernel refused " + ", ".join(sorted(skipped)) + "; running "
                    "without them (" + ", ".join(LOST_WITHOUT[n] for n in sorted(skipped)) + ")"
                )
        except OSError as exc:
            self.close()
            raise BackendUnavailable(self.name, f"{exc.strerror or exc}") from exc
        if ITER_PROGRAM not in skipped:
            try:
                self._walk_existing(bpf)
            except OSError as exc:
                self.notes.append(f"ebpf: start-up socket walk failed ({exc}): "
                                  "sockets opened before start are not attributed")  # fmt: skip
        self.refresh()

    def _prog(self, bpf: LibBpf, name: str) -> int:
        return check_ptr(bpf.bpf_object__find_program_by_name(self._obj, name.encode()), name)

    def _attach(self, bpf: LibBpf, skipped: set[str]) -> None:
        root = prereq.cgroup2_root()
        assert root is not None  # prereq.problems() checked it
        cg = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in CGROUP_PROGRAMS:
                if name not in skipped:
                    link = bpf.bpf_program__attach_cgroup(self._prog(bpf, name), cg)
                    self._links.append(check_program(link, name, f"attach to {root}"))
        finally:
            os.close(cg)
        for name in TRACE_PROGRAMS:
            if name not in skipped:
                link = bpf.bpf_program__attach(self._prog(bpf, name))
                self._links.append(check_program(link, name, "attach"))
        events = check_ptr(bpf.bpf_object__find_map_by_name(self._obj, b"events"), "events")
        self._rb = check_ptr(
            bpf.ring_buffer__new(bpf.bpf_map__fd(events), self._cb, None, None), "ring buffer"
        )
        lost = check_ptr(bpf.bpf_object__find_map_by_name(self._obj, b"lost"), "lost map")
        self._lost_fd = bpf.bpf_map__fd(lost)

    def _walk_existing(self, bpf: LibBpf) -> None:
        link = check_ptr(bpf.bpf_program__attach_iter(self._prog(bpf, ITER_PROGRAM), None),
                         "attach iterator")  # fmt: skip
        try:
            fd = check_int(bpf.bpf_iter_create(bpf.bpf_link__fd(link)), "bpf_iter_create")
            chunks: list[bytes] = []
            try:
                while chunk := os.read(fd, 1 << 16):
                    chunks.append(chunk)
            finally:
                os.close(fd)
        finally:
            bpf.bpf_link__destroy(link)
        try:
            self._pending.extend(split_records(b"".join(chunks)))
        except MalformedError:
            self.malformed += 1

    # ---- the resolver contract -------------------------------------------------------

    def refresh(self) -> None:
        if self._bpf is None or self._rb is None:
            return
        self._bpf.ring_buffer__consume(self._rb)
        pending, self._pending = self._pending, []
        now = time.monotonic()
        fresh: set[int] = set()
        for raw in pending:
            try:
                ev = decode_event(raw)
            except MalformedError:
                self.malformed += 1
                continue
            self.state.apply(ev, now)
            if ev.tgid and ev.tgid not in self._enriched:
                fresh.add(ev.tgid)
        for pid in fresh:  # read /proc now, while a short-lived process may still exist
            info = self.proc.info(pid)
            if info is not None:
                self._enriched[pid] = info
        if now - self._last_expire >= 1.0:
            self._last_expire = now
            self.state.expire(now)
            self._read_lost()
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            self.prune_dead(now)

    def prune_dead(self, now: float) -> int:
        """Forget the sockets of processes dead for ``grace`` seconds; how many went.

        UDP sockets have no close event: without this their entries would outlive their
        owners. The grace keeps a short-lived client (dig) nameable for a while.
        """
        root = self.proc.root
        for pid in self.state.table.pids():
            if pid not in self._dead and not os.path.exists(f"{root}/{pid}"):
                self._dead[pid] = now
        expired = {pid for pid, t in self._dead.items() if now - t >= self.state.grace}
        if not expired:
            return 0
        removed = self.state.table.prune(expired)
        for pid in expired:
            del self._dead[pid]
            self.state.by_pid.pop(pid, None)
            self._enriched.pop(pid, None)
        return removed

    def poll(self, timeout_ms: int) -> None:
        """Block until kernel events arrive (or ``timeout_ms``), then fold them in.

        Optional, for an engine thread dedicated to attribution: with events handled
        within a millisecond, /proc is read while a 10 ms curl still exists, so it gets
        its executable and command line, not only the kernel's 16-byte comm. ctypes
        releases the GIL during the wait. Call it from one thread only (as ``refresh``).
        """
        if self._bpf is None or self._rb is None:
            return
        self._bpf.ring_buffer__poll(self._rb, timeout_ms)
        self.refresh()

    def _read_lost(self) -> None:
        if self._bpf is None or self._lost_fd < 0:
            return
        key = ctypes.c_uint32(0)
        val = ctypes.c_uint64(0)
        if self._bpf.bpf_map_lookup_elem(self._lost_fd, ctypes.byref(key), ctypes.byref(val)) == 0:
            self.lost = val.value

    def process(self, pid: int) -> ProcessInfo | None:
        """/proc now; else what was read while it lived; else the kernel's own record."""
        owner = self.state.by_pid.get(pid)
        info = self.proc.info(pid)
        if info is not None:
            if not info.cmdline and owner is not None and owner.args:
                # Read as it exited (a zombie's /proc/PID/cmdline is empty): keep the
                # argv the kernel recorded at connect time rather than lose it.
                info = replace(info, cmdline=owner.args)
            if info.cmdline or pid not in self._enriched:
                self._enriched[pid] = info
            else:
                info = self._enriched[pid]  # an earlier, fuller read of the same process
            return info
        info = self._enriched.get(pid)
        if info is not None:
            return info
        if owner is None:
            return None
        return ProcessInfo(
            pid=pid,
            name=full_name(owner.comm, owner.exe_name, owner.args),
            cmdline=owner.args,
            user=user_name(owner.uid),
            uid=owner.uid,
            ppid=owner.ppid,
            ancestors=self.proc.ancestors(owner.ppid),
        )

    def lookup(self, proto: str, local: Endpoint, remote: Endpoint) -> Resolved | None:
        hit = self.state.lookup(proto, local, remote)
        if hit is None:
            return None
        info = self.process(hit[0])
        if info is None:
            return None
        return info, Attribution(self.name, hit[1])

    def diagnose(self) -> list[str]:
        out = list(self.notes)
        if self.lost:
            out.append(f"ebpf: {self.lost} kernel events lost (ring buffer full)")
        if self.malformed:
            out.append(f"ebpf: {self.malformed} malformed kernel records")
        return out

    def _unload(self) -> None:
        bpf = self._bpf
        if bpf is None:
            return
        if self._rb:
            bpf.ring_buffer__free(self._rb)
            self._rb = None
        for link in self._links:
            bpf.bpf_link__destroy(link)
        self._links.clear()
        if self._obj:
            bpf.bpf_object__close(self._obj)
            self._obj = None

    def close(self) -> None:
        self._unload()
        self._bpf = None
