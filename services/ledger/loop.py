"""The one loop the ledger service's background work runs in: the outbox relay and every follower.

A step does one batch and says how many items it handled. The loop runs it again at once while
batches come back full, waits (the interval, or ``idle``: e.g. until a commit wakes the relay)
once it is caught up, and after a failure waits a backoff that doubles from FIRST_RETRY_S up to
MAX_BACKOFF_S. The backoff does not grow from the poll interval: a relay that polls every 30 s
because commits wake it must still retry within a second after a database blip.
A database or Kafka outage is logged and counted; it never ends the loop, only ``stop`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)
FIRST_RETRY_S = 0.1
MAX_BACKOFF_S = 30.0


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def backoff_s(failures: int) -> float:
    """The wait after the n-th failure in a row (n >= 1): 0.2 s, 0.4 s, … capped at 30 s."""
    return min(MAX_BACKOFF_S, FIRST_RETRY_S * 2.0**failures)


async def run_until_stopped(
    name: str,
    step: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    *,
    interval_s: float,
    full: int,
    on_failure: Callable[[], None] = lambda: None,
    idle: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``step`` until ``stop`` is set (``full``: the batch size, a batch that full means more
    is waiting)."""
    failures = 0
    while not stop.is_set():
        try:
            done = await step()
            failures = 0
        except Exception as error:  # an outage must not end the loop
            failures += 1
            on_failure()
            delay = backoff_s(failures)
            log.warning(f"{name}_failed", error=f"{type(error).__name__}: {error}", retry_in_s=round(delay, 2))
            await sleep_or_stop(stop, delay)
            continue
        if done < full:
            await (idle() if idle is not None else sleep_or_stop(stop, interval_s))
