"""Follower "funds": each fund's separate book (基金分别建账、分别核算, [002] 二(四)) — income,
spending and balance per insured region, fund and year, kept from the global log.

What goes where (docs/domain.md#fund-books):
- settlements (ClaimSettled, and SettlementReversed negatively): each fund's fund_payamt is that
  fund's spending (item "claims"); of the staff-account row only the person's own account — a
  relative's account is booked from the FamilyAccountDebited in the relative's stream, against
  the relative's region and the staff accounts (310200), never the resident fund;
- AccountCredited of a retiree: the pooled fund pays it into the accounts ([003] 退休人员个人账户…
  由统筹基金按定额划入): 310100 spending "retiree_account_credits", 310200 income
  "from_pooled_fund". An in-service credit moves the employee's own contribution, already the
  accounts' income (ContributionRecorded), into the person's account: no book entry;
- ContributionRecorded: the entries the engine wrote into the fact (engine/contributions.py).

The fold is pure: the follower applies it batch by batch, `ledger verify` over the whole log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from contracts.codes import FundPayType, PersonType
from engine.contributions import ContributionRecorded
from engine.events import (
    AccountCredited,
    ClaimSettled,
    Event,
    FamilyAccountDebited,
    FamilyAccountRefunded,
    PersonEnrolled,
    SettlementReversed,
)
from ledger.adapters.postgres_sql import Connection
from ledger.follower import facts_of, log_up_to_checkpoint
from ledger.store import RecordedEvent

Key = tuple[str, str, int, str, str]  # admdvs, fund_pay_type, year, kind, item
BOOKED = frozenset(
    {"PersonEnrolled", "ContributionRecorded", "ClaimSettled", "SettlementReversed"}
    | {"FamilyAccountDebited", "FamilyAccountRefunded", "AccountCredited"}
)


@dataclass(frozen=True)
class Person:
    admdvs: str
    insutype: str
    psn_type: str


def _year(stream_id: str) -> int:
    return int(stream_id.rpartition("/")[2])


@dataclass
class FundBookFold:
    people: dict[str, Person] = field(default_factory=dict)  # enrolments seen by this fold
    entries: Counter[Key] = field(default_factory=Counter)

    def _book(self, who: Person, fund: FundPayType, year: int, kind: str, item: str, fen: int) -> None:
        if fen:
            self.entries[(who.admdvs, fund.value, year, kind, item)] += fen

    def _person(self, stream_id: str, known: Mapping[str, Person]) -> Person:
        who = self.people.get(stream_id) or known.get(stream_id)
        if who is None:
            raise LookupError(f"{stream_id}: a fund is spent for a person-year the books never saw enrolled")
        return who

    def apply(self, event: RecordedEvent, known: Mapping[str, Person]) -> None:
        """``known``: people of streams enrolled before this fold began. Other event types (of
        other streams' read models) are not the books' business."""
        if event.event_type not in BOOKED:
            return
        facts = facts_of(event)
        if isinstance(facts, PersonEnrolled):
            e = facts.enrolment
            self.people[event.stream_id] = Person(e.insuplc_admdvs, e.insutype.value, e.psn_type.value)
        elif isinstance(facts, ContributionRecorded):
            who = Person(facts.admdvs, facts.insutype.value, "")
            for entry in facts.entries:
                self._book(who, entry.fund_pay_type, facts.contribution.year, entry.kind, entry.item, entry.amount)
        else:
            self._spend(facts, event.stream_id, known)

    def _spend(self, facts: Event, stream_id: str, known: Mapping[str, Person]) -> None:
        who, year = self._person(stream_id, known), _year(stream_id)
        if isinstance(facts, ClaimSettled | SettlementReversed):
            mulaid = facts.amounts.acct_mulaid_pay  # negated in a reversal, like its funds
            rows = (
                [(r.fund_pay_type, r.fund_payamt) for r in facts.funds]
                if isinstance(facts, ClaimSettled)
                else facts.funds
            )
            for fund, fen in rows:
                own = fen - mulaid if fund is FundPayType.STAFF_ACCOUNT else fen
                self._book(who, fund, year, "spending", "claims", own)
        elif isinstance(facts, FamilyAccountDebited | FamilyAccountRefunded):
            sign = 1 if isinstance(facts, FamilyAccountDebited) else -1
            self._book(who, FundPayType.STAFF_ACCOUNT, year, "spending", "family_mutual_aid", sign * facts.amount)
        elif isinstance(facts, AccountCredited) and who.psn_type == PersonType.RETIRED.value:
            self._book(who, FundPayType.STAFF_POOLED, year, "spending", "retiree_account_credits", facts.amount)
            self._book(who, FundPayType.STAFF_ACCOUNT, year, "income", "from_pooled_fund", facts.amount)


LOAD_PEOPLE = "SELECT stream_id, admdvs, insutype, psn_type FROM fund_book_people WHERE stream_id = ANY($1::text[])"
UPSERT_PERSON = """
INSERT INTO fund_book_people (stream_id, admdvs, insutype, psn_type) VALUES ($1, $2, $3, $4)
ON CONFLICT (stream_id) DO UPDATE SET admdvs = excluded.admdvs, insutype = excluded.insutype,
                                      psn_type = excluded.psn_type
"""
ADD_ENTRY = """
INSERT INTO fund_book_entries AS t (admdvs, fund_pay_type, year, kind, item, amount) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (admdvs, fund_pay_type, year, kind, item) DO UPDATE SET amount = t.amount + excluded.amount
"""


def _people(rows: Sequence[asyncpg.Record]) -> dict[str, Person]:
    return {str(r["stream_id"]): Person(str(r["admdvs"]), str(r["insutype"]), str(r["psn_type"])) for r in rows}


class FundBookProjection:
    name = "funds"

    async def apply(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        streams = sorted({e.stream_id for e in events if not e.stream_id.startswith("contrib/")})
        known = _people(await connection.fetch(LOAD_PEOPLE, streams)) if streams else {}
        fold = FundBookFold()
        for event in events:
            fold.apply(event, known)
        if fold.people:
            rows = [(s, p.admdvs, p.insutype, p.psn_type) for s, p in fold.people.items()]
            await connection.executemany(UPSERT_PERSON, rows)
        if fold.entries:
            await connection.executemany(ADD_ENTRY, [(*key, fen) for key, fen in fold.entries.items()])


ENTRIES = "SELECT admdvs, fund_pay_type, year, kind, item, amount FROM fund_book_entries"


async def verify_fund_books(pool: asyncpg.Pool, page: int = 5_000) -> list[str]:
    """Problems in fund_book_entries: compared with the fold of the log up to the checkpoint."""
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        fold = FundBookFold()
        async for events in log_up_to_checkpoint(connection, FundBookProjection.name, page):
            for event in events:
                fold.apply(event, {})
        stored: dict[Key, int] = {
            (r["admdvs"], r["fund_pay_type"], int(r["year"]), r["kind"], r["item"]): int(r["amount"])
            for r in await connection.fetch(ENTRIES)
        }
    differ = [key for key in sorted(set(stored) | set(fold.entries)) if stored.get(key, 0) != fold.entries.get(key, 0)]
    return [
        f"fund_book_entries {' '.join(map(str, k))}: stored {stored.get(k)}, the log says {fold.entries.get(k, 0)}"
        for k in differ
    ]


# --------------------------------------------------------------------------- `ledger funds`

BOOKS = ("310100", "310200", "330100", "390100", "390200", "610100")
BOOK_NAMES = {
    "310100": "职工统筹基金 staff pooled",
    "310200": "职工个人账户 staff accounts",
    "330100": "职工大额 staff large-amount",
    "390100": "居民基本医保 resident basic",
    "390200": "居民大病保险 resident major illness",
    "610100": "医疗救助 medical aid",
}
# Books whose income the ledger does not hold: the medical-aid fund is financed by the treasury,
# and no seed gives that income (docs/domain.md#fund-books). Its spending is known; its balance
# and months payable would be its spending negated, a figure nobody should read as the fund's.
INCOME_NOT_RECORDED = frozenset({"610100"})
PoolOf = Callable[[str, str, int], str | None]  # (admdvs, fund, year) → the pooling region, or None


@dataclass(frozen=True)
class BookLine:
    fund: str
    income: int | None  # this year, fen; None: not recorded (INCOME_NOT_RECORDED)
    spending: int  # this year, fen
    balance: int | None  # income less spending over every year up to this one, fen; None: income not recorded
    items: Mapping[str, int]  # this year's entries, "income:individual" → fen

    @property
    def months_payable(self) -> Decimal | None:
        """基金可支付月数 [000]: the balance over the year's average monthly spending."""
        if self.spending <= 0 or self.balance is None:
            return None
        return (Decimal(self.balance) * 12 / Decimal(self.spending)).quantize(Decimal("0.1"))


def prefix_pool(region: str) -> PoolOf:
    """Without the policy files: a province (xx0000) holds its codes, a city (xxxx00) its counties."""
    width = 2 if region.endswith("0000") else 4 if region.endswith("00") else 6
    return lambda admdvs, _fund, _year: region if admdvs[:width] == region[:width] else None


Row = tuple[str, str, int, str, str, int]  # admdvs, fund_pay_type, year, kind, item, fen


def fund_report(rows: Sequence[Row], region: str, year: int, pool_of: PoolOf) -> list[BookLine]:
    """Each fund's book for a pooling region and year, from fund_book_entries rows."""
    lines = []
    for fund in BOOKS:
        mine = [r for r in rows if r[1] == fund and r[2] <= year and pool_of(r[0], fund, r[2]) == region]
        now = [r for r in mine if r[2] == year]
        income = sum(r[5] for r in now if r[3] == "income")
        spending = sum(r[5] for r in now if r[3] == "spending")
        balance = sum(r[5] if r[3] == "income" else -r[5] for r in mine)
        items: Counter[str] = Counter()
        for r in now:
            items[f"{r[3]}:{r[4]}"] += r[5]
        if fund in INCOME_NOT_RECORDED:
            lines.append(BookLine(fund, None, spending, None, dict(items)))
        else:
            lines.append(BookLine(fund, income, spending, balance, dict(items)))
    return lines


async def read_entries(pool: asyncpg.Pool) -> list[Row]:
    rows = await pool.fetch(ENTRIES)
    return [(r["admdvs"], r["fund_pay_type"], int(r["year"]), r["kind"], r["item"], int(r["amount"])) for r in rows]
