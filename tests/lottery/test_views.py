"""The public record of the draw on the special site (/lottery/)."""

from __future__ import annotations

import hashlib
import hmac

from campaign.models import Member
from lottery import services, verification
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
    assert verification.member_id_mask(winner.member_id) in html
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
    assert "You won the lottery" in html and winner in html
    assert len(ids) == 80


def test_the_frozen_eligible_list_is_published_only_after_the_draw(client, after_cutoff, alice):
    eligible_members(after_cutoff, 5)
    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    assert client.get("/lottery/eligible.txt").status_code == 404
    services.draw_perform(draw=draw, user=alice)
    response = client.get("/lottery/eligible.txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert hashlib.sha256(response.content).hexdigest() == draw.eligible_hash


def test_the_page_publishes_what_the_browser_check_compares(client, after_cutoff, alice):
    import json
    import re
    from html import unescape

    eligible_members(after_cutoff, 80)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    html = client.get("/lottery/").content.decode()
    data = json.loads(unescape(re.search(r'data-lottery="([^"]*)"', html).group(1)))
    assert data["seed"] == draw.seed and data["seed_hash"] == draw.seed_hash
    assert data["eligible_hash"] == draw.eligible_hash and data["eligible_url"] == "/lottery/eligible.txt"
    assert [w["rank"] for w in data["winners"]] == list(range(1, 78))
    assert data["winners"][-1]["digest"] == draw.cutoff_digest
    assert 'src="/static/site/lottery-verify.js"' in html and "<script>" not in html


def test_before_the_draw_the_page_offers_no_browser_check(client, after_cutoff, alice):
    eligible_members(after_cutoff, 5)
    services.draw_commit(campaign=after_cutoff, user=alice)
    assert 'id="verify"' not in client.get("/lottery/").content.decode()


def test_a_winner_sees_a_winner_card_saying_when_the_points_arrive(client, after_cutoff, alice, bob):
    ids = eligible_members(after_cutoff, 10)
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    winner = services.current_winners(draw=draw).first().member_id
    user = UserFactory(username=winner)
    Member.objects.filter(member_id=winner).update(user=user)
    client.force_login(user)
    card = client.get("/lottery/").content.decode().split('id="winner-card"')[1].split("</div>")[0]
    assert "おめでとうございます" in card and "5,000pt" in card
    assert "別の抽選担当者が抽選結果を確定した時点で付与" in card
    services.draw_confirm(draw=draw, user=bob)
    card = client.get("/lottery/").content.decode().split('id="winner-card"')[1].split("</div>")[0]
    assert "4月15日(水) 10:00に確定" in card and len(ids) == 10


def run_snippet(client, monkeypatch, member_id: str) -> str:
    """Run the Python of the page as a member would, the eligible list fetched from the portal."""
    import contextlib
    import html as html_module
    import io
    import re
    import urllib.request

    page = client.get("/lottery/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    code = html_module.unescape(re.search(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.S).group(1))
    code = code.replace('member_id = "M0000123"', f"member_id = {member_id!r}")
    served = {}

    def urlopen(url):
        served["url"] = url
        return io.BytesIO(client.get(url.split("testserver", 1)[1]).content)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})  # noqa: S102 (the page's own published code)
    return out.getvalue() + f"\nfetched {served.get('url')}"


def test_the_snippet_does_not_tell_a_member_off_the_list_that_they_won(client, after_cutoff, alice, monkeypatch):
    ids = eligible_members(after_cutoff, 5)  # fewer than 77: the cut-off digest is the largest of the five
    draw = services.draw_perform(draw=services.draw_commit(campaign=after_cutoff, user=alice), user=alice)
    seed = bytes.fromhex(draw.seed)
    outsider = next(
        m
        for m in (f"X{i:07d}" for i in range(1000))
        if hmac.new(seed, m.encode(), hashlib.sha256).hexdigest() <= draw.cutoff_digest
    )
    told = run_snippet(client, monkeypatch, outsider)
    assert " won" not in told and "not eligible" in told
    assert "fetched http://testserver/lottery/eligible.txt" in told
    assert run_snippet(client, monkeypatch, ids[0]).splitlines()[0].endswith(" won")
