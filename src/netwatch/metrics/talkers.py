"""Top talkers with a bounded label set: the N remote addresses that moved most bytes."""

from __future__ import annotations

from collections.abc import Iterable

from netwatch.model.snapshot import ConnectionView

#: The label value that collects every remote address below the top N.
OTHER = "other"


def top_remotes(conns: Iterable[ConnectionView], n: int = 10) -> list[tuple[str, int]]:
    """``[(remote address, bytes)]`` of the ``n`` biggest, then ``("other", rest)``.

    Bytes are both directions of the connections given (those open in a snapshot). Ties
    are broken by address so the label set does not flap between equal talkers.
    """
    per: dict[str, int] = {}
    for v in conns:
        per[v.remote_addr] = per.get(v.remote_addr, 0) + v.bytes_out + v.bytes_in
    ranked = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked[:n]
    rest = sum(b for _, b in ranked[n:])
    return [*top, (OTHER, rest)]
