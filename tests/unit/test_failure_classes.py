"""Outage or the message's fault, for every exception class asyncpg and aiokafka define.

The verdicts live in tests/unit/data/error_classes.tsv, one reviewed line per class; a library
upgrade that adds, removes or renames a class fails here until someone decides its verdict.
"""

from __future__ import annotations

from pathlib import Path

import aiokafka
import asyncpg
from settlement.entrypoints.failures import is_outage
from settlement.service_layer.handlers import RetriesExhausted

TABLE = Path(__file__).parent / "data" / "error_classes.tsv"


def verdicts() -> dict[str, str]:
    rows = [line.split("\t") for line in TABLE.read_text("utf-8").splitlines() if not line.startswith("#")]
    return {name: verdict for name, _sqlstate, verdict in rows}


def library_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    pending: list[type[BaseException]] = [BaseException]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.split(".")[0] in ("asyncpg", "aiokafka"):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return found


def instance(kind: type[BaseException]) -> BaseException:
    try:
        return kind("a message")
    except TypeError:
        return kind()


def test_the_table_lists_exactly_the_classes_of_the_pinned_libraries() -> None:
    assert (asyncpg.__version__, aiokafka.__version__) == ("0.32.0", "0.14.0"), "review the table for the new version"
    assert set(verdicts()) == set(library_classes())
    assert len(verdicts()) > 350  # ~280 asyncpg classes (one per SQLSTATE) and ~100 aiokafka ones


def test_the_classifier_gives_every_class_its_reviewed_verdict() -> None:
    classes = library_classes()
    given = {name: "outage" if is_outage(instance(classes[name])) else "message" for name in classes}
    disagreements = {
        name: (verdict, given.get(name)) for name, verdict in verdicts().items() if given.get(name) != verdict
    }
    assert disagreements == {}, "class: (reviewed verdict, classifier's verdict)"


def test_the_failures_issue_10_names_are_outages_and_value_errors_are_not() -> None:
    assert is_outage(asyncpg.exceptions.InternalClientError("unexpected state during a restart"))
    assert is_outage(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
    assert is_outage(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert is_outage(ConnectionRefusedError()) and is_outage(TimeoutError()) and is_outage(RetriesExhausted())
    assert not is_outage(asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence: 0x00"))
    assert not is_outage(asyncpg.exceptions.ProgramLimitExceededError("index row size exceeds maximum"))
    assert not is_outage(ZeroDivisionError()) and not is_outage(KeyError("x")) and not is_outage(RecursionError())
