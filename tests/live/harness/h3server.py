"""A tiny HTTP/3 server (RFC 9114 over RFC 9000) on aioquic, run as a script by the harness.

    h3server.py --cert chain.pem --key key.pem --port 443 --host 198.18.x.2 --host fd00:...::2

Prints ``ready`` on stdout once every address is bound, then serves until SIGTERM.
``GET /`` -> ``netwatch h3 ok\\n``; ``GET /bytes/N`` -> N pattern bytes (0x00..0xff
repeated, N <= 10 MB); anything else 404. Set ``SSLKEYLOGFILE`` to log the TLS secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import TextIO

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent

ROOT_BODY = b"netwatch h3 ok\n"
MAX_BYTES = 10 * 1024 * 1024


def body_for(path: str) -> tuple[int, bytes]:
    """The (status, body) the server answers for ``path``."""
    if path == "/":
        return 200, ROOT_BODY
    if path.startswith("/bytes/") and path[7:].isdigit():
        size = int(path[7:])
        if size <= MAX_BYTES:
            return 200, (bytes(range(256)) * (size // 256 + 1))[:size]
    return 404, b"not found\n"


class H3ServerProtocol(QuicConnectionProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._h3: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            self._h3_event(self._h3, h3_event)

    def _h3_event(self, h3: H3Connection, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            headers = dict(event.headers)
            method = headers.get(b":method", b"").decode()
            path = headers.get(b":path", b"/").decode()
            status, body = body_for(path) if method in ("GET", "HEAD") else (405, b"")
            h3.send_headers(
                event.stream_id,
                [
                    (b":status", str(status).encode()),
                    (b"server", b"netwatch-h3-test"),
                    (b"content-type", b"application/octet-stream"),
                    (b"content-length", str(len(body)).encode()),
                ],
            )
            h3.send_data(event.stream_id, body if method == "GET" else b"", end_stream=True)
            self.transmit()
        elif isinstance(event, DataReceived):
            pass  # request bodies are ignored


async def main(hosts: list[str], port: int, cert: str, key: str) -> None:
    config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    config.load_cert_chain(cert, key)
    keylog: TextIO | None = None
    if os.environ.get("SSLKEYLOGFILE"):
        keylog = open(os.environ["SSLKEYLOGFILE"], "a")  # noqa: SIM115
        config.secrets_log_file = keylog
    servers = [
        await serve(h, port, configuration=config, create_protocol=H3ServerProtocol) for h in hosts
    ]
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    print("ready", flush=True)
    await stopped.wait()
    for server in servers:
        server.close()
    if keylog is not None:
        keylog.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", action="append", required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port, args.cert, args.key))
