"""Filter compilation through libpcap and attaching classic BPF to a real socket."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.capture.bpf import (
    BPF_RET_K,
    DLT_EN10MB,
    DLT_RAW,
    attach_filter,
    compile_filter,
    encode_program,
    snaplen_program,
)
from netwatch.errors import CaptureError, UsageError

LDH_ABS = 0x28  # BPF_LD | BPF_H | BPF_ABS
LDB_ABS = 0x30  # BPF_LD | BPF_B | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K


def test_ethernet_filter_loads_the_ethertype_first() -> None:
    prog = compile_filter("udp port 53", DLT_EN10MB)
    assert prog[0] == (LDH_ABS, 0, 0, 12)
    assert (JEQ_K, 0, prog[1][2], 0x86DD) == prog[1]  # IPv6 first, as tcpdump -d shows
    assert any(ins[0] == JEQ_K and ins[3] == 0x0800 for ins in prog)
    assert prog[-2:] == [(BPF_RET_K, 0, 0, 262144), (BPF_RET_K, 0, 0, 0)]


def test_raw_filter_reads_the_version_nibble_at_offset_zero() -> None:
    prog = compile_filter("ip6 and tcp", DLT_RAW)
    assert prog[0] == (LDB_ABS, 0, 0, 0)


def test_snaplen_is_the_accept_value() -> None:
    prog = compile_filter("tcp", DLT_EN10MB, snaplen=96)
    assert (BPF_RET_K, 0, 0, 96) in prog
    assert snaplen_program(128) == [(BPF_RET_K, 0, 0, 128)]


def test_same_program_as_tcpdump_d() -> None:
    # `tcpdump -dd -y EN10MB 'arp'` prints exactly these four instructions.
    assert compile_filter("arp", DLT_EN10MB) == [
        (0x28, 0, 0, 0x0000000C),
        (0x15, 0, 1, 0x00000806),
        (0x6, 0, 0, 0x00040000),
        (0x6, 0, 0, 0x00000000),
    ]


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
@pytest.mark.parametrize(
    "expr",
    ["tcp port 80 and host 198.18.0.1", "udp or icmp6", "vlan 100 and udp", "net 198.18.0.0/15"],
)
def test_matches_tcpdump_dd_on_an_ethernet_device(expr: str) -> None:
    # tcpdump compiles for the live device (it may add Linux VLAN-offload loads for
    # "vlan"); compare only where the offline compiler must agree with it.
    run = subprocess.run(
        ["tcpdump", "-dd", "-y", "EN10MB", "-i", "lo", expr],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if run.returncode != 0:
        pytest.skip(f"tcpdump -dd failed: {run.stderr.strip()}")
    theirs = [
        tuple(int(x, 0) for x in m.groups())
        for m in re.finditer(r"\{ (\w+), (\d+), (\d+), (\w+) \}", run.stdout)
    ]
    ours = compile_filter(expr, DLT_EN10MB)
    skf_ad_off = 0xFFFFF000  # Linux ancillary loads (SKF_AD_VLAN_TAG_PRESENT, ...)
    if expr.startswith("vlan"):
        # Live handle: the tag is read from skb metadata; offline: from frame bytes.
        assert any(ins[3] >= skf_ad_off for ins in theirs)
        assert not any(ins[3] >= skf_ad_off for ins in ours)
        assert (ours[1][0], 0, 0, ours[1][3]) == (JEQ_K, 0, 0, 0x8100)
    else:
        assert ours == theirs


@pytest.mark.parametrize(
    ("expr", "dlt", "needle"),
    [
        ("udp prot 53", DLT_EN10MB, "syntax error"),
        ("host 999.1.1.1", DLT_EN10MB, "999.1.1.1"),
        ("ether host 02:00:00:00:00:01", DLT_RAW, "ethernet addresses"),
        ("tcp port 99999", DLT_EN10MB, "port"),
    ],
)
def test_bad_filters_raise_usage_error_with_libpcaps_message(
    expr: str, dlt: int, needle: str
) -> None:
    with pytest.raises(UsageError) as info:
        compile_filter(expr, dlt)
    message = str(info.value)
    assert needle in message
    assert expr in message
    assert "\n" not in message


def test_encoding_is_struct_sock_filter() -> None:
    assert encode_program([(LDH_ABS, 1, 2, 12)]) == bytes.fromhex(
        "2800010 20c000000".replace(" ", "")
    )


def _udp_pair() -> tuple[socket.socket, socket.socket]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.3)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return rx, tx


def test_attached_reject_all_filter_drops_datagrams() -> None:
    rx, tx = _udp_pair()
    with rx, tx:
        attach_filter(rx, [(BPF_RET_K, 0, 0, 0)])
        tx.sendto(b"dropped", rx.getsockname())
        with pytest.raises(TimeoutError):
            rx.recv(100)


def test_attached_accept_filter_passes_datagrams() -> None:
    rx, tx = _udp_pair()
    with rx, tx:
        attach_filter(rx, snaplen_program(0xFFFF))
        tx.sendto(b"kept", rx.getsockname())
        assert rx.recv(100) == b"kept"


def test_invalid_programs_are_refused() -> None:
    rx, tx = _udp_pair()
    with rx, tx:
        with pytest.raises(CaptureError):
            attach_filter(rx, [])
        with pytest.raises(CaptureError, match="cannot attach"):
            attach_filter(rx, [(0x28, 0, 0, 12)])  # no final ret: the kernel rejects it


@pytest.mark.parametrize("expr", ["tcp\0 and garbage", "host \udcff"])
def test_expressions_that_are_not_c_strings_are_refused(expr: str) -> None:
    with pytest.raises(UsageError, match="bad capture filter"):
        compile_filter(expr)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(
            st.sampled_from(
                ["tcp", "udp", "port", "53", "and", "or", "not", "(", ")", "host", "net",
                 "198.18.0.1", "/", "16", "vlan", "ip6", "[", "]", "&", "0x10", "==", "!="]
            ),
            max_size=10,
        ).map(" ".join),
    )
)  # fmt: skip
def test_any_text_compiles_or_raises_usage_error(expr: str) -> None:
    try:
        prog = compile_filter(expr, DLT_EN10MB)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert prog and prog[-1][0] == BPF_RET_K
