"""Every citation resolves inside the release: each trail line's source names a key of a shipped
policy file or a section of docs/domain.md, and every section of docs/domain.md the code, the
policy files and the docs cite exists. Money in the trail is exact yuan, never fen / 100."""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.adapters.memory import MemoryLedger
from settlement.service_layer.handlers import SettlementService

from contracts.wire import encode_json
from engine.policy_book import conventional_file_name
from engine.policy_files import load_policy_book, load_policy_file
from engine.trail import ANCHORS

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "docs" / "domain.md"
CITED = re.compile(r"docs/domain\.md#([a-z0-9-]+)")


def anchors() -> set[str]:
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', DOMAIN.read_text(encoding="utf-8")))


def resolves(source: str) -> bool:
    path, _, key = source.partition("#")
    if path == "docs/domain.md":
        return key in anchors()
    file = ROOT / path
    if not (path.startswith("policies/") and file.is_file() and key):
        return False
    node: Any = tomllib.loads(file.read_text(encoding="utf-8"))
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def trail_sources(*inputs: Path) -> set[str]:
    async def run() -> set[str]:
        clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
        service = SettlementService(MemoryLedger(clock=clock), load_policy_book(ROOT / "policies"), clock=clock)
        sources = set()
        for path in inputs:
            for raw in path.read_bytes().splitlines():
                answer = json.loads(encode_json(await service.handle(raw, source=path.name)))
                sources |= {line["source"] for line in answer.get("trail", [])}
        return sources

    return asyncio.run(run())


def test_every_trail_source_of_the_examples_resolves_to_a_policy_key_or_a_domain_section() -> None:
    sources = trail_sources(ROOT / "examples" / "year-2025.jsonl", ROOT / "tests/fixtures/ledger-v1/input.jsonl")
    assert len(sources) > 20  # deductibles, ratios, caps, aid, case payment, routing, items, …
    assert sorted(s for s in sources if not resolves(s)) == []


def test_a_source_that_does_not_resolve_is_caught() -> None:
    assert not resolves("policies/640000-390-2025.toml#benefits.inpatient.no_such_key")
    assert not resolves("docs/domain.md#no-such-section")
    assert not resolves("004")
    assert resolves("policies/640000-390-2025.toml#benefits.inpatient.ratio")


def test_every_section_the_trail_may_cite_exists_in_docs_domain() -> None:
    assert anchors() >= ANCHORS


def test_every_domain_section_cited_in_the_repository_exists() -> None:
    cited: dict[str, set[str]] = {}
    for folder in ("engine", "services", "contracts", "policies", "docs", "tests/unit", "README.md"):
        root = ROOT / folder
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.suffix in {".py", ".md", ".toml"}]
        for path in files:
            if path == Path(__file__):
                continue  # this file names sections that must not resolve
            for anchor in CITED.findall(path.read_text(encoding="utf-8")):
                cited.setdefault(anchor, set()).add(str(path.relative_to(ROOT)))
    assert cited
    assert {a: files for a, files in cited.items() if a not in anchors()} == {}


def test_shipped_policy_files_have_the_names_their_citations_use() -> None:
    for path in sorted((ROOT / "policies").glob("*.toml")):
        assert path.name == conventional_file_name(load_policy_file(path))


def test_no_engine_module_formats_money_by_dividing_fen() -> None:
    offenders = [
        p.name for p in (ROOT / "engine").glob("*.py") if re.search(r"/ ?100\b", p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
