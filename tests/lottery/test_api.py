"""``GET /api/v1/lottery``: the public record of the draw, recomputable by anyone (SPEC 3.3)."""

from __future__ import annotations

import hashlib
import hmac

from rest_framework.test import APIClient

from lottery import services
from tests.lottery.factories import eligible_members


def lottery(client=None) -> dict:
    response = (client or APIClient()).get("/api/v1/lottery")
    assert response.status_code == 200
    return response.json()


def test_before_the_commit_counts_and_hashes_are_null(campaign):
    assert lottery() == {
        "status": "not_committed",
        "winners_count": 77,
        "eligible_count": None,
        "eligible_hash": None,
        "seed_hash": None,
        "seed": None,
        "cutoff_digest": None,
    }


def test_after_the_commit_the_seed_stays_secret(after_cutoff, alice):
    ids = eligible_members(after_cutoff, 4)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    body = lottery()
    assert body["status"] == "committed"
    assert body["eligible_count"] == 4
    assert body["eligible_hash"] == hashlib.sha256("".join(f"{m}\n" for m in sorted(ids)).encode()).hexdigest()
    assert body["seed_hash"] == draw.seed_hash
    assert body["seed"] is None and body["cutoff_digest"] is None
    assert draw.seed not in str(body)


def test_after_the_draw_anyone_can_recompute_the_result_from_the_answer(after_cutoff, alice, bob):
    ids = eligible_members(after_cutoff, 90)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    body = lottery()
    assert body["status"] == "drawn"
    seed = bytes.fromhex(body["seed"])
    assert hashlib.sha256(seed).hexdigest() == body["seed_hash"]
    digests = sorted(hmac.new(seed, m.encode(), hashlib.sha256).hexdigest() for m in ids)
    assert body["cutoff_digest"] == digests[76]
    winners = {m for m in ids if hmac.new(seed, m.encode(), hashlib.sha256).hexdigest() <= body["cutoff_digest"]}
    assert winners == set(services.current_winners(draw=draw).values_list("member_id", flat=True))

    services.draw_confirm(draw=draw, user=bob)
    assert lottery()["status"] == "confirmed"


def test_the_lottery_api_needs_no_token_and_is_in_the_schema(campaign, system_client):
    assert lottery(system_client)["status"] == "not_committed"
    schema = APIClient().get("/api/schema/", {"format": "json"})
    assert "/api/v1/lottery" in schema.json()["paths"]
