"""Properties of the pricing engine over random claims and random histories (hypothesis).

Each example enrols one person (resident under the Ningxia 2025 file, or staff under the test
staff policy of engine_builders), sometimes with a staff parent whose account pays (家庭共济),
then settles a random sequence of claims with items of every class, prices, quantities, price
caps, 先行自付 shares, negotiated-drug and excluded-category flags. After every settlement the
documented identities must hold (docs/domain.md#pipeline, docs/money.md); at the end a settlement is
reversed and the books must come back exactly.

The oracles below are written from the policy's numbers, not taken from the engine:
  major illness: 60% of the year's base between 15,000 and 100,000 yuan, 70% above, rounded
  half up once, within the cap (300,000 + incentives for residents [000], 700,000 staff [000]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from engine_builders import (
    Book,
    Settled,
    claim,
    enrolment,
    family,
    fen,
    item,
    physician,
    resident_policy,
    settle,
    staff_policy,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from contracts.claims import Claim
from contracts.codes import ExcludedCategory, RejectionCode
from contracts.enrolments import Enrolment
from engine.benefit_name import BenefitName
from engine.errors import Rejected
from engine.events import ClaimSettled, FamilyAccountDebited, SettlementReversed
from engine.person import OpenSettlement, PersonYear, SettlementNote, Settlements, apply, opened, replay, stream_id
from engine.records import from_record, to_record
from engine.snapshot import from_json, to_json
from engine.totals import Totals

RESIDENT = resident_policy()
STAFF = staff_policy()
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Refusals a random claim may legitimately meet (unregistered disease, relative not registered).
EXPECTED_REFUSALS = {RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED, RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED}
DISEASES = ["I10", "E11", "N18", "C50", "B18", "G40"]


# --------------------------------------------------------------------------- oracles


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


TILTED = {"destitute", "min_living", "returned_to_poverty"}  # 国办发〔2021〕42号 / 医保发〔2021〕19号


def major_illness_due(base_fen: int, category: str | None = None) -> int:
    """[000]/policy: 60% of 15,000–100,000, 70% above 100,000, on the year's base, rounded once;
    for 特困/低保/返贫致贫 (national rule) the threshold halved to 7,500 and 5 points more."""
    tilted = category in TILTED
    start, bonus = (fen(7500), Decimal("0.05")) if tilted else (fen(15000), Decimal(0))
    lower = max(0, min(base_fen, fen(100000)) - start)
    upper = max(0, base_fen - fen(100000))
    return half_up(Decimal(lower) * (Decimal("0.60") + bonus) + Decimal(upper) * (Decimal("0.70") + bonus))


def major_illness_cap(e: Enrolment) -> int:
    if e.insutype == "310":
        return fen(700000)
    if e.aid_category is not None and e.aid_category.value in TILTED:
        return 10**15  # 取消封顶线
    reward = max(0, e.continuous_years - 4) * 5000 + e.zero_claim_years * 5000
    return fen(300000 + min(reward, 60000) - (5000 if e.rejoined_after_break else 0))


AID_RULES = {  # category → (yearly deductible, ratio) from the policy file
    "destitute": (0, Decimal("1.00")),
    "min_living": (0, Decimal("0.90")),
    "returned_to_poverty": (500, Decimal("0.85")),
    "monitored": (1000, Decimal("0.80")),
}


def aid_due(category: str, base_fen: int) -> int:
    deductible, ratio = AID_RULES[category]
    return min(half_up(Decimal(max(0, base_fen - fen(deductible))) * ratio), fen(50000))


# --------------------------------------------------------------------------- strategies


@st.composite
def line_items(draw: st.DrawFn, count: int) -> list[Any]:
    lines = []
    for n in range(count):
        lv = draw(st.sampled_from(["01", "01", "02", "02", "03"]))
        pric_fen = draw(
            st.one_of(st.integers(1, 20_000), st.integers(1, 2_000_000), st.integers(1_000_000, 60_000_000))
        )
        cnt = Decimal(draw(st.sampled_from(["1", "1", "2", "3", "0.5", "1.25", "0.3333", "10"])))
        prop = draw(st.sampled_from(["0", "0.05", "0.1", "0.2", "0.3333"]))
        cap_kind = draw(st.sampled_from([None, None, "below", "above"]))
        cap = None
        if cap_kind == "below":
            cap = pric_fen * draw(st.integers(0, 99)) // 100
        elif cap_kind == "above":
            cap = pric_fen + draw(st.integers(0, 10_000))
        excluded = draw(st.sampled_from([None] * 8 + [c.value for c in ExcludedCategory]))
        amount = half_up(Decimal(pric_fen) * cnt)  # pric × cnt, half up (docs/money.md)
        lines.append(
            item(
                str(n),
                str(Decimal(pric_fen) / 100),
                cnt=str(cnt),
                lv=lv,
                selfpay_prop=prop,
                cap=None if cap is None else str(Decimal(cap) / 100),
                nego=draw(st.integers(0, 4)) == 0,
                excluded=excluded,
                amount=str(Decimal(amount) / 100),
            )
        )
    return lines


@st.composite
def claims(draw: st.DrawFn, psn_no: str, insutype: str, visit: str, payer: bool) -> Claim:
    med_type = draw(st.sampled_from(["11", "11", "14", "21", "21", "22", "23", "41"]))
    kw: dict[str, Any] = {}
    if med_type == "41":
        kind, level = draw(st.sampled_from(["retail_pharmacy", "dual_channel_pharmacy"])), None
        kw["extn_rx_flag"] = draw(st.booleans())
    else:
        kind = draw(st.sampled_from(["hospital", "hospital", "primary_care", "internet_hospital"]))
        if med_type.startswith("2") and kind == "internet_hospital":
            kind = "hospital"
        level = draw(st.sampled_from(["1", "2", "3"]))
    if med_type == "14":
        kw["dise_codg"] = draw(st.sampled_from(DISEASES))
    elif med_type == "11":
        kw["dise_codg"] = draw(st.sampled_from([None, None, None, "I10", "E11"]))
    if med_type == "22" and kind == "hospital":
        kw["drg_code"], kw["drg_weight"] = "GB1", Decimal(draw(st.sampled_from(["0.5", "1", "1.5", "3"])))
    if med_type == "23" and kind == "hospital":
        kw["dip_code"], kw["dip_score"] = "K35", Decimal(draw(st.sampled_from(["100", "800", "2500"])))
    title = draw(st.sampled_from([None, "resident", "attending", "associate_chief", "chief"]))
    if title is not None:
        kw["resp_physician"] = physician(title)
    kw["dual_channel_designated"] = draw(st.booleans())
    kw["acct_used_flag"] = draw(st.booleans())
    if payer and draw(st.booleans()):
        kw["acct_payer_psn_no"], kw["acct_payer_relation"] = "S1", "child"
    begin = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 360)))
    end = min(begin + timedelta(days=draw(st.integers(0, 20)) if med_type.startswith("2") else 0), date(2025, 12, 31))
    items = draw(line_items(draw(st.integers(1, 6))))
    return claim(
        psn_no,
        items,
        mdtrt_id=visit,
        med_type=med_type,
        kind=kind,
        level=level,
        begndate=begin,
        enddate=end,
        insutype=insutype,
        **kw,
    )


@dataclass
class Scenario:
    book: Book
    person: Enrolment
    claims: list[Claim]
    credits: list[int] = field(default_factory=list)


@st.composite
def scenarios(draw: st.DrawFn, max_claims: int = 6) -> Scenario:
    staff = draw(st.booleans())
    kw: dict[str, Any] = {
        "registered_diseases": tuple(draw(st.lists(st.sampled_from(DISEASES), unique=True, max_size=4))),
    }
    if draw(st.integers(0, 3)) == 0:  # enrolled late: a waiting period covers part of the year
        kw.update(enrol_date=date(2025, draw(st.integers(1, 8)), 10), in_collection_period=False)
    if staff:
        kw.update(
            insutype="310",
            psn_type=draw(st.sampled_from(["in_service", "retired", "flexible"])),
            acct_opening_balance=draw(st.integers(0, 5000)),
            contribution_base=draw(st.integers(0, 30000)),
        )
        book = Book(STAFF)
    else:
        kw.update(
            psn_type=draw(st.sampled_from(["adult", "student", "child", "elderly"])),
            zero_claim_years=draw(st.integers(0, 6)),
            aid_category=draw(st.sampled_from([None, None, *AID_RULES, "impoverished_by_illness"])),
        )
        # a break restarts the continuous count and carries the rejoin penalty (000 四)
        break_years = draw(st.sampled_from([0, 0, 0, 1, 3]))
        continuous = 1 if break_years else draw(st.integers(0, 20))
        kw.update(continuous_years=continuous, break_years=break_years, rejoined_after_break=break_years > 0)
        book = Book(RESIDENT)
    person = enrolment("P1", **kw)
    payer = not staff and draw(st.booleans())
    if payer:
        registered = draw(st.sampled_from([(family("P1", "child"),), (family("P1", "child"),), ()]))
        book.enrol(
            enrolment("S1", insutype="310", acct_opening_balance=draw(st.integers(0, 3000)), family_members=registered),
            STAFF,
        )
    book.enrol(person)
    scenario = Scenario(book, person, [])
    if staff:
        scenario.credits = draw(st.lists(st.integers(1, 12), unique=True, max_size=3))
        for month in scenario.credits:
            book.credit("P1", month)
    count = draw(st.integers(1, max_claims))
    scenario.claims = [draw(claims("P1", person.insutype, f"V{n}", payer)) for n in range(count)]
    return scenario


# --------------------------------------------------------------------------- the checks


def check_one(c: Claim, settled: Settled, before: PersonYear, payer_before: PersonYear | None) -> None:
    info = settled.result.setlinfo
    # §2.1: the total is the sum of the lines, and splits into the four parts
    assert info.medfee_sumamt == sum(i.det_item_fee_sumamt for i in c.feedetail)
    assert (
        info.medfee_sumamt == info.fulamt_ownpay_amt + info.overlmt_selfpay + info.preselfpay_amt + info.inscp_scp_amt
    )
    for part in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"):
        assert getattr(info, part) == sum(getattr(s, part) for s in settled.result.items), part
    for line, split in zip(c.feedetail, settled.result.items, strict=True):
        parts = split.fulamt_ownpay_amt + split.overlmt_selfpay + split.preselfpay_amt + split.inscp_scp_amt
        assert parts == line.det_item_fee_sumamt
        assert min(split.fulamt_ownpay_amt, split.overlmt_selfpay, split.preselfpay_amt, split.inscp_scp_amt) >= 0
        if line.excluded_category is not None or split.chrgitm_lv == "03":
            assert split.fulamt_ownpay_amt == line.det_item_fee_sumamt
    # §2.7: who pays adds up
    assert info.fund_pay_sumamt == info.hifp_pay + info.hifmi_pay + info.hifob_pay + info.maf_pay
    assert info.psn_part_amt == info.medfee_sumamt - info.fund_pay_sumamt == info.acct_pay + info.psn_cash_pay
    amounts = [info.hifp_pay, info.hifmi_pay, info.hifob_pay, info.maf_pay, info.acct_pay, info.psn_cash_pay]
    assert min(amounts) >= 0
    # funds pay policy-range cost only: never 全自费, 超限价 or (in this policy) 先行自付
    assert info.fund_pay_sumamt <= info.inscp_scp_amt
    assert info.act_pay_dedc + info.hifp_pay <= info.inscp_scp_amt
    # every setldetail row: 0 ≤ fund_payamt ≤ crt_payb_lmt_amt (the account row too)
    for row in settled.result.setldetail:
        assert 0 <= row.fund_payamt <= row.crt_payb_lmt_amt, row
    # no fund pays inside a waiting period
    assert before.coverage_from is not None
    if c.begntime < before.coverage_from:
        assert info.fund_pay_sumamt == 0
    # the account pays only when asked; acct_mulaid_pay is part of acct_pay; never excluded lines
    excluded_lines = sum(i.det_item_fee_sumamt for i in c.feedetail if i.excluded_category is not None)
    assert info.psn_cash_pay >= excluded_lines
    if not c.acct_used_flag:
        assert info.acct_pay == 0
    assert 0 <= info.acct_mulaid_pay <= info.acct_pay
    assert info.acct_pay - info.acct_mulaid_pay <= (before.account_balance if before.has_account else 0)
    # the delta says the same as the result
    d = settled.delta
    assert (d.medfee_sumamt, d.fund_pay_sumamt, d.psn_cash_pay) == (
        info.medfee_sumamt,
        info.fund_pay_sumamt,
        info.psn_cash_pay,
    )
    assert (d.hifp_total, d.mi_paid, d.aid_paid) == (info.hifp_pay, info.hifmi_pay + info.hifob_pay, info.maf_pay)
    assert d.acct_paid_own + d.acct_mulaid_received == info.acct_pay
    assert d.acct_mulaid_received == info.acct_mulaid_pay
    assert d.deductibles_total == info.act_pay_dedc
    # major illness and aid work on what the basic fund left of the policy range, never more
    assert 0 <= info.hifmi_pay + info.hifob_pay <= d.mi_base <= info.inscp_scp_amt - info.hifp_pay
    assert 0 <= info.maf_pay <= d.aid_base <= info.inscp_scp_amt - info.hifp_pay - info.hifmi_pay - info.hifob_pay
    # events: the settlement in the person's stream, a relative's debit in theirs
    (stream, head), *rest = settled.events
    assert stream == stream_id(c.psn_no, 2025) and isinstance(head, ClaimSettled) and head.delta == d
    if info.acct_mulaid_pay:
        assert payer_before is not None
        assert len(rest) == 1
        payer_stream, debit = rest[0]
        assert payer_stream == stream_id("S1", 2025) and isinstance(debit, FamilyAccountDebited)
        assert debit.amount == info.acct_mulaid_pay <= payer_before.account_balance
    else:
        assert rest == []


def check_year(book: Book, e: Enrolment) -> None:
    state = book.state("P1")
    t = state.totals
    staff = e.insutype == "310"
    assert t.hifp_in_annual_cap <= fen(400000 if staff else 130000)  # [004]
    # staff: the test policy's 1,200 ([004] 中卫); residents: the Ningxia file's ASSUMPTION 400
    assert t.hifp[BenefitName.GENERAL_OUTPATIENT] <= fen(1200 if staff else 400)
    assert t.hifp[BenefitName.TWO_DISEASES] <= fen(400)  # policy (ASSUMPTION)
    # the cumulative rounding rule: the year's payments are the rounded banded figure on the year
    category = e.aid_category.value if e.aid_category else None
    assert t.mi_paid == min(major_illness_due(t.mi_base, category), major_illness_cap(e))
    if e.aid_category is not None and e.aid_category.value in AID_RULES:
        assert t.aid_paid == aid_due(e.aid_category.value, t.aid_base)
    if e.aid_category is not None and e.aid_category.value == "impoverished_by_illness":
        # [004]: nothing below 20,000 of remaining cost; never more than 70% above 5,000, ≤ 160,000
        if t.aid_base < fen(20000):
            assert t.aid_paid == 0
        else:
            assert t.aid_paid <= min(half_up(Decimal(t.aid_base - fen(5000)) * Decimal("0.7")), fen(160000))
    elif e.aid_category is None:
        assert t.aid_paid == 0
    # snapshot round trip through real JSON
    assert from_json(json.loads(json.dumps(to_json(state)))) == kept(state)


def kept(state: PersonYear) -> PersonYear:
    """What a stored projection keeps of a year: everything, each settlement as a note (who
    settled it, whether it was reversed: its amounts stay in its event)."""
    notes = {key: SettlementNote(key, s.fixmedins_code, s.reversed_by) for key, s in state.settlements.items()}
    return replace(state, settlements=MappingProxyType(notes))


def describe(settled: Settled) -> None:
    """Label what an example exercised (pytest --hypothesis-show-statistics)."""
    info = settled.result.setlinfo
    for label, hit in [
        ("basic fund paid", info.hifp_pay > 0),
        ("major illness paid", info.hifmi_pay + info.hifob_pay > 0),
        ("medical aid paid", info.maf_pay > 0),
        ("own account paid", info.acct_pay > info.acct_mulaid_pay),
        ("relative's account paid", info.acct_mulaid_pay > 0),
        ("a cap bound", any(r.fund_payamt == r.crt_payb_lmt_amt > 0 for r in settled.result.setldetail)),
        ("case payment", settled.result.case_payment is not None),
    ]:
        if hit:
            event(label)


def run(s: Scenario) -> list[tuple[Claim, Settled, Totals]]:
    """Settle the scenario's claims in order; return (claim, settlement, totals before it)."""
    done = []
    for c in s.claims:
        before = s.book.state("P1")
        payer_before = s.book.state("S1") if c.acct_payer_psn_no else None
        try:
            settled = s.book.price(c)
        except Rejected as refused:
            assert refused.code in EXPECTED_REFUSALS, refused
            event(f"refused: {refused.code.value}")
            continue
        check_one(c, settled, before, payer_before)
        describe(settled)
        # deterministic: the same claim against the same year prices identically
        again = s.book.price(c)
        assert again.result == settled.result and again.events == settled.events and again.delta == settled.delta
        # the fold of the emitted events = the state priced against + the delta
        events_before = list(s.book.streams[stream_id("P1", 2025)])
        s.book.append(settled.events)
        own = [e for stream, e in settled.events if stream == stream_id("P1", 2025)]
        folded = replay("P1", 2025, events_before + own)
        assert folded.totals == before.totals + settled.delta
        assert folded.visits[c.mdtrt_id] == settled.result.setl_id
        # every event survives the ledger's record form, through real JSON
        for _, emitted in settled.events:
            event_type, data = to_record(emitted)
            assert from_record(event_type, json.loads(json.dumps(data, ensure_ascii=False))) == emitted
        if payer_before is not None:
            payer_after = s.book.state("S1")
            assert payer_after.account_balance == payer_before.account_balance - settled.result.setlinfo.acct_mulaid_pay
        check_year(s.book, s.person)
        done.append((c, settled, before.totals))
    return done


# --------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_settlement_adds_up_and_the_year_folds_from_its_events(s: Scenario) -> None:
    run(s)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_reversing_a_settlement_restores_the_books_exactly(s: Scenario, data: st.DataObject) -> None:
    done = run(s)
    if not done:
        return
    credits = Totals(acct_credited=s.book.state("P1").totals.acct_credited)
    payer_balance = s.book.state("S1").account_balance if s.book.state("S1").enrolment else None
    # reversing the last settlement gives back exactly the totals it was priced against
    last_claim, last, last_before = done[-1]
    s.book.reverse("P1", last.result.setl_id, request_id="REV-last", fixmedins_code=last_claim.fixmedins_code)
    assert s.book.state("P1").totals == last_before
    assert last_claim.mdtrt_id not in s.book.state("P1").visits
    # reversing any other: the year is the sum of the settlements still in force
    remaining = done[:-1]
    if remaining:
        k = data.draw(st.integers(0, len(remaining) - 1))
        c, gone, _ = remaining.pop(k)
        s.book.reverse("P1", gone.result.setl_id, request_id="REV-any", fixmedins_code=c.fixmedins_code)
        expected = credits
        for _, kept, _ in remaining:
            expected = expected + kept.delta
        assert s.book.state("P1").totals == expected
    if payer_balance is not None:
        # the relative's account got back what was taken for the reversed settlements
        kept_family = sum(k.result.setlinfo.acct_mulaid_pay for _, k, _ in remaining)
        spent_before = sum(k.result.setlinfo.acct_mulaid_pay for _, k, _ in done)
        assert s.book.state("S1").account_balance == payer_balance + spent_before - kept_family
    # the freed visit can be settled again (a new request for the same visit)
    again = last_claim.model_copy(update={"request_id": "REQ-again"})
    resettled = s.book.settle(again)
    assert s.book.state("P1").visits[last_claim.mdtrt_id] == resettled.result.setl_id != last.result.setl_id


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 40_000_000), min_size=1, max_size=8),
    st.integers(0, 20),
    st.integers(0, 6),
)
def test_major_illness_over_a_year_of_stays_sums_to_the_rounded_banded_figure(
    stays: list[int], continuous: int, zero_claim: int
) -> None:
    """docs/money.md: accumulating rules round the year's figure and pay the growth, so however the
    year is split into visits, the payments sum to one rounded banded figure (within the cap)."""
    book = Book(RESIDENT)
    e = enrolment("P1", continuous_years=continuous, zero_claim_years=zero_claim)
    book.enrol(e)
    paid = 0
    for n, amount_fen in enumerate(stays):
        c = claim("P1", [item("1", str(Decimal(amount_fen) / 100))], mdtrt_id=f"V{n}", level=str(1 + n % 3))
        paid += book.settle(c).result.setlinfo.hifmi_pay
    base = book.state("P1").totals.mi_base
    assert paid == min(major_illness_due(base), major_illness_cap(e))


@settings(max_examples=40, deadline=None)
@given(scenarios(max_claims=3))
def test_snapshot_round_trips_through_json(s: Scenario) -> None:
    run(s)
    for psn_no in ("P1", "S1"):
        state = s.book.state(psn_no)
        assert from_json(json.loads(json.dumps(to_json(state), ensure_ascii=False))) == kept(state)


@settings(max_examples=40, deadline=None)
@given(scenarios(max_claims=4), st.data())
def test_a_year_continued_from_its_stored_projection_writes_what_a_replay_of_its_events_does(
    s: Scenario, data: st.DataObject
) -> None:
    """The service continues a year from its stored projection, whose settlements are notes decoded
    only when read (engine.person.Settlements) and otherwise written back as stored: cut the year's
    events anywhere, store the state there as JSON, fold the rest onto what is read back, and the
    next projection must be the replay's, byte for byte, whatever the rest holds (a reversal first
    reads the amounts of the settlement it undoes from that settlement's event, as the service does;
    claims and credits read none)."""
    done = run(s)
    if done:
        c, gone, _ = done[data.draw(st.integers(0, len(done) - 1))]
        s.book.reverse("P1", gone.result.setl_id, request_id="REV-any", fixmedins_code=c.fixmedins_code)
    events = s.book.streams[stream_id("P1", 2025)]
    whole = replay("P1", 2025, events)
    cut = data.draw(st.integers(0, len(events)))
    state = from_json(json.loads(json.dumps(to_json(replay("P1", 2025, events[:cut])), ensure_ascii=False)))
    for later in events[cut:]:
        if isinstance(later, SettlementReversed) and isinstance(
            state.settlements[later.reversed_setl_id], SettlementNote
        ):
            (settled,) = (e for e in events if isinstance(e, ClaimSettled) and e.setl_id == later.reversed_setl_id)
            state = opened(state, OpenSettlement.of(settled))
        state = apply(state, later)
    assert json.dumps(to_json(state), sort_keys=True) == json.dumps(to_json(whole), sort_keys=True)
    assert kept(state) == kept(whole) and len(state.settlements) == len(whole.settlements)


def test_a_claim_writes_the_years_earlier_settlements_back_as_stored_without_decoding_them() -> None:
    """Three settled visits, stored; the fourth claim is priced and folded onto the stored year:
    the earlier entries go into the next projection as the very objects read (no decode, no
    encode), and only the new one is encoded."""
    book = Book(STAFF)
    book.enrol(enrolment("P1", insutype="310", psn_type="in_service", contribution_base=8000))
    for n in range(3):
        book.settle(claim("P1", [item("1", "300")], mdtrt_id=f"V{n}", insutype="310"))
    stored = json.loads(json.dumps(to_json(book.state("P1")), ensure_ascii=False))
    state = from_json(stored)
    assert isinstance(state.settlements, Settlements)
    fourth = settle(claim("P1", [item("1", "120")], mdtrt_id="V3", insutype="310"), state, STAFF)
    after = state
    for _, emitted in fourth.events:
        after = apply(after, emitted)
    written = to_json(after)["settlements"]
    assert [written[key] is entry for key, entry in stored["settlements"].items()] == [True, True, True]
    assert list(written) == [*stored["settlements"], fourth.result.setl_id]
    assert written[fourth.result.setl_id] == {"fixmedins_code": fourth.result.fixmedins_code, "reversed_by": None}


def test_the_property_oracle_agrees_with_a_worked_example() -> None:
    """Guards the oracle itself: (63,585 − 15,000) × 0.6 = 29,151 (worked example, annual cap test)."""
    assert major_illness_due(fen(63585)) == fen(29151)
    assert major_illness_due(fen(170000)) == fen(100000)  # 51,000 + 0.7 × 70,000
    assert major_illness_due(fen(15000)) == 0
    assert major_illness_cap(enrolment("X", continuous_years=6)) == fen(310000)
    assert aid_due("min_living", fen(4085)) == fen("3676.50")  # worked example, medical aid


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([*AID_RULES, "impoverished_by_illness", "impoverished_by_illness"]),
    # mostly stays of 1,000–60,000 yuan, so the year crosses the aid thresholds visit by visit
    st.lists(st.one_of(st.integers(100_000, 6_000_000), st.integers(100_000, 30_000_000)), min_size=1, max_size=8),
)
def test_medical_aid_over_a_year_of_stays_never_overpays_a_visit_and_follows_the_yearly_figure(
    category: str, stays: list[int]
) -> None:
    """[004] aid on the year's remaining compliant cost; a visit is never paid more than it left."""
    book = Book(RESIDENT)
    book.enrol(enrolment("P1", aid_category=category))
    for n, amount_fen in enumerate(stays):
        c = claim("P1", [item("1", str(Decimal(amount_fen) / 100))], mdtrt_id=f"V{n}", level=str(1 + n % 3))
        info = book.settle(c).result.setlinfo
        left = info.inscp_scp_amt - info.hifp_pay - info.hifmi_pay
        assert 0 <= info.maf_pay <= left
        assert info.psn_cash_pay >= 0
    t = book.state("P1").totals
    if category in AID_RULES:
        assert t.aid_paid == aid_due(category, t.aid_base)
    elif t.aid_base < fen(20000):
        assert t.aid_paid == 0
    else:
        yearly = min(half_up(Decimal(t.aid_base - fen(5000)) * Decimal("0.70")), fen(160000))
        assert 0 < t.aid_paid <= yearly
