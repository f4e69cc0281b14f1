"""The manifests speak the services' own settings: no unknown name, nothing required missing, nothing unreachable."""

from __future__ import annotations

import json

import pytest
from deploy_manifests import CHART, Rendered, RenderError, image_policies_dir
from ledger.settings import LedgerSettings
from pydantic_settings import BaseSettings
from settlement.settings import SettlementSettings

from ops.settings import CommonSettings

SECRET_SETTINGS = {"DATABASE_URL", "KAFKA_SASL_PASSWORD", "LOG_PSEUDONYM_KEY"}


def _fields(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields}


def _required(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name, field in settings.model_fields.items() if field.is_required()}


def _settings_of(workload: dict) -> type[BaseSettings]:
    command = workload["spec"]["template"]["spec"]["containers"][0]["command"][0]
    return {"settlement": SettlementSettings, "ledger": LedgerSettings}[command]


def test_the_settings_classes_share_the_common_settings() -> None:
    assert _fields(CommonSettings) <= _fields(SettlementSettings) & _fields(LedgerSettings)


def test_every_variable_a_workload_sets_is_a_setting_of_the_service_it_runs(release: Rendered) -> None:
    for workload in release.workloads():
        unknown = release.env_names(workload) - _fields(_settings_of(workload))
        assert not unknown, f"{workload['metadata']['name']} sets {sorted(unknown)}, which its service ignores"


def test_every_required_setting_is_set_for_every_workload(release: Rendered) -> None:
    for workload in release.workloads():
        missing = _required(_settings_of(workload)) - release.env_names(workload)
        assert not missing, f"{workload['metadata']['name']} lacks {sorted(missing)}"


def test_secret_settings_come_only_from_secrets(release: Rendered) -> None:
    for workload in release.workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for entry in container.get("env", []):
                if entry["name"] in SECRET_SETTINGS:
                    assert set(entry) == {"name", "valueFrom"} and "secretKeyRef" in entry["valueFrom"]
        for config_map in release.of_kind("ConfigMap"):
            assert not set(config_map["data"]) & SECRET_SETTINGS


def test_the_migration_job_gets_the_ledgers_settings_but_no_kafka_password(release: Rendered) -> None:
    (ledger,) = [d for d in release.of_kind("Deployment") if _settings_of(d) is LedgerSettings]
    (job,) = release.of_kind("Job")
    assert release.env_names(job) == release.env_names(ledger) - {"KAFKA_SASL_PASSWORD"}
    for name in release.env_names(job) - SECRET_SETTINGS:
        assert release.env_value(job, name) == release.env_value(ledger, name), name


def test_the_migration_may_log_in_as_the_schema_owner_while_the_services_do_not(render) -> None:
    release = render(
        "full-values.yaml",
        sets=("migration.grantTo[0]=settlement_svc",),
        json_sets=('migration.databaseUrlFrom={"name": "ledger-db-owner", "key": "uri"}',),
    )

    def database_url(workload: dict) -> dict:
        (entry,) = [
            e for e in workload["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "DATABASE_URL"
        ]
        return entry["valueFrom"]["secretKeyRef"]

    (job,) = release.of_kind("Job")
    assert database_url(job) == {"name": "ledger-db-owner", "key": "uri"}
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--grant-to", "settlement_svc"]
    for deployment in release.of_kind("Deployment"):
        assert database_url(deployment) == {"name": "ledger-db-app", "key": "uri"}


def test_the_policies_folder_is_the_one_the_image_holds(release: Rendered) -> None:
    for workload in release.workloads():
        variable = "SETTLEMENT_POLICIES_DIR" if _settings_of(workload) is SettlementSettings else "LEDGER_POLICIES_DIR"
        assert release.env_value(workload, variable) == image_policies_dir()


def test_every_setting_of_both_services_can_be_set_through_the_chart(full_release: Rendered) -> None:
    """A setting added to the services but not to the chart (values.schema.json) fails here."""
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))["properties"]
    free = set(schema["config"]["propertyNames"]["enum"])
    free |= set(schema["settlement"]["properties"]["config"]["propertyNames"]["enum"])
    free |= set(schema["ledger"]["properties"]["config"]["propertyNames"]["enum"])
    derived = set().union(*(full_release.env_names(w) for w in full_release.workloads()))
    assert free | derived == _fields(SettlementSettings) | _fields(LedgerSettings)


def test_a_misspelt_setting_is_refused_rather_than_silently_ignored(render) -> None:
    with pytest.raises(RenderError, match="SETTLEMENT_BATCH_MAX_MESAGES"):
        render("minimal-values.yaml", sets=("settlement.config.SETTLEMENT_BATCH_MAX_MESAGES=10",))


def test_a_setting_the_chart_derives_cannot_be_overridden_through_config(render) -> None:
    with pytest.raises(RenderError, match="HTTP_PORT"):
        render("minimal-values.yaml", sets=("config.HTTP_PORT=9090",))


def test_large_whole_numbers_reach_the_services_without_an_exponent(render) -> None:
    release = render("minimal-values.yaml", json_sets=("ledger.config.LEDGER_OUTBOX_BATCH=10000000",))
    (ledger,) = [d for d in release.of_kind("Deployment") if _settings_of(d) is LedgerSettings]
    assert release.env_value(ledger, "LEDGER_OUTBOX_BATCH") == "10000000"


def test_sasl_needs_a_sasl_security_protocol(render) -> None:
    with pytest.raises(RenderError, match="securityProtocol"):
        render(
            "minimal-values.yaml",
            sets=("kafka.saslMechanism=SCRAM-SHA-512", "kafka.saslUsername=u", "secrets.values.KAFKA_SASL_PASSWORD=p"),
        )


def test_the_token_settings_reach_both_services(full_release: Rendered) -> None:
    for workload in full_release.workloads():
        assert full_release.env_value(workload, "AUTH_ISSUER") == "https://sso.example.cn/realms/medins"
        assert full_release.env_value(workload, "AUTH_AUDIENCE") == "medins-settlement"
        assert full_release.env_value(workload, "AUTH_JWKS_URL").endswith("/certs")
        assert full_release.env_value(workload, "HTTP_RATE_LIMIT_BURST") == "40"
        assert full_release.env_value(workload, "MEDINS_ENV") == "production"


def test_an_install_without_a_token_issuer_is_refused(render) -> None:
    with pytest.raises(RenderError, match=r"auth\.issuer"):
        render("full-values.yaml", sets=("auth.issuer=",))


def test_plaintext_kafka_is_refused_in_production(render) -> None:
    with pytest.raises(RenderError, match="PLAINTEXT is refused in production"):
        render("minimal-values.yaml", sets=("environment=production",))


def test_prometheus_scrapes_metrics_with_an_operator_token(full_release: Rendered) -> None:
    (monitor,) = full_release.of_kind("ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "medins-metrics-reader", "key": "token"},
    }


def test_the_registry_of_senders_reaches_the_settlement_pods_as_the_file_the_service_reads(
    full_release: Rendered, tmp_path
) -> None:
    from settlement.senders import load_registry

    (config,) = [c for c in full_release.of_kind("ConfigMap") if "principals.toml" in c.get("data", {})]
    path = tmp_path / "principals.toml"
    path.write_text(config["data"]["principals.toml"], encoding="utf-8")
    registry = load_registry(path)
    assert registry.principals["his-xingqing"].fixmedins_codes == {"H64010100001", "H64010100003"}
    assert registry.enrolment_system.name == "enrolment-system"
    for workload in full_release.workloads():
        mounts = workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        mounted = any(m["name"] == "senders" for m in mounts)
        if _settings_of(workload) is SettlementSettings:
            assert mounted
            file = full_release.env_value(workload, "SETTLEMENT_PRINCIPALS_FILE")
            assert file == "/etc/medins/senders/principals.toml"
        else:
            assert not mounted


def test_production_without_a_registry_of_senders_is_refused(render) -> None:
    with pytest.raises(RenderError, match=r"settlement\.principals is required"):
        render("full-values.yaml", json_sets=("settlement.principals={}",))
