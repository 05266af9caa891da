"""Choosing a packet source once, with an explicit fallback chain.

Files: pcap/pcapng by magic. Live on Linux: AF_PACKET with a TPACKET_V3 ring, else
libpcap; elsewhere libpcap (macOS, BSDs, Windows/Npcap).
"""

from __future__ import annotations

import sys

from netwatch.capture.base import PacketSource
from netwatch.errors import CaptureError


def open_file(path: str) -> PacketSource:
    from netwatch.capture.pcapfile import open_capture_file

    return open_capture_file(path)


def open_live(interface: str | None, bpf: str | None = None, snaplen: int = 262144) -> PacketSource:
    """Open live capture on ``interface`` (None: the default route's; "any": all)."""
    from netwatch.capture import interfaces

    if interface is None:
        interface = interfaces.default_route_interface()
        if interface is None:
            raise CaptureError(
                "no default route to pick an interface from; choose one with -i "
                f"(interfaces: {', '.join(interfaces.list_interfaces()) or 'none'})"
            )
    if interface != "any" and interface not in interfaces.list_interfaces():
        from netwatch.capture.permissions import missing_interface_error

        raise missing_interface_error(interface, interfaces.list_interfaces())
    # A plain bool, not a sys.platform test mypy would narrow: the fallback is real code.
    linux = sys.platform.startswith("linux")
    if linux:
        from netwatch.capture.afpacket import AfPacketSource
        from netwatch.capture.permissions import check_capture_permission

        check_capture_permission()  # no rights: say so now, not after a fallback
        try:
            return AfPacketSource(interface, bpf=bpf, snaplen=snaplen)
        except CaptureError as ring_error:
            # A kernel without TPACKET_V3 (or mmap limits): fall back to libpcap, and if
            # that fails too, report the ring's reason (the better backend's).
            from netwatch.capture.libpcap import LibpcapSource

            try:
                return LibpcapSource(interface, bpf=bpf, snaplen=snaplen)
            except CaptureError:
                raise ring_error from None
    from netwatch.capture.libpcap import LibpcapSource

    return LibpcapSource(interface, bpf=bpf, snaplen=snaplen)
