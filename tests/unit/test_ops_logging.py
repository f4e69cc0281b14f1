"""Logs are one JSON object per line, with personal ids pseudonymised — ours and the libraries'."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from ops.logging import configure_logging, pseudonym


@pytest.fixture
def json_lines():
    out = io.StringIO()
    configure_logging("INFO", "test-key", "unit", stream=out)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.getLogger().handlers[:] = []


def test_our_lines_are_json_with_the_person_pseudonymised(json_lines) -> None:
    structlog.get_logger("x").info("settled", psn_no="P0001", stream="P0001/2025")
    (line,) = json_lines()
    assert line["message"] == "settled" and line["service"] == "unit" and line["level"] == "info"
    assert line["psn_no"] == pseudonym("P0001", b"test-key") != "P0001"
    assert line["stream"] == f"{pseudonym('P0001', b'test-key')}/2025"


def test_standard_library_lines_from_dependencies_are_json_too(json_lines) -> None:
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://x", extra={"psn_no": "P9"})
    logging.getLogger("aiokafka.consumer").info("rebalance noise")  # below aiokafka's WARNING floor
    (line,) = json_lines()
    assert line["message"] == "Uvicorn running on http://x"
    assert line["logger"] == "uvicorn.error" and line["service"] == "unit"
    assert line["psn_no"] == pseudonym("P9", b"test-key")
