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
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devservers import kafka_probe
from devservers.kafka_jars import ensure_jars, kafka_version
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

    @property
    def bootstrap(self) -> str:
        return f"{LOCALHOST}:{self.port}"


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
        pid, port = state.get("pid"), state.get("port")
        if not pid:
            return KafkaStatus(False, None, None, "stopped")
        if not self._is_our_broker(pid):
            return KafkaStatus(False, pid, port, f"stale pid file: {describe_gone(pid)}")
        if port and kafka_probe.is_ready(LOCALHOST, port):
            return KafkaStatus(True, pid, port, f"Kafka {kafka_version()} answering on {LOCALHOST}:{port}")
        return KafkaStatus(False, pid, port, f"process {pid} is alive but does not answer on port {port}")

    # -- lifecycle -----------------------------------------------------------------------

    def up(self) -> tuple[KafkaStatus, bool]:
        """Start unless a healthy broker is already running; returns (status, started_now)."""
        state = self._state()
        pid, port = state.get("pid"), state.get("port")
        if pid and port and self._is_our_broker(pid):
            # Another `up` may have just started it; give it a moment before judging it hung.
            if wait_until(lambda: kafka_probe.is_ready(LOCALHOST, port), timeout=10):
                return self.status(), False
            _say(f"kafka: process {pid} is alive but does not answer on port {port}; killing it")
            terminate(pid, grace=0)  # hung: a graceful shutdown would hang as well
        elif pid:
            _say(f"kafka: removing stale pid file ({describe_gone(pid)})")
        for orphan in find_processes("kafka.Kafka", str(self.config)):
            # A broker on our data dir that lost its pid file would hold the log dir lock.
            _say(f"kafka: stopping orphaned broker process {orphan}")
            terminate(orphan, grace=STOP_GRACE)
        self._forget_pid()
        return self._start(previous_port=port, previous_controller_port=state.get("controller_port")), True

    def down(self) -> bool:
        state = self._state()
        pids = set(find_processes("kafka.Kafka", str(self.config)))
        if self._is_our_broker(state.get("pid")):
            pids.add(int(state["pid"]))
        for pid in pids:
            terminate(pid, grace=STOP_GRACE)  # SIGTERM: controlled shutdown, clean logs
        self._forget_pid()
        return bool(pids)

    def _start(self, previous_port: int | None, previous_controller_port: int | None) -> KafkaStatus:
        libs = ensure_jars(self.logs / "maven.log")
        # A port asked for in the environment; else the last run's, when free, so DSNs in open
        # shells stay valid; else the documented default; else whatever is free.
        port = _env_port("DEVSERVERS_KAFKA_PORT") or pick_port(previous_port, DEFAULT_PORT)
        controller_port = _env_port("DEVSERVERS_KAFKA_CONTROLLER_PORT") or pick_port(
            previous_controller_port, DEFAULT_CONTROLLER_PORT, avoid=(port,)
        )
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.config.write_text(_properties(self.data, port, controller_port))
        self.log4j.write_text(_log4j(self.log_file))
        java = _java()
        classpath = f"{libs}/*"
        logging = [f"-Dlog4j.configuration=file:{self.log4j}", f"-Dkafka.logs.dir={self.logs}"]
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
        self.state_file.write_text(
            json.dumps({"pid": process.pid, "port": port, "controller_port": controller_port}) + "\n"
        )
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
        command = [java, "-Xmx256m", *logging, "-cp", classpath, "kafka.tools.StorageTool",
                   "format", "-t", _cluster_id(), "-c", str(self.config)]  # fmt: skip
        log = self.logs / "kafka-storage.log"
        with log.open("ab") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        if result.returncode != 0:
            raise KafkaError(f"formatting Kafka storage failed (exit {result.returncode}):\n{tail(log, 20)}")


def _properties(data: Path, port: int, controller_port: int) -> str:
    return f"""\
# Written by devservers at every start; edits are lost (change devservers/kafka.py instead).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{LOCALHOST}:{controller_port}
listeners=PLAINTEXT://{LOCALHOST}:{port},CONTROLLER://{LOCALHOST}:{controller_port}
advertised.listeners=PLAINTEXT://{LOCALHOST}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}

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
