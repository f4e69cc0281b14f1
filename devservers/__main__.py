"""python -m devservers up|down|status|env|logs|reset|versions|token — the local Kafka and PostgreSQL.

This command always manages the local servers: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS in the
environment are for the programs that use a server (tests, demo), not for this one.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time

from devservers import usage
from devservers.kafka import KafkaBroker, KafkaError
from devservers.kafka_jars import JarsError, kafka_version
from devservers.paths import Layout, layout
from devservers.postgres import APP_DATABASE, PostgresError, PostgresServer, server_version
from devservers.procs import file_lock, tail

SERVERS = ("kafka", "postgres")
LOG_FILES = ("kafka.log", "kafka.out", "kafka-storage.log", "maven.log", "postgres.log", "postgres-initdb.log")


def _selected(only: str | None) -> tuple[str, ...]:
    return (only,) if only else SERVERS


def up(where: Layout, only: str | None) -> int:
    where.create()
    with file_lock(where.lock):
        for name in _selected(only):
            began = time.monotonic()
            if name == "kafka":
                kafka, started = KafkaBroker(where).up()
                detail = kafka.detail
            else:
                postgres, started = PostgresServer(where).up()
                detail = postgres.detail
            usage.pin(getattr(where, name))  # started by hand: test sessions leave it running
            verb = f"started in {time.monotonic() - began:.1f}s" if started else "already running"
            print(f"{name}: {verb}: {detail}")
    print(f"logs: {where.logs}")
    return 0


def down(where: Layout, only: str | None) -> int:
    where.create()
    with file_lock(where.lock):
        for name in _selected(only):
            usage.unpin(getattr(where, name))
            stopped = KafkaBroker(where).down() if name == "kafka" else PostgresServer(where).down()
            print(f"{name}: {'stopped' if stopped else 'was not running'}")
    return 0


def status(where: Layout) -> int:
    kafka, postgres = KafkaBroker(where).status(), PostgresServer(where).status()
    print(f"kafka:    {kafka.detail}")
    print(f"postgres: {postgres.detail}")
    print(f"home:     {where.home}")
    return 0 if kafka.running and postgres.running else 3  # 3 as in `systemctl status`: not running


def env(where: Layout) -> int:
    kafka, postgres = KafkaBroker(where).status(), PostgresServer(where).status()
    if not (kafka.running and postgres.running):
        print("devservers: not running; start them with `python -m devservers up`", file=sys.stderr)
        return 1
    print(f"export DATABASE_URL={shlex.quote(postgres.dsn(APP_DATABASE))}")
    print(f"export KAFKA_BOOTSTRAP_SERVERS={shlex.quote(kafka.bootstrap)}")
    print("export MEDINS_ENV=local")  # the local servers are for local runs: the development log key is fine
    return 0


def logs(where: Layout, lines: int) -> int:
    for name in LOG_FILES:
        path = where.logs / name
        if path.exists():
            print(f"===== {path} (last {lines} lines)")
            print(tail(path, lines))
    return 0


def reset(where: Layout) -> int:
    """Stop both and delete data, state and logs; the cached Kafka jars stay."""
    down(where, None)
    shutil.rmtree(where.home, ignore_errors=True)
    print(f"removed {where.home}")
    return 0


def token(where: Layout, args: argparse.Namespace) -> int:
    """A token from the local issuer (generated into the home at first use), on stdout."""
    from devservers.issuer import local_issuer

    issuer = local_issuer(where.home)
    subject = args.subject or (f"{args.role}-{'-'.join(args.institution)}" if args.institution else args.role)
    print(issuer.mint(subject, [args.role], args.institution, ttl=args.ttl))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devservers", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("up", "start (no-op when already healthy)"), ("down", "stop")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--only", choices=SERVERS, help="just this server")
    commands.add_parser("status", help="exit 0 when both answer, 3 otherwise")
    commands.add_parser("env", help="print `export DATABASE_URL=… KAFKA_BOOTSTRAP_SERVERS=…` lines")
    sub = commands.add_parser("logs", help="print the tails of the server logs")
    sub.add_argument("-n", "--lines", type=int, default=60)
    commands.add_parser("reset", help="stop and delete all data, state and logs")
    commands.add_parser("versions", help="print the Kafka and PostgreSQL versions in use")
    sub = commands.add_parser("token", help="mint a bearer token from the local issuer (docs/local-servers.md)")
    sub.add_argument("--role", required=True, choices=("hospital", "auditor", "operator"))
    sub.add_argument("--institution", action="append", default=[], help="a fixmedins_code (repeatable)")
    sub.add_argument("--subject", help="the token's sub (default: made from the role and institutions)")
    sub.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    args = parser.parse_args(argv)
    where = layout()
    try:
        if args.command == "up":
            return up(where, args.only)
        if args.command == "down":
            return down(where, args.only)
        if args.command == "status":
            return status(where)
        if args.command == "env":
            return env(where)
        if args.command == "logs":
            return logs(where, args.lines)
        if args.command == "reset":
            return reset(where)
        if args.command == "token":
            return token(where, args)
        print(f"kafka {kafka_version()}\npostgresql {server_version()}")
        return 0
    except (KafkaError, JarsError, PostgresError, TimeoutError) as error:
        print(f"devservers: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
