"""netwatch: a terminal network monitor and recorder.

The public surface is deliberately small; everything else lives in private-by-convention
modules that may change between releases. ``tests/unit/test_exported_members.py`` checks
this list.
"""

from netwatch.errors import CaptureError, DecodeError, MalformedError, NetwatchError

__version__ = "0.1.0"

__all__ = [
    "CaptureError",
    "DecodeError",
    "MalformedError",
    "NetwatchError",
    "__version__",
]
