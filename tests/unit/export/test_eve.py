"""EVE export: every event of every corpus capture validates against Suricata's schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from netwatch.export import write_eve
from netwatch.export.eve import eve_time, events
from netwatch.export.flow import flow_of
from tests.unit.export.records import records_of
from tests.util.corpus import SHARED, captures, corpus_file

SCHEMA = SHARED / "testdata" / "suricata" / "eve-schema.json"
CAPTURES = captures()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    if not SCHEMA.exists():
        pytest.skip("Suricata EVE schema not available")
    return Draft202012Validator(json.loads(SCHEMA.read_text()))


def _eve(path: Path) -> list[dict[str, Any]]:
    buf = io.StringIO()
    write_eve(records_of(path), buf)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_corpus_events_valid(path: Path, validator: Draft202012Validator) -> None:
    evs = _eve(path)
    for ev in evs:
        errors = sorted(validator.iter_errors(ev), key=str)
        assert not errors, f"{ev['event_type']}: {errors[0].message} in {json.dumps(ev)[:300]}"
    ip_records = [r for r in records_of(path) if flow_of(r) is not None]
    flows = [e for e in evs if e["event_type"] == "flow"]
    assert len(flows) == len(ip_records)
    # Every event of a connection shares its flow's flow_id and community_id.
    ids = {e["flow_id"]: e["community_id"] for e in flows}
    assert len(ids) == len(flows)
    for ev in evs:
        assert ids[ev["flow_id"]] == ev["community_id"]
        assert "alert" not in ev


def test_eve_time_form() -> None:
    assert eve_time(1335538392.299605) == "2012-04-27T14:53:12.299605+0000"


def test_tls_event_fields() -> None:
    evs = _eve(corpus_file("zeek/ssl-basic/trace.pcap"))
    (tls,) = [e for e in evs if e["event_type"] == "tls"]
    assert tls["src_ip"] == "192.168.1.105" and tls["dest_port"] == 443
    assert tls["app_proto"] == "tls"
    body = tls["tls"]
    assert body["sni"] == "ssl.gstatic.com"
    assert body["version"] == "TLSv1"
    assert body["serial"] == "36:F5:DA:53:00:00:00:00:50:5E"
    assert body["notbefore"] == "2012-04-11T00:04:37"
    assert body["subject"].endswith("CN=*.gstatic.com")
    assert body["ja3"]["hash"] == "62351d5ea3cd4f21f697965b10a9bbbe"


def test_dns_request_and_response() -> None:
    evs = _eve(corpus_file("zeek/wikipedia/trace.pcap"))
    dns = [e["dns"] for e in evs if e["event_type"] == "dns" and e["src_port"] == 40526]
    assert [d["type"] for d in dns] == ["request", "response"]
    req, resp = dns
    assert req["id"] == resp["id"] == 26096
    assert req["flags"] == "100" and req["rd"] is True
    assert resp["flags"] == "8180" and resp["rcode"] == "NOERROR"
    assert resp["grouped"] == {"CNAME": ["upload.pmtpa.wikimedia.org"], "A": ["208.80.152.3"]}
    # An mDNS query nobody answered is a request only.
    lone = [
        e["dns"]["type"]
        for e in evs
        if e["event_type"] == "dns" and e["src_ip"] == "141.142.220.202"
    ]
    assert lone == ["request"]


def test_flow_event_counts_and_tcp_flags() -> None:
    evs = _eve(corpus_file("zeek/modbus-port502/trace.pcap"))
    (flow,) = [e for e in evs if e["event_type"] == "flow" and e["src_port"] == 3082]
    assert flow["flow"]["pkts_toserver"] == 16 and flow["flow"]["pkts_toclient"] == 9
    assert flow["flow"]["state"] == "closed"
    assert flow["tcp"]["syn"] and flow["tcp"]["fin"] and flow["tcp"]["ack"]
    assert flow["tcp"]["tcp_flags"] == "13"


def test_ssh_event() -> None:
    evs = _eve(corpus_file("zeek/ssh-pre-banner/trace.pcap"))
    (ssh,) = [e["ssh"] for e in evs if e["event_type"] == "ssh"]
    assert ssh["client"]["proto_version"] == "2.0"
    assert ssh["client"]["software_version"] == "OpenSSH_9.7"
    assert ssh["server"]["hassh"]["hash"] == "425d29fe50d8e4f5e37efb6e24bcf660"


def test_non_ip_rows_are_skipped() -> None:
    arp = {"proto": "arp", "local_addr": "10.0.0.1", "remote_addr": "10.0.0.2", "local_port": 0}
    assert events(arp) == []
