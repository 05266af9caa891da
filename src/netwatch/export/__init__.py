"""Exports of connection records in other tools' formats: Suricata EVE JSON and Zeek logs.

The writers are pure functions of the records ``ConnectionView.to_record()`` produces (and
the recorder reads back from its store): no engine, no clock unless asked for.
"""

from __future__ import annotations

from netwatch.export.eve import events as eve_events
from netwatch.export.eve import write_eve
from netwatch.export.ids import community_id, flow_id, zeek_uid
from netwatch.export.zeek_logs import write_zeek

__all__ = ["community_id", "eve_events", "flow_id", "write_eve", "write_zeek", "zeek_uid"]
