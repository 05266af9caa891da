"""Port → service name, from a bundled IANA-derived table overlaid by ``/etc/services``.

The table is data; reading the files is the engine's job (``ServiceTable.parse`` takes
their text), so this module stays free of I/O.
"""

from __future__ import annotations


class ServiceTable:
    def __init__(self) -> None:
        self._names: dict[tuple[str, int], str] = {}

    def __len__(self) -> int:
        return len(self._names)

    def add_tsv(self, text: str) -> None:
        """Our bundled format: ``transport<TAB>port<TAB>name`` lines, ``#`` comments."""
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1].isdigit():
                self._names[(parts[0], int(parts[1]))] = parts[2]

    def add_etc_services(self, text: str) -> None:
        """The ``services(5)`` format: ``name port/proto [aliases] [# comment]``."""
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) < 2 or "/" not in fields[1]:
                continue
            port, _, proto = fields[1].partition("/")
            if port.isdigit() and proto in ("tcp", "udp"):
                self._names[(proto, int(port))] = fields[0]

    def name(self, transport: str, port: int) -> str | None:
        return self._names.get((transport, port))

    def is_known(self, transport: str, port: int) -> bool:
        return (transport, port) in self._names

    def service_of(self, transport: str, server_port: int, client_port: int) -> str:
        """The row's service: the responder's port name, else the originator's, else ''."""
        return (
            self._names.get((transport, server_port))
            or self._names.get((transport, client_port))
            or ""
        )
