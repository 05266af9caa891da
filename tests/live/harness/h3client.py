"""A tiny HTTP/3 client (RFC 9114) on aioquic, run as a script by ``clients.h3_get``.

    h3client.py --host 198.18.x.2 --port 443 --sni h3.nwtest.example --path / --cafile ca.pem

Writes the response body to stdout and ``status=200 alpn=h3 bytes=15`` to stderr; exits 0
only for status 200. ``--insecure`` skips certificate checks; ``SSLKEYLOGFILE`` (or
``--keylog``) logs the TLS secrets so captures of the exchange can be decrypted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
from typing import TextIO

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent


class H3ClientProtocol(QuicConnectionProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.h3 = H3Connection(self._quic)
        self.status = 0
        self.body = bytearray()
        self.done = asyncio.Event()

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self.status = int(dict(event.headers).get(b":status", b"0"))
            if event.stream_ended:
                self.done.set()
        elif isinstance(event, DataReceived):
            self.body += event.data
            if event.stream_ended:
                self.done.set()

    async def get(self, authority: str, path: str) -> None:
        stream_id = self._quic.get_next_available_stream_id()
        self.h3.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b"user-agent", b"netwatch-h3-test"),
            ],
            end_stream=True,
        )
        self.transmit()
        await self.done.wait()


async def fetch(args: argparse.Namespace, keylog: TextIO | None) -> tuple[int, bytes, str]:
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=args.sni)
    if args.insecure:
        config.verify_mode = ssl.CERT_NONE
    elif args.cafile:
        config.load_verify_locations(args.cafile)
    config.secrets_log_file = keylog
    async with connect(
        args.host, args.port, configuration=config, create_protocol=H3ClientProtocol
    ) as client:
        assert isinstance(client, H3ClientProtocol)
        await asyncio.wait_for(client.get(args.sni, args.path), timeout=args.timeout)
        alpn = client._quic.tls.alpn_negotiated or ""
        return client.status, bytes(client.body), alpn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--sni", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--keylog")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    keylog_path = args.keylog or os.environ.get("SSLKEYLOGFILE")
    keylog = open(keylog_path, "a") if keylog_path else None  # noqa: SIM115
    try:
        status, body, alpn = asyncio.run(
            asyncio.wait_for(fetch(args, keylog), timeout=args.timeout + 5)
        )
    finally:
        if keylog is not None:
            keylog.close()
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    print(f"status={status} alpn={alpn} bytes={len(body)}", file=sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
