"""`settlement serve`: uvicorn runs the HTTP app; the app's lifespan runs the Kafka consumer.

On SIGTERM uvicorn stops accepting requests, then the lifespan stops the broker, which lets the
batch in hand finish and commit before the process exits 0 (within SHUTDOWN_GRACE_SECONDS).
"""

from __future__ import annotations

from ops import serving
from settlement.bootstrap import create_app
from settlement.settings import SettlementSettings


def serve(settings: SettlementSettings) -> int:
    return serving.serve("settlement", settings, lambda: create_app(settings))
