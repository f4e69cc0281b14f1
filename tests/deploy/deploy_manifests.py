"""What the deploy tests share: where things are, and a rendered release to query."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfile_parser import parse

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "medins-settlement"
INSTALL_HELM = ROOT / "deploy" / "tools" / "install-helm.sh"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The Kubernetes version the manifests are rendered for and validated against, and the
# oldest one the chart supports (Chart.yaml's kubeVersion).
KUBE_VERSION = "1.31.0"
OLDEST_KUBE_VERSION = "1.27.0"
RELEASE = "medins"

Manifest = dict[str, Any]


class RenderError(Exception):
    """`helm template` refused the values; the message is Helm's."""


@dataclass(frozen=True)
class Rendered:
    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str) -> Manifest:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> list[Manifest]:
        """Deployments and Jobs: everything that runs a pod."""
        return self.of_kind("Deployment") + self.of_kind("Job")

    def pod_specs(self) -> list[tuple[Manifest, Manifest]]:
        """(workload, pod spec) for every Deployment and Job."""
        return [(w, w["spec"]["template"]["spec"]) for w in self.workloads()]

    def env_names(self, workload: Manifest) -> set[str]:
        """Every environment variable the workload's containers get: env, and envFrom's ConfigMap/Secret keys."""
        names: set[str] = set()
        for container in workload["spec"]["template"]["spec"]["containers"]:
            names |= {e["name"] for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    names |= set(self.one("ConfigMap", source["configMapRef"]["name"])["data"])
                if "secretRef" in source:
                    secret = self.one("Secret", source["secretRef"]["name"])
                    names |= set(secret.get("data", {})) | set(secret.get("stringData", {}))
        return names

    def env_value(self, workload: Manifest, name: str) -> str:
        """The literal value of a non-secret setting, from env or an envFrom ConfigMap."""
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for entry in container.get("env", []):
                if entry["name"] == name and "value" in entry:
                    return str(entry["value"])
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    data = self.one("ConfigMap", source["configMapRef"]["name"])["data"]
                    if name in data:
                        return str(data[name])
        raise KeyError(f"{workload['metadata']['name']} sets no literal {name}")


def hook_events(manifest: Manifest) -> set[str]:
    annotations = manifest["metadata"].get("annotations") or {}
    return set(filter(None, annotations.get("helm.sh/hook", "").split(",")))


def image_policies_dir() -> str:
    """Where deploy/Dockerfile's final stage puts policies/ (the chart must point the services there)."""
    final = parse(DOCKERFILE.read_text(encoding="utf-8")).final
    (copy,) = [c for c in final.of("COPY") if "from" not in c.flags and c.words()[0].rstrip("/") == "policies"]
    return copy.words()[-1].rstrip("/")
