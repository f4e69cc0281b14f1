"""The payer data one policy references: catalogue, registries and case-mix catalogues of a
pooling region, with the digest of the files they were read from (the policy's content hash
covers it, so a settlement pins the exact catalogue that priced it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.payer_casemix import Casemix
from engine.payer_catalogue import Catalogue
from engine.payer_registry import Registry


@dataclass(frozen=True)
class PayerData:
    catalogue: Catalogue = field(default_factory=Catalogue)
    registry: Registry = field(default_factory=Registry)
    casemix: Casemix = field(default_factory=Casemix)
    digest: str = ""  # sha256 over every file read (name and bytes); "" when none
    folder: str = ""  # as the policy names it ([payer_data] dir), for sentences
    files: tuple[str, ...] = ()  # the files read, relative to ``folder``


NO_PAYER_DATA = PayerData()
