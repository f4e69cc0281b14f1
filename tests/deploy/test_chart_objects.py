"""Every rendered object is valid Kubernetes (or a well-formed custom resource), and the chart says what it needs."""

from __future__ import annotations

import copy
import subprocess

import kubernetes_validate
import pytest
from deploy_manifests import CHART, KUBE_VERSION, OLDEST_KUBE_VERSION, Rendered, RenderError

# Custom resources are not in kubernetes-validate's schemas: their shape is checked below.
CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}


def _validate_all(release: Rendered, kube_version: str) -> None:
    for manifest in release.objects:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM:
            continue
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message} at {list(error.path)}")


def test_every_object_is_valid_for_the_pinned_kubernetes_in_strict_mode(release: Rendered) -> None:
    _validate_all(release, KUBE_VERSION)


def test_every_object_is_valid_for_the_oldest_kubernetes_the_chart_supports(render, helm) -> None:
    for values in ("minimal-values.yaml", "full-values.yaml"):
        _validate_all(render(values, kube_version=OLDEST_KUBE_VERSION), OLDEST_KUBE_VERSION)


def test_strict_validation_rejects_a_misspelt_field(default_release: Rendered) -> None:
    """Guards the check above: strict mode must catch a field Kubernetes would silently drop."""
    deployment = copy.deepcopy(default_release.of_kind("Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_only_the_known_custom_resources_are_rendered(release: Rendered) -> None:
    for manifest in release.objects:
        group = manifest["apiVersion"].split("/")[0] if "/" in manifest["apiVersion"] else ""
        if "." in group and not group.endswith(".k8s.io"):
            assert (manifest["apiVersion"], manifest["kind"]) in CUSTOM, manifest["kind"]


def test_optional_custom_resources_are_off_by_default(default_release: Rendered) -> None:
    assert {(m["apiVersion"], m["kind"]) for m in default_release.objects} & CUSTOM == set()


def test_the_service_monitor_scrapes_metrics_on_the_http_port_of_both_services(full_release: Rendered) -> None:
    (monitor,) = full_release.of_kind("ServiceMonitor")
    spec = monitor["spec"]
    assert set(spec) == {"selector", "endpoints"}
    services = full_release.of_kind("Service")
    selected = [s for s in services if _matches(spec["selector"], s["metadata"]["labels"])]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected} == {"settlement", "ledger"}
    (endpoint,) = spec["endpoints"]
    assert endpoint["path"] == "/metrics"
    for service in selected:
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_scaled_object_targets_the_settlement_deployment_with_a_kafka_lag_trigger(full_release: Rendered) -> None:
    (scaled,) = full_release.of_kind("ScaledObject")
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    deployment = full_release.one("Deployment", target["name"])
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"] == ["settlement"]
    assert isinstance(spec["minReplicaCount"], int) and isinstance(spec["maxReplicaCount"], int)
    assert 0 < spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert all(isinstance(v, str) for v in metadata.values()), "KEDA trigger metadata values must be strings"
    assert metadata["topic"] == "claims.v1"
    assert metadata["consumerGroup"] == full_release.env_value(deployment, "SETTLEMENT_CONSUMER_GROUP")
    assert metadata["bootstrapServers"] == full_release.env_value(deployment, "KAFKA_BOOTSTRAP_SERVERS")
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["sasl"] == "scram_sha512" and metadata["tls"] == "enable"
    auth = full_release.one("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    refs = auth["spec"]["secretTargetRef"] + auth["spec"]["configMapTargetRef"]
    assert {r["parameter"] for r in refs} == {"username", "password", "ca"}
    assert all(set(r) == {"parameter", "name", "key"} for r in refs)
    password = next(r for r in refs if r["parameter"] == "password")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": password["name"], "key": password["key"]}


def test_rendering_with_no_values_at_all_fails_naming_what_is_required(helm: str) -> None:
    result = subprocess.run([helm, "template", "x", str(CHART)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "is required" in result.stderr


def test_a_missing_broker_address_fails_the_render(render) -> None:
    with pytest.raises(RenderError, match=r"kafka\.bootstrapServers is required"):
        render("minimal-values.yaml", sets=("kafka.bootstrapServers=",))


def test_a_secret_value_left_empty_fails_the_render(render) -> None:
    with pytest.raises(RenderError, match=r"secrets\.values\.LOG_PSEUDONYM_KEY is required"):
        render("minimal-values.yaml", sets=("secrets.values.LOG_PSEUDONYM_KEY=",))


def test_an_existing_secret_replaces_the_chart_made_one(render) -> None:
    release = render("minimal-values.yaml", sets=("secrets.existingSecret=medins-secrets",))
    assert release.of_kind("Secret") == []
    for _, pod in release.pod_specs():
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in pod["containers"][0]["env"] if "valueFrom" in e}
        assert refs["DATABASE_URL"] == {"name": "medins-secrets", "key": "DATABASE_URL"}


def test_the_chart_passes_helm_lint_in_strict_mode(helm: str) -> None:
    result = subprocess.run(
        [helm, "lint", "--strict", str(CHART), "--values", str(CHART / "ci" / "full-values.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _matches(selector: dict, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True
