"""TCP connection states from observed segments (RFC 9293 §3.3.2), as a transition table.

The state is that of the *local* endpoint's socket (what ``ss`` would show on the local
host): ``OUT`` segments were sent by the local side, ``IN`` segments received. Events:

* ``S``  SYN without ACK       * ``SA`` SYN+ACK        * ``R`` RST
* ``F``  FIN (not acking the peer's FIN)   * ``FA`` FIN that also acks the peer's FIN
* ``AF`` ACK of the peer's FIN              * ``A``  anything else

A row seen first mid-connection is *picked up* as ESTABLISHED. Pairs absent from the table
leave the state unchanged. ``tests/unit/flows/test_tcpstate.py`` walks every row.
"""

from __future__ import annotations

OUT, IN = 0, 1

NEW = "NEW"
CLOSED_STATES = frozenset({"CLOSED", "TIME_WAIT"})

TRANSITIONS: dict[tuple[str, int, str], str] = {
    # opening
    (NEW, OUT, "S"): "SYN_SENT",
    (NEW, IN, "S"): "SYN_RECV",
    (NEW, IN, "SA"): "ESTABLISHED",
    (NEW, OUT, "SA"): "SYN_RECV",
    (NEW, OUT, "A"): "ESTABLISHED",
    (NEW, IN, "A"): "ESTABLISHED",
    (NEW, OUT, "F"): "FIN_WAIT1",
    (NEW, IN, "F"): "CLOSE_WAIT",
    (NEW, OUT, "FA"): "FIN_WAIT1",
    (NEW, IN, "FA"): "CLOSE_WAIT",
    (NEW, OUT, "R"): "CLOSED",
    (NEW, IN, "R"): "CLOSED",
    ("SYN_SENT", IN, "SA"): "ESTABLISHED",
    ("SYN_SENT", IN, "S"): "SYN_RECV",  # simultaneous open
    ("SYN_RECV", IN, "A"): "ESTABLISHED",
    ("SYN_RECV", OUT, "A"): "ESTABLISHED",  # our ACK of their SYN-ACK (simultaneous open)
    ("SYN_RECV", IN, "F"): "CLOSE_WAIT",
    ("SYN_RECV", OUT, "F"): "FIN_WAIT1",
    # closing, local side first
    ("ESTABLISHED", OUT, "F"): "FIN_WAIT1",
    ("ESTABLISHED", OUT, "FA"): "FIN_WAIT1",
    ("FIN_WAIT1", IN, "AF"): "FIN_WAIT2",
    ("FIN_WAIT1", IN, "F"): "CLOSING",
    ("FIN_WAIT1", IN, "FA"): "TIME_WAIT",
    ("FIN_WAIT2", IN, "F"): "TIME_WAIT",
    ("FIN_WAIT2", IN, "FA"): "TIME_WAIT",
    ("CLOSING", IN, "AF"): "TIME_WAIT",
    # closing, remote side first
    ("ESTABLISHED", IN, "F"): "CLOSE_WAIT",
    ("ESTABLISHED", IN, "FA"): "CLOSE_WAIT",
    ("CLOSE_WAIT", OUT, "F"): "LAST_ACK",
    ("CLOSE_WAIT", OUT, "FA"): "LAST_ACK",
    ("LAST_ACK", IN, "AF"): "CLOSED",
}

#: RST closes from any state.
RESET_STATE = "CLOSED"


def next_state(state: str, direction: int, event: str) -> str:
    if event == "R":
        return RESET_STATE
    return TRANSITIONS.get((state, direction, event), state)
