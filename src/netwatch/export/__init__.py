"""Exports of connection records in other tools' formats: Suricata EVE JSON and Zeek logs.

The event and row builders are pure functions of the records ``ConnectionView.to_record()``
produces (and the recorder reads back from its store); the writers stream them to files.
"""

from __future__ import annotations

from netwatch.export.eve import events as eve_events
from netwatch.export.flow import ExportResult
from netwatch.export.ids import community_id, flow_id, zeek_uid
from netwatch.export.writers import EveWriter, ZeekWriter, write_eve, write_zeek
from netwatch.export.zeek_logs import rows as zeek_rows

__all__ = [
    "EveWriter",
    "ExportResult",
    "ZeekWriter",
    "community_id",
    "eve_events",
    "flow_id",
    "write_eve",
    "write_zeek",
    "zeek_rows",
    "zeek_uid",
]
