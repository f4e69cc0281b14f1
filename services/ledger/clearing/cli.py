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
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts.claims import Admdvs, Code, FixmedinsCode, PsnNo
from contracts.codes import FundPayType
from contracts.inbound import EARLIEST_DAY, LATEST_DAY
from contracts.money import parse_yuan
from engine.clearing.year_end import Budget, ReviewDecision, YearEndGap
from engine.policy_book import PolicyBook
from engine.policy_files import PolicyFileError, load_policy_book
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_pool import postgres_pool
from ledger.clearing.commands import (
    ClearingCommands,
    CommandRefused,
    Outcome,
    refuse_coefficient,
    refuse_negative_budget,
    refuse_unpayable,
)
from ledger.clearing.render import csv_text, table
from ledger.clearing.source import ProjectionSource
from ledger.clearing.statement import statement


class ClearingUsage(Exception):
    """A clearing command that cannot be done as asked (exit 2, one sentence)."""


# -- arguments, checked as argparse reads them (before any connection: a refused argument writes
# nothing). Each says in one sentence what it takes; argparse prints it and exits 2.

# The years the ledger can hold are the years of the contracts' dates (contracts/inbound.py): every
# claim, enrolment and so every stream's year falls in them. The events table's partitions
# (migration 0011, ledger_add_year) take any four-digit year, a wider range no event can reach.
YEARS = range(EARLIEST_DAY.year, LATEST_DAY.year + 1)
# ASCII digits only: int() and Decimal() also read "２０２５" and Arabic-Indic digits.
_WHOLE = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")
# What a free-text argument may not hold: the controls no field of the contracts may hold (tab and
# line breaks stay), and the lone surrogates that stand for bytes of an argument that were not
# UTF-8 — the ledger's JSON refuses NUL and surrogates (ledger/hashing.py).
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _shown(text: str) -> str:
    """An argument quoted in a refusal: escaped by repr, and short."""
    return repr(text[:40]) + ("…" if len(text) > 40 else "")


def year(text: str) -> int:
    if not _WHOLE.fullmatch(text) or int(text) not in YEARS:
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} is not a year the ledger can hold: a year from {YEARS[0]} to {YEARS[-1]} in ASCII digits"
        )
    return int(text)


def month(text: str) -> int:
    if not _WHOLE.fullmatch(text) or not 1 <= int(text) <= 12:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a month: a number from 1 to 12 in ASCII digits")
    return int(text)


def whole_number(text: str, high: int) -> int:
    """A count given on the command line (days, …): ASCII digits, from 0 to ``high``."""
    if not _WHOLE.fullmatch(text) or int(text) > high:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number from 0 to {high} in ASCII digits")
    return int(text)


def decimal_number(text: str) -> Decimal:
    """--points, --coefficient: plain ASCII decimal notation (no sign, exponent, NaN or infinity)."""
    if not _DECIMAL.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number written like 0.9 or 1200.5 (ASCII digits)")
    return Decimal(text)


def free_text(text: str) -> str:
    if _UNWRITABLE.search(text):
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} holds a control character or bytes that are not UTF-8, which the ledger cannot record"
        )
    return text


def _contract(adapter: TypeAdapter[str], what: str) -> Callable[[str], str]:
    """An argument read with the contracts' own type for the same field on the wire."""

    def check(text: str) -> str:
        try:
            return adapter.validate_python(text)
        except ValidationError:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {what}") from None

    return check


admdvs = _contract(TypeAdapter(Admdvs), "an admdvs (admin division code): six ASCII digits, e.g. 640000")
fixmedins_code = _contract(
    TypeAdapter(FixmedinsCode), "a fixmedins_code: 1 to 50 ASCII letters, digits, '.', '_' or '-'"
)
psn_no = _contract(TypeAdapter(PsnNo), "a psn_no: 1 to 30 ASCII letters, digits, '_' or '-'")
setl_id = _contract(TypeAdapter(Code), "a setl_id: 1 to 50 visible ASCII characters, no spaces")


def fund(text: str) -> FundPayType:
    try:
        return FundPayType(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a fund_pay_type (310100, 390100, …)") from None


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


def _checked(refuse: Callable[[Any], None], argument: Any) -> None:
    """A command's own check of its arguments, run before connecting."""
    try:
        refuse(argument)
    except CommandRefused as refused:
        raise ClearingUsage(str(refused)) from None


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
    _checked(refuse_negative_budget, budget)

    async def act(c: ClearingCommands) -> int:
        return _said(await c.set_budget(args.admdvs, args.year, args.fund, budget))

    return await _run(dsn, args, act)


async def decide_review(dsn: str, args: argparse.Namespace) -> int:
    decision = ReviewDecision(args.setl_id, args.outcome, _yuan(args.amount, "--amount"), args.points, args.reason)
    if (args.outcome == "amount") != (decision.amount is not None) or (args.outcome == "points") != (
        args.points is not None
    ):
        raise ClearingUsage("--outcome amount takes --amount, --outcome points takes --points, confirm neither")
    _checked(refuse_unpayable, decision)

    async def act(c: ClearingCommands) -> int:
        return _said(await c.decide_review(args.setl_id, decision))

    return await _run(dsn, args, act)


async def release_deposit(dsn: str, args: argparse.Namespace) -> int:
    coefficient = args.coefficient
    _checked(refuse_coefficient, coefficient)

    async def act(c: ClearingCommands) -> int:
        return _said(await c.release_deposit(args.institution, args.year, args.fund, coefficient, args.region))

    return await _run(dsn, args, act)


def as_of_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ClearingUsage(f"--as-of {text!r} is not an ISO 8601 time (e.g. 2025-06-30T23:59:59+08:00)") from None
    if not EARLIEST_DAY <= at.date() <= LATEST_DAY:
        raise ClearingUsage(f"--as-of {text!r} is outside the years the ledger can hold ({YEARS[0]} to {YEARS[-1]})")
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
    region.add_argument(
        "--region", required=True, type=admdvs, help="the pooling region's admdvs (the policy's region)"
    )
    region.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")

    p = commands.add_parser("close-month", parents=[database, policies, region], help="close a clearing month")
    p.add_argument("--month", required=True, type=month, help="1-12")
    p.set_defaults(handler=None, clearing_handler=close_month)
    p = commands.add_parser("close-year", parents=[database, policies, region], help="the year-end settlement")
    p.set_defaults(handler=None, clearing_handler=close_year)

    p = commands.add_parser("set-budget", parents=[database, policies], help="record an area's budget for a year")
    p.add_argument(
        "--admdvs", required=True, type=admdvs, help="the pooling region (DIP/DRG pools) or a county (its total)"
    )
    p.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    p.add_argument("--fund", required=True, type=fund, help="the fund book: 310100 or 390100")
    for name in ("dip", "drg", "total"):
        p.add_argument(f"--{name}", help=f"the {name.upper() if name != 'total' else 'spending'} budget, yuan")
    p.set_defaults(handler=None, clearing_handler=set_budget)

    p = commands.add_parser("decide-review", parents=[database, policies], help="record a special-review decision")
    p.add_argument("--setl-id", required=True, type=setl_id)
    p.add_argument("--outcome", required=True, choices=["confirm", "amount", "points"])
    p.add_argument("--amount", help="yuan the basic fund owes for the case (outcome amount)")
    p.add_argument("--points", type=decimal_number, help="the case's DIP points (outcome points)")
    p.add_argument("--reason", default="", type=free_text, help="the panel's reason, recorded")
    p.set_defaults(handler=None, clearing_handler=decide_review)

    p = commands.add_parser("release-deposit", parents=[database, policies], help="release a quality deposit")
    p.add_argument("--institution", required=True, type=fixmedins_code)
    p.add_argument("--year", required=True, type=year, help=f"{YEARS[0]}-{YEARS[-1]}")
    p.add_argument("--fund", required=True, type=fund)
    p.add_argument(
        "--coefficient", required=True, type=decimal_number, help="the assessment's share of the deposit paid out, 0..1"
    )
    p.add_argument(
        "--region",
        type=admdvs,
        help="the pooling region whose year end withheld it (needed if several cleared the hospital)",
    )
    p.set_defaults(handler=None, clearing_handler=release_deposit)

    p = commands.add_parser("clearing", parents=[database, policies, region], help="clearing statements")
    p.add_argument("--month", type=month, help="1-12")
    p.add_argument("--institution", type=fixmedins_code, help="one institution's statement (fixmedins_code)")
    p.add_argument("--as-of", help="as the ledger knew it at this ISO 8601 time")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(handler=None, clearing_handler=clearing_statement)
