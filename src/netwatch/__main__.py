"""``python -m netwatch`` is the same as the ``netwatch`` command."""

from netwatch.cli import run

run()
