"""Which policy is in force: a pure lookup over already-loaded policies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts.codes import Insutype
from engine.errors import UnknownPolicy
from engine.policy import Policy


def content_hash(policy: Policy) -> str:
    """sha256 of the policy's canonical JSON: the same numbers always give the same hash."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def conventional_file_name(policy: Policy) -> str:
    """The name a policy file has (docs/policies.md): <region>-<scheme>-<year>.toml, with
    -v<version> from version 2 on (a test holds the shipped files to it)."""
    meta = policy.policy
    version = "" if meta.version == 1 else f"-v{meta.version}"
    return f"{meta.region}-{meta.scheme.value}-{meta.year}{version}.toml"


@dataclass(frozen=True)
class PolicyStamp:
    """Which policy priced a settlement: recorded with it, checked by replay."""

    policy_id: str
    version: int
    content_hash: str  # sha256 of the policy's canonical content


@dataclass(frozen=True)
class PricedPolicy:
    policy: Policy
    ref: PolicyStamp
    file: str  # the policy file's name under policies/, which trail lines cite


def _region_candidates(region: str) -> tuple[str, ...]:
    # A person's region may be a county (640104) while the policy is set for the city
    # (640100) or the whole province-level pool (640000): try the most specific first.
    return tuple(dict.fromkeys((region, region[:4] + "00", region[:2] + "0000")))


@dataclass(frozen=True)
class PolicyBook:
    policies: tuple[PricedPolicy, ...] = field(default_factory=tuple)

    @staticmethod
    def of(policies: Sequence[Policy], files: Sequence[str] | None = None) -> PolicyBook:
        """``files``: each policy's file name; by default the conventional one."""
        names = list(files) if files is not None else [conventional_file_name(p) for p in policies]
        priced = tuple(
            PricedPolicy(p, PolicyStamp(p.policy.id, p.policy.version, content_hash(p)), name)
            for p, name in zip(policies, names, strict=True)
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
