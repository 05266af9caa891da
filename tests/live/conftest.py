"""Fixtures for live tests: namespace pairs, real servers, cleanup (see docs/testing.md).

Every fixture here skips the test (with the reason) when the machine cannot run live tests:
not root, no ``ip netns``, or a server binary missing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TypeVar

import pytest

from tests.live.harness import netns, servers
from tests.live.harness.certs import CertSet, make_certs
from tests.live.harness.netns import HarnessUnavailable, Pair

T = TypeVar("T")
HARNESS_FIXTURES = frozenset(
    {"netpair", "netpair2", "rootpair", "server_pair", "nginx_server", "ssh_server",
     "dns_server", "h3_server"}
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test using a harness fixture is ``live`` even if its author forgot the mark."""
    for item in items:
        if HARNESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)


def _require() -> None:
    try:
        netns.require_netns()
    except HarnessUnavailable as exc:
        pytest.skip(str(exc))


def _serve(manager: contextlib.AbstractContextManager[T]) -> Iterator[T]:
    """Yield from a server context manager, turning "not installed" into a skip."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(manager)
        except HarnessUnavailable as exc:
            pytest.skip(str(exc))
        yield server


def _sigterm_to_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_namespaces() -> Iterator[None]:
    """Remove ``nwt-*`` namespaces/veths left by a crashed earlier run (never a live run's).

    While live tests run, SIGTERM raises SystemExit so every ``finally`` (pair and server
    teardown) still runs; the previous handler is restored afterwards.
    """
    try:
        netns.require_netns()
    except HarnessUnavailable:
        yield
        return
    netns.sweep_stale()
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_to_exit)
    try:
        yield
    finally:
        if previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


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


@pytest.fixture(scope="module")
def server_pair() -> Iterator[Pair]:
    """The pair the server fixtures run on: a ``rootpair`` shared by the test module.

    Override it in a test module (keep ``scope="module"``) to serve from a ``netpair``.
    """
    _require()
    with netns.make_rootpair() as pair:
        yield pair


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    """The test CA and the www / api / h3 certificates (``harness.certs``)."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def nginx_server(server_pair: Pair, tls_certs: CertSet) -> Iterator[servers.NginxServer]:
    yield from _serve(servers.start_nginx(server_pair.server, tls_certs))


@pytest.fixture(scope="module")
def ssh_server(server_pair: Pair) -> Iterator[servers.SshServer]:
    yield from _serve(servers.start_sshd(server_pair.server))


@pytest.fixture(scope="module")
def dns_server(server_pair: Pair) -> Iterator[servers.DnsServer]:
    yield from _serve(servers.start_dnsmasq(server_pair.server))


@pytest.fixture(scope="module")
def h3_server(server_pair: Pair, tls_certs: CertSet) -> Iterator[servers.H3Server]:
    yield from _serve(servers.start_h3(server_pair.server, tls_certs))
