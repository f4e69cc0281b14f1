"""Structured JSON logs; personal ids never appear in clear.

Any log field named like a personal id (psn_no, acct_payer_psn_no, beneficiary_psn_no, …)
is replaced by a keyed HMAC pseudonym, stable for one key, so an operator can follow one
person across lines without learning who they are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

PERSONAL_FIELDS = ("psn_no", "psn_name", "acct_payer_psn_no", "beneficiary_psn_no", "payer_psn_no")


def pseudonym(value: str, key: bytes) -> str:
    return "p_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def _pseudonymiser(key: bytes) -> Any:
    def process(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for name in PERSONAL_FIELDS:
            value = event.get(name)
            if isinstance(value, str) and value:
                event[name] = pseudonym(value, key)
        stream = event.get("stream")
        if isinstance(stream, str) and "/" in stream:  # "<psn_no>/<year>"
            psn, year = stream.rsplit("/", 1)
            event["stream"] = f"{pseudonym(psn, key)}/{year}"
        return event

    return process


def _drop_colour(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's terminal copy of the message
    return event


def configure_logging(level: str, pseudonym_key: str, service: str, stream: TextIO | None = None) -> None:
    """Called once by a service's bootstrap; never at import time.

    Our own lines and those of the libraries (uvicorn, aiokafka, FastStream, which log
    through the standard library) come out as the same one-object-per-line JSON."""
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _pseudonymiser(pseudonym_key.encode()),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.dict_tracebacks,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False),
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
                structlog.processors.dict_tracebacks,
                structlog.processors.EventRenamer("message"),
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
