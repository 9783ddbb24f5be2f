"""The member page: the stamp card as the customer sees it, the ledger lines, the explained transactions, re-score."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from missions.models import LedgerLine, Mission, Stamp
from tests.campaign.factories import UserFactory
from tests.missions.factories import EntryFactory, MemberFactory, cancel, charge, pay, score

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(in_campaign):
    member = MemberFactory(member_id="M-PAGE")
    EntryFactory(campaign=in_campaign, member=member)
    charge(member, "2026-03-03 08:00", 100000)
    kept = pay(member, "2026-03-06 07:30", 3500)
    cancel(member, "2026-03-07 09:00", pay(member, "2026-03-06 12:00", 900))
    score(in_campaign, member)
    member.kept = kept
    return member


def test_search_by_member_id_finds_exactly_that_member(admin_client, member):
    MemberFactory(member_id="M-PAGE-2")
    response = admin_client.get(reverse("admin:campaign_member_changelist") + "?q=M-PAGE")
    assert [m.member_id for m in response.context["cl"].result_list] == ["M-PAGE"]


def test_member_page_shows_stamp_card_ledger_and_explained_transactions(admin_client, member, in_campaign):
    response = admin_client.get(reverse("admin:campaign_member_change", args=[member.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["progress"]["member_id"] == "M-PAGE"
    # The stamp card: every mission of the campaign by its title, the cleared ones marked.
    for code in ["casual-1", "mania-5", "mania-10", "bonus-1"]:
        assert Mission.objects.get(code=code).title_ja in page
    assert Stamp.objects.filter(member=member, cleared=True, mission__code="mania-10").exists()
    assert page.count("✓") == Stamp.objects.filter(member=member, cleared=True).count()
    # The ledger lines, each with its id.
    lines = LedgerLine.objects.filter(member=member)
    assert lines.exists()
    for line in lines:
        assert f"<td>{line.pk}</td>" in page
    # The transactions with their explanation: the cancelled one says why it counts for nothing.
    assert member.kept.transaction_id in page
    assert response.context["explained_count"] == 4
    explained = {tx["transaction_id"]: tx for tx in response.context["explained"]}
    assert explained[member.kept.transaction_id]["counted_for"]
    assert any(tx["cancelled"] for tx in explained.values())


def test_member_page_speaks_japanese_with_times_in_jst_and_statuses_in_words(admin_client, member):
    page = admin_client.get(reverse("admin:campaign_member_change", args=[member.pk])).content.decode()
    assert "3月3日(火) 08:00" in page  # the charge, in Japan time with its weekday
    assert "抽選：対象外（抽選前）。" in page and "not_drawn" not in page  # Japanese punctuation too
    assert f"「{Mission.objects.get(code='casual-1').title_ja}」クリア" in page  # the ledger line's reward
    assert "期間・用途限定ポイント" in page and "limited</td>" not in page
    assert "2026-03-03T08:00" not in page


def test_rescore_action_scores_the_member_and_records_the_actor(admin_client, admin_user, in_campaign):
    member = MemberFactory(member_id="M-LATE")
    EntryFactory(campaign=in_campaign, member=member)
    charge(member, "2026-03-03 08:00", 1000)  # stored but not scored yet
    assert not Stamp.objects.filter(member=member, cleared=True).exists()

    response = admin_client.post(reverse("admin:campaign_member_rescore", args=[member.pk]))
    assert response.status_code == 302
    assert Stamp.objects.filter(member=member, cleared=True, mission__code="casual-1").exists()
    log = LogEntry.objects.get(object_id="M-LATE")
    assert log.user == admin_user and "会員 M-LATE を再集計" in log.change_message  # in the staff member's language


def test_rescore_needs_a_post(admin_client, member):
    assert admin_client.get(reverse("admin:campaign_member_rescore", args=[member.pk])).status_code == 405


def test_operations_see_the_members_site_sign_in_without_a_link_to_the_user_page_they_cannot_open(client, member):
    member.user = UserFactory(username="M-SIGNIN")
    member.save()
    user = UserFactory(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name="operations"))
    client.force_login(user)
    page = client.get(reverse("admin:campaign_member_change", args=[member.pk])).content.decode()
    assert "M-SIGNIN" in page
    assert reverse("admin:auth_user_change", args=[member.user.pk]) not in page
    assert client.get(reverse("admin:auth_user_change", args=[member.user.pk])).status_code == 403


def test_operations_see_the_member_page_with_the_rescore_button(client, member):
    user = UserFactory(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name="operations"))
    client.force_login(user)
    page = client.get(reverse("admin:campaign_member_change", args=[member.pk])).content.decode()
    assert 'id="rescore-form"' in page and 'id="stamp-card"' in page
