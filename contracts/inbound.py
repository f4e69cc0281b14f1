"""Turn the raw bytes of any inbound message into a model, or a precise reason it is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from contracts import claims, enrolments
from contracts.claims import Claim, Reversal
from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.reconciliation import Reconciliation
from contracts.wire import UndecodableMessage, decode_json

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


def _salvage(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _describe(error: ValidationError) -> tuple[str, str]:
    first = error.errors(include_url=False)[0]
    # The discriminator adds the message type as the first path element; drop it.
    path = [str(p) for p in first["loc"] if str(p) not in MSG_TYPES]
    field = ".".join(path)
    reason = str(first["msg"]).removeprefix("Value error, ")
    more = len(error.errors()) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    where = f"field {field}: " if field else ""
    return field, f"{where}{reason}{extra}"


def _check_version(obj: dict[str, Any], msg_type: str, ids: dict[str, str | None]) -> None:
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
        shown = repr(version)[:60]
        sentence = f"schema_version {shown} is not one this service reads; a {msg_type} is {expected} ({MIGRATION})."
    raise InvalidMessage(RejectionCode.UNSUPPORTED_SCHEMA_VERSION, sentence, field="schema_version", **ids)


def parse_inbound(raw: bytes | str) -> Message:
    try:
        obj = decode_json(raw)
    except UndecodableMessage as exc:
        raise InvalidMessage(RejectionCode.MALFORMED_JSON, f"The message is not JSON: {exc}.") from None
    ids = {k: _salvage(obj, k) for k in ("request_id", "fixmedins_code", "psn_no")}
    if obj.get("msg_type") not in MSG_TYPES:
        raise InvalidMessage(
            RejectionCode.UNKNOWN_MESSAGE_TYPE,
            f"msg_type must be one of {', '.join(MSG_TYPES)}; got {obj.get('msg_type')!r}.",
            field="msg_type",
            **ids,
        )
    _check_version(obj, str(obj["msg_type"]), ids)
    try:
        return _INBOUND.validate_python(obj)
    except ValidationError as exc:
        field, sentence = _describe(exc)
        raise InvalidMessage(RejectionCode.INVALID_MESSAGE, sentence, field=field or None, **ids) from None
