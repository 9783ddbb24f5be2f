"""``manage.py rescore [--member ID]``: synchronous, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from missions.models import LedgerLine, Mission, StampCard
from tests.missions.factories import EntryFactory, MemberFactory, charge, pay

pytestmark = pytest.mark.django_db


def rescore(*args: str) -> str:
    out = StringIO()
    call_command("rescore", *args, stdout=out)
    return out.getvalue()


def test_rescore_scores_everyone_and_a_second_run_changes_nothing(campaign):
    entered = EntryFactory().member
    charge(entered, "2026-03-03 08:00", 100000)
    not_entered = MemberFactory()
    pay(not_entered, "2026-03-03 08:00", 3000)
    first = rescore()
    assert "members=2 changed=2" in first and "awards=4" in first
    assert StampCard.objects.count() == 2
    second = rescore()
    assert "changed=0 stamps_changed=0 awards=0 reversals=0 points_delta=0" in second
    assert LedgerLine.objects.count() == 4


def test_rescore_one_member_after_a_rule_change(campaign):
    member = EntryFactory().member
    other = EntryFactory().member
    pay(member, "2026-03-10 18:00", 2500)
    pay(other, "2026-03-10 18:00", 2500)
    rescore()
    Mission.objects.filter(campaign=campaign, code="mania-5").update(min_amount=2000)
    output = rescore("--member", member.member_id)
    assert "members=1 changed=1" in output and "awards=1" in output
    assert LedgerLine.objects.filter(reward="mania-5", member=member).exists()
    assert not LedgerLine.objects.filter(reward="mania-5", member=other).exists()


def test_rescore_of_an_unknown_member_is_a_clear_error(campaign):
    with pytest.raises(CommandError, match="Unknown member"):
        rescore("--member", "NOBODY")


def _scored_state():
    from missions.models import Stamp

    stamps = sorted(
        Stamp.objects.values_list(
            "member_id", "mission_id", "progress", "cleared", "cleared_at", "cleared_by_transaction"
        )
    )
    ledger = sorted(LedgerLine.objects.values_list("member_id", "reward", "unit", "generation", "kind", "points"))
    cards = sorted(
        StampCard.objects.values_list("member_id", "entered", "stamps_cleared", "points_limited", "lottery_eligible")
    )
    return stamps, ledger, cards


@pytest.mark.django_db(transaction=True)
def test_rescore_as_a_group_of_scoring_tasks_gives_the_serial_result(campaign, postgres_only, monkeypatch):
    """``--jobs 2`` sends two scoring tasks of disjoint members (a Celery group, inline here): the same
    stamps, ledger and cards as one process."""
    from missions import services
    from missions.models import Stamp

    monkeypatch.setattr(services, "full_chunk_size", lambda: 2)  # several chunks per task
    for i in range(7):
        member = EntryFactory().member if i % 3 else MemberFactory()
        charge(member, "2026-03-03 08:00", 10000 * (i + 1))
        for day in range(3 + i):
            pay(member, f"2026-03-{4 + day:02d} 07:30", 500 + 1000 * i)
    output = rescore("--jobs", "2")
    assert "members=7 changed=7" in output and "jobs=2" in output
    parallel = _scored_state()
    assert parallel[1]
    assert "changed=0 stamps_changed=0 awards=0 reversals=0 points_delta=0" in rescore()
    for model in (LedgerLine, Stamp, StampCard):
        model.objects.all().delete()
    rescore()
    assert _scored_state() == parallel
