"""Why the engine refuses a message, and the errors that are the engine's own.

Only these are answers: ``Rejected`` (the message's fault), ``UnknownPolicy`` and ``PolicyGap``
(the policy files do not cover the case). Anything else raised while pricing — a KeyError, an
IndexError, an ``InvariantBroken`` — is a bug, and the shell must never store it as an answer.
None of them is a ``LookupError``, so a stray ``except LookupError`` cannot swallow a bug.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import RejectionCode


@dataclass(frozen=True)
class Rejected(Exception):
    code: RejectionCode
    message: str  # a sentence for a person: what is wrong and what to do
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


class UnknownPolicy(Exception):
    """No policy file is in force for the person's region, scheme and date."""


class PolicyGap(Exception):
    """The policy in force has no entry for the case (an institution level, a person type) and
    no "default": the policy file is to be completed; the sentence names what is missing."""


class InvariantBroken(AssertionError):
    """A rule of the books would be broken (a bug, never bad input): stop, do not record."""


class UnreadableEvent(Exception):
    """A recorded event this code cannot read: an unknown type, a schema version it has no
    upcaster for (or a newer one than it knows), or a body that does not fit its schema.
    Raised by engine.events.from_record; an audit reports it as a finding."""

    def __init__(self, event_type: str, version: object, reason: str) -> None:
        super().__init__(f"{event_type} version {version}: {reason}")
        self.event_type, self.version, self.reason = event_type, version, reason
