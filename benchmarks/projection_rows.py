"""What PostgreSQL spends on the person-year projections a settled claim rewrites and reads: the
projections of a generated day, as this checkout writes them and as a baseline revision did,
upserted and read in batches of 200 rows (as a group commit and its read do), stored as jsonb
(before migration 0012) and as text with the `IS JSON OBJECT` check (since 0012).

    .venv/bin/python benchmarks/projection_rows.py [--people 1000] [--seed 4242] [--visits N]
                                                   [--baseline-rev 0f23271] [--rounds 3]

The day (examples.generator.day_lines, the e2e benchmark's seed by default) is priced over the
in-memory ledger in a fresh process by this checkout's code and by the baseline's (a `git
worktree` of --baseline-rev shadowing the install on PYTHONPATH, as benchmarks/engine_offline.py
does); each worker prints every person-year's final projection as the store's canonical JSON.
Then, on scratch tables of the database at DATABASE_URL (a role allowed to CREATE TABLE), each
round writes every projection five times (five versions, batches of 200 in one transaction each,
the settlement service's upsert) and reads them back (batches of 200, `= ANY`), for every pair of
(projections, column type), alternately. Prints bytes per projection and µs per row, wall time
of the client's statement (the server does almost all of it; no Kafka, no commit fsync beyond
the server's own setting). The tables are dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_offline import baseline_tree  # this folder is on sys.path when a script of it runs

ROOT = Path(__file__).resolve().parents[1]
BATCH = 200
WRITES = 5
COLUMNS = {
    "jsonb (before 0012)": ("jsonb NOT NULL CHECK (jsonb_typeof(totals) = 'object')", "::jsonb"),
    "text + IS JSON (0012)": ("text NOT NULL CHECK (totals IS JSON OBJECT)", ""),
}
UPSERT = """
INSERT INTO {table} AS p (stream_id, version, totals)
SELECT u.stream_id, u.version, u.totals{cast}
  FROM unnest($1::text[], $2::int[], $3::text[]) AS u(stream_id, version, totals)
 ORDER BY u.stream_id
    ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, totals = excluded.totals, updated_at = now()
 WHERE p.version < excluded.version
"""
READ = "SELECT stream_id, version, totals::text FROM {table} WHERE stream_id = ANY($1::text[])"


def worker(day: Path) -> None:
    """Price the day over the in-memory ledger; print each stream id and its projection's canonical
    JSON, one JSON pair a line. Runs against whichever code is first on sys.path."""
    from datetime import UTC, datetime

    from ledger.adapters.memory import MemoryLedger
    from ledger.hashing import canonical_json
    from settlement.service_layer.handlers import SettlementService

    from engine.policy_files import load_policy_book

    async def run() -> None:
        store = MemoryLedger()
        service = SettlementService(store, load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC))
        for n, line in enumerate(day.read_bytes().splitlines()):
            await service.handle(line, source=f"day:{n}")
        for stream in await store.list_streams():
            _, projection = await store.read_projection(stream)
            if projection is not None:
                print(json.dumps([stream, canonical_json(projection)], ensure_ascii=False))

    asyncio.run(run())


def projections_of(day: Path, code_root: Path | None) -> list[tuple[str, str]]:
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code_root), str(code_root / "services")])
    args = [sys.executable, __file__, "--worker", str(day)]
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pricing the day failed:\n{done.stderr[-3000:]}")
    return [tuple(json.loads(line)) for line in done.stdout.splitlines()]


async def measure(sets: dict[str, list[tuple[str, str]]], rounds: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    tables = {}
    try:
        for n, (column, _) in enumerate(COLUMNS.values()):
            table = tables[column] = f"bench_projection_rows_{n}"
            await connection.execute(
                f'DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (stream_id text COLLATE "C" PRIMARY KEY,'
                f" version integer NOT NULL, totals {column}, updated_at timestamptz NOT NULL DEFAULT now())"
            )
        figures: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        for _ in range(rounds):
            for label, rows in sets.items():
                for kind, (column, cast) in COLUMNS.items():
                    write, read = await one_round(connection, tables[column], cast, rows)
                    got = figures.setdefault((label, kind), ([], []))
                    got[0].append(write)
                    got[1].append(read)
        print(f"{'projections':<22} {'bytes':>7} {'stored as':<22} {'upsert µs/row':>16} {'read µs/row':>14}")
        for (label, kind), (writes, reads) in figures.items():
            size = statistics.mean(len(text.encode()) for _, text in sets[label])
            print(f"{label:<22} {size:>7,.0f} {kind:<22} {_spread(writes):>16} {_spread(reads):>14}")
    finally:
        for table in tables.values():
            await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


async def one_round(connection: object, table: str, cast: str, rows: list[tuple[str, str]]) -> tuple[float, float]:
    await connection.execute(f"TRUNCATE {table}")  # type: ignore[attr-defined]
    upsert, read = UPSERT.format(table=table, cast=cast), READ.format(table=table)
    began = time.perf_counter()
    for version in range(1, WRITES + 1):
        for i in range(0, len(rows), BATCH):
            chunk = rows[i : i + BATCH]
            async with connection.transaction():  # type: ignore[attr-defined]
                streams, texts = [s for s, _ in chunk], [t for _, t in chunk]
                await connection.execute(upsert, streams, [version] * len(chunk), texts)  # type: ignore[attr-defined]
    write = (time.perf_counter() - began) / (WRITES * len(rows)) * 1e6
    began = time.perf_counter()
    for _ in range(WRITES):
        for i in range(0, len(rows), BATCH):
            await connection.fetch(read, [s for s, _ in rows[i : i + BATCH]])  # type: ignore[attr-defined]
    return write, (time.perf_counter() - began) / (WRITES * len(rows)) * 1e6


def _spread(values: list[float]) -> str:
    return f"{min(values):.0f}–{max(values):.0f}" if len(values) > 1 else f"{values[0]:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000, help="people in the generated day (default 1000)")
    parser.add_argument("--seed", type=int, default=4242, help="the generator's seed (the e2e benchmark's)")
    parser.add_argument("--visits", type=int, default=None, help="N visits for every person instead of the day's")
    parser.add_argument("--baseline-rev", default="0f23271", help="git revision to compare with ('' for none)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker))
        return 0
    if not os.environ.get("DATABASE_URL"):
        print('projection_rows: set DATABASE_URL (eval "$(.venv/bin/python -m devservers env)")', file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from examples.generator import day_lines

    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        folder = Path(scratch)
        day = folder / "day.jsonl"
        day.write_text("".join(line + "\n" for line in day_lines(args.people, args.seed, args.visits)), "utf-8")
        sets = {"this checkout": projections_of(day, None)}
        if args.baseline_rev:
            base = stack.enter_context(baseline_tree(args.baseline_rev, folder))
            sets[args.baseline_rev] = projections_of(day, base)
        print(f"{len(sets['this checkout'])} person-year projections of a {args.people}-person day", flush=True)
        asyncio.run(measure(sets, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
