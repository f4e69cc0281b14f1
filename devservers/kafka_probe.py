"""Is a Kafka broker really answering? One Metadata request over a plain socket.

An open port is not enough (the socket server accepts before the broker has caught up with
the metadata log). A Metadata response listing at least one broker and a controller means
clients can work. Metadata v4 is used because it is non-flexible (simple to encode) and still
supported by Kafka 4.x, which dropped v0-v3 (KIP-896). Synchronous on purpose: callable from
the CLI and from pytest fixtures without an event loop.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_METADATA = 3
_VERSION = 4
_CLIENT_ID = b"devservers-probe"


@dataclass(frozen=True)
class ClusterInfo:
    brokers: tuple[tuple[int, str, int], ...]  # (node id, host, port)
    cluster_id: str | None
    controller_id: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.at : self.at + length].decode()
        self.at += length
        return value


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def metadata(host: str, port: int, timeout: float = 2.0) -> ClusterInfo:
    """Raises OSError/ConnectionError/struct.error when the broker does not answer properly."""
    correlation_id = 1
    header = struct.pack(">hhih", _METADATA, _VERSION, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    body = struct.pack(">i?", 0, False)  # no topics (empty, not null = all), no auto-creation
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        reader = _Reader(_recv_exactly(sock, size))
    if reader.take(">i") != correlation_id:
        raise ConnectionError("unexpected correlation id in the Metadata response")
    reader.take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(reader.take(">i")):
        node_id = reader.take(">i")
        broker_host = reader.string() or ""
        broker_port = reader.take(">i")
        reader.string()  # rack
        brokers.append((node_id, broker_host, broker_port))
    cluster_id = reader.string()
    return ClusterInfo(tuple(brokers), cluster_id, reader.take(">i"))


def is_ready(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        info = metadata(host, port, timeout)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return False
    return bool(info.brokers) and info.controller_id >= 0
