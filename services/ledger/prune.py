"""Retention: `ledger prune` deletes what the ledger no longer needs, through the only door.

- **Outbox**: a row is needed until the relay has published it (then consumers hold it); it is
  kept ``outbox_days`` more for operators to look at (default 7), then deleted.
- **Idempotency**: a row is what answers a hospital's retry with the original answer. It is
  kept ``idempotency_days`` (default 400, at least 366: docs/ledger.md "Retention" argues the
  horizon). A request retried after its row is gone is decided afresh and never settled twice:
  the visit is already settled (a rejection), and any event it would write has an id derived
  from its key, unique forever, so that commit is refused (EventIdConflict).
  A row whose answer is still in the outbox is kept until that message is pruned.

The deletes run inside SECURITY DEFINER functions (migration 0007) executable only by
ledger_pruner; the application role can neither call them nor delete. One batch per call and
transaction, until a batch comes back short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

DEFAULT_OUTBOX_DAYS = 7
DEFAULT_IDEMPOTENCY_DAYS = 400
MIN_IDEMPOTENCY_DAYS = 366  # the database refuses less (migration 0007)
BATCH = 5_000


@dataclass(frozen=True)
class Pruned:
    outbox: int
    idempotency: int


async def _until_short(pool: asyncpg.Pool, function: str, older_than: timedelta, batch: int) -> int:
    total = 0
    while True:
        deleted = int(await pool.fetchval(f"SELECT {function}($1, $2)", older_than, batch))
        total += deleted
        if deleted < batch:
            return total


async def prune(
    pool: asyncpg.Pool,
    *,
    outbox_days: int = DEFAULT_OUTBOX_DAYS,
    idempotency_days: int = DEFAULT_IDEMPOTENCY_DAYS,
    batch: int = BATCH,
) -> Pruned:
    """Outbox first: an idempotency row waits for its message to go."""
    outbox = await _until_short(pool, "ledger_prune_outbox", timedelta(days=outbox_days), batch)
    requests = await _until_short(pool, "ledger_prune_idempotency", timedelta(days=idempotency_days), batch)
    return Pruned(outbox, requests)
