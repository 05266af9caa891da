"""Idle timeouts per protocol and state, as data (seconds of capture time).

A row whose idle time passes its timeout leaves the table (into the closed history). The UI
colours a row by ``idle / timeout``: yellow from 0.75, red from 0.90. An analyzer may
override the timeout (QUIC's ``max_idle_timeout``). Values follow what operators expect of
a monitor rather than kernel defaults: established TCP is kept an hour idle (long-lived SSH
sessions), TIME_WAIT only briefly, DNS and ICMP exchanges are short.
"""

from __future__ import annotations

TCP_TIMEOUTS: dict[str, float] = {
    "SYN_SENT": 60.0,
    "SYN_RECV": 60.0,
    "ESTABLISHED": 3600.0,
    "FIN_WAIT1": 120.0,
    "FIN_WAIT2": 120.0,
    "CLOSE_WAIT": 300.0,
    "CLOSING": 60.0,
    "LAST_ACK": 60.0,
    "TIME_WAIT": 30.0,
    "CLOSED": 10.0,
}

UDP_TIMEOUT = 180.0
#: UDP rows by their detected application (or by well-known port before detection).
APP_TIMEOUTS: dict[str, float] = {
    "DNS": 30.0,
    "QUIC": 60.0,  # until the client's max_idle_timeout is known
}
DNS_PORTS = frozenset({53, 5353, 5355})
ICMP_TIMEOUT = 30.0
ARP_TIMEOUT = 30.0
OTHER_TIMEOUT = 120.0

#: The shortest timeout in these tables: a row idle for less cannot have expired.
MIN_TIMEOUT = min(
    *TCP_TIMEOUTS.values(),
    *APP_TIMEOUTS.values(),
    UDP_TIMEOUT,
    ICMP_TIMEOUT,
    ARP_TIMEOUT,
    OTHER_TIMEOUT,
)

#: UDP activity states from idle time: active below this many seconds idle ...
UDP_ACTIVE_SECONDS = 10.0
#: ... stale from this fraction of the timeout (the UI's yellow threshold).
STALE_FRACTION = 0.75


def tcp_timeout(state: str) -> float:
    return TCP_TIMEOUTS.get(state, TCP_TIMEOUTS["ESTABLISHED"])
