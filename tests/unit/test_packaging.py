"""The installed distribution carries every package, and the services keep their boundary."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MAPPING = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _folder(package: str) -> Path:
    top, *rest = package.split(".")
    return ROOT / MAPPING.get(top, top) / Path(*rest)


def test_every_folder_with_python_code_is_a_listed_package() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for package in listed:
        assert (_folder(package) / "__init__.py").exists(), f"{package} is listed but has no __init__.py"
    for top in {p.split(".")[0] for p in listed}:
        for init in _folder(top).rglob("__init__.py"):
            rel = init.parent.relative_to(_folder(top))
            name = ".".join([top, *rel.parts])
            assert name in listed, f"{name} is a package on disk but missing from pyproject's packages list"


def _imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_the_ledger_never_imports_the_settlement_service() -> None:
    assert "settlement" not in _imports(_folder("ledger"))


def test_the_pure_core_imports_no_io_library_and_no_service() -> None:
    forbidden = {
        "asyncpg",
        "aiokafka",
        "faststream",
        "starlette",
        "uvicorn",
        "httpx",
        "socket",
        "os",
        "settlement",
        "ledger",
        "structlog",
        "time",
        "random",
    }
    assert _imports(ROOT / "engine") & forbidden == set()


def test_contracts_import_nothing_of_the_services_or_the_engine() -> None:
    assert _imports(ROOT / "contracts") & {"engine", "settlement", "ledger", "ops"} == set()


def test_console_scripts_point_at_existing_modules() -> None:
    for name, target in PYPROJECT["project"]["scripts"].items():
        module = target.split(":")[0]
        assert (_folder(module).with_suffix(".py")).exists() or (_folder(module) / "__init__.py").exists(), name
