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

from contracts.claims import Claim, ClaimItem, DualChannelPhysician, Reversal
from contracts.enrolments import Enrolment, FamilyMember, PriorCover
from contracts.money import parse_yuan
from contracts.results import ReversalResult, SettlementResult
from engine.enrol import credit_account, record_enrolment
from engine.events import ClaimSettled, Event, PersonEnrolled, SettlementReversed
from engine.ids import event_id, settlement_id
from engine.person import PersonYear, apply, replay, stream_id
from engine.policy import Policy
from engine.policy_book import PolicyBook, PricedPolicy
from engine.reverse import reverse_settlement
from engine.settle import PayerAccount, settle_claim
from engine.totals import Totals

ROOT = Path(__file__).resolve().parents[2]
RESIDENT_TOML = ROOT / "policies" / "640000-390-2025.toml"
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
    benefits["general_outpatient"]["yearly_cap"] = "1200"  # [004] 职工普通门诊最高限额1200元/人
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


def priced(policy: Policy) -> PricedPolicy:
    return PolicyBook.of([policy]).policies[0]


# --------------------------------------------------------------------------- enrolments


def enrolment(psn_no: str = "R1", **kw: Any) -> Enrolment:
    """A resident adult enrolled in the 2024 collection period, continuously insured, unless
    told otherwise. Staff: pass insutype="310" and a staff psn_type."""
    staff = kw.get("insutype") == "310"
    values: dict[str, Any] = {
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
    return Enrolment.model_validate(values)


def family(psn_no: str, relation: str) -> FamilyMember:
    return FamilyMember(psn_no=psn_no, relation=relation)


def prior_cover(left_scheme: str, left_on: date) -> PriorCover:
    return PriorCover(left_scheme=left_scheme, left_on=left_on)


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
) -> ClaimItem:
    """One fee line; the line amount is pric × cnt unless ``amount`` is given."""
    if amount is None:
        exact = Decimal(str(pric)) * Decimal(str(cnt))
        amount = str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return ClaimItem(
        feedetl_sn=sn,
        hilist_code=f"X{sn}",
        chrgitm_lv=lv,
        selfpay_prop=Decimal(str(selfpay_prop)),
        pric=pric,
        cnt=Decimal(str(cnt)),
        det_item_fee_sumamt=amount,
        pric_uplmt_amt=cap,
        hi_nego_drug_flag=nego,
        excluded_category=excluded,
    )


def physician(title: str) -> DualChannelPhysician:
    return DualChannelPhysician(dr_code=f"DR-{title}", dr_title=title)


def claim(
    psn_no: str,
    items: list[ClaimItem] | tuple[ClaimItem, ...],
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
    **kw: Any,
) -> Claim:
    hospital = kind in ("hospital", "internet_hospital")
    return Claim(
        request_id=request_id or f"REQ-{mdtrt_id}",
        sent_at=SENT_AT,
        psn_no=psn_no,
        insutype=insutype,
        mdtrt_id=mdtrt_id,
        fixmedins_code=fixmedins_code,
        fixmedins_kind=kind,
        fixmedins_level=level if hospital else None,
        med_type=med_type,
        begndate=begndate,
        enddate=enddate or begndate,
        items=tuple(items),
        **kw,
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
        priced(policy),
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
        request_id=request_id, sent_at=SENT_AT, psn_no=psn_no, fixmedins_code=fixmedins_code, setl_id=setl_id
    )


@dataclass
class Book:
    """Event streams of person-years, folded with engine.person.apply as the ledger does.

    ``policies`` maps psn_no → the policy of that person's scheme (default: ``policy``)."""

    policy: Policy
    policies: dict[str, Policy] = field(default_factory=dict)
    streams: dict[str, list[Event]] = field(default_factory=dict)

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
        event = record_enrolment(enrolment_facts_of(e), self.policy_of(e.psn_no), self.state(e.psn_no, e.year))
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
            relative = self.state(c.acct_payer_psn_no)
            if relative.enrolment is not None:
                payer = PayerAccount(relative, self.policy_of(c.acct_payer_psn_no))
        return settle(c, self.state(c.psn_no), self.policy_of(c.psn_no), payer=payer)

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
    return record_enrolment(enrolment_facts_of(e), policy, PersonYear(psn_no=e.psn_no, year=e.year))
