"""Which container a process runs in, from the paths in ``/proc/PID/cgroup``.

cgroup(7) gives one ``hierarchy-ID:controllers:path`` line per hierarchy (a single
``0::/path`` line on a pure cgroup v2 host). Runtimes name their cgroups after the
container id, so the path alone tells the runtime and the id:

    0::/system.slice/docker-4f3c...e1.scope                       docker (systemd driver)
    12:memory:/docker/4f3c...e1                                   docker (cgroupfs driver)
    0::/kubepods.slice/kubepods-burstable.slice/
        kubepods-burstable-pod1b2c_3d4e.slice/cri-containerd-9a8b...c7.scope
                                                                  kubernetes pod 1b2c-3d4e
    0::/user.slice/.../libpod-77aa...31.scope                     podman

The rules are a table (first match wins, most specific first) so tests and docs can list
them.
"""

from __future__ import annotations

import re

from netwatch.model.process import ContainerInfo

_ID = r"([0-9a-f]{64})"

#: (runtime, pattern with the container id as group 1). Checked in order.
CONTAINER_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("podman", re.compile(r"libpod-" + _ID)),
    ("podman", re.compile(r"/libpod_parent/libpod-" + _ID)),
    ("containerd", re.compile(r"cri-containerd-" + _ID)),
    ("cri-o", re.compile(r"crio-" + _ID)),
    ("docker", re.compile(r"docker-" + _ID + r"\.scope")),
    ("docker", re.compile(r"/docker/" + _ID)),
    ("containerd", re.compile(r"/containerd/" + _ID)),
    ("kubernetes", re.compile(r"/kubepods/(?:[a-z]+/)?pod[0-9a-f-]+/" + _ID)),
    ("lxc", re.compile(r"/lxc(?:\.payload)?[./]([A-Za-z0-9_.-]+)")),
    ("systemd-nspawn", re.compile(r"/machine\.slice/machine-([A-Za-z0-9_\\.-]+)\.scope")),
)

# kubepods-besteffort-pod1b2c3d4e_5f6a_....slice (systemd) or /kubepods/burstable/pod<uid>/
_POD = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


def parse_cgroup(text: str) -> ContainerInfo | None:
    """The container named by a ``/proc/PID/cgroup`` text, or None on the host."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if path in ("", "/"):
            continue
        for runtime, pattern in CONTAINER_RULES:
            m = pattern.search(path)
            if m is None:
                continue
            pod = _POD.search(path)
            if pod is not None:
                # A pod's containers are created by a CRI runtime; the pod is what the
                # user knows, so call it kubernetes and keep the pod uid.
                return ContainerInfo("kubernetes", m.group(1), pod.group(1).replace("_", "-"))
            return ContainerInfo(runtime, m.group(1))
    return None
