"""The public record of the draw on the special site (/lottery/)."""

from __future__ import annotations

import hashlib
import hmac

from campaign.models import Member
from lottery import services
from tests.campaign.factories import UserFactory
from tests.lottery.factories import eligible_members


def test_before_the_commit_the_page_explains_how_the_draw_will_work(client, campaign):
    response = client.get("/lottery/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert b"Not yet committed" in response.content


def test_after_the_commit_the_page_shows_the_commitment_but_not_the_seed(client, after_cutoff, alice):
    eligible_members(after_cutoff, 5)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    html = client.get("/lottery/").content.decode()
    assert draw.seed_hash in html and draw.eligible_hash in html
    assert draw.seed not in html


def test_after_the_draw_the_page_shows_the_seed_the_cutoff_and_masked_winners(client, after_cutoff, alice):
    ids = eligible_members(after_cutoff, 80)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    html = client.get("/lottery/").content.decode()
    assert draw.seed in html and draw.cutoff_digest in html
    winner = services.current_winners(draw=draw).first()
    assert services.member_id_mask(winner.member_id) in html
    assert not any(f">{m}<" in html for m in ids)
    assert "hmac.new(seed" in html


def test_the_snippet_on_the_page_tells_a_member_their_result(client, after_cutoff, alice):
    ids = eligible_members(after_cutoff, 80)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    seed = bytes.fromhex(draw.seed)
    for member_id in ids:
        digest = hmac.new(seed, member_id.encode(), hashlib.sha256).hexdigest()
        won = services.member_lottery_status(campaign=after_cutoff, member_id=member_id, eligible=True) == "won"
        assert (digest <= draw.cutoff_digest) is won


def test_a_signed_in_member_sees_their_own_result(client, after_cutoff, alice):
    ids = eligible_members(after_cutoff, 80)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    winner = services.current_winners(draw=draw).first().member_id
    user = UserFactory(username=winner)
    Member.objects.filter(member_id=winner).update(user=user)
    client.force_login(user)
    html = client.get("/lottery/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You won!" in html and winner in html
    assert len(ids) == 80
