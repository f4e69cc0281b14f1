"""Which policy is in force: a pure lookup over already-loaded policies."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from contracts.codes import Insutype
from contracts.results import PolicyRef
from engine.policy import Policy


def content_hash(policy: Policy) -> str:
    """sha256 of the policy's canonical JSON: the same numbers always give the same hash."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PricedPolicy:
    policy: Policy
    ref: PolicyRef


class UnknownPolicy(LookupError):
    pass


def _region_candidates(region: str) -> tuple[str, ...]:
    # A person's region may be a county (640104) while the policy is set for the city
    # (640100) or the whole province-level pool (640000): try the most specific first.
    return tuple(dict.fromkeys((region, region[:4] + "00", region[:2] + "0000")))


@dataclass(frozen=True)
class PolicyBook:
    policies: tuple[PricedPolicy, ...] = field(default_factory=tuple)

    @staticmethod
    def of(policies: list[Policy]) -> PolicyBook:
        priced = tuple(
            PricedPolicy(p, PolicyRef(policy_id=p.policy.id, version=p.policy.version, content_hash=content_hash(p)))
            for p in policies
        )
        return PolicyBook(priced)

    def in_force(self, region: str, scheme: Insutype, on: date) -> PricedPolicy:
        for candidate in _region_candidates(region):
            matches = [
                p
                for p in self.policies
                if p.policy.policy.region == candidate
                and p.policy.policy.scheme is scheme
                and p.policy.policy.effective_from <= on <= p.policy.policy.effective_to
            ]
            if matches:
                return max(matches, key=lambda p: p.policy.policy.version)
        raise UnknownPolicy(f"no policy in force for region {region}, scheme {scheme.value} on {on.isoformat()}")

    def by_id(self, policy_id: str, version: int) -> PricedPolicy | None:
        for p in self.policies:
            if p.ref.policy_id == policy_id and p.ref.version == version:
                return p
        return None
