"""The command line as a user meets it: output formats, bad input, exit codes, no tracebacks."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from netwatch import __version__
from tests.util import build
from tests.util.corpus import corpus_file


def nw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netwatch", *args], capture_output=True, text=True, timeout=120
    )


def test_version() -> None:
    r = nw("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"netwatch {__version__}"


def test_analyze_jsonl_fields() -> None:
    r = nw("analyze", "-r", str(corpus_file("sv_dns-tcp.pcap")))
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    for field in (
        "proto",
        "local_addr",
        "local_port",
        "remote_addr",
        "remote_port",
        "state",
        "service",
        "first_seen",
        "last_seen",
        "packets_out",
        "packets_in",
        "bytes_out",
        "bytes_in",
        "rtt_ms",
        "vlan",
        "app",
    ):
        assert field in rec
    assert rec["service"] == "domain" and rec["first_seen"].endswith("Z")
    assert rec["packets_out"] + rec["packets_in"] == 10


def test_analyze_json_and_csv_agree() -> None:
    path = str(corpus_file("ndpi_ssh.pcap"))
    js = json.loads(nw("analyze", "-r", path, "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(nw("analyze", "-r", path, "--format", "csv").stdout)))
    assert len(js) == len(rows) == 2
    assert [int(r["bytes_in"]) for r in rows] == [j["bytes_in"] for j in js]


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    r = nw("analyze", "-r", str(corpus_file("ndpi_ssh.pcap")), "-o", str(out))
    assert r.returncode == 0 and r.stdout == ""
    assert len(out.read_text().splitlines()) == 2


def test_console_exit_keeps_every_record_of_a_long_capture(tmp_path: Path) -> None:
    """The command ends the process without the interpreter's teardown after analyze:
    every record is still written, to a file and to a pipe, and matches main()'s."""
    pk = [
        (1.0 + i / 100, build.tcp("198.18.0.1", 20000 + i % 700, "198.18.0.2", 80, payload=b"GET"))
        for i in range(3000)
    ]
    cap = build.write_pcap(tmp_path / "many.pcap", pk)
    piped = nw("analyze", "-r", str(cap))
    assert piped.returncode == 0, piped.stderr
    out = tmp_path / "o.jsonl"
    with out.open("w") as f:
        r = subprocess.run(
            [sys.executable, "-m", "netwatch", "analyze", "-r", str(cap)],
            stdout=f,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 0 and r.stderr == ""
    assert out.read_text() == piped.stdout
    assert len(piped.stdout.splitlines()) == 700


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "eve"])
def test_unwritable_output_one_line_exit_2(fmt: str) -> None:
    """A full disk under the output: one line naming the cause, exit 2, no traceback."""
    with open("/dev/full", "w") as full:
        cap = str(corpus_file("ndpi_ssh.pcap"))
        r = subprocess.run(
            [sys.executable, "-m", "netwatch", "analyze", "--format", fmt, "-r", cap],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2
    assert r.stderr == "netwatch: error: could not write the output: No space left on device\n"


def test_reader_leaving_early_is_not_an_error() -> None:
    """`netwatch analyze | head -1`: exit 0, nothing on stderr."""
    p = subprocess.Popen(
        [sys.executable, "-m", "netwatch", "analyze", "-r", str(corpus_file("ndpi_ssh.pcap"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader is gone before the first record
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0 and err == b""


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p / "missing.pcap", "no such file"),
        (lambda p: (p / "t.txt").write_text("hello") and p / "t.txt", "not a pcap"),
        (lambda p: p, "is a directory"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path: Path, make: object, needle: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    r = nw("analyze", "-r", str(path))
    assert r.returncode == 2
    assert needle in r.stderr and str(path) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_truncated_capture_prints_records_then_error(tmp_path: Path) -> None:
    pk = [(1.0 + i, build.udp("198.18.0.1", 1000 + i, "198.18.0.2", 9, b"x")) for i in range(5)]
    p = build.write_pcap(tmp_path / "t.pcap", pk)
    p.write_bytes(p.read_bytes()[:-5])
    r = nw("analyze", "-r", str(p))
    assert r.returncode == 2
    assert len(r.stdout.splitlines()) == 4
    assert "byte offset" in r.stderr and "Traceback" not in r.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    p = build.write_pcap(tmp_path / "a.pcap", [])
    p.chmod(0)
    r = nw("analyze", "-r", str(p))
    assert r.returncode == 2 and "permission denied" in r.stderr


def test_bad_arguments_exit_2() -> None:
    r = nw("analyze", "--format", "xml", "-r", "x")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = nw("analyze", "-r", "x.pcap", "--duration", "3")
    assert r.returncode == 2


def test_missing_interface_lists_interfaces() -> None:
    r = nw("analyze", "-i", "nosuchif0", "--duration", "1")
    assert r.returncode == 2
    assert "no such interface 'nosuchif0'" in r.stderr and "lo" in r.stderr


def test_no_capture_permission_names_sudo_and_setcap() -> None:
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("capsh") is None:
        pytest.skip("needs root and capsh to drop the capture capabilities")
    r = subprocess.run(
        ["capsh", "--drop=cap_net_raw,cap_net_admin", "--", "-c",
         f"{sys.executable} -m netwatch analyze -i lo --duration 1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert "sudo" in r.stderr and "setcap cap_net_raw,cap_net_admin=eip" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_analyze_eve_and_zeek_formats(tmp_path: Path) -> None:
    path = str(corpus_file("sv_ja4-tls.pcap"))
    r = nw("analyze", "-r", path, "--format", "eve")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert {"flow", "tls"} <= {e["event_type"] for e in events}
    out = tmp_path / "logs"
    r = nw("analyze", "-r", path, "--format", "zeek", "-o", str(out))
    assert r.returncode == 0, r.stderr
    conn = (out / "conn.log").read_text().splitlines()
    assert conn[0].startswith("#separator") and any(line.startswith("#fields") for line in conn)
    assert (out / "ssl.log").exists()
    r = nw("analyze", "-r", path, "--format", "zeek")
    assert r.returncode == 2 and "needs -o DIR" in r.stderr
