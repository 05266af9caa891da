"""SSHAnalyzer against real captures: tshark truths (versions, HASSH) and Zeek's ssh.log."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.ssh import SSHAnalyzer, detect_tcp
from tests.util.corpus import CORPUS, corpus_file, expected
from tests.util.streams import Flow, flows_of


def ssh_flows(path: Path) -> list[Flow]:
    return [
        f
        for f in flows_of(path)
        if f.transport == "tcp"
        and f.chunks
        and (detect_tcp(f.data(0)[:16]) or detect_tcp(f.data(1)[:16]))
    ]


def analyze(flow: Flow) -> SSHAnalyzer:
    a = SSHAnalyzer()
    for direction, data, ts in flow.chunks:
        a.feed(Dir(direction), data, ts)
    return a


@pytest.mark.parametrize("stem", ["ndpi_ssh", "sv_ssh-hassh"])
def test_matches_tshark(stem: str) -> None:
    truths = [r for r in expected(stem) if r.get("kind") == "flow" and "hassh" in r]
    flows = {(f.client, f.server): f for f in ssh_flows(corpus_file(stem + ".pcap"))}
    assert len(flows) == len(truths) >= 1
    for t in truths:
        flow = flows[((t["src"], t["sport"]), (t["dst"], t["dport"]))]
        r = analyze(flow).record()
        assert r["client_version"] == t["ssh_client_version"]
        assert r["server_version"] == t["ssh_server_version"]
        assert r["hassh"] == t["hassh"]
        assert r["hassh_server"] == t["hassh_server"]
        assert r["hassh_algorithms"] == t["hassh_algorithms"]
        assert r["hassh_server_algorithms"] == t["hassh_server_algorithms"]


def test_ssh_on_port_8000_is_found_by_content() -> None:
    ports = {f.server[1] for f in ssh_flows(corpus_file("ndpi_ssh.pcap"))}
    assert ports == {22, 8000}


def zeek_ssh(folder: str) -> dict[str, str]:
    log = CORPUS / "zeek" / folder / "ssh.log"
    if not log.exists():
        pytest.skip("zeek oracles not available")
    fields: list[str] = []
    rows = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    (row,) = rows
    return row


@pytest.mark.parametrize(
    ("folder", "state"),
    [
        # Zeek: auth_success=T (its own size heuristic); ours agrees
        ("ssh-v199", "ESTABLISHED"),
        # Zeek: auth_success unset (compression hides sizes); we stay undecided too
        ("ssh-pre-banner", "AUTHENTICATION"),
    ],
)
def test_matches_zeek(folder: str, state: str) -> None:
    row = zeek_ssh(folder)
    (flow,) = ssh_flows(CORPUS / "zeek" / folder / "trace.pcap")
    assert (str(flow.client[1]), str(flow.server[1])) == (row["id.orig_p"], row["id.resp_p"])
    a = analyze(flow)
    r = a.record()
    assert str(r["version"]) == row["version"]
    assert r["client_version"] == row["client"]
    assert r["server_version"] == row["server"]
    assert r["cipher"] == row["cipher_alg"]
    assert r["mac"] == row["mac_alg"]
    assert r["compression"] == row["compression_alg"]
    assert r["kex"] == row["kex_alg"]
    assert r["host_key"] == row["host_key_alg"]
    # Zeek truncates the fingerprint to 'SHA256:' + 32 characters
    assert r["host_key_fingerprint"][:39] == row["host_key_fingerprint"]
    assert r["state"] == state


def test_full_host_key_fingerprint_of_ssh_v199() -> None:
    """The corpus README hashed this trace's host key blob: the untruncated value."""
    folder = CORPUS / "zeek" / "ssh-v199"
    if not folder.is_dir():
        pytest.skip("zeek oracles not available")
    (flow,) = ssh_flows(folder / "trace.pcap")
    fp = analyze(flow).record()["host_key_fingerprint"]
    assert fp == "SHA256:j+j+wq3Bhfz+yLq2DmBoCBMyoMdLMGtrISM1kw7ydd4"


def test_group_exchange_reply_gives_the_fingerprint() -> None:
    """ndpi_ssh's first flow negotiates diffie-hellman-group-exchange: message 31 is the
    group there, the host key is in message 33."""
    flows = {f.server[1]: f for f in ssh_flows(corpus_file("ndpi_ssh.pcap"))}
    r = analyze(flows[22]).record()
    assert r["kex"].startswith("diffie-hellman-group-exchange")
    assert r["host_key_fingerprint"] is not None and len(r["host_key_fingerprint"]) == 50


def test_pre_banner_lines_are_server_only_and_counted() -> None:
    folder = CORPUS / "zeek" / "ssh-pre-banner"
    if not folder.is_dir():
        pytest.skip("zeek oracles not available")
    (flow,) = ssh_flows(folder / "trace.pcap")
    assert not flow.data(1).startswith(b"SSH-")
    r = analyze(flow).record()
    assert r["server_pre_banner_lines"] > 10
    assert r["server_version"].startswith("SSH-2.0-OpenSSH_9.2p1")


def test_no_false_detection_elsewhere_in_the_corpus() -> None:
    claimed = {(p.name, f.server[1]) for p in sorted(CORPUS.glob("*.pcap*")) for f in ssh_flows(p)}
    assert claimed == {("ndpi_ssh.pcap", 22), ("ndpi_ssh.pcap", 8000), ("sv_ssh-hassh.pcap", 22)}
