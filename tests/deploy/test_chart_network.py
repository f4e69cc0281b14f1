"""Network policy: in only to the HTTP port from chosen peers, out only to DNS, Kafka and PostgreSQL."""

from __future__ import annotations

from deploy_manifests import Rendered


def _policy_for(release: Rendered, pod_labels: dict[str, str]) -> dict:
    matching = [
        p
        for p in release.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    ]
    assert len(matching) == 1, pod_labels
    return matching[0]


def test_every_pod_is_selected_by_a_policy_restricting_both_directions(release: Rendered) -> None:
    for workload, _ in release.pod_specs():
        policy = _policy_for(release, workload["spec"]["template"]["metadata"]["labels"])
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_ingress_reaches_only_the_http_port_and_only_from_listed_peers(release: Rendered) -> None:
    for deployment in release.of_kind("Deployment"):
        policy = _policy_for(release, deployment["spec"]["template"]["metadata"]["labels"])
        for rule in policy["spec"]["ingress"]:
            assert rule["from"], "a rule without peers would admit everyone"
            assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_prometheus_may_scrape_even_when_no_caller_is_listed(default_release: Rendered) -> None:
    for deployment in default_release.of_kind("Deployment"):
        (rule,) = _policy_for(default_release, deployment["spec"]["template"]["metadata"]["labels"])["spec"]["ingress"]
        assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_with_no_peer_at_all_nothing_may_connect(render) -> None:
    release = render("minimal-values.yaml", sets=("networkPolicy.prometheus=null",))
    for deployment in release.of_kind("Deployment"):
        assert _policy_for(release, deployment["spec"]["template"]["metadata"]["labels"])["spec"]["ingress"] == []


def _egress_ports(policy: dict) -> set[tuple[int, str]]:
    ports: set[tuple[int, str]] = set()
    for rule in policy["spec"]["egress"]:
        assert rule["to"], "an egress rule without peers would reach any address"
        ports |= {(p["port"], p["protocol"]) for p in rule["ports"]}
    return ports


def test_services_reach_only_dns_kafka_and_postgresql(release: Rendered) -> None:
    for deployment in release.of_kind("Deployment"):
        policy = _policy_for(release, deployment["spec"]["template"]["metadata"]["labels"])
        assert _egress_ports(policy) == {(53, "UDP"), (53, "TCP"), (9092, "TCP"), (9093, "TCP"), (5432, "TCP")}


def test_the_migration_reaches_only_dns_and_postgresql_and_accepts_nothing(release: Rendered) -> None:
    (job,) = release.of_kind("Job")
    policy = _policy_for(release, job["spec"]["template"]["metadata"]["labels"])
    assert policy["metadata"]["annotations"]["helm.sh/hook"] == job["metadata"]["annotations"]["helm.sh/hook"]
    assert _egress_ports(policy) == {(53, "UDP"), (53, "TCP"), (5432, "TCP")}
    assert policy["spec"]["ingress"] == []


def test_broker_and_database_peers_and_ports_are_configurable(render) -> None:
    release = render(
        "minimal-values.yaml",
        json_sets=(
            'networkPolicy.egress.kafka={"to":[{"ipBlock":{"cidr":"10.20.0.0/24"}}],"ports":[9094]}',
            'networkPolicy.egress.postgres={"to":[{"ipBlock":{"cidr":"10.30.0.5/32"}}],"ports":[6432]}',
        ),
    )
    policy = release.of_kind("NetworkPolicy")[0]
    assert {"ipBlock": {"cidr": "10.20.0.0/24"}} in policy["spec"]["egress"][1]["to"]
    assert _egress_ports(policy) == {(53, "UDP"), (53, "TCP"), (9094, "TCP"), (6432, "TCP")}


def test_network_policies_can_be_left_to_the_platform(render) -> None:
    assert render("minimal-values.yaml", sets=("networkPolicy.enabled=false",)).of_kind("NetworkPolicy") == []
