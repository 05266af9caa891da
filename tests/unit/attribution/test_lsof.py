from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.attribution.lsof import parse_endpoint, parse_lsof
from netwatch.attribution.table import SocketTable, norm_addr


def test_recorded_lsof_output(data_dir: Path, recorded: dict[str, Any]) -> None:
    entries, procs = parse_lsof((data_dir / "lsof.txt").read_text())
    pid = recorded["pid"]
    assert procs[pid] == (recorded["comm"], recorded["uid"])
    got = {(e.proto, norm_addr(e.local[0]), e.local[1], norm_addr(e.remote[0]), e.remote[1],
            e.listening) for e in entries}  # fmt: skip
    want = {
        (s["proto"], norm_addr(s["local"][0]), s["local"][1], norm_addr(s["remote"][0]),
         s["remote"][1], s["listening"])
        for s in recorded["sockets"].values()
    }  # fmt: skip
    assert got == want
    assert all(e.pid == pid for e in entries)


def test_lsof_table_lookups(data_dir: Path, recorded: dict[str, Any]) -> None:
    entries, _ = parse_lsof((data_dir / "lsof.txt").read_text())
    table = SocketTable()
    for e in entries:
        table.add(e)
    for s in recorded["sockets"].values():
        if s["listening"]:
            continue
        hit = table.lookup(s["proto"], tuple(s["local"]), tuple(s["remote"]))
        assert hit is not None and hit[0] == recorded["pid"]


MACOS_SAMPLE = """p812
cControlCenter
u501
f23
tIPv4
PUDP
n*:*
f31
tIPv6
PTCP
n[fe80:4::aede:48ff:fe00:1122]:49321->[fe80:4::aede:48ff:fe33:4455]:53310
TST=ESTABLISHED
p99
cmDNSResponder
u65
f5
tIPv4
PUDP
n*:5353
f9
tIPv4
PTCP
n192.0.2.10:49888->198.51.100.7:443
TST=SYN_SENT
f10
tIPv4
PTCP
nmalformed-name
"""


def test_macos_style_records() -> None:
    entries, procs = parse_lsof(MACOS_SAMPLE)
    assert procs == {812: ("ControlCenter", 501), 99: ("mDNSResponder", 65)}
    rows = [(e.pid, e.proto, e.local, e.remote, e.listening) for e in entries]
    assert rows == [
        (812, "udp", ("0.0.0.0", 0), ("0.0.0.0", 0), False),
        (812, "tcp", ("fe80:4::aede:48ff:fe00:1122", 49321),
         ("fe80:4::aede:48ff:fe33:4455", 53310), False),
        (99, "udp", ("0.0.0.0", 5353), ("0.0.0.0", 0), False),
        (99, "tcp", ("192.0.2.10", 49888), ("198.51.100.7", 443), False),
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["noport", "1.2.3.4:http", "[::1]:99999", "1.2.3.4:\u00b2"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoint(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["p", "c", "u", "f", "t", "P", "n", "T", "x", ""]), max_size=30),
       st.lists(st.text(max_size=20), max_size=30))  # fmt: skip
def test_fuzz_parse_lsof(tags: list[str], values: list[str]) -> None:
    text = "\n".join(t + v for t, v in zip(tags, values, strict=False))
    entries, procs = parse_lsof(text)
    assert all(pid > 0 for pid in procs)
    for e in entries:
        assert e.proto in ("tcp", "udp") and 0 <= e.local[1] <= 65535
