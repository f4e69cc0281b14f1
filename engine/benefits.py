"""Which benefit's rules price a visit and each of its items (docs/domain.md#benefit-routing)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import InstitutionKind, MedType, RejectionCode
from engine.benefit_name import BenefitName
from engine.enrolment import EnrolmentFacts
from engine.errors import InvariantBroken, Rejected
from engine.policy import Benefit, Policy
from engine.trail import TrailLine, domain_rule
from engine.visit import Visit


def level_key(claim: Visit) -> str:
    """The policy tables' level key: 基层 "primary", hospital level "1"/"2"/"3", "pharmacy"."""
    if claim.fixmedins_kind is InstitutionKind.PRIMARY_CARE:
        return "primary"
    if claim.fixmedins_kind in (InstitutionKind.RETAIL_PHARMACY, InstitutionKind.DUAL_CHANNEL_PHARMACY):
        return "pharmacy"
    if claim.fixmedins_level is None:  # claims.v1 requires it for hospitals
        raise InvariantBroken(f"visit {claim.mdtrt_id} at a hospital without fixmedins_level")
    return claim.fixmedins_level.value


def configured(policy: Policy, name: BenefitName) -> Benefit | None:
    if name is BenefitName.NONE:
        return None
    benefit: Benefit | None = getattr(policy.benefits, name.value)
    return benefit


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


def _registered(claim: Visit, enrolment: EnrolmentFacts) -> str:
    code = claim.dise_codg
    if code is None or code not in enrolment.registered_diseases:
        raise Rejected(
            RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED,
            f"disease {code or '(none given)'} is not registered (认定) for person {claim.psn_no}; "
            "register it or settle the visit as general outpatient (med_type 11)",
            field="dise_codg",
        )
    return code


def _main(claim: Visit, enrolment: EnrolmentFacts, policy: Policy) -> tuple[BenefitName, str, bool]:
    if claim.inpatient:
        return BenefitName.INPATIENT, "inpatient stay: per-admission deductible, inpatient ratios", False
    two = policy.benefits.two_diseases is not None
    if claim.med_type is MedType.CHRONIC_OUTPATIENT:
        code = _registered(claim, enrolment)
        if two and code in policy.two_diseases:
            return BenefitName.TWO_DISEASES, f"“两病” drugs for {policy.two_diseases[code]} (000: 60%)", False
        if code not in policy.chronic.diseases or policy.benefits.chronic_outpatient is None:
            raise Rejected(
                RejectionCode.CHRONIC_DISEASE_NOT_REGISTERED,
                f"disease {code} is not an outpatient chronic/special disease of policy {policy.policy.id}",
                field="dise_codg",
            )
        special = code in policy.chronic.inpatient_rule_diseases
        why = f"outpatient chronic/special disease {policy.chronic.diseases[code]}"
        return BenefitName.CHRONIC_OUTPATIENT, why + (" priced with inpatient ratios (003)" if special else ""), special
    if claim.med_type is MedType.GENERAL_OUTPATIENT:
        if claim.dise_codg is not None and two and claim.dise_codg in policy.two_diseases:
            _registered(claim, enrolment)
            name = policy.two_diseases[claim.dise_codg]
            return BenefitName.TWO_DISEASES, f"“两病” drugs for {name} (000: 60%)", False
        online = " at an internet hospital (004)" if claim.fixmedins_kind is InstitutionKind.INTERNET_HOSPITAL else ""
        return BenefitName.GENERAL_OUTPATIENT, f"general outpatient pooling{online}", False
    if claim.extn_rx_flag:
        return BenefitName.GENERAL_OUTPATIENT, "pharmacy purchase on a designated hospital's prescription (003)", False
    return BenefitName.NONE, "pharmacy purchase without prescription: personal account or cash only", False


def _dual_channel(claim: Visit, policy: Policy) -> tuple[BenefitName | None, str]:
    """ "三定" (004): designated institution and a physician of attending rank or above."""
    if claim.inpatient:
        return BenefitName.INPATIENT, "negotiated drugs in a stay follow inpatient rules, no extra deductible (004)"
    rules = policy.dual_channel
    if rules.require_designated_institution and not claim.dual_channel_designated:
        return None, f"{claim.fixmedins_code} is not a designated dual-channel institution (三定, 004)"
    doctor = claim.resp_physician
    if doctor is None or doctor.dr_title not in rules.qualified_titles:
        title = doctor.dr_title.value if doctor else "no responsible physician"
        return None, f"prescriber must be attending or above (三定, 004); got {title}"
    if policy.benefits.dual_channel_outpatient is None:
        return None, f"policy {policy.policy.id} has no dual-channel outpatient benefit"
    return BenefitName.DUAL_CHANNEL_OUTPATIENT, "negotiated drug, dual channel: own yearly deductible and ratio (004)"


def route(claim: Visit, enrolment: EnrolmentFacts, policy: Policy) -> Routing:
    main, why, special = _main(claim, enrolment, policy)
    if not any(item.hi_nego_drug_flag for item in claim.items):
        return Routing(main, None, why, inpatient_rules=special)
    negotiated, dc_why = _dual_channel(claim, policy)
    return Routing(main, negotiated, why, dc_why, special)
