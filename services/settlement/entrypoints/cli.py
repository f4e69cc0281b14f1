"""`settlement` command line: price offline, serve, send. Bad input gets a sentence, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Sequence
from typing import ClassVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from ops.logging import configure_logging
from ops.settings import CommonSettings
from settlement.entrypoints import offline
from settlement.settings import SettlementSettings


class CommonSendSettings(CommonSettings):
    """A producer needs only the broker; the database is not its business, and it writes no
    log about people (so no pseudonym key)."""

    database_url: SecretStr = SecretStr("")
    needs_pseudonym_key: ClassVar[bool] = False


EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="settlement", description="Settle basic medical insurance claims.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True)
    price = commands.add_parser(
        "price",
        help="price a JSONL file of enrolments, claims and reversals offline (in-memory ledger)",
        description="Read enrolments.v2 / claims.v2 messages, one per line, in order; write one "
        "result or rejection per line as JSONL to stdout.",
    )
    price.add_argument("input", help="JSONL file ('-' for standard input)")
    price.add_argument("--policies", required=True, help="folder of policy TOML files")
    price.add_argument("--totals", action="store_true", help="then print every person's annual totals")
    price.add_argument("--summary", action="store_true", help="then print a readable summary to stderr")
    serve = commands.add_parser(
        "serve", help="run the service: Kafka consumer and HTTP (settings from the environment)"
    )
    serve.set_defaults()
    send = commands.add_parser("send", help="publish a JSONL file to Kafka and print the answers as they arrive")
    send.add_argument("input", help="JSONL file of claims.v2 / enrolments.v2 messages")
    send.add_argument("--wait", type=float, default=60.0, help="seconds to wait for all answers (default 60)")
    send.add_argument(
        "--principal",
        help="send as this principal, on its own topics (claims.v1.<principal>; default: KAFKA_SASL_USERNAME "
        "with SASL, else the shared topics); credentials from KAFKA_SASL_* (docs/integrating.md)",
    )
    redrive = commands.add_parser(
        "redrive",
        help="publish the dead letters back to their topics after a fix (each once; see docs/operations.md)",
        description="Read <prefix>claims.dlq.v1 and <prefix>enrolments.dlq.v1 from where the last redrive "
        "stopped, publish every record back to its original topic and print one JSON line per record.",
    )
    redrive.add_argument("--dry-run", action="store_true", help="list the dead letters; publish and commit nothing")
    sample = commands.add_parser(
        "sample", help="write a generated day of messages (JSONL) to stdout (from a source checkout)"
    )
    sample.add_argument("--people", type=int, default=200, help="people enrolled (default 200)")
    sample.add_argument("--seed", type=int, default=2025, help="random seed (same seed, same lines)")
    return parser


def _settings(kind: type[BaseSettings]) -> BaseSettings:
    try:
        return kind()
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]).upper() for e in error.errors())
        raise offline.UserError(f"settings missing or invalid: {names} (see docs/operations.md)") from None


def _sample(people: int, seed: int) -> int:
    """The examples' generator (examples/generator.py) lives in the source tree, not in the
    installed product: run from a checkout, or use python -m examples.generator."""
    try:
        from examples.generator import day_lines  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise offline.UserError(
            "sample needs the examples of a source checkout: run it from the repository's root "
            "(or: python -m examples.generator day)"
        ) from None
    lines: list[str] = day_lines(people, seed)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "price":
            # Answers alone on stdout; what goes wrong, on stderr, pseudonymised with a key of this
            # run unless LOG_PSEUDONYM_KEY is given (an offline run has no logs to correlate).
            key = os.environ.get("LOG_PSEUDONYM_KEY") or secrets.token_hex(16)
            configure_logging("WARNING", key, "settlement-price", stream=sys.stderr)
            return asyncio.run(offline.price(args.input, args.policies, totals=args.totals, summary=args.summary))
        if args.command == "sample":
            return _sample(args.people, args.seed)
        if args.command == "serve":
            from settlement.entrypoints.serve import serve

            return serve(_settings(SettlementSettings))  # type: ignore[arg-type]
        if args.command == "send":
            from settlement.entrypoints.send import SendError, send

            try:
                common: CommonSettings = _settings(CommonSendSettings)  # type: ignore[assignment]
                sasl = common.kafka_security_protocol.startswith("SASL")
                principal = args.principal or (common.kafka_sasl_username if sasl else None)
                return asyncio.run(send(args.input, common, wait_s=args.wait, out=sys.stdout, principal=principal))
            except SendError as error:
                raise offline.UserError(str(error)) from None
        if args.command == "redrive":
            from settlement.entrypoints.redrive import RedriveError, redrive

            try:
                broker: CommonSettings = _settings(CommonSendSettings)  # type: ignore[assignment]
                return asyncio.run(redrive(broker, dry_run=args.dry_run, out=sys.stdout))
            except RedriveError as error:
                raise offline.UserError(str(error)) from None
        return EXIT_BAD_INPUT  # pragma: no cover - argparse requires a command
    except offline.UserError as error:
        print(f"settlement: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(f"settlement: internal error ({type(error).__name__}: {error}); rerun with --debug", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
