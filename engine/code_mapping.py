"""National codes → the engine's categories, by the region's mapping in its policy file
([codes.med_type], [codes.psn_type], [codes.insutype]; docs/policies.md, "National codes").

A code the region does not map is refused with a sentence that names the code, its national
meaning when it has one, and the policy file to extend; nothing here guesses.
"""

from __future__ import annotations

from contracts.codes import STAFF_PERSON_TYPES, Insutype, PersonType, RejectionCode
from engine.errors import Rejected
from engine.national_codes import MedCategory, NationalCodes
from engine.policy import Policy

_REFUSED_WHY = {
    MedCategory.MATERNITY: "maternity care (生育) is settled by maternity insurance, not by this service",
    MedCategory.NOT_SETTLED: "the region does not settle it through this service",
}


def _unmapped(policy: Policy, set_name: str, code: str, codes: NationalCodes, field: str) -> Rejected:
    return Rejected(
        RejectionCode.UNMAPPED_CODE,
        f"{set_name} {codes.describe(set_name, code)} is not mapped by policy {policy.policy.id} "
        f"([codes.{set_name}] of its policy file): the region does not settle it here",
        field=field,
    )


def med_category(policy: Policy, med_type: str, codes: NationalCodes) -> MedCategory:
    """Which of the engine's categories a visit's med_type is, under the region's mapping."""
    category = policy.codes.med_type.get(med_type)
    if category is None:
        raise _unmapped(policy, "med_type", med_type, codes, "med_type")
    if category in _REFUSED_WHY:
        raise Rejected(
            RejectionCode.NOT_SETTLED_HERE,
            f"med_type {codes.describe('med_type', med_type)}: {_REFUSED_WHY[category]} "
            f"(policy {policy.policy.id}, [codes.med_type])",
            field="med_type",
        )
    return category


def scheme_of(policy: Policy, insutype: str, codes: NationalCodes) -> Insutype:
    scheme = policy.codes.insutype.get(insutype)
    if scheme is None:
        raise _unmapped(policy, "insutype", insutype, codes, "insutype")
    return scheme


def person_type_of(policy: Policy, psn_type: str, scheme: Insutype, codes: NationalCodes) -> PersonType:
    """The engine's person type of a national psn_type code; it must belong to the scheme."""
    mapped = policy.codes.psn_type.get(psn_type)
    if mapped is None:
        raise _unmapped(policy, "psn_type", psn_type, codes, "psn_type")
    if (mapped in STAFF_PERSON_TYPES) != (scheme is Insutype.STAFF):
        raise Rejected(
            RejectionCode.INVALID_MESSAGE,
            f"psn_type {codes.describe('psn_type', psn_type)} is a {mapped.value} person, "
            f"which does not belong to insutype {scheme.value}",
            field="psn_type",
        )
    return mapped


def selfpay_candidates(policy: Policy, person_type: PersonType, scheme: Insutype) -> tuple[str, ...]:
    """The 1319 ``selfpay_prop_psn_type`` values that describe a person, most specific first:
    the region's psn_type codes of their person type, then their insutype (then "" for all,
    added by the catalogue)."""
    codes = tuple(sorted(code for code, mapped in policy.codes.psn_type.items() if mapped is person_type))
    return (*codes, scheme.value)
