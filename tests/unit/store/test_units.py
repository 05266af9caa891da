"""Schema migrations, the writer's queue, retention, and the time/size parsers."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import FilterSyntaxError, UsageError
from netwatch.store import Retention, Store, StoreWriter, parse_age, parse_size, parse_time, schema
from netwatch.store.db import connect, store_path
from netwatch.store.retention import apply_retention, used_bytes
from tests.unit.store.synth import view


# ---------------------------------------------------------------- schema
def test_new_store_has_the_current_schema(tmp_path: Path) -> None:
    db = connect(tmp_path, create=True)
    assert schema.current_version(db) == schema.SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"connections_first_seen", "connections_remote_ip", "dpi_index_connection"} <= names
    db.close()
    db = connect(tmp_path, create=False)  # reopening migrates nothing
    assert schema.current_version(db) == schema.SCHEMA_VERSION
    db.close()


def test_a_later_step_upgrades_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = StoreWriter(tmp_path, source="test")
    w.start()
    w.put_connection(view(1, 1000.0, sni="a.example"))
    w.close()
    step = ("CREATE TABLE packets (connection INTEGER NOT NULL, offset INTEGER NOT NULL)",)
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, step))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    db = connect(tmp_path, create=False)
    assert schema.current_version(db) == len(schema.MIGRATIONS)
    assert db.execute("SELECT count(*) FROM packets").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM connections").fetchone()[0] == 1  # data kept
    db.close()


def test_a_store_from_before_the_payload_columns_is_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema step 3 adds payload_out/payload_in: older rows keep NULL there, and ``top``
    and the payload filters still read them (as no payload)."""
    import sqlite3

    from netwatch.store import Store

    w = StoreWriter(tmp_path, source="test")
    w.start()
    w.put_connection(view(1, 1000.0, sni="old.example"))
    w.close()
    # Make it a version-2 store: no payload columns, as an older netwatch left it.
    db = sqlite3.connect(store_path(tmp_path))
    db.execute("ALTER TABLE connections DROP COLUMN payload_out")
    db.execute("ALTER TABLE connections DROP COLUMN payload_in")
    db.execute("UPDATE schema_version SET version = 2")
    db.commit()
    db.close()
    w = StoreWriter(tmp_path, source="test")  # opening migrates
    w.start()
    w.put_connection(view(2, 1001.0, sni="new.example"))
    w.close()
    db = connect(tmp_path, create=False)
    assert schema.current_version(db) == 3
    rows = db.execute("SELECT conn, payload_out FROM connections ORDER BY conn").fetchall()
    db.close()
    assert rows == [(1, None), (2, None)]  # (the synthetic views carry no payload counts)
    with Store(tmp_path) as st:
        assert [r.payload for r in st.top("port", "payload")] == [0]
        assert list(st.connections("payload>0")) == []


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    connect(tmp_path, create=True).close()
    db = sqlite3.connect(store_path(tmp_path))
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="newer"):
        Store(tmp_path)


def test_missing_store_and_garbage_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no netwatch store"):
        Store(tmp_path / "nothing")
    store_path(tmp_path).write_bytes(b"this is not a database" * 100)
    with pytest.raises(UsageError, match="cannot open"):
        Store(tmp_path)


# ---------------------------------------------------------------- writer
def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    w = StoreWriter(tmp_path, source="test", queue_size=10)
    for i in range(25):  # the thread is not started: nothing drains the queue
        w.put_connection(view(i, 1000.0 + i))
    assert w.stats().dropped == 15
    w.start()
    w.close()
    with Store(tmp_path) as st:
        assert st.summary()["connections"] == 10
        assert st.summary()["dropped"] == 15


def test_blocking_writer_for_files_loses_nothing(tmp_path: Path) -> None:
    """A file's end hands over every open row at once: with ``block`` nothing is dropped."""
    w = StoreWriter(tmp_path, source="test", queue_size=10, block=True)
    w.start()
    for i in range(3000):
        w.put_connection(view(i, 1000.0 + i))
    w.close()
    with Store(tmp_path) as st:
        assert st.summary()["connections"] == 3000
        assert st.summary()["dropped"] == 0


def test_commits_within_the_interval(tmp_path: Path) -> None:
    """A finished connection is readable by another process within ~COMMIT_INTERVAL."""
    w = StoreWriter(tmp_path, source="test", commit_interval=0.2)
    w.start()
    try:
        w.put_connection(view(1, 1000.0))
        reader = sqlite3.connect(store_path(tmp_path))
        deadline = time.monotonic() + 2
        n = 0
        while time.monotonic() < deadline and not n:
            n = reader.execute("SELECT count(*) FROM connections").fetchone()[0]
            time.sleep(0.02)
        reader.close()
        assert n == 1
    finally:
        w.close()


# ---------------------------------------------------------------- retention
def _fill(tmp_path: Path, n: int, size: int = 0) -> None:
    w = StoreWriter(tmp_path, source="test")
    w.start()
    for i in range(n):
        w.put_connection(view(i, 1000.0 + i, sni=f"h{i}.example", size=size))
    w.close()


def test_retention_by_age(tmp_path: Path) -> None:
    _fill(tmp_path, 100)
    db = connect(tmp_path, create=False)
    # connection i lasts [1000 + i, 1001 + i]; "now" 1100, keep 50 s: last_seen >= 1050
    removed = apply_retention(db, Retention(max_age=50), now=1100.0)
    assert removed == 49
    left = [r[0] for r in db.execute("SELECT conn FROM connections ORDER BY conn")]
    assert left == list(range(49, 100))
    orphans = db.execute(
        "SELECT count(*) FROM dpi_index WHERE connection NOT IN (SELECT id FROM connections)"
    ).fetchone()[0]
    assert orphans == 0
    db.close()


def test_retention_by_size_drops_the_oldest(tmp_path: Path) -> None:
    _fill(tmp_path, 2000, size=400)
    db = connect(tmp_path, create=False)
    before = used_bytes(db)
    limit = before // 2
    removed = apply_retention(db, Retention(max_bytes=limit), now=0.0)
    assert 0 < removed < 2000
    assert used_bytes(db) <= limit
    conns = [r[0] for r in db.execute("SELECT conn FROM connections ORDER BY conn")]
    assert conns == list(range(removed, 2000))  # exactly the oldest went
    file_size = store_path(tmp_path).stat().st_size
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA incremental_vacuum")
    assert store_path(tmp_path).stat().st_size <= max(file_size, limit * 1.2)
    db.close()


def test_writer_applies_retention(tmp_path: Path) -> None:
    w = StoreWriter(tmp_path, source="test", retention_interval=3600)
    w.start()
    now = time.time()
    w.put_connection(view(1, now - 7200))  # two hours old
    w.put_connection(view(2, now - 60))
    time.sleep(0.8)  # committed; the next retention pass is an hour away
    w.retention = Retention(max_age=3600)  # what SIGHUP does: applied at once
    deadline = time.monotonic() + 3
    left: list[int] = []
    while time.monotonic() < deadline:
        with Store(tmp_path) as st:
            left = [c.conn for c in st.connections()]
        if left == [2]:
            break
        time.sleep(0.1)
    w.close()
    assert left == [2]


# ---------------------------------------------------------------- parsers
def test_times() -> None:
    now = 1_700_000_000.0
    assert parse_time("2h", now) == now - 7200
    assert parse_time("90s", now) == now - 90
    assert parse_time("1w", now) == now - 604800
    assert parse_time("now", now) == now
    assert parse_time("2024-05-01T12:00:00Z", now) == 1714564800.0
    assert parse_time("2024-05-01T14:00:00+02:00", now) == 1714564800.0
    assert parse_time("2024-05-01T12:00:00.5Z", now) == 1714564800.5
    assert parse_time("2024-05-01", now) == 1714521600.0
    assert parse_time("1714564800", now) == 1714564800.0
    for bad in ("yesterday", "2h ago", "2024-13-01", "", "5y"):
        with pytest.raises(UsageError):
            parse_time(bad, now)


def test_ages_and_sizes() -> None:
    assert parse_age("7d") == 7 * 86400
    assert parse_age("15m") == 900
    assert parse_size("10G") == 10**10
    assert parse_size("2Gi") == 2 * 1024**3
    assert parse_size("500M") == 500 * 10**6
    for bad in ("10X", "1k", "-5M"):
        with pytest.raises(UsageError):
            parse_size(bad)
    with pytest.raises(UsageError):
        parse_age("forever")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parsers_raise_only_usage_errors(text: str) -> None:
    for parse in (lambda t: parse_time(t, 1e9), parse_age, parse_size):
        try:
            parse(text)
        except UsageError:
            pass


_PLAN_STORE: list[Store] = []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab1:=!<>~/()-" .*%_\\tlsnipordh'), max_size=30))
def test_any_expression_plans_or_is_a_syntax_error(text: str) -> None:
    """Whatever is typed, the query layer raises FilterSyntaxError or runs valid SQL."""
    if not _PLAN_STORE:
        import tempfile

        d = Path(tempfile.mkdtemp())
        w = StoreWriter(d, source="fuzz")
        w.start()
        w.put_connection(view(1, 1000.0, sni="a.example"))
        w.close()
        _PLAN_STORE.append(Store(d))
    store = _PLAN_STORE[0]
    try:
        list(store.connections(text))
    except FilterSyntaxError:
        pass


@pytest.mark.parametrize("n", [1, 3, 255, 256, 257, 341, 1000, 2345])
def test_every_row_of_any_batch_size_is_written_once(tmp_path: Path, n: int) -> None:
    """Rows go in statements of a few fixed sizes (prepared once): any count must come out
    whole, each row once, in order, with its DPI index rows."""
    w = StoreWriter(tmp_path, source="test")
    w.start()
    for i in range(1, n + 1):
        w.put_connection(view(i, 1000.0 + i, sni=f"h{i}.example"))
    w.close()
    db = connect(tmp_path, create=False)
    conns = [r[0] for r in db.execute("SELECT conn FROM connections ORDER BY id")]
    assert conns == list(range(1, n + 1))
    sni = db.execute("SELECT count(*) FROM dpi_index WHERE key = 'app.*.sni'").fetchone()[0]
    assert sni == n
    db.close()
