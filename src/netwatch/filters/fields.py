"""Where the filter reads its values: one accessor table per kind of subject.

A filter runs on a :class:`~netwatch.model.ConnectionView` (the TUI, exports) or on the plain
dict record of ``netwatch analyze`` (the recorder's stored rows). Both expose the same
*field names* here, so keywords, dotted paths and the search text are written once; only
these two tables differ. Every accessor tolerates missing or oddly typed data (records come
from disk) and returns ``None`` rather than raising.

Paths into nested data (``app.*.sni``, ``app.dns.queries.qname``, ``geo.asn``) are walked by
:func:`collect`: ``*`` is every value of a mapping, lists are transparent, and a key missing
from a mapping is looked for below it, so ``app.dns.queries.qname`` and ``app.dns.qname``
both yield the qname of every query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from netwatch.model.snapshot import RECORD_KEYS, ConnectionView

Getter = Callable[[Any], Any]

#: How deep :func:`collect` descends into nested data, and how many values it gathers:
#: records come from analyzers and disk; a runaway structure must not stall the TUI.
MAX_DEPTH = 12
MAX_VALUES = 4096


def _endpoint(addr: object, port: object) -> str | None:
    if not isinstance(addr, str):
        return None
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _add(a: object, b: object) -> float | None:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    return None


def _proc(v: ConnectionView, attr: str) -> Any:
    p = v.process
    return None if p is None else getattr(p, attr)


VIEW_FIELDS: dict[str, Callable[[ConnectionView], Any]] = {
    "proto": lambda v: v.proto,
    "ip_version": lambda v: v.ip_version,
    "local_addr": lambda v: v.local_addr,
    "local_port": lambda v: v.local_port,
    "remote_addr": lambda v: v.remote_addr,
    "remote_port": lambda v: v.remote_port,
    "local_endpoint": lambda v: _endpoint(v.local_addr, v.local_port),
    "remote_endpoint": lambda v: _endpoint(v.remote_addr, v.remote_port),
    "state": lambda v: v.state,
    "service": lambda v: v.service,
    "remote_name": lambda v: v.remote_name,
    "bytes": lambda v: v.bytes_in + v.bytes_out,
    "bytes_in": lambda v: v.bytes_in,
    "bytes_out": lambda v: v.bytes_out,
    "payload": lambda v: _add(v.extra.get("payload_bytes_in"), v.extra.get("payload_bytes_out")),
    "payload_in": lambda v: v.extra.get("payload_bytes_in"),
    "payload_out": lambda v: v.extra.get("payload_bytes_out"),
    "packets": lambda v: v.packets_in + v.packets_out,
    "packets_in": lambda v: v.packets_in,
    "packets_out": lambda v: v.packets_out,
    "rate": lambda v: v.rate_in + v.rate_out,
    "rate_in": lambda v: v.rate_in,
    "rate_out": lambda v: v.rate_out,
    "rtt_ms": lambda v: v.rtt_ms,
    "duration": lambda v: max(0.0, v.last_seen - v.first_seen),
    "retransmits": lambda v: v.retransmits,
    "vlan": lambda v: v.vlan,
    "closed": lambda v: v.closed,
    "app": lambda v: v.app,
    "geo": lambda v: v.geo,
    "extra": lambda v: v.extra,
    "process.name": lambda v: _proc(v, "name"),
    "process.pid": lambda v: _proc(v, "pid"),
    "process.ppid": lambda v: _proc(v, "ppid"),
    "process.user": lambda v: _proc(v, "user"),
    "process.uid": lambda v: _proc(v, "uid"),
    "process.exe": lambda v: _proc(v, "exe"),
    "process.cmdline": lambda v: _proc(v, "cmdline"),
    "process.container": lambda v: (
        None if v.process is None or v.process.container is None else v.process.container.id
    ),
}


def _get(rec: Any, key: str) -> Any:
    if type(rec) is dict:  # the common case, without the slow ABC isinstance check
        return rec.get(key)
    return rec.get(key) if isinstance(rec, Mapping) else None


def _rproc(rec: Any, key: str) -> Any:
    return _get(_get(rec, "process"), key)


def _record_extra(rec: Any) -> dict[str, Any] | None:
    if type(rec) is not dict and not isinstance(rec, Mapping):
        return None
    return {k: v for k, v in rec.items() if k not in RECORD_KEYS}


RECORD_FIELDS: dict[str, Callable[[Any], Any]] = {
    "proto": lambda r: _get(r, "proto"),
    "ip_version": lambda r: _get(r, "ip_version"),
    "local_addr": lambda r: _get(r, "local_addr"),
    "local_port": lambda r: _get(r, "local_port"),
    "remote_addr": lambda r: _get(r, "remote_addr"),
    "remote_port": lambda r: _get(r, "remote_port"),
    "local_endpoint": lambda r: _endpoint(_get(r, "local_addr"), _get(r, "local_port")),
    "remote_endpoint": lambda r: _endpoint(_get(r, "remote_addr"), _get(r, "remote_port")),
    "state": lambda r: _get(r, "state"),
    "service": lambda r: _get(r, "service"),
    "remote_name": lambda r: _get(r, "remote_name"),
    "bytes": lambda r: _add(_get(r, "bytes_in"), _get(r, "bytes_out")),
    "bytes_in": lambda r: _get(r, "bytes_in"),
    "bytes_out": lambda r: _get(r, "bytes_out"),
    "payload": lambda r: _add(_get(r, "payload_bytes_in"), _get(r, "payload_bytes_out")),
    "payload_in": lambda r: _get(r, "payload_bytes_in"),
    "payload_out": lambda r: _get(r, "payload_bytes_out"),
    "packets": lambda r: _add(_get(r, "packets_in"), _get(r, "packets_out")),
    "packets_in": lambda r: _get(r, "packets_in"),
    "packets_out": lambda r: _get(r, "packets_out"),
    "rate": lambda r: _add(_get(r, "rate_in"), _get(r, "rate_out")),
    "rate_in": lambda r: _get(r, "rate_in"),
    "rate_out": lambda r: _get(r, "rate_out"),
    "rtt_ms": lambda r: _get(r, "rtt_ms"),
    "duration": lambda r: _get(r, "duration"),
    "retransmits": lambda r: _get(r, "retransmits"),
    "vlan": lambda r: _get(r, "vlan"),
    "closed": lambda r: _get(r, "closed"),
    "app": lambda r: _get(r, "app"),
    "geo": lambda r: _get(r, "geo"),
    "extra": _record_extra,
    "process.name": lambda r: _rproc(r, "name"),
    "process.pid": lambda r: _rproc(r, "pid"),
    "process.ppid": lambda r: _rproc(r, "ppid"),
    "process.user": lambda r: _rproc(r, "user"),
    "process.uid": lambda r: _rproc(r, "uid"),
    "process.exe": lambda r: _rproc(r, "exe"),
    "process.cmdline": lambda r: _rproc(r, "cmdline"),
    "process.container": lambda r: _get(_rproc(r, "container"), "id"),
}

#: Roots of the nested mappings a dotted path may walk (``app`` is implied for protocol
#: names: ``tls.sni`` is ``app.tls.sni``; ``extra`` for ``icmp.*`` and ``arp.*``).
NESTED_ROOTS = ("app", "geo", "extra")


def collect(obj: Any, path: tuple[str, ...], out: list[Any], depth: int = 0) -> None:
    """Append to ``out`` every scalar reached from ``obj`` along ``path``."""
    # Exact type checks first: isinstance() against the Mapping ABC costs more than the
    # rest of this function, and the data is nearly always plain dicts, lists and strings.
    if obj is None or depth > MAX_DEPTH or len(out) >= MAX_VALUES:
        return
    t = type(obj)
    if t is list or t is tuple:
        for item in obj:
            collect(item, path, out, depth + 1)
        return
    is_map = t is dict or (t not in _SCALAR_TYPES and isinstance(obj, Mapping))
    if not path:
        if is_map:
            for item in obj.values():
                collect(item, path, out, depth + 1)
        else:
            out.append(obj)
        return
    if is_map:
        head, rest = path[0], path[1:]
        if head == "*":
            for item in obj.values():
                collect(item, rest, out, depth + 1)
        elif head in obj:
            collect(obj[head], rest, out, depth + 1)
        else:
            # Not a direct key: look for it deeper, so ``dns.qname`` finds the qname of
            # every ``dns.queries`` entry and ``http.status`` that of every request.
            for item in obj.values():
                if type(item) not in _SCALAR_TYPES:
                    collect(item, path, out, depth + 1)
    elif t not in _SCALAR_TYPES and isinstance(obj, list | tuple):
        for item in obj:
            collect(item, path, out, depth + 1)


_SCALAR_TYPES = frozenset({str, int, float, bool, bytes})
_EMPTY: tuple[Any, ...] = ()

Fetch = Callable[[Any], Sequence[Any]]


def values_getter(
    source: str,
    table: Mapping[str, Getter],
    memo: Callable[[Any, str, Fetch], Sequence[Any]] | None = None,
) -> Fetch:
    """A function subject → the scalar values of a field name or a nested path.

    ``source`` is a field of ``table`` (``local_port``), or a path whose first part is a
    nested root (``app.*.sni``, ``geo.country``); KeyError for anything else. ``memo``
    (the TUI's row cache) may keep the values of deep or wildcard paths per row: they
    change only when the row's app or geo objects do (the cache checks that), while
    walking them is the costly part. Plain fields and counters are always read afresh.
    """
    if source in table:
        get = table[source]

        def field_values(subject: Any) -> Sequence[Any]:
            x = get(subject)
            if x is None:
                return _EMPTY
            tx = type(x)
            if tx in _SCALAR_TYPES:
                return (x,)
            if (tx is tuple or tx is list) and all(type(e) is str for e in x):
                flat: Sequence[Any] = x  # a command line: already a flat sequence
                return flat
            out: list[Any] = []
            collect(x, (), out)
            return out

        return field_values
    root, _, rest = source.partition(".")
    if root not in NESTED_ROOTS:
        raise KeyError(source)
    get_root = table[root]
    path = tuple(rest.split(".")) if rest else ()

    def path_values(subject: Any) -> Sequence[Any]:
        out: list[Any] = []
        collect(get_root(subject), path, out)
        return out

    if len(path) == 1 and path[0] != "*":
        # One plain key (app.protocol, geo.country): a dict lookup, cheaper than the
        # cache; the general walk only when the key is absent or holds a container.
        key = path[0]

        def key_value(subject: Any) -> Sequence[Any]:
            m = get_root(subject)
            if type(m) is dict:
                x = m.get(key)
                if type(x) in _SCALAR_TYPES:
                    return (x,)
                if x is None and key in m:
                    return _EMPTY
            elif m is None:
                return _EMPTY
            return path_values(subject)

        return key_value
    if memo is None:
        return path_values
    return lambda subject: memo(subject, source, path_values)


def text_of(v: Any) -> str:
    """A scalar as the text filters compare: booleans as true/false, bytes as hex."""
    if type(v) is str:
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    return v if isinstance(v, str) else str(v)
