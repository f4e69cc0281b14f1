"""Fixtures for the real servers, and the integration / e2e marks by folder.

Nothing starts unless a test asks for one of these fixtures; where the servers come from
(environment, Docker, or the local servers of devservers/) is decided in devservers.testing.
Only pytest and the standard library are imported here, so unit tests stay cheap.

- postgres_admin_dsn (session): superuser DSN to the server's `postgres` database.
- database_url: a fresh empty database for this one test, dropped afterwards.
- kafka_bootstrap (session): "host:port".
- unique_topic: unique_topic(prefix, partitions=1) -> name of a freshly created topic.

The database and topic helpers are plain (sync) fixtures that work for sync and async tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests are local runs: the services they start may use the development pseudonym key
# (ops.settings requires LOG_PSEUDONYM_KEY otherwise).
os.environ.setdefault("MEDINS_ENV", "local")

_TESTS = Path(__file__).resolve().parent
_MARK_BY_FOLDER = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(_TESTS).parts[0]
        except (ValueError, IndexError):
            continue
        mark = _MARK_BY_FOLDER.get(folder)
        if mark is not None:
            item.add_marker(mark)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    import sys

    testing = sys.modules.get("devservers.testing")  # only loaded if a test used a server
    logs = getattr(testing, "local_logs", None)
    if exitstatus != 0 and logs is not None:
        terminalreporter.write_line(f"local Kafka/PostgreSQL logs: {logs}  (python -m devservers logs)")


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    from devservers import testing

    with testing.postgres_admin_dsn() as dsn:
        yield dsn


@pytest.fixture
def database_url(postgres_admin_dsn: str) -> Iterator[str]:
    from devservers import testing

    name = testing.new_database(postgres_admin_dsn)
    try:
        yield testing.with_database(postgres_admin_dsn, name)
    finally:
        testing.drop_database(postgres_admin_dsn, name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    from devservers import testing

    with testing.kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture
def unique_topic(kafka_bootstrap: str) -> Callable[..., str]:
    from devservers import testing

    def create(prefix: str, partitions: int = 1) -> str:
        name = testing.topic_name(prefix)
        testing.run_sync(testing.create_topic(kafka_bootstrap, name, partitions), timeout=60)
        return name

    return create
