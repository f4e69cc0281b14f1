"""A visit as the fold of its stream: what was registered, which fee lines are in force, which
settlement is open. Pure; asserts the stream's rules after every event (a broken one is a bug:
the gateway checks each request against the state before it writes anything)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from engine.errors import InvariantBroken
from engine.visit_events import (
    FeeLine,
    FeesUploaded,
    FeesWithdrawn,
    VisitCancelled,
    VisitDiagnosis,
    VisitDischarged,
    VisitEvent,
    VisitInfoRecorded,
    VisitRegistered,
    VisitSettled,
    VisitSettlementReversed,
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class SettlementRef:
    """A settlement of the visit as its stream knows it; the money is in the person-year stream."""

    setl_id: str
    psn_no: str
    year: int
    feedetl_sns: tuple[str, ...]
    medfee_sumamt: int
    reversed_by: str | None = None


@dataclass(frozen=True)
class VisitState:
    mdtrt_id: str
    registered: VisitRegistered | None = None
    med_type: str | None = None
    diagnoses: tuple[VisitDiagnosis, ...] = ()
    dise_codg: str | None = None
    lines: Mapping[str, FeeLine] = field(default_factory=lambda: _EMPTY)  # uploaded, not withdrawn
    settled_lines: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # feedetl_sn → setl_id in force
    settlements: Mapping[str, SettlementRef] = field(default_factory=lambda: _EMPTY)
    open_setl_id: str | None = None  # the settlement in force (one per visit)
    discharged: VisitDischarged | None = None
    cancelled: bool = False
    version: int = 0  # events folded so far

    @property
    def ids_issued(self) -> int:
        """Settlement ids this visit has used (settlements and reversals): the next one's number."""
        return len(self.settlements) + sum(1 for s in self.settlements.values() if s.reversed_by is not None)

    def open_lines(self, chrg_bchno: str | None = None) -> tuple[FeeLine, ...]:
        """Lines in force and not settled, in upload order; of one batch if ``chrg_bchno`` is given."""
        return tuple(
            line
            for sn, line in self.lines.items()
            if sn not in self.settled_lines and (chrg_bchno is None or line.chrg_bchno == chrg_bchno)
        )


def _with(mapping: Mapping[str, Any], items: Iterable[tuple[str, Any]]) -> Mapping[str, Any]:
    return MappingProxyType({**mapping, **dict(items)})


def _without(mapping: Mapping[str, Any], keys: Iterable[str]) -> Mapping[str, Any]:
    drop = set(keys)
    return MappingProxyType({k: v for k, v in mapping.items() if k not in drop})


def _require(condition: bool, state: VisitState, why: str) -> None:
    if not condition:
        raise InvariantBroken(f"visit {state.mdtrt_id}: {why}")


def _uploaded(state: VisitState, event: FeesUploaded) -> VisitState:
    serials = [line.feedetl_sn for line in event.lines]
    _require(len(set(serials)) == len(serials), state, "one upload names a line twice")
    for sn in serials:
        _require(sn not in state.lines and sn not in state.settled_lines, state, f"line {sn} uploaded twice")
    return replace(state, lines=_with(state.lines, ((line.feedetl_sn, line) for line in event.lines)))


def _withdrawn(state: VisitState, event: FeesWithdrawn) -> VisitState:
    for sn in event.feedetl_sns:
        _require(sn in state.lines and sn not in state.settled_lines, state, f"line {sn} is not open")
    return replace(state, lines=_without(state.lines, event.feedetl_sns))


def _settled(state: VisitState, event: VisitSettled) -> VisitState:
    _require(state.open_setl_id is None, state, f"settled again while {state.open_setl_id} is in force")
    _require(event.setl_id not in state.settlements, state, f"settlement id {event.setl_id} used twice")
    for sn in event.feedetl_sns:
        _require(sn in state.lines and sn not in state.settled_lines, state, f"settles line {sn}, not open")
    settled = sum(state.lines[sn].det_item_fee_sumamt for sn in event.feedetl_sns)
    _require(settled == event.medfee_sumamt, state, f"settles {event.medfee_sumamt} fen of lines worth {settled}")
    ref = SettlementRef(event.setl_id, event.psn_no, event.year, event.feedetl_sns, event.medfee_sumamt)
    return replace(
        state,
        med_type=event.med_type,
        settled_lines=_with(state.settled_lines, ((sn, event.setl_id) for sn in event.feedetl_sns)),
        settlements=_with(state.settlements, [(event.setl_id, ref)]),
        open_setl_id=event.setl_id,
    )


def _reversed(state: VisitState, event: VisitSettlementReversed) -> VisitState:
    original = state.settlements.get(event.reversed_setl_id)
    _require(original is not None and state.open_setl_id == event.reversed_setl_id, state, "reverses no open one")
    assert original is not None
    return replace(
        state,
        settled_lines=_without(state.settled_lines, original.feedetl_sns),
        settlements=_with(state.settlements, [(original.setl_id, replace(original, reversed_by=event.setl_id))]),
        open_setl_id=None,
    )


def _step(state: VisitState, event: VisitEvent) -> VisitState:
    if isinstance(event, VisitRegistered):
        _require(state.registered is None and event.mdtrt_id == state.mdtrt_id, state, "registered twice")
        return replace(state, registered=event, med_type=event.med_type, diagnoses=event.diagnoses)
    _require(state.registered is not None and not state.cancelled, state, f"{type(event).__name__} out of turn")
    if isinstance(event, VisitInfoRecorded):
        return replace(state, med_type=event.med_type, diagnoses=event.diagnoses, dise_codg=event.dise_codg)
    if isinstance(event, FeesUploaded):
        return _uploaded(state, event)
    if isinstance(event, FeesWithdrawn):
        return _withdrawn(state, event)
    if isinstance(event, VisitDischarged):
        return replace(state, discharged=event, diagnoses=event.diagnoses or state.diagnoses)
    if isinstance(event, VisitSettled):
        return _settled(state, event)
    if isinstance(event, VisitSettlementReversed):
        return _reversed(state, event)
    if isinstance(event, VisitCancelled):
        _require(state.open_setl_id is None, state, "cancelled with a settlement in force")
        return replace(state, cancelled=True, lines=_EMPTY)
    raise InvariantBroken(f"unknown visit event {event!r}")  # pragma: no cover - the union is closed


def apply_visit(state: VisitState, event: VisitEvent) -> VisitState:
    return replace(_step(state, event), version=state.version + 1)


def replay_visit(mdtrt_id: str, events: Iterable[VisitEvent]) -> VisitState:
    state = VisitState(mdtrt_id)
    for event in events:
        state = apply_visit(state, event)
    return state
