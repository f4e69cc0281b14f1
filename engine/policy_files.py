"""Load a folder of policy TOML files, refusing any file with a clear file/key/problem message."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from engine.policy import Policy
from engine.policy_book import PolicyBook


class PolicyFileError(ValueError):
    """A policy folder or file cannot be used; the message names the file, the key, the problem."""


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_policy_file(path: Path) -> Policy:
    try:
        # parse_float=Decimal keeps ratios and amounts exact ("0.6" never becomes a float).
        data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}: key {_key(err['loc'])}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors(include_url=False)
        ]
        raise PolicyFileError("\n".join(problems)) from None


def load_policy_book(folder: str | Path) -> PolicyBook:
    root = Path(folder)
    if not root.is_dir():
        raise PolicyFileError(f"{root}: not a folder of policy files")
    files = sorted(root.glob("*.toml"))
    if not files:
        raise PolicyFileError(f"{root}: holds no *.toml policy files")
    policies = [load_policy_file(f) for f in files]
    seen: dict[tuple[str, int], Path] = {}
    for policy, path in zip(policies, files, strict=True):
        key = (policy.policy.id, policy.policy.version)
        if key in seen:
            raise PolicyFileError(f"{path}: policy {key[0]} version {key[1]} is also defined in {seen[key]}")
        seen[key] = path
    return PolicyBook.of(policies, [f.name for f in files])
