"""``python -m netwatch`` is the same as the ``netwatch`` command."""

from netwatch.cli import main

raise SystemExit(main())
