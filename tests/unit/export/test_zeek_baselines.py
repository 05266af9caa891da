"""Zeek export against Zeek's own baseline logs (the ten traces of the corpus's zeek/).

Our logs are parsed back by their own headers and compared, field by field, with Zeek's
rows matched by 5-tuple (x509: fingerprint) as multisets. ``ts`` and ``uid`` are masked or
random in the baselines. Fields the records do not carry are left out (ALWAYS_SKIPPED),
and the remaining differences are listed in KNOWN with their reason (docs/exports.md).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from netwatch.export import write_zeek
from netwatch.export.zeek_schema import LOGS
from tests.unit.export.records import records_of
from tests.unit.export.zeekread import ZeekFile, read
from tests.util.corpus import CORPUS

ZEEK = CORPUS / "zeek"
FOLDERS = sorted(p.name for p in ZEEK.iterdir() if p.is_dir()) if ZEEK.is_dir() else []

#: Fields no record carries yet: never compared.
ALWAYS_SKIPPED: dict[str, set[str]] = {
    "conn": {"ts", "uid"},
    "dns": {"ts", "uid"},
    "http": {"ts", "uid", "orig_fuids", "orig_filenames", "orig_mime_types", "resp_fuids",
             "resp_filenames", "resp_mime_types"},  # no file analysis
    "ssl": {"ts", "uid", "curve", "ssl_history", "last_alert"},
    "x509": {"ts", "certificate.version", "certificate.key_alg", "certificate.sig_alg",
             "certificate.key_type", "certificate.key_length", "certificate.exponent",
             "certificate.curve", "basic_constraints.ca", "basic_constraints.path_len"},
    "ssh": {"ts", "uid"},
    "smtp": {"ts", "uid", "fuids"},
}  # fmt: skip
#: (folder, log) → fields that differ, with the reason.
KNOWN: dict[tuple[str, str], dict[str, str]] = {
    ("dns-txt-multiple", "dns"): dict.fromkeys(
        ["rtt", "qclass", "qclass_name", "qtype", "qtype_name", "RD"],
        "the query has bad IP/UDP checksums: Zeek (without -C) drops it, netwatch does not",
    ),
    ("http-connect-smtp", "conn"): {
        "history": "the engine marks retransmissions (t) by the responder only",
    },
    ("http-connect-smtp", "smtp"): {
        "first_received": "the SMTP analyzer does not keep the message's Received: headers",
        "path": "the SMTP analyzer does not keep the message's Received: headers",
        "last_reply": "the record keeps the session's last reply (QUIT's 221), not the message's",
    },
    ("http-pipelining", "http"): {
        "response_body_len": "Zeek counts the decoded (gunzipped) body, netwatch the wire bytes",
    },
    ("modbus-port502", "conn"): {
        "service": "no Modbus or DCE-RPC analyzer",
    },
    ("wikipedia", "conn"): {
        "service": "netwatch analyzes the mid-stream HTTP flow that Zeek leaves alone",
    },
}

#: (folder, log) → (Zeek rows, our rows) where the counts differ, with the reason.
ROW_COUNTS: dict[tuple[str, str], tuple[int, int, str]] = {
    ("wikipedia", "http"): (14, 15, "the mid-stream GET, which Zeek does not log"),
}


def _key(log: str, row: dict[str, str]) -> tuple[str, ...]:
    if log == "x509":
        return (row["fingerprint"],)
    return (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"])


def _project(
    rows: list[dict[str, str]], fields: list[str]
) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for row in rows:
        groups[row["__key"]].append(tuple(row[f] for f in fields))
    return {k: sorted(v) for k, v in groups.items()}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in FOLDERS:
        d = tmp_path_factory.mktemp(name)
        write_zeek(records_of(ZEEK / name / "trace.pcap"), d, opened=0.0)
        out[name] = d
    return out


CASES = [
    (folder, log.stem)
    for folder in FOLDERS
    for log in sorted((ZEEK / folder).glob("*.log"))
    if log.stem in LOGS
]


@pytest.mark.parametrize(("folder", "log"), CASES, ids=[f"{f}/{g}" for f, g in CASES])
def test_against_zeek_baseline(folder: str, log: str, outputs: dict[str, Path]) -> None:
    base = read(ZEEK / folder / f"{log}.log")
    mine_path = outputs[folder] / f"{log}.log"
    if log == "smtp" and not mine_path.exists():
        pytest.skip("the records of this capture have no app.smtp")
    mine = read(mine_path)
    # Our header declares exactly Zeek's columns and types.
    assert mine.fields == base.fields
    assert mine.types == base.types
    assert mine.closed
    expected_counts = ROW_COUNTS.get((folder, log))
    if expected_counts:
        assert (len(base.rows), len(mine.rows)) == expected_counts[:2]
    else:
        assert len(mine.rows) == len(base.rows)
    known = KNOWN.get((folder, log), {})
    skipped = ALWAYS_SKIPPED[log] | set(known)
    fields = [f for f in base.fields if f not in skipped]
    for z in (base, mine):
        for row in z.rows:
            row["__key"] = "|".join(_key(log, row))  # type: ignore[assignment]
    ours = _project(mine.rows, fields)
    theirs = _project(base.rows, fields)
    # Rows as multisets per key; where the counts differ (ROW_COUNTS) the smaller side
    # must be contained in the larger one.
    small, large = (ours, theirs) if len(mine.rows) < len(base.rows) else (theirs, ours)
    for key, rows in small.items():
        pool = list(large.get(key, []))
        for row in rows:
            assert row in pool, f"{key}: no matching row for {dict(zip(fields, row, strict=True))}"
            pool.remove(row)
    # The known differences are real: each listed field differs somewhere.
    for field_name in known:
        assert any(
            b.get(field_name) != m.get(field_name)
            for b in base.rows
            for m in mine.rows
            if b["__key"] == m["__key"]
        ), f"{field_name} is listed as differing but matches: drop it from KNOWN"


def test_uid_joins_logs(outputs: dict[str, Path]) -> None:
    d = outputs["smtp-starttls"] if "smtp-starttls" in outputs else pytest.skip("no corpus")
    conn = read(d / "conn.log").rows
    ssl = read(d / "ssl.log").rows
    assert {r["uid"] for r in ssl} <= {r["uid"] for r in conn}
    x509 = read(d / "x509.log").rows
    chain = ssl[0]["cert_chain_fps"].split(",")
    assert chain == [r["fingerprint"] for r in x509]


def test_conn_values_exact_for_wikipedia(outputs: dict[str, Path]) -> None:
    """Spot checks of the derivations that matter most (state, history flip, local nets)."""
    rows: ZeekFile = read(outputs["wikipedia"] / "conn.log")
    by_port = {(r["id.orig_p"], r["id.resp_p"]): r for r in rows.rows}
    assert by_port[("6705", "80")]["history"] == "^h"
    assert by_port[("6705", "80")]["conn_state"] == "OTH"
    assert by_port[("35634", "80")]["conn_state"] == "OTH"
    assert by_port[("49996", "80")]["conn_state"] == "S1"
    assert by_port[("43927", "53")]["conn_state"] == "SF"
    mdns6 = next(r for r in rows.rows if r["id.resp_h"] == "ff02::fb")
    assert (mdns6["local_orig"], mdns6["local_resp"]) == ("T", "F")
