"""``netwatch record`` as a process: kill -9 mid-write, a full disk, live capture with
SIGHUP reload and SIGTERM, each checked by reopening and querying the store.

The capture for the crash and disk tests is written here: short UDP exchanges (benchmark
addresses only) spread over an hour of capture time, so connections expire and reach the
writer all through the run instead of all at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwatch.store import Store, store_path

pytestmark = pytest.mark.live
NETWATCH = [sys.executable, "-m", "netwatch"]


def _udp_frame(src: int, sport: int, dst: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
        struct.pack("!I", src), struct.pack("!I", dst),
    )  # fmt: skip
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


def write_spread_capture(path: Path, flows: int, spacing: float = 0.04) -> None:
    """``flows`` request/response UDP pairs, one pair every ``spacing`` seconds."""
    client, server = 0xC6120001, 0xC6130001  # 198.18.0.1, 198.19.0.1
    t0 = 1_700_000_000.0
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(flows):
            ts = t0 + i * spacing
            sport = 1024 + i % 60000
            server_i = server + (i // 60000)
            for k, frame in enumerate(
                (
                    _udp_frame(client, sport, server_i, 7000, b"ping %d" % i),
                    _udp_frame(server_i, 7000, client, sport, b"pong %d" % i),
                )
            ):
                t = ts + k * 0.001
                sec = int(t)
                fh.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
                fh.write(frame)


@pytest.fixture(scope="module")
def spread_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cap") / "spread.pcap"
    write_spread_capture(path, 120_000)
    return path


def _count(store: Path) -> int:
    try:
        db = sqlite3.connect(store_path(store), timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM connections").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0  # not created yet


def _integrity(store: Path) -> str:
    db = sqlite3.connect(store_path(store))
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def test_kill_9_mid_write_loses_at_most_a_second(tmp_path: Path, spread_capture: Path) -> None:
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [*NETWATCH, "record", "-r", str(spread_capture), "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    samples: list[tuple[float, int]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            samples.append((time.monotonic(), _count(store)))
            if samples[-1][1] > 0 and samples[-1][0] - _first_nonzero(samples) > 3.0:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the recording ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    growing = [(t, n) for t, n in samples if n > 0]
    # Committed rows appear in steps less than a second apart (commits every 0.5 s or
    # 1,000 rows), so a crash loses at most the last second of finished connections.
    changes = [t for (t, n), (_, m) in itertools.pairwise(growing) if m != n]
    gaps = [b - a for a, b in itertools.pairwise(changes)]
    assert len(changes) >= 3 and max(gaps) < 1.0, gaps
    last_seen = samples[-1][1]
    assert _integrity(store) == "ok"
    with Store(store) as st:
        rows = list(st.connections())
        assert len(rows) >= last_seen  # nothing committed was lost
        assert list(st.connections("dport:7000 and proto:udp", limit=3))
        assert st.summary()["runs"] == 1
    # whole rows only: each has its record and its index columns
    assert all(r.record["remote_port"] == 7000 and r.record["packets_in"] == 1 for r in rows)
    # the store goes on: a new run appends after the crash
    small = tmp_path / "small.pcap"
    write_spread_capture(small, 50)
    subprocess.run(
        [*NETWATCH, "record", "-r", str(small), "--store", str(store)], check=True, timeout=60
    )
    with Store(store) as st:
        assert st.summary()["runs"] == 2
        assert st.summary()["connections"] == len(rows) + 50


def _first_nonzero(samples: list[tuple[float, int]]) -> float:
    return next(t for t, n in samples if n > 0)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    got = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if got.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_full_disk_stops_cleanly(tmp_path: Path, spread_capture: Path) -> None:
    # A transaction of 1,000 records takes about 1 MB: room for one or two, far from all.
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        store = disk / "store"
        got = subprocess.run(
            [*NETWATCH, "record", "-r", str(spread_capture), "--store", str(store)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert got.returncode == 74, got.stderr
        errors = [ln for ln in got.stderr.splitlines() if "disk full" in ln]
        assert len(errors) == 1 and errors[0].startswith("netwatch: error:"), got.stderr
        assert "Traceback" not in got.stderr
        assert _integrity(store) == "ok"
        with Store(store) as st:
            n = st.summary()["connections"]
            assert n > 0
            rows = list(st.connections("proto:udp dport:7000"))
        assert len(rows) == n
        assert all(r.record["packets_out"] == 1 for r in rows)


def _wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class _Lines:
    """stderr of a process, read by a thread, so the test can wait for a log line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._t = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._t.start()

    def _read(self, fh: object) -> None:
        for line in fh:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in ln for ln in self.lines)


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _loopback_exchanges(n: int) -> int:
    """``n`` HTTP/1.1 exchanges with a local server, one per connection; returns its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(n)
    port = int(srv.getsockname()[1])

    def serve() -> None:
        for _ in range(n):
            c, _ = srv.accept()
            with c:
                c.recv(1000)
                c.sendall(RESPONSE)
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    for i in range(n):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /item/%d HTTP/1.1\r\nHost: rec.example\r\n\r\n" % i)
            while s.recv(1000):
                pass
    t.join(5)
    return port


def test_live_loopback_sighup_reload_and_sigterm(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("live capture needs root")
    store = tmp_path / "store"
    cfg = tmp_path / "record.toml"
    cfg.write_text(f'interface = "lo"\nstore = "{store}"\nretain = "30d"\nlog_level = "info"\n')
    proc = subprocess.Popen(
        [*NETWATCH, "record", "--config", str(cfg), "--attribution", "none"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = _Lines(proc)
    try:
        _wait_for(lambda: log.has("recording interface"), 20, "the recorder to start")
        time.sleep(0.5)  # the ring is bound right after the log line
        port = _loopback_exchanges(5)
        cfg.write_text(
            f'interface = "lo"\nstore = "{store}"\nretain = "7d"\nmax_size = "50M"\n'
            'log_level = "debug"\ncapture_filter = "tcp"\n'
        )
        proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: log.has("configuration reloaded"), 10, "the reload")
        assert log.has("capture_filter changed: takes effect at the next start")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "\n".join(log.lines)
    assert log.has("retain=7d, max_size=50M")
    with Store(store) as st:
        rows = [c.record for c in st.connections(f"port:{port} proto:tcp")]
        run = st._db.execute("SELECT stopped FROM runs").fetchone()[0]
    # SIGTERM flushed the open rows: every exchange is there, with its bytes both ways
    assert len(rows) == 5, json.dumps(rows)[:2000]
    assert all(r["bytes_in"] > 0 and r["bytes_out"] > 0 for r in rows)
    assert run is not None
    # ... and what the HTTP analyzer saw is searchable: the index finds the five requests
    with Store(store) as st:
        found = list(st.connections(f"http.host = rec.example and http.status = 200 port:{port}"))
        paths = sorted(c.record["app"]["http"]["requests"][0]["path"] for c in found)
    assert paths == [f"/item/{i}" for i in range(5)]
