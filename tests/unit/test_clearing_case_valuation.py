"""Worked examples of the case valuation at settlement (docs/clearing.md#case-valuation): the
fund groups DIP cases from its catalogue, reads DRG weights from its catalogue, and values both
with the policy's parameters — the hospital's code, weight or score is recorded, never paid on.

Policy: policies/640000-390-2025.toml — DRG base rate level 3 = 12,000, level 2 = 9,000; DIP
coefficient level 2 = 0.85, level 3 = 1.00; provisional point value 12; inpatient deductible 900
at level 3 and 600 at level 2, ratios 0.65 and 0.75 (all ASSUMPTIONS of the file). Payer data:
tests/casemix_sample.py (H64010100001 level 3 DRG, H64010100002 level 2 DIP, H64010100003 level 1 item by item).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from casemix_sample import LEVEL, install, place
from engine_builders import Book, claim, enrolment, fen, item, resident_policy

from contracts.claims import Claim
from engine.clearing.valuation import CaseFacts
from engine.policy import Policy


def book(policy: Policy | None = None, **enrol: Any) -> Book:
    install()
    b = Book(policy or resident_policy())
    b.enrol(enrolment("R1", **enrol))
    return b


def case_stay(amount: int, hospital: str, *, diag: str | None = None, oprn: str | None = None, **kw: Any) -> Claim:
    """An inpatient stay at a sample hospital (its level and payment method are the registry's)."""
    declared = {k: kw.pop(k) for k in ("drg_weight", "dip_score") if k in kw}  # sent among other fields
    mdtrt_id = kw.pop("mdtrt_id", "V1")
    c = claim(
        "R1",
        [item("1", amount)],
        mdtrt_id=mdtrt_id,
        level=LEVEL[hospital],
        fixmedins_code=hospital,
        diagnoses=[{"diag_code": diag, "maindiag_flag": True}] if diag else [],
        oprninfo=[{"oprn_oprt_code": oprn, "oprn_oprt_type": "1"}] if oprn else [],
        **kw,
    )
    place(hospital, mdtrt_id)
    if declared:
        c = Claim.model_validate({**c.model_dump(mode="json"), **{k: str(v) for k, v in declared.items()}})
    return c


def case_of(b: Book, c: Claim) -> CaseFacts:
    facts = b.settle(c).facts.case
    assert facts is not None
    return facts


# =========================================================================== DRG


def test_drg_due_is_the_catalogue_weight_times_the_base_rate_less_what_others_paid() -> None:
    b = book()
    settled = b.settle(case_stay(20000, "H64010100001", drg_code="GB19", drg_weight=Decimal("1.5")))
    case = settled.facts.case
    # standard: catalogue weight 1.5 × 12,000 = 18,000
    # item level: (20,000 − 900) × 0.65 = 12,415 from the basic fund; others paid 20,000 − 12,415 = 7,585
    # due: 18,000 − 7,585 = 10,415 — 2,000 less than item by item
    assert case is not None and (case.paymtd, case.group_code, case.outlier) == ("drg", "GB19", None)
    assert case.reference_cost == fen(18000)
    assert (case.item_fund, case.non_basic, case.provisional_due) == (fen(12415), fen(7585), fen(10415))
    answer = settled.result.case_payment
    assert answer is not None and answer.basic_fund_due == fen(10415)
    assert answer.difference_to_itemised == fen(-2000)
    assert settled.result.setlinfo.hifp_pay == fen(12415)  # the patient is still settled item by item


def test_a_drg_weight_sent_by_the_hospital_is_recorded_and_flagged_but_never_paid_on() -> None:
    case = case_of(book(), case_stay(20000, "H64010100001", drg_code="GB19", drg_weight=Decimal("3.0")))
    # the catalogue's 1.5 prices the case, as above; the hospital's 3.0 is a disagreement
    assert case.declared_value == Decimal("3.0") and case.catalogue_value == Decimal("1.5")
    assert case.disagreement and case.provisional_due == fen(10415)


@pytest.mark.parametrize(
    ("hospital", "amount", "outlier"),
    [
        ("H64010100001", 54001, "high"),  # level 3: > 3 × 18,000 = 54,000
        ("H64010100001", 54000, None),  # exactly 3 ×: not above
        ("H64010100001", 7199, "low"),  # < 0.4 × 18,000 = 7,200
        ("H64010100001", 7200, None),  # exactly 0.4 ×: not below
        ("H64010100005", 27001, "high"),  # level 2: 1.5 × 9,000 = 13,500; > 2 × 13,500 = 27,000
        ("H64010100005", 27000, None),
    ],
)
def test_drg_outliers_are_cleared_item_by_item_and_queued_for_special_review(
    hospital: str, amount: int, outlier: str | None
) -> None:
    case = case_of(book(), case_stay(amount, hospital, drg_code="GB19"))
    assert case.outlier == outlier and case.special_review == (outlier is not None)
    if outlier:
        assert case.provisional_due == case.item_fund  # the basic fund's item-level payment


def test_a_drg_low_outlier_worked_by_hand() -> None:
    case = case_of(book(), case_stay(7000, "H64010100001", drg_code="GB19"))
    # 7,000 < 0.4 × 18,000 = 7,200: low; item level (7,000 − 900) × 0.65 = 3,965 is what the fund owes
    assert (case.outlier, case.provisional_due, case.special_review) == ("low", fen(3965), True)


def test_a_drg_code_the_catalogue_does_not_have_is_ungrouped_and_cleared_item_by_item() -> None:
    case = case_of(book(), case_stay(20000, "H64010100001", drg_code="ZZ99", drg_weight=Decimal("1.5")))
    assert case.ungrouped and case.group_code is None and case.disagreement
    assert case.provisional_due == fen(12415)  # item level


# =========================================================================== DIP


def test_dip_core_group_from_main_diagnosis_and_main_procedure() -> None:
    case = case_of(book(), case_stay(10000, "H64010100002", diag="K35.800", oprn="47.0100x001"))
    # K35.8 + 47.01 → core group K35.8-47.01, score 800; level 2: 800 × 0.85 = 680 points
    # reference 680 × 12 = 8,160; 0.5 × 8,160 = 4,080 ≤ 10,000 ≤ 2 × 8,160 = 16,320: the points stand
    # item level (10,000 − 600) × 0.75 = 7,050; others paid 2,950; provisional 8,160 − 2,950 = 5,210
    assert (case.group_code, case.group_kind, case.points) == ("K35.8-47.01", "core", Decimal("680.0000"))
    assert (case.reference_cost, case.outlier, case.provisional_due) == (fen(8160), None, fen(5210))


def test_dip_low_outlier_points_scale_with_cost_over_reference() -> None:
    case = case_of(book(), case_stay(3000, "H64010100002", diag="K35.800", oprn="47.0100x001"))
    # 3,000 < 4,080: points 680 × 3,000 ÷ 8,160 = 250
    # item level (3,000 − 600) × 0.75 = 1,800; others 1,200; provisional 250 × 12 − 1,200 = 1,800
    assert (case.outlier, case.points, case.provisional_due) == ("low", Decimal("250.0000"), fen(1800))


def test_dip_high_outlier_points_add_what_exceeds_the_high_multiple() -> None:
    case = case_of(book(), case_stay(20400, "H64010100002", diag="K35.800", oprn="47.0100x001"))
    # 20,400 > 16,320: ratio 20,400 ÷ 8,160 = 2.5; points 680 × (2.5 − 2 + 1) = 1,020
    # item level (20,400 − 600) × 0.75 = 14,850; others 5,550; provisional 12,240 − 5,550 = 6,690
    assert (case.outlier, case.points, case.provisional_due) == ("high", Decimal("1020.0000"), fen(6690))
    assert not case.special_review  # no extreme tier unless the policy sets one


def test_dip_extreme_cases_are_queued_for_special_review_when_the_policy_sets_the_tier() -> None:
    policy = resident_policy(case_payment={**resident_policy().case_payment.model_dump(), "dip_extreme_multiple": 5})
    case = case_of(book(policy), case_stay(45000, "H64010100002", diag="K35.800", oprn="47.0100x001"))
    # 45,000 > 5 × 8,160 = 40,800: extreme; points 680 × (45,000 ÷ 8,160 − 1) = 3,750 − 680 = 3,070
    assert (case.outlier, case.special_review, case.points) == ("high", True, Decimal("3070.0000"))


def test_dip_outlier_reference_may_be_the_groups_average_cost_as_the_spec_has_it() -> None:
    from contracts.codes import FundPayType
    from engine.clearing.grouping import ClinicalCase
    from engine.clearing.terms import CaseMixTable, DipGroup, InstitutionTerms
    from engine.clearing.valuation import CaseValuation, value_case
    from engine.payer_files import OPEN_END

    row = DipGroup("K35.8-47.01", "K35.8", "47.01", "core", Decimal(800), date(2024, 1, 1), OPEN_END, 1_000_000)
    rules = resident_policy(
        case_payment={**resident_policy().case_payment.model_dump(), "dip_reference": "group_average_cost"}
    ).case_payment
    given = CaseValuation(
        ClinicalCase("K35.800", "47.0100x001", None, None, None), InstitutionTerms("H", "2", "640104", "dip"),
        "640000", FundPayType.RESIDENT_POOLED, rules, CaseMixTable((row,), ()), date(2025, 3, 1), 2_500_000,
        1_000_000,
    )  # fmt: skip
    case, _ = value_case(given)
    # reference: the group's average cost 10,000 (not 680 × 12 = 8,160); 25,000 > 2 × 10,000
    # points 680 × (2.5 − 2 + 1) = 1,020
    assert (case.reference_cost, case.outlier, case.points) == (fen(10000), "high", Decimal("1020.0000"))


def test_dip_conservative_case_takes_the_core_group_without_a_procedure() -> None:
    case = case_of(book(), case_stay(5000, "H64010100002", diag="K35.800"))
    # K35.8 with no procedure → core conservative K35.8-C, score 300: 300 × 0.85 = 255 points;
    # reference 255 × 12 = 3,060; 1,530 ≤ 5,000 ≤ 6,120: the points stand
    assert (case.group_code, case.points, case.outlier) == ("K35.8-C", Decimal("255.0000"), None)


def test_dip_case_with_another_procedure_falls_to_the_comprehensive_group() -> None:
    case = case_of(book(), case_stay(10000, "H64010100002", diag="K35.800", oprn="54.1100"))
    # no core row keys 54.11 under K35: comprehensive K35-Z, score 600 × 0.85 = 510 points;
    # reference 510 × 12 = 6,120; 10,000 ≤ 12,240; provisional 6,120 − 2,950 = 3,170
    assert (case.group_code, case.group_kind, case.points) == ("K35-Z", "comprehensive", Decimal("510.0000"))
    assert case.provisional_due == fen(3170)


def test_dip_the_most_specific_row_wins() -> None:
    # K35.9 is not under K35.8: of the rows keyed K35, "47" (score 700) beats "*" (600)
    case = case_of(book(), case_stay(10000, "H64010100002", diag="K35.900", oprn="47.0100"))
    assert case.group_code == "K35-47"


def test_dip_the_hospitals_code_is_recorded_and_a_different_one_flagged() -> None:
    case = case_of(
        book(), case_stay(10000, "H64010100002", diag="K35.800", oprn="47.0100", dip_code="K35.8-47.01", dip_score=2000)
    )
    # the code agrees but the score sent (2,000) is not the catalogue's (800): flagged, 680 points stand
    assert (case.declared_code, case.disagreement, case.points) == ("K35.8-47.01", True, Decimal("680.0000"))
    same = case_of(book(), case_stay(10000, "H64010100002", diag="K35.800", oprn="47.0100", dip_code="K35.8-47.01"))
    assert not same.disagreement
    other = case_of(book(), case_stay(10000, "H64010100002", diag="K35.800", oprn="47.0100", dip_code="K35-47"))
    assert other.disagreement and other.group_code == "K35.8-47.01"


@pytest.mark.parametrize(
    ("diag", "why"),
    [("Z99.900", "no catalogue row"), (None, "no main diagnosis")],
)
def test_an_ungroupable_dip_case_settles_normally_and_is_cleared_item_by_item(diag: str | None, why: str) -> None:
    b = book()
    settled = b.settle(case_stay(10000, "H64010100002", diag=diag))
    case = settled.facts.case
    assert case is not None and case.ungrouped and case.points is None, why
    assert case.provisional_due == settled.facts.amounts.hifp_pay == fen(7050)
    answer = settled.result.case_payment
    assert answer is not None and answer.ungrouped and answer.group_code is None


# =========================================================================== no case


def test_an_institution_paid_item_by_item_is_owed_the_item_level_payment() -> None:
    b = book()
    settled = b.settle(case_stay(10000, "H64010100003", diag="K35.800", drg_code="GB19"))
    case = settled.facts.case
    assert case is not None and case.paymtd == "item" and not case.ungrouped
    assert case.provisional_due == settled.facts.amounts.hifp_pay
    assert settled.result.case_payment is None  # nothing to tell the hospital beyond the settlement


def test_a_stay_no_fund_covers_has_no_case() -> None:
    b = book(enrol_date=date(2025, 3, 15), in_collection_period=False)  # covered from 15 June
    settled = b.settle(case_stay(10000, "H64010100001", drg_code="GB19", begndate=date(2025, 4, 1)))
    assert settled.facts.amounts.fund_pay_sumamt == 0 and settled.facts.case is None


def test_outpatient_visits_have_no_case() -> None:
    c = case_stay(100, "H64010100001", med_type="11", drg_code="GB19")
    assert book().settle(c).facts.case is None
