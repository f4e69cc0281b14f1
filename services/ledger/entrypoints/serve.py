"""`ledger serve`: uvicorn runs the HTTP app; its lifespan runs the relay and the followers."""

from __future__ import annotations

import sys

from ledger.app import create_app
from ledger.settings import LedgerSettings
from ops.serving import database_unreachable, run


def serve(settings: LedgerSettings) -> int:
    problem = database_unreachable(settings.database_url.get_secret_value())
    if problem:
        print(f"ledger: {problem}", file=sys.stderr)
        return 2
    return run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        grace_seconds=settings.shutdown_grace_seconds,
    )
