"""A single-node Apache Kafka broker in KRaft combined mode (broker and controller in one JVM).

Files under <home>/kafka: server.properties and log4j.properties (rewritten at every start),
data/ (the log dirs, formatted once with the storage tool) and broker.json (pid and ports: the
pid file). Logs go to <home>/logs: kafka.log (the broker's log4j output), kafka.out (JVM
stdout/stderr, where a crash before logging starts shows up), kafka-storage.log, maven.log.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devservers import kafka_probe
from devservers.kafka_jars import ensure_jars, kafka_version
from devservers.kafka_tls import BrokerTls
from devservers.paths import Layout
from devservers.procs import (
    LOCALHOST,
    cmdline,
    describe_gone,
    find_processes,
    forget_pid,
    is_alive,
    pick_port,
    read_state,
    tail,
    terminate,
    wait_until,
)

DEFAULT_PORT = 29792
DEFAULT_CONTROLLER_PORT = 29793
DEFAULT_SECURE_PORT = 29794
SERVICE_USER = "medins-service"  # the services' principal: a super user (docs/local-servers.md)
SCRAM = "SCRAM-SHA-512"
START_TIMEOUT = 120.0  # a cold JVM on two busy cores; it normally answers within 5 s
STOP_GRACE = 30.0
# Enough for tests and the demo; the log cleaner's buffer is shrunk to fit (see _properties).
JVM_OPTIONS = ("-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")


class KafkaError(RuntimeError):
    pass


@dataclass(frozen=True)
class KafkaStatus:
    running: bool
    pid: int | None
    port: int | None
    detail: str
    secure_port: int | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        return f"{LOCALHOST}:{self.secure_port}"


def wanted_users() -> list[str]:
    """The SCRAM users of the local broker: the services' super user and every principal of the
    demo's registry of senders (examples/principals.toml)."""
    import tomllib

    registry = Path(__file__).resolve().parents[1] / "examples" / "principals.toml"
    principals = tomllib.loads(registry.read_text())["principals"] if registry.exists() else {}
    return sorted({SERVICE_USER, *principals})


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").exists():
        return str(Path(java_home, "bin", "java"))
    found = shutil.which("java")
    if not found:
        raise KafkaError("java is not on PATH; Kafka needs Java 17 (apt-get install openjdk-17-jre-headless)")
    return found


def _cluster_id() -> str:
    """What `kafka-storage.sh random-uuid` prints: 16 random bytes, URL-safe base64, unpadded,
    never starting with "-" (the command line would take it for an option: CI failed so,
    about one start in 64)."""
    while True:
        candidate = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _env_port(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


class KafkaBroker:
    def __init__(self, layout: Layout) -> None:
        self.folder = layout.kafka
        self.logs = layout.logs
        self.state_file = self.folder / "broker.json"
        self.config = self.folder / "server.properties"
        self.log4j = self.folder / "log4j.properties"
        self.data = self.folder / "data"
        self.log_file = self.logs / "kafka.log"
        self.out_file = self.logs / "kafka.out"
        self.users_file = self.folder / "scram-users.json"  # name -> password, 0600
        self.tls = BrokerTls(self.folder / "tls")

    def credentials(self) -> dict[str, str]:
        """SCRAM user -> password, as formatted into the broker's storage."""
        try:
            return {str(k): str(v) for k, v in json.loads(self.users_file.read_text()).items()}
        except (OSError, ValueError):
            return {}

    # -- state ---------------------------------------------------------------------------

    def _state(self) -> dict[str, int]:
        return read_state(self.state_file)

    def _forget_pid(self) -> None:
        forget_pid(self.state_file)

    def _is_our_broker(self, pid: int | None) -> bool:
        """Alive and really our broker: after a reboot the pid may belong to something else."""
        if not pid or not is_alive(pid):
            return False
        arguments = cmdline(pid)
        return "kafka.Kafka" in arguments and str(self.config) in arguments

    def status(self) -> KafkaStatus:
        state = self._state()
        pid, port, secure = state.get("pid"), state.get("port"), state.get("secure_port")
        if not pid:
            return KafkaStatus(False, None, None, "stopped")
        if not self._is_our_broker(pid):
            return KafkaStatus(False, pid, port, f"stale pid file: {describe_gone(pid)}")
        if port and kafka_probe.is_ready(LOCALHOST, port):
            where = f"{LOCALHOST}:{port} (PLAINTEXT), {LOCALHOST}:{secure} (SASL_SSL)"
            return KafkaStatus(True, pid, port, f"Kafka {kafka_version()} answering on {where}", secure)
        return KafkaStatus(False, pid, port, f"process {pid} is alive but does not answer on port {port}")

    # -- lifecycle -----------------------------------------------------------------------

    def up(self) -> tuple[KafkaStatus, bool]:
        """Start unless a healthy broker is already running; returns (status, started_now)."""
        state = self._state()
        pid, port = state.get("pid"), state.get("port")
        if pid and port and self._is_our_broker(pid):
            # Another `up` may have just started it; give it a moment before judging it hung.
            if not wait_until(lambda: kafka_probe.is_ready(LOCALHOST, port), timeout=10):
                _say(f"kafka: process {pid} is alive but does not answer on port {port}; killing it")
                terminate(pid, grace=0)  # hung: a graceful shutdown would hang as well
            elif sorted(self.credentials()) == wanted_users() and state.get("secure_port"):
                return self.status(), False
            else:  # new principals in the registry (or a broker from before SASL): start afresh
                _say("kafka: the SCRAM users changed; restarting the broker")
                terminate(pid, grace=STOP_GRACE)
        elif pid:
            _say(f"kafka: removing stale pid file ({describe_gone(pid)})")
        for orphan in find_processes("kafka.Kafka", str(self.config)):
            # A broker on our data dir that lost its pid file would hold the log dir lock.
            _say(f"kafka: stopping orphaned broker process {orphan}")
            terminate(orphan, grace=STOP_GRACE)
        self._forget_pid()
        return self._start(state), True

    def down(self) -> bool:
        state = self._state()
        pids = set(find_processes("kafka.Kafka", str(self.config)))
        if self._is_our_broker(state.get("pid")):
            pids.add(int(state["pid"]))
        for pid in pids:
            terminate(pid, grace=STOP_GRACE)  # SIGTERM: controlled shutdown, clean logs
        self._forget_pid()
        return bool(pids)

    def _start(self, previous: dict[str, int]) -> KafkaStatus:
        libs = ensure_jars(self.logs / "maven.log")
        # A port asked for in the environment; else the last run's, when free, so DSNs in open
        # shells stay valid; else the documented default; else whatever is free.
        port = _env_port("DEVSERVERS_KAFKA_PORT") or pick_port(previous.get("port"), DEFAULT_PORT)
        controller_port = _env_port("DEVSERVERS_KAFKA_CONTROLLER_PORT") or pick_port(
            previous.get("controller_port"), DEFAULT_CONTROLLER_PORT, avoid=(port,)
        )
        secure_port = _env_port("DEVSERVERS_KAFKA_SECURE_PORT") or pick_port(
            previous.get("secure_port"), DEFAULT_SECURE_PORT, avoid=(port, controller_port)
        )
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.tls.ensure()
        self.config.write_text(_properties(self.data, port, controller_port, secure_port, self.tls))
        self.log4j.write_text(_log4j(self.log_file))
        java = _java()
        classpath = f"{libs}/*"
        logging = [f"-Dlog4j.configuration=file:{self.log4j}", f"-Dkafka.logs.dir={self.logs}"]
        if (self.data / "meta.properties").exists() and sorted(self.credentials()) != wanted_users():
            # SCRAM users are written into the storage when it is formatted: new principals
            # (or a storage from before SASL) mean formatting again. Local topics are lost.
            _say("kafka: the broker's SCRAM users changed; formatting its storage again (local topics are lost)")
            shutil.rmtree(self.data)
            self.data.mkdir(parents=True)
        if not (self.data / "meta.properties").exists():
            self._format(java, classpath, logging)
        command = [java, *JVM_OPTIONS, *logging, "-cp", classpath, "kafka.Kafka", str(self.config)]
        with self.out_file.open("ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting Kafka {kafka_version()}\n".encode())
            out.flush()
            process = subprocess.Popen(
                command,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `devservers up`; killable as a group
            )
        ports = {"port": port, "controller_port": controller_port, "secure_port": secure_port}
        self.state_file.write_text(json.dumps({"pid": process.pid, **ports}) + "\n")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._forget_pid()
                raise KafkaError(
                    f"Kafka exited with code {process.returncode} while starting.\n"
                    f"--- {self.out_file}\n{tail(self.out_file, 20)}\n--- {self.log_file}\n{tail(self.log_file, 40)}\n"
                    "If the data folder is damaged, `python -m devservers reset` starts afresh."
                )
            if kafka_probe.is_ready(LOCALHOST, port, timeout=1):
                return self.status()
            time.sleep(0.25)
        terminate(process.pid, grace=5)
        self._forget_pid()
        raise KafkaError(f"Kafka did not answer within {START_TIMEOUT:.0f}s; see {self.log_file}")

    def _format(self, java: str, classpath: str, logging: list[str]) -> None:
        """Format the storage with a new cluster id and the SCRAM users (KIP-900's --add-scram:
        credentials in the metadata log from the start, before any listener is up)."""
        users = {name: secrets.token_urlsafe(24) for name in wanted_users()}
        scram = [arg for name, pw in users.items() for arg in ("--add-scram", f"{SCRAM}=[name={name},password={pw}]")]
        command = [java, "-Xmx256m", *logging, "-cp", classpath, "kafka.tools.StorageTool",
                   "format", "-t", _cluster_id(), "-c", str(self.config), *scram]  # fmt: skip
        log = self.logs / "kafka-storage.log"
        with log.open("ab") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        if result.returncode != 0:
            raise KafkaError(f"formatting Kafka storage failed (exit {result.returncode}):\n{tail(log, 20)}")
        descriptor = os.open(self.users_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(users, out, indent=2)


def _properties(data: Path, port: int, controller_port: int, secure_port: int, tls: BrokerTls) -> str:
    return f"""\
# Written by devservers at every start; edits are lost (change devservers/kafka.py instead).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{LOCALHOST}:{controller_port}
listeners=PLAINTEXT://{LOCALHOST}:{port},SASL_SSL://{LOCALHOST}:{secure_port},CONTROLLER://{LOCALHOST}:{controller_port}
advertised.listeners=PLAINTEXT://{LOCALHOST}:{port},SASL_SSL://{LOCALHOST}:{secure_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs={data}

# SASL_SSL: SCRAM-SHA-512 users (formatted into the storage) over TLS with a local CA. Every
# principal is held to its ACLs (StandardAuthorizer, ACLs made by the project's own code); the
# services' principal is a super user. The PLAINTEXT and CONTROLLER listeners are loopback-only
# and trusted (ANONYMOUS is a super user there): on this machine whoever reaches them could read
# the data folder anyway; they serve the controller, the readiness probe and older tests.
sasl.enabled.mechanisms={SCRAM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={tls.keystore}
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location={tls.ca_file}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS;User:{SERVICE_USER}

# One node: every internal topic must make do with a single replica, or transactions and
# consumer groups wait forever for replicas that cannot exist.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
default.replication.factor=1
min.insync.replicas=1
num.partitions=1
auto.create.topics.enable=true

# After a crash (kill -9) the new incarnation cannot register until the old one's session
# expires; the default 9 s would be added to every restart after a crash.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000

# Tests create groups all the time; no point waiting for more members to join.
group.initial.rebalance.delay.ms=0

# Small segments and indexes: many short-lived test topics, little disk.
log.segment.bytes=1048576
log.index.size.max.bytes=1048576
offsets.topic.segment.bytes=1048576
transaction.state.log.segment.bytes=1048576
log.retention.hours=24
# The compacting cleaner (for __consumer_offsets) would take 128 MB of a 512 MB heap.
log.cleaner.dedupe.buffer.size=16777216

# Two cores: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
"""


def _log4j(log_file: Path) -> str:
    return f"""\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=INFO
"""


def _say(message: str) -> None:
    print(message, file=sys.stderr)
