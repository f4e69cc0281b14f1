"""Turn the raw bytes of any inbound message into a model, or a precise reason it is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from contracts import claims, enrolments
from contracts.claims import Claim, FixmedinsCode, PsnNo, RequestId, Reversal
from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.reconciliation import Reconciliation
from contracts.wire import UndecodableMessage, decode_json, decode_text

Message = Claim | Reversal | Enrolment | AccountCredit | Reconciliation | Contribution
Inbound = Annotated[Message, Field(discriminator="msg_type")]
_INBOUND: TypeAdapter[Message] = TypeAdapter(Inbound)
MSG_TYPES = ("claim", "reversal", "enrolment", "account_credit", "reconciliation", "contribution")
# The schema version each message type is read in; an older one is refused with the migration.
VERSIONS = {
    "claim": claims.V2,
    "reversal": claims.V2,
    "enrolment": enrolments.V2,
    "account_credit": enrolments.V2,
    "reconciliation": claims.V2,  # 对账 (docs/clearing.md#reconciliation): new with claims.v2
    "contribution": enrolments.V2,
}
MIGRATION = "docs/integrating.md#migrating-from-v1"

# The ids a refusal is addressed with, checked by the contract's own types: an id that would be
# refused in a valid message is not salvaged into a rejection either (NUL, blank, a lone
# surrogate or 10 MB of text would otherwise travel into the ledger, Kafka keys and logs).
_IDS: dict[str, TypeAdapter[str]] = {
    "request_id": TypeAdapter(RequestId),
    "fixmedins_code": TypeAdapter(FixmedinsCode),
    "psn_no": TypeAdapter(PsnNo),
}
# What a refusal may quote of the message (a field path, a msg_type): visible text, bounded.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
QUOTE_LIMIT = 80
SENTENCE_LIMIT = 500
# pydantic says "String should match pattern '^…$'"; a sender needs the rule in words.
_PATTERN_RULES = {
    r"^[0-9A-Za-z_-]+$": "may hold only letters, digits, '_' and '-'",
    r"^[0-9A-Za-z._-]+$": "may hold only letters, digits, '.', '_' and '-'",
    r"^[0-9A-Za-z._:-]+$": "may hold only letters, digits, '.', '_', ':' and '-'",
    r"^[!-~]+$": "may hold only visible ASCII characters: no spaces, control characters or other scripts",
}


# Characters no field of the contract may hold: C0 controls (NUL above all, which PostgreSQL text
# cannot store), DEL and C1 controls. Free text may still hold tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Every date and time of the contract falls in the years of the schemes and their policies;
# 9999-12-31 is a producer's placeholder, not a day the engine can count months from.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class InvalidMessage(Exception):
    """Why a message cannot be read; carries what could be salvaged to address the reply."""

    code: RejectionCode
    message: str
    field: str | None = None
    request_id: str | None = None
    fixmedins_code: str | None = None
    psn_no: str | None = None

    def __str__(self) -> str:
        return self.message


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Part of a hostile message made safe to repeat in an answer: invisible characters shown as
    '?', cut to ``limit`` characters."""
    shown = _UNPRINTABLE.sub("?", text[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def salvage_id(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if not isinstance(value, str):
        return None
    try:
        return _IDS[name].validate_python(value.strip())
    except ValidationError:
        return None


def salvage_ids(obj: dict[str, Any]) -> dict[str, str | None]:
    """request_id, fixmedins_code and psn_no of a message, each only if the contract accepts it."""
    return {name: salvage_id(obj, name) for name in _IDS}


def salvage_raw(raw: bytes | str) -> dict[str, str | None]:
    """The same from raw bytes, for a message that failed later; never raises."""
    try:
        return salvage_ids(decode_json(raw))
    except UndecodableMessage:
        return dict.fromkeys(_IDS)


def _first_control_character(obj: Any) -> str | None:
    """The dotted path of the first key or string value holding a control character."""
    pending: list[tuple[str, Any]] = [("", obj)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and _CONTROL.search(value):
            return path
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if _CONTROL.search(str(key)):
                    return where
                pending.append((where, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{i}", item) for i, item in enumerate(value))
    return None


def _may_hold_control(text: str) -> bool:
    """Whether a decoded key or string of ``text`` can hold a control character: strict JSON
    refuses raw C0 controls inside strings, so only an escape (a backslash) or a raw character
    the pattern finds (DEL, C1) can put one there. One scan of the text saves walking the object."""
    return "\\" in text or _CONTROL.search(text) is not None


_DAYLESS = (str, int, bool, Decimal, Enum, type(None))  # bool is an int; StrEnum a str and an Enum


def _may_hold_day(annotation: Any) -> bool:
    """Whether a field so annotated can hold a date, a time or a model (which may hold one)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:  # the type, not its constraints
        return _may_hold_day(get_args(annotation)[0])
    if origin is not None:
        return any(_may_hold_day(arg) for arg in get_args(annotation) if arg is not Ellipsis)
    if annotation is Any:  # a class on Python 3.11: looked at, like anything not known to hold no day
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(_dated_fields(annotation))  # a model none of whose fields can hold a day is skipped
    # Only types known to hold no date are skipped: pydantic's AwareDatetime and its kind are
    # classes that are not subclasses of date (a hostile review found sent_at so skipped).
    return not (isinstance(annotation, type) and issubclass(annotation, _DAYLESS))


@cache
def _dated_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model``, in order, that may hold a date, a time or a model."""
    return tuple(name for name, info in model.model_fields.items() if _may_hold_day(info.annotation))


def _first_day_out_of_range(model: BaseModel, path: str = "") -> str | None:
    """The dotted path of the first date or time outside 1900-2100 (inclusive)."""
    for name in _dated_fields(type(model)):
        value = getattr(model, name)
        where = f"{path}.{name}" if path else name
        items = value if isinstance(value, tuple) else (value,)
        for index, item in enumerate(items):
            here = f"{where}.{index}" if isinstance(value, tuple) else where
            day = item.date() if isinstance(item, datetime) else item
            if isinstance(day, date) and not EARLIEST_DAY <= day <= LATEST_DAY:
                return here
            if isinstance(item, BaseModel) and (inner := _first_day_out_of_range(item, here)):
                return inner
    return None


def _describe(error: ValidationError) -> tuple[str, str]:
    first = error.errors(include_url=False, include_input=False)[0]
    # The discriminator adds the message type as the first path element; drop it.
    path = [str(p) for p in first["loc"] if str(p) not in MSG_TYPES]
    field = quote(".".join(path), limit=200)
    reason = quote(str(first["msg"]).removeprefix("Value error, "), limit=SENTENCE_LIMIT)
    if first["type"] == "string_pattern_mismatch":
        reason = _PATTERN_RULES.get(str(first.get("ctx", {}).get("pattern")), reason)
    more = error.error_count() - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    where = f"field {field}: " if field else ""
    return field, f"{where}{reason}{extra}"


def _check_version(obj: dict[str, Any], msg_type: str) -> None:
    """claims.v1 / enrolments.v1 (or no schema_version, which v1 allowed) get a sentence naming the
    migration; a version this service does not know gets one naming the versions it reads."""
    expected, version = VERSIONS[msg_type], obj.get("schema_version")
    if version == expected:
        return
    old = expected.replace(".v2", ".v1")
    if version is None or version == old:
        said = "has no schema_version (read as " + old + ")" if version is None else "is " + old
        sentence = (
            f"This {msg_type} {said}, which this service no longer accepts: send {expected} "
            f"(national codes and names; see {MIGRATION})."
        )
    else:
        shown = quote(repr(version), limit=60)
        sentence = f"schema_version {shown} is not one this service reads; a {msg_type} is {expected} ({MIGRATION})."
    ids = salvage_ids(obj)
    raise InvalidMessage(RejectionCode.UNSUPPORTED_SCHEMA_VERSION, sentence, field="schema_version", **ids)


def parse_inbound(raw: bytes | str) -> Message:
    try:
        text = decode_text(raw)
        obj = decode_json(text)
    except UndecodableMessage as exc:
        raise InvalidMessage(RejectionCode.MALFORMED_JSON, f"The message is not JSON: {exc}.") from None
    # The ids a refusal is addressed with are salvaged only when refusing (three validations a
    # message the contract accepts does not need).
    msg_type = obj.get("msg_type")
    if not (isinstance(msg_type, str) and msg_type in MSG_TYPES):
        got = repr(msg_type) if not isinstance(msg_type, str) else repr(quote(msg_type))
        raise InvalidMessage(
            RejectionCode.UNKNOWN_MESSAGE_TYPE,
            f"msg_type must be one of {', '.join(MSG_TYPES)}; got {quote(got)}.",
            field="msg_type",
            **salvage_ids(obj),
        )
    control = _first_control_character(obj) if _may_hold_control(text) else None
    if control is not None:
        where = quote(control, limit=200)
        sentence = (
            f"field {where}: control characters (NUL, U+0001-U+001F except tab and line breaks, "
            "U+007F-U+009F) are not allowed"
        )
        raise InvalidMessage(RejectionCode.INVALID_MESSAGE, sentence, field=where, **salvage_ids(obj))
    _check_version(obj, str(obj["msg_type"]))
    try:
        message = _INBOUND.validate_python(obj)
    except ValidationError as exc:
        field, sentence = _describe(exc)
        ids = salvage_ids(obj)
        raise InvalidMessage(RejectionCode.INVALID_MESSAGE, sentence, field=field or None, **ids) from None
    far = _first_day_out_of_range(message)
    if far is not None:
        sentence = f"field {far}: dates and times must fall between {EARLIEST_DAY} and {LATEST_DAY}"
        raise InvalidMessage(RejectionCode.INVALID_MESSAGE, sentence, field=far, **salvage_ids(obj))
    return message
