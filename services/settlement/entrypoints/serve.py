"""`settlement serve`: uvicorn runs the HTTP app; the app's lifespan runs the Kafka consumer.

On SIGTERM uvicorn stops accepting requests, then the lifespan stops the broker, which lets the
batch in hand finish and commit before the process exits 0 (within SHUTDOWN_GRACE_SECONDS).
"""

from __future__ import annotations

from ops import serving
from settlement.bootstrap import create_app
from settlement.senders import RegistryError, load_registry
from settlement.settings import SettlementSettings


def serve(settings: SettlementSettings) -> int:
    refuse = lambda: _unbound(settings) or _bad_registry(settings)  # noqa: E731
    return serving.serve("settlement", settings, lambda: create_app(settings), refuse)


def _unbound(settings: SettlementSettings) -> str | None:
    """Outside local mode, producers must be bound to the institutions they speak for."""
    if settings.settlement_principals_file or settings.medins_env == "local":
        return None
    return "SETTLEMENT_PRINCIPALS_FILE is required outside local mode: any producer could speak for any institution"


def _bad_registry(settings: SettlementSettings) -> str | None:
    if not settings.settlement_principals_file:
        return None
    try:
        load_registry(settings.settlement_principals_file)
    except RegistryError as error:
        return str(error)
    return None
