"""No person's id in any log line, tracebacks included, through a database outage under load.

Issue 10 item 3: tracebacks were rendered with frame locals, so every database outage printed
psn_no in clear (stream_id='D714347000017/2025'). Here both services log at DEBUG while claims
settle, the database is cut away mid-stream (connections terminated and refused, as a crash or
a failover does to a client), then comes back; every line of both services' logs is then
searched for every psn_no that was sent.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
from e2e_stack import offline_reference, topic_runs

from examples.generator import day_lines


async def cut_database(admin_dsn: str, database: str, seconds: float) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        await asyncio.sleep(seconds)
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()


async def test_no_log_line_of_either_service_names_a_person_through_a_database_outage(
    make_stack, postgres_admin_dsn: str, tmp_path: Path
) -> None:
    lines = day_lines(people=40, seed=31)
    enrolments, claims = topic_runs(lines)
    people = {json.loads(line)["psn_no"] for line in lines if '"psn_no"' in line}
    stack = await make_stack()

    service = await stack.start_settlement(LOG_LEVEL="DEBUG", SETTLEMENT_MAX_RETRY_SECONDS="1")
    await stack.send(enrolments)
    half = len(claims) // 2
    await stack.produce(claims[:half])
    while await stack.count_events("ClaimSettled") < 5:
        await asyncio.sleep(0.05)
    database = stack.database_url.rsplit("/", 1)[1].split("?")[0]
    outage = asyncio.create_task(cut_database(postgres_admin_dsn, database, seconds=3))
    await asyncio.sleep(0.5)  # the database refuses by now: the rest arrives during the outage,
    await stack.produce(claims[half:])  # so a batch is consumed while it is down (group commit may
    await outage  # have settled the whole first half before the cut)
    expected, _ = await offline_reference(enrolments + claims, tmp_path)
    await stack.all_answers(expected=len(expected), timeout=120)

    logged = [line for s in stack.launcher.services for line in s.log.read_text("utf-8").splitlines()]
    tracebacks = [line for line in logged if '"exception"' in line]
    assert tracebacks, "the outage should have been logged with a traceback"
    assert any('"batch_rewound"' in line for line in logged)
    leaks = {psn: line for line in logged for psn in people if psn in line}
    assert leaks == {}, f"{len(leaks)} people in clear, e.g. {next(iter(leaks.items()), None)}"
    assert service.process.poll() is None
