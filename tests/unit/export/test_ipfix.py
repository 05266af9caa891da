"""IPFIX encoding (RFC 7011): templates, data sets, message splitting, sequence numbers;
checked against Wireshark's decoder as well as our own reader."""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.errors import MalformedError
from netwatch.export.ipfix import (
    MAX_MESSAGE,
    TEMPLATE_V4,
    TEMPLATE_V6,
    TEMPLATES,
    FlowRecord,
    decode_message,
    pack_messages,
    template_set,
)

V4 = FlowRecord(
    "192.0.2.1", "198.51.100.2", 1234, 443, 6, 1000, 10, 1140,
    1_700_000_000_123, 1_700_000_001_456, 0x12, 7, 3, 42,
)  # fmt: skip
V6 = FlowRecord(
    "2001:db8::1", "2001:db8::2", 53, 5353, 17, 100, 1, 114,
    1_700_000_000_000, 1_700_000_000_000, 0, 0, 1, 43,
)  # fmt: skip


def fields_of(tid: int, raw: bytes) -> dict[int, int | str]:
    """A data record's values by information element number (our reader's view)."""
    out: dict[int, int | str] = {}
    pos = 0
    for f in TEMPLATES[tid].fields:
        chunk = raw[pos : pos + f.length]
        pos += f.length
        if f.code:
            out[f.id] = struct.unpack("!" + f.code, chunk)[0]
        else:
            out[f.id] = str(ipaddress.ip_address(chunk))
    assert pos == len(raw)
    return out


def test_template_set_bytes() -> None:
    raw = template_set([TEMPLATES[TEMPLATE_V4]])
    # set id 2, length; template 256 with 14 fields; the first three specifiers
    assert raw[:8] == bytes.fromhex("0002 0040 0100 000e".replace(" ", ""))
    assert raw[8:20] == bytes.fromhex("0008 0004 000c 0004 0007 0002".replace(" ", ""))
    assert len(raw) == 4 + 4 + 14 * 4
    ids = [f.id for f in TEMPLATES[TEMPLATE_V6].fields]
    assert ids[:2] == [27, 28] and ids[2:] == [f.id for f in TEMPLATES[TEMPLATE_V4].fields][2:]


def test_message_header_and_record_values() -> None:
    [(msg, count)] = pack_messages(
        [V4, V6], export_time=1_700_000_002, sequence=5, domain=9, with_templates=True
    )
    assert count == 2
    version, length, etime, seq, domain = struct.unpack_from("!HHIII", msg)
    assert (version, length, etime, seq, domain) == (10, len(msg), 1_700_000_002, 5, 9)
    d = decode_message(msg)
    assert set(d.templates) == {TEMPLATE_V4, TEMPLATE_V6}
    (t4, r4), (t6, r6) = d.records
    assert (t4, t6) == (TEMPLATE_V4, TEMPLATE_V6)
    f = fields_of(t4, r4)
    assert f[8] == "192.0.2.1" and f[12] == "198.51.100.2"
    assert (f[7], f[11], f[4], f[6], f[58]) == (1234, 443, 6, 0x12, 7)
    assert (f[1], f[2], f[352], f[152], f[153], f[136], f[148]) == (
        1000, 10, 1140, 1_700_000_000_123, 1_700_000_001_456, 3, 42,
    )  # fmt: skip
    assert fields_of(t6, r6)[27] == "2001:db8::1"


def _pcap(tmp: Path, messages: list[bytes]) -> Path:
    path = tmp / "ipfix.pcap"
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=dpkt.pcap.DLT_RAW)
        for i, m in enumerate(messages):
            udp = dpkt.udp.UDP(sport=50000, dport=4739, data=m)
            udp.ulen = len(udp)
            ip = dpkt.ip.IP(src=b"\x7f\0\0\x01", dst=b"\x7f\0\0\x01", p=17, data=udp)
            ip.len = len(ip)
            w.writepkt(bytes(ip), ts=1_700_000_000 + i)
    return path


FIELDS = [
    "cflow.sequence", "cflow.od_id", "cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6",
    "cflow.dstaddrv6", "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.octets",
    "cflow.packets", "cflow.layer2_octet_delta_count", "cflow.flow_end_reason",
    "cflow.flow_id", "cflow.tcpflags",
]  # fmt: skip


def test_wireshark_reads_what_we_write(tmp_path: Path) -> None:
    """tshark's IPFIX dissector (field names from the IANA registry) as the oracle."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    v4s = [FlowRecord(f"10.0.0.{i}", "10.0.1.1", 1000 + i, 80, 6, 60 * i, i, 74 * i,
                      1_700_000_000_000, 1_700_000_000_000 + i, 0x02 if i % 2 else 0x11, 0,
                      2, i) for i in range(1, 31)]  # fmt: skip
    msgs = pack_messages(
        [*v4s, V6], export_time=1_700_000_100, sequence=77, domain=3, with_templates=True
    )
    assert len(msgs) >= 2  # 31 records do not fit one 1400-byte message
    out = subprocess.run(
        [tshark, "-r", str(_pcap(tmp_path, [m for m, _ in msgs])), "-d", "udp.port==4739,cflow",
         "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
         *[x for f in FIELDS for x in ("-e", f)]],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rows = [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.stdout.splitlines()]
    assert len(rows) == len(msgs)
    seq = 77
    got: list[tuple[str, ...]] = []
    for row, (_, count) in zip(rows, msgs, strict=True):
        assert int(row["cflow.sequence"]) == seq and row["cflow.od_id"] == "3"
        seq += count
        cols = [row[f].split(",") if row[f] else [] for f in FIELDS[2:]]
        v4n = len(cols[0])
        for i in range(v4n):
            got.append((cols[0][i], cols[1][i], *(c[i] for c in cols[4:])))
        for j in range(len(cols[2])):
            got.append((cols[2][j], cols[3][j], *(c[v4n + j] for c in cols[4:])))
    want = [
        (r.src, r.dst, str(r.sport), str(r.dport), str(r.protocol), str(r.octets),
         str(r.packets), str(r.l2_octets), str(r.end_reason), str(r.flow_id),
         f"0x{r.tcp_flags:04x}")
        for r in [*v4s, V6]
    ]  # fmt: skip
    assert got == want


def test_split_into_messages_with_running_sequence() -> None:
    recs = [V4 if i % 3 else V6 for i in range(100)]
    msgs = pack_messages(recs, export_time=1, sequence=2**32 - 10, domain=1, with_templates=True)
    seq = 2**32 - 10
    total = 0
    for i, (m, count) in enumerate(msgs):
        assert len(m) <= MAX_MESSAGE
        d = decode_message(m)
        assert d.sequence == seq % 2**32  # wraps modulo 2**32 (RFC 7011 §3.1)
        assert bool(d.templates) == (i == 0)  # templates only in the first
        assert len(d.records) == count
        seq += count
        total += count
    assert total == 100
    flat = [fields_of(t, r)[148] for m, _ in msgs for t, r in decode_message(m).records]
    assert flat == [r.flow_id for r in recs]  # order kept


def test_templates_alone_make_a_message() -> None:
    [(m, count)] = pack_messages([], export_time=1, sequence=0, domain=1, with_templates=True)
    assert count == 0 and set(decode_message(m).templates) == {TEMPLATE_V4, TEMPLATE_V6}
    assert pack_messages([], export_time=1, sequence=0, domain=1, with_templates=False) == []


@pytest.mark.parametrize(
    "bad",
    [
        FlowRecord("192.0.2.1", "2001:db8::1", 1, 2, 6, 1, 1, 1, 0, 0),
        FlowRecord("not-an-ip", "192.0.2.1", 1, 2, 6, 1, 1, 1, 0, 0),
        FlowRecord("192.0.2.1", "192.0.2.2", 70000, 2, 6, 1, 1, 1, 0, 0),
        FlowRecord("192.0.2.1", "192.0.2.2", 1, 2, 6, -1, 1, 1, 0, 0),
    ],
)
def test_unencodable_records_raise_malformed(bad: FlowRecord) -> None:
    with pytest.raises(MalformedError):
        bad.encode()


addrs4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
addrs6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
u16 = st.integers(0, 0xFFFF)
u64 = st.integers(0, 2**64 - 1)


@st.composite
def records(draw: st.DrawFn) -> FlowRecord:
    a = addrs6 if draw(st.booleans()) else addrs4
    return FlowRecord(
        draw(a), draw(a), draw(u16), draw(u16), draw(st.integers(0, 255)), draw(u64),
        draw(u64), draw(u64), draw(u64), draw(u64), draw(u16), draw(u16),
        draw(st.integers(0, 255)), draw(u64),
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(records(), max_size=40), st.integers(0, 2**32 - 1))
def test_round_trip(recs: list[FlowRecord], seq: int) -> None:
    msgs = pack_messages(recs, export_time=5, sequence=seq, domain=1, with_templates=True)
    back = []
    for m, _ in msgs:
        for tid, raw in decode_message(m).records:
            f = fields_of(tid, raw)
            src = f[8] if tid == TEMPLATE_V4 else f[27]
            back.append((src, f[7], f[1], f[2], f[148], f[6], f[58]))
    want = [
        (str(ipaddress.ip_address(r.src)), r.sport, r.octets, r.packets, r.flow_id, r.tcp_flags,
         r.vlan)
        for r in recs
    ]  # fmt: skip
    assert back == want


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_reader_raises_only_malformed(data: bytes) -> None:
    try:
        decode_message(data)
    except MalformedError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_reader_on_damaged_messages(cut: int, junk: bytes) -> None:
    [(m, _)] = pack_messages([V4, V6], export_time=1, sequence=0, domain=1, with_templates=True)
    for bad in (m[:cut], m[:cut] + junk + m[cut + len(junk) :]):
        try:
            decode_message(bad)
        except MalformedError:
            pass
