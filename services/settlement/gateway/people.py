"""The payer's register of insured persons (人员基本信息), which 1101 answers from.

A HIS asks 1101 with a certificate (an ID number, a card number) and gets the person's id
(``psn_no``) and base facts back; no hospital message carries them, so they are the payer's
data, like the catalogues and the institution registry. The register is a CSV file in the
shape of 1101's ``baseinfo`` and ``insuinfo`` (one row per person and insurance type):

    psn_no,psn_cert_type,certno,psn_name,gend,naty,brdy,insutype,psn_type,insuplc_admdvs,
    psn_insu_date,cvlserv_flag,emp_name

``psn_insu_date`` is the day the person first joined (个人参保日期); it is echoed, never used as
an enrolment date (docs/national-interface.md §9): this year's enrolment, and so whether 1101
says 正常参保, comes from the ledger (enrolments.v1). Names and certificate numbers stay here and
in the answers; they are never recorded in the ledger's events nor logged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

COLUMNS = (
    "psn_no",
    "psn_cert_type",
    "certno",
    "psn_name",
    "gend",
    "naty",
    "brdy",
    "insutype",
    "psn_type",
    "insuplc_admdvs",
    "psn_insu_date",
    "cvlserv_flag",
    "emp_name",
)


@dataclass(frozen=True)
class Insurance:
    insutype: str
    psn_type: str  # national 人员类别 code (1101 在职, 1201 退休, 1501 普通居民 …)
    insuplc_admdvs: str
    psn_insu_date: date | None
    cvlserv_flag: str
    emp_name: str


@dataclass(frozen=True)
class PersonRecord:
    psn_no: str
    psn_cert_type: str
    certno: str
    psn_name: str
    gend: str
    naty: str
    brdy: date | None
    insurances: tuple[Insurance, ...]

    def age_on(self, on: date) -> str:
        """Years with one decimal, cut not rounded (75.2 on 2025-03-14 for 1949-12-31)."""
        if self.brdy is None:
            return ""
        tenths = (on - self.brdy).days * 40 // 1461  # days / 365.25 years, in tenths of a year
        return f"{tenths // 10}.{tenths % 10}"


class PersonDirectory:
    def __init__(self, people: Iterable[PersonRecord] = ()) -> None:
        self._by_psn = {p.psn_no: p for p in people}
        self._by_cert = {_cert_key(p.certno): p for p in self._by_psn.values() if p.certno}

    def by_psn_no(self, psn_no: str) -> PersonRecord | None:
        return self._by_psn.get(psn_no)

    def by_certificate(self, certno: str) -> PersonRecord | None:
        return self._by_cert.get(_cert_key(certno))

    def records(self) -> tuple[PersonRecord, ...]:
        return tuple(self._by_psn.values())

    def __len__(self) -> int:
        return len(self._by_psn)


def _cert_key(certno: str) -> str:
    return certno.strip().upper()  # an ID number's check character may be typed as x or X


def _day(text: str) -> date | None:
    return date.fromisoformat(text[:10]) if text.strip() else None


def _group(rows: list[dict[str, str]]) -> list[PersonRecord]:
    people: dict[str, PersonRecord] = {}
    for row in rows:
        cover = Insurance(
            row["insutype"],
            row["psn_type"],
            row["insuplc_admdvs"],
            _day(row["psn_insu_date"]),
            row["cvlserv_flag"] or "0",
            row["emp_name"],
        )
        known = people.get(row["psn_no"])
        if known is None:
            people[row["psn_no"]] = PersonRecord(
                row["psn_no"],
                row["psn_cert_type"],
                row["certno"],
                row["psn_name"],
                row["gend"],
                row["naty"],
                _day(row["brdy"]),
                (cover,),
            )
        else:
            people[row["psn_no"]] = PersonRecord(**{**known.__dict__, "insurances": (*known.insurances, cover)})
    return list(people.values())


def load_directory(path: str | Path) -> PersonDirectory:
    """Raises ValueError naming the file and the line for a row that does not fit."""
    source = Path(path)
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{source}: the columns must be {','.join(COLUMNS)}")
        rows = list(reader)
    try:
        return PersonDirectory(_group(rows))
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
