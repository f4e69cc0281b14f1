"""The trail of a settlement: one line per rule applied, each citing where the rule is written.

Every source resolves inside a release of this project: a policy file and the key the figure
comes from (``policies/640000-390-2025.toml#benefits.inpatient.ratio``), or a section of
docs/domain.md (``docs/domain.md#deductible``), which names the seed behind the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN_DOC = "docs/domain.md"
# The sections of docs/domain.md the trail cites (each has an explicit anchor there; a test checks).
ANCHORS = frozenset(
    {
        "items",
        "benefit-routing",
        "dual-channel",
        "eligibility",
        "deductible",
        "basic-fund",
        "major-illness",
        "medical-aid",
        "personal-account",
        "case-payment",
        "reversal",
    }
)


@dataclass(frozen=True)
class TrailLine:
    rule: str  # e.g. "deductible", "major_illness"
    source: str  # a policy file and key, or a docs/domain.md section
    text: str  # a sentence a person can check; money as exact yuan


def domain_rule(anchor: str) -> str:
    assert anchor in ANCHORS, anchor
    return f"{DOMAIN_DOC}#{anchor}"


def policy_key(policy_file: str, key: str) -> str:
    return f"policies/{policy_file}#{key}"
