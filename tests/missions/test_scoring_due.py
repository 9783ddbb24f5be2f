"""The scoring outbox: members marked due with their records, cleared by the scoring that saw them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from missions.models import ScoringDue
from missions.services import members_score, scoring_due_mark, scoring_due_oldest, scoring_lag_seconds
from tests.missions.factories import EntryFactory, cleared_codes, pay

pytestmark = pytest.mark.django_db


def test_a_member_marked_due_is_cleared_by_the_scoring_of_its_records(in_campaign):
    member = EntryFactory().member
    pay(member, "2026-03-10 12:00", 3000)
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=[member.pk, member.pk])
    assert ScoringDue.objects.filter(member_id=member.pk).count() == 1
    members_score(campaign=in_campaign, member_ids=[member.pk])
    assert not ScoringDue.objects.exists()
    assert "mania-5" in cleared_codes(member)


def test_marking_again_keeps_the_earliest_time_the_member_became_due(in_campaign, clock):
    clock("2026-03-15 12:00")
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=["M1"])
    clock("2026-03-15 12:05")
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=["M1", "M2"])
    assert scoring_lag_seconds() == 300
    due = dict(ScoringDue.objects.values_list("member_id", "since"))
    assert due["M2"] - due["M1"] == timedelta(minutes=5)


def test_the_sweep_takes_only_members_due_longer_than_asked_oldest_first(in_campaign, clock):
    clock("2026-03-15 12:00")
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=["OLD"])
    clock("2026-03-15 12:01:30")
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=["NEW"])
    assert scoring_due_oldest(older_than=60) == {in_campaign.pk: ["OLD"]}
    assert scoring_due_oldest(older_than=0) == {in_campaign.pk: ["OLD", "NEW"]}


def test_a_dry_run_leaves_the_members_due(in_campaign):
    member = EntryFactory().member
    pay(member, "2026-03-10 12:00", 3000)
    scoring_due_mark(campaign_id=in_campaign.pk, member_ids=[member.pk])
    members_score(campaign=in_campaign, member_ids=[member.pk], dry_run=True)
    assert ScoringDue.objects.filter(member_id=member.pk).exists()
