"""A small reader of Dockerfiles: enough to check deploy/Dockerfile without a Docker engine.

It handles what the Dockerfile reference defines for the instructions we check: comment lines
(also inside a continuation), backslash continuations, global ARGs before the first FROM and
their ${VAR} substitution in FROM, `FROM image AS name`, --flags, exec (JSON) and shell forms,
and ENV's key=value and legacy `key value` forms.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    flags: dict[str, str]
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD/ENTRYPOINT/RUN in exec form, or None in shell form."""
        if not self.arguments.startswith("["):
            return None
        value = json.loads(self.arguments)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value

    def words(self) -> list[str]:
        return shlex.split(self.arguments)


@dataclass
class Stage:
    base: str
    name: str | None
    index: int
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.of("ENV"):
            words = instruction.words()
            if words and "=" not in words[0]:  # legacy form: ENV key value with spaces
                values[words[0]] = instruction.arguments.split(None, 1)[1]
                continue
            for word in words:
                key, _, value = word.partition("=")
                values[key] = value
        return values

    def last(self, keyword: str) -> Instruction | None:
        found = self.of(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, reference: str) -> Stage | None:
        for stage in self.stages:
            if stage.name == reference or str(stage.index) == reference:
                return stage
        return None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1].rstrip() + " "
            continue
        buffer += stripped
        if buffer.strip():
            lines.append((start, buffer.strip()))
        buffer = ""
    assert not buffer, "the Dockerfile ends inside a continuation"
    return lines


def _substitute(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return variables.get(name) or (match.group(2) or "")

    return _VARIABLE.sub(replace, value)


def _split_flags(arguments: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = arguments
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        key, _, value = token[2:].partition("=")
        flags[key] = value
        rest = rest.lstrip()
    return flags, rest


def parse(text: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in _logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        flags, rest = _split_flags(arguments) if keyword in {"FROM", "COPY", "ADD", "RUN"} else ({}, arguments)
        if keyword == "FROM":
            words = _substitute(rest, global_args).split()
            assert len(words) in (1, 3) and (len(words) == 1 or words[1].upper() == "AS"), line
            stages.append(Stage(base=words[0], name=words[2] if len(words) == 3 else None, index=len(stages)))
            continue
        if not stages:
            assert keyword == "ARG", f"line {number}: only ARG may precede the first FROM"
            name, _, default = arguments.partition("=")
            global_args[name] = default
            continue
        stages[-1].instructions.append(Instruction(keyword, rest, flags, number))
    assert stages, "no FROM"
    return Dockerfile(global_args, stages)
