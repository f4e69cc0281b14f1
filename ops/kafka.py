"""Kafka connection settings → aiokafka keyword arguments and FastStream security, one place."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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


async def ensure_topics(options: dict[str, Any], names: Sequence[str], *, partitions: int = 1) -> list[str]:
    """Create the topics that do not exist yet (replicated three times, or on every broker of a
    smaller cluster); returns the ones created. A cluster that forbids it (ACLs, Strimzi's topic operator) raises
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
            await admin.create_topics([NewTopic(name, partitions, replicas) for name in missing])
        except TopicAlreadyExistsError:
            pass  # a concurrent creator won the race
        except KafkaError as error:
            raise TopicsMissing(f"topics {', '.join(missing)} do not exist and cannot be created: {error}") from None
        return missing
    finally:
        await admin.close()


class TopicsMissing(Exception):
    pass


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
