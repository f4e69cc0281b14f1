"""The project installs its own Helm: pinned, outside the work tree, built like a release."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from deploy_manifests import INSTALL_HELM, ROOT


def _pinned() -> str:
    match = re.search(r'^HELM_VERSION="(v[0-9.]+)"$', INSTALL_HELM.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "install-helm.sh pins HELM_VERSION"
    return match.group(1)


def test_the_install_script_provides_the_pinned_helm_outside_the_repository(helm: str) -> None:
    assert not Path(helm).resolve().is_relative_to(ROOT)
    result = subprocess.run([helm, "version", "--template", "{{.Version}}"], capture_output=True, text=True, check=True)
    assert result.stdout == _pinned()


def test_a_second_install_reuses_the_cached_binary(helm: str) -> None:
    result = subprocess.run(["bash", str(INSTALL_HELM)], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == helm
    assert "building" not in result.stderr
