"""Prometheus metrics of the settlement service, in one registry per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class SettlementMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "settlement_messages_total", "Messages answered, by outcome", ["msg_type", "outcome"], registry=r
        )
        self.latency = Histogram(
            "settlement_settle_seconds",
            "Time to answer one message (incl. the ledger commit)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.batch_size = Histogram(
            "settlement_batch_messages",
            "Messages per consumed batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "settlement_consumer_lag_messages", "Messages behind the log end", ["topic", "partition"], registry=r
        )
        self.transient_failures = Counter(
            "settlement_transient_failures_total", "Batches rewound for retry after a transient failure", registry=r
        )
        self.unhandled = Counter(
            "settlement_unhandled_errors_total",
            "Attempts that failed on a message while the database and broker were healthy (a bug or a hostile message)",
            registry=r,
        )
        self.dead_letters = Counter(
            "settlement_dead_letters_total",
            "Messages answered internal_error and copied to the dead-letter topic, by input topic (alert: re-drive "
            "after a fix)",
            ["topic"],
            registry=r,
        )
        self.pre_settlements = Counter(
            "settlement_pre_settlements_total", "HTTP pre-settlements, by outcome", ["outcome"], registry=r
        )


@dataclass
class LedgerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.outbox_backlog = Gauge(
            "ledger_outbox_backlog_messages", "Outbox messages committed but not yet published to Kafka", registry=r
        )
        self.relayed = Counter("ledger_outbox_published_total", "Outbox messages published to Kafka", registry=r)
        self.relay_failures = Counter(
            "ledger_outbox_relay_failures_total", "Relay batches that failed and will be retried", registry=r
        )
        self.projection_lag = Gauge(
            "ledger_projection_lag_positions",
            "Global log positions a follower projection is behind the newest event",
            ["projection"],
            registry=r,
        )
        self.projection_failures = Counter(
            "ledger_projection_failures_total",
            "Follower batches that failed and will be retried",
            ["projection"],
            registry=r,
        )
        self.audits = Counter(
            "ledger_audit_requests_total",
            "Replay and verify requests, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
