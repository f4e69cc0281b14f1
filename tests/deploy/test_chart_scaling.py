"""Settlement scales on CPU or on consumer lag, never both, and never past the claims topic's partitions."""

from __future__ import annotations

import pytest
from deploy_manifests import Rendered, RenderError


def _settlement(release: Rendered) -> dict:
    (deployment,) = [d for d in release.of_kind("Deployment") if d["metadata"]["name"].endswith("-settlement")]
    return deployment


def test_by_default_an_hpa_scales_settlement_on_cpu_and_owns_its_replica_count(default_release: Rendered) -> None:
    (hpa,) = default_release.of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == _settlement(default_release)["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in _settlement(default_release)["spec"], "helm upgrade would fight the autoscaler"
    assert default_release.of_kind("ScaledObject") == []


def test_the_ledger_has_a_fixed_replica_count(release: Rendered) -> None:
    (ledger,) = [d for d in release.of_kind("Deployment") if d is not _settlement(release)]
    assert ledger["spec"]["replicas"] >= 1


def test_with_keda_the_hpa_is_left_to_keda_and_the_replica_count_to_the_scaled_object(full_release: Rendered) -> None:
    assert full_release.of_kind("HorizontalPodAutoscaler") == []
    (scaled,) = full_release.of_kind("ScaledObject")
    assert "replicas" not in _settlement(full_release)["spec"]
    assert (
        scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"
        ]
        > 0
    )


def test_keda_never_asks_for_more_consumers_than_claims_partitions(render) -> None:
    for partitions in (1, 6, 12):
        release = render(
            "full-values.yaml",
            sets=(
                f"kafka.claimsPartitions={partitions}",
                f"settlement.keda.maxReplicaCount={partitions}",
                "settlement.keda.minReplicaCount=1",
            ),
        )
        (scaled,) = release.of_kind("ScaledObject")
        assert scaled["spec"]["maxReplicaCount"] <= partitions
        assert scaled["spec"]["triggers"][0]["metadata"]["allowIdleConsumers"] == "false"


def test_the_chart_refuses_a_keda_maximum_above_the_claims_partitions(render) -> None:
    with pytest.raises(
        RenderError, match=r"maxReplicaCount \(13\) × SETTLEMENT_CONSUMERS \(1\) exceeds kafka.claimsPartitions \(12\)"
    ):
        render("full-values.yaml", sets=("kafka.claimsPartitions=12", "settlement.keda.maxReplicaCount=13"))


def test_the_chart_counts_every_consumer_of_a_pod_against_the_claims_partitions(render) -> None:
    within = (
        "kafka.claimsPartitions=12",
        "settlement.keda.maxReplicaCount=6",
        "settlement.config.SETTLEMENT_CONSUMERS=2",
    )
    (scaled,) = render("full-values.yaml", sets=within).of_kind("ScaledObject")
    assert scaled["spec"]["maxReplicaCount"] == 6
    beyond = (
        "kafka.claimsPartitions=12",
        "settlement.keda.maxReplicaCount=7",
        "settlement.config.SETTLEMENT_CONSUMERS=2",
    )
    with pytest.raises(RenderError, match=r"maxReplicaCount \(7\) × SETTLEMENT_CONSUMERS \(2\) exceeds"):
        render("full-values.yaml", sets=beyond)


def test_the_chart_refuses_hpa_and_keda_together(render) -> None:
    with pytest.raises(RenderError, match="mutually exclusive"):
        render("full-values.yaml", sets=("settlement.hpa.enabled=true",))


def test_without_an_autoscaler_settlement_runs_the_configured_replicas(render) -> None:
    release = render("minimal-values.yaml", sets=("settlement.hpa.enabled=false", "settlement.replicas=3"))
    assert release.of_kind("HorizontalPodAutoscaler") == []
    assert _settlement(release)["spec"]["replicas"] == 3


def test_keda_reads_lag_without_credentials_when_the_broker_needs_none(render) -> None:
    release = render("minimal-values.yaml", sets=("settlement.hpa.enabled=false", "settlement.keda.enabled=true"))
    (scaled,) = release.of_kind("ScaledObject")
    metadata = scaled["spec"]["triggers"][0]["metadata"]
    assert "sasl" not in metadata and "tls" not in metadata
    assert "authenticationRef" not in scaled["spec"]["triggers"][0]
    assert release.of_kind("TriggerAuthentication") == []


def test_keda_takes_a_ca_from_a_config_map_beside_the_username(render) -> None:
    release = render("full-values.yaml", sets=("kafka.tlsCa.secretName=", "kafka.tlsCa.configMapName=kafka-ca"))
    (auth,) = release.of_kind("TriggerAuthentication")
    by_source = {
        source: {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"].get(source, [])}
        for source in ("secretTargetRef", "configMapTargetRef")
    }
    assert by_source["configMapTargetRef"]["ca"] == ("kafka-ca", "ca.crt")
    assert set(by_source["configMapTargetRef"]) == {"username", "ca"}
    assert set(by_source["secretTargetRef"]) == {"password"}


def test_keda_uses_tls_with_the_system_cas_when_no_ca_and_no_sasl_is_configured(render) -> None:
    release = render(
        "full-values.yaml", sets=("kafka.tlsCa.enabled=false", "kafka.securityProtocol=SSL", "kafka.saslMechanism=")
    )
    (scaled,) = release.of_kind("ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["tls"] == "enable" and "sasl" not in trigger["metadata"]
    assert "authenticationRef" not in trigger
    assert release.of_kind("TriggerAuthentication") == []
