"""The schema is migrated by `ledger migrate` before any new pod starts, with what it needs created first."""

from __future__ import annotations

from deploy_manifests import Rendered, hook_events

HOOK = {"pre-install", "pre-upgrade"}


def _weight(manifest: dict) -> int:
    return int(manifest["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))


def test_the_migration_job_is_a_pre_install_and_pre_upgrade_hook(release: Rendered) -> None:
    (job,) = release.of_kind("Job")
    assert hook_events(job) == HOOK
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert [*container["command"], *container["args"]] == ["ledger", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["activeDeadlineSeconds"] > 0


def test_a_new_migration_replaces_the_last_one_and_finished_jobs_expire(release: Rendered) -> None:
    (job,) = release.of_kind("Job")
    assert "before-hook-creation" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_everything_the_job_uses_from_the_release_exists_at_hook_time(release: Rendered) -> None:
    """A hook runs before the release's ordinary objects: what the Job names must be an earlier hook."""
    (job,) = release.of_kind("Job")
    pod = job["spec"]["template"]["spec"]
    hooks = {(m["kind"], m["metadata"]["name"]): m for m in release.objects if hook_events(m)}

    account = hooks.get(("ServiceAccount", pod["serviceAccountName"]))
    assert account is not None, "the Job's ServiceAccount must be created as a hook"
    assert hook_events(account) == HOOK and _weight(account) < _weight(job)

    ordinary_secrets = {s["metadata"]["name"] for s in release.of_kind("Secret") if not hook_events(s)}
    for entry in pod["containers"][0]["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            continue
        assert ref["name"] not in ordinary_secrets, f"{entry['name']} reads a Secret that does not exist yet"
        if ("Secret", ref["name"]) in hooks:
            secret = hooks[("Secret", ref["name"])]
            assert _weight(secret) < _weight(job) and ref["key"] in secret["data"]
    assert "envFrom" not in pod["containers"][0], "the release's ConfigMaps do not exist at hook time"


def test_the_hook_scaffolding_is_removed_once_the_migration_succeeds(release: Rendered) -> None:
    for manifest in release.objects:
        if hook_events(manifest) and manifest["kind"] != "Job":
            policy = manifest["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
            assert {"before-hook-creation", "hook-succeeded"} <= set(policy.split(","))


def test_nothing_but_the_migration_and_its_scaffolding_is_a_hook(release: Rendered) -> None:
    kinds = {m["kind"] for m in release.objects if hook_events(m)}
    assert kinds <= {"Job", "ServiceAccount", "Secret", "NetworkPolicy"}
    for manifest in release.of_kind("Deployment"):
        assert not hook_events(manifest)
