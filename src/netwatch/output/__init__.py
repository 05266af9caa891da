"""Writers of ``netwatch analyze`` records: JSON Lines, JSON array, CSV (streaming)."""

from netwatch.output.records import RecordWriter, open_writer

__all__ = ["RecordWriter", "open_writer"]
