"""Pieces the commands share: the host's addresses, the process resolver, enrichment."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netwatch.enrich import EnrichHandle, build_enricher, options_from
from netwatch.errors import UsageError
from netwatch.flows.addr import pton

if TYPE_CHECKING:
    from netwatch.attribution import ProcessResolver

# The interface list (psutil) and the process resolvers serve live capture only: imported
# when asked for, so that reading a file does not pay for them (~25 ms of start-up).


def local_addresses() -> set[bytes]:
    """The host's own addresses, raw, for local/remote orientation (refreshed by the engine)."""
    from netwatch.capture import interfaces

    out = set()
    for a in interfaces.local_addresses():
        raw = pton(a.split("%")[0])
        if raw is not None:
            out.add(raw)
    return out


def make_resolver(choice: str) -> ProcessResolver | None:
    """The process resolver for live capture: ``auto`` walks the fallback chain."""
    if choice == "none":
        return None
    from netwatch.attribution import choose_resolver

    return choose_resolver(prefer=None if choice == "auto" else choice)


def config_file() -> Path:
    """``$XDG_CONFIG_HOME/netwatch/config.toml`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "netwatch" / "config.toml"


def config_table(name: str) -> dict[str, Any]:
    """One ``[name]`` table of the config file ({} when there is none)."""
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [{name}] must be a table")
    return table


def make_enrichment(args: argparse.Namespace, live: bool) -> EnrichHandle:
    """GeoIP, scopes, MAC vendors and (opt-in) reverse DNS, from flags over the config."""
    opts = options_from(args, config_table("enrich"), live=live)
    return build_enricher(
        opts, warn=lambda line: print(f"netwatch: warning: {line}", file=sys.stderr)
    )
