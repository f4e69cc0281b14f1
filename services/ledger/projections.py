"""The follower projections the ledger service keeps (read models over the global log)."""

from __future__ import annotations

from ledger.follower import Projection


def all_projections() -> list[Projection]:
    """Every projection `ledger serve` follows, in the order they are caught up."""
    return []
