"""The filter keywords as data: name → where its values come from, how they match, help.

Tests enumerate this table and ``docs/filter-language.md`` shows it; the TUI's help screen
reads :func:`keyword_help`. ``sources`` are field names of :mod:`netwatch.filters.fields`
or nested paths (``app.*.sni``: the ``sni`` of any protocol object, TLS or QUIC alike).

Kinds decide how a value matches (see ``evaluate.py``):

* ``text``: ``:`` substring, ``=`` equal, ``~`` regex, all case-insensitive;
* ``number`` (with a ``unit``): ``=``/``:`` a number or range, ``< <= > >=`` compare;
* ``port``: a number 0-65535 or a range ``8000-8100``;
* ``addr``: an IP or CIDR; anything else is a text match on the address and the names;
* ``proto``: an exact protocol name (``icmp`` also means ICMPv6);
* ``asn``: ``AS15169`` / ``15169`` compares the AS number, other text the AS organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("text", "number", "port", "addr", "proto", "asn")


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    kind: str
    sources: tuple[str, ...]
    help: str
    example: str
    aliases: tuple[str, ...] = ()
    unit: str = "count"


KEYWORDS: tuple[Keyword, ...] = (
    Keyword("port", "port", ("local_port", "remote_port"), "either port", "port:8000-8100"),
    Keyword("sport", "port", ("local_port",), "local port", "sport:22", ("lport",)),
    Keyword("dport", "port", ("remote_port",), "remote port", "dport>=1024", ("rport",)),
    Keyword(
        "addr", "addr", ("local_addr", "remote_addr"), "either address", "ip:fe80::/10", ("ip",)
    ),
    Keyword("src", "addr", ("local_addr",), "local address", "src:192.168.1.0/24", ("local",)),
    Keyword(
        "dst",
        "addr",
        ("remote_addr", "remote_name"),
        "remote address or its resolved name",
        "dst:10.0.0.0/8",
        ("remote",),
    ),
    Keyword("proto", "proto", ("proto", "app.protocol"), "transport or app protocol", "proto:quic"),
    Keyword(
        "process",
        "text",
        ("process.name", "process.exe", "process.cmdline"),
        "process name, executable or command line",
        "process:firefox",
    ),
    Keyword("pid", "number", ("process.pid",), "process id", "pid:1234"),
    Keyword("user", "text", ("process.user",), "process owner", "user=root"),
    Keyword("container", "text", ("process.container",), "container id", "container:3f2a"),
    Keyword("service", "text", ("service",), "port-based service name", "service:https"),
    Keyword("sni", "text", ("app.*.sni",), "TLS / QUIC server name", "sni:/git(hub|lab)/"),
    Keyword(
        "host",
        "text",
        ("app.http.requests.host", "app.*.sni", "remote_name"),
        "HTTP Host, TLS/QUIC SNI or the remote name",
        "host:example.com",
    ),
    Keyword(
        "app",
        "text",
        ("app.protocol", "app.summary"),
        "detected application (protocol or summary)",
        "app:dns",
    ),
    Keyword("state", "text", ("state",), "connection state", "state:estab"),
    Keyword(
        "ssh",
        "text",
        (
            "app.ssh.client_version",
            "app.ssh.server_version",
            "app.ssh.client_software",
            "app.ssh.server_software",
        ),
        "SSH banners and software",
        "ssh:openssh_9",
    ),
    Keyword(
        "dns",
        "text",
        ("app.dns.queries.qname", "app.dns.queries.answers.name", "app.dns.queries.answers.data"),
        "DNS query names and answers",
        "dns:example.org",
    ),
    Keyword("ja3", "text", ("app.*.ja3", "app.*.ja3s"), "JA3 or JA3S hash", "ja3:e7d705a3"),
    Keyword("ja4", "text", ("app.*.ja4",), "JA4 fingerprint", "ja4:t13d1516h2"),
    Keyword(
        "hassh",
        "text",
        ("app.ssh.hassh", "app.ssh.hassh_server"),
        "HASSH or HASSH-server hash",
        "hassh:ec7378c1",
    ),
    Keyword("country", "text", ("geo.country",), "remote country (GeoIP)", "country=DE"),
    Keyword("city", "text", ("geo.city",), "remote city (GeoIP)", "city:berlin"),
    Keyword(
        "asn", "asn", ("geo.asn", "geo.as_org"), "remote AS number or organisation", "asn:AS15169"
    ),
    Keyword("bytes", "number", ("bytes",), "bytes both ways", "bytes>1M", unit="bytes"),
    Keyword("bytes_in", "number", ("bytes_in",), "bytes received", "bytes_in>10k", unit="bytes"),
    Keyword("bytes_out", "number", ("bytes_out",), "bytes sent", "bytes_out>10k", unit="bytes"),
    Keyword(
        "payload",
        "number",
        ("payload",),
        "application bytes both ways (no headers, no retransmissions)",
        "payload>1M",
        unit="bytes",
    ),
    Keyword(
        "payload_in",
        "number",
        ("payload_in",),
        "application bytes received",
        "payload_in>10M",
        unit="bytes",
    ),
    Keyword(
        "payload_out",
        "number",
        ("payload_out",),
        "application bytes sent",
        "payload_out>100M",
        unit="bytes",
    ),
    Keyword("packets", "number", ("packets",), "packets both ways", "packets<3"),
    Keyword("rate", "number", ("rate",), "bytes/s both ways (live only)", "rate>10k", unit="bytes"),
    Keyword(
        "rate_in",
        "number",
        ("rate_in",),
        "bytes/s received (live only)",
        "rate_in>1M",
        unit="bytes",
    ),
    Keyword(
        "rate_out", "number", ("rate_out",), "bytes/s sent (live only)", "rate_out>1M", unit="bytes"
    ),
    Keyword("rtt", "number", ("rtt_ms",), "round-trip time in ms", "rtt>100", unit="ms"),
    Keyword("duration", "number", ("duration",), "age in seconds", "duration>5m", unit="s"),
    Keyword("vlan", "number", ("vlan",), "outer VLAN id", "vlan:100"),
    Keyword(
        "retrans", "number", ("retransmits",), "TCP retransmissions", "retrans>0", ("retransmits",)
    ),
)

#: Every name and alias (lower case) → its keyword.
KEYWORD_INDEX: dict[str, Keyword] = {name: kw for kw in KEYWORDS for name in (kw.name, *kw.aliases)}

#: First parts of dotted fields: ``tls.sni`` reads ``app["tls"]["sni"]``; ``geo.asn`` and
#: ``process.name`` read the geo and process objects. A new analyzer adds its name here.
APP_ROOTS = (
    "tls",
    "quic",
    "gquic",
    "dtls",
    "dns",
    "mdns",
    "http",
    "http2",
    "ssh",
    "dhcp",
    "ntp",
    "smtp",
    "ftp",
    "imap",
    "pop3",
    "smb",
    "rdp",
    "sip",
    "stun",
    "wireguard",
)
#: Per-row objects outside ``app`` (``ConnectionView.extra``; top-level keys of a record).
EXTRA_ROOTS = ("icmp", "arp")
FIELD_ROOTS = (*APP_ROOTS, *EXTRA_ROOTS, "app", "geo", "process", "extra")

#: ``proto:icmp`` matches these transport names too.
PROTO_FAMILIES: dict[str, frozenset[str]] = {
    "icmp": frozenset({"icmp", "icmpv6", "icmp6", "ipv6-icmp"}),
}


def is_dotted_field(name: str) -> bool:
    """``tls.sni``, ``dns.queries.qname``, ``process.name``: a path under a known root."""
    root, dot, rest = name.partition(".")
    return bool(dot and rest) and root in FIELD_ROOTS and "" not in rest.split(".")


def dotted_source(name: str) -> str:
    """The field-table source of a dotted field: ``tls.sni`` → ``app.tls.sni``."""
    root = name.partition(".")[0]
    if root in ("app", "geo", "process", "extra"):
        return name
    if root in EXTRA_ROOTS:
        return f"extra.{name}"
    return f"app.{name}"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What a term's keyword reads and how it compares: for the evaluator, and for the
    recorder translating a :class:`~netwatch.filters.nodes.Term` to SQL.

    ``kind`` is one of :data:`KINDS` or ``"field"`` (a dotted field: compared by the type
    of the value found); ``sources`` are record field names or nested paths
    (``app.*.sni``: any protocol object's ``sni``; a missing key is searched below).
    """

    kind: str
    unit: str
    sources: tuple[str, ...]


def field_spec(keyword: str) -> FieldSpec | None:
    """The spec of a keyword, alias or dotted field (lower case); None if unknown."""
    kw = KEYWORD_INDEX.get(keyword)
    if kw is not None:
        return FieldSpec(kw.kind, kw.unit, kw.sources)
    if is_dotted_field(keyword):
        return FieldSpec("field", "count", (dotted_source(keyword),))
    return None


def keyword_help() -> list[tuple[str, str, str]]:
    """(names, help, example) rows for a help screen: ``("sport lport", "local port", ...)``."""
    return [(" ".join((kw.name, *kw.aliases)), kw.help, kw.example) for kw in KEYWORDS]
