"""AfPacketSource argument checks and setup errors (before and at the socket)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from netwatch.capture import afpacket
from netwatch.capture.afpacket import AfPacketSource
from netwatch.errors import CaptureError, UsageError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="AF_PACKET")


@pytest.mark.parametrize(
    ("block_size", "frame_size"),
    [(1000, 2048), (1 << 20, 100), (1 << 20, 3 << 10), (0, 2048)],
)
def test_ring_geometry_is_checked_before_opening_anything(block_size: int, frame_size: int) -> None:
    with pytest.raises(CaptureError, match="block size"):
        AfPacketSource("lo", block_size=block_size, frame_size=frame_size)


def test_a_bad_filter_is_a_usage_error_before_the_socket() -> None:
    with pytest.raises(UsageError, match="syntax error"):
        AfPacketSource("lo", "tcp prot 80")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs CAP_NET_RAW")
def test_a_ring_the_kernel_refuses_is_a_capture_error() -> None:
    # 2^31 bytes in one block: the kernel refuses the order; the message says the size.
    with pytest.raises(CaptureError, match=r"capture ring of 1 x 2147483648 bytes refused"):
        AfPacketSource("lo", block_size=1 << 31, block_count=1, frame_size=2048)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs CAP_NET_RAW")
def test_cooked_for_any_and_raw_for_ethernet_like() -> None:
    with AfPacketSource(None) as anyif, AfPacketSource("lo") as lo:
        assert anyif.cooked and anyif.description == "interface any"
        assert not lo.cooked and lo.live


@pytest.mark.parametrize(
    "kwargs",
    [{"block_count": 0}, {"block_count": -1}, {"snaplen": 0}, {"timeout_ms": -5},
     {"block_size": 1 << 32}, {"frame_size": 0}],
)  # fmt: skip
def test_out_of_range_parameters_are_capture_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(CaptureError, match="capture ring"):
        AfPacketSource("lo", **kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs CAP_NET_RAW")
def test_failure_after_the_ring_is_mapped_releases_socket_and_ring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A program without a final return: the kernel refuses it at SO_ATTACH_FILTER,
    # which comes after the ring is mapped.
    monkeypatch.setattr(afpacket, "_snaplen_program", lambda _n: [(0x28, 0, 0, 12)])
    fds = len(os.listdir("/proc/self/fd"))
    maps = Path("/proc/self/maps").read_text().count("socket:[")
    for _ in range(3):
        with pytest.raises(CaptureError, match="cannot attach capture filter"):
            AfPacketSource("lo")
    with AfPacketSource(None, "udp"):  # the check does see a mapped ring
        assert Path("/proc/self/maps").read_text().count("socket:[") == maps + 1
    assert len(os.listdir("/proc/self/fd")) == fds
    assert Path("/proc/self/maps").read_text().count("socket:[") == maps
