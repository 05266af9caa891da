"""L2-L4 header decoding, one module per protocol; pure (no I/O, no clock)."""

from netwatch.decode.packet import Packet, decode

__all__ = ["Packet", "decode"]
