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
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

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


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    if "DATABASE_URL" not in env or "KAFKA_BOOTSTRAP_SERVERS" not in env:
        sh(str(BIN / "python"), "-m", "devservers", "up")
        for line in sh(str(BIN / "python"), "-m", "devservers", "env").splitlines():
            if line.startswith("export ") and "=" in line:
                name, value = line.removeprefix("export ").split("=", 1)
                env[name] = value.strip("'\"")
    return env


async def create_topics(bootstrap: str, prefix: str) -> None:
    from ops.kafka import ensure_topics

    await ensure_topics({"bootstrap_servers": bootstrap}, [prefix + t for t in TOPICS], partitions=PARTITIONS)


def start(name: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    service_env = env | {
        "HTTP_PORT": str(PORTS[name]),
        "SETTLEMENT_POLICIES_DIR": str(ROOT / "policies"),
        "LEDGER_POLICIES_DIR": str(ROOT / "policies"),
        "SHUTDOWN_GRACE_SECONDS": "10",
    }
    out = (logs / f"{name}.log").open("ab")
    return subprocess.Popen([str(BIN / name), "serve"], cwd=ROOT, env=service_env, stdout=out, stderr=out)


def wait_ready(name: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"demo: the {name} service exited ({process.returncode}); see .devservers/demo/{name}.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORTS[name]}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"demo: the {name} service was not ready within {timeout:.0f} s; see .devservers/demo/{name}.log")


def get(name: str, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORTS[name]}{path}", timeout=10) as reply:
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

    env = server_env() | {"KAFKA_TOPIC_PREFIX": f"demo-{seed}."}
    logs = STATE / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(create_topics(env["KAFKA_BOOTSTRAP_SERVERS"], env["KAFKA_TOPIC_PREFIX"]))
    sh(str(BIN / "ledger"), "migrate", env=env)
    day = logs / "day.jsonl"
    day.write_text("".join(line + "\n" for line in day_lines(args.people, seed)), encoding="utf-8")
    services = {name: start(name, env, logs) for name in ("ledger", "settlement")}
    try:
        for name, process in services.items():
            wait_ready(name, process)
        started = time.monotonic()
        answers = asyncio.run(publish(day, env))
        print(summarise(answers, time.monotonic() - started))
        # The person the funds paid most for: usually a stay with major illness or aid.
        settled = [a for a in answers if a["msg_type"] == "settlement"]
        someone = max(settled, key=lambda a: parse_yuan(a["setlinfo"]["fund_pay_sumamt"]))["psn_no"]
        print(f"annual totals of one person ({someone}, 2025):")
        print(json.dumps(get("settlement", f"/v1/persons/{someone}/years/2025/totals"), ensure_ascii=False, indent=2))
        print("ledger verify (hash chains, and every person's totals against a replay of their events):")
        request = urllib.request.Request(f"http://127.0.0.1:{PORTS['ledger']}/v1/verify", method="POST")
        with urllib.request.urlopen(request, timeout=300) as reply:
            report = json.loads(reply.read())
        verdict = "intact" if report["ok"] else "MISMATCH"
        print(f"  {report['streams']} person-year streams checked in {report['seconds']} s: {verdict}")
        for problem in report["chain_breaks"] + report["projection_mismatches"]:
            print(f"  {problem}")
        return 0 if report["ok"] else 1
    finally:
        for process in services.values():
            process.send_signal(signal.SIGTERM)
        for process in services.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        print(f"day: {day} (seed {seed}); logs: {logs}; servers still running: `make down` stops them", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
