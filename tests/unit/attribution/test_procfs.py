from __future__ import annotations

import os
from pathlib import Path

import pytest

from netwatch.attribution.inodes import InodeIndex
from netwatch.attribution.procfs import ProcReader, full_name, parse_stat
from netwatch.model.process import ContainerInfo


def test_parse_stat_with_parentheses_in_comm() -> None:
    line = "5000 (weird ) (name) S 4242 5000 5000 0 -1 4194560 1 0 0 0 1 2 0 0 20 0 1 0 1200 9"
    assert parse_stat(line) == ("weird ) (name", 4242, 1200)


@pytest.mark.parametrize("line", ["6000 (trunc", "1 (x) S 0 1", "no parens at all", ""])
def test_parse_stat_damaged(line: str) -> None:
    with pytest.raises(ValueError):
        parse_stat(line)


def test_full_name_only_when_truncated() -> None:
    assert full_name("python3", "/usr/bin/python3.11", ("python3",)) == "python3"
    long = "netwatch-thirty-char-name-proc"
    assert full_name(long[:15], "/usr/bin/python3.11", (f"/x/{long}", "-c")) == long
    assert full_name(long[:15], f"/opt/{long}", ()) == long
    # a truncated comm that matches nothing longer stays as it is
    assert full_name("Web Content_abc", "/usr/lib/firefox", ("firefox",)) == "Web Content_abc"


def test_process_from_fake_tree(fake_proc: Path) -> None:
    reader = ProcReader(str(fake_proc))
    info = reader.info(4242)
    assert info is not None
    assert info.name == "netwatch-thirty-char-name-proc"
    assert info.exe == "/opt/tools/netwatch-thirty-char-name-proc"  # " (deleted)" dropped
    assert info.cmdline == ("/opt/tools/netwatch-thirty-char-name-proc", "--serve")
    assert info.uid == 1000
    assert info.ppid == 400
    assert info.ancestors == ((400, "bash"), (1, "init"))
    assert info.container == ContainerInfo(
        "docker", "4f3c8a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdde"
    )


def test_kubernetes_process_and_odd_comm(fake_proc: Path) -> None:
    info = ProcReader(str(fake_proc)).info(5000)
    assert info is not None
    assert info.name == "weird ) (name"
    assert info.cmdline == ()
    assert info.user == "root"
    assert info.ancestors == ((4242, "netwatch-thirty"), (400, "bash"), (1, "init"))
    assert info.container is not None and info.container.runtime == "kubernetes"
    assert info.container.pod_uid == "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"


def test_ancestors_are_capped(fake_proc: Path) -> None:
    info = ProcReader(str(fake_proc), max_ancestors=1).info(5000)
    assert info is not None and info.ancestors == ((4242, "netwatch-thirty"),)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_gone_and_damaged_processes(fake_proc: Path) -> None:
    clock = Clock()
    reader = ProcReader(str(fake_proc), recheck=1.0, clock=clock)
    assert reader.info(6000) is None  # damaged stat
    assert reader.info(777) is None  # never existed
    alive = reader.info(4242)
    assert alive is not None
    (fake_proc / "4242" / "stat").unlink()  # exits
    clock.now += 0.5
    assert reader.info(4242) is alive  # confirmed alive 0.5 s ago: no /proc read
    clock.now += 1.0
    assert reader.info(4242) is None


def test_recycled_pid_is_reread(fake_proc: Path) -> None:
    clock = Clock()
    reader = ProcReader(str(fake_proc), recheck=1.0, clock=clock)
    first = reader.info(400)
    assert first is not None and first.name == "bash"
    stat = fake_proc / "400" / "stat"
    stat.write_text(stat.read_text().replace("(bash)", "(zsh)").replace(" 500 ", " 501 "))
    clock.now += 2
    second = reader.info(400)
    assert second is not None and second.name == "zsh"
    # same start time: served from the cache even if comm text changed (prctl rename)
    stat.write_text(stat.read_text().replace("(zsh)", "(renamed)"))
    clock.now += 2
    assert reader.info(400) is second


def test_inode_index_scans_and_updates_incrementally(fake_proc: Path) -> None:
    index = InodeIndex(str(fake_proc), count_by_stat=False)
    index.refresh(now=100.0)
    assert index.get(1111) == 4242
    assert index.get(2222) == 4242
    assert index.get(3333) == 5000
    assert index.get(4444) == 6000
    first = index.scanned_pids
    assert first == 5

    index.refresh(now=100.5)
    assert index.scanned_pids == first  # nothing changed: no pid rescanned

    os.symlink("socket:[5555]", fake_proc / "400" / "fd" / "3")  # bash opens a socket
    index.refresh(now=101.0)
    assert index.get(5555) == 400
    assert index.scanned_pids == first + 1  # only bash

    # 4242 swaps a socket for another, same fd count: found by the rate-limited full scan
    (fake_proc / "4242" / "fd" / "4").unlink()
    os.symlink("socket:[6666]", fake_proc / "4242" / "fd" / "4")
    index.refresh({6666}, now=101.5)  # within full_every of the first (full) pass
    assert index.get(6666) is None
    index.refresh({6666}, now=110.0)
    assert index.get(6666) == 4242
    assert index.get(2222) is None
    assert index.full_rescans == 1

    import shutil

    shutil.rmtree(fake_proc / "5000")  # exits
    index.refresh(now=111.0)
    assert index.get(3333) is None
