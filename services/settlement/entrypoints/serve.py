"""`settlement serve`: uvicorn runs the HTTP app; the app's lifespan runs the Kafka consumer.

On SIGTERM uvicorn stops accepting requests, then the lifespan stops the broker, which lets the
batch in hand finish and commit before the process exits 0 (within SHUTDOWN_GRACE_SECONDS).
"""

from __future__ import annotations

import sys

from ops.serving import database_unreachable, run
from settlement.bootstrap import create_app
from settlement.settings import SettlementSettings


def serve(settings: SettlementSettings) -> int:
    problem = database_unreachable(settings.database_url.get_secret_value())
    if problem:
        print(f"settlement: {problem}", file=sys.stderr)
        return 2
    return run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        grace_seconds=settings.shutdown_grace_seconds,
    )
