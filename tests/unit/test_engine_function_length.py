"""TigerBeetle's limit, held: no function in engine/ is longer than 70 lines (docs: the style
guide), settle_claim included — pricing reads as the list of its stages."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
LIMIT = 70


def functions() -> list[tuple[str, int]]:
    found = []
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                found.append((f"{path.name}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1))
    return found


def test_no_function_in_the_engine_is_longer_than_70_lines() -> None:
    assert [(name, length) for name, length in functions() if length > LIMIT] == []


def test_the_check_sees_settle_claim() -> None:
    assert any(name.startswith("settle.py") and name.endswith(" settle_claim") for name, _ in functions())
