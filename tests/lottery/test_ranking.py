"""The published arithmetic of R11, checked against an independent few-line computation and by Hypothesis."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from lottery.verification import (
    eligible_hash_compute,
    member_id_mask,
    members_rank,
    seed_hash_compute,
    winners_select,
)

SEED = bytes(range(32))
member_ids_strategy = st.lists(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12),
    max_size=200,
    unique=True,
)


def independent_winners(seed_hex: str, member_ids: list[str], n: int) -> list[str]:
    """What a member would type, straight from R11, without the portal's code."""
    seed = bytes.fromhex(seed_hex)
    digest = {m: hmac.new(seed, m.encode("utf-8"), hashlib.sha256).hexdigest() for m in member_ids}
    return sorted(member_ids, key=lambda m: digest[m])[:n]


def test_eligible_hash_is_sha256_of_sorted_ids_each_followed_by_a_newline():
    ids = ["M2", "M10", "M1", "会員3"]
    expected = hashlib.sha256("M1\nM10\nM2\n会員3\n".encode()).hexdigest()
    assert eligible_hash_compute(ids) == expected


def test_eligible_hash_of_nobody_is_the_hash_of_the_empty_string():
    assert eligible_hash_compute([]) == hashlib.sha256(b"").hexdigest()


def test_seed_hash_is_sha256_of_the_32_seed_bytes_not_of_their_hex():
    assert seed_hash_compute(SEED) == hashlib.sha256(SEED).hexdigest()
    assert seed_hash_compute(SEED) != hashlib.sha256(SEED.hex().encode()).hexdigest()


def test_winners_match_an_independent_hmac_computation():
    ids = [f"M{i:07d}" for i in range(500)]
    ours = [m for _digest, m in winners_select(seed=SEED, member_ids=ids, winners_count=77)]
    assert ours == independent_winners(SEED.hex(), ids, 77)
    assert len(ours) == 77


def test_mask_keeps_only_the_ends_of_a_member_id():
    assert member_id_mask("M000012345") == "M00*****45"
    assert member_id_mask("AB") == "**"
    assert "0000123" not in member_id_mask("M0000123")


@settings(max_examples=30, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    member_ids=member_ids_strategy,
    winners_count=st.integers(min_value=1, max_value=100),
)
def test_winners_are_distinct_eligible_min_of_count_and_recomputable(seed, member_ids, winners_count):
    winners = winners_select(seed=seed, member_ids=member_ids, winners_count=winners_count)
    ids = [m for _digest, m in winners]
    assert len(ids) == len(set(ids)) == min(winners_count, len(member_ids))
    assert set(ids) <= set(member_ids)
    assert [d for d, _m in winners] == sorted(d for d, _m in winners)
    # Recomputed from the revealed seed (as hex) in any input order, the result is the same.
    revealed = bytes.fromhex(seed.hex())
    assert winners_select(seed=revealed, member_ids=list(reversed(member_ids)), winners_count=winners_count) == winners
    assert ids == independent_winners(seed.hex(), member_ids, winners_count)


@settings(max_examples=30, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), member_ids=member_ids_strategy)
def test_every_loser_has_a_larger_digest_than_every_winner(seed, member_ids):
    ranked = members_rank(seed=seed, member_ids=member_ids)
    winners = winners_select(seed=seed, member_ids=member_ids, winners_count=77)
    losers = ranked[len(winners) :]
    if winners and losers:
        assert max(d for d, _m in winners) < min(d for d, _m in losers)
