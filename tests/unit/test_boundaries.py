"""Architecture checks that need no tool: the pure core loads no UI, and the public surface."""

from __future__ import annotations

import subprocess
import sys

import netwatch

CORE = [
    "netwatch.model",
    "netwatch.decode",
    "netwatch.reassembly",
    "netwatch.dpi.registry",
    "netwatch.flows.tracker",
    "netwatch.flows.view",
    "netwatch.filters",
]


def test_core_imports_no_ui_or_io_layers() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')"
        " or m.startswith(('netwatch.tui', 'netwatch.engine', 'netwatch.store',"
        " 'netwatch.attribution', 'netwatch.export', 'netwatch.metrics'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_exported_members() -> None:
    assert sorted(netwatch.__all__) == sorted(
        ["CaptureError", "DecodeError", "MalformedError", "NetwatchError", "__version__"]
    )
    for name in netwatch.__all__:
        assert hasattr(netwatch, name)
