"""`ledger serve`: uvicorn runs the HTTP app; its lifespan runs the relay and the followers."""

from __future__ import annotations

from ledger.app import create_app
from ledger.settings import LedgerSettings
from ops import serving


def serve(settings: LedgerSettings) -> int:
    return serving.serve("ledger", settings, lambda: create_app(settings))
