"""The README's main command (`make demo`): the whole product, end to end, on this machine.

1. start local Kafka and PostgreSQL (devservers), create each sender's topics and the ACLs
   that give them to it alone, migrate the ledger;
2. start the ledger service and the settlement service as real processes (SASL_SSL to Kafka,
   bearer tokens from the local issuer on HTTP);
3. publish a generated day of messages (every scheme, person type, aid category and visit
   kind, each person's contributions; producer retries, reversals, broken messages) the way the HIS of each hospital and
   the enrolment system would, each as its own SASL principal on its own topic;
4. wait for every answer, then print a summary: settled, rejected by reason, paid per fund,
   one person's annual totals, `ledger verify`, and each fund's book (`ledger funds`);
5. stop both services gracefully (SIGTERM). The servers keep running: `make down` stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from settlement.senders import Registry, load_registry

from contracts.topics import Topics
from devservers.stack import (
    REGISTRY,
    KafkaAccess,
    Launcher,
    LaunchError,
    Service,
    kafka_access,
    local_servers_env,
    prepare_topics,
    send_as_principals,
    service_user,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the examples package (examples/generator.py) is not installed
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("DEVSERVERS_HOME", ROOT / ".devservers"))
PORTS = {"ledger": 18081, "settlement": 18080}
PARTITIONS = 4  # room for up to four settlement instances


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


COUNTER_CERTNO = "640104198001010011"  # invented: the demo's person register has one person


def person_register(day_lines: list[str], logs: Path) -> Path:
    """The payer's person register 1101 answers from (settlement.gateway.people), with one of
    the day's in-service staff, so a counter can find them by ID number (scripts/counter.py)."""
    staff = next(
        m for m in map(json.loads, day_lines) if m.get("msg_type") == "enrolment" and m.get("psn_type") == "1101"
    )
    row = [staff["psn_no"], "01", COUNTER_CERTNO, "示例患者", "1", "01", "1980-01-01", "310", "1101",
           staff["insuplc_admdvs"], "", "0", ""]  # fmt: skip
    path = logs / "persons.csv"
    header = "psn_no,psn_cert_type,certno,psn_name,gend,naty,brdy,insutype,psn_type,insuplc_admdvs,psn_insu_date,"
    path.write_text(header + "cvlserv_flag,emp_name\n" + ",".join(row) + "\n", encoding="utf-8")
    return path


COUNTER_INSTITUTION = "H64010100001"  # the general hospital of his-xingqing (examples/principals.toml)


def counter(settlement: Service, launcher: Launcher, day: str) -> None:
    """A hospital counter's national client at the gateway, after the day's Kafka traffic, with
    a hospital token of the local issuer naming its institution (the gateway acts for no other)."""
    token = launcher.issuer.mint("demo-counter", ["hospital"], [COUNTER_INSTITUTION])
    args = ["--url", settlement.url(""), "--certno", COUNTER_CERTNO, "--fixmedins-code", COUNTER_INSTITUTION]
    args += ["--day", day, "--token", token]
    print(sh(str(BIN / "python"), str(ROOT / "scripts" / "counter.py"), *args), end="")


def call(service: Service, path: str, headers: dict[str, str], method: str = "GET", timeout: float = 10) -> Any:
    request = urllib.request.Request(service.url(path), headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def summarise(answers: list[dict[str, Any]], elapsed: float) -> str:
    from contracts.money import format_yuan, parse_yuan

    kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    funds: Counter[str] = Counter()
    for answer in answers:
        kinds[answer["msg_type"]] += 1
        if answer["msg_type"] == "rejection":
            reasons[answer["code"]] += 1
        for row in answer.get("setldetail", []):
            funds[f"{row['fund_pay_type']} {row['fund_pay_type_name']}"] += parse_yuan(row["fund_payamt"])
    lines = [f"answers: {len(answers)} in {elapsed:.1f} s"]
    lines += [f"  {kind:<22} {count:>6}" for kind, count in sorted(kinds.items())]
    lines.append("rejected by reason:")
    lines += [f"  {code:<34} {count:>6}" for code, count in reasons.most_common()]
    lines.append("paid per fund (yuan):")
    lines += [f"  {fund:<34} {format_yuan(fen):>14}" for fund, fen in sorted(funds.items())]
    return "\n".join(lines)


AID_SHARE = {"destitute": "1.00", "min_living": "0.85", "returned_to_poverty": "0.75", "monitored": "0.50"}  # [001] 3


def with_contributions(lines: list[str]) -> list[str]:
    """Each enrolment followed by the person's contribution, as the enrolment system (fed by the tax
    bureau) would send it: residents the policy's individual standard, of which the aid fund pays
    its category's share ([001] 3); in-service and flexible staff six months of employer 6% and
    employee 2% of their base (the national 国发〔1998〕44号 rates — not in the seeds)."""
    from datetime import date
    from decimal import Decimal

    from contracts.codes import Insutype
    from contracts.money import format_yuan, parse_yuan
    from engine.policy_files import load_policy_book

    book = load_policy_book(ROOT / "policies")
    out: list[str] = []
    for line in lines:
        out.append(line)
        try:
            message = json.loads(line)
        except ValueError:  # the day's deliberately broken lines
            continue
        if not isinstance(message, dict) or message.get("msg_type") != "enrolment":
            continue
        base = {
            "msg_type": "contribution",
            "schema_version": "enrolments.v2",
            "sent_at": message["sent_at"],
            "psn_no": message["psn_no"],
            "insutype": message["insutype"],  # the national code of the scheme enrolled in
            "year": 2025,
        }
        if message["insutype"] == "390":
            rules = book.in_force(message["insuplc_admdvs"], Insutype.RESIDENT, date(2025, 1, 1)).policy.contributions
            standard = rules.individual if rules and rules.individual else 0
            aid = int(Decimal(standard) * Decimal(AID_SHARE.get(message.get("aid_category", ""), "0")))
            paid = {"individual": format_yuan(standard - aid), "aid_subsidy": format_yuan(aid)}
            out.append(json.dumps(base | paid | {"request_id": f"C-{message['psn_no']}"}, ensure_ascii=False))
        elif "contribution_base" in message:
            base_fen = parse_yuan(message["contribution_base"])
            for month in range(1, 7):
                paid = {
                    "month": month,
                    "employer": format_yuan(base_fen * 6 // 100),
                    "individual": format_yuan(base_fen * 2 // 100),
                }
                request = {"request_id": f"C-{message['psn_no']}-{month}"}
                out.append(json.dumps(base | paid | request, ensure_ascii=False))
    return out


def fund_books(env: dict[str, str], region: str) -> str:
    """`ledger funds` once the follower has caught up (its figures stop changing)."""
    args = (str(BIN / "ledger"), "funds", "--region", region, "--year", "2025", "--policies", "policies")
    previous, shown = "", sh(*args, env=env)
    for _ in range(15):
        if shown == previous:
            break
        time.sleep(2)
        previous, shown = shown, sh(*args, env=env)
    return shown


async def publish(day: Path, access: KafkaAccess, topics: Topics, registry: Registry | None) -> list[dict[str, Any]]:
    """Each line sent as its sender would: the enrolment system's facts on enrolments.v1, each
    hospital system's claims on its own topic with its own credentials (SASL_SSL)."""
    from io import StringIO

    from settlement.entrypoints.send import send

    out = StringIO()
    if registry is None:  # a broker of one's own, without SCRAM users: the shared topics
        code = await send(str(day), access.settings(service_user(), topics.prefix), wait_s=600, out=out)
    else:
        lines = [ln for ln in day.read_bytes().splitlines() if ln.strip()]
        code = await send_as_principals(lines, access, topics, registry, wait_s=600, out=out)
    if code != 0:
        print("demo: some messages were not answered in time", file=sys.stderr)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, help="same seed, same day (default: a new day every run)")
    args = parser.parse_args()
    # The demo is a local run: the services may use the development pseudonym key (ops.settings).
    os.environ.setdefault("MEDINS_ENV", "local")
    # Every run is a new day of new people on topics of its own, so runs never answer each
    # other's messages and the ledger keeps every run's history (ledger verify checks it all).
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    from contracts.money import parse_yuan
    from examples.generator import DAY, day_lines

    try:
        env = local_servers_env()
    except LaunchError as error:
        sys.exit(f"demo: {error}")
    # The local broker's SASL_SSL listener: the services as their super user, each hospital
    # system and the enrolment system as its own principal (examples/principals.toml).
    access = kafka_access(env["KAFKA_BOOTSTRAP_SERVERS"])
    registry = load_registry(REGISTRY) if access.secure else None
    topics = Topics(f"demo-{seed}.")
    logs = STATE / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare_topics(access, topics, registry, PARTITIONS))
    sh(str(BIN / "ledger"), "migrate", env=env)
    day = logs / "day.jsonl"
    lines = with_contributions(list(day_lines(args.people, seed)))
    day.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    services = env | access.env(service_user()) | {"KAFKA_TOPIC_PREFIX": topics.prefix}
    services["SETTLEMENT_PERSONS_FILE"] = str(person_register(lines, logs))
    if registry is not None:
        services["SETTLEMENT_PRINCIPALS_FILE"] = str(REGISTRY)
    launcher = Launcher(services, logs)
    try:
        ledger = launcher.start("ledger", port=PORTS["ledger"], log="ledger.log")
        settlement = launcher.start("settlement", port=PORTS["settlement"], log="settlement.log")
        asyncio.run(launcher.all_ready([ledger, settlement]))
        started = time.monotonic()
        answers = asyncio.run(publish(day, access, topics, registry))
        print(summarise(answers, time.monotonic() - started))
        # The person the funds paid most for: usually a stay with major illness or aid.
        settled = [a for a in answers if a["msg_type"] == "settlement"]
        top = max(settled, key=lambda a: parse_yuan(a["setlinfo"]["fund_pay_sumamt"]))
        someone, where = top["psn_no"], top["fixmedins_code"]
        # Read as the hospital that settled the visit would (its token names its institution).
        totals = call(settlement, f"/v1/persons/{someone}/years/2025/totals", launcher.bearer("hospital", where))
        print(f"annual totals of one person ({someone}, 2025), as read by {where}:")
        print(json.dumps(totals, ensure_ascii=False, indent=2))
        counter(settlement, launcher, DAY)
        print("ledger verify (hash chains, and every person's totals against a replay of their events):")
        report = call(ledger, "/v1/verify", launcher.bearer("auditor"), method="POST", timeout=300)
        verdict = "intact" if report["ok"] else "MISMATCH"
        print(f"  {report['streams']} streams (person-years and visits) checked in {report['seconds']} s: {verdict}")
        for problem in report["chain_breaks"] + report["projection_mismatches"]:
            print(f"  {problem}")
        from clearing_summary import clearing_summary

        print("\n".join(clearing_summary(lambda path, headers: call(ledger, path, headers), launcher.bearer,
                                          services, ROOT / "policies")))  # fmt: skip
        # each fund's own book (基金分别建账 [002]): income, spending, balance, months payable
        print(fund_books(env, "640000"), end="")
        return 0 if report["ok"] else 1
    except LaunchError as error:
        sys.exit(f"demo: {error}")
    finally:
        launcher.stop_all(grace=30)
        print(f"day: {day} (seed {seed}); logs: {logs}; servers still running: `make down` stops them", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
