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
