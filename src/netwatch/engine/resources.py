"""Loading the bundled data files (and the host's own tables) for the pure core."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from netwatch.flows.services import ServiceTable

ETC_SERVICES = Path("/etc/services")


def load_services(etc_services: Path | None = ETC_SERVICES) -> ServiceTable:
    """The bundled IANA-derived table, overlaid by ``/etc/services`` where present."""
    table = ServiceTable()
    table.add_tsv(resources.files("netwatch").joinpath("data/services.tsv").read_text("utf-8"))
    if etc_services is not None:
        try:
            table.add_etc_services(etc_services.read_text("utf-8", errors="replace"))
        except OSError:
            pass  # no /etc/services (containers, Windows): the bundled table stands alone
    return table
