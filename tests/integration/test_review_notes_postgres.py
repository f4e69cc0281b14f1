"""A hostile review of projection schema 4 (ADR 0010) over the real PostgreSQL: `ledger verify`
over an upgraded ledger, a person-year's projection written by a schema-3 pod after migration 0012
(its upsert sends jsonb into the text column, as 0f23271's postgres_sql.py does)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_sql import stream_year
from ledger.migrate import migrate
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from ledger_upgrades import copy_in
from review_notes_scenarios import a_year_under_two_policies, as_schema_3_stored_it

from engine.person import replay

pytestmark = pytest.mark.integration


async def _upgraded_ledger(database_url: str, folder: Path) -> None:
    """P1's year under two policies, its projection as a schema-3 pod upserted it after 0012."""
    store, events = await a_year_under_two_policies(folder)
    v3 = as_schema_3_stored_it(replay("P1", 2025, events))
    await migrate(database_url)
    connection = await asyncpg.connect(database_url)  # the schema's owner, as an upgrade runs
    try:
        for year in {stream_year(s) for s in await store.list_streams()}:
            await connection.execute("SELECT ledger_add_year($1::smallint)", year)
        await copy_in(connection, store)
        written = await connection.execute(
            "UPDATE person_year_totals SET totals = $1::jsonb WHERE stream_id = 'P1/2025'", json.dumps(v3)
        )
        assert written == "UPDATE 1"  # jsonb is assigned to the text column (PostgreSQL's I/O cast)
    finally:
        await connection.close()


async def test_a_schema_3_pods_jsonb_is_stored_in_the_text_column_and_read_back(
    database_url: str, tmp_path: Path
) -> None:
    await _upgraded_ledger(database_url, tmp_path / "policies")
    async with migrated_pool(database_url, role="ledger_app") as pool:
        state = await PostgresLedger(pool).projection_state("P1/2025")
        assert state.projection is not None and state.projection["schema_version"] == 3


async def test_verify_finds_nothing_in_an_upgraded_ledger_holding_a_year_under_two_policies(
    database_url: str, tmp_path: Path
) -> None:
    await _upgraded_ledger(database_url, tmp_path / "policies")
    async with migrated_pool(database_url, role="ledger_app") as pool:
        report = await verify_ledger(PostgresLedger(pool))
    assert [f.sentence for f in report.findings] == []
