"""The campaign page (/): everything the announcement tells a customer, from the seed data."""

from __future__ import annotations

import re

import pytest

from missions.models import Mission

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    """What a reader sees: the markup (phrase breaks, links) taken out."""
    return re.sub(r"<[^>]+>", "", html)


def test_campaign_page_shows_the_period_entry_call_and_maximum(client, in_campaign):
    html = client.get("/").content.decode()
    assert "2026年3月2日(月)〜3月31日(火)" in html
    assert "11,000pt" in html
    assert 'class="button" href="/entry/"' in html


def test_every_mission_of_every_course_is_a_card_with_its_reward(client, in_campaign):
    html = client.get("/").content.decode()
    for mission in Mission.objects.filter(campaign=in_campaign):
        assert f'id="mission-{mission.code}"' in html
        assert mission.title_ja in _text(html)
    assert "100pt" in html and "200pt" in html  # the video mission: per video, at most
    # Course maxima come from the missions: casual 1,000, mania 4,000 (+5,000 by lottery), bonus 1,000.
    for course, points in (("casual", "1,000pt"), ("mania", "4,000pt"), ("bonus", "1,000pt")):
        head = html.split(f'id="course-{course}"')[1].split("</div>")[0]
        assert points in head
    assert "5,000pt" in html.split('id="course-mania"')[1].split("</div>")[0]


def test_the_lottery_notes_and_charging_methods_are_shown(client, in_campaign):
    html = client.get("/").content.decode()
    assert 'id="mission-lottery"' in html
    assert "77" in html and "5,000pt" in html
    for note in in_campaign.notes:
        assert note["ja"] in _text(html)
    assert html.count("<li>", html.index('class="charge-methods"')) >= 3


def test_what_marketing_edits_is_what_customers_see(client, in_campaign):
    Mission.objects.filter(campaign=in_campaign, code="mania-5").update(reward_points=250, title_ja="税込3,000円以上")
    html = client.get("/").content.decode()
    assert "税込3,000円以上" in _text(html)
    assert "250pt" in html
    assert "11,050pt" in html  # the maximum follows the rewards


def test_the_page_reads_in_english_after_the_language_switch(client, in_campaign):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="en"' in html
    assert "Mon 2 Mar – Tue 31 Mar 2026" in html
    assert "Pay 3,000 yen or more once" in html
    assert in_campaign.notes[0]["en"] in _text(html)


def test_after_the_period_the_page_says_entry_is_closed(client, clock, campaign):
    clock("2026-04-02 10:00")
    html = client.get("/").content.decode()
    assert 'href="/entry/" class="button"' not in html and 'class="button" href="/entry/"' not in html


def test_a_member_who_entered_is_sent_to_the_stamp_card(client, in_campaign):
    from tests.campaign.factories import EntryFactory, UserFactory

    user = UserFactory(username="M0000077")
    EntryFactory(member__member_id="M0000077", member__user=user)
    client.force_login(user)
    html = client.get("/").content.decode()
    assert 'href="/stamps/"' in html.split('class="hero"')[1].split("</section>")[0]


@pytest.mark.parametrize("url", ["/", "/merchants/", "/login/", "/faq/", "/entry/", "/videos/"])
def test_every_page_has_the_language_switch_navigation_and_a_lottery_link(client, in_campaign, url):
    html = client.get(url).content.decode()
    assert 'action="/i18n/setlang/"' in html
    assert 'value="ja"' in html and 'value="en"' in html
    assert 'href="/lottery/"' in html
    assert "<h1" in html and '<main id="main"' in html
    assert "csrfmiddlewaretoken" in html


def test_the_site_uses_no_external_assets(client, in_campaign):
    html = client.get("/").content.decode()
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
