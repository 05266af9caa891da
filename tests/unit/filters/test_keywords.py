"""Every keyword and value form, on views and on their analyze records alike.

Each case names exactly the sample rows it must select (``samples.ALL``); the same
expression is run through ``compile`` on the views and ``compile_record`` on
``view.to_record()``, so the two entry points cannot drift apart.
"""

from __future__ import annotations

import re

import pytest

from netwatch.filters import KEYWORDS, compile, compile_record
from netwatch.filters.keywords import KEYWORD_INDEX

from .samples import ALL, NAMES

# (expression, names of the rows it selects)
CASES: list[tuple[str, set[str]]] = [
    # ports: either side, local, remote, ranges, comparisons
    ("port:443", {"TLS", "QUIC6", "DNS"} - {"DNS"} | set()),
    ("port:22", {"SSH"}),
    ("port:8000-8100", {"HTTP", "UDP"}),
    ("sport:22", {"SSH"}),
    ("lport:22", {"SSH"}),
    ("dport:53", {"DNS"}),
    ("rport:8080", {"HTTP"}),
    ("dport>=58000", {"SSH"}),
    ("port<1", {"ICMP6"}),
    ("port!=443", {"DNS", "HTTP", "SSH", "ICMP6", "UDP"}),
    # addresses: IP, CIDR, IPv6, IPv4-mapped, scoped, hostname substring, regex
    ("dst:140.82.112.3", {"TLS"}),
    ("dst:140.82.0.0/16", {"TLS"}),
    ("remote:2a00:1450::/32", {"QUIC6"}),
    ("dst:2a00:1450:4001:82b::200e", {"QUIC6"}),
    ("dst:github", {"TLS"}),
    ("dst:93.184.", {"HTTP"}),
    ("dst:/^10\\.0\\./", {"DNS"}),
    ("src:192.168.1.0/24", {"TLS", "DNS", "HTTP"}),
    ("local:10.1.2.3", {"SSH"}),
    ("src:192.0.2.1", {"UDP"}),  # ::ffff:192.0.2.1 is the IPv4 address
    ("src:fe80::/10", {"ICMP6"}),
    ("dst:fe80::2", {"ICMP6"}),  # the scope id (%eth0) does not hide the address
    ("ip:192.0.2.0/24", {"UDP"}),
    ("addr:10.0.0.53", {"DNS"}),
    # protocols: transport and application, ICMP family
    ("proto:tcp", {"TLS", "HTTP", "SSH"}),
    ("proto:udp", {"QUIC6", "DNS", "UDP"}),
    ("proto:quic", {"QUIC6"}),
    ("proto:TLS", {"TLS"}),
    ("proto:icmp", {"ICMP6"}),
    ("proto:/^(dns|ssh)$/", {"DNS", "SSH"}),
    # processes
    ("process:firefox", {"TLS", "QUIC6"}),
    ("process:work", {"TLS", "QUIC6"}),  # the command line
    ("process:/usr/bin/curl", {"HTTP"}),  # the executable
    ("process=curl", {"HTTP"}),
    ("pid:22", {"SSH"}),
    ("pid>700", {"TLS", "QUIC6", "HTTP"}),
    ("user:alice", {"TLS", "QUIC6"}),
    ("user=root", {"SSH"}),
    ("container:3f2a", {"SSH"}),
    ("service:http", {"TLS", "QUIC6", "HTTP"}),
    ("service=https", {"TLS", "QUIC6"}),
    # DPI
    ("sni:github", {"TLS"}),
    ("sni:youtube", {"QUIC6"}),
    ("sni:/git(hub|lab)/", {"TLS"}),
    ("sni:/^www\\./", {"QUIC6"}),
    ("host:example.com", {"HTTP"}),
    ("host:youtube", {"QUIC6"}),
    ("host:iad.github", {"TLS"}),  # the remote name
    ("app:dns", {"DNS"}),
    ("app:https", {"TLS"}),  # the summary
    ("app:http", {"TLS", "QUIC6", "HTTP"}),
    ("state:estab", {"TLS", "SSH"}),
    ("state=time_wait", {"HTTP"}),
    ("state:quic", {"QUIC6"}),
    ("ssh:openssh_9", {"SSH"}),
    ("ssh:putty", {"SSH"}),
    ("dns:example.org", {"DNS"}),
    ("dns:edge.cdn", {"DNS"}),  # an answer
    ("dns:2001:db8::99", {"DNS"}),
    ("ja3:cd08e314", {"TLS"}),
    ("ja3:eb1d94da", {"TLS"}),  # JA3S too
    ("ja3=cd08e31494f9531f560d64c695473da9", {"TLS"}),
    ("ja4:t13d1516h2", {"TLS"}),
    ("ja4:q13d", {"QUIC6"}),
    ("hassh:ec7378c1", {"SSH"}),
    ("hassh:b12d2871", {"SSH"}),
    # geo
    ("country=us", {"TLS"}),
    ("country:DE", {"QUIC6"}),
    ("city:frank", {"QUIC6"}),
    ("asn:AS36459", {"TLS"}),
    ("asn:15169", {"QUIC6"}),  # stored as "AS15169"
    ("asn:google", {"QUIC6"}),
    ("asn=as15169", {"QUIC6"}),
    # numbers with units
    ("bytes>1M", {"TLS"}),
    # application bytes (the record's payload_bytes_*; rows without them never match)
    ("payload>1M", {"TLS"}),
    ("payload_in>=30k", {"TLS", "QUIC6"}),
    ("payload_out>1k", {"QUIC6"}),
    ("payload_out<=0.9kB", {"TLS"}),
    ("bytes>=21.5k", {"TLS", "QUIC6", "HTTP", "SSH"}),
    ("bytes>21.5k", {"TLS"}),
    ("bytes:0", {"UDP"}),
    ("bytes<100", {"ICMP6", "UDP"}),
    ("bytes_in>4.7Mi", {"TLS"}),
    ("bytes_out<=70", {"DNS", "ICMP6", "UDP"}),
    ("bytes:200-300", {"DNS"}),
    ("packets<3", {"DNS", "ICMP6"}),
    ("rate>10k", {"TLS"}),
    ("rate_in>=250kb/s", {"TLS"}),
    ("rate_out>2.9k", {"TLS"}),
    ("rtt>50", {"TLS"}),
    ("rtt<0.1s", {"TLS", "QUIC6"}),
    ("rtt>=14ms", {"TLS", "QUIC6"}),
    ("duration>5m", {"SSH"}),
    ("duration<=10s", {"TLS", "QUIC6", "DNS", "HTTP", "ICMP6", "UDP"}),
    ("retrans>0", {"HTTP"}),
    ("vlan:100", {"HTTP"}),
    ("vlan>100", set()),
    ("icmp.type_name = echo-request", {"ICMP6"}),
    ("icmp.type >= 128", {"ICMP6"}),
    ("icmp.type:*", {"ICMP6"}),
    ("extra.vlan_stack = 7", {"HTTP"}),
    ("retransmits:3", {"HTTP"}),
    # dotted fields, the recorder's query form
    ("tls.ja3 = cd08e31494f9531f560d64c695473da9", {"TLS"}),
    ("tls.sni != github.com", set()),
    ("quic.sni != github.com", {"QUIC6"}),
    ("dns.qname ~ /.*\\.example\\.org$/", {"DNS"}),
    ("dns.queries.qname = nothing.invalid", {"DNS"}),
    ("dns.rcode = nxdomain", {"DNS"}),
    ("dns.answers.type == CNAME", {"DNS"}),
    ("http.status >= 500", {"HTTP"}),
    ("http.requests.status < 300", {"HTTP"}),
    ("http.method = post", {"HTTP"}),
    ("http.user_agent:curl", {"HTTP"}),
    ("tls.resumed = true", {"TLS"}),
    ("tls.ech = false", {"TLS"}),
    ("tls.alpn_offered = h2", {"TLS"}),
    ("tls.certs.issuer:sectigo", {"TLS"}),
    ("tls.version !~ /1\\.2/", {"TLS"}),
    ("quic.close_error:*", set()),
    ("ssh.hassh:*", {"SSH"}),
    ("*.sni:*", set()),  # not a field: a plain word search for "*.sni:*"
    ("app.protocol = quic", {"QUIC6"}),
    ("geo.asn = 36459", {"TLS"}),
    ("geo.as_org ~ /google/", {"QUIC6"}),
    ("process.uid = 0", {"SSH"}),
    ("process.cmdline:-P", {"TLS", "QUIC6"}),
    # existence
    ("sni:*", {"TLS", "QUIC6"}),
    ("process:*", {"TLS", "QUIC6", "DNS", "HTTP", "SSH"}),
    ("rtt:*", {"TLS", "QUIC6"}),
    ("-country:*", {"DNS", "HTTP", "SSH", "ICMP6", "UDP"}),
    # negation of a term keeps rows without the field; != does not
    ("-sni:github", {"QUIC6", "DNS", "HTTP", "SSH", "ICMP6", "UDP"}),
    ("sni!=github.com", {"QUIC6"}),
    ("sni!~/tube/", {"TLS"}),
    ("not proto:tcp", {"QUIC6", "DNS", "ICMP6", "UDP"}),
    ("!proto:tcp", {"QUIC6", "DNS", "ICMP6", "UDP"}),
    # boolean structure
    ("proto:udp port:53", {"DNS"}),
    ("proto:udp and port:53", {"DNS"}),
    ("proto:udp && port:53", {"DNS"}),
    ("sni:github or ssh:*", {"TLS", "SSH"}),
    ("sni:github || ssh:* | dns:*", {"TLS", "SSH", "DNS"}),
    ("(sni:github or sni:youtube) -process:firefox", set()),
    ("process:firefox (proto:udp or rtt>50)", {"TLS", "QUIC6"}),
    ("not (proto:tcp or proto:udp)", {"ICMP6"}),
    ("--sni:github", {"TLS"}),
    ("not not sni:github", {"TLS"}),
    ("", {"TLS", "QUIC6", "DNS", "HTTP", "SSH", "ICMP6", "UDP"}),
]


def _selected(expr: str) -> tuple[set[str], set[str]]:
    f = compile(expr)
    r = compile_record(expr)
    on_views = {NAMES[v.id] for v in ALL if f(v)}
    on_records = {NAMES[v.id] for v in ALL if r(v.to_record())}
    return on_views, on_records


@pytest.mark.parametrize(("expr", "want"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_case(expr: str, want: set[str]) -> None:
    on_views, on_records = _selected(expr)
    assert on_views == want
    if expr.startswith(("rate", "rate_in", "rate_out")):
        # Rates are live-only: an analyze record has no rate, so nothing matches.
        assert on_records == set()
    else:
        assert on_records == want


def test_every_keyword_and_alias_has_a_case() -> None:
    used = set()
    for expr, _ in CASES:
        used.update(
            m.lower() for m in re.findall(r"(?:^|[\s(!-])([a-z_][a-z0-9_]*)(?=[:=<>!~])", expr)
        )
    missing = set(KEYWORD_INDEX) - used
    assert not missing, f"keywords without a test case: {sorted(missing)}"


def test_every_keyword_has_a_positive_and_a_negative_case() -> None:
    for kw in KEYWORDS:
        results = [
            want
            for expr, want in CASES
            if re.match(rf"-?({'|'.join((kw.name, *kw.aliases))})[:=<>!~]", expr)
        ]
        assert any(results), f"{kw.name}: no case selects a row"
        assert any(len(w) < len(ALL) for w in results), f"{kw.name}: no case rejects a row"


def test_keyword_table_is_well_formed() -> None:
    from netwatch.filters.fields import RECORD_FIELDS, VIEW_FIELDS, values_getter
    from netwatch.filters.keywords import KINDS

    assert set(VIEW_FIELDS) == set(RECORD_FIELDS)
    names = [n for kw in KEYWORDS for n in (kw.name, *kw.aliases)]
    assert len(names) == len(set(names)), "a keyword name is used twice"
    for kw in KEYWORDS:
        assert kw.kind in KINDS
        assert kw.help and kw.sources
        for src in kw.sources:
            values_getter(src, VIEW_FIELDS)  # raises KeyError for an unknown source
            values_getter(src, RECORD_FIELDS)
        compile(kw.example)  # every documented example compiles
        compile_record(kw.example)


def test_units_are_decimal_and_binary() -> None:
    from netwatch.filters.values import parse_number

    assert parse_number("1M", "bytes", 0) == 1e6
    assert parse_number("1mib", "bytes", 0) == 1024**2
    assert parse_number("1.5k", "bytes", 0) == 1500
    assert parse_number("10kB/s", "bytes", 0) == 10_000
    assert parse_number("2h", "s", 0) == 7200
    assert parse_number("1s", "ms", 0) == 1000
    assert parse_number("250us", "ms", 0) == 0.25


def test_ipv4_mapped_network_means_ipv4() -> None:
    from .samples import DNS, UDP_BARE

    f = compile("ip:::ffff:192.0.2.0/120")
    assert f(UDP_BARE) and not f(DNS)


def test_odd_value_types_in_app_and_geo() -> None:
    from .samples import view

    v = view(
        99,
        app={"protocol": "TLS", "tls": {"alpn_offered": [b"h2", b"\x0a\x0b"], "sni": 7}},
        geo={"asn": True, "as_org": ["Org One", 2.5], "country": None},
    )
    assert compile("tls.alpn_offered = 6832")(v)  # bytes compare as hex
    assert compile("0a0b")(v)
    assert compile("sni:7")(v) and compile("sni=7")(v)
    assert not compile("asn:1")(v)  # a boolean is no AS number
    assert compile("asn:one")(v)  # the organisation, inside a list
    assert not compile("country:*")(v)
