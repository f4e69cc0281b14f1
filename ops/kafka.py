"""Kafka connection settings → aiokafka keyword arguments and FastStream security, one place."""

from __future__ import annotations

import re
import ssl
from collections.abc import Collection, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from ops.settings import CommonSettings


def _ssl_context(settings: CommonSettings) -> ssl.SSLContext | None:
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ssl_cafile)


def aiokafka_options(settings: CommonSettings) -> dict[str, Any]:
    """For AIOKafkaProducer / AIOKafkaConsumer / admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def faststream_security(settings: CommonSettings) -> BaseSecurity | None:
    context = _ssl_context(settings)
    if not settings.kafka_security_protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context) if context else None
    user = settings.kafka_sasl_username or ""
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    kinds: dict[str, type[SASLPlaintext] | type[SASLScram256] | type[SASLScram512]] = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    return kinds[settings.kafka_sasl_mechanism or "PLAIN"](user, password, ssl_context=context)


# What a topic the hospitals write must be created with: the broker stamps each record with the
# time it appended it (LogAppendTime), replacing whatever timestamp the producer set. The service
# reads a record's timestamp as when the claim was received (the settlement's occurred_at, the
# clearing month it counts in, the refusal of a visit dated in a year not yet begun): with the
# default CreateTime that is the sending hospital's clock, which the payer does not control.
BROKER_TIME = {"message.timestamp.type": "LogAppendTime"}


async def ensure_topics(
    options: dict[str, Any], names: Sequence[str], *, partitions: int = 1, broker_time: Collection[str] = ()
) -> list[str]:
    """Create the topics that do not exist yet (replicated three times, or on every broker of a
    smaller cluster), those named in ``broker_time`` stamped by the broker (BROKER_TIME); returns
    the ones created. A cluster that forbids it (ACLs, Strimzi's topic operator) raises
    ``TopicsMissing`` naming them, so the caller can say which topics an operator must create."""
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return []
        try:
            brokers = len((await admin.describe_cluster())["brokers"])
            replicas = max(1, min(3, brokers))
            await admin.create_topics(
                [NewTopic(name, partitions, replicas, topic_configs=_configs(name, broker_time)) for name in missing]
            )
        except TopicAlreadyExistsError:
            pass  # a concurrent creator won the race
        except KafkaError as error:
            raise TopicsMissing(f"topics {', '.join(missing)} do not exist and cannot be created: {error}") from None
        return missing
    finally:
        await admin.close()


def _configs(name: str, broker_time: Collection[str]) -> dict[str, str]:
    return dict(BROKER_TIME) if name in broker_time else {}


class TopicsMissing(Exception):
    pass


async def stamped_by_sender(options: dict[str, Any], pattern: str) -> list[str]:
    """The existing topics matching ``pattern`` whose records carry their producer's timestamp
    (``message.timestamp.type`` other than LogAppendTime), in name order. Raises what the admin
    client raises (a broker out of reach, DescribeConfigs not granted)."""
    admin = AIOKafkaAdminClient(**options)
    try:
        await admin.start()  # inside: a caller's timeout cancelling the start still closes it
        names = sorted(name for name in await admin.list_topics() if re.fullmatch(pattern, name))
        if not names:
            return []
        wanted = [ConfigResource(ConfigResourceType.TOPIC, name, {"message.timestamp.type": None}) for name in names]
        stamped: list[str] = []
        for response in await admin.describe_configs(wanted):
            for error_code, error_message, _, name, entries in response.resources:
                if error_code != 0:
                    raise KafkaError(f"describing topic {name}: {error_message or error_code}")
                settings = {entry[0]: entry[1] for entry in entries}
                if settings.get("message.timestamp.type") != "LogAppendTime":
                    stamped.append(name)
        return sorted(stamped)
    finally:
        await admin.close()


# Kafka protocol codes (org.apache.kafka.common.acl / resource): CreateAcls takes numbers.
_TOPIC, _LITERAL, _ALLOW = 2, 3, 3
_OPERATIONS = {"READ": 3, "WRITE": 4, "DESCRIBE": 8}


class AclsRefused(Exception):
    pass


async def create_acls(options: dict[str, Any], grants: Sequence[tuple[str, str, str]]) -> None:
    """Allow each (principal, topic, operation) on a literal topic name, for any host. Needs a
    principal with ALTER on the cluster (a super user). Creating an ACL that exists is a no-op.
    aiokafka's admin client has no ACL call, so its CreateAcls request is sent directly."""
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        for principal, topic, operation in grants:
            request = CreateAclsRequest(
                _TOPIC, topic, _LITERAL, f"User:{principal}", "*", _OPERATIONS[operation], _ALLOW
            )
            response = await admin._send_request(request)
            for error_code, message in response.creation_responses:
                if error_code != 0:
                    raise AclsRefused(f"ACL {operation} on {topic} for {principal}: error {error_code} {message}")
    finally:
        await admin.close()
