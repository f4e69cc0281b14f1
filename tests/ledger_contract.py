"""The one contract every ledger store obeys; each store's test module subclasses LedgerContract.

A subclass provides the ``store`` fixture (an empty store) and ``tamper`` (edit a recorded
event's data behind the store's back, as an attacker with raw access would).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from ledger.audit import verify_chains
from ledger.errors import (
    BatchRefused,
    DuplicateRequest,
    EventIdConflict,
    IdempotencyConflict,
    MissingProjection,
    WrongExpectedVersion,
)
from ledger.hashing import GENESIS, HASH_V1, HASH_V2, event_hash, jsonb_text, recompute_hash
from ledger.migrate import migrate
from ledger.prepare import ForgedEvent
from ledger.store import (
    MAX_EVENTS_PER_BATCH,
    MAX_REQUESTS_PER_BATCH,
    CommitRequest,
    IdempotentRequest,
    LedgerStore,
    NewEvent,
    OutboxMessage,
    RecordedEvent,
    StreamAppend,
)

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def event(kind: str = "ClaimSettled", n: int = 0, **data: Any) -> NewEvent:
    return NewEvent(uuid.uuid4(), kind, {"n": n, **data}, T0 + timedelta(minutes=n))


def append(stream: str, expected: int, count: int = 1, projection: dict[str, Any] | None = None) -> StreamAppend:
    return StreamAppend(stream, expected, [event(n=i) for i in range(count)], projection)


def request(key: str, body: str = "body-a", result: str = "ok") -> IdempotentRequest:
    return IdempotentRequest(key, body, {"answer": result, "fen": 12345})


async def everything(store: LedgerStore) -> list[Any]:
    return await store.read_all(0, 10_000)


# What the database answers when a raw INSERT does not prove itself: the trigger's exception in
# PostgreSQL, ForgedEvent in memory; the message says which rule (the same words in both).
REFUSED = (ForgedEvent, asyncpg.RaiseError)


def next_event(head: RecordedEvent | None, stream_id: str, data: dict[str, Any], alg: int = HASH_V2) -> RecordedEvent:
    """The event a writer would append after ``head``, hashed correctly with algorithm ``alg``."""
    version, prev = (head.version + 1, head.hash) if head else (1, GENESIS)
    fields = {"stream_id": stream_id, "version": version, "event_id": uuid.uuid4(), "event_type": "AccountCredited",
              "data": data, "occurred_at": T0}  # fmt: skip
    digest = recompute_hash(alg, prev, **fields)  # type: ignore[arg-type]
    return RecordedEvent(position=0, recorded_at=T0, prev_hash=prev, hash=digest, hash_alg=alg, **fields)  # type: ignore[arg-type]


@asynccontextmanager
async def migrated_pool(dsn: str, *, role: str | None = None, size: int = 4) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a migrated database; with ``role``, every connection runs SET ROLE to it."""
    await migrate(dsn)

    async def as_role(connection: asyncpg.Connection) -> None:
        if role is not None:
            await connection.execute(f"SET ROLE {role}")

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=as_role)
    try:
        yield pool
    finally:
        await pool.close()


class LedgerContract:
    @pytest.fixture
    def store(self) -> LedgerStore:
        raise NotImplementedError

    async def tamper(self, store: LedgerStore, stream_id: str, version: int, data: dict[str, Any]) -> None:
        raise NotImplementedError

    async def insert_raw(self, store: LedgerStore, row: RecordedEvent) -> None:
        """Offer ``row`` with its own link and hash, as the application role's INSERT could."""
        raise NotImplementedError

    async def test_a_raw_event_whose_hash_describes_its_content_is_accepted_and_verifies(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        head = (await store.read_stream("P1/2025"))[-1]
        await self.insert_raw(store, next_event(head, "P1/2025", {"month": 3, "amount": 100}))
        assert [e.version for e in await store.read_stream("P1/2025")] == [1, 2, 3]
        assert await verify_chains(store) == []

    async def test_a_raw_event_with_a_valid_link_and_a_forged_hash_is_refused(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        head = (await store.read_stream("P1/2025"))[-1]
        honest = next_event(head, "P1/2025", {"month": 3, "amount": 100})
        forged = replace(honest, data={"month": 3, "amount": 100_000_000})  # 1,000,000 yuan credited
        with pytest.raises(REFUSED, match="its hash does not match its content"):
            await self.insert_raw(store, forged)
        assert len(await store.read_stream("P1/2025")) == 2

    async def test_a_raw_event_hashed_with_the_old_algorithm_is_refused(self, store) -> None:
        """A v1 hash is one the writer can compute itself and the database cannot check."""
        await store.commit([append("P1/2025", 0, 1)])
        head = (await store.read_stream("P1/2025"))[-1]
        v1 = next_event(head, "P1/2025", {"month": 3, "amount": 100_000_000}, alg=HASH_V1)
        with pytest.raises(REFUSED, match="names hash algorithm 1; new events must use 2"):
            await self.insert_raw(store, v1)
        v1_labelled_v2 = replace(v1, hash_alg=HASH_V2)
        with pytest.raises(REFUSED, match="its hash does not match its content"):
            await self.insert_raw(store, v1_labelled_v2)
        assert len(await store.read_stream("P1/2025")) == 1

    async def test_a_raw_event_that_does_not_link_to_the_head_is_refused(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        first = (await store.read_stream("P1/2025"))[0]
        fork = next_event(first, "P1/2025", {"month": 3, "amount": 1})  # a second version 2
        with pytest.raises((*REFUSED, asyncpg.UniqueViolationError)):  # PostgreSQL: the unique index
            await self.insert_raw(store, fork)
        relinked = next_event(None, "P1/2025", {"month": 3, "amount": 1})
        relinked = replace(relinked, version=3)  # version 3 claiming the genesis link
        with pytest.raises(REFUSED, match="does not follow version 2's hash"):
            await self.insert_raw(store, relinked)
        assert len(await store.read_stream("P1/2025")) == 2

    async def test_new_events_are_hashed_with_v2_over_what_is_read_back(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        for e in await store.read_stream("P1/2025"):
            fields = {"stream_id": e.stream_id, "version": e.version, "event_id": e.event_id,
                      "event_type": e.event_type, "data": e.data, "occurred_at": e.occurred_at}  # fmt: skip
            assert e.hash_alg == HASH_V2 and e.hash == recompute_hash(HASH_V2, e.prev_hash, **fields)  # type: ignore[arg-type]
            assert e.hash != event_hash(e.prev_hash, **fields)  # type: ignore[arg-type]

    async def test_appended_events_read_back_in_version_order_with_their_data(self, store: LedgerStore) -> None:
        sent = [event(n=1, fen=100, name="张三", tags=["a", None, True]), event("AccountDebited", n=2)]
        await store.commit([StreamAppend("P1/2025", 0, sent)])
        read = await store.read_stream("P1/2025")
        assert [(e.version, e.event_id, e.event_type, e.data, e.occurred_at) for e in read] == [
            (i + 1, s.event_id, s.event_type, s.data, s.occurred_at) for i, s in enumerate(sent)
        ]
        assert read[0].prev_hash == GENESIS and read[1].prev_hash == read[0].hash
        assert read[0].position < read[1].position
        assert all(e.stream_id == "P1/2025" and e.recorded_at.tzinfo is not None for e in read)

    async def test_the_receipt_names_each_events_position_and_each_streams_new_version(self, store) -> None:
        await store.commit([append("A/2025", 0, 2)])
        receipt = await store.commit([append("A/2025", 2, 1), append("B/2025", 0, 3)])
        assert receipt.stream_versions == {"A/2025": 3, "B/2025": 3}
        logged = await everything(store)
        assert list(receipt.positions) == [e.position for e in logged[2:]]

    async def test_an_append_expecting_a_stale_version_is_refused_and_writes_nothing(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        with pytest.raises(WrongExpectedVersion) as refused:
            await store.commit([append("P1/2025", 1)])
        assert (refused.value.stream_id, refused.value.expected, refused.value.actual) == ("P1/2025", 1, 2)
        assert len(await store.read_stream("P1/2025")) == 2

    async def test_the_first_append_to_a_stream_must_expect_version_zero(self, store) -> None:
        with pytest.raises(WrongExpectedVersion) as refused:
            await store.commit([append("P1/2025", 1)])
        assert refused.value.actual == 0
        assert await store.read_stream("P1/2025") == []

    async def test_one_conflicting_stream_leaves_every_stream_and_the_request_untouched(self, store) -> None:
        await store.commit([append("payer/2025", 0, 1, {"balance": 500})])
        family = [append("patient/2025", 0, 2, {"paid": 1}), append("payer/2025", 0, 1, {"balance": 0})]
        with pytest.raises(WrongExpectedVersion):
            await store.commit(family, request=request("H1:r1"))
        assert await store.read_stream("patient/2025") == []
        assert await store.read_projection("payer/2025") == (1, {"balance": 500})
        assert await store.find_request("H1:r1") is None
        assert len(await everything(store)) == 1

    async def test_a_commit_appends_to_two_streams_at_once(self, store) -> None:
        family = [append("patient/2025", 0, 2, {"paid": 1}), append("payer/2025", 0, 1, {"balance": 0})]
        await store.commit(family, request=request("H1:r1"))
        assert [len(await store.read_stream(s)) for s in ("patient/2025", "payer/2025")] == [2, 1]

    async def test_a_retry_with_the_same_body_gets_the_stored_result_and_writes_nothing(self, store) -> None:
        first = await store.commit([append("P1/2025", 0, 2)], request=request("H1:r1", result="settled"))
        with pytest.raises(DuplicateRequest) as retried:
            await store.commit([append("P1/2025", 2, 2)], request=request("H1:r1", result="again"))
        stored = retried.value.stored
        assert (stored.key, stored.body_hash) == ("H1:r1", "body-a")
        assert stored.result == {"answer": "settled", "fen": 12345}
        assert stored.first_position == first.positions[0]
        assert len(await everything(store)) == 2

    async def test_a_retry_is_answered_from_the_store_even_after_the_stream_moved_on(self, store) -> None:
        await store.commit([append("P1/2025", 0)], request=request("H1:r1"))
        await store.commit([append("P1/2025", 1)], request=request("H1:r2"))
        with pytest.raises(DuplicateRequest):
            await store.commit([append("P1/2025", 0)], request=request("H1:r1"))

    async def test_the_same_key_with_another_body_is_an_idempotency_conflict(self, store) -> None:
        await store.commit([append("P1/2025", 0)], request=request("H1:r1", body="body-a"))
        with pytest.raises(IdempotencyConflict) as refused:
            await store.commit([append("P1/2025", 1)], request=request("H1:r1", body="body-b"))
        assert refused.value.key == "H1:r1"
        assert len(await store.read_stream("P1/2025")) == 1

    async def test_a_request_that_wrote_no_events_is_still_recorded(self, store) -> None:
        await store.commit([], request=request("raw:abc", result="rejected"))
        stored = await store.find_request("raw:abc")
        assert stored is not None and stored.first_position is None and stored.result["answer"] == "rejected"
        assert await store.find_request("raw:unknown") is None

    async def test_the_projection_is_read_with_the_version_it_reflects(self, store) -> None:
        assert await store.read_projection("P1/2025") == (0, None)
        await store.commit([append("P1/2025", 0, 2, {"deductible_used": 80000})])
        assert await store.read_projection("P1/2025") == (2, {"deductible_used": 80000})
        await store.commit([append("P1/2025", 2, 1, {"deductible_used": 90000, "visits": [1, 2]})])
        assert await store.read_projection("P1/2025") == (3, {"deductible_used": 90000, "visits": [1, 2]})

    async def test_a_stream_without_projection_reports_its_version_and_no_totals(self, store) -> None:
        await store.commit([append("P1/2025", 0, 3)])
        assert await store.read_projection("P1/2025") == (3, None)

    async def test_an_append_without_projection_to_a_projected_stream_is_refused(self, store) -> None:
        await store.commit([append("P1/2025", 0, 1, {"paid": 1})])
        with pytest.raises(MissingProjection):
            await store.commit([append("P1/2025", 1)])
        assert await store.read_projection("P1/2025") == (1, {"paid": 1})

    async def test_read_all_returns_every_event_once_in_position_order_across_pages(self, store) -> None:
        for i in range(4):
            await store.commit([append(f"P{i}/2025", 0, 2), append(f"Q{i}/2025", 0, 1)])
        pages, after = [], 0
        while page := await store.read_all(after, 4):
            assert len(page) <= 4
            pages += page
            after = page[-1].position
        assert pages == await everything(store)
        assert len({e.event_id for e in pages}) == len(pages) == 12
        assert all(a.position < b.position for a, b in itertools.pairwise(pages))
        assert await store.read_all(after, 4) == []

    async def test_as_of_returns_only_what_was_recorded_by_then(self, store) -> None:
        await store.commit([append("P1/2025", 0, 2)])
        first = await store.read_stream("P1/2025")
        await asyncio.sleep(0.002)
        await store.commit([append("P1/2025", 2, 1)])
        assert await store.read_stream("P1/2025", as_of=first[-1].recorded_at) == first
        assert await store.read_stream("P1/2025", as_of=first[0].recorded_at - timedelta(seconds=1)) == []
        assert len(await store.read_stream("P1/2025", as_of=datetime.now(UTC) + timedelta(days=1))) == 3

    async def test_list_streams_is_sorted_and_filtered_by_prefix(self, store) -> None:
        await store.commit([append(s, 0) for s in ("b/2025", "a/2024", "a/2025", "a_/2025", "ab/2025")])
        assert await store.list_streams() == ["a/2024", "a/2025", "a_/2025", "ab/2025", "b/2025"]
        assert await store.list_streams("a/") == ["a/2024", "a/2025"]
        assert await store.list_streams("a_") == ["a_/2025"]
        assert await store.list_streams("zz") == []

    async def test_untouched_hash_chains_verify(self, store) -> None:
        await store.commit([append("P1/2025", 0, 3), append("P2/2025", 0, 1)])
        await store.commit([append("P1/2025", 3, 2)])
        assert await verify_chains(store) == []

    async def test_an_edited_event_breaks_its_chain_and_is_named(self, store) -> None:
        await store.commit([append("P1/2025", 0, 3), append("P2/2025", 0, 2)])
        await self.tamper(store, "P1/2025", 2, {"n": 1, "fen": 1})
        breaks = await verify_chains(store)
        assert [(b.stream_id, b.version) for b in breaks] == [("P1/2025", 2)]

    async def test_an_event_id_may_be_recorded_only_once(self, store) -> None:
        reused = event(n=1)
        await store.commit([StreamAppend("P1/2025", 0, [reused])])
        with pytest.raises(EventIdConflict) as refused:
            await store.commit([StreamAppend("P2/2025", 0, [reused])])
        assert refused.value.ident == reused.event_id
        assert await store.read_stream("P2/2025") == []

    async def test_an_outbox_message_id_may_be_recorded_only_once(self, store) -> None:
        message = OutboxMessage(uuid.uuid4(), "settlements.v1", "P1", b"{}", {"msg_type": "settlement"})
        await store.commit([], request=request("k1"), outbox=[message])
        with pytest.raises(EventIdConflict):
            await store.commit([append("P1/2025", 0)], request=request("k2"), outbox=[message])
        assert await store.find_request("k2") is None and await store.read_stream("P1/2025") == []

    async def test_what_was_recorded_cannot_be_changed_through_the_dicts_given_or_returned(self, store) -> None:
        data: dict[str, Any] = {"items": [1, 2]}
        await store.commit([StreamAppend("P1/2025", 0, [NewEvent(uuid.uuid4(), "X", data, T0)], {"t": [1]})])
        data["items"].append(3)
        (read,) = await store.read_stream("P1/2025")
        read.data["items"].append(4)  # type: ignore[index]
        assert (await store.read_stream("P1/2025"))[0].data == {"items": [1, 2]}

    @pytest.mark.parametrize(
        "bad",
        [
            NewEvent(uuid.uuid4(), "X", {"fen": 1.5}, T0),
            NewEvent(uuid.uuid4(), "X", {"at": T0}, T0),
            NewEvent(uuid.uuid4(), "X", {"n": 1}, datetime(2025, 1, 1)),
            NewEvent(uuid.uuid4(), "", {"n": 1}, T0),
            NewEvent(uuid.uuid4(), "X", {"s": "nul\x00"}, T0),
        ],
        ids=["float", "datetime-in-data", "naive-time", "empty-type", "nul-char"],
    )
    async def test_malformed_events_are_refused_before_anything_is_written(self, store, bad: NewEvent) -> None:
        with pytest.raises(ValueError):
            await store.commit([StreamAppend("P1/2025", 0, [event(), bad])], request=request("k"))
        assert await everything(store) == [] and await store.find_request("k") is None

    async def test_a_stream_listed_twice_in_one_commit_is_refused(self, store) -> None:
        with pytest.raises(ValueError):
            await store.commit([append("P1/2025", 0), append("P1/2025", 1)])


def claim(key: str, *appends: StreamAppend, result: str = "ok", body: str = "body-a") -> CommitRequest:
    """One request of a batch: its appends, its idempotency row and its answer in the outbox."""
    message = OutboxMessage(uuid.uuid4(), "settlements.v1", key, f'{{"answer": "{result}"}}'.encode())
    return CommitRequest(appends, request(key, body, result), [message])


class BatchContract:
    """commit_batch: many requests in one transaction, refused request by request."""

    @pytest.fixture
    def store(self) -> LedgerStore:
        raise NotImplementedError

    async def test_a_batch_commits_every_request_with_its_request_row_and_outbox_rows(self, store) -> None:
        batch = [claim("H1:r1", append("A/2025", 0, 2, {"paid": 1})), claim("H1:r2", append("B/2025", 0, 1))]
        receipt = await store.commit_batch(batch)
        assert [r.stream_versions for r in receipt.receipts] == [{"A/2025": 2}, {"B/2025": 1}]
        logged = await everything(store)
        assert [len(r.positions) for r in receipt.receipts] == [2, 1]
        assert [p for r in receipt.receipts for p in r.positions] == [e.position for e in logged]
        stored = await store.find_requests(["H1:r1", "H1:r2", "H1:unknown"])
        assert sorted(stored) == ["H1:r1", "H1:r2"]
        assert stored["H1:r2"].first_position == receipt.receipts[1].positions[0]
        assert await store.read_projections(["A/2025", "B/2025", "C/2025"]) == {
            "A/2025": (2, {"paid": 1}), "B/2025": (1, None), "C/2025": (0, None),
        }  # fmt: skip

    async def test_two_requests_of_one_stream_in_a_batch_chain_one_after_the_other(self, store) -> None:
        await store.commit([append("A/2025", 0, 1, {"paid": 0})])
        first, second = append("A/2025", 1, 2, {"paid": 1}), append("A/2025", 3, 1, {"paid": 2})
        receipt = await store.commit_batch([claim("H1:r1", first), claim("H1:r2", second)])
        assert [r.stream_versions for r in receipt.receipts] == [{"A/2025": 3}, {"A/2025": 4}]
        events = await store.read_stream("A/2025")
        assert [e.version for e in events] == [1, 2, 3, 4]
        assert events[3].prev_hash == events[2].hash  # the second request links to the first one's last event
        assert await verify_chains(store) == []
        assert await store.read_projection("A/2025") == (4, {"paid": 2})  # the batch's last projection

    async def test_a_projection_replaced_later_in_the_batch_is_not_checked_and_the_stored_one_is(self, store) -> None:
        """Only a stream's last projection in a batch is stored, so only it is encoded and checked
        (a group commit writes a person-year's state once, not once per message of that person)."""
        replaced = append("A/2025", 0, 1, {"paid": 1.5})  # a float: refused, were it to be stored
        await store.commit_batch([claim("H1:r1", replaced), claim("H1:r2", append("A/2025", 1, 1, {"paid": 2}))])
        assert await store.read_projection("A/2025") == (2, {"paid": 2})
        last_wrong = [
            claim("H1:r3", append("B/2025", 0, 1, {"paid": 1})),
            claim("H1:r4", append("B/2025", 1, 1, {"paid": 0.5})),
        ]
        with pytest.raises(ValueError, match="float is not allowed"):
            await store.commit_batch(last_wrong)
        assert await store.read_stream("B/2025") == [] and await store.find_requests(["H1:r3"]) == {}

    async def test_a_stale_stream_refuses_its_request_and_the_ones_after_it_on_that_stream(self, store) -> None:
        await store.commit([append("A/2025", 0, 2)])
        batch = [
            claim("H1:r1", append("B/2025", 0, 1)),
            claim("H1:r2", append("A/2025", 0, 1)),  # stale: A is at 2
            claim("H1:r3", append("A/2025", 1, 1)),  # expects r2's result (version 1), which is refused
            claim("H1:r4", append("C/2025", 0, 1)),
        ]
        with pytest.raises(BatchRefused) as refused:
            await store.commit_batch(batch)
        wrong = refused.value.refusals
        assert sorted(wrong) == [1, 2] and refused.value.accepted == (0, 3)
        assert all(isinstance(r, WrongExpectedVersion) for r in wrong.values())
        assert (wrong[1].expected, wrong[1].actual) == (0, 2)  # type: ignore[attr-defined]
        assert refused.value.stale == {"A/2025": 2}
        assert len(await everything(store)) == 2 and await store.find_requests(["H1:r1", "H1:r4"]) == {}
        await store.commit_batch([batch[i] for i in refused.value.accepted])  # the caller retries the rest
        assert await store.list_streams() == ["A/2025", "B/2025", "C/2025"]

    async def test_a_stored_key_in_a_batch_is_reported_with_its_stored_answer(self, store) -> None:
        await store.commit([append("A/2025", 0)], request=request("H1:r1", result="settled"))
        batch = [
            claim("H1:r1", append("A/2025", 1), result="again"),  # a retry of a stored request
            claim("H1:r2", append("B/2025", 0), body="body-b"),
            claim("H1:r3", append("C/2025", 0)),
        ]
        await store.commit([append("X/2025", 0)], request=request("H1:r2", body="body-a"))
        with pytest.raises(BatchRefused) as refused:
            await store.commit_batch(batch)
        duplicate, conflict = refused.value.refusals[0], refused.value.refusals[1]
        assert isinstance(duplicate, DuplicateRequest) and duplicate.stored.result["answer"] == "settled"
        assert isinstance(conflict, IdempotencyConflict) and conflict.key == "H1:r2"
        assert refused.value.accepted == (2,) and refused.value.stale == {}
        assert await store.read_stream("C/2025") == []

    async def test_an_append_without_projection_after_one_with_it_in_the_same_batch_is_refused(self, store) -> None:
        batch = [claim("H1:r1", append("A/2025", 0, 1, {"paid": 1})), claim("H1:r2", append("A/2025", 1, 1))]
        with pytest.raises(BatchRefused) as refused:
            await store.commit_batch(batch)
        assert isinstance(refused.value.refusals[1], MissingProjection) and refused.value.accepted == (0,)
        assert await store.read_stream("A/2025") == []

    async def test_an_event_id_already_recorded_refuses_only_its_request(self, store) -> None:
        reused = event(n=1)
        await store.commit([StreamAppend("A/2025", 0, [reused])])
        batch = [claim("H1:r1", append("B/2025", 0)), claim("H1:r2", StreamAppend("C/2025", 0, [reused]))]
        with pytest.raises(BatchRefused) as refused:
            await store.commit_batch(batch)
        conflict = refused.value.refusals[1]
        assert isinstance(conflict, EventIdConflict) and conflict.ident == reused.event_id
        assert refused.value.accepted == (0,)
        assert await store.read_stream("B/2025") == []

    async def test_a_key_or_an_event_id_twice_in_one_batch_is_a_caller_bug(self, store) -> None:
        with pytest.raises(ValueError, match="request key may appear only once"):
            await store.commit_batch([claim("H1:r1", append("A/2025", 0)), claim("H1:r1", append("B/2025", 0))])
        shared = event()
        twice = [
            CommitRequest([StreamAppend("A/2025", 0, [shared])]),
            CommitRequest([StreamAppend("B/2025", 0, [shared])]),
        ]
        with pytest.raises(ValueError, match="event ids must be unique within a batch"):
            await store.commit_batch(twice)
        assert await everything(store) == []

    async def test_a_batch_beyond_its_limits_is_refused_before_anything_is_written(self, store) -> None:
        with pytest.raises(ValueError, match="requests per batch"):
            await store.commit_batch([CommitRequest() for _ in range(MAX_REQUESTS_PER_BATCH + 1)])
        per_request = MAX_EVENTS_PER_BATCH // 10 + 1  # ten requests of 6,001 events: each within its own limit
        huge = [CommitRequest([append(f"S{i}/2025", 0, per_request)]) for i in range(10)]
        with pytest.raises(ValueError, match="events per batch"):
            await store.commit_batch(huge)
        assert await everything(store) == []

    async def test_an_empty_batch_writes_nothing(self, store) -> None:
        assert (await store.commit_batch([])).receipts == ()
        assert await everything(store) == []


class ScanContract:
    """scan_streams: the whole log as an audit reads it."""

    @pytest.fixture
    def store(self) -> LedgerStore:
        raise NotImplementedError

    async def test_a_scan_yields_each_stream_of_a_prefix_with_its_events_and_projection(self, store) -> None:
        await store.commit([append(s, 0, 2, {"s": s}) for s in ("a/2024", "a/2025", "a_/2025", "ab/2025")])
        await store.commit([append("a/2025", 2, 1, {"s": "again"}), append("b/2025", 0, 1)])
        scans = [s async for s in store.scan_streams("a/")]
        assert [s.stream_id for s in scans] == ["a/2024", "a/2025"]
        assert [e.version for e in scans[1].events] == [1, 2, 3]
        assert (scans[1].state.stream_version, scans[1].state.projected_version) == (3, 3)
        assert scans[1].state.projection == {"s": "again"}
        every = [s async for s in store.scan_streams(projections=False)]
        assert [s.stream_id for s in every] == ["a/2024", "a/2025", "a_/2025", "ab/2025", "b/2025"]
        assert all(s.state.projection is None for s in every)

    async def test_scanned_events_are_what_was_recorded_in_the_hashs_own_text(self, store) -> None:
        awkward = 'tab\there, newline\n, back\\slash, "quote", 中文, \u2028, emoji 🙂, \x01'
        sent = NewEvent(uuid.uuid4(), f"Odd\t{awkward}", {"k": awkward, awkward: [1, -(2**63), None, True]}, T0)
        await store.commit([StreamAppend(f"P\t{awkward}/2025", 0, [sent])])
        (scan,) = [s async for s in store.scan_streams()]
        (read,) = await store.read_stream(scan.stream_id)
        (event,) = scan.events
        assert (scan.stream_id, event.event_type, event.event_id) == (
            read.stream_id,
            sent.event_type,
            str(sent.event_id),
        )
        assert event.data == jsonb_text(sent.data) and event.occurred_at == "2025-03-01T08:30:00.000000+00:00"
        assert (event.position, event.prev_hash, event.hash, event.hash_alg) == (read.position, GENESIS, read.hash, 2)
        assert await verify_chains(store) == []  # the spliced v2 hash is the one the store wrote

    async def test_a_scan_left_early_leaves_the_store_usable(self, store) -> None:
        await store.commit([append(f"S{i:04d}/2025", 0, 3) for i in range(600)])  # more than one COPY chunk
        async with contextlib.aclosing(store.scan_streams()) as scan:
            first = await anext(scan)
        assert first.stream_id == "S0000/2025"
        await store.commit([append("S0000/2025", 3, 1)])
        assert len([s async for s in store.scan_streams()]) == 600
