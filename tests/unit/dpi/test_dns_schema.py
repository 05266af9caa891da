"""Every app.dns record the analyzer makes validates against docs/schema/app/dns.schema.json."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.dns import DNSAnalyzer
from netwatch.errors import MalformedError
from tests.unit.dpi.test_dns_analyzer import NXDOMAIN, QUERY, RESPONSE
from tests.util.corpus import CORPUS, REPO
from tests.util.streams import flows_of

SCHEMA = REPO / "docs" / "schema" / "app" / "dns.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def corpus_records() -> list[dict[str, Any]]:
    records = []
    paths = [*CORPUS.glob("*.pcap*"), CORPUS / "zeek" / "wikipedia" / "trace.pcap"]
    for path in sorted(p for p in paths if p.exists()):
        for flow in flows_of(path):
            if not flow.chunks or not {flow.client[1], flow.server[1]} & {53, 5353, 5355}:
                continue
            a = DNSAnalyzer(flow.transport, "mdns" if flow.server[1] == 5353 else "dns")  # type: ignore[arg-type]
            try:
                for d, data, ts in flow.chunks:
                    a.feed(Dir(d), data, ts)
            except MalformedError:
                pass
            records.append(a.record())
    return records


def test_every_record_validates(validator: jsonschema.Draft202012Validator) -> None:
    records = corpus_records()
    a = DNSAnalyzer("udp")
    for msg in (QUERY, RESPONSE, NXDOMAIN):
        a.feed(Dir.CLIENT, msg, 1.0)
    records.append(a.record())
    records.append(DNSAnalyzer().record())
    assert len(records) > 30
    for rec in records:
        validator.validate(json.loads(json.dumps(rec)))


def test_schema_rejects_what_it_should(validator: jsonschema.Draft202012Validator) -> None:
    a = DNSAnalyzer()
    a.feed(Dir.CLIENT, RESPONSE, 1.0)
    good = a.record()
    bad_cases = [
        {**good, "extra": 1},
        {"queries": [{**good["queries"][0], "qtype": "a"}]},
        {"queries": [{**good["queries"][0], "rtt_ms": -1}]},
        {"queries": [{k: v for k, v in good["queries"][0].items() if k != "nodata"}]},
        {
            "queries": [
                {
                    **good["queries"][0],
                    "answers": [{"name": "x", "type": "A", "ttl": -1, "data": ""}],
                }
            ]
        },
    ]
    for bad in bad_cases:
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
