"""``ledger`` — operate the event store: apply migrations, verify the hash chains.

    ledger migrate [--database-url URL] [--grant-to ROLE ...]
    ledger verify-chains [--database-url URL] [--prefix P]
    ledger serve     (settings from the environment: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, …)

The DSN comes from --database-url or the DATABASE_URL environment variable. Exit codes:
0 done / intact, 1 the check found problems, 2 a usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import asyncpg

from ledger.audit import verify_chains
from ledger.bootstrap import postgres_ledger
from ledger.migrate import MigrationError, migrate


class UsageError(Exception):
    """Something the user can fix on the command line; said in one sentence."""


def _dsn(args: argparse.Namespace) -> str:
    dsn = args.database_url or os.environ.get("DATABASE_URL")
    if not dsn:
        raise UsageError("no database: pass --database-url or set DATABASE_URL")
    return str(dsn)


async def _migrate(args: argparse.Namespace) -> int:
    applied = await migrate(_dsn(args), grant_to=args.grant_to)
    print("\n".join(f"applied {name}" for name in applied) or "schema up to date")
    return 0


async def _verify_chains(args: argparse.Namespace) -> int:
    async with postgres_ledger(_dsn(args), max_size=2) as store:
        breaks = await verify_chains(store, args.prefix)
    for crack in breaks:
        print(f"{crack.stream_id} v{crack.version} (position {crack.position}): {crack.reason}")
    print(f"{len(breaks)} break(s)" if breaks else "every hash chain verifies")
    return 1 if breaks else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledger", description="Operate the settlement ledger's event store.")
    commands = parser.add_subparsers(dest="command", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database-url", help="PostgreSQL DSN (default: $DATABASE_URL)")

    run = commands.add_parser("migrate", parents=[database], help="apply the schema migrations that are missing")
    run.add_argument("--grant-to", action="append", default=[], metavar="ROLE", help="login role to run as ledger_app")
    run.set_defaults(handler=_migrate)

    check = commands.add_parser("verify-chains", parents=[database], help="recompute every stream's hash chain")
    check.add_argument("--prefix", help="only streams whose id starts with this")
    check.set_defaults(handler=_verify_chains)
    serve = commands.add_parser("serve", help="run the ledger service: outbox relay, projections, HTTP audits")
    serve.set_defaults(handler=None)
    return parser


def _serve() -> int:
    """Settings come from the environment only (docs/operations.md), like the settlement service."""
    from pydantic import ValidationError

    from ledger.entrypoints.serve import serve
    from ledger.settings import LedgerSettings

    try:
        settings = LedgerSettings()  # type: ignore[call-arg]
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]).upper() for e in error.errors())
        print(f"ledger: settings missing or invalid: {names} (see docs/operations.md)", file=sys.stderr)
        return 2
    return serve(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve()  # runs its own event loop (uvicorn)
    try:
        code: int = asyncio.run(args.handler(args))
    except (UsageError, MigrationError, OSError, asyncpg.PostgresError) as error:
        print(f"ledger: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
