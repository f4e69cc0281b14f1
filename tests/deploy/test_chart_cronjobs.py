"""The ledger's maintenance jobs: `ledger anchor`, `ledger prune` and `ledger verify` as hardened CronJobs."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_manifests import Manifest, Rendered, RenderError, image_policies_dir
from ledger.entrypoints.cli import build_parser

ANCHOR, PRUNE = "medins-medins-settlement-anchor", "medins-medins-settlement-prune"
VERIFY = "medins-medins-settlement-verify"


def pod(cron: Manifest) -> Manifest:
    spec: Manifest = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def env(cron: Manifest) -> dict[str, Any]:
    (container,) = pod(cron)["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_anchor_and_prune_run_daily_in_china_time_never_two_at_once(release: Rendered) -> None:
    for name, command in ((ANCHOR, "anchor"), (PRUNE, "prune")):
        cron = release.one("CronJob", name)
        assert len(cron["spec"]["schedule"].split()) == 5 and cron["spec"]["schedule"].split()[2:] == ["*", "*", "*"]
        assert cron["spec"]["timeZone"] == "Asia/Shanghai" and cron["spec"]["concurrencyPolicy"] == "Forbid"
        (container,) = pod(cron)["containers"]
        assert [*container["command"], *container["args"]] == ["ledger", command]
        assert pod(cron)["restartPolicy"] == "Never"
        assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0


def test_the_job_pods_are_hardened_like_the_services(release: Rendered) -> None:
    accounts = {a["metadata"]["name"] for a in release.of_kind("ServiceAccount")}
    for cron in release.of_kind("CronJob"):
        spec = pod(cron)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] in accounts and spec["enableServiceLinks"] is False
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys() and container["resources"]["limits"]
        for mount in container["volumeMounts"]:
            assert mount["mountPath"] == "/tmp" or mount.get("readOnly") is True, mount


def test_the_anchor_job_reads_its_signing_key_from_a_secret_file_only_it_mounts(full_release: Rendered) -> None:
    anchor = full_release.one("CronJob", ANCHOR)
    key_file = env(anchor)["LEDGER_ANCHOR_KEY_FILE"]
    (container,) = pod(anchor)["containers"]
    (mount,) = [m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod(anchor)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "ledger-anchor-key"
    assert volume["secret"]["items"] == [{"key": "ed25519.pem", "path": key_file.rsplit("/", 1)[1]}]
    assert volume["secret"]["defaultMode"] & 0o007 == 0  # not world-readable
    assert "KAFKA_SASL_PASSWORD" in env(anchor)  # it publishes to Kafka
    for other in [*full_release.of_kind("Deployment"), full_release.one("CronJob", PRUNE)]:
        assert "ledger-anchor-key" not in str(other), other["metadata"]["name"]


def test_the_prune_job_logs_in_as_the_pruner_with_its_retention_settings(full_release: Rendered) -> None:
    variables = env(full_release.one("CronJob", PRUNE))
    assert variables["DATABASE_URL"] == {"secretKeyRef": {"name": "ledger-db-pruner", "key": "uri"}}
    assert variables["LEDGER_OUTBOX_RETENTION_DAYS"] == "14"
    assert variables["LEDGER_IDEMPOTENCY_RETENTION_DAYS"] == "400"
    assert "KAFKA_SASL_PASSWORD" not in variables  # it never talks to Kafka


def test_without_its_own_login_the_prune_job_uses_the_migrations(render) -> None:
    release = render("minimal-values.yaml", json_sets=('migration.databaseUrlFrom={"name": "owner", "key": "uri"}',))
    assert env(release.one("CronJob", PRUNE))["DATABASE_URL"] == {"secretKeyRef": {"name": "owner", "key": "uri"}}
    assert env(release.one("CronJob", ANCHOR))["DATABASE_URL"]["secretKeyRef"]["name"] != "owner"


def test_the_commands_read_the_variables_the_chart_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_OUTBOX_RETENTION_DAYS", "14")
    monkeypatch.setenv("LEDGER_IDEMPOTENCY_RETENTION_DAYS", "500")
    args = build_parser().parse_args(["prune"])
    assert (args.outbox_days, args.idempotency_days) == (14, 500)


def test_anchoring_needs_a_signing_key_unless_turned_off(render) -> None:
    with pytest.raises(RenderError, match=r"anchor\.signingKeySecret\.name is required"):
        render("minimal-values.yaml", sets=("anchor.signingKeySecret.name=",))
    release = render("minimal-values.yaml", sets=("anchor.signingKeySecret.name=", "anchor.enabled=false"))
    assert [c["metadata"]["name"] for c in release.of_kind("CronJob")] == [PRUNE, VERIFY]


def test_an_idempotency_horizon_under_a_year_is_refused(render) -> None:
    with pytest.raises(RenderError, match="idempotencyRetentionDays"):
        render("minimal-values.yaml", sets=("prune.idempotencyRetentionDays=30",))


def test_the_jobs_accept_nothing_and_reach_only_what_they_need(release: Rendered) -> None:
    for name, ports in ((ANCHOR, {53, 9092, 9093, 5432}), (PRUNE, {53, 5432}), (VERIFY, {53, 5432})):
        labels = release.one("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        (policy,) = [
            p
            for p in release.of_kind("NetworkPolicy")
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert policy["spec"]["ingress"] == [] and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == ports


def test_the_migration_grants_the_prune_role_to_the_listed_logins(render) -> None:
    release = render("minimal-values.yaml", sets=("migration.grantPruneTo[0]=prune_job",))
    (job,) = release.of_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--grant-prune-to", "prune_job"]


def test_verify_runs_weekly_over_the_images_policies_with_the_configured_jobs(render) -> None:
    release = render("minimal-values.yaml", sets=("verify.jobs=4",))
    cron = release.one("CronJob", VERIFY)
    assert cron["spec"]["schedule"].split()[2:] == ["*", "*", "0"] and cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod(cron)["containers"]
    assert container["command"] == ["ledger"]
    args = build_parser().parse_args(container["args"])  # the CLI takes what the chart passes
    assert (args.command, args.jobs, args.prefix) == ("verify", 4, None)
    assert args.policies == image_policies_dir()  # the policies the image carries
    assert "KAFKA_SASL_PASSWORD" not in env(cron)  # it never talks to Kafka


def test_a_verify_finding_fails_the_job_at_once_and_a_lost_connection_is_retried(release: Rendered) -> None:
    job = release.one("CronJob", VERIFY)["spec"]["jobTemplate"]["spec"]
    # exit 1: findings (a retry finds them again); exit 2: a usage or connection problem, retried
    assert job["podFailurePolicy"]["rules"] == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "verify", "operator": "In", "values": [1]},
            "onPodConditions": [],
        }
    ]
    assert job["backoffLimit"] >= 1
    for other in (ANCHOR, PRUNE):
        assert "podFailurePolicy" not in release.one("CronJob", other)["spec"]["jobTemplate"]["spec"]


def test_verify_jobs_outside_one_to_sixty_four_are_refused_by_the_chart(render) -> None:
    for jobs in ("0", "65"):
        with pytest.raises(RenderError, match="jobs"):
            render("minimal-values.yaml", sets=(f"verify.jobs={jobs}",))
