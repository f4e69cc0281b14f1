"""The global log as clearing entries (engine.clearing.entries): the one fold both the casemix
follower and its audit use, so what verify recomputes is what the follower wrote."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.clearing.entries import Entry, reversal_entry, settlement_entry
from engine.events import ClaimSettled, SettlementReversed
from ledger.follower import facts_of
from ledger.store import RecordedEvent

COUNTED = ("ClaimSettled", "SettlementReversed")


class EntryFold:
    """Entries in log order; ``known``: settlements recorded before this fold began, by setl_id
    (the follower loads them for reversals of earlier batches)."""

    def __init__(self, known: Mapping[str, Entry] | None = None) -> None:
        self.entries: list[Entry] = []
        self._settled: dict[str, Entry] = dict(known or {})

    def apply(self, event: RecordedEvent) -> Entry | None:
        if event.event_type not in COUNTED:
            return None
        facts = facts_of(event)
        if isinstance(facts, ClaimSettled):
            entry = settlement_entry(facts, event.position, event.occurred_at)
            self._settled[entry.setl_id] = entry
        elif isinstance(facts, SettlementReversed):
            original = self._settled.get(facts.reversed_setl_id)
            if original is None:
                raise LookupError(f"reversal of {facts.reversed_setl_id}, which clearing never saw settled")
            entry = reversal_entry(original, facts.setl_id, event.position, event.occurred_at)
        else:  # pragma: no cover - COUNTED names only these two
            return None
        self.entries.append(entry)
        return entry


def reversed_ids(events: Iterable[RecordedEvent]) -> list[str]:
    found = []
    for event in events:
        if event.event_type == "SettlementReversed":
            facts = facts_of(event)
            assert isinstance(facts, SettlementReversed)
            found.append(facts.reversed_setl_id)
    return found
