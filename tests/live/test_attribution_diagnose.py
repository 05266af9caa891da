"""choose_resolver on this host, and again in a process stripped of CAP_BPF / CAP_PERFMON:
the fallback must happen, and diagnose() must name the missing capability and the fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from netwatch.attribution import choose_resolver, diagnose_host

pytestmark = pytest.mark.live

PROBE = (
    "import json; from netwatch.attribution import choose_resolver, diagnose_host; "
    "r = choose_resolver(); print(json.dumps([r.name, r.diagnose(), diagnose_host()])); "
    "r.close()"
)


@pytest.fixture
def root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def test_ebpf_is_chosen_with_full_privileges(root: None) -> None:
    problems = diagnose_host()
    resolver = choose_resolver()
    try:
        if problems:
            pytest.skip("this host cannot load eBPF: " + "; ".join(problems))
        assert resolver.name == "ebpf"
        assert resolver.diagnose() == []
    finally:
        resolver.close()


@pytest.mark.skipif(shutil.which("capsh") is None, reason="capsh (libcap2-bin) not installed")
def test_without_bpf_capabilities_sockdiag_takes_over_and_says_why(root: None) -> None:
    if diagnose_host():
        pytest.skip("eBPF unavailable here anyway")
    drop = "cap_bpf,cap_perfmon,cap_sys_admin"
    cmd = f"{sys.executable} -c '{PROBE}'"
    out = subprocess.run(
        ["capsh", f"--drop={drop}", "--", "-c", cmd],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    name, notes, host = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == "sockdiag"
    assert len(notes) == 1
    assert notes[0].startswith("ebpf: missing CAP_BPF, CAP_PERFMON")
    assert "setcap cap_bpf,cap_perfmon,cap_net_admin+ep" in notes[0]
    assert host == notes
