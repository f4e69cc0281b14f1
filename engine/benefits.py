"""Which benefit's rules price a visit and each of its items (docs/domain.md#benefit-routing).

The visit's category is the region's mapping of its med_type ([codes.med_type]); where it was
cared for is the payer's registry on the visit's day (engine.payer_registry); "三定" for
negotiated drugs is the registry's too: a designated institution (of the level the policy asks),
and a designated responsible physician of a qualifying title.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.codes import InstitutionKind, RejectionCode
from engine.benefit_name import BenefitName
from engine.enrolment import EnrolmentFacts
from engine.errors import Rejected
from engine.national_codes import MedCategory
from engine.payer_registry import Institution, InstitutionType, Registry
from engine.policy import Benefit, Policy
from engine.trail import TrailLine, domain_rule
from engine.visit import Visit


def configured(policy: Policy, name: BenefitName) -> Benefit | None:
    if name is BenefitName.NONE:
        return None
    benefit: Benefit | None = getattr(policy.benefits, name.value)
    return benefit


def designated_institution(registry: Registry, visit: Visit) -> Institution:
    """The payer's record of the institution on the visit's last day; none: refused."""
    found = registry.institution(visit.fixmedins_code, visit.enddate)
    if found is None:
        raise Rejected(
            RejectionCode.INSTITUTION_NOT_DESIGNATED,
            f"institution {visit.fixmedins_code} is not in the payer's registry of designated institutions "
            f"on {visit.enddate.isoformat()}",
            field="fixmedins_code",
        )
    return found


@dataclass(frozen=True)
class Routing:
    main: BenefitName
    negotiated: BenefitName | None  # None: negotiated drugs are not payable as dual-channel here
    why: str
    dual_channel_why: str = ""
    inpatient_rules: bool = False  # a chronic special treatment priced with inpatient ratios (003)

    @property
    def trail(self) -> tuple[TrailLine, ...]:
        lines = [TrailLine("benefit", domain_rule("benefit-routing"), self.why)]
        if self.dual_channel_why:
            lines.append(TrailLine("dual_channel", domain_rule("dual-channel"), self.dual_channel_why))
        return tuple(lines)

    def benefit_of(self, negotiated_drug: bool) -> BenefitName | None:
        """Whose rules price an item: a negotiated drug follows the dual-channel routing."""
        return self.negotiated if negotiated_drug else self.main

    @property
    def order(self) -> tuple[BenefitName, ...]:
        """The benefits a visit's policy-range amount is paid under, the main one first."""
        if self.negotiated is None or self.negotiated is self.main:
            return (self.main,)
        return (self.main, self.negotiated)


def _registered(claim: Visit, enrolment: EnrolmentFacts, policy: Policy) -> str:
    """The 门诊慢特病 a chronic-outpatient visit treats, registered (认定) for the person (001 18)."""
    code = claim.dise_codg
    if code is None or code not in enrolment.registered_diseases:
        hint = "register it (认定) or settle the visit as general outpatient"
        if code is not None and code in policy.two_diseases:
            name = policy.two_diseases[code]
            hint = f"“两病” drugs for {name} are settled as a general-outpatient visit with dise_codg {code}"
        raise Rejected(
            RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED,
            f"disease {code or '(none given)'} is not registered (认定) as an outpatient chronic/special disease "
            f"for person {claim.psn_no}; {hint}",
            field="dise_codg",
        )
    return code


def _chronic(claim: Visit, enrolment: EnrolmentFacts, policy: Policy) -> tuple[BenefitName, str, bool]:
    """门诊慢特病: a registered chronic patient gets the chronic benefit, hypertension and
    diabetes included (004 中卫: 高血压、糖尿病等30种慢性病列入门诊大病…60%以上), never the “两病” cover."""
    code = _registered(claim, enrolment, policy)
    if code not in policy.chronic.diseases or policy.benefits.chronic_outpatient is None:
        raise Rejected(
            RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED,
            f"disease {code} is not an outpatient chronic/special disease of policy {policy.policy.id}",
            field="dise_codg",
        )
    special = code in policy.chronic.inpatient_rule_diseases
    why = f"outpatient chronic/special disease {policy.chronic.diseases[code]}"
    return BenefitName.CHRONIC_OUTPATIENT, why + (" priced with inpatient ratios (003)" if special else ""), special


def _two_diseases(claim: Visit, enrolment: EnrolmentFacts, policy: Policy) -> str | None:
    """Why a general-outpatient visit gets the “两病” drug cover, or None. The cover is for
    residents treated for hypertension or diabetes (000: 60%); one registered for that disease as a
    门诊慢特病 keeps the chronic benefit and gets no “两病” cover on top (001 6: 避免重复报销; the
    national 医保发〔2019〕54号: 已纳入门诊慢性病…保障范围“两病”患者的待遇,继续按现行政策执行)."""
    code = claim.dise_codg
    if code is None or code not in policy.two_diseases or policy.benefits.two_diseases is None:
        return None
    if code in enrolment.registered_diseases and code in policy.chronic.diseases:
        return None
    return f"“两病” drugs for {policy.two_diseases[code]} (000: 60%)"


def _general(claim: Visit, coded: str, place: Institution, enrolment: EnrolmentFacts, policy: Policy) -> str:
    online = " at an internet hospital (004)" if place.kind is InstitutionKind.INTERNET_HOSPITAL else ""
    code, two_benefit = claim.dise_codg, policy.benefits.two_diseases is not None
    chronic = two_benefit and code in policy.two_diseases and code in enrolment.registered_diseases
    registered = "; registered 门诊慢特病: no “两病” cover on top (001 6)" if chronic else ""
    return f"{coded}: general outpatient pooling{online}{registered}"


def _main(
    claim: Visit, category: MedCategory, place: Institution, enrolment: EnrolmentFacts, policy: Policy
) -> tuple[BenefitName, str, bool]:
    coded = f"med_type {claim.med_type} ({category.value})"
    if category is MedCategory.INPATIENT:
        return BenefitName.INPATIENT, f"{coded}: per-admission deductible, inpatient ratios", False
    if category is MedCategory.CHRONIC_OUTPATIENT:
        return _chronic(claim, enrolment, policy)
    if category is MedCategory.GENERAL_OUTPATIENT:
        two = _two_diseases(claim, enrolment, policy)
        if two is not None:
            return BenefitName.TWO_DISEASES, two, False
        return BenefitName.GENERAL_OUTPATIENT, _general(claim, coded, place, enrolment, policy), False
    if claim.extn_rx_flag:
        return BenefitName.GENERAL_OUTPATIENT, "pharmacy purchase on a designated hospital's prescription (003)", False
    return BenefitName.NONE, "pharmacy purchase without prescription: personal account or cash only", False


def _three_fixed(claim: Visit, policy: Policy, place: Institution, registry: Registry) -> str | None:
    """Why "三定" (004) does not hold on the visit's day, or None when it does."""
    rules, day = policy.dual_channel, claim.enddate
    if rules.require_designated_institution and not place.dual_channel:
        return f"{claim.fixmedins_code} is not a designated dual-channel institution in the registry (三定, 004)"
    hospital = place.fixmedins_type is InstitutionType.MEDICAL
    minimum = rules.min_hospital_level
    if hospital and minimum is not None and (place.hosp_lv or 0) < minimum:
        return f"{claim.fixmedins_code} is below level {minimum}, the lowest a designated hospital may be (004)"
    doctor = claim.resp_physician
    record = registry.physician(doctor.dr_code, day) if doctor is not None else None
    if record is None or not record.dual_channel_resp:
        who = doctor.dr_code if doctor is not None else "no responsible physician"
        return f"prescriber {who} is not a designated responsible physician in the registry (三定, 004)"
    if record.dr_title not in rules.qualified_titles:
        return f"prescriber {record.dr_code} is {record.dr_title.value}; attending or above is required (三定, 004)"
    return None


def _dual_channel(
    claim: Visit, category: MedCategory, main: BenefitName, policy: Policy, place: Institution, registry: Registry
) -> tuple[BenefitName | None, str]:
    if category is MedCategory.INPATIENT:
        return BenefitName.INPATIENT, "negotiated drugs in a stay follow inpatient rules, no extra deductible (004)"
    unmet = _three_fixed(claim, policy, place, registry)
    if unmet is None and policy.benefits.dual_channel_outpatient is not None:
        return (
            BenefitName.DUAL_CHANNEL_OUTPATIENT,
            "negotiated drug, dual channel: own yearly deductible and ratio (004)",
        )
    why = unmet or f"policy {policy.policy.id} has no dual-channel outpatient benefit"
    mode = policy.dual_channel.undesignated
    if mode == "reject" and unmet is not None:
        raise Rejected(RejectionCode.DUAL_CHANNEL_NOT_DESIGNATED, why, field="resp_physician")
    if mode == "ordinary_purchase" and unmet is not None:
        return main, why + "; priced as an ordinary purchase ([dual_channel] undesignated)"
    return None, why


def route(
    claim: Visit,
    category: MedCategory,
    place: Institution,
    registry: Registry,
    enrolment: EnrolmentFacts,
    policy: Policy,
    negotiated_lines: bool,
) -> Routing:
    """``negotiated_lines``: whether the catalogue flags any line as a negotiated drug."""
    main, why, special = _main(claim, category, place, enrolment, policy)
    if not negotiated_lines:
        return Routing(main, None, why, inpatient_rules=special)
    negotiated, dc_why = _dual_channel(claim, category, main, policy, place, registry)
    return Routing(main, negotiated, why, dc_why, special)


def visit_day(claim: Visit) -> date:
    """The day payer data is looked up on: the visit's last (discharge) day."""
    return claim.enddate
