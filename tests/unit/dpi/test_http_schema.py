"""Every app.http record the analyzer makes validates against docs/schema/app/http.schema.json."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.http import HTTPAnalyzer, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.dpi.test_http2 import prior_knowledge_exchange
from tests.unit.dpi.test_http_analyzer import PIPELINE, PIPELINE_RESP, REQ, RESP
from tests.util.corpus import CORPUS, REPO
from tests.util.streams import flows_of

SCHEMA = REPO / "docs" / "schema" / "app" / "http.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def records() -> list[dict[str, Any]]:
    out = []
    paths = [*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/trace.pcap")]
    for path in sorted(paths):
        for flow in flows_of(path):
            if flow.transport != "tcp" or not flow.chunks or not detect_tcp(flow.data(0)[:64]):
                continue
            a = HTTPAnalyzer()
            try:
                for d, data, ts in flow.chunks:
                    a.feed(Dir(d), data, ts)
            except MalformedError:
                pass
            out.append(a.record())
    client, server = prior_knowledge_exchange()
    for steps in (
        [(Dir.CLIENT, REQ), (Dir.SERVER, RESP)],
        [(Dir.CLIENT, PIPELINE), (Dir.SERVER, PIPELINE_RESP)],
        [(Dir.CLIENT, client), (Dir.SERVER, server)],
        [(Dir.CLIENT, b"CONNECT h:443 HTTP/1.1\r\n\r\n"), (Dir.SERVER, b"HTTP/1.1 200 OK\r\n\r\n")],
        [],
    ):
        a = HTTPAnalyzer()
        for d, data in steps:
            a.feed(d, data, 0.0)
        out.append(a.record())
    return out


def test_every_record_validates(validator: jsonschema.Draft202012Validator) -> None:
    recs = records()
    assert len(recs) > 15
    for rec in recs:
        validator.validate(json.loads(json.dumps(rec)))


def test_schema_rejects_what_it_should(validator: jsonschema.Draft202012Validator) -> None:
    a = HTTPAnalyzer()
    a.feed(Dir.CLIENT, REQ, 0.0)
    a.feed(Dir.SERVER, RESP, 0.0)
    good = a.record()
    row = good["requests"][0]
    for bad in (
        {**good, "version": "HTTP/3"},
        {**good, "requests": [{**row, "status": 42}]},
        {**good, "requests": [{**row, "response_body_bytes": -1}]},
        {**good, "requests": [{k: v for k, v in row.items() if k != "host"}]},
        {**good, "tunnel": False},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
