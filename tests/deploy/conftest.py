"""Render the Helm chart once per session with the pinned Helm that deploy/tools/install-helm.sh builds.

No cluster and no Docker: `helm template` output is parsed and checked object by object. The
first run on a machine builds Helm from the Go module proxy (about a minute and a half on two
cores, see docs/deploy.md); later runs reuse ~/.cache/medins-settlement (MEDINS_TOOLS_CACHE).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import yaml
from deploy_manifests import CHART, INSTALL_HELM, KUBE_VERSION, RELEASE, Rendered, RenderError


@pytest.fixture(scope="session")
def helm() -> str:
    result = subprocess.run(["bash", str(INSTALL_HELM)], capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, f"install-helm.sh failed:\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1]


RenderFn = Callable[..., Rendered]


@pytest.fixture(scope="session")
def render(helm: str) -> RenderFn:
    def _render(
        *values_files: str,
        sets: tuple[str, ...] = (),
        json_sets: tuple[str, ...] = (),
        kube_version: str = KUBE_VERSION,
    ) -> Rendered:
        """--set parses numbers as integers; --set-json like a values file (float64), which the chart must handle."""
        command = [helm, "template", RELEASE, str(CHART), "--namespace", "medins", "--kube-version", kube_version]
        for name in values_files:
            command += ["--values", str(CHART / "ci" / name)]
        for assignment in sets:
            command += ["--set", assignment]
        for assignment in json_sets:
            command += ["--set-json", assignment]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RenderError(result.stderr)
        return Rendered([doc for doc in yaml.safe_load_all(result.stdout) if doc])

    return _render


@pytest.fixture(scope="session")
def default_release(render: RenderFn) -> Rendered:
    """Chart defaults plus only what has no default (the broker address and the secret values)."""
    return render("minimal-values.yaml")


@pytest.fixture(scope="session")
def full_release(render: RenderFn) -> Rendered:
    """Every optional feature on: SCRAM over TLS with a CA, KEDA, ServiceMonitor, secrets from elsewhere."""
    return render("full-values.yaml")


@pytest.fixture(scope="session", params=["default", "full"])
def release(request: pytest.FixtureRequest, default_release: Rendered, full_release: Rendered) -> Rendered:
    return {"default": default_release, "full": full_release}[request.param]
