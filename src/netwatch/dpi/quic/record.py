"""The ``app.quic`` record: every key, always present (``docs/schema/app/quic.schema.json``).

IETF QUIC and Google QUIC flows share one shape; what a flow never showed is null, an
empty list or false, so consumers (exports, filters, the UI) never test for a key.
"""

from __future__ import annotations

from typing import Any


def blank_record() -> dict[str, Any]:
    """A record with every key at its "not seen" value."""
    return {
        "version": None,  # v1, v2, draft-29, Q050, else 0x........ (the negotiated one)
        "client_version": None,  # the client's first version when the server moved it
        "gquic": False,
        "sni": None,
        "alpn_offered": [],
        "user_agent": None,  # gQUIC UAID tag
        "ja4": None,
        "ja3": None,
        "dcid": None,  # the client's original Destination Connection ID, hex
        "scid": None,  # the client's Source Connection ID, hex
        "server_scid": None,
        "state": None,
        "close_error": None,
        "retry": False,
        "hello_retry": False,
        "version_negotiation": [],
        "tls_cipher": None,
        "idle_timeout_ms": None,
        "transport_parameters_error": None,
    }
