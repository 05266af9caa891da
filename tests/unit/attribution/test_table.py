from __future__ import annotations

from netwatch.attribution.table import SocketEntry, SocketTable, norm_addr


def test_norm_addr() -> None:
    assert norm_addr("::ffff:198.18.0.1") == "198.18.0.1"
    assert norm_addr("fd00:0:0:0:0:0:0:1") == "fd00::1"
    assert norm_addr("fe80::1%eth0") == "fe80::1"
    assert norm_addr("10.0.0.1") == "10.0.0.1"
    assert norm_addr("not-an-address:") == "not-an-address:"


def test_exact_listener_wildcard_order() -> None:
    t = SocketTable()
    t.put("tcp", ("0.0.0.0", 80), ("0.0.0.0", 0), 10, listening=True)
    t.put("tcp", ("10.0.0.1", 80), ("10.0.0.9", 5555), 11)  # accepted, owned by a worker
    t.put("udp", ("0.0.0.0", 53), ("0.0.0.0", 0), 20)
    t.put("udp", ("10.0.0.1", 4000), ("10.0.0.53", 53), 21)
    assert t.lookup("tcp", ("10.0.0.1", 80), ("10.0.0.9", 5555)) == (11, "exact")
    assert t.lookup("tcp", ("10.0.0.1", 80), ("10.0.0.9", 6666)) == (10, "listener")
    assert t.lookup("udp", ("10.0.0.1", 53), ("10.0.0.7", 3333)) == (20, "wildcard")
    assert t.lookup("udp", ("10.0.0.1", 4000), ("10.0.0.53", 53)) == (21, "exact")
    assert t.lookup("udp", ("10.0.0.1", 80), ("10.0.0.9", 5555)) is None  # tcp listener only
    assert t.lookup("tcp", ("10.0.0.1", 81), ("10.0.0.9", 5555)) is None


def test_dual_stack_sockets_match_ipv4_flows() -> None:
    t = SocketTable()
    t.add(SocketEntry("tcp", ("::ffff:10.0.0.1", 443), ("::ffff:10.0.0.9", 4444), 7))
    t.add(SocketEntry("tcp", ("::", 22), ("::", 0), 8, listening=True))
    assert t.lookup("tcp", ("10.0.0.1", 443), ("10.0.0.9", 4444)) == (7, "exact")
    assert t.lookup("tcp", ("10.0.0.1", 22), ("10.0.0.9", 4444)) == (8, "listener")


def test_discard_and_prune() -> None:
    t = SocketTable()
    t.put("tcp", ("10.0.0.1", 80), ("10.0.0.9", 5555), 11)
    t.put("udp", ("0.0.0.0", 53), ("0.0.0.0", 0), 20)
    t.put("tcp", ("0.0.0.0", 22), ("0.0.0.0", 0), 30, listening=True)
    assert len(t) == 3
    t.discard("tcp", ("10.0.0.1", 80), ("10.0.0.9", 5555))
    assert t.lookup("tcp", ("10.0.0.1", 80), ("10.0.0.9", 5555)) is None
    t.discard("tcp", ("0.0.0.0", 22), ("0.0.0.0", 0))
    assert t.lookup("tcp", ("10.0.0.1", 22), ("1.1.1.1", 1)) is None
    assert t.pids() == {20}
    assert t.prune({20}) == 1
    assert len(t) == 0
