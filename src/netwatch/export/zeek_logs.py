"""Zeek log rows (conn, dns, http, ssl, x509, ssh, smtp) from connection records.

One record gives one conn.log row and the rows its ``app`` object supports; every row of
one connection carries the same ``uid``. Times the record does not keep per transaction
(a DNS query's, an HTTP request's) are the connection's start. The files are written by
``netwatch.export.writers.ZeekWriter``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from netwatch.export.dnsinfo import netbios_name, qtype_number, rcode_number, zeek_qtype_name
from netwatch.export.flow import Flow, checked, epoch, flow_of
from netwatch.export.zeek_conn import conn_state, is_local

Row = dict[str, Any]

#: Record ``app`` keys → Zeek service (analyzer) names.
SERVICE = {"http": "http", "tls": "ssl", "dns": "dns", "ssh": "ssh", "quic": "quic",
           "smtp": "smtp", "ftp": "ftp", "ftp-data": "ftp-data", "imap": "imap", "pop3": "pop3",
           "dhcp": "dhcp", "snmp": "snmp", "sip": "sip", "rdp": "rdp", "ntp": "ntp"}  # fmt: skip
ZEEK_TRANSPORT = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmp"}
TLS_VERSION = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLSv1.0": "TLSv10", "TLSv1.1": "TLSv11",
               "TLSv1.2": "TLSv12", "TLSv1.3": "TLSv13"}  # fmt: skip
#: Zeek keeps ``SHA256:`` and 32 base64 characters of the host key fingerprint.
SSH_FINGERPRINT_CHARS = 39
_RDN_SPLIT = re.compile(r", (?=[A-Za-z][A-Za-z0-9.\-]*=)")


def _id(f: Flow, ts: float | None = None) -> Row:
    return {
        "ts": f.start if ts is None else ts,
        "uid": f.uid,
        "id.orig_h": f.orig_h,
        "id.orig_p": f.orig_p,
        "id.resp_h": f.resp_h,
        "id.resp_p": f.resp_p,
    }


def tls_seen(tls: Any) -> bool:
    """Whether a TLS analyzer saw any handshake (a picked-up stream gives an empty object)."""
    if not isinstance(tls, Mapping):
        return False
    return any(tls.get(k) for k in ("version", "sni", "ja3", "ja3s", "client_version", "certs"))


def services(app: Mapping[str, Any]) -> list[str]:
    return [
        SERVICE[k]
        for k, v in app.items()
        if k in SERVICE and isinstance(v, Mapping) and (k != "tls" or tls_seen(v))
    ]


def zeek_history(hist: str | None) -> str | None:
    """The record's history with Zeek's ``^`` when the responder's packet came first: the
    tracker then turned the connection around, as Zeek's direction heuristic does."""
    if not hist:
        return None
    return "^" + hist if hist[0].islower() else hist


def conn_row(f: Flow) -> Row:
    orig_size, resp_size = f.directional("payload_bytes")
    orig_ip, resp_ip = f.directional("ip_bytes")
    dur = f.zeek_duration
    svc = services(f.app)
    return {
        **_id(f),
        "proto": ZEEK_TRANSPORT.get(f.proto, "unknown_transport"),
        "service": ",".join(svc) if svc else None,
        "duration": dur if dur > 0 else None,
        "orig_bytes": orig_size if dur > 0 else None,
        "resp_bytes": resp_size if dur > 0 else None,
        "conn_state": conn_state(
            f.proto, f.history, f.orig_pkts, f.resp_pkts, orig_size or 0, resp_size or 0
        ),
        "local_orig": is_local(f.orig_h),
        "local_resp": is_local(f.resp_h),
        "missed_bytes": int(f.record.get("missed_bytes") or 0),
        "history": zeek_history(f.history),
        "orig_pkts": f.orig_pkts,
        "orig_ip_bytes": orig_ip,
        "resp_pkts": f.resp_pkts,
        "resp_ip_bytes": resp_ip,
        "ip_proto": f.ip_proto,
    }


def _dns_answer(a: Mapping[str, Any]) -> str:
    """An answer in Zeek's text: the address or name; MX and SRV their target; TXT each
    string as ``TXT <len> <text>``."""
    rtype, data = str(a.get("type", "")), str(a.get("data", ""))
    if rtype in ("TXT", "SPF") and isinstance(a.get("strings"), list):
        return " ".join(f"TXT {len(s.encode('utf-8'))} {s}" for s in a["strings"])
    if rtype == "SRV" and len(data.split()) == 4:
        return data.split()[3]
    return data


def dns_rows(f: Flow, dns: Mapping[str, Any]) -> Iterator[Row]:
    netbios = f.resp_p == 137 or f.orig_p == 137
    for q in dns.get("queries") or []:
        flags = set(q.get("flags") or [])
        answered = q.get("rcode") is not None
        asked = not answered or q.get("rtt_ms") is not None
        qname = str(q.get("qname", ""))
        # Zeek decodes NetBIOS names and logs other query names in lower case.
        qname = (netbios_name(qname) or qname) if netbios else qname.lower()
        qtype = qtype_number(str(q.get("qtype", "")))
        rcode = rcode_number(q.get("rcode"))
        answers = q.get("answers") or []
        # Zeek fills rtt, AA and RA in its per-answer handler: a reply without answers
        # (NXDOMAIN, NODATA) leaves them unset and false.
        replied = bool(answers)
        yield {
            **_id(f),
            "proto": ZEEK_TRANSPORT.get(f.proto, "udp"),
            "trans_id": int(q.get("id", 0)),
            "rtt": q["rtt_ms"] / 1000.0 if replied and q.get("rtt_ms") is not None else None,
            "query": qname,
            "qclass": 1 if asked else None,
            "qclass_name": "C_INTERNET" if asked else None,
            "qtype": qtype if asked else None,
            "qtype_name": zeek_qtype_name(qtype) if asked and qtype is not None else None,
            "rcode": rcode,
            "rcode_name": q.get("rcode"),
            "AA": replied and "aa" in flags,
            "TC": "tc" in flags,
            "RD": "rd" in flags,
            "RA": replied and "ra" in flags,
            "Z": (2 if "ad" in flags else 0) + (1 if "cd" in flags else 0),
            "answers": [_dns_answer(a) for a in answers] or None,
            "TTLs": [float(a.get("ttl", 0)) for a in answers] or None,
            "rejected": False,
            "opcode": 0,
            "opcode_name": "netbios-query" if netbios else "query",
        }


def _bare_version(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    return v[5:] if v.startswith("HTTP/") else v


def http_rows(f: Flow, http: Mapping[str, Any]) -> Iterator[Row]:
    for depth, x in enumerate(http.get("requests") or [], start=1):
        yield {
            **_id(f),
            "trans_depth": depth,
            "method": x.get("method"),
            "host": x.get("host"),
            "uri": x.get("path"),
            "referrer": x.get("referrer"),
            "version": _bare_version(x.get("response_version") or x.get("version")),
            "user_agent": x.get("user_agent"),
            "request_body_len": int(x.get("request_body_bytes") or 0),
            "response_body_len": int(x.get("response_body_bytes") or 0),
            "status_code": x.get("status"),
            "status_msg": x.get("status_msg"),
            "tags": [],
        }


def zeek_dn(dn: str) -> str:
    """The record's one-line DN (certificate order, ``C=US, O=Example, CN=x``) in Zeek's
    RFC 2253 order without spaces (``CN=x,O=Example,C=US``)."""
    return ",".join(reversed(_RDN_SPLIT.split(dn))) if dn else dn


def _name_matches(pattern: str, host: str) -> bool:
    p, h = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if p.startswith("*."):
        head, _, rest = h.partition(".")
        return bool(head) and rest == p[2:]
    return p == h


def _sni_matches(sni: str | None, cert: Mapping[str, Any] | None) -> bool | None:
    if not sni or cert is None:
        return None
    names = list(cert.get("san") or [])
    if not names:
        cn = [
            part[3:]
            for part in _RDN_SPLIT.split(str(cert.get("subject", "")))
            if part.startswith("CN=")
        ]
        names = cn
    return any(_name_matches(str(n), sni) for n in names)


def ssl_row(f: Flow, tls: Mapping[str, Any]) -> Row:
    certs = [c for c in tls.get("certs") or [] if isinstance(c, Mapping)]
    version = tls.get("version")
    return {
        **_id(f),
        "version": TLS_VERSION.get(str(version), version) if version else None,
        "cipher": tls.get("cipher"),
        "server_name": tls.get("sni"),
        "resumed": bool(tls.get("resumed")),
        "next_protocol": tls.get("alpn"),
        "established": version is not None,
        "cert_chain_fps": [str(c.get("sha256")) for c in certs] if certs else None,
        "client_cert_chain_fps": [] if certs else None,
        "sni_matches_cert": _sni_matches(tls.get("sni"), certs[0] if certs else None),
    }


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def x509_rows(f: Flow, tls: Mapping[str, Any], seen: set[str]) -> Iterator[Row]:
    for i, c in enumerate(c for c in tls.get("certs") or [] if isinstance(c, Mapping)):
        fp = str(c.get("sha256"))
        if fp in seen:
            continue
        seen.add(fp)
        san = [str(s) for s in c.get("san") or []]
        dns_names = [s for s in san if not _is_ip(s)]
        ips = [s for s in san if _is_ip(s)]
        yield {
            "ts": f.start,
            "fingerprint": fp,
            "certificate.serial": str(c.get("serial", "")).replace(":", "").upper(),
            "certificate.subject": zeek_dn(str(c.get("subject", ""))),
            "certificate.issuer": zeek_dn(str(c.get("issuer", ""))),
            "certificate.not_valid_before": epoch(str(c["not_before"]))
            if c.get("not_before")
            else None,
            "certificate.not_valid_after": epoch(str(c["not_after"]))
            if c.get("not_after")
            else None,
            "san.dns": dns_names or None,
            "san.ip": ips or None,
            "host_cert": i == 0,
            "client_cert": False,
        }


def ssh_row(f: Flow, ssh: Mapping[str, Any]) -> Row:
    fp = ssh.get("host_key_fingerprint")
    established = ssh.get("state") == "ESTABLISHED"
    return {
        **_id(f),
        "version": ssh.get("version"),
        "auth_success": True if established else None,
        "auth_attempts": 1 if established else 0,
        "client": ssh.get("client_version"),
        "server": ssh.get("server_version"),
        "cipher_alg": ssh.get("cipher"),
        "mac_alg": ssh.get("mac"),
        "compression_alg": ssh.get("compression"),
        "kex_alg": ssh.get("kex"),
        "host_key_alg": ssh.get("host_key"),
        "host_key_fingerprint": fp[:SSH_FINGERPRINT_CHARS] if isinstance(fp, str) else None,
    }


def _addresses(text: Any) -> list[str] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def smtp_rows(f: Flow, smtp: Mapping[str, Any]) -> Iterator[Row]:
    """smtp.log rows (app.smtp, docs/schema/app/smtp.schema.json): one per message, or one
    for a session that sent none (EHLO then STARTTLS). ``path`` is Zeek's start of the
    relay path, responder then originator (the Received headers are not in the record)."""
    messages = [m for m in smtp.get("messages") or [] if isinstance(m, Mapping)]
    for depth, msg in enumerate(messages or [{}], start=1):
        rcpt = msg.get("rcpt_to")
        yield {
            **_id(f),
            "trans_depth": depth,
            "helo": smtp.get("helo"),
            "mailfrom": msg.get("mail_from"),
            "rcptto": rcpt if isinstance(rcpt, list) and rcpt else None,
            "date": msg.get("date"),
            "from": msg.get("from"),
            "to": _addresses(msg.get("to")),
            "cc": _addresses(msg.get("cc")),
            "subject": msg.get("subject"),
            "msg_id": msg.get("message_id"),
            "last_reply": smtp.get("last_reply"),
            "path": [f.resp_h, f.orig_h],
            "user_agent": msg.get("user_agent"),
            "tls": bool(smtp.get("starttls")),
            "fuids": [],
        }


def rows(record: Mapping[str, Any], seen_certs: set[str] | None = None) -> list[tuple[str, Row]]:
    """Every (log path, row) of one record; ``seen_certs`` de-duplicates x509 rows across
    records (Zeek logs a certificate once). A record of the wrong shape raises
    :class:`~netwatch.errors.MalformedError` (and adds no certificate to ``seen_certs``)."""
    seen = set() if seen_certs is None else seen_certs
    trial = set(seen)
    out = checked(lambda r: list(_rows(r, trial)), record)
    seen |= trial
    return out


def _rows(record: Mapping[str, Any], seen: set[str]) -> Iterator[tuple[str, Row]]:
    f = flow_of(record)
    if f is None:
        return
    yield "conn", conn_row(f)
    app = f.app
    dns = app.get("dns")
    netbios = app.get("netbios")
    if not isinstance(dns, Mapping) and isinstance(netbios, Mapping):
        dns = netbios.get("dns")  # Zeek logs NetBIOS name service in dns.log
    if isinstance(dns, Mapping):
        for row in dns_rows(f, dns):
            yield "dns", row
    if isinstance(app.get("http"), Mapping):
        for row in http_rows(f, app["http"]):
            yield "http", row
    if isinstance(app.get("smtp"), Mapping):
        for row in smtp_rows(f, app["smtp"]):
            yield "smtp", row
    if tls_seen(app.get("tls")):
        yield "ssl", ssl_row(f, app["tls"])
        for row in x509_rows(f, app["tls"], seen):
            yield "x509", row
    if isinstance(app.get("ssh"), Mapping):
        yield "ssh", ssh_row(f, app["ssh"])
