from __future__ import annotations

import pytest

from netwatch.attribution.container import CONTAINER_RULES, parse_cgroup
from netwatch.model.process import ContainerInfo

CID = "4f3c8a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdde"
CID2 = "9a8b7c6d5e4f30211f2e3d4c5b6a79881726354453627180abcdefabcdefabcd"

CASES = [
    # docker, systemd cgroup driver, cgroup v2
    (f"0::/system.slice/docker-{CID}.scope\n", ContainerInfo("docker", CID)),
    # docker, cgroupfs driver, cgroup v1 (several hierarchies)
    (
        f"12:memory:/docker/{CID}\n11:cpu,cpuacct:/docker/{CID}\n0::/\n",
        ContainerInfo("docker", CID),
    ),
    # podman rootless
    (
        f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{CID}.scope\n",
        ContainerInfo("podman", CID),
    ),
    # containerd outside kubernetes
    (f"0::/system.slice/containerd.service/containerd/{CID}\n", ContainerInfo("containerd", CID)),
    # kubernetes, systemd driver: the pod uid uses '_' in the slice name
    (
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
        f"pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-{CID2}.scope\n",
        ContainerInfo("kubernetes", CID2, "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"),
    ),
    # kubernetes, cgroupfs driver, cgroup v1
    (
        f"4:memory:/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/{CID2}\n",
        ContainerInfo("kubernetes", CID2, "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"),
    ),
    # cri-o
    (f"0::/machine.slice/crio-{CID}.scope\n", ContainerInfo("cri-o", CID)),
]


@pytest.mark.parametrize(("text", "want"), CASES)
def test_container_runtimes(text: str, want: ContainerInfo) -> None:
    assert parse_cgroup(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "0::/\n",
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        "4:memory:/process_api/0039ad453d99e1b0ef782e031525d17c\n0::/\n",
        "",
        "garbage without colons",
        f"0::/system.slice/docker-{CID[:-1]}.scope\n",  # 63 hex digits: not an id
    ],
)
def test_host_processes_have_no_container(text: str) -> None:
    assert parse_cgroup(text) is None


def test_rules_are_a_table() -> None:
    runtimes = {r for r, _ in CONTAINER_RULES}
    assert {"docker", "podman", "containerd", "kubernetes"} <= runtimes
