"""Wiring for the commands: ``--metrics`` and ``--ipfix`` as the engine's two hooks.

``outputs = Outputs.open(metrics="127.0.0.1:9108", ipfix="127.0.0.1:4739")``, then
``Engine(..., on_finish=outputs.on_finish(emit), on_snapshot=outputs.on_snapshot)`` and
``outputs.close()`` when the engine is done. With neither option both hooks are the
caller's own (``on_snapshot`` None), so the engine runs exactly as without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from netwatch.model.snapshot import ConnectionView, Snapshot

if TYPE_CHECKING:  # imported when asked for (Prometheus and IPFIX code cost start-up)
    from netwatch.export.ipfix_exporter import IpfixExporter
    from netwatch.metrics.recorder import RecorderStats
    from netwatch.metrics.server import MetricsServer

FinishHook = Callable[[ConnectionView], None]


class Outputs:
    def __init__(
        self, server: MetricsServer | None = None, ipfix: IpfixExporter | None = None
    ) -> None:
        self.server = server
        self.ipfix = ipfix

    @classmethod
    def open(
        cls,
        metrics: str | None = None,
        ipfix: str | None = None,
        recorder: RecorderStats | None = None,
    ) -> Outputs:
        """Start what was asked; a bad address or a busy port is a :class:`UsageError`."""
        exporter = None
        if ipfix:
            from netwatch.export.ipfix_exporter import IpfixExporter, parse_collector

            host, port = parse_collector(ipfix)
            exporter = IpfixExporter(host, port)
        server = None
        if metrics:
            from netwatch.metrics.collector import NetwatchCollector
            from netwatch.metrics.server import MetricsServer

            try:
                server = MetricsServer(NetwatchCollector(recorder), metrics).start()
            except BaseException:
                if exporter is not None:
                    exporter.close()
                raise
        if server is not None:
            server.collector.ipfix = exporter
        return cls(server, exporter)

    def set_recorder(self, recorder: RecorderStats) -> None:
        if self.server is not None:
            self.server.collector.recorder = recorder

    def on_finish(self, inner: FinishHook | None = None) -> FinishHook | None:
        hooks = [h for h in (inner, *self._finish_hooks()) if h is not None]
        if not hooks:
            return None
        if len(hooks) == 1:
            return hooks[0]

        def finished(v: ConnectionView) -> None:
            for h in hooks:
                h(v)

        return finished

    def _finish_hooks(self) -> list[FinishHook]:
        out: list[FinishHook] = []
        if self.server is not None:
            out.append(self.server.collector.finished)
        if self.ipfix is not None:
            out.append(self.ipfix.finished)
        return out

    @property
    def on_snapshot(self) -> Callable[[Snapshot], None] | None:
        if self.server is None and self.ipfix is None:
            return None
        return self._snapshot

    def _snapshot(self, snap: Snapshot) -> None:
        if self.server is not None:
            self.server.collector.snapshot(snap)
        if self.ipfix is not None:
            self.ipfix.snapshot(snap)

    def close(self) -> None:
        if self.ipfix is not None:
            self.ipfix.close()
            self.ipfix = None
        if self.server is not None:
            self.server.close()
            self.server = None
