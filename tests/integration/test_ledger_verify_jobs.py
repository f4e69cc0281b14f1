"""`ledger verify --jobs N`: the streams shared out over worker processes, one snapshot, one report.

The ledger holds the example year settled through the real settlement use case; defects of
several kinds are planted in streams spread over the whole key range (so that every worker's
share holds some), and the report of --jobs 3 must be the report of --jobs 1, finding for
finding and in the same order. Then what must stop the check instead of a verdict: a worker
that fails, a worker that dies, a coordinator cancelled (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_scan import ScanShare
from ledger.verify_jobs import ShareTask, VerifyJobsError, run_shares, share_ranges, verify_share
from ledger_audit_helpers import as_superuser, example_year, ledger
from ledger_contract import append, migrated_pool

pytestmark = pytest.mark.integration


# An event of a type nobody knows, appended at a stream's head with the hash the database itself
# computes (the trigger accepts it: the hash proves integrity, not meaning) → "unreadable".
UNKNOWN_AT_HEAD = """
INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
SELECT pg_current_xact_id()::text::bigint << 16, $1, h.version + 1, x.id, 'FundsConjured', d, now(), h.hash,
       ledger_event_hash_v2($1, h.version + 1, x.id, 'FundsConjured', d, now(), h.hash), 2
  FROM (SELECT '{"amount": 1}'::jsonb AS d) AS v,
       (SELECT version, hash FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1) AS h,
       (SELECT gen_random_uuid() AS id) AS x
"""


REWRITE_FIRST_EVENT = "UPDATE events SET data = jsonb_set(data, '{n}', '1') WHERE stream_id = $1 AND version = 1"
UNBACKED_REQUEST = "INSERT INTO idempotency (key, body_hash, result, first_position) VALUES ('H99:r', 'x', '{}', 1)"
STREAM_KINDS = {"forged_hash", "broken_link", "projection_behind", "projection_differs", "unreadable"}


@pytest.fixture
async def settled(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with example_year(database_url, clearing_batch=500) as (pool, _):
        yield pool


async def person_streams(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT stream_id FROM person_year_totals ORDER BY stream_id")
    return [row["stream_id"] for row in rows]


async def plant_defects(pool: asyncpg.Pool, database_url: str) -> list[str]:
    """One defect of another kind in each of five streams spread over the key range, and an
    unbacked idempotency row (a finding after the streams'). Returns the streams, in order."""
    streams = await person_streams(pool)
    assert len(streams) >= 9, streams  # the example year: eleven people
    step = (len(streams) - 1) / 4
    hit = [streams[round(k * step)] for k in range(5)]  # first, …, last
    await as_superuser(database_url, REWRITE_FIRST_EVENT, hit[0])
    await as_superuser(database_url, "DELETE FROM events WHERE stream_id = $1 AND version = 2", hit[1])
    await as_superuser(database_url, "UPDATE person_year_totals SET version = version - 1 WHERE stream_id = $1", hit[2])
    await as_superuser(
        database_url,
        "UPDATE person_year_totals SET totals = jsonb_set(totals::jsonb, '{ordinal_visits}', '99')"
        " WHERE stream_id = $1",
        hit[3],
    )
    await as_superuser(database_url, UNKNOWN_AT_HEAD, hit[4])
    await as_superuser(database_url, UNBACKED_REQUEST)
    return hit


def without_timing(report: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in report.items() if name != "seconds"}


async def test_three_jobs_report_the_same_findings_in_the_same_order_as_one(settled, database_url: str) -> None:
    hit = await plant_defects(settled, database_url)
    async with settled.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        ranges = await share_ranges(connection, None, 3)
    assert len(ranges) == 3, ranges  # a whole-log sample of a small ledger: exact percentiles
    holding = {next(n for n, (low, high) in enumerate(ranges) if low <= s and (high is None or s < high)) for s in hit}
    assert holding == {0, 1, 2}  # every share has defects of its own: the order of the merge is tested

    one, three = ledger(database_url, "verify", "--json"), ledger(database_url, "verify", "--json", "--jobs", "3")

    assert one.returncode == three.returncode == 1, one.stderr + three.stderr
    assert three.stderr == ""
    single, shared = json.loads(one.stdout), json.loads(three.stdout)
    assert without_timing(shared) == without_timing(single)
    kinds = [finding["kind"] for finding in single["findings"]]
    assert set(kinds) >= STREAM_KINDS
    whole_ledger = [n for n, kind in enumerate(kinds) if kind not in STREAM_KINDS]
    assert "request_unbacked" in kinds and whole_ledger == list(
        range(whole_ledger[0], len(kinds))
    )  # after the streams'
    subjects = [finding["subject"] for finding in single["findings"][: whole_ledger[0]]]
    assert [s for s in hit if any(subject.startswith(s) for subject in subjects)] == hit


async def test_the_text_report_of_two_jobs_is_the_text_report_of_one(settled, database_url: str) -> None:
    await plant_defects(settled, database_url)
    one, two = ledger(database_url, "verify"), ledger(database_url, "verify", "--jobs", "2")
    assert one.returncode == two.returncode == 1
    # every line but the summary's time: "N stream(s); … checked in S s: K finding(s)"
    assert one.stdout.splitlines()[:-1] == two.stdout.splitlines()[:-1]
    assert one.stdout.splitlines()[-1].split(" checked in ")[0] == two.stdout.splitlines()[-1].split(" checked in ")[0]
    assert one.stdout.rstrip().split(": ")[-1] == two.stdout.rstrip().split(": ")[-1]


async def test_jobs_within_a_prefix_check_only_its_streams_as_one_job_does(settled, database_url: str) -> None:
    hit = await plant_defects(settled, database_url)
    prefix = hit[1][:3]  # e.g. "P00": several people, one of them with a broken link
    one = ledger(database_url, "verify", "--json", "--prefix", prefix)
    four = ledger(database_url, "verify", "--json", "--prefix", prefix, "--jobs", "4")
    single, shared = json.loads(one.stdout), json.loads(four.stdout)
    assert without_timing(shared) == without_timing(single)
    assert single["findings"] and all(f["subject"].startswith(prefix) for f in single["findings"])


async def test_an_intact_ledger_checked_by_two_jobs_is_intact(settled, database_url: str) -> None:
    two = ledger(database_url, "verify", "--jobs", "2")
    assert two.returncode == 0, two.stdout + two.stderr
    streams = await settled.fetchval("SELECT count(DISTINCT stream_id) FROM events")
    assert two.stdout.startswith(f"{streams} stream(s); hash chains, totals,") and two.stdout.rstrip().endswith(
        ": intact"
    )


async def test_the_shares_see_the_log_as_of_the_exported_snapshot_not_a_later_commit(
    settled, database_url: str
) -> None:
    streams = await person_streams(settled)
    async with settled.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
        seen = await connection.fetchval("SELECT count(DISTINCT stream_id) FROM events")
        ranges = await share_ranges(connection, None, 2)
        # Committed after the export: an unknown event at the head of the first and last streams
        # (each would be "unreadable" and "projection_behind" if a share saw it).
        await as_superuser(database_url, UNKNOWN_AT_HEAD, streams[0])
        await as_superuser(database_url, UNKNOWN_AT_HEAD, streams[-1])
        tasks = [ShareTask(database_url, None, ScanShare(snapshot, low, high)) for low, high in ranges]
        parts = await run_shares(verify_share, tasks)
    assert len(parts) == 2 and all(part.streams > 0 for part in parts)
    assert sum(part.streams for part in parts) == seen
    assert [part.findings for part in parts] == [[], []]
    after = ledger(database_url, "verify", "--jobs", "2")  # a new check sees the commit
    assert f"{streams[0]}: its events cannot be replayed" in after.stdout
    assert f"{streams[-1]}: its events cannot be replayed" in after.stdout


async def test_an_empty_log_is_one_share_and_verifies_intact(database_url: str) -> None:
    async with migrated_pool(database_url) as pool, pool.acquire() as connection:
        assert await share_ranges(connection, None, 4) == [("", None)]
    four = ledger(database_url, "verify", "--jobs", "4")
    assert four.returncode == 0 and four.stdout.startswith("0 stream(s);") and four.stdout.rstrip().endswith("intact")


async def test_more_jobs_than_streams_cut_only_between_streams(database_url: str) -> None:
    # Three streams of 1, 3 and 2 events (append's events are not the domain's: chains only).
    async with migrated_pool(database_url) as pool:
        await PostgresLedger(pool).commit([append("A1/2025", 0, 1), append("B1/2025", 0, 3), append("C1/2025", 0, 2)])
        async with pool.acquire() as connection:
            ranges = await share_ranges(connection, None, 8)
            within = await share_ranges(connection, "B", 8)
    assert ranges == [("", "B1/2025"), ("B1/2025", "C1/2025"), ("C1/2025", None)]
    assert within == [("B", "C")]  # one stream in the prefix: nothing to cut
    one, eight = ledger(database_url, "verify", "--json"), ledger(database_url, "verify", "--json", "--jobs", "8")
    assert without_timing(json.loads(eight.stdout)) == without_timing(json.loads(one.stdout))
    assert json.loads(eight.stdout)["streams"] == 3


@pytest.mark.parametrize("jobs", ["0", "65", "two"])
def test_jobs_outside_one_to_sixty_four_is_a_usage_error(jobs: str) -> None:
    run = ledger("postgresql://nobody@127.0.0.1:1/none", "verify", "--jobs", jobs)
    assert run.returncode == 2
    assert f"--jobs takes a whole number from 1 to 64, not '{jobs}'" in run.stderr and "Traceback" not in run.stderr


async def test_a_worker_whose_snapshot_is_gone_fails_the_check_with_a_sentence(settled, database_url: str) -> None:
    # The coordinator's transaction ended: its exported snapshot can no longer be imported.
    async with settled.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
    task = ShareTask(database_url, None, ScanShare(snapshot, "", None))
    with pytest.raises(VerifyJobsError, match=r"^verify worker 1 of 1 failed \(.*snapshot.*\); the ledger was not"):
        await run_shares(verify_share, [task])


async def test_a_worker_that_dies_fails_the_check_and_the_others_are_ended() -> None:
    # Worker 2's task kills it (SIGKILL, as the kernel's OOM killer would); worker 1 sleeps on.
    began = time.monotonic()
    with pytest.raises(VerifyJobsError, match=r"^verify worker 2 of 2 ended without a result \(exit code -9\)"):
        await run_shares(_die_or_sleep, [0, signal.SIGKILL])
    assert time.monotonic() - began < 30  # not the sleeper's 60 s: it was ended
    assert multiprocessing.active_children() == []


async def test_cancelling_the_check_ends_every_worker() -> None:
    # Ctrl-C in `ledger verify` cancels the coordinator's task (asyncio.run): no worker may outlive it.
    running = asyncio.ensure_future(run_shares(_die_or_sleep, [0, 0]))
    await asyncio.sleep(3)  # both spawned and sleeping
    assert len(multiprocessing.active_children()) == 2
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert multiprocessing.active_children() == []


def _die_or_sleep(how: int) -> int:
    """A worker's work in the tests above: kill itself with signal ``how``, or sleep a minute (0)."""
    if how:
        signal.raise_signal(how)
    time.sleep(60)
    return how
