"""The inline projection kept as text (migration 0012): projections a ledger stored as jsonb read
back the same and verify clean after the migration, and the column still takes nothing but a
JSON object."""

from __future__ import annotations

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_sql import stream_year
from ledger.migrate import migrate
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from ledger_upgrades import a_v2_ledger, copy_in, migrate_until

pytestmark = pytest.mark.integration


async def test_projections_stored_as_jsonb_read_back_the_same_as_text_and_verify_clean(database_url: str) -> None:
    await migrate_until(database_url, "0011_events_by_year.sql")
    connection = await asyncpg.connect(database_url)
    try:
        day = await a_v2_ledger()
        for year in {stream_year(s) for s in await day.list_streams()}:  # 0011 opens a year on its first write
            await connection.execute("SELECT ledger_add_year($1::smallint)", year)
        await copy_in(connection, day)  # each projection stored as jsonb, as 0011 kept it
        assert await connection.fetchval("SELECT count(*) FROM person_year_totals") > 10
    finally:
        await connection.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:  # still at 0011: this code reads the jsonb column too
        store = PostgresLedger(pool)
        before = {s: await store.projection_state(s) for s in await store.list_streams()}
    finally:
        await pool.close()

    assert await migrate(database_url) == ["0012_projection_as_text.sql"]

    async with migrated_pool(database_url, role="ledger_app") as pool:
        kind = await pool.fetchval(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'person_year_totals' AND column_name = 'totals'"
        )
        assert kind == "text"
        store = PostgresLedger(pool)
        after = {s: await store.projection_state(s) for s in await store.list_streams()}
        assert after == before  # version, projected version and every value of every projection
        report = await verify_ledger(store)
        assert [f.subject for f in report.findings] == ["operations-log"]  # the fixture's stream of no domain


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a text"', '{"open": ', ""])
async def test_the_projection_column_refuses_what_is_not_one_json_object(database_url: str, text: str) -> None:
    async with migrated_pool(database_url) as owner:
        await owner.execute("INSERT INTO person_year_totals (stream_id, version, totals) VALUES ('P/2025', 1, '{}')")
        with pytest.raises(asyncpg.CheckViolationError, match="person_year_totals_totals_check"):
            await owner.execute("UPDATE person_year_totals SET totals = $1 WHERE stream_id = 'P/2025'", text)
        await owner.execute("UPDATE person_year_totals SET totals = '{\"a\": [1]}' WHERE stream_id = 'P/2025'")
        assert await owner.fetchval("SELECT totals FROM person_year_totals") == '{"a": [1]}'  # kept as written
