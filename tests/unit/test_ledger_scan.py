"""The audit's bulk read: COPY's text format read back, and the v2 hash from the stored text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from ledger.audit import chain_breaks, spliced_hash_v2
from ledger.hashing import GENESIS, HASH_V2, canonical_time, jsonb_text, recompute_hash
from ledger.scan import CopyLines, ScannedEvent, scanned_from_copy
from ledger.store import RecordedEvent

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


def test_whole_lines_come_out_however_the_copy_output_is_cut() -> None:
    text = "P1/2025\t1\t中文 🙂\nP2/2025\t2\tb\\\\c\n"
    data = text.encode()
    for cut in range(len(data) + 1):  # every cut, including inside a multi-byte character
        lines = CopyLines()
        assert lines.feed(data[:cut]) + lines.feed(data[cut:]) == text.splitlines()
        lines.finish()


def test_copy_escapes_are_undone_in_every_field() -> None:
    line = 'P\\t1/2025\t3\t65536\tid\tOdd\\\\Type\t{"k": "a\\\\\\\\b\\\\nc"}\to\tr\tp\th\t2'
    event = scanned_from_copy(line)
    assert (event.stream_id, event.version, event.position, event.event_type) == ("P\t1/2025", 3, 65536, "Odd\\Type")
    assert event.data == '{"k": "a\\\\b\\nc"}' and event.hash_alg == 2


@given(stream=texts.filter(bool), kind=texts.filter(bool), data=st.dictionaries(texts, values, max_size=4))
def test_the_spliced_v2_hash_is_the_v2_hash(stream: str, kind: str, data: dict[str, object]) -> None:
    ident = uuid.uuid4()
    fields = {"stream_id": stream, "version": 7, "event_id": ident, "event_type": kind, "data": data, "occurred_at": T0}
    expected = recompute_hash(HASH_V2, GENESIS, **fields)  # type: ignore[arg-type]
    scanned = ScannedEvent(stream, 7, 1, str(ident), kind, jsonb_text(data), canonical_time(T0), canonical_time(T0),
                           GENESIS, expected, HASH_V2)  # fmt: skip
    assert spliced_hash_v2(scanned) == expected


def test_a_float_under_a_correct_v2_hash_still_cannot_be_hashed_by_the_ledgers_rules() -> None:
    """jsonb keeps 1.5 and PostgreSQL's text hashes it; the ledger never writes a float (money is
    int fen), so the audit names it as before the hash was spliced."""
    data = {"amount": 1.5}
    text = '{"amount": 1.5}'
    ident = uuid.uuid4()
    probe = ScannedEvent("P/2025", 1, 1, str(ident), "AccountCredited", text, canonical_time(T0), canonical_time(T0),
                         GENESIS, "", HASH_V2)  # fmt: skip
    digest = spliced_hash_v2(probe)
    event = RecordedEvent("P/2025", 1, 1, ident, "AccountCredited", data, T0, T0, GENESIS, digest, HASH_V2)
    (crack,) = chain_breaks("P/2025", [event])
    assert crack.reason == "content cannot be hashed: float is not allowed in ledger JSON (money is int fen)"
