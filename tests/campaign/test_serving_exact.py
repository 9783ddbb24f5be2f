"""Served fast and still exact: what changed shows on the next call, however the answer was kept.

The stamp card page is kept whole (campaign.stamp_card._stamp_card_kept) and its hot reads are prepared
statements on PostgreSQL (campaign.prepared): a stamp cleared a moment ago, a draw's outcome and a
sign-out still show on the very next request, and each browser gets its own CSRF token.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from campaign.models import Campaign
from lottery import services
from missions.models import StampCard
from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory, jst
from tests.lottery.factories import members_with_stamps
from tests.lottery.factories import officer as lottery_officer
from tests.missions.factories import pay, score

pytestmark = pytest.mark.django_db

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _signed_in_member(member_id: str, *, csrf_checks: bool = False):
    member = MemberFactory(member_id=member_id, user=UserFactory(username=member_id))
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(member.user)
    return member, client


def _page(client) -> str:
    response = client.get("/stamps/")
    assert response.status_code == 200
    return response.content.decode()


def _stamp(html: str, code: str) -> str:
    return html.split(f'id="stamp-{code}"')[1].split("</li>")[0]


def test_a_stamp_cleared_a_moment_ago_shows_on_the_next_page_and_api_call(
    in_campaign, system_client, django_assert_num_queries
):
    member, client = _signed_in_member("M5000001")
    EntryFactory(member=member, entered_at=jst("2026-03-10 12:00"))
    pay(member, "2026-03-11 12:00", 500)
    score(in_campaign, member)
    cache.clear()
    progress = f"/api/v1/members/{member.member_id}/progress"

    def casual_2():
        body = system_client.get(progress).json()
        return next(m for c in body["courses"] for m in c["missions"] if m["code"] == "casual-2")

    assert casual_2()["cleared"] is False
    assert 'data-cleared="false"' in _stamp(_page(client), "casual-2")
    with django_assert_num_queries(4):  # session, user, member, card state: the kept page
        assert 'data-cleared="false"' in _stamp(_page(client), "casual-2")
    for day in (12, 13):
        pay(member, f"2026-03-{day} 12:00", 500)
    score(in_campaign, member)
    assert (casual_2()["cleared"], casual_2()["cleared_at"]) == (True, "2026-03-13T12:00:00+09:00")
    casual = _stamp(_page(client), "casual-2")
    assert 'data-cleared="true"' in casual and "3月13日(金) 12:00" in casual


def test_a_draws_outcome_shows_on_the_next_page_and_api_call(clock, campaign, system_client):
    clock("2026-04-15T10:00:00+09:00")
    campaign.lottery_winners = 1
    campaign.save()
    member, client = _signed_in_member("M5000002")
    members_with_stamps(campaign, [member.member_id])
    StampCard.objects.create(
        campaign=campaign,
        member=member,
        entered=True,
        stamps_cleared=10,
        lottery_eligible=True,
        scored_at=jst("2026-04-01 09:00"),
    )
    cache.clear()
    progress = f"/api/v1/members/{member.member_id}/progress"
    status = 'id="lottery-status">'
    assert system_client.get(progress).json()["lottery"]["status"] == "not_drawn"
    awaiting = "抽選対象（抽選待ち）"
    assert _page(client).split(status)[1].startswith(awaiting)
    assert _page(client).split(status)[1].startswith(awaiting)  # the kept page
    officer = lottery_officer("officer")
    services.draw_perform(draw=services.draw_commit(campaign=Campaign.objects.current(), user=officer), user=officer)
    assert system_client.get(progress).json()["lottery"]["status"] == "won"
    assert _page(client).split(status)[1].startswith("当選！")


def test_a_kept_page_carries_each_browsers_own_valid_csrf_token(in_campaign):
    member, first = _signed_in_member("M5000003", csrf_checks=True)
    EntryFactory(member=member, entered_at=jst("2026-03-10 12:00"))
    score(in_campaign, member)
    cache.clear()
    rendered, kept = _page(first), _page(first)
    assert "csrf-token-of-the-request" not in kept
    (token,) = set(_TOKEN.findall(rendered))  # the language and the sign-out forms
    (kept_token,) = set(_TOKEN.findall(kept))
    assert len(_TOKEN.findall(kept)) == 2 and kept_token != token  # masked afresh for the request
    second = Client(enforce_csrf_checks=True)
    second.force_login(member.user)
    other = _page(second)  # the same member in another browser: the kept page, its own token
    for client, html in ((first, kept), (second, other)):
        token = _TOKEN.findall(html)[0]
        answer = client.post("/i18n/setlang/", {"language": "en", "next": "/stamps/", "csrfmiddlewaretoken": token})
        assert answer.status_code == 302
    assert first.post("/i18n/setlang/", {"language": "ja", "csrfmiddlewaretoken": "x" * 64}).status_code == 403


def test_a_signed_out_session_is_refused_on_the_next_request(in_campaign):
    member, client = _signed_in_member("M5000004")
    EntryFactory(member=member, entered_at=jst("2026-03-10 12:00"))
    score(in_campaign, member)
    _page(client)
    _page(client)
    key = client.cookies["sessionid"].value
    client.post("/logout/")
    stolen = Client()
    stolen.cookies["sessionid"] = key
    answer = stolen.get("/stamps/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_a_wester_id_sessions_user_and_member_are_one_read_and_changes_show_on_the_next_request(
    in_campaign, django_assert_num_queries
):
    """A member signed in with WESTER ID: the kept page reads the session, the user with its member
    (campaign.sessions.member_user_read) and the card's state; an unlinked member, a changed
    password and a deleted user each show on the very next request."""
    member = MemberFactory(member_id="M5000005", user=UserFactory(username="M5000005"))
    EntryFactory(member=member, entered_at=jst("2026-03-10 12:00"))
    score(in_campaign, member)
    cache.clear()
    client = Client()
    client.force_login(member.user, backend="campaign.wester_id.WesterIdBackend")
    _page(client)
    with django_assert_num_queries(3):
        assert 'id="stamp-card"' in _page(client)
    assert client.get("/api/v1/me/progress").json()["member_id"] == "M5000005"

    user = member.user
    member.user = None
    member.save()
    assert client.get("/stamps/").status_code == 404
    member.user = user
    member.save()
    assert client.get("/stamps/").status_code == 200
    user.set_password("changed elsewhere")
    user.save()
    assert "/login/" in client.get("/stamps/")["Location"]

    client.force_login(user, backend="campaign.wester_id.WesterIdBackend")
    assert client.get("/stamps/").status_code == 200
    user.delete()
    assert "/login/" in client.get("/stamps/")["Location"]
