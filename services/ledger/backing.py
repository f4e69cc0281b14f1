"""What stands behind each stored answer and each queued message (part of `ledger verify`).

The application role may INSERT into ``idempotency`` and ``outbox``: it could pre-answer a
future request (a retry would get the forged answer) or queue a forged answer for Kafka. The
settlement service writes both in the commit that decides them, by rules an auditor can check
(ADR 0002): every id derives from the request key, a request that wrote events names its
first one, and the message published is the answer stored.

An idempotency row is backed when
- its answer is a reply whose ``event_id`` is the one its key derives (``engine.ids.event_id``);
- a settlement, reversal or enrolment answer names its first event (``first_position``), that
  event exists, carries the id its key derives, and — for a settlement or reversal — records
  the answer's ``setl_id``. Only rejections are recorded without events.
An outbox row is backed when a stored answer has its ``message_id`` as ``event_id`` and the
message's bytes decode to that answer. The national gateway's answers (``national_answer``,
settlement.gateway) are stored as their exact text: the message must decode to what it decodes to.

Pruned rows are simply absent, so they are never findings: only rows that exist can be forged.
Memory is O(outbox rows) (pruned after relay) plus one page of requests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.ids import event_id as derived_event_id
from ledger.store import AuditableStore, OutboxRecord, RecordedEvent, StoredRequest

PAGE = 1_000
WITH_EVENTS = ("settlement", "reversal_result", "enrolment_accepted")  # answers that record events
WITH_SETL_ID = ("settlement", "reversal_result")
NATIONAL = "national_answer"  # stored as {"national_answer": <the answer's JSON text>, …}


@dataclass(frozen=True)
class Unbacked:
    kind: str  # "request" or "outbox"
    subject: str  # the row: "idempotency 'H1:r1'" or "outbox message <uuid>"
    reason: str  # what is missing behind it


def _quoted(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def request_problems(row: StoredRequest, first: RecordedEvent | None) -> list[str]:
    """Why this idempotency row has nothing (or the wrong thing) behind it; empty when backed.
    ``first``: the event at row.first_position, if there is one."""
    answer: Mapping[str, Any] = row.result
    msg_type, answer_id = answer.get("msg_type"), answer.get("event_id")
    if not isinstance(msg_type, str) or not isinstance(answer_id, str):
        return ["its stored answer is not a reply of this service (no msg_type or event_id)"]
    problems = []
    expected_id = str(derived_event_id(row.key, 0))
    if answer_id != expected_id:
        problems.append(f"its {msg_type} answer carries event id {answer_id}, not the one its key derives")
    if row.first_position is None:
        if msg_type in WITH_EVENTS:
            problems.append(f"it answers a {msg_type} but names no event: nothing in the log records it")
        return problems
    if first is None:
        return [*problems, f"it names position {row.first_position}, where no event is recorded"]
    if str(first.event_id) != expected_id:
        problems.append(f"its first event ({first.stream_id} v{first.version}) belongs to another request")
    setl_id = answer.get("setl_id")
    if msg_type in WITH_SETL_ID and first.data.get("setl_id") != setl_id:
        problems.append(f"it answers {msg_type} {setl_id}, which its first event does not record")
    return problems


def outbox_problem(message: OutboxRecord, answer: Mapping[str, Any] | None) -> str | None:
    """Why this queued message is not the stored answer it claims to carry; None when it is."""
    if answer is None:
        return "no stored answer has this id: nothing in the ledger decided it"
    try:
        sent = json.loads(message.value)
    except ValueError:
        return "its bytes are not JSON, so it cannot be the stored answer"
    stored = json.loads(answer[NATIONAL]) if answer.get("msg_type") == NATIONAL else answer
    if sent != stored:
        return "its bytes differ from the stored answer with this id"
    return None


async def _all_outbox(store: AuditableStore) -> dict[uuid.UUID, OutboxRecord]:
    messages: dict[uuid.UUID, OutboxRecord] = {}
    after = 0
    while page := await store.read_outbox(after, PAGE):
        messages.update((m.message_id, m) for m in page)
        after = page[-1].position
    return messages


def _outbox_subject(message: OutboxRecord) -> str:
    state = "published" if message.published_at is not None else "not yet published"
    return f"outbox message {message.message_id} (topic {message.topic}, {state})"


async def unbacked_rows(store: AuditableStore) -> list[Unbacked]:
    """Every idempotency and outbox row with nothing (or something else) behind it."""
    outbox = await _all_outbox(store)
    answers: dict[uuid.UUID, Mapping[str, Any]] = {}
    found: list[Unbacked] = []
    after: str | None = None
    while page := await store.read_requests(after, PAGE):
        firsts = await store.events_at([r.first_position for r in page if r.first_position is not None])
        for row in page:
            first = firsts.get(row.first_position) if row.first_position is not None else None
            found += [
                Unbacked("request", f"idempotency row {_quoted(row.key)}", p) for p in request_problems(row, first)
            ]
            answer_id = row.result.get("event_id")
            if isinstance(answer_id, str) and _is_uuid(answer_id) and uuid.UUID(answer_id) in outbox:
                answers[uuid.UUID(answer_id)] = row.result
        after = page[-1].key
    for message_id, message in outbox.items():
        problem = outbox_problem(message, answers.get(message_id))
        if problem is not None:
            found.append(Unbacked("outbox", _outbox_subject(message), problem))
    return found


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
