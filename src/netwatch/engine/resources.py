"""Loading the bundled data files (and the host's own tables) for the pure core."""

from __future__ import annotations

from pathlib import Path

from netwatch import datafiles
from netwatch.flows.services import ServiceTable

ETC_SERVICES = Path("/etc/services")


def load_services(etc_services: Path | None = ETC_SERVICES) -> ServiceTable:
    """The bundled IANA-derived table, overlaid by ``/etc/services`` where present."""
    table = ServiceTable()
    table.add_tsv(datafiles.read_bytes("services.tsv").decode("utf-8"))
    if etc_services is not None:
        try:
            table.add_etc_services(etc_services.read_text("utf-8", errors="replace"))
        except OSError:
            pass  # no /etc/services (containers, Windows): the bundled table stands alone
    return table
