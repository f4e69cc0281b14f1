"""`settlement serve`: uvicorn runs the HTTP app; the app's lifespan runs the Kafka consumer.

On SIGTERM uvicorn stops accepting requests, then the lifespan stops the broker, which lets the
batch in hand finish and commit before the process exits (within SHUTDOWN_GRACE_SECONDS).
"""

from __future__ import annotations

import uvicorn

from settlement.bootstrap import create_app
from settlement.settings import SettlementSettings


def serve(settings: SettlementSettings) -> int:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0
