"""Kernel records (recorded from the real programs) decoded and folded into the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.attribution.ebpf.events import (
    EVENT,
    EVENT_SIZE,
    KernelEvent,
    Kind,
    decode_event,
    split_records,
)
from netwatch.attribution.ebpf.state import KernelState
from netwatch.attribution.table import norm_addr
from netwatch.errors import MalformedError


def events(data_dir: Path) -> list[KernelEvent]:
    return [decode_event(r) for r in split_records((data_dir / "ebpf_events.bin").read_bytes())]


def test_layout_matches_the_c_header() -> None:
    assert EVENT_SIZE == 264
    header = (Path(__file__).resolve().parents[3] / "ebpf" / "netwatch_attrib.h").read_text()
    for kind in Kind:
        assert f"NW_{kind.name} = {kind.value}," in header


def test_recorded_events(data_dir: Path, recorded: dict[str, Any]) -> None:
    evs = events(data_dir)
    pid, comm = recorded["pid"], recorded["comm"]
    for e in evs:
        if e.kind in (Kind.ESTAB, Kind.CLOSE):  # may run in softirq: no task recorded
            assert (e.tgid, e.comm, e.exe_name, e.args) == (0, "", "", ())
        else:
            assert (e.tgid, e.comm, e.uid) == (pid, comm, recorded["uid"])
    kinds = [e.kind for e in evs]
    # the start-up walk saw the 7 sockets opened before start, then the live sequence:
    assert kinds[:7] == [Kind.ITER] * 7
    assert kinds.count(Kind.SYN_SENT) == 2 and kinds.count(Kind.LISTEN) == 2
    syn = next(e for e in evs if e.kind == Kind.SYN_SENT)
    est = next(e for e in evs if e.kind == Kind.ESTAB and e.cookie == syn.cookie)
    assert syn.local[1] == 0 and est.local[1] != 0  # the port is chosen after SYN_SENT
    assert syn.ppid != 0  # tracing programs know the parent, the executable and argv
    assert syn.exe_name.startswith("python3") and syn.args[0] == "python3"
    assert syn.args[1:3] == ("-m", "tests.data.attribution.record")
    # the cgroup hooks cannot reach the task: no executable or argv from them
    assert all(e.exe_name == "" and e.args == () for e in evs if e.kind == Kind.BIND)
    assert Kind.CONNECT not in kinds  # TCP owners come from SYN_SENT, not connect()


def test_state_attributes_every_recorded_socket(data_dir: Path, recorded: dict[str, Any]) -> None:
    state = KernelState()
    for e in events(data_dir):
        state.apply(e, now=0.0)
    for name, s in recorded["sockets"].items():
        local = (norm_addr(s["local"][0]), s["local"][1])
        probe_remote = tuple(s["remote"]) if not s["listening"] else ("127.0.0.1", 1)
        hit = state.lookup(s["proto"], local, probe_remote)
        assert hit is not None, name
        assert hit[0] == recorded["pid"]
        want = {"listener": "listener", "udp": "wildcard"}.get(name.split("_")[0].rstrip("6"))
        if name.startswith("accepted") and not name.endswith("_before"):
            want = "listener"  # accepted sockets have no owner event: the listener names it
        assert hit[1] == (want or "exact"), name


def _ev(kind: Kind, cookie: int, local: tuple[str, int], remote: tuple[str, int],
        tgid: int = 50, proto: str = "tcp") -> KernelEvent:  # fmt: skip
    return KernelEvent(kind, cookie, 0, tgid, tgid, 0, 1, proto, 2, 0, local, remote, "cli")


def test_closed_connections_live_for_the_grace_period() -> None:
    state = KernelState(grace=5.0)
    state.apply(_ev(Kind.SYN_SENT, 9, ("10.0.0.1", 0), ("10.0.0.2", 80)), now=0.0)
    state.apply(_ev(Kind.ESTAB, 9, ("10.0.0.1", 4000), ("10.0.0.2", 80), tgid=0), now=0.1)
    state.apply(_ev(Kind.CLOSE, 9, ("10.0.0.1", 4000), ("10.0.0.2", 80), tgid=0), now=0.2)
    assert state.lookup("tcp", ("10.0.0.1", 4000), ("10.0.0.2", 80)) == (50, "exact")
    assert state.expire(now=5.1) == 0
    assert state.expire(now=5.3) == 1
    assert state.lookup("tcp", ("10.0.0.1", 4000), ("10.0.0.2", 80)) is None
    assert 9 not in state.by_cookie


def test_softirq_establish_does_not_steal_ownership() -> None:
    state = KernelState()
    state.apply(_ev(Kind.SYN_SENT, 1, ("10.0.0.1", 0), ("10.0.0.2", 80), tgid=50), now=0)
    # ESTABLISHED ran in softirq while pid 999 happened to be current
    state.apply(_ev(Kind.ESTAB, 1, ("10.0.0.1", 4000), ("10.0.0.2", 80), tgid=999), now=0)
    assert state.lookup("tcp", ("10.0.0.1", 4000), ("10.0.0.2", 80)) == (50, "exact")
    # an ESTABLISHED with no owner (a passive open) adds nothing
    state.apply(_ev(Kind.ESTAB, 2, ("10.0.0.1", 22), ("10.0.0.3", 5000), tgid=999), now=0)
    assert state.lookup("tcp", ("10.0.0.1", 22), ("10.0.0.3", 5000)) is None


def test_udp_first_send_and_unconnected_sendto() -> None:
    state = KernelState()
    state.apply(_ev(Kind.UDP_SEND, 3, ("0.0.0.0", 5353), ("0.0.0.0", 0), 70, "udp"), now=0)
    assert state.lookup("udp", ("10.0.0.1", 5353), ("10.0.0.53", 53)) == (70, "wildcard")
    state.apply(_ev(Kind.SENDMSG, 4, ("0.0.0.0", 0), ("10.0.0.53", 53), 71, "udp"), now=0)
    assert 4 in state.by_cookie  # owner known before the port is: UDP_SEND brings it
    state.apply(_ev(Kind.UDP_SEND, 4, ("0.0.0.0", 6000), ("10.0.0.53", 53), 71, "udp"), now=0)
    assert state.lookup("udp", ("10.0.0.1", 6000), ("10.0.0.53", 53)) == (71, "exact")


def test_wrong_sizes_and_kinds_are_malformed() -> None:
    with pytest.raises(MalformedError):
        decode_event(b"\0" * 263)
    with pytest.raises(MalformedError):
        split_records(b"\0" * 100)
    bad_kind = EVENT.pack(1, 2, 3, 3, 0, 1, 42, 6, 2, 1, 80, 80, b"", b"", b"x", b"", b"")
    with pytest.raises(MalformedError):
        decode_event(bad_kind)
    bad_family = EVENT.pack(1, 2, 3, 3, 0, 1, 1, 6, 1, 1, 80, 80, b"", b"", b"x", b"", b"")
    with pytest.raises(MalformedError):
        decode_event(bad_family)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=EVENT_SIZE, max_size=EVENT_SIZE))
def test_fuzz_decode(raw: bytes) -> None:
    try:
        ev = decode_event(raw)
    except MalformedError:
        return
    state = KernelState()
    state.apply(ev, now=0.0)  # whatever decodes must fold without errors
    state.expire(now=1e9)


def test_sockets_of_dead_processes_are_pruned_after_the_grace(fake_proc: Path) -> None:
    from netwatch.attribution.ebpf.resolver import EbpfResolver

    r = EbpfResolver(proc_root=str(fake_proc))  # never started: only the folding is used
    r.state.grace = 10.0
    r.state.apply(_ev(Kind.UDP_SEND, 1, ("0.0.0.0", 5353), ("0.0.0.0", 0), 4242, "udp"), 0)
    r.state.apply(_ev(Kind.UDP_SEND, 2, ("0.0.0.0", 6000), ("0.0.0.0", 0), 31337, "udp"), 0)
    assert r.prune_dead(now=100.0) == 0  # 31337 has no /proc entry: dead from now on
    hit = r.lookup("udp", ("10.0.0.1", 6000), ("10.0.0.2", 53))
    assert hit is not None and hit[0].name == "cli"  # named from the kernel's record
    long = "a-client-with-a-long-name"
    r.state.apply(
        KernelEvent(Kind.UDP_SEND, 5, 0, 31338, 31338, 1000, 1, "udp", 2, 0,
                    ("0.0.0.0", 7000), ("0.0.0.0", 0), long[:15], long, (f"/opt/{long}", "-v")),
        0,
    )  # fmt: skip
    hit = r.lookup("udp", ("10.0.0.1", 7000), ("10.0.0.2", 53))
    assert hit is not None
    assert (hit[0].name, hit[0].cmdline, hit[0].uid) == (long, (f"/opt/{long}", "-v"), 1000)
    assert r.prune_dead(now=105.0) == 0
    assert r.prune_dead(now=110.0) == 1
    assert r.lookup("udp", ("10.0.0.1", 6000), ("10.0.0.2", 53)) is None
    hit = r.lookup("udp", ("10.0.0.1", 5353), ("10.0.0.2", 53))
    assert hit is not None and hit[0].name == "netwatch-thirty-char-name-proc"
