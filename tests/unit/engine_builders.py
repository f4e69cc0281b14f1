"""Small hand-written builders for the engine tests: policies, enrolments, claims, and a tiny
in-memory book of event streams that settles, reverses and folds exactly as the service does
(no mocks, no I/O, deterministic ids and time).

Amounts given to the *input* builders (enrolments, claims) are yuan, as the wire models take
them in Python: ``12`` is 12 yuan, ``"12.30"`` is 12.30 yuan. Everything read back from the
engine (``SetlInfo``, ``Totals``) is fen. ``fen("12.30") == 1230`` converts for assertions.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from settlement.service_layer.render import reversal_answer, settlement_answer
from settlement.service_layer.visits import enrolment_facts_of, reversal_request_of, visit_of

from contracts.claims import Claim, FeeLine, Physician, Reversal
from contracts.codes import ChargeLevel, PhysicianTitle
from contracts.enrolments import Enrolment, FamilyMember, PriorCover
from contracts.money import parse_yuan
from contracts.results import ReversalResult, SettlementResult
from engine.code_mapping import scheme_of
from engine.dated import DatedIndex
from engine.enrol import credit_account, record_enrolment
from engine.enrolment import EnrolmentFacts
from engine.events import ClaimSettled, Event, PersonEnrolled, SettlementReversed
from engine.ids import event_id, settlement_id
from engine.national_codes import load_code_sets
from engine.payer_casemix import Casemix, DipGroup, DrgGroup
from engine.payer_catalogue import Catalogue, HilistEntry, PriceCap, SelfpayRate, selfpay_key
from engine.payer_data import PayerData
from engine.payer_files import OPEN_END
from engine.payer_registry import Institution, InstitutionType, PaymentMethod, Registry
from engine.payer_registry import Physician as PayerPhysician
from engine.person import PersonYear, apply, replay, stream_id
from engine.policy import Policy
from engine.policy_book import PolicyBook, PricedPolicy
from engine.policy_files import load_policy_file
from engine.reverse import reverse_settlement
from engine.settle import PayerAccount, settle_claim
from engine.totals import Totals

ROOT = Path(__file__).resolve().parents[2]
RESIDENT_TOML = ROOT / "policies" / "640000-390-2025.toml"
CODES = load_code_sets(ROOT / "policies" / "codes")
CST = timezone(timedelta(hours=8))
SENT_AT = datetime(2025, 1, 2, 9, 0, tzinfo=CST)
OCCURRED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=CST)
YEAR = 2025


def fen(yuan: str | int) -> int:
    """Yuan text (or whole yuan) → fen, for writing expected figures readably."""
    return parse_yuan(yuan)


# --------------------------------------------------------------------------- policies


def resident_policy_dict() -> dict[str, Any]:
    """The Ningxia residents' 2025 policy as plain data (a fresh copy each call)."""
    return tomllib.loads(RESIDENT_TOML.read_text(encoding="utf-8"), parse_float=Decimal)


def shipped(name: str) -> Policy:
    """A policy file as shipped in policies/ (e.g. "650000-390-2025.toml")."""
    return load_policy_file(ROOT / "policies" / name)


def resident_policy(**changes: Any) -> Policy:
    data = resident_policy_dict()
    data.update(copy.deepcopy(changes))
    return Policy.model_validate(data)


def staff_policy_dict() -> dict[str, Any]:
    """A staff (310) policy built in the test from the residents' file, with the seed figures
    that differ for staff. Numbers without a seed are test assumptions, said so below."""
    data = resident_policy_dict()
    data["policy"].update(id="test-ningxia-staff-2025", scheme="310", sources=["004", "000", "003"])
    data["annual_cap"] = "400000"  # [004] 谈判药品…职工医保 40万元 (bundled with the fund's cap)
    benefits = data["benefits"]
    benefits["general_outpatient"]["yearly_cap"] = "1200"  # [004] 中卫市 职工普通门诊最高限额1200元/人 (Zhongwei)
    # test assumption: staff general outpatient 70% at primary care, 60% elsewhere
    benefits["general_outpatient"]["ratio"] = {"default": {"primary": "0.70", "default": "0.60"}}
    # test assumption: staff inpatient 90/85/80% by level, retirees 5 points more at level 3
    benefits["inpatient"]["ratio"] = {
        "default": {"primary": "0.90", "1": "0.90", "2": "0.85", "3": "0.80"},
        "retired": {"primary": "0.95", "1": "0.95", "2": "0.90", "3": "0.85"},
    }
    benefits["dual_channel_outpatient"]["ratio"] = {"default": {"default": "0.75"}}  # [004] 职工医保 75%
    mi = data["major_illness"]
    mi["fund"] = "330100"
    mi["cap"] = "700000"  # [000] 职工大病保险年度最高支付限额确定为70万元
    del mi["incentives"]  # the incentives of 000 四 are for residents
    data["personal_account"] = {
        "in_service_rate": "0.02",  # [003] 按照本人参保缴费基数2%
        # [003] 2% of the 2021 regional average pension, fixed monthly; test assumption: the
        # average pension is 3,000 yuan, so 3,000 × 2% = 60 yuan a month.
        "retired_monthly": "60",
    }
    return data


def staff_policy(**changes: Any) -> Policy:
    data = staff_policy_dict()
    data.update(copy.deepcopy(changes))
    return Policy.model_validate(data)


# --------------------------------------------------------------------------- enrolments

# The national psn_type code each person type of these tests is sent as (policies' [codes.psn_type]).
PSN_TYPE_CODES = {
    "in_service": "1101",
    "retired": "1201",
    "flexible": "1103",
    "adult": "1501",
    "student": "1403",
    "child": "1402",
    "elderly": "1560",
    "newborn": "1401",
}


def enrolment(psn_no: str = "R1", **kw: Any) -> Enrolment:
    """A resident adult enrolled in the 2024 collection period, continuously insured, unless
    told otherwise. Staff: pass insutype="310" and a staff psn_type. ``psn_type`` may be the
    engine's word (sent as its national code) or a national code."""
    staff = kw.get("insutype") == "310"
    values: dict[str, Any] = {
        "schema_version": "enrolments.v2",
        "request_id": f"ENR-{psn_no}",
        "sent_at": SENT_AT,
        "psn_no": psn_no,
        "insutype": "390",
        "psn_type": "in_service" if staff else "adult",
        "insuplc_admdvs": "640100",
        "year": YEAR,
        "enrol_date": date(2024, 11, 1),
    }
    values.update(kw)
    if values["psn_type"] == "in_service" and "contribution_base" not in values:
        values["contribution_base"] = 8000
    values["psn_type"] = PSN_TYPE_CODES.get(values["psn_type"], values["psn_type"])
    if isinstance(values.get("prior_cover"), PriorCover):
        values["prior_cover"] = values["prior_cover"].model_dump()
    return Enrolment.model_validate(values)


def family(psn_no: str, relation: str) -> FamilyMember:
    return FamilyMember(psn_no=psn_no, relation=relation)


def prior_cover(left_scheme: str, left_on: date) -> PriorCover:
    return PriorCover(left_scheme=left_scheme, left_on=left_on)


def facts_of(e: Enrolment, policy: Policy) -> EnrolmentFacts:
    """The enrolment as the service reads it: national codes through the policy's mapping."""
    scheme = scheme_of(policy, e.insutype, CODES)
    return enrolment_facts_of(e, scheme, policy, CODES)


# --------------------------------------------------------------------------- the test payer's data
#
# A test says what the catalogue and the registry hold where it builds a line or a claim: item()
# lists the line's code in the catalogue with the class, ratio, cap and flag the test gives (the
# code spells them, so one code always means the same terms); claim() lists its institution with
# the kind, level, designation and payment method the test gives; physician() a physician. The
# claim itself carries none of it, as a real claim does not: the engine reads it from this data.

BEGIN = date(2000, 1, 1)
CATALOGUE: dict[str, HilistEntry] = {}
SELFPAY: dict[str, SelfpayRate] = {}
CAPS: dict[str, PriceCap] = {}
PLACES: dict[tuple[str, str], Institution] = {}  # (fixmedins_code, mdtrt_id) → its registry row
LATEST_PLACE: dict[str, Institution] = {}
PHYSICIANS: dict[str, Physician] = {}
DRG: dict[str, DrgGroup] = {}
DIP: dict[str, DipGroup] = {}


def catalogue_code(lv: str, selfpay_prop: str | int, cap: str | int | None, nego: bool) -> str:
    return f"T{lv}-{Decimal(str(selfpay_prop)).normalize()}-{cap if cap is not None else 'x'}-{int(nego)}"


def list_in_catalogue(code: str, lv: str, selfpay_prop: str | int, cap: str | int | None, nego: bool) -> None:
    CATALOGUE[code] = HilistEntry(code, code, "101", "09", ChargeLevel(lv), False, nego, BEGIN, OPEN_END)
    if Decimal(str(selfpay_prop)):
        SELFPAY[code] = SelfpayRate(code, "", "1", Decimal(str(selfpay_prop)), BEGIN, OPEN_END)
    if cap is not None:
        CAPS[code] = PriceCap(code, "1", "1", Decimal(str(cap)), BEGIN, OPEN_END)


def register_place(code: str, mdtrt_id: str, kind: str, level: str | None, dual: bool, paymtd: str) -> None:
    pharmacy = kind in ("retail_pharmacy", "dual_channel_pharmacy")
    place = Institution(
        fixmedins_code=code,
        fixmedins_name=code,
        fixmedins_type=InstitutionType.PHARMACY if pharmacy else InstitutionType.MEDICAL,
        hosp_lv=int(level) if level and kind in ("hospital", "internet_hospital") else None,
        primary_care=kind == "primary_care",
        admdvs="640104",
        dual_channel=dual,
        internet_hospital=kind == "internet_hospital",
        inpatient_paymtd=PaymentMethod(paymtd),
        begndate=BEGIN,
        enddate=OPEN_END,
    )
    PLACES[(code, mdtrt_id)] = LATEST_PLACE[code] = place


def payer_data(c: Claim | None = None) -> PayerData:
    """Everything the tests listed, with the claim's own institution (or each code's latest)."""
    places = dict(LATEST_PLACE)
    if c is not None and (c.fixmedins_code, c.mdtrt_id) in PLACES:
        places[c.fixmedins_code] = PLACES[(c.fixmedins_code, c.mdtrt_id)]
    catalogue = Catalogue(
        items=DatedIndex.of(CATALOGUE.values(), lambda r: r.hilist_code, "item"),
        selfpay=DatedIndex.of(SELFPAY.values(), lambda r: selfpay_key(r.hilist_code, r.who), "selfpay"),
        caps=DatedIndex.of(CAPS.values(), lambda r: r.hilist_code, "cap"),
    )
    registry = Registry(
        institutions=DatedIndex.of(places.values(), lambda r: r.fixmedins_code, "institution"),
        physicians=DatedIndex.of(PHYSICIANS.values(), lambda r: r.dr_code, "physician"),
    )
    casemix = Casemix(
        dip=DatedIndex.of(DIP.values(), lambda r: r.dip_code, "dip"),
        drg=DatedIndex.of(DRG.values(), lambda r: r.drg_code, "drg"),
    )
    return PayerData(catalogue, registry, casemix, digest="tests", folder="tests")


def priced(policy: Policy, c: Claim | None = None) -> PricedPolicy:
    return PolicyBook.of([policy], payer=[payer_data(c)], codes=CODES).policies[0]


# --------------------------------------------------------------------------- claims


def item(
    sn: str,
    pric: str | int,
    *,
    cnt: str | int = 1,
    lv: str = "01",
    selfpay_prop: str | int = 0,
    cap: str | int | None = None,
    nego: bool = False,
    excluded: str | None = None,
    amount: str | int | None = None,
    **sent: Any,
) -> FeeLine:
    """One fee line of an item the catalogue lists with these terms; the line amount is pric ×
    cnt unless ``amount`` is given. ``sent``: other national fields of the line as the
    institution sends them (its own chrgitm_lv, init_feedetl_sn, …)."""
    if amount is None:
        exact = Decimal(str(pric)) * Decimal(str(cnt))
        amount = str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    code = catalogue_code(lv, selfpay_prop, cap, nego)
    list_in_catalogue(code, lv, selfpay_prop, cap, nego)
    values: dict[str, Any] = {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "pric": str(pric),
        "cnt": str(cnt),
        "det_item_fee_sumamt": str(amount),
        "excluded_category": excluded,
    }
    return FeeLine.model_validate({**values, **sent})


def physician(title: str, *, designated: bool = True) -> Physician:
    """A physician of this title, in the registry (designated for negotiated drugs unless told)."""
    code = f"DR-{title}" + ("" if designated else "-not-designated")
    PHYSICIANS[code] = PayerPhysician(code, "H001", PhysicianTitle(title), designated, BEGIN, OPEN_END)
    return Physician(dr_code=code)


def _casemix_groups(kw: dict[str, Any]) -> str:
    """DRG weight / DIP score given by a test go into the payer's case-mix catalogue; the
    institution's payment method follows (an inpatient case without either is item by item)."""
    weight, score = kw.pop("drg_weight", None), kw.pop("dip_score", None)
    if kw.get("drg_code") and weight is not None:
        code = kw["drg_code"]
        DRG[code] = DrgGroup(code, code, Decimal(str(weight)), BEGIN, OPEN_END)
        return "drg"
    if kw.get("dip_code") and score is not None:
        code = kw["dip_code"]
        DIP[code] = DipGroup(code, code, "", "comprehensive", Decimal(str(score)), BEGIN, OPEN_END)
        return "dip"
    return "item"


def claim(
    psn_no: str,
    items: list[FeeLine] | tuple[FeeLine, ...],
    *,
    mdtrt_id: str,
    med_type: str = "21",
    kind: str = "hospital",
    level: str | None = "3",
    begndate: date = date(2025, 3, 1),
    enddate: date | None = None,
    insutype: str = "390",
    fixmedins_code: str = "H001",
    request_id: str | None = None,
    dual_channel_designated: bool = False,
    **kw: Any,
) -> Claim:
    """A claims.v2 claim; its institution goes into the test registry with the kind, level,
    designation and payment method given (a claim does not say what its institution is)."""
    paymtd = _casemix_groups(kw)
    register_place(fixmedins_code, mdtrt_id, kind, level, dual_channel_designated, paymtd)
    if "diagnoses" in kw:
        kw["diseinfo"] = [
            {"diag_code": d["diag_code"], "maindiag_flag": d.get("maindiag_flag", False)} for d in kw.pop("diagnoses")
        ]
    return Claim.model_validate(
        {
            "schema_version": "claims.v2",
            "request_id": request_id or f"REQ-{mdtrt_id}",
            "sent_at": SENT_AT,
            "psn_no": psn_no,
            "insutype": insutype,
            "mdtrt_id": mdtrt_id,
            "fixmedins_code": fixmedins_code,
            "med_type": med_type,
            "begntime": begndate,
            "endtime": enddate or begndate,
            "feedetail": list(items),
            **kw,
        }
    )


# --------------------------------------------------------------------------- settling


@dataclass(frozen=True)
class Settled:
    """A settlement as the tests read it: the engine's facts, its events, and the settlements.v1
    answer the service renders from the facts (amounts read back from it are fen)."""

    facts: ClaimSettled
    events: tuple[tuple[str, Event], ...]
    result: SettlementResult

    @property
    def delta(self) -> Totals:
        return self.facts.delta


@dataclass(frozen=True)
class Reversed:
    facts: SettlementReversed
    events: tuple[tuple[str, Event], ...]
    result: ReversalResult


def settle(
    c: Claim, person: PersonYear, policy: Policy, *, payer: PayerAccount | None = None, index: int = 0
) -> Settled:
    """engine.settle.settle_claim as the service calls it: the claim converted to the engine's
    Visit, deterministic ids, and the answer rendered at a fixed time."""
    key = c.idempotency_key
    done = settle_claim(
        visit_of(c),
        person,
        priced(policy, c),
        payer=payer,
        setl_id=settlement_id(key, person.year),
        request_key=key,
        request_id=c.request_id,
    )
    answer = settlement_answer(
        done.facts, event_id=event_id(key, index), occurred_at=OCCURRED_AT, setl_mode=c.setl_mode
    )
    return Settled(done.facts, done.events, answer)


def reversal(psn_no: str, setl_id: str, *, request_id: str = "REV-1", fixmedins_code: str = "H001") -> Reversal:
    return Reversal(
        schema_version="claims.v2",
        request_id=request_id,
        sent_at=SENT_AT,
        psn_no=psn_no,
        fixmedins_code=fixmedins_code,
        setl_id=setl_id,
    )


@dataclass
class Book:
    """Event streams of person-years, folded with engine.person.apply as the ledger does.

    ``policies`` maps psn_no → the policy of that person's scheme (default: ``policy``)."""

    policy: Policy
    policies: dict[str, Policy] = field(default_factory=dict)
    streams: dict[str, list[Event]] = field(default_factory=dict)
    year: int = YEAR  # the person-year a claim is priced against (a test of other years says so)

    def policy_of(self, psn_no: str) -> Policy:
        return self.policies.get(psn_no, self.policy)

    def state(self, psn_no: str, year: int = YEAR) -> PersonYear:
        return replay(psn_no, year, self.streams.get(stream_id(psn_no, year), []))

    def append(self, events: tuple[tuple[str, Event], ...] | list[tuple[str, Event]]) -> None:
        """Append and fold at once (the fold raises InvariantBroken as the service's would)."""
        for stream, event in events:
            psn_no, year = stream.rsplit("/", 1)
            apply(self.state(psn_no, int(year)), event)  # check it folds before recording
            self.streams.setdefault(stream, []).append(event)

    def enrol(self, e: Enrolment, policy: Policy | None = None) -> PersonYear:
        if policy is not None:
            self.policies[e.psn_no] = policy
        policy = self.policy_of(e.psn_no)
        event = record_enrolment(facts_of(e, policy), policy, self.state(e.psn_no, e.year))
        self.append([(stream_id(e.psn_no, e.year), event)])
        return self.state(e.psn_no, e.year)

    def credit(self, psn_no: str, month: int, year: int = YEAR) -> int:
        event = credit_account(psn_no, year, month, self.state(psn_no, year), self.policy_of(psn_no))
        self.append([(stream_id(psn_no, year), event)])
        return event.amount

    def price(self, c: Claim) -> Settled:
        """Price without recording (pre-settlement)."""
        payer = None
        if c.acct_payer_psn_no is not None:
            relative = self.state(c.acct_payer_psn_no, self.year)
            if relative.enrolment is not None:
                payer = PayerAccount(relative, self.policy_of(c.acct_payer_psn_no))
        return settle(c, self.state(c.psn_no, self.year), self.policy_of(c.psn_no), payer=payer)

    def settle(self, c: Claim) -> Settled:
        settled = self.price(c)
        self.append(settled.events)
        return settled

    def reverse(
        self, psn_no: str, setl_id: str, *, request_id: str = "REV-1", fixmedins_code: str = "H001"
    ) -> Reversed:
        person = self.state(psn_no)
        original = person.settlements.get(setl_id)
        payer = None
        if original is not None and original.payer_psn_no is not None:
            payer = self.state(original.payer_psn_no)
        rev = reversal(psn_no, setl_id, request_id=request_id, fixmedins_code=fixmedins_code)
        key = rev.idempotency_key
        done = reverse_settlement(reversal_request_of(rev), person, payer, setl_id=settlement_id(key, person.year))
        self.append(done.events)
        answer = reversal_answer(done.facts, event_id=event_id(key, 0), occurred_at=OCCURRED_AT)
        return Reversed(done.facts, done.events, answer)


def enrolled(e: Enrolment, policy: Policy) -> PersonEnrolled:
    """engine.enrol.record_enrolment of a first enrolment, as the service records it."""
    return record_enrolment(facts_of(e, policy), policy, PersonYear(psn_no=e.psn_no, year=e.year))
