"""The ``--metrics`` and ``--ipfix`` options, shared by the monitor, analyze and record."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metrics",
        metavar="ADDR:PORT",
        help="serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR defaults to "
        "127.0.0.1; ':9108' is enough)",
    )
    p.add_argument(
        "--ipfix",
        metavar="HOST:PORT",
        help="export flow records over UDP to an IPFIX collector (port 4739 by default)",
    )
