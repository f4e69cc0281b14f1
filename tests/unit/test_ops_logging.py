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


def test_a_traceback_shows_frames_but_never_the_values_of_local_variables(json_lines) -> None:
    def append(stream_id: str) -> None:
        psn_secret = "D714347000017"  # a local the old rendering printed  # noqa: F841
        raise ConnectionResetError("connection lost")

    try:
        append("D714347000017/2025")
    except ConnectionResetError:
        structlog.get_logger("x").warning("batch_rewound", exc_info=True)
    (line,) = json_lines()
    frames = line["exception"][0]["frames"]
    assert any(frame["name"] == "append" for frame in frames)
    assert all("locals" not in frame for frame in frames)
    assert "D714347000017" not in json.dumps(line)


def test_a_stream_id_inside_any_text_is_pseudonymised_and_a_source_is_not(json_lines) -> None:
    log = structlog.get_logger("x")
    try:
        raise ValueError("duplicate key (stream_id, version)=(D714347000017/2025, 3)")
    except ValueError:
        log.error("commit_failed", exc_info=True, source="claims.v1/0/2025", detail={"streams": ["P-9/2024"]})
    (line,) = json_lines()
    text = json.dumps(line)
    assert "D714347000017" not in text and "P-9/" not in text
    assert f"{pseudonym('D714347000017', b'test-key')}/2025" in line["exception"][0]["exc_value"]
    assert line["source"] == "claims.v1/0/2025" and line["detail"]["streams"] == [
        f"{pseudonym('P-9', b'test-key')}/2024"
    ]


def test_the_persons_own_id_is_pseudonymised_wherever_the_line_repeats_it(json_lines) -> None:
    structlog.get_logger("x").error("message_failed", psn_no="ZX91", error="KeyError: 'ZX91'")
    (line,) = json_lines()
    assert "ZX91" not in json.dumps(line)
    assert line["error"] == f"KeyError: '{pseudonym('ZX91', b'test-key')}'"


def test_a_library_traceback_through_the_standard_library_has_no_locals_either(json_lines) -> None:
    def fail(secret: str) -> None:
        raise RuntimeError("boom")

    try:
        fail("D00000001")
    except RuntimeError:
        logging.getLogger("faststream.settlement").exception("handler failed for /v1/persons/D00000001/totals")
    (line,) = json_lines()
    assert "D00000001" not in json.dumps(line)
    assert all("locals" not in frame for frame in line["exception"][0]["frames"])


def test_outside_local_runs_the_pseudonym_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from ops.settings import CommonSettings

    base = {"database_url": "postgresql://x@h/db", "kafka_bootstrap_servers": "h:9092"}
    monkeypatch.delenv("LOG_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("MEDINS_ENV", "production")
    with pytest.raises(ValidationError, match="LOG_PSEUDONYM_KEY"):
        CommonSettings(**base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="LOG_PSEUDONYM_KEY"):
        CommonSettings(**base, log_pseudonym_key="local-development-only")  # type: ignore[arg-type]
    key = CommonSettings(**base, log_pseudonym_key="a-real-secret-of-32-characters!!").log_pseudonym_key  # type: ignore[arg-type]
    assert key.get_secret_value() == "a-real-secret-of-32-characters!!"
    monkeypatch.delenv("MEDINS_ENV")
    with pytest.raises(ValidationError, match="LOG_PSEUDONYM_KEY"):  # production is the default
        CommonSettings(**base)  # type: ignore[arg-type]
    monkeypatch.setenv("MEDINS_ENV", "local")
    assert CommonSettings(**base).log_pseudonym_key.get_secret_value() == "local-development-only"  # type: ignore[arg-type]
