"""settle_claim: price one visit against the policy and the person's year (docs/domain.md).

Pure: no I/O, no clock. The ids come in as arguments, so pricing the same visit against the
same year and policy always gives the same facts — which is what audit replay relies on.
The pipeline is the policy's order, one named stage each (each a pure function of a small
frozen input, returning a small frozen result and its trail lines): benefit routing →
eligibility → items → deductible and basic fund with the shared annual cap → major illness →
medical aid → personal accounts → case payment → the settlement's facts (engine.details).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.codes import ExcludedCategory, FundPayType, RejectionCode
from engine.basic_fund import BasicInput, pay_basic_benefits
from engine.benefits import designated_institution, route
from engine.case_payment import CaseInput, case_payment_stage
from engine.clearing.payer import catalogue_of, terms_of
from engine.code_mapping import med_category, scheme_of, selfpay_candidates
from engine.details import StageResults, fund_payments, setl_amounts, visit_delta
from engine.eligibility import cover_for
from engine.enrolment import EnrolmentFacts
from engine.errors import InvariantBroken, Rejected
from engine.events import ClaimSettled, Event, FamilyAccountDebited
from engine.items import ItemsInput, LineContext, NetLine, check_amount, net_lines, price_items
from engine.major_illness import MajorIllnessInput, pay_major_illness_stage
from engine.medical_aid import MedicalAidInput, pay_medical_aid_stage
from engine.national_codes import MedCategory, NationalCodes
from engine.out_of_region import care_of, out_of_region_stage, payer_trail
from engine.payer_catalogue import CatalogueTerms, terms_on
from engine.payer_data import PayerData
from engine.payer_registry import Institution
from engine.person import PersonYear
from engine.personal_account import AccountsInput, PayingRelative, pay_from_accounts
from engine.policy import Policy
from engine.policy_book import PricedPolicy
from engine.totals import Totals
from engine.visit import Visit


@dataclass(frozen=True)
class PayerAccount:
    """A relative whose staff account pays (家庭共济), with the policy of their own scheme."""

    person: PersonYear
    policy: Policy


@dataclass(frozen=True)
class Settled:
    facts: ClaimSettled  # what the ledger records; the answer is rendered from it
    events: tuple[tuple[str, Event], ...]  # (stream id, event): the person's, then the payer's

    @property
    def delta(self) -> Totals:
        return self.facts.delta


def _enrolled(visit: Visit, person: PersonYear) -> tuple[EnrolmentFacts, date]:
    enrolment = person.enrolment
    if enrolment is None:
        raise Rejected(
            RejectionCode.UNKNOWN_PERSON,
            f"person {visit.psn_no} has no enrolment for {person.year}; send enrolments.v2 first",
            field="psn_no",
        )
    if person.coverage_from is None:
        raise InvariantBroken(f"{person.stream_id}: enrolled without a first day of cover")
    return enrolment, person.coverage_from


def _check_claimable(
    visit: Visit, person: PersonYear, payer: PayerAccount | None, policy: Policy, codes: NationalCodes
) -> None:
    enrolment, _ = _enrolled(visit, person)
    if scheme_of(policy, visit.insutype, codes) is not enrolment.insutype:
        raise Rejected(
            RejectionCode.SCHEME_MISMATCH,
            f"person {visit.psn_no} is insured under {enrolment.insutype.value}, the claim says {visit.insutype}",
            field="insutype",
        )
    if visit.mdtrt_id in person.visits:
        raise Rejected(
            RejectionCode.VISIT_ALREADY_SETTLED,
            f"visit {visit.mdtrt_id} is already settled as {person.visits[visit.mdtrt_id]}; "
            "reverse that settlement before settling the visit again",
            field="mdtrt_id",
        )
    if visit.acct_payer_psn_no is not None and (
        payer is None or payer.person.enrolment is None or not payer.person.has_account
    ):
        raise Rejected(
            RejectionCode.FAMILY_ACCOUNT_NOT_ALLOWED,
            f"{visit.acct_payer_psn_no} has no staff personal account in {person.year}",
            field="acct_payer_psn_no",
        )
    if visit.year != person.year or policy.policy.year != person.year:
        raise Rejected(
            RejectionCode.OUTSIDE_POLICY_YEAR,
            f"visit ends in {visit.year}, outside policy year {policy.policy.year}",
            field="enddate",
        )


def _account_exclusions(policy: Policy, payer: PayerAccount | None) -> frozenset[ExcludedCategory]:
    """What no personal account pays (003): under the paying account's own rules."""
    rules = (payer.policy.personal_account if payer else None) or policy.personal_account
    return frozenset((rules or policy).excluded_categories)


def _relative(payer: PayerAccount | None) -> PayingRelative | None:
    if payer is None:
        return None
    rules, enrolment = payer.policy.personal_account, payer.person.enrolment
    if rules is None or enrolment is None:  # _check_claimable let only staff accounts through
        raise InvariantBroken(f"{payer.person.stream_id} pays 家庭共济 without a staff account")
    return PayingRelative(enrolment, payer.person.account_balance, rules)


def _age(visit: Visit, enrolment: EnrolmentFacts) -> int | None:
    """Whole years on the visit's first day, from the enrolment's birth date (else the claim's)."""
    born = enrolment.birth_date or visit.brdy
    if born is None:
        return None
    day = visit.begndate
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class _Setting:
    """What the payer's data says of the visit before any line is priced."""

    place: Institution  # the registry's record on the visit's day
    category: MedCategory  # the region's reading of its med_type
    lines: tuple[NetLine, ...]  # refund lines netted into the lines they refund
    terms: tuple[CatalogueTerms | None, ...]  # per net line, the catalogue's terms
    context: LineContext


def _setting(visit: Visit, enrolment: EnrolmentFacts, priced: PricedPolicy, payer: PayerData) -> _Setting:
    """``payer``: the payer data that prices the visit (the treating region's for care elsewhere)."""
    policy, day = priced.policy, visit.enddate
    place = designated_institution(payer.registry, visit)
    category = med_category(policy, visit.med_type, priced.codes)
    who = selfpay_candidates(policy, enrolment.psn_type, enrolment.insutype)
    net = net_lines(visit.items)
    terms = tuple(terms_on(payer.catalogue, line.item.hilist_code, day, who) for line in net)
    diagnoses = tuple(d.diag_code.upper() for d in visit.diagnoses) + (
        (visit.dise_codg.upper(),) if visit.dise_codg else ()
    )
    context = LineContext(place.hosp_lv, visit.gend, _age(visit, enrolment), diagnoses, visit.med_type)
    return _Setting(place, category, net, terms, context)


def _stages(
    visit: Visit, person: PersonYear, priced: PricedPolicy, payer: PayerAccount | None, treating: PricedPolicy | None
) -> tuple[StageResults, _Setting]:
    policy, file, year = priced.policy, priced.file, person.totals
    enrolment, coverage_from = _enrolled(visit, person)
    for index, item in enumerate(visit.items):
        check_amount(item, index)
    data = priced.payer if treating is None else treating.payer
    setting = _setting(visit, enrolment, priced, data)
    negotiated = any(t is not None and t.hi_nego_drug_flag for t in setting.terms)
    registry, level = data.registry, setting.place.level_key
    routing = route(visit, setting.category, setting.place, registry, enrolment, policy, negotiated)
    cover = cover_for(visit.begndate, person.year, coverage_from, person.coverage_reason)
    care = care_of(visit, enrolment)
    away = out_of_region_stage(care, policy.policy.region, enrolment.psn_type, policy.out_of_region, file)
    elsewhere = away.trail + ((payer_trail(treating),) if treating is not None else ())
    excluded = frozenset(policy.excluded_categories)
    items = price_items(
        ItemsInput(setting.lines, setting.terms, routing, excluded, _account_exclusions(policy, payer), setting.context)
    )
    inpatient = setting.category is MedCategory.INPATIENT
    basic = pay_basic_benefits(
        BasicInput(
            items.splits,
            routing,
            level,
            enrolment.psn_type,
            year,
            cover.covered,
            inpatient,
            policy,
            file,
            away.reduction,
        )
    )
    mi_added = sum(share.mi_selfpay for share in basic.shares)
    major = pay_major_illness_stage(
        MajorIllnessInput(policy.major_illness, enrolment, year.mi_base, year.mi_paid, mi_added, file)
    )
    aid_selfpay = sum(share.aid_selfpay for share in basic.shares)
    aid = pay_medical_aid_stage(
        MedicalAidInput(
            enrolment.aid_category, policy.medical_aid, aid_selfpay, major.paid, year.aid_base, year.aid_paid, file
        )
    )
    part = items.medfee_sumamt - basic.hifp_total - major.paid - aid.paid
    own = person.account_balance if person.has_account else None
    accounts = pay_from_accounts(
        AccountsInput(
            visit.psn_no,
            visit.acct_used_flag,
            visit.acct_payer_relation,
            part,
            items.never_from_account,
            own,
            _relative(payer),
        )
    )
    trail = routing.trail + cover.trail + elsewhere + items.trail + basic.trail + major.trail + aid.trail
    trail += accounts.trail
    return StageResults(items, basic, major, aid, accounts, cover.covered, level, trail), setting


def settle_claim(
    visit: Visit,
    person: PersonYear,
    priced: PricedPolicy,
    *,
    payer: PayerAccount | None,
    setl_id: str,
    request_key: str,
    request_id: str,
    treating: PricedPolicy | None = None,
) -> Settled:
    """``priced``: the insured region's policy (参保地政策); ``treating``: for care outside its pool,
    the treating region's policy whose payer data prices the lines and names the institution
    (engine.out_of_region.treating_policy); None: ``priced``'s own payer data."""
    policy = priced.policy
    _check_claimable(visit, person, payer, policy, priced.codes)
    r, setting = _stages(visit, person, priced, payer, treating)
    amounts = setl_amounts(r, staff=policy.basic_fund is FundPayType.STAFF_POOLED)
    aid_category = person.enrolment.aid_category if person.enrolment else None
    funds = fund_payments(r, policy.basic_fund, policy.major_illness.fund, aid_category)
    case, case_trail = case_payment_stage(
        CaseInput(
            visit,
            r.covered,
            setting.category is MedCategory.INPATIENT,
            terms_of(setting.place),
            catalogue_of((treating or priced).payer.casemix),  # 异地就医: the treating region's case mix
            policy.policy.region,
            policy.basic_fund,
            policy.case_payment,
            medfee=amounts.medfee_sumamt,
            hifp=amounts.hifp_pay,
            policy_file=priced.file,
        )
    )
    mulaid = r.accounts.mulaid
    facts = ClaimSettled(
        setl_id=setl_id,
        request_key=request_key,
        request_id=request_id,
        year=person.year,
        visit=visit,
        policy=priced.ref,
        amounts=amounts,
        funds=funds,
        items=r.items.splits,
        case=case,
        trail=r.trail + case_trail,
        payer_psn_no=visit.acct_payer_psn_no if mulaid else None,
        delta=visit_delta(r),
        payer_policy=None if treating is None else treating.ref,
    )
    events: list[tuple[str, Event]] = [(person.stream_id, facts)]
    if mulaid and payer is not None:
        debit = FamilyAccountDebited(setl_id, visit.psn_no, mulaid, Totals(acct_paid_for_family=mulaid))
        events.append((payer.person.stream_id, debit))
    return Settled(facts, tuple(events))
