"""The clearing's `ledger` subcommands (docs/clearing.md#commands):

    ledger close-month --region R --year Y --month M [--policies DIR]
    ledger close-year --region R --year Y [--policies DIR]
    ledger set-budget --admdvs A --year Y --fund 390100 [--dip YUAN] [--drg YUAN] [--total YUAN]
    ledger decide-review --setl-id S --outcome confirm|amount|points [--amount YUAN] [--points N] [--reason T]
    ledger release-deposit --institution CODE --year Y --fund 390100 --coefficient C [--region R]
    ledger clearing --region R --year Y [--month M] [--institution CODE] [--as-of T] [--format table|json|csv]

Each writing command prints its answer (JSON) and says when it had been done before.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.codes import FundPayType
from contracts.money import parse_yuan
from engine.clearing.year_end import Budget, ReviewDecision, YearEndGap
from engine.policy_book import PolicyBook
from engine.policy_files import PolicyFileError, load_policy_book
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_pool import postgres_pool
from ledger.clearing.commands import ClearingCommands, CommandRefused, Outcome
from ledger.clearing.render import csv_text, table
from ledger.clearing.source import ProjectionSource
from ledger.clearing.statement import statement


class ClearingUsage(Exception):
    """A clearing command that cannot be done as asked (exit 2, one sentence)."""


def _policies(folder: str | None, required: bool = True) -> PolicyBook:
    folder = folder or os.environ.get("LEDGER_POLICIES_DIR")
    if not folder and not required:
        return PolicyBook()  # a statement without the policies: no open month's would-be pre-payment
    if not folder:
        raise ClearingUsage("the clearing needs the policies: pass --policies DIR or set LEDGER_POLICIES_DIR")
    try:
        return load_policy_book(folder)
    except PolicyFileError as error:
        raise ClearingUsage(f"policy folder refused:\n{error}") from None


@asynccontextmanager
async def commands_for(dsn: str, policies: str | None, required: bool = True) -> AsyncIterator[ClearingCommands]:
    async with postgres_pool(dsn, max_size=3) as pool:
        yield ClearingCommands(
            PostgresLedger(pool), ProjectionSource(pool), _policies(policies, required), lambda: datetime.now(UTC),
            os.environ.get("KAFKA_TOPIC_PREFIX", ""),
        )  # fmt: skip


def _yuan(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_yuan(text)
    except ValueError as error:
        raise ClearingUsage(f"{what}: {error}") from None


def _fund(text: str) -> FundPayType:
    try:
        return FundPayType(text)
    except ValueError:
        raise ClearingUsage(f"--fund {text!r} is not a fund_pay_type (310100, 390100, …)") from None


def _said(outcome: Outcome) -> int:
    print(json.dumps(dict(outcome.answer), ensure_ascii=False, indent=2))
    if outcome.already and outcome.answer.get("in_force"):
        print("(already in force: nothing was written)")
    elif outcome.already:
        print("(done before: this is its recorded answer; nothing was written)")
    return 0


async def _run(
    dsn: str, args: argparse.Namespace, act: Callable[[ClearingCommands], Any], *, policies: bool = True
) -> int:
    try:
        async with commands_for(dsn, getattr(args, "policies", None), policies) as commands:
            result: int = await act(commands)
            return result
    except (CommandRefused, YearEndGap) as refused:
        raise ClearingUsage(str(refused)) from None


async def close_month(dsn: str, args: argparse.Namespace) -> int:
    async def act(c: ClearingCommands) -> int:
        return _said(await c.close_month(args.region, args.year, args.month))

    return await _run(dsn, args, act)


async def close_year(dsn: str, args: argparse.Namespace) -> int:
    async def act(c: ClearingCommands) -> int:
        return _said(await c.close_year(args.region, args.year))

    return await _run(dsn, args, act)


async def set_budget(dsn: str, args: argparse.Namespace) -> int:
    budget = Budget(_yuan(args.dip, "--dip"), _yuan(args.drg, "--drg"), _yuan(args.total, "--total"))
    if budget == Budget():
        raise ClearingUsage("give at least one of --dip, --drg, --total (yuan)")

    async def act(c: ClearingCommands) -> int:
        return _said(await c.set_budget(args.admdvs, args.year, _fund(args.fund), budget))

    return await _run(dsn, args, act)


async def decide_review(dsn: str, args: argparse.Namespace) -> int:
    try:
        points = None if args.points is None else Decimal(args.points)
    except InvalidOperation:
        raise ClearingUsage(f"--points {args.points!r} is not a number") from None
    decision = ReviewDecision(args.setl_id, args.outcome, _yuan(args.amount, "--amount"), points, args.reason)
    if (args.outcome == "amount") != (decision.amount is not None) or (args.outcome == "points") != (
        points is not None
    ):
        raise ClearingUsage("--outcome amount takes --amount, --outcome points takes --points, confirm neither")

    async def act(c: ClearingCommands) -> int:
        return _said(await c.decide_review(args.setl_id, decision))

    return await _run(dsn, args, act)


async def release_deposit(dsn: str, args: argparse.Namespace) -> int:
    try:
        coefficient = Decimal(args.coefficient)
    except InvalidOperation:
        raise ClearingUsage(f"--coefficient {args.coefficient!r} is not a number") from None

    async def act(c: ClearingCommands) -> int:
        return _said(await c.release_deposit(args.institution, args.year, _fund(args.fund), coefficient, args.region))

    return await _run(dsn, args, act)


def as_of_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ClearingUsage(f"--as-of {text!r} is not an ISO 8601 time (e.g. 2025-06-30T23:59:59+08:00)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def clearing_statement(dsn: str, args: argparse.Namespace) -> int:
    at = as_of_time(args.as_of)

    async def act(c: ClearingCommands) -> int:
        inputs = await c.inputs(args.region, args.year, args.institution, at)
        spending = None
        if args.institution is None:
            spending = await c.source.fund_spending(sorted(inputs.entries), args.year)
        body = statement(inputs, month=args.month, institution=args.institution, fund_spending=spending)
        if args.format == "json":
            print(json.dumps(body, ensure_ascii=False, indent=2))
        elif args.format == "csv":
            print(csv_text(body), end="")
        else:
            print(table(body))
        return 0

    return await _run(dsn, args, act, policies=False)


async def replay_institution(dsn: str, args: argparse.Namespace) -> int:
    """`ledger replay --institution CODE --region R --year Y [--as-of T]`: the institution-year
    rebuilt from its stream and its entries as the ledger knew them at T."""
    if not args.region:
        raise ClearingUsage("--institution needs --region (the pooling region whose clearing it is)")
    at = as_of_time(args.as_of)

    async def act(c: ClearingCommands) -> int:
        inputs = await c.inputs(args.region, args.year, args.institution, at)
        if not inputs.entries.get(args.institution):
            when = f" as of {at.isoformat()}" if at else ""
            raise ClearingUsage(f"the ledger holds no clearing for {args.institution} in {args.year}{when}")
        body = statement(inputs, institution=args.institution)
        print(json.dumps(body, ensure_ascii=False, indent=2) if args.json else table(body))
        return 0

    return await _run(dsn, args, act, policies=False)


async def reprice(dsn: str, args: argparse.Namespace) -> int:
    """`ledger reprice --clearing --region R --year Y --policies DIR [--dip-budget BOOK=YUAN …]`."""
    from ledger.clearing.reprice import budgets_given, reprice_clearing

    if not args.region:
        raise ClearingUsage("--clearing needs --region")
    try:
        budgets = budgets_given(args.dip_budget)
    except ValueError as error:
        raise ClearingUsage(f"--dip-budget takes BOOK=YUAN, e.g. 390100=400000.00 ({error})") from None

    async def act(c: ClearingCommands) -> int:
        report = await reprice_clearing(c, args.region, args.year, budgets)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2))
            return 0
        print(f"{args.region} {args.year} valued again (nothing written)")
        for book in report["books"]:
            print(f"  {book['fund_pay_type']} under {book['policy']}: DIP point value {book['point_value_yuan']}")
            for row in book["institutions"]:
                print(f"    {row['fixmedins_code']:<14} due {row['annual_due']:>14}"
                      f" (recorded {row['recorded_annual_due']}, difference {row['difference']})")  # fmt: skip
        return 0

    return await _run(dsn, args, act)


def add_parsers(commands: Any, database: argparse.ArgumentParser) -> None:
    """The clearing's subcommands on the `ledger` parser; each sets ``clearing_handler``."""
    policies = argparse.ArgumentParser(add_help=False)
    policies.add_argument("--policies", help="the policy folder (default: $LEDGER_POLICIES_DIR)")
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("--region", required=True, help="the pooling region's admdvs (the policy's region)")
    region.add_argument("--year", required=True, type=int)

    p = commands.add_parser("close-month", parents=[database, policies, region], help="close a clearing month")
    p.add_argument("--month", required=True, type=int)
    p.set_defaults(handler=None, clearing_handler=close_month)
    p = commands.add_parser("close-year", parents=[database, policies, region], help="the year-end settlement")
    p.set_defaults(handler=None, clearing_handler=close_year)

    p = commands.add_parser("set-budget", parents=[database, policies], help="record an area's budget for a year")
    p.add_argument("--admdvs", required=True, help="the pooling region (DIP/DRG pools) or a county (its total)")
    p.add_argument("--year", required=True, type=int)
    p.add_argument("--fund", required=True, help="the fund book: 310100 or 390100")
    for name in ("dip", "drg", "total"):
        p.add_argument(f"--{name}", help=f"the {name.upper() if name != 'total' else 'spending'} budget, yuan")
    p.set_defaults(handler=None, clearing_handler=set_budget)

    p = commands.add_parser("decide-review", parents=[database, policies], help="record a special-review decision")
    p.add_argument("--setl-id", required=True)
    p.add_argument("--outcome", required=True, choices=["confirm", "amount", "points"])
    p.add_argument("--amount", help="yuan the basic fund owes for the case (outcome amount)")
    p.add_argument("--points", help="the case's DIP points (outcome points)")
    p.add_argument("--reason", default="", help="the panel's reason, recorded")
    p.set_defaults(handler=None, clearing_handler=decide_review)

    p = commands.add_parser("release-deposit", parents=[database, policies], help="release a quality deposit")
    p.add_argument("--institution", required=True)
    p.add_argument("--year", required=True, type=int)
    p.add_argument("--fund", required=True)
    p.add_argument("--coefficient", required=True, help="the assessment's share of the deposit paid out, 0..1")
    p.add_argument(
        "--region", help="the pooling region whose year end withheld it (needed if several cleared the hospital)"
    )
    p.set_defaults(handler=None, clearing_handler=release_deposit)

    p = commands.add_parser("clearing", parents=[database, policies, region], help="clearing statements")
    p.add_argument("--month", type=int)
    p.add_argument("--institution", help="one institution's statement (fixmedins_code)")
    p.add_argument("--as-of", help="as the ledger knew it at this ISO 8601 time")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(handler=None, clearing_handler=clearing_statement)
