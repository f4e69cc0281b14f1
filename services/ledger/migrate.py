"""Forward-only schema migrations: numbered SQL files in ledger.migrations, applied once each.

Every pod may run ``ledger migrate`` at start-up: a session advisory lock lets one apply and
makes the others wait, then find nothing left to do. Each file runs in its own transaction
together with its row in schema_migrations. An applied file must never change; its checksum
is compared every run, and a mismatch stops the migration rather than guessing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

MIGRATION_LOCK = 7_312_020_001  # pg_advisory_lock key: "ledger schema", arbitrary but fixed
_FILE_NAME = re.compile(r"^(?P<number>\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The database and the migration files disagree; a human must look."""


@dataclass(frozen=True)
class Migration:
    name: str  # the file name, e.g. "0001_event_log.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def available() -> list[Migration]:
    """The packaged migrations in order; numbering must start at 0001 and have no holes."""
    files = [f for f in resources.files("ledger.migrations").iterdir() if f.name.endswith(".sql")]
    found = []
    for number, path in enumerate(sorted(files, key=lambda f: f.name), start=1):
        match = _FILE_NAME.match(path.name)
        if match is None or int(match.group("number")) != number:
            raise MigrationError(f"migration {path.name} is misnamed or out of sequence (expected {number:04d}_…)")
        found.append(Migration(path.name, path.read_text(encoding="utf-8")))
    return found


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def migrate(dsn: str, *, grant_to: Sequence[str] = ()) -> list[str]:
    """Apply what is missing and return the names applied now (empty when up to date).

    grant_to: login roles that should run as the application role (ledger_app)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            return await _apply(connection, grant_to)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await connection.close()


async def _apply(connection: asyncpg.Connection, grant_to: Sequence[str]) -> list[str]:
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = await connection.fetch("SELECT name, checksum FROM schema_migrations")
    applied = {row["name"]: row["checksum"] for row in rows}
    done = []
    # Rows for files this code does not know come from a newer release: a rollback must still
    # be able to run its own (older) migration job, so they are left alone, not an error.
    for migration in available():
        if migration.name in applied:
            if applied[migration.name] != migration.checksum:
                raise MigrationError(f"{migration.name} changed after it was applied; add a new migration instead")
            continue
        async with connection.transaction():
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", migration.name, migration.checksum
            )
        done.append(migration.name)
    for role in grant_to:
        await connection.execute(f"GRANT ledger_app TO {_quote_ident(role)}")
    return done
