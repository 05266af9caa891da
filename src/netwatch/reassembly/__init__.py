"""Bounded TCP stream reassembly; pure."""

from netwatch.reassembly.stream import StreamReassembler

__all__ = ["StreamReassembler"]
