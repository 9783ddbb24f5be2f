"""The scoring outbox: members marked due with their records, cleared by the scoring that saw them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from campaign.models import Member
from missions.engine import ScoreResult
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


def test_an_import_whose_scoring_was_lost_is_scored_by_the_sweep_not_by_importing_it_again(
    in_campaign, tmp_path, monkeypatch, clock
):
    """Issue 18 §6: the import's processes killed after its rows were stored; importing the file again
    finds only duplicates, so only the members kept due by the import's own transaction get them scored."""
    from django.core.management import call_command

    from missions import tasks

    EntryFactory(member__member_id="M-LOST")
    path = tmp_path / "lost.csv"
    path.write_text(
        "transaction_id,member_id,type,amount,occurred_at\nLOST-1,M-LOST,charge,100000,2026-03-05 10:00:00\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(tasks, "members_score", lambda **kwargs: ScoreResult())  # the scoring is lost
    call_command("import_transactions", str(path), stdout=io.StringIO())
    call_command("import_transactions", str(path), stdout=io.StringIO())  # only duplicates: nothing new
    monkeypatch.undo()
    member = Member.objects.get(member_id="M-LOST")
    assert cleared_codes(member) == set()
    clock("2026-03-15 12:05")
    assert tasks.scoring_due_sweep() == 1
    assert {"mania-10", "mania-9", "mania-7", "casual-1"} <= cleared_codes(member)
