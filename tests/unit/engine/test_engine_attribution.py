"""The engine ties rows to processes through the resolver it is given (FakeResolver)."""

from __future__ import annotations

from pathlib import Path

from netwatch.attribution import FakeResolver
from netwatch.capture.pcapfile import open_capture_file
from netwatch.engine import Engine, EngineConfig
from netwatch.model.process import ProcessInfo
from netwatch.model.snapshot import ConnectionView
from tests.util import build


def test_rows_get_their_process_and_source(tmp_path: Path) -> None:
    pk = [
        (1.0, build.tcp("198.18.0.1", 40000, "198.18.0.2", 443, "S", seq=1)),
        (1.01, build.tcp("198.18.0.2", 443, "198.18.0.1", 40000, "SA", seq=9, ack=2)),
        (1.02, build.udp("198.18.0.1", 5000, "198.18.0.2", 53, b"\x00" * 12)),
        (1.03, build.udp("198.18.0.1", 6000, "198.18.0.2", 9999, b"x")),
    ]
    pcap = build.write_pcap(tmp_path / "a.pcap", pk)
    fake = FakeResolver("ebpf")
    curl = ProcessInfo(pid=4242, name="curl", exe="/usr/bin/curl", cmdline=("curl", "x"))
    dig = ProcessInfo(pid=77, name="dig")
    fake.add("tcp", ("198.18.0.1", 40000), ("198.18.0.2", 443), curl)
    fake.add("udp", ("198.18.0.1", 5000), ("0.0.0.0", 0), dig)
    out: list[ConnectionView] = []
    engine = Engine(open_capture_file(pcap), EngineConfig(), on_finish=out.append, resolver=fake)
    engine.run()
    by_port = {v.remote_port: v for v in out}
    assert by_port[443].process == curl and by_port[443].attribution is not None
    assert by_port[443].attribution.source == "ebpf" and by_port[443].attribution.match == "exact"
    rec = by_port[53].to_record()
    assert rec["process"]["pid"] == 77 and rec["attribution"]["match"] == "wildcard"
    assert by_port[9999].process is None and by_port[9999].to_record()["process"] is None
    assert fake.refreshes >= 1
