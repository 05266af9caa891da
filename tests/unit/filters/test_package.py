"""The package surface, and the purity rule: filters import only stdlib, model and errors."""

from __future__ import annotations

import subprocess
import sys

import netwatch.filters as filters

EXPORTED = [
    "KEYWORDS",
    "MATCH_ALL",
    "And",
    "FieldSpec",
    "Filter",
    "FilterSyntaxError",
    "Keyword",
    "Node",
    "Not",
    "Or",
    "RecordFilter",
    "Regex",
    "SearchCache",
    "Term",
    "Word",
    "compile",
    "compile_record",
    "field_spec",
    "keyword_help",
    "parse",
    "prepare",
]


def test_exported_members() -> None:
    # Changing the public surface is deliberate: update this list with it.
    assert filters.__all__ == EXPORTED
    for name in filters.__all__:
        assert getattr(filters, name) is not None


def test_keyword_help_rows() -> None:
    rows = filters.keyword_help()
    assert len(rows) == len(filters.KEYWORDS)
    assert ("sport lport", "local port", "sport:22") in rows


def test_imports_only_the_pure_core() -> None:
    code = (
        "import sys, netwatch.filters as f; f.compile('sni:x a or /b/')"
        "; print('\\n'.join(sorted(m for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    ours = [m for m in out if m == "netwatch" or m.startswith("netwatch.")]
    allowed = ("netwatch", "netwatch.errors", "netwatch.model", "netwatch.filters")
    assert all(
        m in allowed or m.startswith(("netwatch.model.", "netwatch.filters.")) for m in ours
    ), ours
    for heavy in ("textual", "rich", "dpkt", "psutil"):
        assert heavy not in out


def test_field_spec_for_sql_translation() -> None:
    assert filters.field_spec("lport") == filters.FieldSpec("port", "count", ("local_port",))
    assert filters.field_spec("tls.ja3") == filters.FieldSpec("field", "count", ("app.tls.ja3",))
    assert filters.field_spec("geo.asn") == filters.FieldSpec("field", "count", ("geo.asn",))
    assert filters.field_spec("nope") is None
    spec = filters.field_spec("bytes")
    assert spec is not None and spec.unit == "bytes"
