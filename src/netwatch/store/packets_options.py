"""The command-line options of packet recording (``netwatch record --packets``...).

Apart from :mod:`netwatch.store.packets_record`, which builds what they ask for, so that
defining the command line imports no capture or storage code (start-up of every command).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("packets")
    g.add_argument(
        "--packets",
        action="store_true",
        help="also keep the packets, in rotating pcapng files indexed by connection "
        "('netwatch export --format pcapng')",
    )
    g.add_argument(
        "--dedup",
        choices=("drop", "count"),
        help="detect the same packet seen twice within 50 ms (-i any, SPAN ports): "
        "drop the copies (not counted, not stored) or only count them",
    )
    g.add_argument(
        "--sample",
        type=int,
        default=1,
        metavar="N",
        help="store 1 packet in N (connections still count every packet)",
    )
    g.add_argument(
        "--adaptive-sample",
        action="store_true",
        help="store fewer packets while the packet writer falls behind (counted, reported)",
    )
    g.add_argument(
        "--rotate",
        default="256M/1h",
        metavar="SIZE/AGE",
        help="start a new pcapng file past SIZE or AGE of capture time (default 256M/1h)",
    )
