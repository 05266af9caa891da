"""``app.tls`` records validate against docs/schema/app/tls.schema.json (draft 2020-12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.tls.analyzer import TLSAnalyzer
from tests.unit.dpi.test_tls_corpus import all_tls_flows, run
from tests.unit.dpi.test_tls_malformed import CLIENT12, CLIENT13, SERVER12, SERVER13
from tests.util.corpus import REPO

SCHEMA_PATH = REPO / "docs" / "schema" / "app" / "tls.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    out = [TLSAnalyzer().record()]
    for client, server in ((CLIENT12, SERVER12), (CLIENT13, SERVER13)):
        a = TLSAnalyzer()
        a.feed(Dir.CLIENT, client, 0.0)
        out.append(a.record())  # after the ClientHello only
        a.feed(Dir.SERVER, server, 0.0)
        out.append(a.record())
    for tf in all_tls_flows(tmp_path):
        a = TLSAnalyzer()
        run(a, tf.chunks, "chunks")
        out.append(a.record())
    return out


def test_every_record_validates(validator: jsonschema.Draft202012Validator, tmp_path: Path) -> None:
    records = _records(tmp_path)
    assert len(records) > 80
    for rec in records:
        validator.validate(rec)
        json.dumps(rec)  # JSON-serialisable


def test_schema_lists_exactly_the_record_keys(validator: jsonschema.Draft202012Validator) -> None:
    keys = set(TLSAnalyzer().record())
    assert set(validator.schema["required"]) == keys
    assert set(validator.schema["properties"]) == keys


def test_schema_rejects_what_it_should(validator: jsonschema.Draft202012Validator) -> None:
    good = TLSAnalyzer().record()
    for bad in (
        {**good, "extra": 1},
        {**good, "ja3": "XYZ"},
        {**good, "version": "TLS 1.2"},
        {**good, "certs": [{"subject": "CN=x"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_package_exports_are_curated() -> None:
    import netwatch.dpi.tls as tls

    for name in tls.__all__:
        value = getattr(tls, name)
        assert value.__module__.startswith("netwatch.dpi.tls."), name
        assert value.__name__ == name


def test_all_matches_the_lazy_export_table() -> None:
    import netwatch.dpi.tls as tls

    assert sorted(tls.__all__) == sorted(tls._EXPORTS)
    with pytest.raises(AttributeError):
        tls.no_such_name  # noqa: B018
