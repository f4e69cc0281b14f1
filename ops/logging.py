"""Structured JSON logs; personal ids never appear in clear, tracebacks included.

Three layers, because a personal id reaches a log line in three ways:

1. a field named like a personal id (psn_no, acct_payer_psn_no, …) is replaced by a keyed HMAC
   pseudonym, stable for one key, so an operator can follow one person across lines without
   learning who they are;
2. every string anywhere in the line (messages, exception texts, nested values) has each
   person-year stream id ``<psn_no>/<year>`` — the form the ledger names streams and errors
   quote — and each personal value the line itself carries replaced the same way;
3. tracebacks are rendered without frame locals: a local variable holds whatever the code was
   working on (issue 10 item 3: ``stream_id='D714347000017/2025'`` on every database outage).

The key (``LOG_PSEUDONYM_KEY``) is required outside local runs (ops.settings).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer

PERSONAL_FIELDS = ("psn_no", "psn_name", "acct_payer_psn_no", "beneficiary_psn_no", "payer_psn_no")
# "<psn_no>/<year>" where psn_no is the contract's PsnNo (letters, digits, '_', '-'), not preceded
# by a character that would make it the tail of something else ("claims.v1/0/2025" is a source).
STREAM_ID = re.compile(r"(?<![\w./-])([0-9A-Za-z_-]{1,30})/((?:19|20|21)\d\d)(?![\w/])")
# A person in an HTTP path (/v1/persons/<psn_no>/…), should a library log one.
PERSON_PATH = re.compile(r"(?<=/persons/)([0-9A-Za-z_-]{1,30})(?=/|$|\?|\s)")
_PSEUDONYM = re.compile(r"^p_[0-9a-f]{16}$")
# Tracebacks: frames and exception texts, never the values of local variables.
TRACEBACKS = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def pseudonym(value: str, key: bytes) -> str:
    return "p_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


class Pseudonymiser:
    """A structlog processor; runs last before rendering, so tracebacks are covered too."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        personal: set[str] = set()
        for name in PERSONAL_FIELDS:
            value = event.get(name)
            if isinstance(value, str) and value and not _PSEUDONYM.match(value):
                personal.add(value)
                event[name] = pseudonym(value, self.key)
        longest_first = sorted(personal, key=len, reverse=True)
        known = re.compile("|".join(map(re.escape, longest_first))) if personal else None
        for name, value in list(event.items()):
            event[name] = self._scrub(value, known)
        return event

    def _scrub(self, value: Any, known: re.Pattern[str] | None) -> Any:
        if isinstance(value, str):
            text = STREAM_ID.sub(lambda m: f"{pseudonym(m.group(1), self.key)}/{m.group(2)}", value)
            text = PERSON_PATH.sub(lambda m: pseudonym(m.group(1), self.key), text)
            return known.sub(lambda m: pseudonym(m.group(0), self.key), text) if known else text
        if isinstance(value, dict):
            return {k: self._scrub(v, known) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v, known) for v in value]
        return value


def _drop_colour(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's terminal copy of the message
    return event


def configure_logging(level: str, pseudonym_key: str, service: str, stream: TextIO | None = None) -> None:
    """Called once by a service's bootstrap; never at import time.

    Our own lines and those of the libraries (uvicorn, aiokafka, FastStream, which log
    through the standard library) come out as the same one-object-per-line JSON."""
    stream = stream or sys.stdout
    scrub = Pseudonymiser(pseudonym_key.encode())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            TRACEBACKS,
            structlog.processors.EventRenamer("message"),
            scrub,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(), _drop_colour, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                TRACEBACKS,
                structlog.processors.EventRenamer("message"),
                scrub,
                structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("aiokafka", "faststream", "uvicorn", "uvicorn.error"):
        library = logging.getLogger(name)
        library.handlers[:] = []  # FastStream and uvicorn install their own plain handlers
        library.propagate = True
    # aiokafka reports every rebalance and reconnect at INFO; its warnings are what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
