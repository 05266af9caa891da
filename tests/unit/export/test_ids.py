"""Community ID v1 against the spec's published baseline and Zeek's vectors; our ids."""

from __future__ import annotations

import pytest

from netwatch.export.ids import community_id, flow_id, icmp_ports, zeek_uid

# corelight/community-id-spec baseline/baseline_deflt.json (seed 0); ICMP rows give the
# ports as already mapped (type, counterpart type or code).
BASELINE_TEXT = """
58 fe80::200:86ff:fe05:80da fe80::260:97ff:fe07:69ea 135 136 1:dGHyGvjMfljg6Bppwm3bg0LO8TY=
58 fe80::260:97ff:fe07:69ea fe80::200:86ff:fe05:80da 136 135 1:dGHyGvjMfljg6Bppwm3bg0LO8TY=
58 fe80::260:97ff:fe07:69ea fe80::200:86ff:fe05:80da 135 136 1:zavyT/cezQr1fmImYCwYnMXbgck=
58 3ffe:501:1800:2345::2 3ffe:507:0:1:200:86ff:fe05:80da 3 0 1:2ObVBgIn28oZvibYZhZMBgh7WdQ=
58 3ffe:501:410:0:2c0:dfff:fe47:33e 3ffe:507:0:1:200:86ff:fe05:80da 1 4
   1:hLZd0XGWojozrvxqE0dWB1iM6R0=
58 3ffe:507:0:1:200:86ff:fe05:80da 3ffe:501:0:1001::2 128 129 1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=
58 3ffe:501:0:1001::2 3ffe:507:0:1:200:86ff:fe05:80da 129 128 1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=
58 fe80::200:86ff:fe05:80da ff02::2 133 134 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=
58 fe80::260:97ff:fe07:69ea ff02::1 134 133 1:pkvHqCL88/tg1k4cPigmZXUtL00=
1 192.168.0.89 192.168.0.1 8 0 1:X0snYXpgwiv9TZtqg64sgzUn6Dk=
1 192.168.0.1 192.168.0.89 0 8 1:X0snYXpgwiv9TZtqg64sgzUn6Dk=
1 10.0.0.1 10.0.0.2 11 0 1:YHxtAirCG//0OzkcVAukqKQN9xM=
6 2001:470:e5bf:dead:4957:2174:e82c:4887 2607:f8b0:400c:c03::1a 63943 25
   1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=
6 2607:f8b0:400c:c03::1a 2001:470:e5bf:dead:4957:2174:e82c:4887 25 63943
   1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=
132 192.168.170.8 192.168.170.56 7 7 1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=
132 192.168.170.56 192.168.170.8 7 7 1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=
6 128.232.110.120 66.35.250.204 34855 80 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
6 66.35.250.204 128.232.110.120 80 34855 1:LQU9qZlK+B5F3KDmev6m5PMibrg=
17 192.168.1.52 8.8.8.8 54585 53 1:d/FP5EW3wiY1vCndhwleRRKHowQ=
17 8.8.8.8 192.168.1.52 53 54585 1:d/FP5EW3wiY1vCndhwleRRKHowQ=
46 10.1.12.1 10.1.12.2 None None 1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=
46 10.1.12.2 10.1.12.1 None None 1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=
"""


def _opt(text: str) -> int | None:
    return None if text == "None" else int(text)


BASELINE = [
    (int(p), s, d, _opt(sp), _opt(dp), want)
    # A line that starts with spaces continues the previous one.
    for p, s, d, sp, dp, want in (
        entry.split() for entry in BASELINE_TEXT.strip().replace("\n   ", " ").splitlines()
    )
]


@pytest.mark.parametrize(("proto", "src", "dst", "sport", "dport", "want"), BASELINE)
def test_spec_baseline(
    proto: int, src: str, dst: str, sport: int | None, dport: int | None, want: str
) -> None:
    assert community_id(src, dst, proto, sport, dport) == want


V6A = "fe80:1:203:405:607:809:a0b:c0d"
V6B = "fe80:1011:1213:1415:1617:1819:1a1b:1c1d"


# Zeek's testing/btest/bifs/community_id/v1.zeek: seeds 0 and 1.
@pytest.mark.parametrize(
    ("proto", "src", "dst", "sport", "dport", "seed", "want"),
    [
        (6, "1.2.3.4", "5.6.7.8", 1122, 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        (17, "1.2.3.4", "5.6.7.8", 1122, 3344, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
        (1, "1.2.3.4", "5.6.7.8", 8, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
        (58, V6A, V6B, 128, 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
        (6, "1.2.3.4", "5.6.7.8", 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
        (17, "1.2.3.4", "5.6.7.8", 1122, 3344, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
        (1, "1.2.3.4", "5.6.7.8", 8, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
        (58, V6A, V6B, 128, 129, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
    ],
)  # fmt: skip
def test_zeek_vectors(
    proto: int, src: str, dst: str, sport: int, dport: int, seed: int, want: str
) -> None:
    assert community_id(src, dst, proto, sport, dport, seed=seed) == want


def test_icmp_mapping_makes_request_and_reply_one_flow() -> None:
    req = icmp_ports(8, 0, v6=False)
    rep = icmp_ports(0, 0, v6=False)
    assert req == (8, 0, False) and rep == (0, 8, False)
    assert community_id("1.2.3.4", "5.6.7.8", 1, *req[:2]) == community_id(
        "5.6.7.8", "1.2.3.4", 1, *rep[:2]
    )
    assert icmp_ports(128, 0, v6=True) == (128, 129, False)
    # Destination unreachable has no counterpart: the code is the second port, one way.
    assert icmp_ports(3, 3, v6=False) == (3, 3, True)


def test_bad_input_rejected() -> None:
    with pytest.raises(ValueError):
        community_id("1.2.3.4", "::1", 6, 1, 2)
    with pytest.raises(ValueError):
        community_id("1.2.3.4", "5.6.7.8", 6, 70000, 2)
    with pytest.raises(ValueError):
        community_id("1.2.3.4", "5.6.7.8", 6, -1, 2)


def _rec(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "proto": "tcp", "local_addr": "10.0.0.1", "local_port": 40000, "remote_addr": "10.0.0.2",
        "remote_port": 80, "vlan": None, "first_seen": "2024-01-01T00:00:00.000001Z",
    }  # fmt: skip
    base.update(kw)
    return base


def test_flow_id_and_uid_stable_direction_free_and_distinct() -> None:
    a = _rec()
    b = _rec(local_addr="10.0.0.2", local_port=80, remote_addr="10.0.0.1", remote_port=40000)
    later = _rec(first_seen="2024-01-01T00:00:05.000000Z")
    assert flow_id(a) == flow_id(dict(a)) == flow_id(b)
    assert zeek_uid(a) == zeek_uid(b)
    assert flow_id(a) != flow_id(later) and zeek_uid(a) != zeek_uid(later)
    assert 0 < flow_id(a) < 2**53
    uid = zeek_uid(a)
    assert uid.startswith("C") and uid[1:].isalnum() and 14 <= len(uid) <= 18
