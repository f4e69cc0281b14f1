"""The engine offline, no servers: a generated day priced by `settlement price`, claims per second and
peak memory, next to the same day priced by the code at a baseline revision in the same run.
--visits N gives every person N visits that day (a year's chronic care seen in one file: each claim
is priced against a person-year holding the earlier ones), instead of the day's one or two.

    .venv/bin/python benchmarks/engine_offline.py [--people 5000,20000] [--seed 4242] [--visits N]
                                                  [--baseline-rev f5a68cc] [--rounds 1] [--profile]

For each size, the day (examples.generator.day_lines: enrolments, monthly account credits, visits
of every kind, producer retries, reversals, broken lines) is written to a temporary file once; then
each round prices it once with this checkout's code and once with the baseline's, each in a fresh
process running `settlement.entrypoints.offline.price` in-process (the CLI's own code, output to a
file, with --totals off), so the peak RSS (VmHWM) is that run's alone. The baseline
is a `git worktree` of --baseline-rev in a temporary folder, put first on the worker's PYTHONPATH
(its contracts, engine, settlement and ledger packages shadow the editable install's); both price
against this checkout's policies/. The two outputs are compared: "same" means byte-identical
answers (the clock of refusals of unreadable lines is fixed in both).

Prints per run: lines (messages) and claims per wall second and per CPU second of the worker (the
machine is shared: CPU seconds are the closer to "one core"), and the peak RSS. --profile adds a
cProfile of this checkout's code and of the baseline's on the smallest size: the top 20 by
cumulative and by own time, and the share spent writing canonical JSON (ledger/hashing.py).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
DEFAULT_BASELINE = "f5a68cc"  # main before issue 14's engine work (tests/fixtures/engine-golden)
REFUSED_AT = datetime(2025, 6, 16, 23, 0, tzinfo=UTC)  # when unreadable lines are refused, both runs


# --- the worker: one pricing run in its own process ------------------------------------------------


def _fixed_clock() -> None:
    """Both the baseline and this code read ``datetime.now`` from the offline module's globals for
    the refusals of unreadable lines: a fixed one makes their outputs comparable byte for byte."""
    from settlement.entrypoints import offline

    class Fixed(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Fixed:  # type: ignore[override]
            return cls.fromtimestamp(REFUSED_AT.timestamp(), tz)

    offline.datetime = Fixed  # type: ignore[attr-defined, misc]


def work(day: str, out_path: str, profile: bool) -> dict[str, Any]:
    import asyncio

    from settlement.entrypoints import offline

    _fixed_clock()
    profiler = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with open(out_path, "w", encoding="utf-8") as out:
        run = offline.price(day, str(POLICIES), totals=False, summary=False, out=out)
        if profiler is not None:
            profiler.enable()
        asyncio.run(run)
        if profiler is not None:
            profiler.disable()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    result = {"wall": wall, "cpu": cpu, "rss_kb": peak_rss_kb()}
    result["code"] = offline.__file__
    if profiler is not None:
        result["profile"] = _profile_text(profiler)
    return result


def peak_rss_kb() -> int:
    """This process's peak resident memory. Linux's VmHWM belongs to the process's own memory
    map, made afresh by exec; getrusage's ru_maxrss is not: a child starts from its parent's
    peak (here the driver's, which holds the generated days), so it is only the fallback."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


CANONICAL_WRITERS = ("canonical_json", "jsonb_text")  # ledger/hashing.py: every JSON the ledger stores or hashes


def _profile_text(profiler: cProfile.Profile) -> str:
    text = io.StringIO()
    for order in ("cumulative", "tottime"):
        text.write(f"--- top 20 by {order} ---\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(20)
    stats = pstats.Stats(profiler)
    inside = sum(
        entry[3]  # cumulative seconds (neither writer calls the other)
        for (path, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
        if path.endswith("hashing.py") and name in CANONICAL_WRITERS
    )
    total = stats.total_tt  # type: ignore[attr-defined]
    text.write(
        f"canonical JSON ({' + '.join(CANONICAL_WRITERS)}): {inside:.2f} s of {total:.2f} s, {inside / total:.0%}\n"
    )
    return text.getvalue()


# --- the driver -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    people: int
    path: Path
    lines: int
    claims: int


@dataclass(frozen=True)
class Run:
    label: str
    wall: float
    cpu: float
    rss_mb: float
    digest: str
    code: str
    profile: str | None


def make_day(people: int, seed: int, folder: Path, visits: int | None = None) -> Day:
    sys.path.insert(0, str(ROOT))  # examples/ is not an installed package
    from examples.generator import day_lines

    lines = day_lines(people, seed, visits)
    path = folder / f"day-{people}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    claims = sum(1 for line in lines if '"msg_type": "claim"' in line)
    return Day(people, path, len(lines), claims)


def price_in_process(label: str, day: Day, code_root: Path | None, folder: Path, profile: bool = False) -> Run:
    """One run in a fresh interpreter; ``code_root``: a baseline checkout shadowing the install."""
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code_root), str(code_root / "services")])
    out = folder / f"out-{label}-{day.people}.jsonl"
    args = [sys.executable, __file__, "--worker", str(day.path), str(out)] + (["--profile"] if profile else [])
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{label} run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    return Run(label, result["wall"], result["cpu"], result["rss_kb"] / 1024, digest, result["code"],
               result.get("profile"))  # fmt: skip


@contextlib.contextmanager
def baseline_tree(rev: str, folder: Path) -> Iterator[Path]:
    tree = folder / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), rev], cwd=ROOT, check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def row(day: Day, run: Run, same: str) -> str:
    return (
        f"{day.people:>7} {run.label:<9} {day.lines:>7} {day.claims:>7} {day.lines / run.wall:>10,.0f} "
        f"{day.claims / run.wall:>10,.0f} {day.claims / run.cpu:>10,.0f} {run.wall:>7.1f} {run.rss_mb:>8.0f}  {same}"
    )


def measure(days: list[Day], rounds: int, baseline: Path | None, folder: Path) -> None:
    print(" people code        lines  claims  msg/s wall claims/s wall claims/s cpu  wall s  peak MB  output")
    for day in days:
        for _ in range(rounds):
            current = price_in_process("this", day, None, folder)
            print(row(day, current, ""), flush=True)
            if baseline is not None:
                before = price_in_process("baseline", day, baseline, folder)
                same = "same as this" if before.digest == current.digest else "DIFFERS from this"
                print(row(day, before, same), flush=True)
                speed_up = before.cpu / current.cpu
                print(f"        claims per CPU second {speed_up:.2f}x the baseline's (baseline code: {before.code})")


def profile(day: Day, baseline: Path | None, folder: Path) -> None:
    """cProfile this code and, when there is one, the baseline's, on the same day."""
    for label, code_root in [("this", None)] + ([("baseline", baseline)] if baseline is not None else []):
        profiled = price_in_process(label, day, code_root, folder, profile=True)
        print(f"\ncProfile of {label} code, {day.people} people:\n{profiled.profile}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", default="5000,20000", help="day sizes, comma separated")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--baseline-rev", default=DEFAULT_BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--visits", type=int, default=None, help="visits per person (default: one or two, the day's mix)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile this code (and the baseline) on the smallest size"
    )
    parser.add_argument("--worker", nargs=2, metavar=("DAY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(work(args.worker[0], args.worker[1], args.profile)))
        return 0
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="engine-offline-") as temp:
        folder = Path(temp)
        days = [make_day(int(n), args.seed, folder, args.visits) for n in args.people.split(",")]
        with contextlib.ExitStack() as stack:
            base = stack.enter_context(baseline_tree(args.baseline_rev, folder)) if args.baseline_rev else None
            measure(days, args.rounds, base, folder)
            if args.profile:
                profile(days[0], base, folder)
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
