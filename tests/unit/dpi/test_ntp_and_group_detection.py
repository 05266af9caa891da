"""Detection of the VoIP and network-service group (SIP, STUN, DHCP, SNMP, SSDP, NetBIOS,
NTP) over the whole corpus: every flow tshark gives one of these protocols is found by
content, no flow of another protocol is claimed, and the registry hands each flow to the
right analyzer."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from netwatch.dpi import registry
from netwatch.dpi.table_more import DETECTORS
from tests.util.corpus import CORPUS, captures, expected
from tests.util.streams import Flow, flows_of

#: tshark's protocol names -> our module
TSHARK = {"sip": "sip", "stun": "stun", "dhcp": "dhcp", "dhcpv6": "dhcp", "snmp": "snmp",
          "ssdp": "ssdp", "nbns": "netbios", "ntp": "ntp"}  # fmt: skip
MODULES = sorted(set(TSHARK.values()))


def check(module: str, transport: str) -> Callable[[bytes], bool] | None:
    mod: Any = importlib.import_module(f"netwatch.dpi.{module}")
    fn: Callable[[bytes], bool] | None = getattr(mod, f"detect_{transport}", None)
    return fn


def truth_apps(stem: str) -> dict[frozenset[tuple[str, int]], list[str]]:
    if not (CORPUS / "expected" / f"{stem}.jsonl").exists():
        return {}
    return {
        frozenset(((t["src"], t["sport"]), (t["dst"], t["dport"]))): t.get("app", [])
        for t in expected(stem)
        if t.get("kind") == "flow"
    }


def corpus_flows() -> list[tuple[str, Flow, list[str]]]:
    out = []
    for path in captures():
        apps = truth_apps(path.stem)
        for flow in flows_of(path):
            if flow.chunks:
                out.append((path.stem, flow, apps.get(frozenset((flow.client, flow.server)), [])))
    return out


FLOWS = corpus_flows() if CORPUS.is_dir() else []


@pytest.mark.skipif(not FLOWS, reason="corpus not available")
def test_no_false_positives_and_no_misses() -> None:
    found = 0
    for stem, flow, apps in FLOWS:
        ours = {TSHARK[a] for a in apps if a in TSHARK}
        first = flow.chunks[0][1]
        for module in MODULES:
            fn = check(module, flow.transport)
            hit = fn is not None and fn(first)
            if module in ours:
                assert hit, (stem, flow.client, flow.server, module)
                found += 1
            else:
                assert not hit, (stem, flow.client, flow.server, module, apps)
    assert found >= 38  # SIP 2, STUN 8, DHCP 3, SNMP 21, NTP 4


@pytest.mark.skipif(not FLOWS, reason="corpus not available")
def test_registry_hands_each_flow_to_its_analyzer() -> None:
    classes = {d.module.rsplit(".", 1)[1]: d.factory for d in DETECTORS}
    checked = 0
    for stem, flow, apps in FLOWS:
        ours = {TSHARK[a] for a in apps if a in TSHARK} - {"netbios"}
        if not ours:
            continue
        (module,) = ours
        a = registry.detect(flow.transport, flow.chunks[0][1], flow.client[1], flow.server[1])
        assert type(a).__name__ == classes[module], (stem, flow.client, flow.server)
        checked += 1
    assert checked >= 38


def test_registry_gives_port_137_to_netbios() -> None:
    from netwatch.dpi.netbios import detect_udp
    from tests.util.corpus import corpus_file

    flows = flows_of(corpus_file("zeek/wikipedia/trace.pcap"))
    flow = next(f for f in flows if f.transport == "udp" and f.server[1] == 137)
    assert detect_udp(flow.chunks[0][1])
    a = registry.detect("udp", flow.chunks[0][1], flow.client[1], flow.server[1])
    assert type(a).__name__ == "NetBIOSAnalyzer", type(a).__name__
