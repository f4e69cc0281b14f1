"""异地就医: care outside the insured person's pooling region (docs/domain.md#out-of-region).

The insured region's policy prices it (参保地政策: its deductibles, ratios and caps: the policy in
force for the enrolment's insuplc_admdvs); the treating region's payer data decides what is payable
and what the institution is (就医地目录、就医地管理: the catalogue, registry and case mix of the
policy the book has for the claim's mdtrtarea_admvs, ``treating_policy``; a region the book has no
policy for is priced with the insured region's own payer data). Where the visit took place is the
claim's ``mdtrtarea_admvs`` (the national envelope's 就医地, docs/national-interface.md §3); how it
was filed (备案) is the enrolment's: the national interface carries no filing on a claim, the
insured region's agency records it (``care_of``). What changes here is the ratio:
- care inside the insured pool is local ([002] 市级统筹区域内可自主就医);
- students (and interns) are paid as local where they study ([001] 8: 对大中小学学生在学籍地与户籍地、
  就业见习地、实习地发生的医疗费用,享受参保地规定的本地就医时的标准), where the policy says so;
- care filed as a move or a referral (异地长期居住、转诊备案) keeps the local ratios; a temporary stay
  away (临时外出就医) loses a few points, care without any filing (未备案) more — the national rule
  for the first (国家医保局、财政部《关于进一步做好基本医疗保险跨省异地就医直接结算工作的通知》,
  医保发〔2022〕22号, 2022-06: 降低幅度原则上不超过10个百分点), every figure the region's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from contracts.codes import PersonType
from engine.enrolment import EnrolmentFacts, OutOfRegionFiling
from engine.errors import UnknownPolicy
from engine.policy import OutOfRegion
from engine.policy_book import PolicyBook, PricedPolicy
from engine.trail import TrailLine, policy_key
from engine.visit import Visit

Filing = Literal["none", "resident", "referral", "temporary"]


@dataclass(frozen=True)
class CareLocation:
    """Where a visit took place and how it was filed (备案)."""

    treating_admdvs: str  # 就医地医保区划
    filing: Filing


def in_pool(pool_region: str, admdvs: str) -> bool:
    """A province pool (xx0000) holds its codes, a city pool (xxxx00) its counties."""
    width = 2 if pool_region.endswith("0000") else 4 if pool_region.endswith("00") else 6
    return admdvs[:width] == pool_region[:width]


# When several filings hold the place and day, the one that keeps most of the local ratio applies.
_PREFERRED: tuple[Filing, ...] = ("resident", "referral", "temporary")


def _covers(filing: OutOfRegionFiling, visit: Visit, treating: str) -> bool:
    ends = filing.enddate
    return (
        in_pool(filing.mdtrtarea_admvs, treating)
        and filing.begndate <= visit.begndate
        and (ends is None or visit.begndate <= ends)
    )


def care_of(visit: Visit, enrolment: EnrolmentFacts) -> CareLocation | None:
    """Where the visit took place and under which of the person's filings (备案) on its first day;
    None: the claim names no treating region (local care)."""
    treating = visit.mdtrtarea_admvs
    if treating is None:
        return None
    filed = {f.filing_type for f in enrolment.out_of_region_filings if _covers(f, visit, treating)}
    return CareLocation(treating, next((kind for kind in _PREFERRED if kind in filed), "none"))


def treating_policy(book: PolicyBook, insured: PricedPolicy, visit: Visit) -> PricedPolicy | None:
    """The policy whose payer data prices a visit outside the insured pool: the one the book has in
    force for the treating region on the visit's last day (the insured scheme's first), if it
    references payer data; None for local care or a region the book does not hold."""
    treating, meta = visit.mdtrtarea_admvs, insured.policy.policy
    if treating is None or in_pool(meta.region, treating):
        return None
    for scheme in sorted(type(meta.scheme), key=lambda s: s is not meta.scheme):
        try:
            found = book.in_force(treating, scheme, visit.enddate)
        except UnknownPolicy:
            continue
        if found.policy.policy.region != meta.region and found.policy.payer_data is not None:
            return found
    return None


def payer_trail(treating: PricedPolicy) -> TrailLine:
    folder = treating.payer.folder or "its payer data"
    text = (
        f"lines and institution priced with the treating region's catalogue and registry (就医地目录): "
        f"policy {treating.ref.policy_id} v{treating.ref.version}, {folder}"
    )
    return TrailLine("out_of_region", policy_key(treating.file, "payer_data"), text)


@dataclass(frozen=True)
class OutOfRegionOutcome:
    reduction: Decimal  # points taken off every ratio (0: local)
    trail: tuple[TrailLine, ...]


LOCAL = OutOfRegionOutcome(Decimal(0), ())


def out_of_region_stage(
    care: CareLocation | None, pool_region: str, psn_type: PersonType, rules: OutOfRegion, policy_file: str
) -> OutOfRegionOutcome:
    """How far the ratios fall for care outside the insured pool; nothing for local care."""
    if care is None or (rules.same_pool_is_local and in_pool(pool_region, care.treating_admdvs)):
        return LOCAL
    if rules.students_as_local and psn_type is PersonType.STUDENT:
        why, reduction = "a student away from the insured region is paid as local (001 8)", Decimal(0)
    elif care.filing in ("resident", "referral"):
        why, reduction = f"filed ({care.filing}): the insured region's local ratios", Decimal(0)
    elif care.filing == "temporary":
        why, reduction = "temporary stay away (临时外出就医)", rules.ratio_reduction_temporary
    else:
        why, reduction = "no filing (未备案)", rules.ratio_reduction_unfiled
    text = f"care in {care.treating_admdvs}, outside pool {pool_region}: {why}; ratios − {reduction}"
    return OutOfRegionOutcome(reduction, (TrailLine("out_of_region", policy_key(policy_file, "out_of_region"), text),))
