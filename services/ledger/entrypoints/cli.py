"""``ledger`` — operate and audit the event store.

    ledger migrate [--database-url URL] [--grant-to ROLE ...]
    ledger verify-chains [--database-url URL] [--prefix P]
    ledger replay --psn PSN --year Y [--as-of TIME] [--policies DIR] [--json]
    ledger verify [--prefix P] [--json]
    ledger reprice --policies DIR --year Y [--json]
    ledger serve     (settings from the environment: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, …)

The DSN comes from --database-url or the DATABASE_URL environment variable. Exit codes:
0 done / intact, 1 the check found problems, 2 a usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from contracts.money import format_yuan
from engine.policy_book import PolicyBook
from engine.policy_files import PolicyFileError, load_policy_book
from ledger.adapters.postgres import PostgresLedger
from ledger.audit import verify_chains
from ledger.bootstrap import postgres_ledger, postgres_pool
from ledger.migrate import MigrationError, migrate
from ledger.projections import verify_followers
from ledger.replay import replay_report
from ledger.reprice import FUND_FIELDS, reprice_year
from ledger.verify import verify_ledger


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


def _policies(folder: str | None) -> PolicyBook | None:
    if folder is None:
        return None
    try:
        return load_policy_book(folder)
    except PolicyFileError as error:
        raise UsageError(f"policy folder refused:\n{error}") from None


async def _replay(args: argparse.Namespace) -> int:
    as_of = None
    if args.as_of:
        try:
            as_of = datetime.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(
                f"--as-of {args.as_of!r} is not an ISO 8601 time (e.g. 2025-06-30T23:59:59+08:00)"
            ) from None
        as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    policies = _policies(args.policies)
    async with postgres_ledger(_dsn(args), max_size=2) as store:
        report = await replay_report(store, args.psn, args.year, as_of=as_of, policies=policies)
    if report is None:
        when = f" as of {as_of.isoformat()}" if as_of else ""
        raise UsageError(f"the ledger holds no events for {args.psn} in {args.year}{when}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        replayed, stored = report["replayed"], report["projection"] or {}
        print(f"{args.psn} {args.year}" + (f" as of {report['as_of']}" if report["as_of"] else ""))
        print(f"  {'':<24} {'replayed':>16} {'projection':>16}")
        for name, value in replayed.items():
            if name in ("msg_type", "schema_version", "psn_no", "year") or isinstance(value, dict):
                continue
            print(f"  {name:<24} {value!s:>16} {stored.get(name)!s:>16}")
        for name, value in replayed.items():
            if isinstance(value, dict):
                shown = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
                print(f"  {name:<24} {shown}")
    differences = report["differences"]
    if differences is None:
        print("(as of an earlier time: the projection holds the year now, so they are not compared)")
        return 0
    for difference in differences:
        print(
            f"DIFFERENT {difference['field']}: replayed {difference['replayed']}, projection {difference['projection']}"
        )
    print("projection equals the replay" if not differences else f"{len(differences)} field(s) differ")
    return 1 if differences else 0


async def _verify(args: argparse.Namespace) -> int:
    async with postgres_pool(_dsn(args), max_size=2) as pool:
        report = await verify_ledger(PostgresLedger(pool), args.prefix, followers=lambda: verify_followers(pool))
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        for problem in report.problems():
            print(problem)
        checked = (
            f"{report.streams} stream(s), hash chains, totals and clearing tables checked in {report.seconds:.2f} s"
        )
        print(f"{checked}: " + ("intact" if report.ok else f"{len(report.problems())} problem(s)"))
    return 0 if report.ok else 1


async def _reprice(args: argparse.Namespace) -> int:
    book = _policies(args.policies)
    assert book is not None
    async with postgres_ledger(_dsn(args), max_size=2) as store:
        report = await reprice_year(store, book, args.year)
    difference = report.difference()
    if args.json:
        body = {
            "year": report.year,
            "settlements": report.settlements,
            "recorded": {f: format_yuan(report.recorded[f]) for f in FUND_FIELDS},
            "repriced": {f: format_yuan(report.repriced[f]) for f in FUND_FIELDS},
            "difference": {f: format_yuan(v) for f, v in difference.items()},
            "per_person": {p: format_yuan(v) for p, v in sorted(report.per_person.items())},
            "not_repriced": report.not_repriced,
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    print(f"{report.settlements} settlement(s) of {report.year} priced again (nothing written)")
    print(f"  {'fund':<10} {'recorded':>16} {'repriced':>16} {'difference':>16}")
    for name in FUND_FIELDS:
        recorded, repriced = report.recorded[name], report.repriced[name]
        change = format_yuan(repriced - recorded)
        print(f"  {name:<10} {format_yuan(recorded):>16} {format_yuan(repriced):>16} {change:>16}")
    if report.per_person:
        print("per person (change of fund_pay_sumamt):")
        for psn_no, person_change in sorted(report.per_person.items()):
            print(f"  {psn_no:<20} {format_yuan(person_change):>16}")
    for reason in report.not_repriced:
        print(f"not repriced: {reason}")
    return 0


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
    replay = commands.add_parser(
        "replay", parents=[database], help="a person's year rebuilt from its events, next to the stored totals"
    )
    replay.add_argument("--psn", required=True, help="psn_no")
    replay.add_argument("--year", required=True, type=int)
    replay.add_argument("--as-of", help="only events recorded up to this ISO 8601 time")
    replay.add_argument("--policies", help="policy folder: also show what is left of each cap")
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.set_defaults(handler=_replay)

    verify = commands.add_parser(
        "verify", parents=[database], help="hash chains, totals and clearing tables against the events"
    )
    verify.add_argument("--prefix", help="only streams whose id starts with this (skips the clearing tables)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)

    reprice = commands.add_parser(
        "reprice", parents=[database], help="price a year's settlements again under other policies; writes nothing"
    )
    reprice.add_argument("--policies", required=True, help="the policy folder to price under")
    reprice.add_argument("--year", required=True, type=int)
    reprice.add_argument("--json", action="store_true", help="print the report as JSON")
    reprice.set_defaults(handler=_reprice)

    serve = commands.add_parser("serve", help="run the ledger service: outbox relay, projections, HTTP audits")
    serve.set_defaults(handler=None)
    return parser


def _serve() -> int:
    """Settings come from the environment only (docs/operations.md), like the settlement service."""
    from pydantic import ValidationError

    from ledger.entrypoints.serve import serve
    from ledger.settings import LedgerSettings

    try:
        settings = LedgerSettings()
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
