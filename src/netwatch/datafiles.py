"""The package's bundled data files (``netwatch/data/``).

Read from next to this module: ``importlib.resources`` only when the package is not a
plain directory (a zip), because importing it costs ~20 ms of every command's start-up.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent / "data"


def read_bytes(name: str) -> bytes:
    """The bytes of ``netwatch/data/<name>``."""
    try:
        return (_HERE / name).read_bytes()
    except OSError:
        from importlib import resources

        return resources.files("netwatch").joinpath(f"data/{name}").read_bytes()


def path(name: str) -> Path:
    """A filesystem path of ``netwatch/data/<name>`` (for tools that open files)."""
    p = _HERE / name
    if p.exists():
        return p
    from importlib import resources

    return Path(str(resources.files("netwatch").joinpath(f"data/{name}")))
