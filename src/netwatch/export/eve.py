"""Suricata EVE JSON events from connection records (Suricata's "EVE JSON Output" and its
``etc/schema.json``; DNS in the version 3 layout).

Each IP record gives one ``flow`` event and, from its ``app`` object, the protocol events
Suricata logs per transaction: ``dns`` (a ``request`` and, once answered, a ``response``
per query), ``http`` (one per exchange), ``tls``, ``quic``, ``ssh`` and ``smtp``. Every
event carries the connection's ``flow_id`` and ``community_id``. No ``alert`` event is
written: netwatch has no detection rules, and an alert without a signature would be made
up. Timestamps use Suricata's form, ``2012-04-27T14:53:12.299605+0000`` (always UTC).

The protocol events are stamped with the flow's start (the record keeps no per-transaction
time); the ``flow`` event is stamped with the flow's start too, as Suricata does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from netwatch.export.dnsinfo import header_flags, rcode_number
from netwatch.export.flow import Flow, checked, flow_of

EVE_PROTO = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "IPv6-ICMP", "sctp": "SCTP"}
#: netwatch ``app.protocol`` → Suricata ``app_proto``.
APP_PROTO = {
    "HTTP": "http",
    "TLS": "tls",
    "QUIC": "quic",
    "DNS": "dns",
    "SSH": "ssh",
    "SMTP": "smtp",
    "FTP": "ftp",
    "FTP-DATA": "ftp-data",
    "IMAP": "imap",
    "POP3": "pop3",
    "DHCP": "dhcp",
    "SNMP": "snmp",
    "SIP": "sip",
    "RDP": "rdp",
    "NTP": "ntp",
    "Telnet": "telnet",
}
#: Suricata's TLS version names.
TLS_VERSION = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLSv1.0": "TLSv1",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}
#: DNS record types Suricata's ``grouped`` object has a key for (plain strings only).
_GROUPED_TEXT = frozenset({"A", "AAAA", "CNAME", "MX", "NS", "NULL", "PTR", "TXT"})
_CLOSED = frozenset({"CLOSED", "TIME_WAIT"})
#: The header flags a query carries (the record's others come from the response).
_QUERY_FLAGS = frozenset({"rd", "tc", "cd"})


def eve_time(ts: float) -> str:
    """Suricata's timestamp form, in UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def _cert_time(ts: str | None) -> str | None:
    return ts[:-1] if isinstance(ts, str) and ts.endswith("Z") else None


def _header(f: Flow, event_type: str) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "timestamp": eve_time(f.start),
        "flow_id": f.flow_id,
        "event_type": event_type,
        "src_ip": f.orig_h,
    }
    if f.proto in ("icmp", "icmpv6"):
        ev["dest_ip"] = f.resp_h
        icmp = f.record.get("icmp") or {}
        ev["icmp_type"] = int(icmp.get("type") or 0)
        ev["icmp_code"] = int(icmp.get("code") or 0)
    else:
        ev["src_port"] = f.orig_p
        ev["dest_ip"] = f.resp_h
        ev["dest_port"] = f.resp_p
    ev["proto"] = EVE_PROTO.get(f.proto, str(f.ip_proto))
    ev["ip_v"] = f.ip_version
    if f.vlans:
        ev["vlan"] = list(f.vlans)
    ev["community_id"] = f.community_id
    app_proto = APP_PROTO.get(str(f.app.get("protocol", "")))
    if app_proto and event_type != "flow":
        ev["app_proto"] = app_proto
    return ev


def _flow_state(f: Flow, state: str) -> str:
    if f.proto == "tcp" and state in _CLOSED:
        return "closed"
    return "established" if f.resp_pkts and f.orig_pkts else "new"


def flow_event(f: Flow) -> dict[str, Any]:
    ev = _header(f, "flow")
    app_proto = APP_PROTO.get(str(f.app.get("protocol", "")))
    if app_proto:
        ev["app_proto"] = app_proto
    elif f.app.get("error"):
        ev["app_proto"] = "failed"
    state = str(f.record.get("state", ""))
    ev["flow"] = {
        "pkts_toserver": f.orig_pkts,
        "pkts_toclient": f.resp_pkts,
        "bytes_toserver": f.orig_wire_bytes,
        "bytes_toclient": f.resp_wire_bytes,
        "start": eve_time(f.start),
        "end": eve_time(f.end),
        "age": int(f.duration),
        "state": _flow_state(f, state),
        "reason": "timeout" if state in _CLOSED else "shutdown",
        "alerted": False,
    }
    if f.proto == "tcp":
        ev["tcp"] = _tcp(f.history, state)
    return ev


#: History letters (either case) → the TCP flag they prove was seen, and its bit.
_HISTORY_FLAGS = (
    ("s", "syn", 0x02),
    ("h", "syn", 0x02),
    ("f", "fin", 0x01),
    ("r", "rst", 0x04),
    ("a", "ack", 0x10),
    ("h", "ack", 0x10),
)


def _tcp(history: str | None, state: str) -> dict[str, Any]:
    """Suricata's ``tcp`` object from the flags the history letters prove were seen."""
    tcp: dict[str, Any] = {}
    h = (history or "").lower()
    bits = 0
    for letter, name, bit in _HISTORY_FLAGS:
        if letter in h:
            tcp[name] = True
            bits |= bit
    if bits:
        tcp["tcp_flags"] = f"{bits:02x}"
    if state:
        tcp["state"] = state.lower()
    return tcp


def _dns_events(f: Flow, dns: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tx_id, q in enumerate(dns.get("queries") or []):
        flags = list(q.get("flags") or [])
        query = {"rrname": str(q.get("qname", "")), "rrtype": str(q.get("qtype", ""))}
        answered = q.get("rcode") is not None
        if not answered or q.get("rtt_ms") is not None:
            req = _header(f, "dns")
            req["dns"] = {
                "version": 3,
                "type": "request",
                "tx_id": tx_id,
                "id": int(q.get("id", 0)),
                "flags": f"{header_flags(_QUERY_FLAGS & set(flags), None, response=False):x}",
                "rd": "rd" in flags,
                "opcode": 0,
                "queries": [query],
            }
            out.append(req)
        if answered:
            rcode = str(q["rcode"])
            resp = _header(f, "dns")
            body: dict[str, Any] = {
                "version": 3,
                "type": "response",
                "tx_id": tx_id,
                "id": int(q.get("id", 0)),
                "flags": f"{header_flags(flags, rcode_number(rcode), response=True):x}",
                "qr": True,
            }
            for flag in ("aa", "tc", "rd", "ra"):
                if flag in flags:
                    body[flag] = True
            body.update({"opcode": 0, "rcode": rcode, "queries": [query]})
            answers, grouped = _dns_answers(q.get("answers") or [])
            if answers:
                body["answers"] = answers
                body["grouped"] = grouped
            resp["dns"] = body
            out.append(resp)
    return out


def _dns_answers(
    answers: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    out: list[dict[str, Any]] = []
    grouped: dict[str, list[Any]] = {}
    for a in answers:
        rtype, data = str(a.get("type", "")), str(a.get("data", ""))
        ans: dict[str, Any] = {
            "rrname": str(a.get("name", "")),
            "rrtype": rtype,
            "ttl": a.get("ttl", 0),
        }
        parts = data.split()
        if rtype == "SRV" and len(parts) == 4 and all(p.isdigit() for p in parts[:3]):
            srv = {
                "priority": int(parts[0]),
                "weight": int(parts[1]),
                "port": int(parts[2]),
                "name": parts[3],
            }
            ans["srv"] = srv
            grouped.setdefault("SRV", []).append(srv)
        elif rtype == "SOA" and len(parts) == 7 and all(p.isdigit() for p in parts[2:]):
            keys = ("mname", "rname", "serial", "refresh", "retry", "expire", "minimum")
            soa = {
                k: (v if i < 2 else int(v))
                for i, (k, v) in enumerate(zip(keys, parts, strict=True))
            }
            ans["soa"] = soa
            grouped.setdefault("SOA", []).append(soa)
        else:
            ans["rdata"] = data
            if rtype in _GROUPED_TEXT:
                grouped.setdefault(rtype, []).append(data)
        out.append(ans)
    return out, grouped


def _http_events(f: Flow, http: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for tx_id, x in enumerate(http.get("requests") or []):
        body: dict[str, Any] = {}
        for key, name in (("host", "hostname"), ("path", "url"), ("user_agent", "http_user_agent"),
                          ("content_type", "http_content_type"), ("referrer", "http_refer"),
                          ("method", "http_method"), ("version", "protocol")):  # fmt: skip
            if x.get(key) is not None:
                body[name] = str(x[key])
        if x.get("status") is not None:
            body["status"] = int(x["status"])
            if x.get("status_msg") is not None:
                body["status_string"] = str(x["status_msg"])
        body["length"] = int(x.get("response_body_bytes") or 0)
        ev = _header(f, "http")
        ev["tx_id"] = tx_id
        ev["http"] = body
        out.append(ev)
    return out


def _tls_body(tls: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    certs = tls.get("certs") or []
    if certs:
        leaf = certs[0]
        body["subject"] = str(leaf.get("subject", ""))
        body["issuerdn"] = str(leaf.get("issuer", ""))
        body["serial"] = str(leaf.get("serial", "")).upper()
        for key, name in (("not_before", "notbefore"), ("not_after", "notafter")):
            value = _cert_time(leaf.get(key))
            if value:
                body[name] = value
        if leaf.get("san"):
            body["subjectaltname"] = [str(s) for s in leaf["san"]]
    if tls.get("sni") is not None:
        body["sni"] = str(tls["sni"])
    version = tls.get("version")
    body["version"] = TLS_VERSION.get(str(version), "UNDETERMINED") if version else "UNDETERMINED"
    if tls.get("resumed"):
        body["session_resumed"] = True
    for key in ("ja3", "ja3s"):
        if tls.get(key):
            body[key] = {"hash": str(tls[key])}
    if tls.get("ja4"):
        body["ja4"] = str(tls["ja4"])
    if tls.get("alpn_offered"):
        body["client_alpns"] = [str(a) for a in tls["alpn_offered"]]
    if tls.get("alpn"):
        body["server_alpns"] = [str(tls["alpn"])]
    return body


def _quic_body(quic: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if quic.get("version"):
        body["version"] = str(quic["version"])
    if quic.get("sni") is not None:
        body["sni"] = str(quic["sni"])
    if quic.get("user_agent"):
        body["ua"] = str(quic["user_agent"])
    if quic.get("ja3"):
        body["ja3"] = {"hash": str(quic["ja3"])}
    if quic.get("ja4"):
        body["ja4"] = str(quic["ja4"])
    return body


def _ssh_side(banner: Any, software: Any, hassh: Any, algorithms: Any) -> dict[str, Any]:
    side: dict[str, Any] = {}
    if isinstance(banner, str) and banner.startswith("SSH-"):
        side["proto_version"] = banner[4:].split("-", 1)[0]
        side["software_version"] = str(software) if software else banner[4:].partition("-")[2]
    if hassh:
        side["hassh"] = {"hash": str(hassh), "string": str(algorithms or "")}
    return side


def _ssh_body(ssh: Mapping[str, Any]) -> dict[str, Any]:
    body = {}
    client = _ssh_side(ssh.get("client_version"), ssh.get("client_software"), ssh.get("hassh"),
                       ssh.get("hassh_algorithms"))  # fmt: skip
    server = _ssh_side(ssh.get("server_version"), ssh.get("server_software"),
                       ssh.get("hassh_server"), ssh.get("hassh_server_algorithms"))  # fmt: skip
    if client:
        body["client"] = client
    if server:
        body["server"] = server
    return body


def _smtp_body(smtp: Mapping[str, Any]) -> dict[str, Any]:
    """Suricata's ``smtp`` object (helo, mail_from, rcpt_to) from ``app.smtp``: the first
    message's envelope, else the session's first MAIL FROM."""
    body: dict[str, Any] = {}
    if smtp.get("helo"):
        body["helo"] = str(smtp["helo"])
    messages = [m for m in smtp.get("messages") or [] if isinstance(m, Mapping)]
    first = messages[0] if messages else {}
    mail_from = first.get("mail_from") or next(iter(smtp.get("mail_from") or []), None)
    if mail_from:
        body["mail_from"] = str(mail_from)
    rcpt = first.get("rcpt_to") or smtp.get("rcpt_to") or []
    if rcpt:
        body["rcpt_to"] = [str(r) for r in rcpt]
    return body


def events(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All EVE events of one connection record: protocol events first, then ``flow``
    (Suricata writes a flow event when the flow ends, after its transactions). A record of
    the wrong shape raises :class:`~netwatch.errors.MalformedError`."""
    return checked(_events, record)


def _events(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    f = flow_of(record)
    if f is None:
        return []
    out: list[dict[str, Any]] = []
    app = f.app
    if isinstance(app.get("dns"), Mapping):
        out += _dns_events(f, app["dns"])
    if isinstance(app.get("http"), Mapping):
        out += _http_events(f, app["http"])
    for key, build in (
        ("tls", _tls_body),
        ("quic", _quic_body),
        ("ssh", _ssh_body),
        ("smtp", _smtp_body),
    ):
        obj = app.get(key)
        if isinstance(obj, Mapping):
            body = build(obj)
            if body:
                ev = _header(f, key)
                ev[key] = body
                out.append(ev)
    out.append(flow_event(f))
    return out
