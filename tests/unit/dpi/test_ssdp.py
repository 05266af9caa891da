"""SSDPAnalyzer: a real M-SEARCH and MiniDLNA's reply (recorded by the live test into
tests/data/ssdp), NOTIFY announcements in the UDA 2.0 §1.2.2 layout, detection, malformed
input and bounded fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from netwatch.dpi.base import Dir
from netwatch.dpi.ssdp import SSDPAnalyzer, detect_udp
from netwatch.errors import MalformedError
from tests.util.corpus import REPO

SCHEMA = Draft202012Validator(json.loads((REPO / "docs/schema/app/ssdp.schema.json").read_text()))
DATA = Path(__file__).resolve().parents[2] / "data" / "ssdp" / "minidlna.json"
NOTIFY = (
    b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://198.18.0.2:49152/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
    b"SERVER: Linux/6.1 UPnP/2.0 nwtest/1.0\r\n"
    b"USN: uuid:2fac1234-31f8-11b4-a222-08002b34c003::upnp:rootdevice\r\n"
    b"BOOTID.UPNP.ORG: 1\r\nCONFIGID.UPNP.ORG: 1\r\n\r\n"
)
BYEBYE = NOTIFY.replace(b"ssdp:alive", b"ssdp:byebye")


def recorded() -> tuple[bytes, bytes]:
    if not DATA.exists():
        pytest.skip("SSDP fixture not recorded")
    search, reply = json.loads(DATA.read_text())
    return search.encode(), reply.encode()


def run(chunks: list[tuple[Dir, bytes]]) -> SSDPAnalyzer:
    a = SSDPAnalyzer()
    for d, data in chunks:
        a.feed(d, data, 0.0)
    SCHEMA.validate(a.record())
    return a


def test_search_and_reply_from_minidlna() -> None:
    search, reply = recorded()
    assert detect_udp(search) and detect_udp(reply)
    rec = run([(Dir.CLIENT, search), (Dir.SERVER, reply)]).record()
    assert rec["methods"] == ["M-SEARCH", "HTTP 200"]
    assert rec["st"] == ["urn:schemas-upnp-org:device:MediaServer:1"]
    assert rec["man"] == '"ssdp:discover"'
    assert rec["server"] is not None and "MiniDLNA" in rec["server"]
    assert rec["location"][0].endswith(":8200/rootDesc.xml")
    assert rec["usn"][0].startswith("uuid:") and rec["requests"] == rec["responses"] == 1


def test_notify_alive_and_byebye() -> None:
    a = run([(Dir.CLIENT, NOTIFY), (Dir.CLIENT, BYEBYE), (Dir.CLIENT, NOTIFY)])
    rec = a.record()
    assert rec["methods"] == ["NOTIFY"] and rec["requests"] == 3
    assert rec["nts"] == ["ssdp:alive", "ssdp:byebye"] and rec["nt"] == ["upnp:rootdevice"]
    assert a.summary() == "SSDP NOTIFY upnp:rootdevice (Linux/6.1 UPnP/2.0 nwtest/1.0)"


def test_plain_http_200_is_not_ssdp() -> None:
    assert not detect_udp(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert not detect_udp(b"GET / HTTP/1.1\r\n\r\n")
    assert not detect_udp(b"M-SEARCH * HTTP/1.1")  # no line end


@pytest.mark.parametrize(
    "data",
    [b"M-SEARCH / HTTP/1.1\r\n\r\n", b"NOTIFY * HTTP/1.1\r\nNT upnp:rootdevice\r\n\r\n"],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        SSDPAnalyzer().feed(Dir.CLIENT, data, 0.0)


def test_lists_are_capped() -> None:
    a = SSDPAnalyzer()
    for i in range(40):
        a.feed(Dir.CLIENT, NOTIFY.replace(b"upnp:rootdevice\r\nNTS", b"urn:x:%d\r\nNTS" % i), 0.0)
    assert len(a.record()["nt"]) == 16 and a.record()["requests"] == 40


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from([NOTIFY, BYEBYE, b"M-SEARCH * HTTP/1.1\r\n\r\n"])))
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    detect_udp(bytes(base[:cut]))
    a = SSDPAnalyzer()
    try:
        a.feed(Dir.CLIENT, bytes(base[:cut]), 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())
    a.summary()
