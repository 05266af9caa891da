"""The project's exceptions.

Malformed input raises one of these with a reason; the analyzer or decoder boundary
catches it and counts it (per protocol / per reason). Nothing else should escape the
per-packet pipeline. User-facing errors (bad file, missing interface, no permission)
are :class:`UsageError` subclasses that the CLI prints as one line with exit code 2.
"""

from __future__ import annotations


class NetwatchError(Exception):
    """Base class of every exception netwatch raises on purpose."""


class DecodeError(NetwatchError):
    """A packet's L2-L4 headers are truncated or malformed.

    ``reason`` is a short stable token (``"ipv4-truncated"``) used as a counter key.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class MalformedError(NetwatchError):
    """Application data that violates its protocol (a lying length field, bad framing).

    Raised inside analyzers; caught at the analyzer boundary, which marks the analyzer
    failed for that flow and counts the error under ``protocol``.
    """

    def __init__(self, protocol: str, reason: str) -> None:
        super().__init__(f"{protocol}: {reason}")
        self.protocol = protocol
        self.reason = reason


class UsageError(NetwatchError):
    """Something the user must fix: printed as one line, exit code 2."""


class OutputError(UsageError):
    """The output cannot be written (a full disk, an I/O error): one line, exit code 2."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"could not write the output: {exc.strerror or exc}")


class CaptureError(UsageError):
    """A packet source cannot be opened or read (missing file, interface, permission)."""


class TruncatedCaptureError(CaptureError):
    """A capture file ends (or is damaged) in the middle of a record."""

    def __init__(self, path: str, offset: int, reason: str = "truncated record") -> None:
        super().__init__(f"{path}: {reason} at byte offset {offset}")
        self.path = path
        self.offset = offset


class FilterSyntaxError(UsageError):
    """A filter expression does not parse; ``position`` points at the offending character."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position
