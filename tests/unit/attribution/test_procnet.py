"""/proc/net tables recorded on a real host, decoded and joined to pids in a fake /proc."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.attribution.procnet import ProcNetResolver, decode_address, parse_proc_net
from netwatch.attribution.table import norm_addr
from netwatch.errors import MalformedError


def test_decode_address_both_byte_orders() -> None:
    assert decode_address("0100007F:0CEA", "little") == ("127.0.0.1", 3306)
    assert decode_address("7F000001:0CEA", "big") == ("127.0.0.1", 3306)
    v6 = "000080FE00000000FF0200008DFB0CFE:0035"  # each 4-byte word reversed
    assert decode_address(v6, "little") == ("fe80::2ff:fe0c:fb8d", 53)
    mapped = "0000000000000000FFFF00000100007F:01BB"
    assert decode_address(mapped, "little") == ("::ffff:127.0.0.1", 443)


@pytest.mark.parametrize("text", ["0100007F", "0100007F:CEA", "0100007G:0CEA", "01:0CEA"])
def test_bad_addresses(text: str) -> None:
    with pytest.raises(MalformedError):
        decode_address(text, "little")


def test_recorded_tables(data_dir: Path, recorded: dict[str, Any]) -> None:
    if sys.byteorder != "little":
        pytest.skip("recorded on a little-endian host")
    by_inode = {s["inode"]: s for s in recorded["sockets"].values()}
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for inode, state, local, remote in parse_proc_net(
            (data_dir / f"proc_net_{table}.txt").read_text()
        ):
            truth = by_inode[inode]
            assert truth["proto"] == table.rstrip("6")
            assert (norm_addr(local[0]), local[1]) == (
                norm_addr(truth["local"][0]), truth["local"][1])  # fmt: skip
            assert (norm_addr(remote[0]), remote[1]) == (
                norm_addr(truth["remote"][0]), truth["remote"][1])  # fmt: skip
            assert (state == 0x0A) == truth["listening"]
            found.add(inode)
    assert found == set(by_inode)


def test_resolver_on_a_fake_proc(fake_proc: Path, data_dir: Path, recorded: dict[str, Any]
                                 ) -> None:  # fmt: skip
    if sys.byteorder != "little":
        pytest.skip("recorded on a little-endian host")
    (fake_proc / "net").mkdir()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        shutil.copy(data_dir / f"proc_net_{table}.txt", fake_proc / "net" / table)
    # pid 4242 holds the recorded client socket; nobody holds the others
    client = recorded["sockets"]["client"]
    os.symlink(f"socket:[{client['inode']}]", fake_proc / "4242" / "fd" / "9")
    r = ProcNetResolver(str(fake_proc))
    r.inodes.count_by_stat = False
    r.start()
    hit = r.lookup("tcp", tuple(client["local"]), tuple(client["remote"]))
    assert hit is not None
    assert hit[0].pid == 4242 and hit[0].name == "netwatch-thirty-char-name-proc"
    assert (hit[1].source, hit[1].match) == ("procfs", "exact")
    acc = recorded["sockets"]["accepted"]
    assert r.lookup("tcp", tuple(acc["local"]), tuple(acc["remote"])) is None
    # the socket closes: the next refresh drops it
    (fake_proc / "net" / "tcp").write_text(
        (data_dir / "proc_net_tcp.txt").read_text().splitlines()[0] + "\n")  # fmt: skip
    r.refresh()
    assert r.lookup("tcp", tuple(client["local"]), tuple(client["remote"])) is None
    # a damaged table is counted, not raised
    (fake_proc / "net" / "udp").write_text("header\n  0: zz\n")
    r.refresh()
    assert r.malformed == 1 and "unreadable" in r.diagnose()[0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parse(text: str) -> None:
    try:
        parse_proc_net("header\n" + text)
    except MalformedError:
        pass
