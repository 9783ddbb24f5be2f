"""The admin's preview of a rule change: ``members_score(dry_run=True, missions=[edited])`` writes nothing."""

from __future__ import annotations

import pytest

from missions.models import LedgerLine, Mission, Stamp, StampCard
from missions.services import members_score
from tests.missions.factories import EntryFactory, pay, score

pytestmark = pytest.mark.django_db


def test_preview_of_a_lowered_threshold_says_what_would_change_and_writes_nothing(campaign):
    members = [EntryFactory().member for _ in range(3)]
    for member in members[:2]:
        pay(member, "2026-03-10 18:00", 2500)
    pay(members[2], "2026-03-10 18:00", 1500)
    score(campaign, *members)
    before = (
        list(Stamp.objects.order_by("pk").values()),
        list(StampCard.objects.order_by("pk").values()),
        LedgerLine.objects.count(),
    )
    edited = Mission.objects.get(campaign=campaign, code="mania-5")
    edited.min_amount = 2000  # not saved

    preview = members_score(campaign=campaign, dry_run=True, missions=[edited])

    assert (preview.members_scored, preview.members_changed, preview.awards, preview.points_delta) == (3, 2, 2, 400)
    assert preview.stamps_changed == 2
    after = (
        list(Stamp.objects.order_by("pk").values()),
        list(StampCard.objects.order_by("pk").values()),
        LedgerLine.objects.count(),
    )
    assert after == before
    assert Mission.objects.get(pk=edited.pk).min_amount == 3000


def test_preview_of_a_raised_threshold_counts_reversals(campaign):
    member = EntryFactory().member
    pay(member, "2026-03-10 18:00", 3500)
    score(campaign, member)
    edited = Mission.objects.get(campaign=campaign, code="mania-5")
    edited.min_amount = 4000
    preview = members_score(campaign=campaign, member_ids=[member.member_id], dry_run=True, missions=[edited])
    assert (preview.reversals, preview.points_delta, preview.members_changed) == (1, -200, 1)


def test_preview_without_changes_changes_nothing(campaign):
    member = EntryFactory().member
    pay(member, "2026-03-10 18:00", 3500)
    score(campaign, member)
    preview = members_score(campaign=campaign, dry_run=True, missions=list(Mission.objects.filter(campaign=campaign)))
    assert (preview.members_changed, preview.stamps_changed, preview.awards, preview.reversals) == (0, 0, 0, 0)


def test_preview_of_a_deactivated_mission_withdraws_it(campaign):
    member = EntryFactory().member
    pay(member, "2026-03-10 18:00", 3500)
    score(campaign, member)
    edited = Mission.objects.get(campaign=campaign, code="mania-5")
    edited.is_active = False
    preview = members_score(campaign=campaign, dry_run=True, missions=[edited])
    assert (preview.reversals, preview.points_delta) == (1, -200)


def _stamps() -> dict:
    return {(s.member_id, s.mission_id): (s.cleared, s.progress, s.target) for s in Stamp.objects.all()}


def _split(before: dict, after: dict) -> tuple[int, int, int]:
    """new / withdrawn / progress-only, counted from the stored stamps before and after a real re-score."""
    new = withdrawn = progress = 0
    for key in before.keys() | after.keys():
        old, now = before.get(key, (False, 0, None)), after.get(key, (False, 0, None))
        if old == now:
            continue
        if now[0] and not old[0]:
            new += 1
        elif old[0] and not now[0]:
            withdrawn += 1
        else:
            progress += 1
    return new, withdrawn, progress


@pytest.mark.parametrize(
    ("code", "change"),
    [
        ("mania-6", {"target_count": 2}),  # one member reaches 2 days, one stays below: new and progress-only
        ("mania-6", {"target_count": 4}),  # nobody reaches 4: only the targets move
        ("mania-5", {"min_amount": 4000}),  # both lose the stamp: withdrawn
    ],
)
def test_the_dry_run_splits_changed_stamps_into_new_withdrawn_and_progress_only_as_the_rescore_does(
    campaign, code, change
):
    from missions.services import rule_change_effect

    busy, quiet = EntryFactory().member, EntryFactory().member
    for day in (3, 4, 5):
        pay(busy, f"2026-03-0{day} 12:00", 3500)
    pay(quiet, "2026-03-03 12:00", 3500)
    score(campaign, busy, quiet)
    edited = Mission.objects.get(campaign=campaign, code=code)
    for name, value in change.items():
        setattr(edited, name, value)
    before = _stamps()

    effect = rule_change_effect(campaign=campaign, missions=[edited])

    assert _stamps() == before  # nothing kept
    assert effect.stamps_new + effect.stamps_withdrawn + effect.stamps_progress == effect.result.stamps_changed
    edited.save()
    score(campaign, busy, quiet)
    assert (effect.stamps_new, effect.stamps_withdrawn, effect.stamps_progress) == _split(before, _stamps())
    assert effect.result.stamps_changed > 0
