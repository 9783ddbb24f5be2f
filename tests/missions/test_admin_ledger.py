"""Stamp cards, stamps and ledger lines in the admin: read-only lists with cheap filters."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.models import Member
from missions.models import StampCard
from tests.missions.factories import LedgerLineFactory

pytestmark = pytest.mark.django_db


def test_ledger_lines_filter_by_reward_and_not_yet_exported(admin_client, campaign):
    member = Member.objects.create(member_id="M1")
    for reward in ["casual-1", "lottery"]:
        LedgerLineFactory(campaign=campaign, member=member, reward=reward)
    url = reverse("admin:missions_ledgerline_changelist")
    response = admin_client.get(url + "?reward=lottery")
    assert [line.reward for line in response.context["cl"].result_list] == ["lottery"]
    assert "mania-10" in response.content.decode()  # offered from the missions
    response = admin_client.get(url + "?export__isempty=1")
    assert len(response.context["cl"].result_list) == 2


def test_stamp_cards_filter_by_stamps_and_cannot_be_edited(admin_client, campaign):
    for member_id, stamps in [("M1", 3), ("M2", 5)]:
        StampCard.objects.create(
            campaign=campaign, member=Member.objects.create(member_id=member_id), stamps_cleared=stamps
        )
    url = reverse("admin:missions_stampcard_changelist")
    response = admin_client.get(url + "?stamps=5")
    assert [card.member_id for card in response.context["cl"].result_list] == ["M2"]
    card = StampCard.objects.get(member_id="M1")
    change = reverse("admin:missions_stampcard_change", args=[card.pk])
    assert admin_client.post(change, {"stamps_cleared": 14}).status_code == 403
    card.refresh_from_db()
    assert card.stamps_cleared == 3
