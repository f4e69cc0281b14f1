"""The chart's alerts watch metrics the settlement service really exports."""

from __future__ import annotations

from deploy_manifests import Rendered

from ops.metrics import SettlementMetrics


def exported_counters() -> set[str]:
    """The sample names /metrics of the settlement service shows (a labelled counter once used)."""
    metrics = SettlementMetrics()
    metrics.dead_letters.labels("claims.v1").inc()
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def rules(release: Rendered) -> dict[str, dict]:
    (rule,) = release.of_kind("PrometheusRule")
    ((group),) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_a_dead_lettered_message_raises_an_alert_on_the_services_own_counter(full_release: Rendered) -> None:
    alert = rules(full_release)["MedinsSettlementDeadLetters"]
    assert "settlement_dead_letters_total" in alert["expr"] and "settlement_dead_letters_total" in exported_counters()
    assert "increase(" in alert["expr"] and alert["expr"].rstrip().endswith("> 0")
    assert alert["labels"]["severity"] == "warning"
    assert "settlement redrive" in alert["annotations"]["description"]


def test_an_outage_held_for_ten_minutes_raises_a_critical_alert(full_release: Rendered) -> None:
    alert = rules(full_release)["MedinsSettlementConsumerRetrying"]
    assert "settlement_transient_failures_total" in exported_counters()
    assert "settlement_transient_failures_total" in alert["expr"]
    assert (alert["for"], alert["labels"]["severity"]) == ("10m", "critical")


def test_the_rules_are_off_by_default_and_carry_the_selector_labels(default_release, full_release) -> None:
    assert default_release.of_kind("PrometheusRule") == []
    (rule,) = full_release.of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_by_default_every_pod_runs_in_production_so_the_log_key_is_required(full_release: Rendered) -> None:
    for workload in full_release.workloads():
        assert full_release.env_value(workload, "MEDINS_ENV") == "production"


def test_a_failed_verify_job_raises_a_critical_alert_on_that_jobs_runs_only(full_release: Rendered) -> None:
    alert = rules(full_release)["MedinsLedgerVerifyFailed"]
    (cron,) = [c for c in full_release.of_kind("CronJob") if c["metadata"]["name"].endswith("-verify")]
    # kube-state-metrics names each run's Job <cronjob>-<scheduled time>
    assert "kube_job_status_failed" in alert["expr"] and f'job_name=~"{cron["metadata"]["name"]}-.*"' in alert["expr"]
    assert alert["labels"]["severity"] == "critical" and alert["annotations"]["runbook"] == "docs/operations.md#audit"


def test_without_the_verify_job_there_is_no_alert_for_it(render) -> None:
    release = render("full-values.yaml", sets=("verify.enabled=false",))
    assert "MedinsLedgerVerifyFailed" not in rules(release)
