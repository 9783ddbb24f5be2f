"""What the site says never contradicts the campaign: one test per state the issue found wrong."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from lottery import services
from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory, jst
from tests.lottery.factories import eligible_members, officer
from tests.missions.factories import charge, score

pytestmark = pytest.mark.django_db


def _member(member_id: str):
    return MemberFactory(member_id=member_id, user=UserFactory(username=member_id))


def _page(client, member, url: str, **headers) -> str:
    cache.clear()
    if member is not None:
        client.force_login(member.user)
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_after_the_cut_off_no_entry_offer_is_made_on_the_stamp_card(client, clock, campaign):
    member = _member("M4000001")
    charge(member, "2026-03-03 08:00", 100000)
    score(campaign, member)
    clock("2026-04-02 10:00")
    text = _text(_page(client, member, "/stamps/"))
    assert "エントリーすると" not in text and "Entering now" not in text
    assert 'id="entry-offer"' not in _page(client, member, "/stamps/")
    assert "エントリー期間は終了しました" in text
    assert "キャンペーン期間中にエントリーされていません" in text  # why the payments did not count
    assert 'action="/entry/"' not in _page(client, member, "/stamps/")


def test_during_the_period_a_member_with_payments_is_told_what_entering_gives(client, in_campaign):
    member = _member("M4000002")
    charge(member, "2026-03-03 08:00", 12000)
    score(in_campaign, member)
    html = _page(client, member, "/stamps/")
    offer = _text(html.split('id="entry-offer"')[1].split("</p>")[0])
    assert re.search(r"[1-9][\d,]*pt", offer)


def test_a_member_with_no_activity_is_offered_the_first_mission_not_0_pt(client, in_campaign):
    member = _member("M4000003")
    html = _page(client, member, "/stamps/")
    offer = _text(html.split('id="entry-offer"')[1].split("</p>")[0])
    assert "0pt" not in offer.replace("00pt", "")
    assert "カジュアルコース" in offer and "まずは" in offer


def test_the_home_badge_says_entered_to_a_member_who_entered(client, in_campaign):
    member = _member("M4000004")
    EntryFactory(member=member, entered_at=jst("2026-03-05 10:00"))
    hero = _page(client, member, "/").split('class="hero"')[1].split("</section>")[0]
    assert "エントリー済み" in hero and "要エントリー" not in hero
    entry_page = _page(client, member, "/entry/")
    assert "エントリー済み" in entry_page and "要エントリー" not in entry_page


def test_the_home_badge_asks_for_entry_only_while_entry_is_open(client, in_campaign):
    hero = _page(client, None, "/").split('class="hero"')[1].split("</section>")[0]
    assert "要エントリー" in hero


def test_after_the_end_the_home_page_says_the_campaign_ended_with_the_lottery_status(client, clock, campaign):
    clock("2026-04-15 10:00")
    hero = _page(client, None, "/").split('class="hero"')[1].split("</section>")[0]
    assert "キャンペーンは終了しました" in hero and "要エントリー" not in hero
    assert "データ締め切り後に抽選" in hero
    eligible_members(campaign, 3)
    alice = officer("alice")
    services.draw_perform(draw=services.draw_commit(campaign=campaign, user=alice), user=alice)
    hero = _page(client, None, "/").split('class="hero"')[1].split("</section>")[0]
    assert "抽選済み" in hero and 'href="/lottery/"' in hero


def test_the_notes_link_the_bonus_merchants_and_the_contact(client, in_campaign, settings):
    settings.PORTAL_CONTACT_URL = "https://support.example.jp/wesmo"
    settings.PORTAL_SERVICE_URL = "https://wesmo.example.jp/"
    notes = _page(client, None, "/").split('class="notes"')[1].split("</ul>")[0]
    assert re.search(r'<a href="/merchants/">別紙\s?1</a>', notes)
    assert '<a href="https://support.example.jp/wesmo">お問い合わせ</a>' in notes
    assert re.search(r'<a href="https://wesmo.example.jp/">Wesmo!\s?サービスサイト</a>', notes)
    assert 'id="contact-link" ' not in notes
    assert 'href="https://support.example.jp/wesmo" id="contact-link"' in _page(client, None, "/faq/")


def test_without_a_contact_setting_the_contact_links_go_to_the_faq(client, in_campaign, settings):
    settings.PORTAL_CONTACT_URL = ""
    html = _page(client, None, "/")
    assert 'href="/faq/#contact" id="contact-link"' in html
    assert 'id="contact"' in _page(client, None, "/faq/")


def test_the_faq_answers_the_questions_of_the_announcement(client, in_campaign):
    html = _page(client, None, "/faq/")
    for section in ("entry", "retroactive", "points", "delay", "cancel", "videos", "lottery", "sign-in"):
        assert f'id="faq-{section}"' in html
    assert "更新" in html and "数分" in html
    assert "77名" in _text(html)
    english = _page(Client(), None, "/faq/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Do payments made with WESTER points count?" in english


@pytest.mark.parametrize(("language", "title"), [("ja", "ページが見つかりません"), ("en", "Page not found")])
def test_the_404_page_is_the_sites_own_in_the_visitors_language(client, in_campaign, settings, language, title):
    settings.DEBUG = False
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    html = response.content.decode()
    assert title in html and 'class="site-header"' in html and f'<html lang="{language}"' in html


def test_another_members_stamp_card_is_the_branded_404(client, in_campaign, settings):
    settings.DEBUG = False
    member = _member("M4000005")
    client.force_login(member.user)
    response = client.get("/members/M4000006/stamps/")
    assert response.status_code == 404 and "ページが見つかりません" in response.content.decode()


def test_a_form_without_its_csrf_token_gets_the_branded_403(in_campaign, settings):
    settings.DEBUG = False
    member = _member("M4000007")
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    response = client.post("/entry/")
    assert response.status_code == 403
    assert "この操作は許可されていません" in response.content.decode()


def test_a_server_error_gets_the_branded_500(in_campaign, settings):
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "一時的なエラーが発生しました" in html and 'class="site-header"' in html


def test_every_page_has_a_favicon_a_description_and_open_graph_tags(client, in_campaign):
    for url in ("/", "/faq/", "/entry/", "/lottery/", "/login/"):
        html = _page(client, None, url)
        assert 'rel="icon" href="/static/site/favicon.svg"' in html
        assert re.search(r'<meta name="description" content="[^"]{20,}">', html)
        for prop in ("og:title", "og:description", "og:image", "og:url", "og:type"):
            assert f'property="{prop}"' in html
        assert 'content="http://testserver/static/site/og-image.png"' in html


def test_head_of_the_campaign_page_answers_200(client, in_campaign):
    response = client.head("/")
    assert response.status_code == 200
    assert client.head("/faq/").status_code == 200
