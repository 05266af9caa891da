"""MQTTAnalyzer: corpus captures against tshark, Suricata and nDPI; a mosquitto capture
(MQTT 5.0, 3.1.1 and 3.1, a refused login); h11-style feeding; bounded fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import AppEvent, Dir
from netwatch.dpi.mqtt import MQTTAnalyzer, MQTTConnAck, MQTTConnect, MQTTSubscribe, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.corpus import corpus_file, expected, expected_peer
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "mqtt"


def run(flow: Flow, mode: str = "whole") -> MQTTAnalyzer:
    a = MQTTAnalyzer()
    for d, data, ts in flow.chunks:
        if mode == "bytes":
            for i in range(len(data)):
                a.feed(Dir(d), data[i : i + 1], ts)
        else:
            a.feed(Dir(d), data, ts)
    return a


def by_client(path: Path) -> dict[tuple[str, int], Flow]:
    return {f.client: f for f in flows_of(path) if f.transport == "tcp" and f.chunks}


@pytest.mark.parametrize("stem", ["ndpi_mqtt", "sv_mqtt311-pub-userpass"])
@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_matches_tshark(stem: str, mode: str) -> None:
    flows = by_client(corpus_file(stem + ".pcap"))
    truths = [t for t in expected(stem) if t.get("kind") == "flow" and "mqtt" in t["app"]]
    assert truths
    for t in truths:
        flow = flows[(t["src"], t["sport"])]
        assert detect_tcp(flow.data(0))
        r = run(flow, mode).record()
        assert r["client_id"] == t["mqtt_clientid"]
        assert r["username"] == t["mqtt_username"]
        assert r["topics"] == t.get("mqtt_topics", [])
        assert r["msg_types"] == t["mqtt_msgtypes"]
    msgs = [t for t in expected(stem) if t.get("kind") == "mqtt" and t["msgtype"] == "CONNECT"]
    for m in msgs:
        r = run(flows[(m["src"], m["sport"])]).record()
        assert r["protocol_level"] == m["proto_ver"]


def test_matches_suricata() -> None:
    flow = next(iter(by_client(corpus_file("sv_mqtt311-pub-userpass.pcap")).values()))
    r = run(flow).record()
    checks = [e["match"] for e in expected_peer("sv_mqtt311-pub-userpass", "suricata-verify")]
    connect = next(m for m in checks if "mqtt.connect.client_id" in m)
    assert r["protocol_name"] == connect["mqtt.connect.protocol_string"]
    assert r["protocol_level"] == connect["mqtt.connect.protocol_version"]
    assert r["client_id"] == connect["mqtt.connect.client_id"]
    assert r["username"] == connect["mqtt.connect.username"]
    assert r["password_sent"] is connect["mqtt.connect.flags.password"]
    assert r["clean_session"] is connect["mqtt.connect.flags.clean_session"]
    connack = next(m for m in checks if "mqtt.connack.return_code" in m)
    assert r["connack_code"] == connack["mqtt.connack.return_code"]
    assert r["session_present"] is connack["mqtt.connack.session_present"]
    publish = next(m for m in checks if "mqtt.publish.topic" in m)
    assert r["published"] == [publish["mqtt.publish.topic"]]
    assert r["qos"] == [publish["mqtt.publish.qos"]]


def test_events() -> None:
    flows = by_client(corpus_file("ndpi_mqtt.pcap"))
    a = MQTTAnalyzer()
    events: list[AppEvent] = []
    for d, data, ts in flows[("192.168.0.1", 41892)].chunks:
        events.extend(a.feed(Dir(d), data, ts))
    connect, subscribe, connack = events
    assert isinstance(connect, MQTTConnect) and connect.client_id == "cbaabcbabacbbbbbaaaaab"
    assert (connect.username, connect.version) == ("02D5050223D3", "3.1")
    assert subscribe == MQTTSubscribe(subscribe.ts, ("astr/s720/02D5050223D3/99",))
    assert isinstance(connack, MQTTConnAck) and connack.accepted and connack.code == 0
    assert connect.ts < connack.ts


def test_ndpi_flows_found_by_engine() -> None:
    peers = expected_peer("ndpi_mqtt", "ndpi")
    recs = analyze(corpus_file("ndpi_mqtt.pcap"))
    mqtt = [r for r in recs if r.get("app", {}).get("protocol") == "MQTT"]
    assert len(mqtt) == len([p for p in peers if p["ndpi_proto"] == "MQTT"]) == 2


def test_mosquitto_capture() -> None:
    flows = sorted(by_client(DATA / "mosquitto.pcap").values(), key=lambda f: f.chunks[0][2])
    recs = {r["client_id"]: r for r in (run(f).record() for f in flows)}
    sub = recs["sub5"]
    assert (sub["version"], sub["username"], sub["connack"]) == ("5.0", "bob", "accepted")
    assert sub["subscribed"] == [
        {"topic": "home/+/temp", "qos": 1},
        {"topic": "alerts/#", "qos": 1},
    ]
    assert sub["topics"] == ["home/+/temp", "alerts/#", "home/kitchen/temp", "alerts/door"]
    assert sub["published"] == []  # the broker's PUBLISHes are not the client's
    pub = recs["pub311"]
    assert (pub["version"], pub["published"], pub["qos"]) == ("3.1.1", ["home/kitchen/temp"], [1])
    assert "PUBACK" in pub["msg_types"]
    old = recs["pub31"]
    assert (old["protocol_name"], old["version"], old["qos"]) == ("MQIsdp", "3.1", [2])
    assert old["will_topic"] == "wills/pub31"
    assert old["msg_types"][-4:] == ["PUBREC", "PUBREL", "PUBCOMP", "DISCONNECT"]
    bad = recs["bad"]
    assert (bad["connack_code"], bad["connack"]) == (5, "not_authorized")
    assert bad["password_sent"] is True and "nope" not in repr(bad)


def test_engine_records_match_schema() -> None:
    recs = [r for r in analyze(DATA / "mosquitto.pcap") if r.get("app")]
    assert {r["app"]["protocol"] for r in recs} == {"MQTT"} and len(recs) == 4
    for rec in recs:
        assert not list(VALIDATOR.iter_errors(rec))


def _connect(client_id: bytes = b"c1") -> bytes:
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    return bytes([0x10, len(body)]) + body


def test_big_publish_is_skipped_not_buffered() -> None:
    a = MQTTAnalyzer()
    a.feed(Dir.CLIENT, _connect(), 0.0)
    payload_len = 3 * 1024 * 1024
    topic = b"\x00\x05big/t"
    remaining = len(topic) + payload_len
    varint = bytearray()
    while True:
        b, remaining = remaining & 0x7F, remaining >> 7
        varint.append(b | (0x80 if remaining else 0))
        if not remaining:
            break
    a.feed(Dir.CLIENT, bytes([0x30]) + bytes(varint) + topic, 1.0)
    chunk = b"x" * 65536
    for _ in range(payload_len // len(chunk)):
        a.feed(Dir.CLIENT, chunk, 1.0)
        assert len(a._sides[0].buf) <= 70 * 1024
    a.feed(Dir.CLIENT, b"\xe0\x00", 2.0)  # DISCONNECT after the payload: framing kept
    r = a.record()
    assert r["published"] == ["big/t"] and r["msg_types"][-1] == "DISCONNECT"


def test_trailing_partial_packet_is_kept_for_later() -> None:
    a = MQTTAnalyzer()
    data = _connect() + b"\x82"  # the first byte of a SUBSCRIBE
    a.feed(Dir.CLIENT, data, 0.0)
    assert a.record()["client_id"] == "c1"
    a.feed(Dir.CLIENT, b"\x07\x00\x01\x00\x02a/\x01", 0.0)
    assert a.record()["subscribed"] == [{"topic": "a/", "qos": 1}]


@pytest.mark.parametrize(
    "data",
    [
        b"\x10\x0c\x00\x04MQTT\x09\x02\x00\x3c\x00\x00",  # level 9
        b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00",  # protocol name
        b"\x10\xff\xff\xff\xff\x01",  # five-byte remaining length
        b"\x00\x00",  # packet type 0
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        MQTTAnalyzer().feed(Dir.CLIENT, data, 0.0)


def test_detect_rejects_other_protocols() -> None:
    assert not detect_tcp(b"GET / HTTP/1.1\r\n\r\n")
    assert not detect_tcp(b"\x10\x0c\x00\x04HTTP\x04\x02\x00\x3c\x00\x00")
    assert not detect_tcp(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert detect_tcp(_connect())


CORPUS_STREAMS = [b"".join(d for _, d, _ in f.chunks) for f in flows_of(DATA / "mosquitto.pcap")]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(CORPUS_STREAMS)))
    for _ in range(data.draw(st.integers(0, 8))):
        if base:
            base[data.draw(st.integers(0, len(base) - 1))] = data.draw(st.integers(0, 255))
    base += data.draw(st.binary(max_size=64))
    a = MQTTAnalyzer()
    try:
        a.feed(Dir.CLIENT, bytes(base), 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
