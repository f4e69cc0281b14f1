"""Outage or not: the one question the consumer asks of every failure.

An **outage** may hold a partition: the batch is rewound and retried with backoff until the
database or broker is back (nothing is lost, nothing answered wrongly). Anything else — the
message's own content, or a bug it triggers — must not: the message is tried a bounded number
of times, then answered ``internal_error`` and dead-lettered (docs/operations.md).

The rule, for each library the service talks to (every class is listed with its verdict in
tests/unit/data/error_classes.tsv, and a test walks both libraries' full hierarchies):

- asyncpg server errors, by SQLSTATE: the classes and codes that describe the server, the
  connection or the schema (connection, authorisation, resources, operator intervention, system
  and internal errors, lost races, a read-only standby after failover, a missing migration) are
  outages; data exceptions, constraint and limit violations, trigger refusals and other
  statement errors are caused by what was written, so they are the message's.
- asyncpg client errors: the interface, protocol and internal-client families are outages
  (``InternalClientError`` is what a restarting server gives a pooled connection, issue 10
  item 7), except ``DataError`` and ``BufferError``, which a value that cannot be encoded causes.
- aiokafka: every broker or client error is an outage except the three a record too large
  for the broker causes.
- Python: ``OSError`` (connections) and ``TimeoutError`` are outages; any other exception is a bug.
"""

from __future__ import annotations

import asyncpg
from aiokafka import errors as kafka_errors
from asyncpg.exceptions._base import DataError as ArgumentDataError
from asyncpg.pgproto.pgproto import BufferError as PgBufferError

from settlement.service_layer.handlers import RetriesExhausted

# SQLSTATE classes (first two characters) that say the server or connection is not healthy.
OUTAGE_SQLSTATE_CLASSES = frozenset(
    {
        "08",  # connection exception
        "28",  # invalid authorization specification (a rotated password)
        "3D",  # invalid catalog name (the database is gone)
        "3F",  # invalid schema name (not migrated)
        "40",  # transaction rollback: serialization failure, deadlock — a lost race
        "53",  # insufficient resources: disk full, out of memory, too many connections
        "55",  # object not in prerequisite state: lock not available, object in use
        "57",  # operator intervention: shutdown, cannot connect now, statement timeout
        "58",  # system error: I/O error
        "72",  # snapshot too old
        "F0",  # configuration file error
        "XX",  # internal error: corrupted data or index
    }
)
OUTAGE_SQLSTATES = frozenset(
    {
        "25006",  # read_only_sql_transaction: connected to a standby after a failover
        "42501",  # insufficient_privilege: grants not (yet) given to the application role
        "42P01",  # undefined_table: the code is ahead of the migrations
        "42703",  # undefined_column
        "42883",  # undefined_function
    }
)
_CLIENT_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InterfaceError,  # connection closed, pool closing (DataError excepted below)
    asyncpg.exceptions.InternalClientError,  # ProtocolError, OutdatedSchemaCacheError, …
)
_VALUE_CAUSED: tuple[type[BaseException], ...] = (
    # a value the driver cannot encode (an int beyond 64 bits); not asyncpg.exceptions.DataError,
    # which is the server's SQLSTATE 22000 of the same name
    ArgumentDataError,
    PgBufferError,  # "string is too large"
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
)


def is_outage(error: BaseException) -> bool:
    """True when the failure says nothing about the message: retry it later, hold the partition."""
    if isinstance(error, _VALUE_CAUSED):
        return False
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", "") or "")
        return sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES or sqlstate in OUTAGE_SQLSTATES
    if isinstance(error, _CLIENT_OUTAGES):
        return True
    if isinstance(error, kafka_errors.KafkaError | kafka_errors.ConsumerStoppedError | kafka_errors.IllegalOperation):
        return True
    return isinstance(error, OSError | TimeoutError | RetriesExhausted)
