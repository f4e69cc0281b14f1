"""The README's main command (`make demo`): the whole product, end to end, on this machine.

1. start local Kafka and PostgreSQL (devservers), create the topics, migrate the ledger;
2. start the ledger service and the settlement service as real processes;
3. publish a generated day of messages (every scheme, person type, aid category and visit
   kind; producer retries, reversals, broken messages) the way a HIS would;
4. wait for every answer, then print a summary: settled, rejected by reason, paid per fund,
   one person's annual totals, and `ledger verify`;
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

from devservers.stack import Launcher, LaunchError, Service, local_servers_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("DEVSERVERS_HOME", ROOT / ".devservers"))
PORTS = {"ledger": 18081, "settlement": 18080}
TOPICS = ("claims.v1", "enrolments.v1", "settlements.v1", "rejections.v1")
PARTITIONS = 4  # room for up to four settlement instances


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


async def create_topics(bootstrap: str, prefix: str) -> None:
    from ops.kafka import ensure_topics

    await ensure_topics({"bootstrap_servers": bootstrap}, [prefix + t for t in TOPICS], partitions=PARTITIONS)


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


async def publish(day: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    from io import StringIO

    from settlement.entrypoints.send import send

    from ops.settings import CommonSettings

    out = StringIO()
    settings = CommonSettings(
        database_url="unused",  # type: ignore[arg-type]
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_topic_prefix=env["KAFKA_TOPIC_PREFIX"],
    )
    code = await send(str(day), settings, wait_s=180, out=out)
    if code != 0:
        print("demo: some messages were not answered in time", file=sys.stderr)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, help="same seed, same day (default: a new day every run)")
    args = parser.parse_args()
    # Every run is a new day of new people on topics of its own, so runs never answer each
    # other's messages and the ledger keeps every run's history (ledger verify checks it all).
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    from settlement.sample import day_lines

    from contracts.money import parse_yuan

    try:
        env = local_servers_env() | {"KAFKA_TOPIC_PREFIX": f"demo-{seed}."}
    except LaunchError as error:
        sys.exit(f"demo: {error}")
    logs = STATE / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(create_topics(env["KAFKA_BOOTSTRAP_SERVERS"], env["KAFKA_TOPIC_PREFIX"]))
    sh(str(BIN / "ledger"), "migrate", env=env)
    day = logs / "day.jsonl"
    day.write_text("".join(line + "\n" for line in day_lines(args.people, seed)), encoding="utf-8")
    launcher = Launcher(env, logs)
    try:
        ledger = launcher.start("ledger", port=PORTS["ledger"], log="ledger.log")
        settlement = launcher.start("settlement", port=PORTS["settlement"], log="settlement.log")
        asyncio.run(launcher.all_ready([ledger, settlement]))
        started = time.monotonic()
        answers = asyncio.run(publish(day, env))
        print(summarise(answers, time.monotonic() - started))
        # The person the funds paid most for: usually a stay with major illness or aid.
        settled = [a for a in answers if a["msg_type"] == "settlement"]
        top = max(settled, key=lambda a: parse_yuan(a["setlinfo"]["fund_pay_sumamt"]))
        someone, where = top["psn_no"], top["fixmedins_code"]
        # Read as the hospital that settled the visit would (its token names its institution).
        totals = call(settlement, f"/v1/persons/{someone}/years/2025/totals", launcher.bearer("hospital", where))
        print(f"annual totals of one person ({someone}, 2025), as read by {where}:")
        print(json.dumps(totals, ensure_ascii=False, indent=2))
        print("ledger verify (hash chains, and every person's totals against a replay of their events):")
        report = call(ledger, "/v1/verify", launcher.bearer("auditor"), method="POST", timeout=300)
        verdict = "intact" if report["ok"] else "MISMATCH"
        print(f"  {report['streams']} person-year streams checked in {report['seconds']} s: {verdict}")
        for problem in report["chain_breaks"] + report["projection_mismatches"]:
            print(f"  {problem}")
        return 0 if report["ok"] else 1
    except LaunchError as error:
        sys.exit(f"demo: {error}")
    finally:
        launcher.stop_all(grace=30)
        print(f"day: {day} (seed {seed}); logs: {logs}; servers still running: `make down` stops them", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
