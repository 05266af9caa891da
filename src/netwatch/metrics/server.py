"""The metrics HTTP endpoint: prometheus-client's server in a daemon thread.

Bound only to the address given (``--metrics 127.0.0.1:9108``; ``:9108`` or ``9108``
mean loopback), serving only netwatch's own collector (no process or platform metrics of
the default registry). ``close()`` shuts it down and releases the port.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from netwatch.errors import UsageError
from netwatch.metrics.collector import NetwatchCollector

DEFAULT_HOST = "127.0.0.1"


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT`` → (address, port)."""
    host, port = DEFAULT_HOST, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise UsageError(f"--metrics {text!r}: expected [ADDR]:PORT")
        host, port = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port = text.rpartition(":")
        if ":" in host:
            raise UsageError(f"--metrics {text!r}: write an IPv6 address as [ADDR]:PORT")
        host = host or DEFAULT_HOST
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--metrics {text!r}: {port!r} is not a port")
    return host, int(port)


class MetricsServer:
    """``MetricsServer(collector, "127.0.0.1:9108").start()``; ``close()`` on exit."""

    def __init__(self, collector: NetwatchCollector, listen: str) -> None:
        self.collector = collector
        self.host, self.port = parse_listen(listen)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsServer:
        try:
            self._server, self._thread = start_http_server(
                self.port, addr=self.host, registry=self.registry
            )
        except OSError as exc:
            raise UsageError(
                f"--metrics {self.host}:{self.port}: cannot listen ({exc.strerror or exc})"
            ) from None
        self.port = self._server.server_port  # the real one when 0 was asked
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
