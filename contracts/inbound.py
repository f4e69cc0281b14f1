"""Turn the raw bytes of any inbound message into a model, or a precise reason it is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from contracts.claims import Claim, Reversal
from contracts.codes import RejectionCode
from contracts.enrolments import AccountCredit, Enrolment
from contracts.wire import UndecodableMessage, decode_json

Inbound = Annotated[Claim | Reversal | Enrolment | AccountCredit, Field(discriminator="msg_type")]
_INBOUND: TypeAdapter[Claim | Reversal | Enrolment | AccountCredit] = TypeAdapter(Inbound)
MSG_TYPES = ("claim", "reversal", "enrolment", "account_credit")


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


def parse_inbound(raw: bytes | str) -> Claim | Reversal | Enrolment | AccountCredit:
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
    try:
        return _INBOUND.validate_python(obj)
    except ValidationError as exc:
        field, sentence = _describe(exc)
        raise InvalidMessage(RejectionCode.INVALID_MESSAGE, sentence, field=field or None, **ids) from None
