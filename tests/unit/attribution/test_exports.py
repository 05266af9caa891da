from __future__ import annotations

import netwatch.attribution as attribution


def test_public_surface() -> None:
    assert sorted(attribution.__all__) == [
        "BackendUnavailable", "FakeResolver", "ProcessResolver", "Resolved",
        "choose_resolver", "diagnose_host", "parse_cgroup", "platform_chain",
    ]  # fmt: skip
    for name in attribution.__all__:
        assert getattr(attribution, name) is not None


def test_importing_the_package_loads_no_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys, netwatch.attribution; "
        "print(sorted(m for m in sys.modules if m.startswith('netwatch.attribution.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout
    for heavy in ("ebpf.libbpf", "sockdiag", "psutil_backend", "lsof"):
        assert f"netwatch.attribution.{heavy}'" not in loaded
