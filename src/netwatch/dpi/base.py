"""The analyzer contract every application protocol implements.

Analyzers are sans-IO (python-hyper/h11's model): no sockets, threads or clocks. The
engine feeds them

* for TCP, the *reassembled, in-order* byte stream of each direction
  (``feed(Dir.CLIENT, data, ts)``), and ``gap()`` when bytes were lost;
* for UDP, one datagram payload per call.

``Dir.CLIENT`` is the direction from the connection's originator (the side that sent the
SYN, or the first datagram) to its responder, whatever local/remote orientation the table
uses. Each ``feed`` returns the immutable events the bytes completed (possibly none).

Malformed input raises :class:`netwatch.errors.MalformedError`; the engine catches it,
counts it under the analyzer's protocol and detaches the analyzer (``failed``). Once an
analyzer has learnt all it can (``finished``), e.g. the TLS handshake is over and the rest
is ciphertext, the engine detaches it and the flow is only counted from then on.

``record()`` returns the ``app.<proto>`` object of the analyze output (field names are the
output contract, documented in ``docs/schema/``); ``summary()`` the short string the UI
shows (``HTTPS (github.com)``, ``DNS A example.com``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable


class Dir(IntEnum):
    """Direction of application data relative to the connection's originator."""

    CLIENT = 0  # originator -> responder
    SERVER = 1  # responder -> originator


@dataclass(frozen=True, slots=True)
class AppEvent:
    """Base of every analyzer event. Subclasses add typed fields (all frozen)."""

    ts: float


@dataclass(frozen=True, slots=True)
class NameResolved(AppEvent):
    """A DNS-like answer tied addresses to a name (feeds passive DNS: ``remote_name``)."""

    name: str
    addresses: tuple[str, ...]
    ttl: int = 0


@dataclass(frozen=True, slots=True)
class ExpectConnection(AppEvent):
    """A connection this flow announced will follow (FTP PASV/EPSV/PORT/EPRT, SIP/SDP media).

    The tracker labels the next ``transport`` connection whose *responder* is
    ``address``:``port`` (``address`` "" = any) within ``timeout`` seconds: its
    ``app.protocol`` becomes ``protocol`` and ``app[protocol.lower()]`` the ``info`` dict,
    plus ``parent`` (the announcing row's id). ``info`` stays owned by the analyzer, which
    may fill it in later (the file name of an FTP RETR sent after the data connection
    opened); views copy it at snapshot time.
    """

    transport: str
    address: str
    port: int
    protocol: str
    info: dict[str, Any]
    timeout: float = 60.0


@runtime_checkable
class Analyzer(Protocol):
    """One analyzer instance per flow."""

    #: ``app.protocol`` value: HTTP, TLS, QUIC, DNS, SSH, ...
    protocol: str

    def feed(self, direction: Dir, data: bytes, ts: float) -> Sequence[AppEvent]:
        """Consume bytes (TCP: in-order stream bytes; UDP: one datagram)."""
        ...

    def gap(self, direction: Dir, length: int) -> None:
        """``length`` bytes of ``direction`` were lost (TCP only)."""
        ...

    @property
    def finished(self) -> bool:
        """True when nothing more can be learnt: the engine detaches the analyzer."""
        ...

    def record(self) -> dict[str, Any]:
        """The ``app.<proto>`` object (JSON-serialisable)."""
        ...

    def summary(self) -> str:
        """A short string for the UI's Application column."""
        ...

    @property
    def app_state(self) -> str | None:
        """A state shown instead of the transport state (``DNS_QUERY``, ``QUIC_CONNECTED``)."""
        ...

    @property
    def idle_timeout(self) -> float | None:
        """Seconds; overrides the row's protocol timeout (QUIC ``max_idle_timeout``)."""
        ...

    @property
    def handoff(self) -> str | None:
        """A protocol that takes over the rest of the stream (``"TLS"`` after STARTTLS), or
        ``"DETECT"``: detect the rest afresh (an HTTP CONNECT tunnel of unknown content)."""
        ...

    def skippable(self, direction: Dir) -> int:
        """TCP: how many of ``direction``'s next stream bytes need only be counted (a body
        of known length, ciphertext): the engine may pass up to that many in-order bytes
        without feeding them, and reports them later through ``skipped``. 0: feed all."""
        ...

    def skipped(self, direction: Dir, length: int) -> None:
        """``length`` bytes of ``direction`` passed uninspected (at most what ``skippable``
        allowed), reported before the next ``feed``, ``gap`` or ``record``."""
        ...

    def tunnel_bytes(self, direction: Dir) -> bytes:
        """Bytes this analyzer consumed that belong to the protocol it hands over to
        (replayed into the next analyzer, e.g. the ClientHello after an HTTP CONNECT)."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes held now in the analyzer's own buffers (a message waiting for its rest),
        both directions: the engine bounds their sum over all flows. Read after each
        ``feed``; it need only count buffers that can grow large."""
        ...


class AnalyzerBase:
    """Defaults for the optional parts of :class:`Analyzer`; subclass and override."""

    protocol: str = ""

    def gap(self, direction: Dir, length: int) -> None:
        """By default a gap ends what an analyzer can learn in that direction."""

    @property
    def app_state(self) -> str | None:
        return None

    @property
    def idle_timeout(self) -> float | None:
        return None

    @property
    def handoff(self) -> str | None:
        return None

    def skippable(self, direction: Dir) -> int:
        return 0

    def skipped(self, direction: Dir, length: int) -> None:
        """Never called while ``skippable`` is 0."""

    def tunnel_bytes(self, direction: Dir) -> bytes:
        return b""

    @property
    def buffered(self) -> int:
        return 0


class _DiscardingSide(Protocol):
    buf: bytearray
    skip: int


class DiscardsOversized(AnalyzerBase):
    """Base of analyzers that keep only the start of a message too large to hold and
    discard the rest (MySQL results, PostgreSQL rows, MQTT payloads): each direction's
    ``_sides[d].skip`` counts the bytes still to discard. Those bytes are what the engine
    may pass uninspected (``skippable``), so a bulk transfer costs no feeding."""

    _sides: Sequence[_DiscardingSide]

    def skippable(self, direction: Dir) -> int:
        side = self._sides[direction]
        return side.skip if not side.buf else 0

    def skipped(self, direction: Dir, length: int) -> None:
        side = self._sides[direction]
        side.skip -= min(length, side.skip)

    @staticmethod
    def _discard(side: _DiscardingSide, data: bytes) -> bytes:
        """``data`` without the bytes of an oversized message still to be discarded."""
        if side.skip:
            n = min(side.skip, len(data))
            side.skip -= n
            return data[n:]
        return data
