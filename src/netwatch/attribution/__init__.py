"""Socket -> process attribution: which process owns each connection.

``choose_resolver()`` starts the best backend this host allows (eBPF, sock_diag + procfs,
psutil, lsof) and returns it behind the :class:`ProcessResolver` protocol;
:class:`FakeResolver` answers from a table for tests and capture replay.
"""

from netwatch.attribution.base import BackendUnavailable, ProcessResolver, Resolved
from netwatch.attribution.choose import choose_resolver, diagnose_host, platform_chain
from netwatch.attribution.container import parse_cgroup
from netwatch.attribution.fake import FakeResolver

__all__ = [
    "BackendUnavailable",
    "FakeResolver",
    "ProcessResolver",
    "Resolved",
    "choose_resolver",
    "diagnose_host",
    "parse_cgroup",
    "platform_chain",
]
