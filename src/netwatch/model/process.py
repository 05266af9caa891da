"""Who owns a socket: the process, its container, and how the match was made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """The container a process runs in, read from ``/proc/PID/cgroup``."""

    runtime: str  # docker | containerd | podman | kubernetes | lxc | systemd-nspawn
    id: str
    pod_uid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"runtime": self.runtime, "id": self.id}
        if self.pod_uid:
            out["pod_uid"] = self.pod_uid
        return out


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A process as netwatch shows it. ``ancestors`` is (pid, name) pairs, parent first."""

    pid: int
    name: str
    exe: str = ""
    cmdline: tuple[str, ...] = ()
    user: str = ""
    uid: int = -1
    ppid: int = 0
    ancestors: tuple[tuple[int, str], ...] = ()
    container: ContainerInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "exe": self.exe,
            "cmdline": list(self.cmdline),
            "user": self.user,
            "uid": self.uid,
            "ppid": self.ppid,
            "ancestors": [{"pid": p, "name": n} for p, n in self.ancestors],
            "container": self.container.to_dict() if self.container else None,
        }


@dataclass(frozen=True, slots=True)
class Attribution:
    """How a connection was tied to its process.

    ``source``: ebpf | sockdiag | procfs | psutil | lsof.
    ``match``: exact (the 5-tuple), wildcard (a socket bound to any address / unconnected
    UDP), listener (the listening socket of an accepted connection).
    """

    source: str
    match: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "match": self.match}
