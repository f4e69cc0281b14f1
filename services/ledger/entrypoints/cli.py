"""``ledger`` — operate and audit the event store.

    ledger migrate [--database-url URL] [--grant-to ROLE ...] [--grant-prune-to ROLE ...]
    ledger replay --psn PSN --year Y [--as-of TIME] [--policies DIR] [--json]
    ledger replay --institution CODE --region R --year Y [--as-of TIME] [--json]
    ledger reprice --clearing --region R --year Y --policies DIR [--dip-budget BOOK=YUAN ...] [--json]
    ledger verify [--prefix P] [--jobs N] [--json] [--anchors FILE ... --anchor-public-key FILE]
    ledger reprice --policies DIR --year Y [--json]
    ledger funds --region R --year Y [--policies DIR] [--json]
    ledger anchor [--out DIR] [--no-publish]      (signing key: $LEDGER_ANCHOR_KEY_FILE or $LEDGER_ANCHOR_KEY)
    ledger anchor-keygen --private-key FILE --public-key FILE
    ledger prune [--outbox-days N] [--idempotency-days N]
    ledger close-month | close-year | set-budget | decide-review | release-deposit | clearing
                     (the institution side: docs/clearing.md; ledger/clearing/cli.py)
    ledger detach-year --year Y                   (the schema owner; docs/ledger.md, "Partitions")
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
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from contracts.codes import Insutype
from contracts.money import format_yuan
from engine.errors import UnknownPolicy
from engine.policy_book import PolicyBook
from engine.policy_files import PolicyFileError, load_policy_book
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_pool import postgres_ledger, postgres_pool
from ledger.anchor_check import anchor_check
from ledger.anchors import (
    TOPIC,
    AnchorError,
    load_private_key,
    load_public_key,
    make_anchor,
    new_key_pair,
    publish_anchor,
    write_anchor,
)
from ledger.archive import archive_check, detach_year
from ledger.clearing.audit import clearing_check
from ledger.clearing.cli import (
    YEARS,
    ClearingUsage,
    admdvs,
    as_of_time,
    fixmedins_code,
    psn_no,
    replay_institution,
    whole_number,
    year,
)
from ledger.clearing.cli import add_parsers as add_clearing_parsers
from ledger.clearing.cli import reprice as reprice_clearing_cli
from ledger.follower import verify_followers
from ledger.funds import BOOK_NAMES, PoolOf, fund_report, prefix_pool, read_entries
from ledger.migrate import MigrationError, migrate
from ledger.prune import DEFAULT_IDEMPOTENCY_DAYS, DEFAULT_OUTBOX_DAYS, MIN_IDEMPOTENCY_DAYS, prune
from ledger.replay import replay_report
from ledger.reprice import FUND_FIELDS, reprice_year
from ledger.verify import verify_ledger
from ledger.verify_jobs import MAX_JOBS, VerifyJobsError, jobs_check, valid_jobs


class UsageError(Exception):
    """Something the user can fix on the command line; said in one sentence."""


def _dsn(args: argparse.Namespace) -> str:
    dsn = args.database_url or os.environ.get("DATABASE_URL")
    if not dsn:
        raise UsageError("no database: pass --database-url or set DATABASE_URL")
    try:
        urlsplit(dsn)  # what asyncpg reads it with: a broken IPv6 host is a ValueError there, not its own error
    except ValueError as error:
        raise UsageError(f"the database URL cannot be read: {error}") from None
    return str(dsn)


async def _migrate(args: argparse.Namespace) -> int:
    applied = await migrate(_dsn(args), grant_to=args.grant_to)
    print("\n".join(f"applied {name}" for name in applied) or "schema up to date")
    if args.grant_prune_to:
        connection = await asyncpg.connect(_dsn(args))
        try:
            for role in args.grant_prune_to:
                await connection.execute(f'GRANT ledger_pruner TO "{role.replace(chr(34), chr(34) * 2)}"')
        finally:
            await connection.close()
    return 0


def _read_secret(env_file: str, env_value: str, given: str | None, what: str) -> bytes:
    """A key from a file named on the command line or in $env_file, or the PEM in $env_value."""
    path = given or os.environ.get(env_file)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise UsageError(f"{what} {path}: {error.strerror}") from None
        except ValueError:  # a NUL in the name: no file can have it
            raise UsageError(f"{what} {path!r}: not a file name") from None
    if os.environ.get(env_value):
        return os.environ[env_value].encode()
    raise UsageError(f"no {what}: pass it on the command line or set {env_file} (or {env_value})")


async def _anchor(args: argparse.Namespace) -> int:
    key = load_private_key(_read_secret("LEDGER_ANCHOR_KEY_FILE", "LEDGER_ANCHOR_KEY", args.key_file, "signing key"))
    options = None if args.no_publish else _kafka_options()
    async with postgres_ledger(_dsn(args), max_size=2) as store:
        anchor = await make_anchor(store, key)
    statement = anchor.statement
    if args.out:
        print(f"wrote {write_anchor(anchor, Path(args.out))}")
    if options is not None:
        topic = os.environ.get("KAFKA_TOPIC_PREFIX", "") + TOPIC
        await publish_anchor(anchor, options, topic)
        print(f"published to {topic}")
    print(anchor.header_line())
    print(f"anchored {statement['streams']} stream head(s) below position {statement['below_position']}")
    return 0


def _kafka_options() -> dict[str, object]:
    from pydantic import ValidationError

    from ops.kafka import aiokafka_options
    from ops.settings import CommonSettings

    try:
        settings = CommonSettings(database_url="unused")
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]).upper() for e in error.errors())
        raise UsageError(f"cannot publish the anchor: {names} missing or invalid (or pass --no-publish)") from None
    return aiokafka_options(settings)


async def _anchor_keygen(args: argparse.Namespace) -> int:
    private, public = new_key_pair()
    try:
        with open(args.private_key, "xb", opener=lambda path, flags: os.open(path, flags, 0o600)) as out:
            out.write(private)
        Path(args.public_key).write_bytes(public)
    except OSError as error:
        raise UsageError(f"{error.filename}: {error.strerror}") from None
    except ValueError:  # a NUL in a name: no file can have it
        raise UsageError("--private-key and --public-key take file names") from None
    print(f"private key (keep it secret, give it to `ledger anchor`): {args.private_key}")
    print(f"public key (give it to the auditors, for `ledger verify --anchors`): {args.public_key}")
    return 0


async def _prune(args: argparse.Namespace) -> int:
    if args.idempotency_days < MIN_IDEMPOTENCY_DAYS:
        raise UsageError(f"--idempotency-days must be at least {MIN_IDEMPOTENCY_DAYS} (docs/ledger.md, Retention)")
    if args.outbox_days < 0:
        raise UsageError("--outbox-days may not be negative")
    async with postgres_pool(_dsn(args), max_size=1) as pool:
        pruned = await prune(pool, outbox_days=args.outbox_days, idempotency_days=args.idempotency_days)
    print(
        f"pruned {pruned.outbox} published outbox row(s) older than {args.outbox_days} day(s) and "
        f"{pruned.idempotency} idempotency row(s) older than {args.idempotency_days} day(s)"
    )
    return 0


def _policies(folder: str | None) -> PolicyBook | None:
    if folder is None:
        return None
    try:
        return load_policy_book(folder)
    except PolicyFileError as error:
        raise UsageError(f"policy folder refused:\n{error}") from None


async def _replay(args: argparse.Namespace) -> int:
    if args.institution:
        return await replay_institution(_dsn(args), args)
    if not args.psn:
        raise UsageError("replay needs --psn PSN (a person-year) or --institution CODE --region R")
    as_of = as_of_time(args.as_of)
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
    anchors = None
    if args.anchors:
        public = _read_secret("LEDGER_ANCHOR_PUBLIC_KEY_FILE", "LEDGER_ANCHOR_PUBLIC_KEY", args.anchor_public_key,
                              "anchor public key")  # fmt: skip
        anchors = anchor_check([Path(name) for name in args.anchors], load_public_key(public))
    async with postgres_pool(_dsn(args), max_size=2) as pool:
        store = PostgresLedger(pool)
        policies = _policies(args.policies or os.environ.get("LEDGER_POLICIES_DIR"))
        report = await verify_ledger(
            store,
            args.prefix,
            followers=lambda: verify_followers(pool),
            anchors=anchors,
            clearing=None if args.prefix else clearing_check(store, pool, policies),
            archives=archive_check(pool) if args.prefix is None else None,
            streams=jobs_check(_dsn(args), pool, args.jobs) if args.jobs > 1 else None,
        )
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        for problem in report.problems():
            print(problem)
        print(report.summary())
    return 0 if report.ok else 1


async def _detach_year(args: argparse.Namespace) -> int:
    async with postgres_pool(_dsn(args), max_size=1) as pool:
        year = await detach_year(pool, args.year)
    print(f"year {year.year} detached as table {year.partition}: {year.events} events in {year.streams} streams, "
          f"heads digest {year.heads_digest}")  # fmt: skip
    print(f"dump it (pg_dump --table {year.partition}), keep the dump with the anchors, then drop the table")
    return 0


async def _reprice(args: argparse.Namespace) -> int:
    if args.clearing:
        return await reprice_clearing_cli(_dsn(args), args)
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


def _pool_by_policies(book: PolicyBook) -> PoolOf:
    """The pooling region an insured region belongs to, as the policy in force says."""

    def pool_of(admdvs: str, fund: str, year: int) -> str | None:
        schemes = [Insutype.STAFF] if fund.startswith(("310", "330")) else [Insutype.RESIDENT, Insutype.STAFF]
        for scheme in schemes:  # medical aid is pooled like residents' insurance [002] [004]
            try:
                return book.in_force(admdvs, scheme, date(year, 12, 31)).policy.policy.region
            except UnknownPolicy:
                continue
        return None

    return pool_of


async def _funds(args: argparse.Namespace) -> int:
    book = _policies(args.policies)
    pool_of = _pool_by_policies(book) if book is not None else prefix_pool(args.region)
    async with postgres_pool(_dsn(args), max_size=2) as pool:
        rows = await read_entries(pool)
    lines = fund_report(rows, args.region, args.year, pool_of)
    if args.json:
        body = [
            {
                "fund_pay_type": line.fund,
                "income": None if line.income is None else format_yuan(line.income),
                "spending": format_yuan(line.spending),
                "balance": None if line.balance is None else format_yuan(line.balance),
                "months_payable": None if line.months_payable is None else str(line.months_payable),
                "items": {k: format_yuan(v) for k, v in sorted(line.items.items())},
            }
            for line in lines
        ]
        print(json.dumps({"region": args.region, "year": args.year, "books": body}, ensure_ascii=False, indent=2))
        return 0
    print(f"fund books of {args.region}, {args.year} (yuan; balance over every year up to {args.year})")
    print(f"  {'fund':<40} {'income':>16} {'spending':>16} {'balance':>16} {'基金可支付月数':>8}")
    for line in lines:
        months = "—" if line.months_payable is None else str(line.months_payable)
        name = f"{line.fund} {BOOK_NAMES[line.fund]}"
        income, balance = (_yuan_or(line.income), _yuan_or(line.balance))
        print(f"  {name:<40} {income:>16} {format_yuan(line.spending):>16} {balance:>16} {months:>8}")
    if any(line.income is None for line in lines):
        print("  (not recorded: the medical-aid fund's income, from the treasury, is not in this ledger)")
    return 0


def _yuan_or(fen: int | None) -> str:
    return "not recorded" if fen is None else format_yuan(fen)


def _jobs(text: str) -> int:
    if not text.isascii():  # int() would read "３" as 3
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number from 1 to {MAX_JOBS} in ASCII digits")
    try:
        return valid_jobs(text)
    except ValueError as error:  # argparse prints it after the usage line and exits 2
        raise argparse.ArgumentTypeError(str(error)) from None


# A retention horizon longer than every day of the years the ledger can hold keeps everything; a
# bigger number only overflows the interval it becomes (timedelta, PostgreSQL).
MAX_DAYS = (YEARS[-1] - YEARS[0] + 1) * 366


def _days(text: str) -> int:
    return whole_number(text, MAX_DAYS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledger", description="Operate the settlement ledger's event store.")
    commands = parser.add_subparsers(dest="command", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database-url", help="PostgreSQL DSN (default: $DATABASE_URL)")

    run = commands.add_parser("migrate", parents=[database], help="apply the schema migrations that are missing")
    run.add_argument("--grant-to", action="append", default=[], metavar="ROLE", help="login role to run as ledger_app")
    run.add_argument(
        "--grant-prune-to",
        action="append",
        default=[],
        metavar="ROLE",
        help="login role of the prune job",
    )
    run.set_defaults(handler=_migrate)

    replay = commands.add_parser(
        "replay", parents=[database], help="a person's year rebuilt from its events, next to the stored totals"
    )
    replay.add_argument("--psn", type=psn_no, help="psn_no (a person-year)")
    replay.add_argument(
        "--institution", type=fixmedins_code, help="fixmedins_code: an institution-year of the clearing instead"
    )
    replay.add_argument("--region", type=admdvs, help="with --institution: the pooling region")
    replay.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    replay.add_argument("--as-of", help="only events recorded up to this ISO 8601 time")
    replay.add_argument("--policies", help="policy folder: also show what is left of each cap")
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.set_defaults(handler=_replay)

    verify = commands.add_parser(
        "verify", parents=[database], help="hash chains, totals and clearing tables against the events"
    )
    verify.add_argument("--prefix", help="only streams whose id starts with this (skips the clearing tables)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help=f"check the chains and totals in N processes sharing one snapshot (1-{MAX_JOBS}; default 1)",
    )
    verify.add_argument("--anchors", nargs="+", metavar="FILE", help="anchor files to check the chains against")
    verify.add_argument("--policies", help="policy folder: recount the closes' pre-payments and year ends too")
    verify.add_argument(
        "--anchor-public-key",
        metavar="FILE",
        help="the auditor's copy of the anchors' Ed25519 public key (PEM; default: $LEDGER_ANCHOR_PUBLIC_KEY_FILE)",
    )
    verify.set_defaults(handler=_verify)

    funds = commands.add_parser(
        "funds", parents=[database], help="each fund's income, spending, balance and months payable (基金可支付月数)"
    )
    funds.add_argument(
        "--region", required=True, type=admdvs, help="pooling region, e.g. 640000 (province) or 220300 (city)"
    )
    funds.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    funds.add_argument("--policies", help="policy folder: place each insured region in its pool as the policies do")
    funds.add_argument("--json", action="store_true", help="print the books as JSON, with their items")
    funds.set_defaults(handler=_funds)

    reprice = commands.add_parser(
        "reprice", parents=[database], help="price a year's settlements again under other policies; writes nothing"
    )
    reprice.add_argument("--policies", required=True, help="the policy folder to price under")
    reprice.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    reprice.add_argument("--json", action="store_true", help="print the report as JSON")
    reprice.add_argument("--clearing", action="store_true", help="what the fund owes the hospitals instead")
    reprice.add_argument("--region", type=admdvs, help="with --clearing: the pooling region")
    reprice.add_argument(
        "--dip-budget", action="append", default=[], metavar="BOOK=YUAN", help="with --clearing: another DIP budget"
    )
    reprice.set_defaults(handler=_reprice)

    anchor = commands.add_parser(
        "anchor", parents=[database], help="sign every stream's head; publish it to Kafka and/or write a file"
    )
    anchor.add_argument("--key-file", help="Ed25519 private key, PEM (default: $LEDGER_ANCHOR_KEY_FILE)")
    anchor.add_argument("--out", metavar="DIR", help="also write the anchor with every head to a file in DIR")
    anchor.add_argument("--no-publish", action="store_true", help="do not publish to <prefix>ledger-anchors.v1")
    anchor.set_defaults(handler=_anchor)
    keygen = commands.add_parser("anchor-keygen", help="make the Ed25519 key pair that signs the anchors")
    keygen.add_argument(
        "--private-key", required=True, metavar="FILE", help="written with mode 0600, never overwritten"
    )
    keygen.add_argument("--public-key", required=True, metavar="FILE")
    keygen.set_defaults(handler=_anchor_keygen)

    pruning = commands.add_parser(
        "prune", parents=[database], help="delete published outbox rows and idempotency rows past their horizon"
    )
    pruning.add_argument(
        "--outbox-days",
        type=_days,  # also read from the default: a bad environment value is refused like an argument
        default=os.environ.get("LEDGER_OUTBOX_RETENTION_DAYS", str(DEFAULT_OUTBOX_DAYS)),
        help=f"keep published outbox rows this long (default $LEDGER_OUTBOX_RETENTION_DAYS or {DEFAULT_OUTBOX_DAYS})",
    )
    pruning.add_argument(
        "--idempotency-days",
        type=_days,
        default=os.environ.get("LEDGER_IDEMPOTENCY_RETENTION_DAYS", str(DEFAULT_IDEMPOTENCY_DAYS)),
        help=f"keep idempotency rows this long, >= {MIN_IDEMPOTENCY_DAYS} "
        f"(default $LEDGER_IDEMPOTENCY_RETENTION_DAYS or {DEFAULT_IDEMPOTENCY_DAYS})",
    )
    pruning.set_defaults(handler=_prune)

    add_clearing_parsers(commands, database)

    detach = commands.add_parser(
        "detach-year", parents=[database], help="take a closed year's partition out of the live log (schema owner)"
    )
    detach.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    detach.set_defaults(handler=_detach_year)

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
        if getattr(args, "clearing_handler", None) is not None:
            code: int = asyncio.run(args.clearing_handler(_dsn(args), args))
        else:
            code = asyncio.run(args.handler(args))
    except (
        UsageError,
        ClearingUsage,
        MigrationError,
        AnchorError,
        VerifyJobsError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.ClientConfigurationError,  # a database URL asyncpg refuses (its scheme, sslmode, …)
    ) as error:
        print(f"ledger: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: whatever was running stopped (verify --jobs ends its workers)
        print("ledger: interrupted; nothing was concluded", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
