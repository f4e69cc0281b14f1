"""The national fixtures as a test sends them, the sample payer data that makes their codes
exist, and the checker of answers against what the five codebases read.

- ``requests(name)``: each step's request as the bytes committed in the fixture file (the JSON
  value's own text, whitespace and number spellings included: ``24.0000`` stays ``24.0000``).
- ``FixtureIds``: the ids the platform issued in the fixtures (2201/2401 ``mdtrt_id``,
  2207/2304/2208/2305 ``setl_id``, from each step's ``answer_example``), handed out to the
  same messages (by msgid), so that the later requests — which carry those ids — run unchanged.
- ``read_problems(step, answer)``: every field of the step's ``reads`` checked for presence and
  JSON type as the reading codebase parses it (tests/fixtures/national/README.md).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.store import LedgerStore
from settlement.gateway.context import Deps
from settlement.gateway.ids import IdIssuer, LedgerIds
from settlement.gateway.people import PersonDirectory, load_directory
from settlement.gateway.service import NationalGateway, NationalReply
from settlement.gateway.streaming import StreamedGateway, is_national
from settlement.senders import Registry
from settlement.service_layer.handlers import SettlementService

from engine.policy_book import PolicyBook
from engine.policy_files import load_policy_book

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "national"
SAMPLE = FIXTURES / "sample"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def steps(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = fixture(name).get("steps", [])
    return found


def requests(name: str) -> dict[str, bytes]:
    """step id → the request's bytes exactly as committed in the fixture file."""
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    spans = []
    for match in re.finditer(r'"request":\s*', text):
        _, end = decoder.raw_decode(text, match.end())
        spans.append(text[match.end() : end])
    ids = [step["id"] for step in steps(name)]
    assert len(spans) == len(ids), f"{name}: {len(spans)} requests for {len(ids)} steps"
    return {step_id: span.encode("utf-8") for step_id, span in zip(ids, spans, strict=True)}


def sample_people() -> PersonDirectory:
    return load_directory(SAMPLE / "persons.csv")


def enrolments() -> list[bytes]:
    return [line.encode() for line in (SAMPLE / "enrolments.jsonl").read_text(encoding="utf-8").splitlines() if line]


def sample_policy_folder(into: Path) -> Path:
    """A policies folder: the shipped files, and Ningxia's 2025 staff and resident rules under
    the fixture regions' codes, each pointing at the fixtures' sample payer data
    (tests/fixtures/national/sample/README.md): samples for invented people."""
    shutil.copytree(ROOT / "policies", into, dirs_exist_ok=True)
    for region, scheme, source in (("440300", "310", "640000-310-2025"), ("430100", "310", "640000-310-2025"),
                                   ("430100", "390", "640000-390-2025")):  # fmt: skip
        text = (ROOT / "policies" / f"{source}.toml").read_text(encoding="utf-8")
        text = re.sub(r'(?m)^region = "640000"', f'region = "{region}"', text)
        text = re.sub(r'(?m)^id = "([^"]+)"', f'id = "sample-{region}-{scheme}-2025"', text)
        text = re.sub(r'(?m)^dir = "payer/640000"', f'dir = "payer/{region}"', text)
        (into / f"{region}-{scheme}-2025.toml").write_text(text, encoding="utf-8")
        shutil.copytree(SAMPLE / "payer" / region, into / "payer" / region, dirs_exist_ok=True)
    return into


@functools.cache
def sample_policies() -> PolicyBook:
    folder = Path(tempfile.mkdtemp(prefix="national-policies-"))
    try:
        return load_policy_book(sample_policy_folder(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_ISSUING = {"2201": ("data", "mdtrt_id"), "2401": ("result", "mdtrt_id")}
_SETTLING = ("2207", "2304", "2208", "2305", "2102", "2103")


class FixtureIds(LedgerIds):
    """The platform's ids of the fixtures, issued to the messages that got them there."""

    def __init__(self, *names: str) -> None:
        self.visits: dict[str, str] = {}
        self.settlements: dict[str, str] = {}
        for name in names:
            for step in steps(name):
                msgid, output = step["request"]["msgid"], (step.get("answer_example") or {}).get("output") or {}
                if step["infno"] in _ISSUING:
                    block, field = _ISSUING[step["infno"]]
                    self.visits[msgid] = output[block][field]
                elif step["infno"] in _SETTLING and "setlinfo" in output:
                    self.settlements[msgid] = output["setlinfo"]["setl_id"]

    @staticmethod
    def _msgid(key: str) -> str:
        return key.rsplit(":", 1)[-1]

    def visit_id(self, region: str, day: date, key: str, attempt: int) -> str:
        found = self.visits.get(self._msgid(key))
        return found if found is not None and attempt == 0 else super().visit_id(region, day, key, attempt)

    def settlement_id(self, mdtrt_id: str, number: int, key: str) -> str:
        return self.settlements.get(self._msgid(key)) or super().settlement_id(mdtrt_id, number, key)


# ---- the reads checker -------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    path: str  # one concrete path, e.g. "output.result[].feedetl_sn"
    json_type: str
    parsed_as: str
    required: str


def reads(step: dict[str, Any]) -> Iterator[Read]:
    """Each field of the step's reads, a comma list ("output.setlinfo.a, b, c") split into paths."""
    for row in (step.get("reads") or {}).get("fields", []):
        path = re.sub(r"\s*\(.*\)\s*$", "", row["path"]).strip()
        first, *siblings = [p.strip() for p in path.split(",")]
        parent = first.rsplit(".", 1)[0] + "." if "." in first else ""
        for one in (first, *(parent + s for s in siblings)):
            yield Read(one, row["json_type"], row.get("parsed_as", ""), row["required"])


def _values(node: Any, parts: list[str]) -> Iterator[Any]:
    """Every value at the path; a missing step yields ``_ABSENT``."""
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    name, index = re.fullmatch(r"([^\[]+)(\[\d*\])?", head).groups()  # type: ignore[union-attr]
    if not isinstance(node, dict) or name not in node:
        yield _ABSENT
        return
    child = node[name]
    if index is None:
        yield from _values(child, rest)
    elif not isinstance(child, list):
        yield _WRONG
    elif index == "[]":
        for element in child:
            yield from _values(element, rest)
    elif int(index[1:-1]) < len(child):
        yield from _values(child[int(index[1:-1])], rest)
    else:
        yield _ABSENT


_ABSENT, _WRONG = object(), object()
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = _DATE + r" \d{2}:\d{2}:\d{2}"


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _numeric_text(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


def type_fits(json_type: str, parsed_as: str, name: str, value: Any) -> bool:
    """Whether a value has the JSON type a reader parses it as (the reads' own words)."""
    if "Object copied" in parsed_as or "any JSON type" in parsed_as:
        return True  # the reader copies whatever it finds
    if value is None:
        return "or null" in json_type
    if json_type == "balc number; others string":
        return _number(value) if name == "balc" else isinstance(value, str)
    if json_type == "string (age number)":
        return _number(value) if name == "age" else isinstance(value, str)
    if json_type.startswith("number or numeric string"):
        return _number(value) or _numeric_text(value)
    if json_type.startswith("number or string"):
        return _number(value) or isinstance(value, str)
    if json_type.startswith("number"):
        return _number(value)
    if json_type.startswith("array"):
        return isinstance(value, list)
    if json_type.startswith("object (an array is also accepted"):
        return isinstance(value, dict | list)
    if json_type.startswith("object"):
        return isinstance(value, dict)
    if json_type.startswith("string of digits"):
        return isinstance(value, str) and value.isdigit()
    if json_type.startswith("string yyyy-MM-dd HH:mm:ss"):
        return isinstance(value, str) and re.fullmatch(_TIME, value) is not None
    if json_type.startswith("string yyyy-MM-dd["):
        return isinstance(value, str) and re.fullmatch(_DATE + r"( \d{2}:\d{2}:\d{2})?", value) is not None
    if json_type.startswith("string yyyy-MM-dd"):
        return isinstance(value, str) and re.fullmatch(_DATE, value) is not None
    if json_type.startswith("string"):
        return isinstance(value, str)
    raise AssertionError(f"the checker does not know the json_type {json_type!r}")


def _required(read: Read, failed: bool) -> bool:
    if read.required.startswith("yes"):
        return read.path in ("infcode", "err_msg") or not failed
    return read.required == "on failure" and failed


def read_problems(step: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """Every read field missing where required, or of a JSON type its reader cannot parse."""
    failed = answer.get("infcode") != "0"
    problems = []
    for read in reads(step):
        name = read.path.rsplit(".", 1)[-1].split("[")[0]
        for value in _values(answer, read.path.split(".")):
            if value is _ABSENT:
                if _required(read, failed):
                    problems.append(f"{step['id']} {read.path}: missing ({read.required})")
            elif value is _WRONG or not type_fits(read.json_type, read.parsed_as, name, value):
                problems.append(f"{step['id']} {read.path}: {value!r} is not {read.json_type}")
    return problems


# ---- a gateway over a store, with the sample payer data ----------------------------------

CLOCK_AT = "2025-03-14T01:30:00+00:00"


def fixed_clock(at: str = CLOCK_AT) -> Callable[[], datetime]:
    moment = datetime.fromisoformat(at)
    return lambda: moment


async def sample_gateway(
    store: LedgerStore,
    issuer: IdIssuer | None = None,
    people: PersonDirectory | None = None,
    senders: Registry | None = None,
) -> tuple[NationalGateway, SettlementService]:
    """The gateway and the claims.v1 service over one store, the sample people enrolled (with
    `senders`, streamed messages are bound to institutions by their topic's principal)."""
    book, clock = sample_policies(), fixed_clock()
    service = SettlementService(store, book, clock=clock, senders=senders)
    for line in enrolments():
        reply = await service.handle(line, source="sample-enrolments")
        assert getattr(reply, "msg_type", None) == "enrolment_accepted", reply
    deps = Deps(service, people or sample_people(), issuer or LedgerIds())
    gateway = NationalGateway(deps)
    service.national = (is_national, StreamedGateway(gateway))
    return gateway, service


def parsed(reply: NationalReply) -> dict[str, Any]:
    """The answer as a client reads its bytes (numbers exact)."""
    body: dict[str, Any] = json.loads(reply.body(), parse_float=Decimal)
    return body


SAMPLE_COUNTER = "H43010200456"  # the sample's 长沙 hospital, which also sells at a pharmacy counter
SAMPLE_STAFF = "43000000000000009900000002"  # the sample's staff member insured in 长沙 (430100)


def envelope(
    infno: str, msgid: str, payload: dict[str, Any], *, fixmedins_code: str = SAMPLE_COUNTER, area: str = "430100"
) -> bytes:
    """A national envelope around ``payload`` (``input``), sent from ``area`` (mdtrtarea_admvs)."""
    wrapped = {"infno": infno, "msgid": msgid, "fixmedins_code": fixmedins_code, "mdtrtarea_admvs": area}
    return json.dumps({**wrapped, "input": payload}, ensure_ascii=False).encode()


def pharmacy_purchase(day: str, *, psn_no: str = SAMPLE_STAFF, acct_used: str = "1") -> dict[str, Any]:
    """A 2101/2102 input: 24 units of amoxicillin at the sample catalogue's 0.85 = 20.40 yuan."""
    at = f"{day} 15:00:00"
    data = {"psn_no": psn_no, "insutype": "310", "mdtrt_cert_type": "02", "begntime": at,
            "medfee_sumamt": "20.40", "psn_setlway": "01", "acct_used_flag": acct_used}  # fmt: skip
    line = {"feedetl_sn": "P1", "med_list_codg": "XJ01CAA040E001010100709", "pric": "0.85", "cnt": "24",
            "det_item_fee_sumamt": "20.40", "fee_ocur_time": at}  # fmt: skip
    return {"data": data, "feedetail": [line]}
