"""An answer is serialised once (replies.answer_rows): the idempotency result read back from the
published bytes must be what ``model_dump(mode="json")`` gave before, and the outbox message the
one ``outbox_message`` builds — for every kind of answer a seeded day produces."""

from __future__ import annotations

import json
from pathlib import Path

from settlement.service_layer.replies import Reply, answer_rows, outbox_message, reply_from_json

from contracts.topics import Topics

# The committed 300-person day's answers (tests/fixtures/engine-golden/README.md): settlements,
# reversals, enrolments and rejections, written by main before the speed work.
ANSWERS = Path(__file__).resolve().parents[1] / "fixtures" / "engine-golden" / "answers.jsonl"


def golden_replies() -> list[Reply]:
    lines = ANSWERS.read_text("utf-8").splitlines()
    return [reply_from_json(json.loads(line)) for line in lines if '"msg_type":"annual_totals"' not in line]


def test_every_answer_of_the_seeded_day_gives_the_same_rows_from_one_serialisation() -> None:
    topics = Topics(prefix="t")
    kinds: set[str] = set()
    for reply in golden_replies():
        result, published = answer_rows(reply, topics)
        assert result == reply.model_dump(mode="json")
        assert published == outbox_message(reply, topics)
        kinds.add(result["msg_type"])
    assert kinds == {"settlement", "reversal_result", "enrolment_accepted", "rejection"}
