"""Fixtures for live tests: namespace pairs, real servers, cleanup (see docs/testing.md).

Every fixture here skips the test (with the reason) when the machine cannot run live tests:
not root, no ``ip netns``, or a server binary missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live.harness import netns
from tests.live.harness.netns import HarnessUnavailable, Pair


def _require() -> None:
    try:
        netns.require_netns()
    except HarnessUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_namespaces() -> Iterator[None]:
    """Remove ``nwt-*`` namespaces/veths left by a crashed earlier run (never a live run's)."""
    try:
        netns.require_netns()
    except HarnessUnavailable:
        yield
        return
    netns.sweep_stale()
    yield


@pytest.fixture
def netpair() -> Iterator[Pair]:
    """Two fresh namespaces, ``.client`` and ``.server``, joined by a veth."""
    _require()
    with netns.make_netpair() as pair:
        yield pair


@pytest.fixture
def netpair2() -> Iterator[Pair]:
    """Like ``netpair`` with a second address pair (198.18.x.3 / .4, ::3 / ::4)."""
    _require()
    with netns.make_netpair(second_pair=True) as pair:
        yield pair


@pytest.fixture
def rootpair() -> Iterator[Pair]:
    """``.client`` is the root namespace (198.18.x.1), ``.server`` a fresh namespace (.2)."""
    _require()
    with netns.make_rootpair() as pair:
        yield pair
