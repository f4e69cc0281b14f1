"""Every pod runs hardened, probes the right paths on the right port, and has time to drain."""

from __future__ import annotations

import math
import tomllib

from deploy_manifests import ROOT, Rendered

SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def test_every_pod_runs_as_a_numeric_non_root_user_with_the_runtime_seccomp_profile(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert isinstance(context["runAsUser"], int) and context["runAsUser"] > 0
        assert isinstance(context["runAsGroup"], int) and context["runAsGroup"] > 0
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_every_container_is_read_only_unprivileged_and_drops_all_capabilities(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["runAsNonRoot"] is True, where
            assert context.get("privileged", False) is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where


def test_the_only_writable_path_is_an_emptydir_at_tmp(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            for mount in container["volumeMounts"]:
                volume = volumes[mount["name"]]
                if mount["mountPath"] == "/tmp":
                    assert volume["emptyDir"]["sizeLimit"], workload["metadata"]["name"]
                else:
                    assert mount.get("readOnly") is True, (workload["metadata"]["name"], mount["mountPath"])
                    assert "emptyDir" not in volume and "hostPath" not in volume


def test_no_pod_gets_a_service_account_token_or_service_link_variables(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        assert pod["automountServiceAccountToken"] is False, workload["metadata"]["name"]
        assert pod["enableServiceLinks"] is False, workload["metadata"]["name"]
        assert pod["serviceAccountName"] in {sa["metadata"]["name"] for sa in release.of_kind("ServiceAccount")}
    for account in release.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_every_container_runs_a_console_script_of_the_project(release: Rendered) -> None:
    for _, pod in release.pod_specs():
        for container in pod["containers"]:
            assert container["command"][0] in SCRIPTS
            assert container["command"][0] in {"settlement", "ledger"}


def test_liveness_probes_healthz_and_readiness_probes_readyz_on_the_port_the_service_listens_on(
    release: Rendered,
) -> None:
    for deployment in release.of_kind("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (port,) = container["ports"]
        http_port = int(release.env_value(deployment, "HTTP_PORT"))
        assert port["containerPort"] == http_port
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_each_service_sends_its_http_port_to_the_pods_of_its_own_deployment(release: Rendered) -> None:
    for deployment in release.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        (service,) = [s for s in release.of_kind("Service") if s["spec"]["selector"] == selector]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        names = {p["name"] for p in container["ports"]}
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"] and "http" in names


def test_a_pod_is_killed_only_after_its_pre_stop_pause_and_the_services_own_shutdown_grace(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        grace = float(release.env_value(workload, "SHUTDOWN_GRACE_SECONDS"))
        (container,) = pod["containers"]
        pause = 0
        if "lifecycle" in container:
            command = container["lifecycle"]["preStop"]["exec"]["command"]
            assert command[0] == "sleep"
            pause = int(command[1])
        assert pod["terminationGracePeriodSeconds"] > pause + math.ceil(grace), workload["metadata"]["name"]


def test_the_grace_period_follows_a_changed_shutdown_grace(render) -> None:
    release = render("minimal-values.yaml", json_sets=("shutdownGraceSeconds=57.5",))
    for workload, pod in release.pod_specs():
        assert release.env_value(workload, "SHUTDOWN_GRACE_SECONDS") == "57.5"
        assert pod["terminationGracePeriodSeconds"] == 5 + 58 + 10


def test_every_container_requests_cpu_and_memory_and_caps_memory(release: Rendered) -> None:
    for workload, pod in release.pod_specs():
        for container in pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), workload["metadata"]["name"]
            assert "memory" in resources["limits"], workload["metadata"]["name"]


def test_each_service_has_a_disruption_budget_that_lets_a_drain_proceed(release: Rendered) -> None:
    budgets = release.of_kind("PodDisruptionBudget")
    for deployment in release.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]
        (budget,) = [b for b in budgets if b["spec"]["selector"] == selector]
        assert budget["spec"]["maxUnavailable"] >= 1
