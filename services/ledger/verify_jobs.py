"""`ledger verify --jobs N`: every stream's chain and totals checked by N processes, one snapshot.

One process folds ~20,000 events a second (docs/benchmarks.md, "Verify and replay at lower CPU"):
the per-stream work is independent, so it is shared out. A coordinator transaction exports its
snapshot (pg_export_snapshot) and stays open while N worker processes each import it (SET
TRANSACTION SNAPSHOT, ledger/adapters/postgres_scan.py) and check one key range of the streams
with the same code as a single verify (ledger.verify.check_scans) over their own connections.
The shares together are therefore exactly the streams one verify would scan at that moment.

Shares are contiguous ranges of stream ids, not a hash of the id modulo N:
- each worker's COPY is one range of the (stream_id, version) index, so PostgreSQL reads every
  event once in all (a hash filter would have every worker walk the whole log to keep 1/N of it);
- the ranges follow the scan's own order, so the shares' reports laid end to end in range order
  are the single verify's per-stream findings in its order, with no merge that would have to
  sort stream ids as PostgreSQL's "C" collation does.
The cut points are percentiles of a sample of events (TABLESAMPLE SYSTEM, about SAMPLED_PAGES
heap pages, in the same snapshot), so shares hold about as many events each; a poor sample costs
balance, never correctness: any cut points give ranges that cover the log exactly once.

A worker that fails (connection lost, query refused) or dies (killed, out of memory) ends the
whole check with a VerifyJobsError sentence: a partial verify never says "intact".
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from typing import TypeVar

import asyncpg

from ledger.adapters import postgres_scan
from ledger.adapters.postgres_pool import postgres_pool
from ledger.adapters.postgres_scan import ScanShare
from ledger.adapters.postgres_sql import Connection, prefix_end
from ledger.verify import StreamsCheck, VerifyReport, check_scans

MAX_JOBS = 64  # a PostgreSQL connection pair each; past a box's cores they only contend
SAMPLED_PAGES = 2_000  # heap pages sampled to cut the ranges (~16 realistic events a page)

# The heap pages of the log (every partition), for the sample's percentage.
LOG_PAGES = """
SELECT coalesce(sum(pg_relation_size(relid)), 0) / current_setting('block_size')::bigint
  FROM pg_partition_tree('events') WHERE isleaf
"""
# Stream ids at the fractions $1 of a sample of the events of the prefix ($3, up to $4).
CUT_POINTS = """
SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY stream_id)
  FROM events TABLESAMPLE SYSTEM ($2)
 WHERE stream_id >= $3 AND ($4::text IS NULL OR stream_id < $4) AND starts_with(stream_id, $3)
"""

Task = TypeVar("Task")
Result = TypeVar("Result")


class VerifyJobsError(Exception):
    """The shared-out check could not finish; said in one sentence (the CLI exits 2)."""


def valid_jobs(text: str) -> int:
    """--jobs as argparse reads it: a whole number from 1 to MAX_JOBS."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"--jobs takes a whole number from 1 to {MAX_JOBS}, not {text!r}")
    return jobs


@dataclass(frozen=True)
class ShareTask:
    dsn: str
    prefix: str | None
    share: ScanShare


@dataclass(frozen=True)
class ShareFailed:
    reason: str  # "ExceptionName: message", from the worker


def verify_share(task: ShareTask) -> VerifyReport:
    """In a worker process: the chains and totals of one share's streams."""
    return asyncio.run(_verify_share(task))


async def _verify_share(task: ShareTask) -> VerifyReport:
    report = VerifyReport(streams=0)
    async with postgres_pool(task.dsn, max_size=2) as pool:
        await check_scans(postgres_scan.scan(pool, task.prefix, projections=True, share=task.share), report)
    return report


def jobs_check(dsn: str, pool: asyncpg.Pool, jobs: int) -> StreamsCheck:
    """verify_ledger's ``streams``: the per-stream part over ``jobs`` worker processes."""

    async def check(prefix: str | None) -> VerifyReport:
        async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = str(await connection.fetchval("SELECT pg_export_snapshot()"))
            ranges = await share_ranges(connection, prefix, jobs)
            tasks = [ShareTask(dsn, prefix, ScanShare(snapshot, start, end)) for start, end in ranges]
            parts = await run_shares(verify_share, tasks)  # the snapshot's transaction open until all are done
        report = VerifyReport(streams=0)
        for part in parts:  # in range order: the scan's order
            report.add_streams(part)
        return report

    return check


async def share_ranges(connection: Connection, prefix: str | None, jobs: int) -> list[tuple[str, str | None]]:
    """Up to ``jobs`` contiguous ranges [start, end) of stream ids covering the prefix's streams,
    in order, cut where a sample of the events puts equal shares of them."""
    start, end = prefix or "", prefix_end(prefix) if prefix else None
    cuts: list[str] = []
    if jobs > 1:
        pages = int(await connection.fetchval(LOG_PAGES))
        percent = min(100.0, 100.0 * SAMPLED_PAGES / max(pages, 1))
        fractions = [k / jobs for k in range(jobs)]  # 0: the least sampled id, never a cut (nothing below it)
        least, *points = await connection.fetchval(CUT_POINTS, fractions, percent, start, end) or [None]
        for cut in points:
            if cut != least and cut not in cuts[-1:]:  # sorted: equal ones are adjacent
                cuts.append(cut)
    bounds: list[str | None] = [start, *cuts, end]
    return [(str(low), high) for low, high in itertools.pairwise(bounds)]


async def run_shares(work: Callable[[Task], Result], tasks: Sequence[Task]) -> list[Result]:
    """``work(task)`` for each task, each in a process of its own (spawned: nothing of this
    process's event loop or connections is inherited), results in the tasks' order. The first
    failure or death ends the others and raises VerifyJobsError; so does cancellation (Ctrl-C)."""
    context = multiprocessing.get_context("spawn")
    workers: list[tuple[BaseProcess, Pipe]] = []
    try:
        for task in tasks:
            receiving, sending = context.Pipe(duplex=False)
            process: BaseProcess = context.Process(target=_share_main, args=(work, task, sending), daemon=True)
            process.start()
            sending.close()  # the worker's end: closed here, EOF when the worker is gone
            workers.append((process, receiving))
        return await _first_failure_or_all(
            [asyncio.ensure_future(_outcome(p, r, n, len(workers))) for n, (p, r) in enumerate(workers, start=1)]
        )
    finally:
        for process, receiving in workers:
            if process.is_alive():
                process.kill()
            process.join()
            receiving.close()


async def _first_failure_or_all(outcomes: list[asyncio.Future[Result]]) -> list[Result]:
    try:
        done, _ = await asyncio.wait(outcomes, return_when=asyncio.FIRST_EXCEPTION)
        for outcome in outcomes:  # the lowest-numbered failure among those already in
            if outcome in done and (error := outcome.exception()) is not None:
                raise error
        return [outcome.result() for outcome in outcomes]
    finally:
        for outcome in outcomes:
            outcome.cancel()


def _share_main(work: Callable[[Task], Result], task: Task, sending: Pipe) -> None:
    """A worker process: the result, or why there is none, sent back once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the coordinator ends it
    try:
        outcome: Result | ShareFailed = work(task)
    except Exception as error:
        outcome = ShareFailed(f"{type(error).__name__}: {error}")
    sending.send(outcome)
    sending.close()


async def _outcome(process: BaseProcess, receiving: Pipe, number: int, count: int) -> Result:
    await _readable(receiving.fileno(), process.sentinel)
    try:
        outcome = receiving.recv() if receiving.poll() else None
    except EOFError:  # the pipe closed with nothing in it: the worker died
        outcome = None
    if isinstance(outcome, ShareFailed):
        raise VerifyJobsError(
            f"verify worker {number} of {count} failed ({outcome.reason}); the ledger was not verified"
        )
    if outcome is None:
        process.join(timeout=5)
        raise VerifyJobsError(
            f"verify worker {number} of {count} ended without a result (exit code {process.exitcode}); "
            "the ledger was not verified"
        )
    result: Result = outcome
    return result


async def _readable(*descriptors: int) -> None:
    """Until one of the descriptors can be read (a result in the pipe, or the process gone)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    for descriptor in descriptors:
        loop.add_reader(descriptor, wake)
    try:
        await ready
    finally:
        for descriptor in descriptors:
            loop.remove_reader(descriptor)
