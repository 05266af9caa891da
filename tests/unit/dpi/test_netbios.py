"""NetBIOSAnalyzer: the name service queries of a real trace against Zeek's dns.log
(which decodes NetBIOS names), replies, registrations and node status built by scapy's
independent encoder, the RFC 1001 encoding, detection, malformed input and fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from scapy.layers.netbios import (
    NBNS_ADD_ENTRY,
    NBNSHeader,
    NBNSNodeStatusRequest,
    NBNSNodeStatusResponse,
    NBNSNodeStatusResponseService,
    NBNSQueryResponse,
    NBNSRegistrationRequest,
)

from netwatch.dpi.base import Dir
from netwatch.dpi.netbios import NetBIOSAnalyzer, decode_name, detect_udp
from netwatch.errors import MalformedError
from tests.util.corpus import CORPUS, REPO, corpus_file
from tests.util.streams import Flow, flows_of

SCHEMA = Draft202012Validator(
    json.loads((REPO / "docs/schema/app/netbios.schema.json").read_text())
)


def nbns_flows() -> list[Flow]:
    path = corpus_file("zeek/wikipedia/trace.pcap")
    return [f for f in flows_of(path) if f.transport == "udp" and f.server[1] == 137]


def run(chunks: list[tuple[int, bytes, float]]) -> NetBIOSAnalyzer:
    a = NetBIOSAnalyzer()
    for d, data, ts in chunks:
        a.feed(Dir(d), data, ts)
    SCHEMA.validate(a.record())
    return a


def zeek_names() -> dict[tuple[str, int], list[str]]:
    log = CORPUS / "zeek" / "wikipedia" / "dns.log"
    if not log.exists():
        pytest.skip("zeek baseline not available")
    out: dict[tuple[str, int], list[str]] = {}
    fields: list[str] = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            row = dict(zip(fields, line.split("\t"), strict=True))
            if row["id.resp_p"] == "137":
                key = (row["id.orig_h"], int(row["id.orig_p"]))
                out.setdefault(key, []).append(row["query"])
    return out


def test_queries_match_zeek() -> None:
    names = zeek_names()
    flows = {f.client: f for f in nbns_flows()}
    assert flows.keys() == names.keys()
    for client, flow in flows.items():
        assert all(detect_udp(data) for _, data, _ in flow.chunks)
        rec = run(flow.chunks).record()
        # Zeek drops the suffix byte; the encoded names end in <00> (workstation), <1d>.
        assert [n.split("<")[0] for n in rec["names"]] == sorted(set(names[client]))
        assert rec["queries"] == len(names[client]) and rec["responses"] == 0
        assert rec["opcodes"] == ["query"] and rec["broadcast"]
    rec = run(flows[("141.142.220.238", 56641)].chunks).record()
    assert rec["names"] == ["WORKGROUP<1d>"]  # the master browser of the workgroup


def test_first_level_encoding() -> None:
    # RFC 1001 §14.1: "FRED" padded with spaces, suffix 0x20
    assert decode_name(b"EGFCEFEECACACACACACACACACACACACA") == "FRED<20>"
    assert decode_name(b"CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == "*<00>"
    with pytest.raises(MalformedError):
        decode_name(b"ZZ" * 16)


def scapy_packets() -> dict[str, bytes]:
    return {
        "answer": bytes(
            NBNSHeader(RESPONSE=1, NM_FLAGS=0x50)
            / NBNSQueryResponse(
                RR_NAME=b"FILESERVER",
                SUFFIX=0x4341,
                ADDR_ENTRY=[NBNS_ADD_ENTRY(NB_ADDRESS="198.18.0.7")],
            )
        ),
        "register": bytes(
            NBNSHeader(OPCODE=5, NM_FLAGS=0x11)
            / NBNSRegistrationRequest(QUESTION_NAME=b"LAPTOP", NB_ADDRESS="198.18.0.9")
        ),
        "status_req": bytes(NBNSHeader() / NBNSNodeStatusRequest()),
        "status": bytes(
            NBNSHeader(RESPONSE=1)
            / NBNSNodeStatusResponse(
                NODE_NAME=[
                    NBNSNodeStatusResponseService(NETBIOS_NAME=b"LAPTOP         ", SUFFIX=0x20),
                    NBNSNodeStatusResponseService(NETBIOS_NAME=b"WORKGROUP      ", SUFFIX=0),
                ]
            )
        ),
    }


def test_packets_from_an_independent_encoder() -> None:
    pk = scapy_packets()
    assert all(detect_udp(p) for p in pk.values())
    answer = run([(1, pk["answer"], 0.0)]).record()
    assert answer["names"] == ["FILESERVER<20>"] and answer["addresses"] == ["198.18.0.7"]
    assert answer["responses"] == 1
    reg = run([(0, pk["register"], 0.0)]).record()
    assert reg["opcodes"] == ["registration"]
    assert reg["names"] == ["LAPTOP<00>"] and reg["addresses"] == ["198.18.0.9"]
    status = run([(0, pk["status_req"], 0.0), (1, pk["status"], 0.1)])
    rec = status.record()
    assert "*<00>" in rec["names"]
    assert rec["node_status_names"] == ["LAPTOP<20>", "WORKGROUP<00>"]
    assert status.summary().startswith("NetBIOS-NS query *<00>")


@pytest.mark.parametrize("cut", [5, 12, 30, 49])
def test_truncated_is_malformed(cut: int) -> None:
    data = nbns_flows()[0].chunks[0][1]
    with pytest.raises(MalformedError):
        NetBIOSAnalyzer().feed(Dir.CLIENT, data[:cut], 0.0)


def test_pointer_loop_is_malformed() -> None:
    data = scapy_packets()["register"]
    pos = data.index(b"\xc0\x0c")
    looped = data[:pos] + bytes([0xC0, pos]) + data[pos + 2 :]  # points at itself
    with pytest.raises(MalformedError):
        NetBIOSAnalyzer().feed(Dir.CLIENT, looped, 0.0)


def test_dns_is_not_netbios() -> None:
    dns = bytes.fromhex("abcd0100000100000000000003777777076578616d706c6503636f6d0000010001")
    assert not detect_udp(dns + b"\x00" * 20)


def samples() -> list[bytes]:
    return [d for f in nbns_flows() for _, d, _ in f.chunks] + list(scapy_packets().values())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_packets(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from(samples())))
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    detect_udp(bytes(base[:cut]))
    a = NetBIOSAnalyzer()
    try:
        a.feed(Dir.SERVER, bytes(base[:cut]), 0.0)
    except MalformedError:
        pass
    SCHEMA.validate(a.record())
    a.summary()
