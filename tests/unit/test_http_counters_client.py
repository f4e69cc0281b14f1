"""The counters benchmark's client is open loop: a request is timed from when it was due, so a
slow answer that holds up the requests behind it shows in their latency too (no coordinated
omission). Checked against a local server whose first answer takes 300 ms, with one connection."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from http_counters import Load, Pool, Request, http_request, offer

SLOW_S = 0.3


async def slow_first_server() -> asyncio.Server:
    """HTTP/1.1 keep-alive; the first answer waits SLOW_S, every later one is immediate."""
    answered = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                answered += 1
                if answered == 1:
                    await asyncio.sleep(SLOW_S)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):  # the client closed its connection
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def latencies(rate: int, count: int) -> Load:
    server = await slow_first_server()
    port = server.sockets[0].getsockname()[1]
    pool, load = Pool(port, limit=1), Load("probe", rate)
    try:
        await offer(pool, [Request(http_request("GET", "/", {}), 200)] * count, rate, load)
    finally:
        pool.close()
        server.close()
    return load


def test_requests_queued_behind_a_slow_answer_are_timed_from_when_they_were_due() -> None:
    # 10 requests at 100/s are due at 0, 10, …, 90 ms; the first answer comes at ~300 ms, and the
    # one connection serves the rest only then. So request k (due at 10·k ms) is answered at
    # ~300 ms or later: its latency is at least 300 − 10·k ms, i.e. ≥ 210 ms even for the last.
    load = asyncio.run(latencies(rate=100, count=10))
    assert load.statuses == {200: 10} and load.unexpected == 0
    assert len(load.latencies_ms) == 10
    assert min(load.latencies_ms) >= 1000 * SLOW_S - 90 - 5  # 5 ms for the clock's grain
    assert load.seconds >= SLOW_S
