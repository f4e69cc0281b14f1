"""The AsyncAPI document parses with the AsyncAPI project's own parser (@asyncapi/parser 3.x).

Comparing the document with a committed copy only proves it did not change; a document whose
`$ref`s do not resolve parsed nowhere (issue 10 item 8). The parser is installed from the npm
registry at the exact version of contracts/asyncapi/validate/package-lock.json, into that
folder's node_modules/ (git-ignored, reused until the lockfile changes).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.asyncapi import OUT

VALIDATOR = OUT.parent / "validate"
STAMP = VALIDATOR / "node_modules" / ".installed-from-lockfile"


def _installed_parser() -> Path:
    """npm ci, once per lockfile; --ignore-scripts: nothing of the dependencies runs at install."""
    lockfile = VALIDATOR / "package-lock.json"
    if not STAMP.exists() or STAMP.stat().st_mtime < lockfile.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is installed but npm is not: cannot install @asyncapi/parser")
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=VALIDATOR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        STAMP.touch()
    return VALIDATOR / "validate.mjs"


def run_parser(document: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the AsyncAPI document was not parsed by @asyncapi/parser")
    script = _installed_parser()
    return subprocess.run([node, str(script), str(document)], capture_output=True, text=True, timeout=120, check=False)


def test_the_committed_asyncapi_document_parses_with_no_error() -> None:
    done = run_parser(OUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 error(s)" in done.stdout and "parsed: true" in done.stdout


def test_the_parser_reports_a_ref_that_does_not_resolve(tmp_path: Path) -> None:
    """The check can fail: the defect of issue 10 (a payload pointing at #/$defs/…) is reported."""
    text = OUT.read_text("utf-8")
    name = re.search(r'"#/components/schemas/(\w+)"', text)
    assert name is not None
    broken = text.replace(f'"#/components/schemas/{name[1]}"', f'"#/$defs/{name[1]}"')
    (tmp_path / "broken.json").write_text(broken, encoding="utf-8")
    done = run_parser(tmp_path / "broken.json")
    assert done.returncode == 1
    assert "invalid-ref" in done.stdout and f"#/$defs/{name[1]}" in done.stdout
