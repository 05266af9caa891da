"""Widgets of the netwatch TUI."""
