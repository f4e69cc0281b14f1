"""ledger.follower.facts_of: the followers of one process decode an event they share once."""

from __future__ import annotations

from typing import Any

import pytest
from ledger import follower
from ledger.store import RecordedEvent
from ledger_contract import T0, event


def recorded(payload: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent("P1/2025", 1, 1, event().event_id, "ClaimSettled", payload, T0, T0, "0" * 64, "1" * 64, 2)


def test_an_events_facts_are_decoded_once_per_event_object_and_afresh_for_another_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[int] = []

    def from_record(kind: str, payload: Any) -> Any:
        decoded.append(id(payload))
        return ("facts", kind, dict(payload))

    monkeypatch.setattr(follower, "from_record", from_record)
    shared = recorded({"setl_id": "S2025-1"})
    assert follower.facts_of(shared) is follower.facts_of(shared)  # the followers handed one page
    again = recorded({"setl_id": "S2025-1"})  # the same event read again (another page, an audit)
    assert follower.facts_of(again) == follower.facts_of(shared) and follower.facts_of(again) is not follower.facts_of(
        shared
    )
    assert decoded == [id(shared.data), id(again.data)]
