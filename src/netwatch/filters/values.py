"""Parsing term values: numbers with units, port ranges, IP addresses and networks, regexes.

Every parser raises :class:`netwatch.errors.FilterSyntaxError` pointing at the value, so the
TUI can underline it. The unit tables are data the docs show (``docs/filter-language.md``).

Python's ``re`` has no timeout: a pathological pattern (``(a+)+$``) can backtrack for a long
time on a long field. We cap the pattern length (:data:`MAX_REGEX_LENGTH`); fields are short
(names, hashes, versions), which bounds the damage in practice.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache

from netwatch.errors import FilterSyntaxError

MAX_REGEX_LENGTH = 256

# Multipliers per unit kind. Sizes and rates use SI prefixes (k = 1000) and IEC ones
# (Ki = 1024); an optional trailing "b" (bytes) and "/s" are accepted and ignored.
UNITS: dict[str, dict[str, float]] = {
    "count": {"": 1, "k": 1e3, "m": 1e6, "g": 1e9},
    "bytes": {
        "": 1,
        "k": 1e3,
        "m": 1e6,
        "g": 1e9,
        "t": 1e12,
        "ki": 1024.0,
        "mi": 1024.0**2,
        "gi": 1024.0**3,
        "ti": 1024.0**4,
    },
    "ms": {"": 1, "us": 1e-3, "ms": 1, "s": 1e3},
    "s": {"": 1, "ms": 1e-3, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400},
}

_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([a-z/]*)\Z")


def parse_number(text: str, unit: str, position: int) -> float:
    """``"10k"`` with unit ``"bytes"`` → 10000.0; raises FilterSyntaxError when malformed."""
    m = _NUMBER.match(text.strip().lower())
    table = UNITS[unit]
    if m is None:
        raise FilterSyntaxError(
            f"expected a number, not {text!r} (e.g. {_example(unit)})", position
        )
    suffix = m.group(2)
    if unit == "bytes":
        suffix = suffix.removesuffix("/s").removesuffix("b")
    if suffix not in table:
        units = ", ".join(repr(u) for u in table if u)
        raise FilterSyntaxError(f"unknown unit {m.group(2)!r} (use {units})", position)
    return float(m.group(1)) * table[suffix]


def _example(unit: str) -> str:
    return {"bytes": "10k, 1.5M, 2Gi", "ms": "100, 20ms, 1s", "s": "30, 5m, 2h"}.get(unit, "42")


@dataclass(frozen=True, slots=True)
class NumberRange:
    """Inclusive bounds; ``low == high`` for a single number."""

    low: float
    high: float


def parse_range(text: str, unit: str, position: int) -> NumberRange:
    """``"8000-8100"`` or ``"443"`` (the latter as a one-number range)."""
    low_text, dash, high_text = text.partition("-")
    low = parse_number(low_text, unit, position)
    if not dash:
        return NumberRange(low, low)
    high = parse_number(high_text, unit, position + len(low_text) + 1)
    if high < low:
        raise FilterSyntaxError(f"empty range {text!r}: the low end comes first", position)
    return NumberRange(low, high)


def check_port(r: NumberRange, text: str, position: int) -> NumberRange:
    for x in (r.low, r.high):
        if x != int(x) or not 0 <= x <= 65535:
            raise FilterSyntaxError(f"{text!r} is not a port (0-65535)", position)
    return r


@dataclass(frozen=True, slots=True)
class Network:
    """An address or network as (version, first, last) integers, IPv4-mapped folded to IPv4."""

    version: int
    first: int
    last: int

    def contains(self, key: tuple[int, int] | None) -> bool:
        return key is not None and key[0] == self.version and self.first <= key[1] <= self.last


_V4_MAPPED = bytes(10) + b"\xff\xff"


@lru_cache(maxsize=65536)
def address_key(text: str) -> tuple[int, int] | None:
    """``"10.0.0.1"`` → (4, 167772161); None when ``text`` is no IP address. IPv4-mapped
    IPv6 folds to IPv4; a scope (``%eth0``) is ignored. Cached, and parsed with
    ``inet_pton`` (C) rather than ``ipaddress`` (several times slower): the first CIDR
    term over 20,000 rows parses 20,000 addresses on one keystroke."""
    addr = text.partition("%")[0]
    try:
        if ":" in addr:
            raw = socket.inet_pton(socket.AF_INET6, addr)
            if raw[:12] == _V4_MAPPED:
                return (4, int.from_bytes(raw[12:], "big"))
            return (6, int.from_bytes(raw, "big"))
        return (4, int.from_bytes(socket.inet_pton(socket.AF_INET, addr), "big"))
    except (OSError, ValueError):
        return None


_LOOKS_LIKE_NET = re.compile(r"[0-9a-fA-F.:]+/\d*\Z")


def parse_network(text: str, position: int) -> Network | None:
    """An IP (``10.1.2.3``, ``fe80::1``) or CIDR (``10.0.0.0/8``); None for anything else
    (a hostname). A CIDR-looking value that is invalid is an error, not a hostname."""
    key = address_key(text)
    if key is not None:
        return Network(key[0], key[1], key[1])
    if not _LOOKS_LIKE_NET.match(text):
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise FilterSyntaxError(f"bad network {text!r}: {exc}", position) from None
    first, last = net.network_address, net.broadcast_address
    low4 = first.ipv4_mapped if isinstance(first, ipaddress.IPv6Address) else None
    high4 = last.ipv4_mapped if isinstance(last, ipaddress.IPv6Address) else None
    if low4 is not None and high4 is not None:
        return Network(4, int(low4), int(high4))
    return Network(net.version, int(first), int(last))


def compile_regex(pattern: str, position: int, *, multiline: bool = False) -> re.Pattern[str]:
    """A case-insensitive regex, length-capped; errors point into the pattern."""
    if not pattern:
        raise FilterSyntaxError("empty regular expression", position)
    if len(pattern) > MAX_REGEX_LENGTH:
        raise FilterSyntaxError(
            f"regular expression longer than {MAX_REGEX_LENGTH} characters", position
        )
    flags = re.IGNORECASE | (re.MULTILINE if multiline else 0)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        where = position + (exc.pos or 0)
        raise FilterSyntaxError(f"bad regular expression: {exc.msg}", where) from None
    except (OverflowError, RecursionError, ValueError) as exc:
        raise FilterSyntaxError(f"bad regular expression: {exc}", position) from None


TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off"})


def as_float(v: object) -> float | None:
    """A record value as a number: ints, floats and numeric strings; not bools."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None
