"""TLS: ClientHello/ServerHello parsing, certificates, JA3/JA4 fingerprints, the analyzer."""

from netwatch.dpi.tls.hello import ClientHello, ServerHello, parse_client_hello, parse_server_hello

__all__ = ["ClientHello", "ServerHello", "parse_client_hello", "parse_server_hello"]
