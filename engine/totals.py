"""A person's annual totals (年度累计), and the fold that rebuilds them from events.

Every event that changes the totals carries its change as a ``Totals`` delta; the fold adds
the deltas. A reversal carries the negated delta of what it reverses, so reversing restores
the totals exactly. The same fold serves the engine (current totals) and audit replay.

Deductibles and basic-fund payments are kept per benefit (``ByBenefit``). On the record
(events and the inline projection) a delta is flat JSON of its non-zero figures, one key per
benefit (``dedc_inpatient``, ``hifp_general_outpatient``, …): the shape version-1 events have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from operator import add, neg
from types import MappingProxyType
from typing import Any

from engine.benefit_name import POOLED, BenefitName

_INDEX: dict[BenefitName, int] = {name: i for i, name in enumerate(POOLED)}


class ByBenefit(Mapping[BenefitName, int]):
    """Fen per pooled benefit: every pooled benefit is a key (0 when nothing is recorded);
    ``BenefitName.NONE`` is none, so asking for it is a KeyError — a bug, never a zero."""

    __slots__ = ("_fen",)

    def __init__(self, fen: Mapping[BenefitName, int] = MappingProxyType({})) -> None:
        unknown = set(fen) - set(POOLED)
        if unknown:
            raise ValueError(f"no pooled benefit {sorted(unknown)}")
        self._fen = tuple(int(fen.get(name, 0)) for name in POOLED)

    def __getitem__(self, name: BenefitName) -> int:
        return self._fen[_INDEX[name]]

    def __iter__(self) -> Iterator[BenefitName]:
        return iter(POOLED)

    def __len__(self) -> int:
        return len(POOLED)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByBenefit) and self._fen == other._fen

    def __hash__(self) -> int:
        return hash(self._fen)

    def __repr__(self) -> str:
        return f"ByBenefit({ {n.value: v for n, v in self.items() if v} })"

    def __add__(self, other: ByBenefit) -> ByBenefit:
        return _by_benefit(tuple(map(add, self._fen, other._fen)))

    def __neg__(self) -> ByBenefit:
        return _by_benefit(tuple(map(neg, self._fen)))

    @property
    def total(self) -> int:
        return sum(self._fen)


def _by_benefit(fen: tuple[int, ...]) -> ByBenefit:
    """A ByBenefit from fen already in POOLED's order (a sum or negation of two checked ones)."""
    made = ByBenefit.__new__(ByBenefit)
    made._fen = fen
    return made


NO_BENEFIT = ByBenefit()
_PER_BENEFIT = {"dedc": "dedc_", "hifp": "hifp_"}  # field → prefix of its flat JSON keys


@dataclass(frozen=True)
class Totals:
    """All in fen, except the two counters."""

    settlements: int = 0  # settlements in force (a reversal takes one away)
    admissions: int = 0  # inpatient stays (the n-th stay's deductible depends on it)
    medfee_sumamt: int = 0
    fulamt_ownpay_amt: int = 0
    overlmt_selfpay: int = 0
    preselfpay_amt: int = 0
    inscp_scp_amt: int = 0
    # 起付线 used, per benefit (yearly deductibles are per benefit; inpatient per stay)
    dedc: ByBenefit = NO_BENEFIT
    # basic pooled fund paid, per benefit (their sum spends the shared annual cap)
    hifp: ByBenefit = NO_BENEFIT
    hifp_in_annual_cap: int = 0  # what counts against 年度最高支付限额
    mi_base: int = 0  # qualifying policy-range self-pay accumulated for major illness
    mi_paid: int = 0  # hifmi_pay (residents) or hifob_pay (staff)
    aid_base: int = 0  # compliant cost left after basic and major illness (medical aid)
    aid_paid: int = 0
    fund_pay_sumamt: int = 0
    acct_credited: int = 0  # monthly credits this year
    acct_paid_own: int = 0  # own account spent on own care
    acct_paid_for_family: int = 0  # own account spent on relatives' care (家庭共济)
    acct_mulaid_received: int = 0  # relatives' accounts spent on this person's care
    psn_cash_pay: int = 0

    def __add__(self, other: Totals) -> Totals:
        mine, theirs = self.__dict__, other.__dict__
        return _totals({name: mine[name] + theirs[name] for name in _NAMES})

    def __neg__(self) -> Totals:
        mine = self.__dict__
        return _totals({name: -mine[name] for name in _NAMES})

    def figures(self) -> dict[str, int]:
        """Every figure by its flat name (dedc_inpatient, …, psn_cash_pay), zeros included."""
        flat: dict[str, int] = {}
        mine = self.__dict__
        for name in _NAMES:
            value = mine[name]
            if type(value) is ByBenefit:
                flat.update(zip(_FLAT[name], value._fen, strict=True))
            else:
                flat[name] = value
        return flat

    def to_json(self) -> dict[str, int]:
        """The record form: the non-zero figures by flat name."""
        return {name: fen for name, fen in self.figures().items() if fen}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Totals:
        """The record form read back (every figure through int(), an unknown name refused). Built
        without the dataclass's __init__: every event and projection carries one (the audit's fold)."""
        values: dict[str, Any] = dict(_ZERO_PLAIN)
        per_benefit = {name: [0] * len(POOLED) for name in _PER_BENEFIT}
        for key, value in data.items():
            if key in _PLAIN:
                values[key] = int(value)
                continue
            at = _FLAT_INDEX.get(key)
            if at is None:
                raise ValueError(f"unknown totals field {key!r}")
            per_benefit[at[0]][at[1]] = int(value)
        for name, fen in per_benefit.items():
            values[name] = _by_benefit(tuple(fen))
        return _totals(values)

    def has_negative(self) -> bool:
        """Whether any figure is below zero (what ``figures`` would show, without building it)."""
        mine = self.__dict__
        return min(map(mine.__getitem__, _PLAIN_ORDER)) < 0 or min(self.dedc._fen) < 0 or min(self.hifp._fen) < 0

    @property
    def deductibles_total(self) -> int:
        return self.dedc.total

    @property
    def hifp_total(self) -> int:
        return self.hifp.total


# The fields in declaration order (the order ``figures`` lists them in, as dataclasses.fields did),
# the flat names of each per-benefit field's figures, and the plain fields' names.
_NAMES = tuple(f.name for f in fields(Totals))
_FLAT = {field: tuple(prefix + name.value for name in POOLED) for field, prefix in _PER_BENEFIT.items()}
_PLAIN = frozenset(_NAMES) - set(_PER_BENEFIT)
_PLAIN_ORDER = tuple(name for name in _NAMES if name in _PLAIN)
_ZERO_PLAIN = {name: 0 for name in _PLAIN_ORDER}
# flat JSON name of a per-benefit figure → (its field, its index in POOLED); no plain name is one
_FLAT_INDEX = {flat: (field, i) for field, names in _FLAT.items() for i, flat in enumerate(names)}
assert not _FLAT_INDEX.keys() & _PLAIN


def _totals(values: dict[str, Any]) -> Totals:
    """Totals from the figures of two checked ones: the frozen dataclass's __init__ sets each of the
    22 fields through object.__setattr__, a sum or negation needs none of it (engine/totals.py is
    on every priced claim's path several times)."""
    made = Totals.__new__(Totals)
    made.__dict__.update(values)
    return made


ZERO = Totals()
