"""Turning what the engine hands over into store rows (runs in the writer thread).

A finished connection becomes one ``connections`` row (indexed columns + the record as
JSON) and some ``dpi_index`` rows: the values of :data:`INDEXED_PATHS` in the record's
``app`` object, walked exactly as the filter language walks them
(:func:`netwatch.filters.fields.collect`), so an index lookup finds every row the filter
would match. An analyzer event becomes its class name and the JSON of its fields.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any

from netwatch.dpi.base import AppEvent
from netwatch.filters.fields import MAX_DEPTH, collect
from netwatch.filters.values import address_key, as_float
from netwatch.model.snapshot import ConnectionView

#: DPI paths kept in ``dpi_index`` (keys are these strings). ``app.*.sni`` is the SNI of
#: any protocol (TLS, QUIC); a dotted filter field like ``tls.sni`` uses the ``app.*.sni``
#: rows as candidates and the filter itself decides (see ``sql.py``).
INDEXED_PATHS: tuple[str, ...] = (
    "app.*.sni",
    "app.*.ja3",
    "app.*.ja3s",
    "app.*.ja4",
    "app.ssh.hassh",
    "app.ssh.hassh_server",
    "app.dns.qname",
    "app.http.host",
    "app.http.status",
)

#: (key, lower-cased text, number or None): one ``dpi_index`` row without its connection.
DpiRow = tuple[str, str, float | None]
_PATHS = tuple((p, tuple(p.split(".")[1:])) for p in INDEXED_PATHS)


def ip_key(addr: object) -> bytes | None:
    """A sortable key of an address: version byte + big-endian integer (4 or 16 bytes).

    IPv4-mapped IPv6 folds to IPv4 as in the filter language, so ``BETWEEN`` on these keys
    is a CIDR test. None for anything that is not an IP (ARP rows carry MACs)."""
    if not isinstance(addr, str):
        return None
    key = address_key(addr)
    if key is None:
        return None
    return ip_key_of(*key)


def ip_key_of(version: int, n: int) -> bytes:
    return bytes((version,)) + n.to_bytes(4 if version == 4 else 16, "big")


def dumps(obj: Any) -> str:
    return _encode(obj)


def _default(obj: Any) -> Any:
    if type(obj) is bytes:
        return obj.hex()
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, enum.Enum):
        return obj.name.lower()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: getattr(obj, name) for name in _field_names(type(obj))}
    if isinstance(obj, Mapping):
        return dict(obj)
    return str(obj)


#: One encoder for every row (``json.dumps`` with options builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default).encode


def text_value(v: object) -> str:
    """How the filter compares a scalar as text (``text_of``), lower-cased."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    return str(v).lower()


#: The mapping keys each path needs (``*`` matches any).
_NAMES = {p: frozenset(x for x in path if x != "*") for p, path in _PATHS}


def _keys(obj: Any, depth: int = 0) -> set[str]:
    """Every mapping key in a tree (as deep as :func:`collect` goes): one walk, after which
    most indexed paths can be skipped instead of deep-searched (a TLS object has no
    ``qname``, so ``app.dns.qname`` would otherwise walk all of it to find nothing).

    Exact type checks first, as in :func:`collect`: ``isinstance`` against the Mapping ABC
    was a third of the cost of indexing a record (measured)."""
    out: set[str] = set()
    add = out.add
    stack = [(obj, depth)]
    push = stack.append
    scalars = _SCALAR_SET
    while stack:
        o, d = stack.pop()
        if d > MAX_DEPTH:
            continue
        t = type(o)
        if t is list or t is tuple:
            for v in o:
                if type(v) not in scalars:
                    push((v, d + 1))
        elif t is dict or (t not in scalars and isinstance(o, Mapping)):
            for k, v in o.items():
                if type(k) is str or isinstance(k, str):
                    add(k)
                if type(v) not in scalars:
                    push((v, d + 1))
        elif isinstance(o, list | tuple):
            for v in o:
                if type(v) not in scalars:
                    push((v, d + 1))
    return out


_SCALARS = (str, int, float, bool, bytes, type(None))
_SCALAR_SET = frozenset(_SCALARS)


def dpi_values(app: object) -> list[DpiRow]:
    """(key, lower-cased text, number or None) for every indexed value of ``app``.

    Every value is kept, however long: a query uses these rows as its only candidates, so
    leaving one out would lose a match (analyzers already bound their strings)."""
    if not isinstance(app, Mapping) or not app:
        return []
    out: list[DpiRow] = []
    seen: set[tuple[str, str]] = set()
    present = _keys(app)
    for key, path in _PATHS:
        if not present.issuperset(_NAMES[key]):
            continue  # a key of the path occurs nowhere in the tree: collect finds nothing
        found: list[Any] = []
        collect(app, path, found)
        for v in found:
            text = text_value(v)
            if (key, text) in seen:
                continue
            seen.add((key, text))
            out.append((key, text, as_float(v)))
    return out


ConnRow = tuple[Any, ...]


def connection_row(
    run: int, v: ConnectionView
) -> tuple[ConnRow, list[tuple[str, str, float | None]]]:
    """The ``connections`` row (without ``id``) and the ``dpi_index`` values of one view."""
    rec = v.to_record()
    app = rec.get("app") or {}
    proto_app = app.get("protocol") if isinstance(app, Mapping) else None
    proc = v.process
    row = (
        run,
        v.id,
        v.first_seen,
        v.last_seen,
        v.proto.lower(),
        str(proto_app).lower() if proto_app else None,
        v.local_addr,
        ip_key(v.local_addr),
        v.local_port,
        v.remote_addr,
        ip_key(v.remote_addr),
        v.remote_port,
        v.remote_name,
        ip_key(v.remote_name),
        v.packets_out,
        v.packets_in,
        v.bytes_out,
        v.bytes_in,
        proc.name if proc else None,
        proc.pid if proc else None,
        dumps(rec),
        rec.get("payload_bytes_out"),
        rec.get("payload_bytes_in"),
    )
    return row, dpi_values(app)


CONNECTION_COLUMNS = (
    "run, conn, first_seen, last_seen, proto, app, local_addr, local_ip, local_port, "
    "remote_addr, remote_ip, remote_port, remote_name, name_ip, packets_out, packets_in, "
    "bytes_out, bytes_in, process, pid, record, payload_out, payload_in"
)


def event_row(run: int, conn: int | None, ev: AppEvent) -> tuple[Any, ...]:
    """``(run, conn, ts, type, data)``: the event's fields (all but ``ts``) as JSON."""
    fields = {name: getattr(ev, name) for name in _field_names(type(ev)) if name != "ts"}
    return (run, conn, ev.ts, type(ev).__name__, dumps(fields))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, read once per class (``dataclasses.fields`` per event and
    per nested value was a fifth of the cost of storing an event)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names
