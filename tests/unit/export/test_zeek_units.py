"""Zeek export pieces: conn_state and history rules, value formatting, the JSON flavour,
and malformed records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import MalformedError
from netwatch.export import write_eve, write_zeek
from netwatch.export.dnsinfo import header_flags, netbios_name
from netwatch.export.eve import events
from netwatch.export.zeek_conn import ACK, FIN, RST, SYN, conn_state, history, is_local
from netwatch.export.zeek_format import ZeekLog, escape, tsv_value
from netwatch.export.zeek_logs import rows, zeek_dn
from netwatch.export.zeek_schema import LOGS
from tests.unit.export.records import records_of
from tests.unit.export.zeekread import parse
from tests.util.corpus import corpus_file

# (history, conn_state): Zeek's conn_state-RST-behavior baseline (the first four), the
# corpus's Zeek baselines, and the state table's remaining rows.
STATES = [
    ("R", "OTH"),
    ("SR", "RSTOS0"),
    ("SaR", "RSTOS0"),
    ("SaFR", "OTH"),
    ("ShADadFf", "SF"),
    ("ShADdFaf", "SF"),
    ("ShADad", "S1"),
    ("ShR", "RSTO"),
    ("Dr", "RSTRH"),
    ("DdA", "OTH"),
    ("^h", "OTH"),
    ("S", "S0"),
    ("Sr", "REJ"),
    ("ShADadF", "S2"),
    ("ShADadf", "S3"),
    ("ShADadr", "RSTR"),
    ("SF", "SH"),
    ("hf", "SHR"),
]


@pytest.mark.parametrize(("hist", "state"), STATES)
def test_conn_state_table(hist: str, state: str) -> None:
    assert conn_state("tcp", hist, 1, 1) == state


def test_udp_and_other_states() -> None:
    assert conn_state("udp", "D", 1, 0) == "S0"
    assert conn_state("udp", "Dd", 1, 1) == "SF"
    assert conn_state("udp", "d", 0, 1) == "SHR"
    assert conn_state("icmp", None, 1, 1) == "OTH"
    assert conn_state("tcp", None, 1, 1) == "OTH"


def test_history_from_segments() -> None:
    handshake = [(0, SYN, 0), (1, SYN | ACK, 0), (0, ACK, 0)]
    data = [(0, ACK, 100), (1, ACK, 0), (1, ACK, 50), (0, ACK, 0), (1, ACK, 200)]
    close = [(0, FIN | ACK, 0), (1, FIN | ACK, 0), (0, ACK, 0)]
    assert history(handshake + data + close) == "ShADadFf"
    assert history([(0, SYN, 0), (0, RST, 0)]) == "SR"
    assert history([(0, SYN | FIN, 0)]) == "Q"
    assert history([(1, FIN | RST, 0)]) == "i"
    hist = history(handshake + data + close)
    assert conn_state("tcp", hist, 6, 4) == "SF"


@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 0x3F), st.integers(0, 3000)), max_size=40)
)
@settings(max_examples=200, deadline=None)
def test_history_and_state_total(segments: list[tuple[int, int, int]]) -> None:
    hist = history(segments)
    assert set(hist) <= set("SHADFRQIshadfrqi")
    for letter in "ADIQadiq":
        assert hist.count(letter) <= 1
    assert conn_state("tcp", hist, 1, 1) in {
        "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
    }  # fmt: skip


def test_local_nets() -> None:
    assert is_local("192.168.1.1") and is_local("224.0.0.251") and is_local("fe80::1")
    assert not is_local("141.142.220.118") and not is_local("ff02::fb") and not is_local("x")


def test_escaping_rules() -> None:
    assert escape("-") == "\\x2d"
    assert escape("(empty)") == "\\x28empty)"
    assert escape("a\tb\\c") == "a\\x09b\\x5cc"
    assert escape("Mrz ä") == "Mrz \\xc3\\xa4"
    assert tsv_value("", "string") == "(empty)"
    assert tsv_value(None, "string") == "-"
    assert tsv_value([], "set[string]") == "(empty)"
    assert tsv_value(["a,b", "c"], "vector[string]") == "a\\x2cb,c"
    assert tsv_value(True, "bool") == "T"
    assert tsv_value(0.000435, "interval") == "0.000435"
    assert tsv_value(1300475167.0965351, "time") == "1300475167.096535"


def _unescape(cell: str) -> str:
    out = bytearray()
    i = 0
    while i < len(cell):
        if cell.startswith("\\x", i):
            out.append(int(cell[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(ord(cell[i]))
            i += 1
    return out.decode("utf-8")


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_string_cells_round_trip(text: str) -> None:
    cell = tsv_value(text, "string")
    assert "\t" not in cell and "\n" not in cell
    if text == "":
        assert cell == "(empty)"
    else:
        assert cell not in ("-", "(empty)")
        assert _unescape(cell) == text


def test_log_header_and_unknown_field() -> None:
    buf = io.StringIO()
    log = ZeekLog(buf, "ssh", LOGS["ssh"], opened=0.0)
    log.write({"ts": 1.5, "uid": "Cx", "id.orig_h": "10.0.0.1", "id.orig_p": 1, "version": 2})
    with pytest.raises(ValueError, match="not in the log's schema"):
        log.write({"nonsense": 1})
    log.close(0.0)
    z = parse(buf.getvalue())
    assert z.headers["path"] == "ssh" and z.headers["set_separator"] == ","
    assert z.headers["empty_field"] == "(empty)" and z.headers["unset_field"] == "-"
    assert z.fields == [n for n, _ in LOGS["ssh"]] and z.closed
    assert z.rows[0]["version"] == "2" and z.rows[0]["client"] == "-"


def test_json_flavour(tmp_path: Path) -> None:
    recs = records_of(corpus_file("zeek/wikipedia/trace.pcap"))
    result = write_zeek(recs, tmp_path, json=True)
    assert result.written == {"conn": 34, "dns": 34, "http": 15} and result.malformed == 0
    types = {name: dict(schema) for name, schema in LOGS.items()}
    for name in result.written:
        lines = (tmp_path / f"{name}.log").read_text().splitlines()
        assert len(lines) == result.written[name]
        for line in lines:
            obj = json.loads(line)
            assert set(obj) <= set(types[name])
            assert isinstance(obj["ts"], float) and obj["uid"].startswith("C")
            for key, value in obj.items():
                zt = types[name][key]
                if zt.startswith(("set[", "vector[")):
                    assert isinstance(value, list)
                elif zt == "bool":
                    assert isinstance(value, bool)
                elif zt in ("count", "port"):
                    assert isinstance(value, int) and not isinstance(value, bool)
    conn = [json.loads(x) for x in (tmp_path / "conn.log").read_text().splitlines()]
    flipped = next(c for c in conn if c["id.orig_p"] == 6705)
    assert flipped["history"] == "^h" and "duration" not in flipped


def test_dn_and_netbios_and_flags() -> None:
    assert zeek_dn("C=US, O=Google Inc, CN=Google Internet Authority") == (
        "CN=Google Internet Authority,O=Google Inc,C=US"
    )
    assert netbios_name("FHEPFCELEHFCEPFFFACACACACACACABN") == "WORKGROUP"
    assert netbios_name("not-netbios") is None
    assert header_flags(["rd", "ra"], 0, response=True) == 0x8180
    assert header_flags(["aa", "rd", "ra"], 3, response=True) == 0x8583


def _mutations() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**33), 2**33)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=6,
    )


BASE_RECORDS = None


def _base() -> list[dict[str, Any]]:
    global BASE_RECORDS
    if BASE_RECORDS is None:
        BASE_RECORDS = []
        for name in ("wikipedia", "ssl-basic", "ssh-pre-banner", "smtp-starttls"):
            BASE_RECORDS += records_of(corpus_file(f"zeek/{name}/trace.pcap"))
    return BASE_RECORDS


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a record (dict keys and list indices, at any depth)."""
    out = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _damage(record: dict[str, Any], which: int, value: Any) -> dict[str, Any]:
    rec = json.loads(json.dumps(record))
    paths = _paths(rec)
    path = paths[which % len(paths)]
    node = rec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return rec


@given(st.integers(0, 10_000), st.integers(0, 100_000), _mutations())
@settings(max_examples=300, deadline=None)
def test_damaged_records_raise_malformed_or_export(idx: int, which: int, value: Any) -> None:
    """Any one value of a real record replaced by junk: the exports either work or raise
    MalformedError, and the writers go on with the next record."""
    base = _base()
    rec = _damage(base[idx % len(base)], which, value)
    for build in (events, rows):
        try:
            build(rec)
        except MalformedError as exc:
            assert exc.protocol == "export"
    buf = io.StringIO()
    result = write_eve([rec, base[0]], buf)
    assert result.total >= 1 and result.malformed <= 1


def test_writers_skip_and_count_malformed(tmp_path: Path) -> None:
    good = records_of(corpus_file("zeek/ssl-basic/trace.pcap"))[0]
    bad = dict(good, first_seen="yesterday")
    buf = io.StringIO()
    res = write_eve([bad, good, "not a record"], buf)  # type: ignore[list-item]
    assert res.malformed == 2 and res.written == {"tls": 1, "flow": 1}
    zres = write_zeek([bad, good], tmp_path, opened=0.0)
    assert zres.malformed == 1 and zres.written == {"conn": 1, "ssl": 1, "x509": 2}


def _conn_cells(rec: dict[str, Any]) -> dict[str, str]:
    buf = io.StringIO()
    log = ZeekLog(buf, "conn", LOGS["conn"], opened=0.0)
    for path, row in rows(rec):
        if path == "conn":
            log.write(row)
    log.close(0.0)
    return parse(buf.getvalue()).rows[0]


def test_optional_engine_fields_give_zeeks_row() -> None:
    """With the byte counters the engine is to add, a row equals Zeek's byte for byte
    (wikipedia, 141.142.220.118:43927 → 141.142.2.2:53, Zeek's baseline row)."""
    recs = records_of(corpus_file("zeek/wikipedia/trace.pcap"))
    rec = next(r for r in recs if r["local_port"] == 43927)
    rec.update(payload_bytes_out=38, payload_bytes_in=89, ip_bytes_out=66, ip_bytes_in=117)
    cells = _conn_cells(rec)
    zeek = "141.142.220.118 43927 141.142.2.2 53 udp dns 0.000435 38 89 SF F F 0 Dd 1 66 1 117 - 17"
    assert [cells[n] for n, _ in LOGS["conn"][2:]] == zeek.split()


def test_initiator_remote_turns_the_row_around() -> None:
    recs = records_of(corpus_file("zeek/modbus-port502/trace.pcap"))
    rec = next(r for r in recs if r["local_port"] == 3082)
    assert rec["closed_at"] < rec["last_seen"]  # the engine's: the final ACK comes later
    del rec["closed_at"]  # (the rule alone, below)
    swapped = dict(
        rec,
        local_addr=rec["remote_addr"], local_port=rec["remote_port"],
        remote_addr=rec["local_addr"], remote_port=rec["local_port"],
        packets_out=rec["packets_in"], packets_in=rec["packets_out"],
        bytes_out=rec["bytes_in"], bytes_in=rec["bytes_out"],
        ip_bytes_out=437, ip_bytes_in=720, initiator="remote",
    )  # fmt: skip
    a, b = _conn_cells(rec), _conn_cells(swapped)
    assert (b["id.orig_h"], b["id.orig_p"], b["orig_pkts"], b["resp_pkts"]) == (
        "10.0.0.9", "3082", "16", "9",
    )  # fmt: skip
    assert (b["orig_ip_bytes"], b["resp_ip_bytes"]) == ("720", "437")
    assert a["uid"] == b["uid"] and a["conn_state"] == b["conn_state"] == "SF"
    # closed_at shortens Zeek's duration, never lengthens it.
    first = rec["first_seen"]
    assert _conn_cells(dict(rec, closed_at=first))["duration"] == "-"
    assert _conn_cells(dict(rec, closed_at=rec["last_seen"]))["duration"] == a["duration"]
    later = "2100-01-01T00:00:00Z"
    assert _conn_cells(dict(rec, closed_at=later))["duration"] == a["duration"]
