"""Settings of the settlement service (environment variables, see ops.settings)."""

from __future__ import annotations

from pydantic import Field

from ops.settings import CommonSettings


class SettlementSettings(CommonSettings):
    settlement_policies_dir: str = Field(description="Folder of policy TOML files, one per region, scheme, year")
    settlement_consumer_group: str = "settlement"
    settlement_consumers: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Kafka consumers in one process, each a member of the consumer group of its own; the "
        "group's members (every instance's consumers) beyond its partition count stay idle",
    )
    settlement_batch_max_messages: int = Field(default=200, ge=1, le=5000)
    settlement_batch_max_wait_ms: int = Field(default=50, ge=0, le=10_000)
    settlement_principals_file: str | None = Field(
        default=None,
        description="Registry of Kafka senders (TOML): each principal's institutions; required outside local mode",
    )
    settlement_max_retry_seconds: float = Field(
        default=60.0, gt=0, description="Longest backoff between retries of a transient failure"
    )
    settlement_persons_file: str | None = Field(
        default=None,
        description="The payer's person register (CSV, settlement.gateway.people) that 1101 answers from; "
        "without it 1101 finds no one",
    )
    settlement_max_message_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Tries of one message that fails while the database and broker are healthy, before it is "
        "answered internal_error and copied to its dead-letter topic",
    )
    settlement_message_retry_seconds: float = Field(
        default=0.2, ge=0, le=30, description="Pause before the n-th retry of a failing message is n times this"
    )
