"""End to end with the scoring engine: transactions clear the mania course, the draw freezes who did."""

from __future__ import annotations

from lottery import services
from missions.models import LedgerLine, StampCard, Video
from tests.missions.factories import EntryFactory, MemberFactory, VideoViewFactory, cancel, charge, pay, score


def clear_mania_course(campaign, member, *, cancel_big_charge: bool = False) -> None:
    EntryFactory(campaign=campaign, member=member)
    for video in Video.objects.filter(campaign=campaign):
        VideoViewFactory(campaign=campaign, member=member, video=video)
    big = charge(member, "2026-03-03 09:00", 100_000)  # mania-7, -9, -10
    for day in range(4, 13):  # 2026-03-06 is a Friday: mania-2, -4, -5, -6, -8
        pay(member, f"2026-03-{day:02d} 07:30", 5_000)
    pay(member, "2026-03-13 12:00", 1_000)  # mania-3, and the tenth day of mania-6
    if cancel_big_charge:
        cancel(member, "2026-03-20 10:00", big)
    score(campaign, member)


def test_members_whose_mania_course_the_engine_scored_complete_are_frozen_into_the_draw(after_cutoff, alice, bob):
    complete, cancelled = MemberFactory(member_id="FULL"), MemberFactory(member_id="CANCELLED")
    clear_mania_course(after_cutoff, complete)
    clear_mania_course(after_cutoff, cancelled, cancel_big_charge=True)
    assert StampCard.objects.get(member=complete).lottery_eligible

    draw = services.draw_commit(campaign=after_cutoff, user=alice)
    assert list(draw.entrants.values_list("member_id", flat=True)) == ["FULL"]

    services.draw_confirm(draw=services.draw_perform(draw=draw, user=alice), user=bob)
    assert LedgerLine.objects.filter(member=complete, reward="lottery").count() == 1
    score(after_cutoff, complete)  # a re-score after the prize leaves the prize alone
    assert LedgerLine.objects.filter(member=complete, reward="lottery").count() == 1
    assert StampCard.objects.get(member=complete).points_basic == 5000
