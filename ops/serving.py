"""Run an ASGI app under uvicorn the way both services want: our JSON logs, and exit 0 after a
graceful SIGTERM (uvicorn re-raises the signal once it is done, which reports a clean shutdown
as "killed by SIGTERM" to the process supervisor)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from ops.settings import CommonSettings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in wanted}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def database_unreachable(dsn: str, timeout: float = 10) -> str | None:
    """One sentence if the database cannot be reached (None if it answers), so a service that
    cannot start says why in one line instead of a traceback from inside its lifespan."""
    import asyncio
    from urllib.parse import urlsplit

    import asyncpg

    async def probe() -> None:
        connection = await asyncpg.connect(dsn, timeout=timeout)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as error:  # every way of not answering is reported the same way
        where = urlsplit(dsn)
        return f"cannot reach the database at {where.hostname}:{where.port or 5432}: {error or type(error).__name__}"
    return None


def refusal(settings: CommonSettings) -> str | None:
    """One sentence if the settings would leave the service open (None if they are safe):
    no token issuer, or Kafka in PLAINTEXT outside local mode (MEDINS_ENV=local)."""
    try:
        settings.auth_config()
    except ValueError as error:
        return str(error)
    if settings.kafka_security_protocol == "PLAINTEXT" and settings.medins_env != "local":
        return (
            "KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused outside local mode (MEDINS_ENV=local): "
            "producers would be unauthenticated; use SASL_SSL (docs/operations.md)"
        )
    return None


def run(app: Any, *, host: str, port: int, grace_seconds: float) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a graceful stop, 1 if startup failed."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the service configured logging (ops.logging)
        access_log=False,
        # The C parser and libuv's loop (for HTTP, the consumer and the pool alike): /healthz costs
        # about half the CPU per request of h11 on asyncio's loop (docs/benchmarks.md, "Counters").
        http="httptools",
        loop="uvloop",
        timeout_graceful_shutdown=max(1, int(grace_seconds)),
        lifespan="on",
    )
    server = _Server(config)
    server.run()
    return 0 if server.started else 1


def serve(
    name: str,
    settings: CommonSettings,
    create_app: Callable[[], Any],
    refuse: Callable[[], str | None] = lambda: None,
) -> int:
    """`<name> serve`: refuse in one sentence (exit 2) what cannot work or would be unsafe
    (the database first, then the common settings, then the service's own `refuse`), else
    build the app and run it until SIGTERM."""
    problem = database_unreachable(settings.database_url.get_secret_value()) or refusal(settings) or refuse()
    if problem:
        print(f"{name}: {problem}", file=sys.stderr)
        return 2
    app = create_app()
    return run(app, host=settings.http_host, port=settings.http_port, grace_seconds=settings.shutdown_grace_seconds)
