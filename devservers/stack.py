"""One way to start the product's services on this machine: `ledger serve` and N `settlement
serve` as real processes, for the demo, the end-to-end benchmark and the end-to-end tests.

A `Launcher` starts each service with a given environment on a free port (or a chosen one),
writes one log file per process, waits until its `/readyz` answers 200, and stops it with
SIGTERM (graceful, the exit code is returned) or SIGKILL. Every process it started is stopped
when the launcher is closed, and on Linux each one is also told to stop if this process dies
without closing it (PR_SET_PDEATHSIG), so a crashed run leaves nothing behind.

Only the standard library at the top level; httpx is imported where a service is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from devservers.issuer import LocalIssuer, local_issuer
from devservers.paths import layout
from devservers.procs import free_port, tail

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POLICIES = ROOT / "policies"
ServiceName = Literal["settlement", "ledger"]
_LIBC = ctypes.CDLL(None) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


class LaunchError(RuntimeError):
    """A service exited while starting or never became ready (the message holds its log tail)."""


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it if the launching process dies first (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child process writing stdout and stderr to `log`, stopped if we die."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], grace: float = 20) -> list[int]:
    """SIGTERM every process, then SIGKILL whatever still runs after `grace` seconds; exit codes."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes


def metric(text: str, name: str) -> float:
    """The sum of a Prometheus metric's samples in a /metrics page."""
    prefixes = (f"{name}{{", f"{name} ")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefixes))


@dataclass
class Service:
    """One running service process."""

    name: ServiceName
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log, lines) or "(no log)"

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Launcher:
    """Starts services with `env` (plus per-service defaults) and logs into `logs`. The services
    run in local mode and accept the local issuer's tokens (`issuer`, made at first use)."""

    env: Mapping[str, str]
    logs: Path
    issuer: LocalIssuer = field(default_factory=lambda: local_issuer(layout().home))
    services: list[Service] = field(default_factory=list)

    def environment(self, port: int, extra: Mapping[str, str]) -> dict[str, str]:
        defaults = {
            "MEDINS_ENV": "local",
            "SETTLEMENT_POLICIES_DIR": str(POLICIES),
            "LEDGER_POLICIES_DIR": str(POLICIES),
            "HTTP_HOST": "127.0.0.1",
            "SHUTDOWN_GRACE_SECONDS": "10",
            **self.issuer.environment(),
        }
        return {**os.environ, **defaults, **self.env, **extra, "HTTP_PORT": str(port)}

    def bearer(self, role: str, *institutions: str) -> dict[str, str]:
        """An Authorization header with a fresh local token for `role` (and institution codes)."""
        subject = "-".join([f"launcher-{role}", *institutions])
        return {"Authorization": f"Bearer {self.issuer.mint(subject, [role], institutions)}"}

    def start(self, name: ServiceName, *, port: int | None = None, log: str | None = None, **extra: str) -> Service:
        """Start `<name> serve`; does not wait (see `ready`)."""
        port = port or free_port()
        count = sum(s.name == name for s in self.services)
        path = self.logs / (log or f"{name}-{count}.log")
        process = spawn([str(BIN / name), "serve"], self.environment(port, extra), path)
        service = Service(name, process, port, path)
        self.services.append(service)
        return service

    async def ready(self, service: Service, timeout: float = 60) -> None:
        """Until `/readyz` answers 200; LaunchError if the process exits or time runs out."""
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if service.process.poll() is not None:
                    code = service.process.returncode
                    raise LaunchError(f"{service.name} exited with {code} while starting:\n{service.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(service.url("/readyz"))).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise LaunchError(f"{service.name} was not ready within {timeout:.0f} s:\n{service.log_tail()}")

    async def start_ready(self, name: ServiceName, *, timeout: float = 60, **options: Any) -> Service:
        service = self.start(name, **options)
        await self.ready(service, timeout)
        return service

    async def all_ready(self, services: Iterable[Service], timeout: float = 60) -> None:
        await asyncio.gather(*(self.ready(s, timeout) for s in services))

    def kill(self, service: Service) -> int:
        """SIGKILL: a crash, as an operator's kill -9 or the OOM killer would cause."""
        service.process.send_signal(signal.SIGKILL)
        return service.process.wait(timeout=10)

    def stop(self, service: Service, grace: float = 30) -> int:
        """SIGTERM, and the exit code (SIGKILL if it outlives `grace`, which a test reports)."""
        (code,) = stop_processes([service.process], grace)
        return code

    def stop_all(self, grace: float = 20) -> None:
        stop_processes([s.process for s in self.services], grace)

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {s.log.name}\n{s.log_tail(lines)}" for s in self.services)


def local_servers_env(python: Path = BIN / "python") -> dict[str, str]:
    """The environment with DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS: as set, or the local
    servers' (started if need be, `python -m devservers up`). LaunchError in one sentence."""
    env = dict(os.environ)
    if env.get("DATABASE_URL") and env.get("KAFKA_BOOTSTRAP_SERVERS"):
        return env
    for command in ("up", "env"):
        done = subprocess.run([str(python), "-m", "devservers", command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise LaunchError(f"cannot start the local servers (python -m devservers {command}): {reason}")
    return exports(done.stdout) | {name: value for name, value in env.items() if value}


def exports(text: str) -> dict[str, str]:
    """`export NAME=value` lines (as `devservers env` prints them) as a mapping."""
    pairs = [ln.removeprefix("export ").split("=", 1) for ln in text.splitlines() if ln.startswith("export ")]
    return {name: value.strip("'\"") for name, value in pairs}


# -- Kafka as the hospitals and the services reach it ----------------------------------------

REGISTRY = ROOT / "examples" / "principals.toml"  # the demo's and the tests' senders


@dataclass(frozen=True)
class KafkaAccess:
    """How to reach the broker: SASL_SSL as a principal of the local broker (credentials and
    CA from devservers), or PLAINTEXT as given (a broker of one's own, without SCRAM users)."""

    bootstrap: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None

    @property
    def secure(self) -> bool:
        return bool(self.credentials)

    def env(self, user: str) -> dict[str, str]:
        """The Kafka settings of a process that connects as `user` (environment variables)."""
        if not self.secure:
            return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.credentials[user],
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def settings(self, user: str, prefix: str) -> Any:
        """ops.settings.CommonSettings for a client connecting as `user`."""
        from ops.settings import CommonSettings

        values = {name.lower(): value for name, value in self.env(user).items()}
        return CommonSettings(database_url="unused", kafka_topic_prefix=prefix, **values)  # type: ignore[arg-type]

    def options(self, user: str) -> dict[str, Any]:
        from ops.kafka import aiokafka_options

        return aiokafka_options(self.settings(user, ""))


def kafka_access(bootstrap: str) -> KafkaAccess:
    """SASL_SSL when `bootstrap` is the local broker's PLAINTEXT listener (the broker serves
    both), else PLAINTEXT on `bootstrap` as it is."""
    from devservers.kafka import KafkaBroker

    broker = KafkaBroker(layout())
    status = broker.status()
    if status.running and status.bootstrap == bootstrap and status.secure_port and broker.credentials():
        return KafkaAccess(status.secure_bootstrap, broker.credentials(), str(broker.tls.ca_file))
    return KafkaAccess(bootstrap)


def service_user() -> str:
    from devservers.kafka import SERVICE_USER

    return SERVICE_USER


async def prepare_topics(
    access: KafkaAccess, topics: Any, registry: Any, partitions: int, *, senders_clock: bool = False
) -> None:
    """Create the topics (per principal with a registry, else the shared ones) and, with a
    registry on a secure broker, the ACLs that give each principal its own topics only. The
    input topics are stamped by the broker (ops.kafka.BROKER_TIME) unless ``senders_clock``: a
    test that receives a year of messages in one run sets their timestamps itself."""
    from settlement.senders import acls

    from ops.kafka import create_acls, ensure_topics

    if registry is None:
        inbound, answers = list(topics.inbound), list(topics.answers)
    else:
        inbound, answers = [topics.enrolments], []
        for name, principal in registry.principals.items():
            own = topics.of(name)
            inbound += [own.claims] if principal.fixmedins_codes else []
            answers += own.answers
    admin = access.options(service_user())
    # what the senders write is stamped by the broker (ops.kafka.BROKER_TIME, docs/deploy.md)
    stamped = [] if senders_clock else inbound
    await ensure_topics(admin, [*inbound, *answers], partitions=partitions, broker_time=stamped)
    if registry is not None and access.secure:
        await create_acls(admin, [(a.principal, a.topic, a.operation) for a in acls(registry, topics)])


def principal_of(line: bytes, registry: Any) -> str:
    """Which registered principal sends this line: the enrolment system for enrolment facts,
    the hospital system of the claim's institution, else (a broken line) the first hospital's."""
    from contracts.wire import UndecodableMessage, decode_json

    hospitals = [p.name for p in registry.principals.values() if p.fixmedins_codes]
    try:
        message = decode_json(line)  # the service's own decoder: no line can crash the sender (deep nesting)
    except UndecodableMessage:
        return str(hospitals[0])
    if message.get("msg_type") in ("enrolment", "account_credit", "contribution"):
        return str(registry.enrolment_system.name)
    code = message.get("fixmedins_code")
    found = registry.principal_for(code) if isinstance(code, str) else None
    return str(found.name if found else hospitals[0])


async def send_as_principals(
    lines: list[bytes], access: KafkaAccess, topics: Any, registry: Any, *, wait_s: float, out: Any
) -> int:
    """`settlement send` for many senders at once, as the hospitals and the enrolment system
    of the registry would: each line on its sender's topic with its sender's credentials, in
    runs that each wait for the answers to the run before (so per-person order holds across
    senders, as the offline CLI's file order). 0 when everything was answered."""
    from itertools import groupby

    from settlement.entrypoints.send import Channel, route

    routed = []
    for line in lines:
        principal = principal_of(line, registry)
        routed.append((principal, *route(line, topics.of(principal)), line))
    deadline = time.monotonic() + wait_s
    async with contextlib.AsyncExitStack() as scope:
        channels = {}
        for principal in sorted({entry[0] for entry in routed}):
            own = topics.of(principal)
            writes = {topic for p, topic, *_ in routed if p == principal}
            channel = Channel(access.settings(principal, topics.prefix), own, writes)
            channels[principal] = await scope.enter_async_context(channel)
        for (principal, _), run in groupby(routed, key=lambda entry: entry[:2]):
            if await channels[principal].run([entry[1:] for entry in run], deadline, out):
                return 1
    return 0
