"""Every app.ssh record the analyzer makes validates against docs/schema/app/ssh.schema.json."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.ssh import SSHAnalyzer, detect_tcp
from tests.unit.dpi.test_ssh_analyzer import CLIENT, SERVER
from tests.util.corpus import CORPUS, REPO
from tests.util.streams import flows_of

SCHEMA = REPO / "docs" / "schema" / "app" / "ssh.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def records() -> list[dict[str, Any]]:
    out = []
    for path in sorted([*CORPUS.glob("*.pcap*"), *CORPUS.glob("zeek/*/trace.pcap")]):
        for flow in flows_of(path):
            if flow.transport != "tcp" or not detect_tcp(flow.data(0)[:16]):
                continue
            a = SSHAnalyzer()
            for d, data, ts in flow.chunks:
                a.feed(Dir(d), data, ts)
            out.append(a.record())
    for steps in ([(Dir.CLIENT, CLIENT), (Dir.SERVER, SERVER)], [(Dir.CLIENT, CLIENT[:30])], []):
        a = SSHAnalyzer()
        for d, data in steps:
            a.feed(d, data, 0.0)
        out.append(a.record())
    return out


def test_every_record_validates(validator: jsonschema.Draft202012Validator) -> None:
    recs = records()
    assert len(recs) >= 8
    assert any("cipher_s2c" in r for r in recs)
    for rec in recs:
        validator.validate(json.loads(json.dumps(rec)))


def test_schema_rejects_what_it_should(validator: jsonschema.Draft202012Validator) -> None:
    a = SSHAnalyzer()
    a.feed(Dir.CLIENT, CLIENT, 0.0)
    a.feed(Dir.SERVER, SERVER, 0.0)
    good = a.record()
    for bad in (
        {**good, "state": "CONNECTED"},
        {**good, "hassh": "xyz"},
        {**good, "client_version": "OpenSSH_9.7"},
        {k: v for k, v in good.items() if k != "kex"},
        {**good, "client_algorithms": {"kex": []}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
