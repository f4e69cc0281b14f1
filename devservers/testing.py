"""Where the tests' Kafka and PostgreSQL come from, in this order:

1. DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS in the environment: an existing server, used as is
   (DATABASE_URL must name a role allowed to CREATE DATABASE);
2. a Docker engine that answers, with testcontainers installed: throw-away containers;
3. the local servers of this package, started if needed. The last test session using them
   stops them at its end, unless `devservers up` started them (pinned) or DEVSERVERS_KEEP=1.

Used by tests/conftest.py. Heavy imports (aiokafka, asyncpg, testcontainers) happen inside
the functions, so collecting unit tests never pays for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import re
import threading
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from devservers import usage
from devservers.paths import layout
from devservers.procs import file_lock

T = TypeVar("T")

# Images for the Docker path, matching the local servers: Confluent 7.9 is Apache Kafka 3.9.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
POSTGRES_IMAGE = "postgres:18"

local_logs: Path | None = None  # set once a local server is used; conftest prints it on failure


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database (query options such as sslmode kept)."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(database)))


def _keep() -> bool:
    return os.environ.get("DEVSERVERS_KEEP", "").lower() in ("1", "true", "yes")


@functools.cache
def docker_usable() -> bool:
    if os.environ.get("DEVSERVERS_DOCKER", "").lower() in ("0", "false", "no", "off"):
        return False
    if importlib.util.find_spec("testcontainers") is None or importlib.util.find_spec("docker") is None:
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False  # spare the client its connection timeout
    try:
        docker = importlib.import_module("docker")  # optional: testcontainers brings it
        return bool(docker.from_env(timeout=5).ping())
    except Exception:  # any failure means "no usable engine": fall through to local servers
        return False


@contextmanager
def postgres_admin_dsn() -> Iterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield with_database(configured, "postgres")
    elif docker_usable():
        postgres_container = importlib.import_module("testcontainers.postgres").PostgresContainer

        with postgres_container(POSTGRES_IMAGE, driver=None) as container:
            yield with_database(container.get_connection_url(), "postgres")
    else:
        from devservers.postgres import PostgresServer

        with _local(PostgresServer) as status:
            yield status.dsn()


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
    elif docker_usable():
        kafka_container = importlib.import_module("testcontainers.kafka").KafkaContainer

        container = (
            kafka_container(KAFKA_IMAGE)
            .with_kraft()
            # One broker: the transaction log cannot have the default three replicas.
            .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        )
        with container:
            yield container.get_bootstrap_server()
    else:
        from devservers.kafka import KafkaBroker

        with _local(KafkaBroker) as status:
            yield status.bootstrap


@contextmanager
def _local(server_class: Any) -> Iterator[Any]:
    global local_logs
    where = layout().create()
    server = server_class(where)
    local_logs = where.logs
    with file_lock(where.lock):
        status, _ = server.up()
        lease = usage.take_lease(server.folder)
    try:
        yield status
    finally:
        with file_lock(where.lock):
            lease.unlink(missing_ok=True)
            # Another pytest run may be using the same servers right now: last one out stops them.
            if not (_keep() or usage.is_pinned(server.folder) or usage.live_leases(server.folder)):
                server.down()


def run_sync(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop (an async
    test calling a sync helper): on its own loop in a worker thread, bounded by timeout."""
    result: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(asyncio.run(asyncio.wait_for(coroutine, timeout)))
        except BaseException as caught:
            error.append(caught)

    worker = threading.Thread(target=work, name="devservers-run-sync", daemon=True)
    worker.start()
    worker.join(timeout + 10)
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"gave up after {timeout:.0f}s")
    return result[0]


def new_database(admin_dsn: str) -> str:
    name = f"test_{uuid.uuid4().hex[:16]}"
    run_sync(execute_sql(admin_dsn, f'CREATE DATABASE "{name}"'), timeout=60)
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    # FORCE: a test that leaked a connection must not make the next one fail.
    run_sync(execute_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), timeout=60)


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database named ``<prefix>_<random>`` for a benchmark or a script, dropped after
    (FORCE: whatever the run left connected); yields its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await execute_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_dsn, name)
    finally:
        await execute_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def execute_sql(dsn: str, statement: str) -> None:
    """One statement on a connection of its own (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def topic_name(prefix: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9._-]', '-', prefix)[:200]}-{uuid.uuid4().hex[:12]}"


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create the topic and return once every partition has a leader this broker reports, so
    a consumer subscribing right away sees all partitions at its first assignment."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, partitions, 1)])
        for topic_error in response.topic_errors:
            if topic_error[1] != 0:
                raise RuntimeError(f"creating topic {name} failed: {topic_error}")
        while True:
            (described,) = await admin.describe_topics([name])
            ready = [p for p in described["partitions"] if p["leader"] >= 0 and p["error_code"] == 0]
            if described["error_code"] == 0 and len(ready) == partitions:
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
