"""The stamp card: own card only, stamps with dates or progress, points, transactions explained."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaign.models import Campaign
from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory, jst
from tests.missions.factories import charge, pay, score

pytestmark = pytest.mark.django_db


def _member(member_id: str):
    user = UserFactory(username=member_id)
    return MemberFactory(member_id=member_id, user=user)


@pytest.fixture
def entered(in_campaign):
    """M3000001 entered on 10 March; one charge and two 500-yen payments earlier in the period."""
    member = _member("M3000001")
    EntryFactory(member=member, entered_at=jst("2026-03-10 12:00"))
    charge(member, "2026-03-03 08:00", 12000, transaction_id="T-CHARGE")
    pay(member, "2026-03-04 07:30", 600, transaction_id="T-MORNING")
    pay(member, "2026-03-05 20:00", 800, points_used=800, transaction_id="T-POINTS")
    score(in_campaign, member)
    cache.clear()  # rendered cards are reused across requests (and tests) of one process
    return member


def _card(client, member, url="/stamps/"):
    client.force_login(member.user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _stamp(html: str, code: str) -> str:
    return html.split(f'id="stamp-{code}"')[1].split("</li>")[0]


def test_anonymous_visitors_are_sent_to_sign_in(client, in_campaign):
    for url in ("/stamps/", "/stamps/card/", "/members/M3000001/stamps/", "/stamps/history/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_cleared_stamps_carry_the_date_they_were_cleared(client, entered):
    html = _card(client, entered)
    casual_1 = _stamp(html, "casual-1")
    assert 'data-cleared="true"' in casual_1
    assert "CLEAR" in casual_1 and "3/3" in casual_1 and "3月3日(火) 08:00" in casual_1
    assert "3月4日(水) 07:30" in _stamp(html, "mania-2")


def test_open_stamps_show_progress_in_the_units_of_the_mission(client, entered):
    html = _card(client, entered)
    assert "1/3回" in _stamp(html, "casual-2")
    assert "1/10日" in _stamp(html, "mania-6")
    assert "0/2本" in _stamp(html, "mania-1")
    assert 'data-cleared="false"' in _stamp(html, "casual-2")


def test_points_by_course_and_type_and_when_scored(client, entered):
    html = _card(client, entered)
    # casual-1 200 + mania-2 200 + mania-7 200 = 600 limited points.
    assert 'id="points-limited">600pt<' in html
    assert 'id="points-basic">0pt<' in html
    assert "200pt / 1,000pt" in html  # the casual course
    assert 'id="scored-at"><time datetime="2026-' in html
    assert "3月10日(火) 12:00" in html  # entered at


def test_transactions_say_what_they_counted_for_or_why_not(client, entered):
    html = _card(client, entered)
    morning = html.split('id="tx-T-MORNING"')[1].split("</li>\n    \n")[0]
    assert "600円" in morning
    assert "ミッション②" in morning  # mania-2, the morning mission
    points = html.split('id="tx-T-POINTS"')[1].split('id="tx-')[0]
    assert "800円" in points
    assert 'class="counted"' not in points
    assert 'class="why"' in points


def test_a_member_who_has_not_entered_sees_what_entry_would_give_and_a_button(client, in_campaign):
    member = _member("M3000002")
    charge(member, "2026-03-03 08:00", 100000)
    score(in_campaign, member)
    html = _card(client, member)
    assert 'id="not-entered"' in html
    assert "1,900pt" in html.split('id="not-entered"')[1].split("</div>")[0]  # 200 + 200 + 500 + 1,000
    assert 'method="post" action="/entry/"' in html
    assert 'data-would-clear="true"' in _stamp(html, "mania-10")
    assert 'data-cleared="false"' in _stamp(html, "mania-10")


def test_after_the_period_a_member_who_did_not_enter_gets_no_button(client, clock, campaign):
    clock("2026-04-05 10:00")
    member = _member("M3000003")
    html = _card(client, member)
    assert 'id="not-entered"' in html
    assert 'method="post" action="/entry/"' not in html


def test_an_entered_member_after_the_period_still_sees_the_card(client, clock, entered):
    clock("2026-04-05 10:00")
    html = _card(client, entered)
    assert 'id="not-entered"' not in html
    assert 'data-cleared="true"' in _stamp(html, "casual-1")


def test_another_members_id_in_the_url_gives_404(client, entered):
    other = _member("M3000009")
    client.force_login(other.user)
    assert client.get(f"/members/{entered.member_id}/stamps/").status_code == 404
    assert client.get("/members/M3000009/stamps/").status_code == 200


def test_the_own_card_url_shows_the_own_card(client, entered):
    html = _card(client, entered, f"/members/{entered.member_id}/stamps/")
    assert "M3000001" in html


def test_a_sign_in_without_a_member_gets_404(client, in_campaign):
    user = get_user_model().objects.create_user(username="staff-without-member", password="x-Y-z-12345")
    client.force_login(user)
    assert client.get("/stamps/").status_code == 404
    assert client.get("/stamps/card/").status_code == 404


def test_the_refresh_fragment_is_the_card_alone_and_is_not_cached(client, entered):
    client.force_login(entered.user)
    response = client.get("/stamps/card/")
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert html.lstrip().startswith('<div id="stamp-card"')
    assert "<html" not in html
    pay(entered, "2026-03-06 09:00", 700, transaction_id="T-NEW")
    score(Campaign.objects.current(), entered)
    assert "2/3回" in _stamp(client.get("/stamps/card/").content.decode(), "casual-2")


def test_the_card_reads_in_english_with_yen_amounts(client, entered):
    client.force_login(entered.user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/stamps/"})
    html = client.get("/stamps/").content.decode()
    assert "¥600" in html and "¥12,000" in html
    assert "1/3 payments" in _stamp(html, "casual-2")
    assert "Tue 3 Mar 08:00" in html


def test_the_page_makes_the_same_number_of_queries_whatever_the_history(client, entered):
    client.force_login(entered.user)
    client.get("/stamps/")  # warm up: session, user
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        assert client.get("/stamps/").status_code == 200
    for day in range(6, 31):
        pay(entered, f"2026-03-{day:02d} 12:30", 5500)
        charge(entered, f"2026-03-{day:02d} 18:00", 1000)
    score(Campaign.objects.current(), entered)
    with CaptureQueriesContext(connection) as many:
        html = client.get("/stamps/").content.decode()
    # The card lists the newest ten (the 18:00 charge of the 30th first) and links to the rest.
    listed = [part.split('"')[0] for part in html.split('id="tx-')[1:]]
    assert len(listed) == 10 and 'href="/stamps/history/"' in html
    assert html.index("3月30日(月) 18:00") < html.index("3月30日(月) 12:30") < html.index("3月26日(木) 12:30")
    assert "3月25日(水) 18:00" not in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_card_with_ten_records_or_fewer_has_no_link_to_the_history(client, entered):
    html = _card(client, entered)
    assert html.count('id="tx-') == 3 and "/stamps/history/" not in html


def test_the_history_lists_every_record_explained_twenty_a_page_newest_first(client, entered):
    for day in range(6, 26):  # 20 more: 23 records, two pages
        pay(entered, f"2026-03-{day:02d} 12:30", 5500, transaction_id=f"T-DAY-{day:02d}")
    score(Campaign.objects.current(), entered)
    first = _card(client, entered, "/stamps/history/")
    ids = [part.split('"')[0] for part in first.split('id="tx-')[1:]]
    assert ids == [f"T-DAY-{day:02d}" for day in range(25, 5, -1)]
    assert "全23件中 1〜20件目" in first and 'rel="next" href="?page=2"' in first and 'rel="prev"' not in first
    second = _card(client, entered, "/stamps/history/?page=2")
    assert [part.split('"')[0] for part in second.split('id="tx-')[1:]] == ["T-POINTS", "T-MORNING", "T-CHARGE"]
    assert 'rel="prev" href="?page=1"' in second and 'rel="next"' not in second
    morning = second.split('id="tx-T-MORNING"')[1].split('id="tx-')[0]
    assert "ミッション②" in morning  # explained as on the card: mania-2, the morning mission
    points = second.split('id="tx-T-POINTS"')[1].split('id="tx-')[0]
    assert 'class="counted"' not in points and 'class="why"' in points
    assert '<a href="/stamps/" aria-current="true">' in first  # the card's page in the site's menu
    assert _card(client, entered, "/stamps/history/?page=99").count('id="tx-') == 3  # the last page
    assert _card(client, entered, "/stamps/history/?page=x").count('id="tx-') == 20  # the first


def test_the_history_is_the_own_members_only(client, entered):
    assert client.get("/stamps/history/").status_code == 302  # not signed in: to the sign-in page
    other = _member("M3000005")
    client.force_login(other.user)
    assert client.get("/members/M3000001/stamps/history/").status_code == 404
    html = client.get("/stamps/history/").content.decode()
    assert 'id="tx-' not in html and "M3000001" not in html


# session, user, campaign, member, card state with its transactions' fingerprint, missions (6, the
# page's own) + the courses and missions a process keeps (3), the progress document (3) and the
# explained transactions (8).
PAGE_QUERIES = 20
# Unchanged card: session, user, member, card state with its transactions' fingerprint.
PAGE_QUERIES_UNCHANGED = 4


def test_the_page_query_count_is_bounded(client, entered, django_assert_max_num_queries, django_assert_num_queries):
    client.force_login(entered.user)
    client.get("/")
    cache.clear()
    with django_assert_max_num_queries(PAGE_QUERIES):
        client.get("/stamps/")
    with django_assert_num_queries(PAGE_QUERIES_UNCHANGED):
        client.get("/stamps/")
    with django_assert_num_queries(PAGE_QUERIES_UNCHANGED):
        client.get("/stamps/card/")


def test_a_reused_card_is_never_another_members_or_another_languages(client, entered, in_campaign):
    other = _member("M3000004")
    EntryFactory(member=other)
    score(in_campaign, other)
    html = _card(client, entered)
    assert "M3000001" in html
    client.force_login(other.user)
    fragment = client.get("/stamps/card/").content.decode()
    assert 'id="tx-T-MORNING"' not in fragment
    client.force_login(entered.user)
    ja = client.get("/stamps/card/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    en = client.get("/stamps/card/").content.decode()
    assert "600円" in ja and "¥600" in en


def test_a_new_transaction_shows_even_when_it_changes_no_stamp(client, entered):
    client.force_login(entered.user)
    assert 'id="tx-T-LATE"' not in client.get("/stamps/card/").content.decode()
    pay(entered, "2026-03-07 15:00", 100, points_used=100, transaction_id="T-LATE")  # counts for nothing
    assert 'id="tx-T-LATE"' in client.get("/stamps/card/").content.decode()
