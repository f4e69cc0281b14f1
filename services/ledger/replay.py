"""`ledger replay` as a function: a person's year rebuilt from its events, next to the stored
inline projection, with the fields where they differ. Used by the CLI and the HTTP service."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from engine.errors import UnknownPolicy
from engine.person import PersonYear
from engine.policy_book import PolicyBook
from engine.snapshot import from_json, to_json, upcast
from engine.views import annual_totals
from ledger.domain import fold_records
from ledger.store import LedgerStore


def totals_view(state: PersonYear, policies: PolicyBook | None) -> dict[str, Any]:
    """The annual-totals view (what is paid, what is left); caps left need the policy."""
    policy = None
    if policies is not None and state.enrolment is not None:
        enrolment = state.enrolment
        try:
            policy = policies.in_force(enrolment.insuplc_admdvs, enrolment.insutype, date(state.year, 12, 31)).policy
        except UnknownPolicy:
            policy = None
    return annual_totals(state, policy).model_dump(mode="json")


def differences(replayed: dict[str, Any], stored: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Top-level fields of the person-year state where the projection and the replay disagree."""
    if stored is None:
        return [{"field": "*", "replayed": "present", "projection": None}]
    names = sorted(set(replayed) | set(stored))
    return [
        {"field": n, "replayed": replayed.get(n), "projection": stored.get(n)}
        for n in names
        if replayed.get(n) != stored.get(n)
    ]


async def replay_report(
    store: LedgerStore, psn_no: str, year: int, *, as_of: datetime | None = None, policies: PolicyBook | None = None
) -> dict[str, Any] | None:
    """None when the ledger holds nothing for the person-year (as of that time). The stream and
    the stored totals are read at once (two statements in flight, one round trip's wait)."""
    stream_id = f"{psn_no}/{year}"
    events, (_, snapshot) = await asyncio.gather(
        store.read_stream(stream_id, as_of=as_of), store.read_projection(stream_id)
    )
    rebuilt = fold_records(stream_id, [(e.event_type, e.data) for e in events])
    replayed = to_json(rebuilt)
    if as_of is None and snapshot is not None and upcast(snapshot) == replayed:
        # The stored totals are the replay's, value for value: reading them back into a PersonYear
        # (from_json) and out again gives the same figures, so their view is the replay's and no
        # field differs. Only a differing projection is decoded and compared field by field.
        view = totals_view(rebuilt, policies)
        return {"psn_no": psn_no, "year": year, "as_of": None, "replayed": view, "projection": view, "differences": []}
    stored = from_json(dict(snapshot)) if snapshot is not None else None
    if rebuilt.enrolment is None and not rebuilt.settlements and (stored is None or as_of is not None):
        return None
    # The projection is the year now: set against an earlier replay it would differ by design.
    differ = None if as_of is not None else differences(replayed, None if stored is None else to_json(stored))
    return {
        "psn_no": psn_no,
        "year": year,
        "as_of": as_of.isoformat() if as_of else None,
        "replayed": totals_view(rebuilt, policies),
        "projection": totals_view(stored, policies) if stored is not None else None,
        "differences": differ,
    }
