"""The national request envelope, as hospital systems send it (docs/national-interface.md §3).

Two forms arrive: the national one (binzhe: ``fixmedins_code``, ``inf_time``, ``sign_no``, …,
``input`` an object) and hsa-his's thin one (``medins_code`` for ``fixmedins_code``,
``insur_code``, ``hospCode``, ``url``, …, ``input`` often a JSON *string*). Both are read into
one ``Envelope``; every other key is ignored. ``msgid`` with ``fixmedins_code`` is the
idempotency key, so a retried message gets the answer stored for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.wire import UndecodableMessage, decode_json
from settlement.gateway.fields import NationalRefusal, Obj, identifier, text

INFNO_DIGITS = 4


@dataclass(frozen=True)
class Envelope:
    infno: str
    msgid: str
    fixmedins_code: str
    mdtrtarea_admvs: str  # 就医地: where the visit happens
    insuplc_admdvs: str  # 参保地 as the hospital states it (the enrolment system's word decides)
    opter: str
    input: Obj

    @property
    def idempotency_key(self) -> str:
        """Its own namespace, so a national msgid never meets a claims.v1 request_id."""
        return f"fsi:{self.fixmedins_code}:{self.msgid}"

    @property
    def body_hash(self) -> str:
        """What makes a retry the same message: the transaction, the institution and the input —
        not the clock (inf_time), the operator or the sign-in number, which a resend may renew."""
        content = {"infno": self.infno, "fixmedins_code": self.fixmedins_code, "input": self.input}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def data(self) -> Obj:
        """The transaction's fields: under ``input.data`` (the national layout), or ``input``
        itself when sent flat (hsa-his's 2303/2304/2305, 9001)."""
        inner = self.input.get("data")
        return inner if isinstance(inner, Mapping) else self.input


@dataclass(frozen=True)
class Salvaged:
    """What could be read of a refused envelope, to address its answer."""

    infno: str = ""
    msgid: str = ""
    fixmedins_code: str = ""
    mdtrtarea_admvs: str = ""


def decode_body(raw: bytes) -> dict[str, Any]:
    try:
        return decode_json(raw)
    except UndecodableMessage as error:
        raise NationalRefusal(f"the body is not a JSON object: {error}") from None
    except RecursionError:  # nesting deep enough to exhaust the parser
        raise NationalRefusal("the body nests arrays and objects too deeply to be a national message") from None


def _input(body: Obj) -> Obj:
    value = body.get("input")
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # hsa-his serializes input as a JSON string
        try:
            value = decode_json(value)
        except UndecodableMessage as error:
            raise NationalRefusal(f"input is a string but not a JSON object: {error}") from None
        except RecursionError:
            raise NationalRefusal("input nests arrays and objects too deeply") from None
    if not isinstance(value, Mapping):
        raise NationalRefusal("input must be an object (or a string holding one)")
    return value


def salvage(body: Obj) -> Salvaged:
    def safe(*names: str) -> str:
        for name in names:
            value = body.get(name)
            if isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.isprintable():
                return value
        return ""

    return Salvaged(safe("infno"), safe("msgid"), safe("fixmedins_code", "medins_code"), safe("mdtrtarea_admvs"))


def _infno(body: Obj, from_path: str | None) -> str:
    stated = text(body, "infno", required=from_path is None)
    infno = from_path or stated
    if not (len(infno) == INFNO_DIGITS and infno.isascii() and infno.isdigit()):
        raise NationalRefusal(f"infno must be a four-digit transaction number; got {infno[:10]!r}")
    if stated and stated != infno:
        raise NationalRefusal(f"the URL names transaction {infno} but the body's infno is {stated}")
    return infno


def read_envelope(body: Obj, infno_from_path: str | None) -> Envelope:
    """The envelope of a decoded body; ``infno_from_path`` when the URL names the transaction."""
    code_field = "fixmedins_code" if body.get("fixmedins_code") not in (None, "") else "medins_code"
    if body.get(code_field) in (None, ""):
        raise NationalRefusal("fixmedins_code (hsa-his: medins_code) is required: the institution sending")
    return Envelope(
        infno=_infno(body, infno_from_path),
        msgid=identifier(body, "msgid"),
        fixmedins_code=identifier(body, code_field),
        mdtrtarea_admvs=identifier(body, "mdtrtarea_admvs", required=False),
        insuplc_admdvs=identifier(body, "insuplc_admdvs", required=False),
        opter=text(body, "opter", required=False),
        input=_input(body),
    )
