"""HTTPAnalyzer on a recorded curl + nginx keep-alive connection (tests/data/http)."""

from __future__ import annotations

from netwatch.dpi.base import Dir
from netwatch.dpi.http import HTTPAnalyzer, detect_tcp
from tests.unit.dpi.test_dns_fixtures import load
from tests.util.corpus import REPO

CHUNKS = load(REPO / "tests" / "data" / "http" / "curl_nginx_keepalive.bin")


def analyze(chunks: list[tuple[Dir, bytes]]) -> HTTPAnalyzer:
    a = HTTPAnalyzer()
    for d, data in chunks:
        a.feed(d, data, 0.0)
    return a


def test_keepalive_connection() -> None:
    assert detect_tcp(CHUNKS[0][1])
    a = analyze(CHUNKS)
    rows = [
        (r["method"], r["path"], r["status"], r["request_body_bytes"], r["response_body_bytes"])
        for r in a.record()["requests"]
    ]
    assert rows == [
        ("GET", "/index.html", 200, 0, 1500),
        ("HEAD", "/index.html", 200, 0, 0),
        ("POST", "/echo", 201, 7, 5),
        ("GET", "/gone", 404, 0, 153),
        ("GET", "/chunked", 200, 0, 12),
    ]
    first = a.record()["requests"][0]
    assert first["server"].startswith("nginx/") and first["user_agent"].startswith("curl/")
    assert a.record()["requests"][2]["request_content_type"] == "application/x-www-form-urlencoded"


def test_bytewise_and_all_in_one_chunk_per_direction() -> None:
    whole = analyze(CHUNKS).record()
    assert (
        analyze([(d, data[i : i + 1]) for d, data in CHUNKS for i in range(len(data))]).record()
        == whole
    )
    client = b"".join(data for d, data in CHUNKS if d is Dir.CLIENT)
    server = b"".join(data for d, data in CHUNKS if d is Dir.SERVER)
    assert analyze([(Dir.CLIENT, client), (Dir.SERVER, server)]).record() == whole
