"""`ledger serve`: uvicorn runs the HTTP app; its lifespan runs the relay and the followers."""

from __future__ import annotations

from ledger.app import create_app
from ledger.settings import LedgerSettings
from ops.serving import run


def serve(settings: LedgerSettings) -> int:
    return run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        grace_seconds=settings.shutdown_grace_seconds,
    )
