"""Which policy is in force: a pure lookup over already-loaded policies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from contracts.codes import Insutype
from engine.errors import UnknownPolicy
from engine.national_codes import NO_CODES, NationalCodes
from engine.payer_data import NO_PAYER_DATA, PayerData
from engine.policy import Policy


def content_hash(policy: Policy, payer_digest: str = "") -> str:
    """sha256 of the policy's canonical JSON and, when it references payer data, of the digest
    of every payer file: the same numbers and the same catalogue always give the same hash, and
    a settlement's stamp pins both (docs/adr/0006-payer-data-and-national-codes.md)."""
    content: object = policy.model_dump(mode="json")
    if payer_digest:
        content = {"policy": content, "payer_data": payer_digest}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
    payer: PayerData = NO_PAYER_DATA  # the catalogue and registries the policy references
    codes: NationalCodes = NO_CODES  # the national code sets, for naming codes in sentences


def _region_candidates(region: str) -> tuple[str, ...]:
    # A person's region may be a county (640104) while the policy is set for the city
    # (640100) or the whole province-level pool (640000): try the most specific first.
    return tuple(dict.fromkeys((region, region[:4] + "00", region[:2] + "0000")))


@dataclass(frozen=True)
class PolicyBook:
    policies: tuple[PricedPolicy, ...] = field(default_factory=tuple)
    codes: NationalCodes = NO_CODES
    # What _in_force found for (region, day, scheme): every message asks it once or twice, with
    # few distinct questions in a day; the book never changes, so neither do the answers.
    _found: dict[tuple[str, date, Insutype | None], tuple[PricedPolicy, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @staticmethod
    def of(
        policies: Sequence[Policy],
        files: Sequence[str] | None = None,
        payer: Sequence[PayerData] | None = None,
        codes: NationalCodes = NO_CODES,
    ) -> PolicyBook:
        """``files``: each policy's file name (by default the conventional one); ``payer``: each
        policy's payer data (by default none: every institution is then unknown)."""
        names = list(files) if files is not None else [conventional_file_name(p) for p in policies]
        data = list(payer) if payer is not None else [NO_PAYER_DATA] * len(policies)
        priced = tuple(
            PricedPolicy(p, PolicyStamp(p.policy.id, p.policy.version, content_hash(p, d.digest)), name, d, codes)
            for p, name, d in zip(policies, names, data, strict=True)
        )
        return PolicyBook(priced, codes)

    def _in_force(self, region: str, on: date, scheme: Insutype | None) -> tuple[PricedPolicy, ...]:
        """The policies in force for the most specific of the region's candidates that has any."""
        key = (region, on, scheme)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = tuple(self._search(region, on, scheme))
        return found

    def _search(self, region: str, on: date, scheme: Insutype | None) -> list[PricedPolicy]:
        for candidate in _region_candidates(region):
            matches = [
                p
                for p in self.policies
                if p.policy.policy.region == candidate
                and (scheme is None or p.policy.policy.scheme is scheme)
                and p.policy.policy.effective_from <= on <= p.policy.policy.effective_to
            ]
            if matches:
                return matches
        return []

    def in_force(self, region: str, scheme: Insutype, on: date) -> PricedPolicy:
        matches = self._in_force(region, on, scheme)
        if matches:
            return max(matches, key=lambda p: p.policy.policy.version)
        raise UnknownPolicy(f"no policy in force for region {region}, scheme {scheme.value} on {on.isoformat()}")

    def scheme_of(self, region: str, insutype: str, on: date) -> Insutype | None:
        """The scheme a national insutype code belongs to under the region's policies in force
        ([codes.insutype]); None when none of them maps it."""
        for priced in sorted(self._in_force(region, on, None), key=lambda p: -p.policy.policy.version):
            scheme = priced.policy.codes.insutype.get(insutype)
            if scheme is not None:
                return scheme
        return None

    def by_id(self, policy_id: str, version: int) -> PricedPolicy | None:
        for p in self.policies:
            if p.ref.policy_id == policy_id and p.ref.version == version:
                return p
        return None
