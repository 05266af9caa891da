from __future__ import annotations

from pathlib import Path

from netwatch.attribution.ebpf import prereq

HYBRID = """tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V1_ONLY = "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"


def write(tmp: Path, name: str, text: str) -> str:
    p = tmp / name
    p.write_text(text)
    return str(p)


def test_caps() -> None:
    full = (1 << 41) - 1
    assert prereq.missing_caps(full) == []
    assert prereq.missing_caps(1 << prereq.CAP_SYS_ADMIN) == []
    no_bpf = (1 << prereq.CAP_PERFMON) | (1 << prereq.CAP_NET_ADMIN)
    assert prereq.missing_caps(no_bpf) == ["CAP_BPF"]
    assert prereq.missing_caps(0) == ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"]


def test_cgroup2_root(tmp_path: Path) -> None:
    assert prereq.cgroup2_root(write(tmp_path, "m1", HYBRID)) == "/sys/fs/cgroup/unified"
    unified = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ncgroup2 /x cgroup2 rw 0 0\n"
    assert prereq.cgroup2_root(write(tmp_path, "m2", unified)) == "/sys/fs/cgroup"
    assert prereq.cgroup2_root(write(tmp_path, "m3", V1_ONLY)) is None
    assert prereq.cgroup2_root(str(tmp_path / "missing")) is None


def test_problems_name_the_fix(tmp_path: Path) -> None:
    status = write(tmp_path, "status", "Name:\tpython3\nCapEff:\t0000000000000000\n")
    mounts = write(tmp_path, "mounts", V1_ONLY)
    out = prereq.problems(str(tmp_path / "no-btf"), status, mounts)
    assert len(out) == 3
    assert "CONFIG_DEBUG_INFO_BTF=y" in out[0]
    assert "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN" in out[1] and "setcap" in out[1]
    assert "mount -t cgroup2" in out[2]
    ok_status = write(tmp_path, "status2", "CapEff:\t000001ffffffffff\n")
    btf = write(tmp_path, "btf", "")
    assert prereq.problems(btf, ok_status, write(tmp_path, "m", HYBRID)) == []
