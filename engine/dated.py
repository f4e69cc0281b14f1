"""Rows in force on a day: the payer's catalogues and registries are versioned by
``begndate``/``enddate`` (inclusive), as the national catalogue downloads are.

An index keeps, per key, its rows sorted by ``begndate`` with no two overlapping, so "which row
is in force on this day" is a dict lookup and a binary search: O(1) in the number of keys and
O(log n) in the versions of one key.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar


class Dated(Protocol):
    @property
    def begndate(self) -> date: ...

    @property
    def enddate(self) -> date: ...


R = TypeVar("R", bound=Dated)


class OverlappingRows(ValueError):
    """Two rows of the same key are in force on the same day: which one applies is undecidable."""


@dataclass(frozen=True)
class DatedIndex(Generic[R]):
    rows: Mapping[str, tuple[R, ...]] = field(default_factory=lambda: MappingProxyType({}))
    starts: Mapping[str, tuple[date, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def of(rows: Iterable[R], key: Callable[[R], str], what: str) -> DatedIndex[R]:
        grouped: dict[str, list[R]] = {}
        for row in rows:
            grouped.setdefault(key(row), []).append(row)
        for name, versions in grouped.items():
            versions.sort(key=lambda r: r.begndate)
            for earlier, later in pairwise(versions):
                if later.begndate <= earlier.enddate:
                    raise OverlappingRows(
                        f"{what} {name}: a row from {later.begndate} starts before the row from "
                        f"{earlier.begndate} ends ({earlier.enddate})"
                    )
        frozen = {name: tuple(versions) for name, versions in grouped.items()}
        starts = {name: tuple(r.begndate for r in versions) for name, versions in frozen.items()}
        return DatedIndex(MappingProxyType(frozen), MappingProxyType(starts))

    def on(self, name: str, day: date) -> R | None:
        """The row of ``name`` in force on ``day``, or None."""
        versions = self.rows.get(name)
        if not versions:
            return None
        at = bisect_right(self.starts[name], day) - 1
        if at < 0 or versions[at].enddate < day:
            return None
        return versions[at]

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values())

    def keys(self) -> Iterable[str]:
        return self.rows.keys()
