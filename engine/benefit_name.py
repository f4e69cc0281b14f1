"""The benefits of the basic pooled fund, by the name the policy files give them (benefits.*)."""

from __future__ import annotations

from enum import StrEnum


class BenefitName(StrEnum):
    INPATIENT = "inpatient"  # 住院
    GENERAL_OUTPATIENT = "general_outpatient"  # 普通门诊
    CHRONIC_OUTPATIENT = "chronic_outpatient"  # 门诊慢特病
    TWO_DISEASES = "two_diseases"  # "两病" outpatient drugs
    DUAL_CHANNEL_OUTPATIENT = "dual_channel_outpatient"  # 谈判药品 in outpatient care
    NONE = "none"  # no pooled fund takes part (e.g. a pharmacy purchase without prescription)


POOLED = tuple(b for b in BenefitName if b is not BenefitName.NONE)
