"""The entry page: one button, inside the window an entry (R2), outside it a reason; CSRF and idempotent."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from campaign.models import Entry, EntrySource
from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory, jst

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_user(campaign):
    user = UserFactory(username="M2000001")
    MemberFactory(member_id="M2000001", user=user)
    return user


def test_anonymous_visitors_are_asked_to_sign_in(client, in_campaign):
    html = client.get("/entry/").content.decode()
    assert 'href="/login/?next=/entry/"' in html
    assert 'method="post" action="/entry/"' not in html
    response = client.post("/entry/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Entry.objects.exists()


def test_a_signed_in_member_sees_one_button(client, in_campaign, member_user):
    client.force_login(member_user)
    html = client.get("/entry/").content.decode()
    assert html.count('method="post" action="/entry/"') == 1
    assert "csrfmiddlewaretoken" in html


def test_entering_creates_the_entry_and_says_earlier_payments_count(client, in_campaign, member_user):
    client.force_login(member_user)
    response = client.post("/entry/", follow=True)
    entry = Entry.objects.get(member_id="M2000001")
    assert entry.source == EntrySource.SITE
    assert entry.entered_at == jst("2026-03-15 12:00")
    assert response.redirect_chain[-1][0] == "/stamps/"
    with translation.override("en"):
        expected = gettext("You are entered. Your payments and charges since the start of the campaign count too.")
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    other = UserFactory(username="M2000002")
    MemberFactory(member_id="M2000002", user=other)
    client.force_login(other)
    english = client.post("/entry/", follow=True)
    assert [str(m) for m in english.context["messages"]] == [expected]


def test_a_double_click_makes_one_entry(client, in_campaign, member_user):
    client.force_login(member_user)
    client.post("/entry/")
    response = client.post("/entry/", follow=True)
    assert Entry.objects.filter(member_id="M2000001").count() == 1
    assert [m.level_tag for m in response.context["messages"]][-1] == "info"


def test_an_entered_member_sees_the_date_instead_of_the_button(client, in_campaign, member_user):
    EntryFactory(member_id="M2000001")
    client.force_login(member_user)
    html = client.get("/entry/").content.decode()
    assert 'method="post" action="/entry/"' not in html
    assert "3月2日(月) 09:00" in html


@pytest.mark.parametrize("now", ["2026-03-01 23:59", "2026-04-01 00:00"], ids=["before", "after"])
def test_outside_the_window_there_is_no_button_and_a_post_is_refused(client, clock, campaign, member_user, now):
    clock(now)
    client.force_login(member_user)
    html = client.get("/entry/").content.decode()
    assert 'method="post" action="/entry/"' not in html
    response = client.post("/entry/", follow=True)
    assert not Entry.objects.exists()
    assert response.redirect_chain[-1][0] == "/entry/"
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    # The reason names the window in Japan time.
    assert "3月2日(月) 00:00" in str(next(iter(response.context["messages"])))
    assert "3月31日(火) 23:59" in str(next(iter(response.context["messages"])))
    # …and says that it is the entry that was refused (the message stands apart from the button).
    assert str(next(iter(response.context["messages"]))).startswith("エントリーは")


def test_the_entry_form_is_csrf_protected(in_campaign, member_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_user)
    assert client.post("/entry/").status_code == 403
    assert not Entry.objects.exists()
