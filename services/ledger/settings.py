"""Settings of the ledger service (environment variables, see ops.settings)."""

from __future__ import annotations

from pydantic import Field

from ops.settings import CommonSettings


class LedgerSettings(CommonSettings):
    ledger_outbox_batch: int = Field(default=500, ge=1, le=10_000)
    ledger_relay_interval_ms: int = Field(default=100, ge=10, le=60_000)
    ledger_projection_interval_ms: int = Field(default=200, ge=10, le=60_000)
    ledger_policies_dir: str | None = Field(default=None, description="Policy folder, needed only by the reprice audit")
