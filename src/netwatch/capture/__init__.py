"""Packet sources: files and live interfaces behind one Protocol. They parse nothing."""
