"""Paths to the shared corpus and its tshark truths (``../shared/corpus``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _find_shared() -> Path:
    env = os.environ.get("NETWATCH_SHARED")
    if env:
        return Path(env)
    for base in (REPO, *REPO.parents):
        cand = base / "shared"
        if (cand / "corpus").is_dir():
            return cand
    return REPO.parent / "shared"


SHARED = _find_shared()
CORPUS = SHARED / "corpus"


def corpus_file(name: str) -> Path:
    """A capture from the shared corpus; skips the test if the corpus is absent."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not available")
    return path


def expected(stem: str) -> list[dict[str, Any]]:
    """The tshark truth records for a capture stem (``ndpi_ssh``)."""
    path = CORPUS / "expected" / f"{stem}.jsonl"
    if not path.exists():
        pytest.skip(f"no expected truth for {stem}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_peer(stem: str, oracle: str) -> list[dict[str, Any]]:
    path = CORPUS / "expected_peer" / f"{stem}.{oracle}.jsonl"
    if not path.exists():
        pytest.skip(f"no peer truth {stem}.{oracle}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def captures() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng"))
