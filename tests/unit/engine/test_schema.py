"""Every analyze record of every corpus capture is valid against docs/schema/ (JSON Schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.unit.engine.helpers import analyze
from tests.util.corpus import REPO, captures

SCHEMA_DIR = REPO / "docs" / "schema"


def _validator() -> Draft202012Validator:
    root = json.loads((SCHEMA_DIR / "connection.schema.json").read_text())
    resources = []
    for path in sorted((SCHEMA_DIR / "app").glob("*.schema.json")):
        doc = json.loads(path.read_text())
        resources.append((f"app/{path.name}", Resource.from_contents(doc)))
        if "$id" in doc:
            resources.append((doc["$id"], Resource.from_contents(doc)))
    base = root["$id"].rsplit("/", 1)[0]
    registry = Registry().with_resources(
        [(f"{base}/{name}", res) for name, res in resources if not name.startswith("http")]
        + [(name, res) for name, res in resources if name.startswith("http")]
    )
    return Draft202012Validator(root, registry=registry)


VALIDATOR = _validator()
CAPTURES = captures()


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_records_valid(path: Path) -> None:
    for rec in analyze(path):
        errors: list[Any] = sorted(VALIDATOR.iter_errors(rec), key=lambda e: list(e.path))
        assert not errors, f"{path.name}: {errors[0].message} at {list(errors[0].path)}"


def test_every_app_schema_is_referenced() -> None:
    root = json.loads((SCHEMA_DIR / "connection.schema.json").read_text())
    refs = {v["$ref"] for v in root["properties"]["app"]["properties"].values() if "$ref" in v}
    files = {f"app/{p.name}" for p in (SCHEMA_DIR / "app").glob("*.schema.json")}
    assert files <= refs, files - refs


def test_record_keys_are_what_to_record_writes() -> None:
    """The filters tell a record's own keys from its extras by RECORD_KEYS: keep it true."""
    from netwatch.model.snapshot import RECORD_KEYS, ConnectionView

    v = ConnectionView(1, "tcp", 4, "198.18.0.1", 1, "198.18.0.2", 2, "ESTABLISHED", "",
                       1.0, 2.0, 1, 1, 60, 60)  # fmt: skip
    assert set(v.to_record()) == RECORD_KEYS - {"geo"}
    with_geo = ConnectionView(1, "udp", 4, "a", 1, "b", 2, "UDP_ACTIVE", "", 1.0, 1.0, 1, 0,
                              60, 0, geo={"scope": "private"}, extra={"history": "D"})  # fmt: skip
    assert set(with_geo.to_record()) == RECORD_KEYS | {"history"}
