"""The Apache Kafka broker as a folder of jars, fetched from Maven Central with Maven once per machine.

devservers/kafka/pom.xml names the broker; `mvn dependency:copy-dependencies` copies it and
everything it needs at runtime into ~/.cache/medins-devservers/kafka-<version>/libs (outside
the checkout, so every clone and every CI step on the machine reuses it). A stamp file holding
the pom's hash marks a complete copy: an interrupted download or an edited pom is redone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from devservers.paths import cache_root
from devservers.procs import file_lock, tail

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
MAVEN_TIMEOUT = 900  # a cold ~/.m2 downloads ~70 MB; normally well under a minute


class JarsError(RuntimeError):
    pass


def kafka_version() -> str:
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", _NS)
    if node is None or not (node.text or "").strip():
        raise JarsError(f"{POM} has no <kafka.version> property")
    return (node.text or "").strip()


def jars_dir() -> Path:
    return cache_root() / f"kafka-{kafka_version()}" / "libs"


def _pom_hash() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _maven() -> str:
    found = shutil.which("mvn")
    if not found:
        raise JarsError("Maven (mvn) is not on PATH; install it (apt-get install maven) to fetch the Kafka broker")
    return found


def ensure_jars(log: Path) -> Path:
    """The folder to put on `java -cp <folder>/*`; downloads only when missing or stale."""
    libs = jars_dir()
    stamp = libs.parent / "complete.sha256"
    if stamp.exists() and stamp.read_text().strip() == _pom_hash() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(libs.parent / ".lock", timeout=MAVEN_TIMEOUT):
        if stamp.exists() and stamp.read_text().strip() == _pom_hash():
            return libs  # another process finished it while we waited
        staging = libs.parent / f"libs.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            _maven(),
            "--batch-mode",
            "--no-transfer-progress",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"\n$ {' '.join(command)}\n".encode())
            out.flush()
            try:
                result = subprocess.run(
                    command, stdout=out, stderr=subprocess.STDOUT, cwd=POM.parent, timeout=MAVEN_TIMEOUT, check=False
                )
            except subprocess.TimeoutExpired as error:
                raise JarsError(f"Maven did not finish in {MAVEN_TIMEOUT}s; see {log}") from error
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise JarsError(f"Maven could not fetch the Kafka broker (exit {result.returncode}):\n{tail(log, 30)}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        stamp.write_text(_pom_hash() + "\n")
    return libs
