"""The KRaft cluster id handed to `kafka-storage format -t ID` must not look like an option."""

from __future__ import annotations

import re

from devservers.kafka import _cluster_id


def test_cluster_ids_are_22_url_safe_characters_and_never_start_with_a_dash() -> None:
    ids = [_cluster_id() for _ in range(2_000)]  # about 31 would start with "-" if unguarded
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
