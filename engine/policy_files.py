"""Load a folder of policy TOML files, refusing any file with a clear file/key/problem message."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from engine.national_codes import NO_CODES, CodeSetError, NationalCodes, load_code_sets
from engine.payer_data import NO_PAYER_DATA, PayerData
from engine.payer_files import PayerFileError, load_payer_data
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


def _codes(root: Path) -> NationalCodes:
    """policies/codes/ when the folder has one (a folder of test policies may not)."""
    if not (root / "codes").is_dir():
        return NO_CODES
    try:
        return load_code_sets(root / "codes")
    except CodeSetError as error:
        raise PolicyFileError(str(error)) from None


def _payer_data(root: Path, policies: list[Policy], files: list[Path], codes: NationalCodes) -> list[PayerData]:
    """Each policy's payer data, each folder read once however many policies share it."""
    loaded: dict[str, PayerData] = {}
    found = []
    for policy, path in zip(policies, files, strict=True):
        ref = policy.payer_data
        if ref is None:
            found.append(NO_PAYER_DATA)
            continue
        if ref.dir not in loaded:
            try:
                loaded[ref.dir] = load_payer_data(root / ref.dir, codes, name=ref.dir)
            except PayerFileError as error:
                raise PolicyFileError(f"{path}: key payer_data.dir: {error}") from None
        found.append(loaded[ref.dir])
    return found


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
    codes = _codes(root)
    payer = _payer_data(root, policies, files, codes)
    return PolicyBook.of(policies, [f.name for f in files], payer, codes)
