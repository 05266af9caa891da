"""The committed BPF objects must be built from the committed sources."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EBPF = Path(__file__).resolve().parents[3] / "ebpf"


def test_objects_match_recorded_source_hashes() -> None:
    lines = (EBPF / "SOURCES.sha256").read_text().splitlines()
    recorded = {name: digest for digest, name in (line.split() for line in lines)}
    sources = [*sorted(p.name for p in EBPF.iterdir() if p.suffix in (".c", ".h")), "Makefile"]
    assert sorted(recorded) == sorted(sources), "run `make -C ebpf` and commit"
    for name in sources:
        digest = hashlib.sha256((EBPF / name).read_bytes()).hexdigest()
        assert recorded[name] == digest, f"{name} changed since the objects were built"
    for src in EBPF.glob("*.bpf.c"):
        obj = src.with_suffix(".o")
        assert obj.is_file() and obj.stat().st_size > 0


@pytest.mark.skipif(
    not (shutil.which("clang") and shutil.which("bpftool") and shutil.which("llvm-strip")
         and os.path.exists("/sys/kernel/btf/vmlinux")),
    reason="needs clang, llvm-strip, bpftool and kernel BTF to rebuild",
)  # fmt: skip
def test_rebuild_reproduces_the_committed_object(tmp_path: Path) -> None:
    work = tmp_path / "ebpf"
    shutil.copytree(EBPF, work, ignore=shutil.ignore_patterns(".output", "*.o"))
    res = subprocess.run(["make", "-C", str(work)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    for obj in EBPF.glob("*.bpf.o"):
        rebuilt = (work / obj.name).read_bytes()
        if rebuilt != obj.read_bytes():
            # Same sources, different BTF or clang: the object may differ in its type
            # section only. The programs themselves must still be identical.
            assert _sections(work / obj.name) == _sections(obj), "run `make -C ebpf`"


def _sections(path: Path) -> dict[str, bytes]:
    out = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {"text": "\n".join(out.splitlines()[2:]).encode()}


def test_packaged_object_copies_are_current() -> None:
    """The package ships a copy of each CO-RE object (src/netwatch/data); it must be the same."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    objects = sorted((repo / "ebpf").glob("*.bpf.o"))
    assert objects
    for obj in objects:
        copy = repo / "src" / "netwatch" / "data" / obj.name
        assert copy.read_bytes() == obj.read_bytes(), f"{copy} differs: run make -C ebpf"
