"""The `ledger` CLI refuses hostile arguments with one sentence and exit 2, before it connects.

Every test runs ``ledger.entrypoints.cli.main`` with a database URL and with the two places that
open a pool replaced by a fake that records the attempt: a refused argument must never reach
the database (so it can never write), and must never end in a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ledger.clearing import cli as clearing_cli
from ledger.entrypoints import cli

from contracts.inbound import EARLIEST_DAY, LATEST_DAY

BUDGET = ["--fund", "390100", "--dip", "1.00"]


class Connected(Exception):
    """The command got as far as opening a pool: its arguments were accepted."""


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    opened: list[str] = []

    @asynccontextmanager
    async def pool(dsn: str, **_: Any) -> Any:
        opened.append(dsn)
        raise Connected(dsn)
        yield  # pragma: no cover - never reached

    monkeypatch.setattr(clearing_cli, "postgres_pool", pool)
    monkeypatch.setattr(cli, "postgres_pool", pool)
    monkeypatch.setattr(cli, "postgres_ledger", pool)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("LEDGER_POLICIES_DIR", "policies")
    yield opened


def refusal(capsys: pytest.CaptureFixture[str], argv: list[str], opened: list[str]) -> str:
    """Run the CLI; assert it refused (exit 2, no pool opened) and return the sentence."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse: usage line, then "ledger <command>: error: …"
        code = exit_.code
    except Connected:
        pytest.fail(f"{argv} was accepted and connected to the database")
    err = capsys.readouterr().err
    assert code == 2, err
    assert opened == [], f"{argv} opened a pool"
    assert "Traceback" not in err
    sentence = err.strip().splitlines()[-1]
    assert sentence.startswith("ledger"), err
    return sentence


def accepted(argv: list[str]) -> None:
    with pytest.raises(Connected):
        cli.main(argv)


# --------------------------------------------------------------------------------- years


@pytest.mark.parametrize("year", ["99999", "0", "-1", "1899", "2101", "", "２０２５", "٢٠٢٥", "2025.0", "1e3"])
def test_set_budget_refuses_a_year_the_ledger_cannot_hold(
    year: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, ["set-budget", "--admdvs", "640000", f"--year={year}", *BUDGET], no_database)
    assert "--year" in sentence and "1900 to 2100" in sentence


ONE_YEAR_EACH = [
    ["close-month", "--region", "640000", "--month", "1"],
    ["close-year", "--region", "640000"],
    ["set-budget", "--admdvs", "640000", *BUDGET],
    ["release-deposit", "--institution", "H1", "--fund", "390100", "--coefficient", "0.5"],
    ["clearing", "--region", "640000"],
    ["replay", "--institution", "H1", "--region", "640000"],
    ["replay", "--psn", "P1"],
    ["reprice", "--clearing", "--region", "640000", "--policies", "policies"],
    ["reprice", "--policies", "policies"],
    ["funds", "--region", "640000"],
    ["detach-year"],
]


@pytest.mark.parametrize("command", ONE_YEAR_EACH, ids=lambda c: " ".join(c[:2]))
def test_every_command_taking_a_year_refuses_one_past_the_contracts_dates(
    command: list[str], no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, [*command, "--year", str(LATEST_DAY.year + 1)], no_database)
    assert "--year" in sentence


@pytest.mark.parametrize("command", ONE_YEAR_EACH, ids=lambda c: " ".join(c[:2]))
def test_every_command_taking_a_year_accepts_the_first_and_last_the_ledger_holds(
    command: list[str], no_database: list[str]
) -> None:
    # The bound is the contracts' own (contracts/inbound.py: dates from 1900-01-01 to 2100-12-31).
    accepted([*command, "--year", str(EARLIEST_DAY.year)])
    accepted([*command, "--year", str(LATEST_DAY.year)])


@pytest.mark.parametrize("month", ["0", "13", "-1", "", "１", "99"])
@pytest.mark.parametrize("command", [["close-month"], ["clearing"]])
def test_a_month_outside_one_to_twelve_is_refused(
    command: list[str], month: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, [*command, "--region", "640000", "--year", "2025", f"--month={month}"], no_database)
    assert "--month" in sentence and "1 to 12" in sentence


# ----------------------------------------------------------------------- codes: as on the wire

BAD_CODES = ["", " ", " H1", "H1\n", "H1:2", "H\x001", "\x1b[31mH1", "Ｈ1", "x" * 51, "x" * 100_000, "H1\udcff"]


@pytest.mark.parametrize("code", BAD_CODES, ids=repr)
@pytest.mark.parametrize(
    "command",
    [
        ["clearing", "--region", "640000", "--year", "2025", "--institution"],
        ["release-deposit", "--year", "2025", "--fund", "390100", "--coefficient", "0.5", "--institution"],
        ["replay", "--region", "640000", "--year", "2025", "--institution"],
    ],
    ids=lambda c: c[0],
)
def test_an_institution_code_a_fixmedins_code_cannot_be_is_refused(
    command: list[str], code: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, [*command, code], no_database)
    assert "--institution" in sentence and "fixmedins_code" in sentence
    assert len(sentence) < 300  # the argument is quoted short, whatever its length


@pytest.mark.parametrize(
    "region", ["", " ", "64000", "6400000", "64000a", "６４００００", "640000\n", "\x00"], ids=repr
)
@pytest.mark.parametrize(
    "command",
    [
        ["close-month", "--year", "2025", "--month", "1", "--region"],
        ["close-year", "--year", "2025", "--region"],
        ["clearing", "--year", "2025", "--region"],
        ["set-budget", "--year", "2025", *BUDGET, "--admdvs"],
        [
            "release-deposit",
            "--institution",
            "H1",
            "--year",
            "2025",
            "--fund",
            "390100",
            "--coefficient",
            "1",
            "--region",
        ],
        ["replay", "--institution", "H1", "--year", "2025", "--region"],
        ["reprice", "--clearing", "--policies", "policies", "--year", "2025", "--region"],
        ["funds", "--year", "2025", "--region"],
    ],
    ids=lambda c: c[0],
)
def test_a_region_that_is_not_six_digits_is_refused(
    command: list[str], region: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, [*command, region], no_database)
    assert "admdvs" in sentence


def test_a_good_institution_and_region_are_accepted(no_database: list[str]) -> None:
    accepted(["clearing", "--region", "640000", "--year", "2025", "--institution", "H64010100002"])
    accepted(["release-deposit", "--institution", "H6401.01_0-2", "--year", "2025", "--fund", "390100",
              "--coefficient", "0.9", "--region", "640104"])  # fmt: skip


@pytest.mark.parametrize("setl_id", ["", "S 1", "S\x00", "x" * 51])
def test_decide_review_refuses_a_setl_id_the_contracts_refuse(
    setl_id: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = refusal(capsys, ["decide-review", "--setl-id", setl_id, "--outcome", "confirm"], no_database)
    assert "--setl-id" in sentence


@pytest.mark.parametrize("psn", ["", "a b", "a\x00", "Ａ1", "x" * 31])
def test_replay_refuses_a_psn_no_the_contracts_refuse(
    psn: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--psn" in refusal(capsys, ["replay", "--psn", psn, "--year", "2025"], no_database)


@pytest.mark.parametrize("fund", ["", "３９０１００", "390100 ", "999999"])
def test_a_fund_that_is_no_fund_pay_type_is_refused_before_connecting(
    fund: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["set-budget", "--admdvs", "640000", "--year", "2025", "--fund", fund, "--dip", "1.00"]
    assert "--fund" in refusal(capsys, argv, no_database)


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("points", ["NaN", "Infinity", "-1", "1e999999", "١٢", "１２", "", " 1", "0x10"])
def test_decide_review_refuses_points_that_are_not_plain_ascii_decimals(
    points: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["decide-review", "--setl-id", "S2025-0", "--outcome", "points", f"--points={points}"]
    assert "--points" in refusal(capsys, argv, no_database)


@pytest.mark.parametrize("coefficient", ["NaN", "inf", "-0.1", "1.5", "٠.٥", "1e0"])
def test_release_deposit_refuses_a_coefficient_that_is_no_share_before_connecting(
    coefficient: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["release-deposit", "--institution", "H1", "--year", "2025", "--fund", "390100",
            f"--coefficient={coefficient}"]  # fmt: skip
    assert "coefficient" in refusal(capsys, argv, no_database)


@pytest.mark.parametrize("yuan", ["1.001", "NaN", "１.００", "1e5", "-1.00"])
def test_set_budget_refuses_yuan_it_cannot_record_before_connecting(
    yuan: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # 1.001 has a third decimal (no fen of it), -1.00 is no amount a fund may spend.
    argv = ["set-budget", "--admdvs", "640000", "--year", "2025", "--fund", "390100", f"--dip={yuan}"]
    sentence = refusal(capsys, argv, no_database)
    assert "--dip" in sentence or "cannot be negative" in sentence


@pytest.mark.parametrize("days", ["99999999999999999999", "-1", "٣", "", "1.5"])
def test_prune_refuses_a_horizon_that_is_not_a_bounded_count_of_days(
    days: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # 10^20 days used to end in an OverflowError traceback (timedelta) after connecting.
    assert "--outbox-days" in refusal(capsys, ["prune", f"--outbox-days={days}"], no_database)


def test_a_bad_retention_in_the_environment_is_refused_by_prune_only(
    monkeypatch: pytest.MonkeyPatch, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_IDEMPOTENCY_RETENTION_DAYS", "thirty")
    assert "--idempotency-days" in refusal(capsys, ["prune"], no_database)
    accepted(["funds", "--region", "640000", "--year", "2025"])  # building the parser no longer fails


@pytest.mark.parametrize("jobs", ["٣", "３"])
def test_verify_refuses_jobs_in_digits_other_than_ascii(
    jobs: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--jobs" in refusal(capsys, ["verify", "--jobs", jobs], no_database)


# -------------------------------------------------------------------------- text and files


@pytest.mark.parametrize("reason", ["a\x00b", "\x1b[2J", "bytes \udcff not UTF-8"], ids=repr)
def test_decide_review_refuses_a_reason_the_ledger_cannot_record(
    reason: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # NUL and lone surrogates reached the ledger's canonical JSON, whose NotCanonical escaped as a traceback.
    argv = ["decide-review", "--setl-id", "S2025-0", "--outcome", "confirm", "--reason", reason]
    assert "--reason" in refusal(capsys, argv, no_database)


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "２０２５-01-01"])
def test_an_as_of_outside_the_years_the_ledger_holds_is_refused(
    as_of: str, no_database: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["clearing", "--region", "640000"], ["replay", "--psn", "P1"]):
        assert "--as-of" in refusal(capsys, [*command, "--year", "2025", "--as-of", as_of], no_database)


@pytest.mark.parametrize("url", ["postgresql://[::1", "mysql://db/x"])
def test_a_database_url_asyncpg_cannot_read_is_one_sentence(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real connect path (no fake): asyncpg refuses these before any network I/O.
    code = cli.main(["clearing", "--region", "640000", "--year", "2025", "--database-url", url])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.startswith("ledger: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["anchor", "--no-publish", "--key-file", "key\x00.pem"],
        ["anchor-keygen", "--private-key", "priv\x00.pem", "--public-key", "pub.pem"],
    ],
    ids=lambda a: a[0],
)
def test_a_file_name_with_a_nul_is_refused_in_a_sentence(
    argv: list[str],
    no_database: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Only a caller of main() can pass a NUL (argv cannot hold one); open() raised ValueError.
    monkeypatch.chdir(tmp_path)  # anchor-keygen writes its files where it is told
    refusal(capsys, argv, no_database)
