"""Why the engine refuses a message. The shell turns this into a rejections.v1 message."""

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


class InvariantBroken(AssertionError):
    """A rule of the books would be broken (a bug, never bad input): stop, do not record."""
