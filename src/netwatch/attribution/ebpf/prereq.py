"""What the eBPF backend needs from the host, each check with the exact fix.

* BTF: ``/sys/kernel/btf/vmlinux`` (CONFIG_DEBUG_INFO_BTF=y) for CO-RE relocation and
  ``tp_btf`` programs.
* Capabilities (capabilities(7)): CAP_BPF (39) to load programs and create maps,
  CAP_PERFMON (38) for tracing programs reading kernel memory, CAP_NET_ADMIN (12) to attach
  to a cgroup; CAP_SYS_ADMIN (21) stands in for all of them on any kernel.
* A cgroup v2 hierarchy to attach the sock_addr programs to (its root covers every task).
"""

from __future__ import annotations

import os

BTF_PATH = "/sys/kernel/btf/vmlinux"
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39


def effective_caps(status_path: str = "/proc/self/status") -> int:
    try:
        with open(status_path, encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def missing_caps(caps: int) -> list[str]:
    """Names of the capabilities the eBPF backend lacks (empty when it has enough)."""
    if caps & (1 << CAP_SYS_ADMIN):
        return []
    need = {"CAP_BPF": CAP_BPF, "CAP_PERFMON": CAP_PERFMON, "CAP_NET_ADMIN": CAP_NET_ADMIN}
    return [name for name, bit in need.items() if not caps & (1 << bit)]


def cgroup2_root(mounts_path: str = "/proc/self/mounts") -> str | None:
    """The mount point of the cgroup v2 hierarchy (unified or hybrid layout), or None."""
    found: list[str] = []
    try:
        with open(mounts_path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == "cgroup2":
                    found.append(parts[1])
    except OSError:
        return None
    if not found:
        return None
    # Prefer the conventional places; a container may have several bind mounts.
    for preferred in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if preferred in found:
            return preferred
    return found[0]


def problems(
    btf_path: str = BTF_PATH,
    status_path: str = "/proc/self/status",
    mounts_path: str = "/proc/self/mounts",
) -> list[str]:
    """Every reason the eBPF backend cannot load here, each with its fix; empty if none."""
    out: list[str] = []
    if not os.path.exists(btf_path):
        out.append(
            f"ebpf: no kernel BTF ({btf_path} missing): use a kernel built with "
            "CONFIG_DEBUG_INFO_BTF=y (every major distribution since 2020 ships one)"
        )
    lacking = missing_caps(effective_caps(status_path))
    if lacking:
        out.append(
            "ebpf: missing " + ", ".join(lacking) + ": run as root, or "
            "`sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep $(readlink -f $(which python3))`"
        )
    if cgroup2_root(mounts_path) is None:
        out.append(
            "ebpf: no cgroup v2 hierarchy mounted: `mount -t cgroup2 none /sys/fs/cgroup` "
            "(or boot with systemd.unified_cgroup_hierarchy=1)"
        )
    return out
