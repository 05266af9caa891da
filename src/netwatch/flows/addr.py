"""Address conversions with small caches (the same few addresses recur constantly)."""

from __future__ import annotations

import socket
from functools import lru_cache


@lru_cache(maxsize=65536)
def ntop(raw: bytes) -> str:
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw.hex()


@lru_cache(maxsize=65536)
def pton(text: str) -> bytes | None:
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except OSError:
        return None


def mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)
