"""One test per rule of SPEC R1–R8 and per edge the announcement leaves to interpretation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign.models import Entry
from merchants.models import Merchant
from missions.models import LedgerLine, Mission, StampCard
from missions.services import progress_document
from tests.missions.factories import (
    EntryFactory,
    MemberFactory,
    TransactionFactory,
    VideoViewFactory,
    cancel,
    charge,
    cleared_codes,
    jst,
    ledger_balance,
    pay,
    score,
    stamps_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(campaign):
    return EntryFactory().member


@pytest.mark.parametrize(
    ("time", "counts"),
    [("04:59:59", False), ("05:00:00", True), ("09:59:59", True), ("10:00:00", False)],
)
def test_morning_window_is_half_open_from_5_to_10(campaign, member, time, counts):
    pay(member, f"2026-03-10 {time}", 300)
    score(campaign, member)
    assert ("mania-2" in cleared_codes(member)) is counts


@pytest.mark.parametrize(
    ("time", "counts"),
    [("10:59:59", False), ("11:00:00", True), ("13:59:59", True), ("14:00:00", False)],
)
def test_lunch_window_is_half_open_from_11_to_14(campaign, member, time, counts):
    pay(member, f"2026-03-10 {time}", 800)
    score(campaign, member)
    assert ("mania-3" in cleared_codes(member)) is counts


@pytest.mark.parametrize(
    ("when", "amount", "code", "counts"),
    [
        ("2026-03-10 09:59:59.999999", 300, "mania-2", True),  # still before 10:00
        ("2026-03-10 04:59:59.999999", 300, "mania-2", False),  # still before 05:00
        ("2026-03-10 13:59:59.9996", 800, "mania-3", True),
        ("2026-03-05 23:59:59.999999", 1000, "mania-4", False),  # still Thursday
        ("2026-03-08 23:59:59.999999", 1000, "mania-4", True),  # still Sunday
    ],
)
def test_a_time_a_microsecond_before_a_bound_is_judged_on_its_own_second(campaign, member, when, amount, code, counts):
    """SQLite keeps times to the millisecond in its date functions: 09:59:59.999999 was read as 10:00:00."""
    TransactionFactory(member=member, amount=amount, occurred_at=jst(when))
    score(campaign, member)
    assert (code in cleared_codes(member)) is counts


def test_window_with_fractional_seconds_just_before_the_end_counts(campaign, member):
    TransactionFactory(member=member, amount=300, occurred_at=jst("2026-03-10 09:59:59.999"))
    TransactionFactory(member=member, amount=800, occurred_at=jst("2026-03-10 14:00:00.001"))
    score(campaign, member)
    assert cleared_codes(member) >= {"mania-2"}
    assert "mania-3" not in cleared_codes(member)


def test_utc_time_that_is_friday_in_japan_but_thursday_in_utc_counts_as_friday(campaign, member):
    # 2026-03-05 (Thursday) 15:30Z is Friday 2026-03-06 00:30 in Japan.
    TransactionFactory(member=member, amount=1000, occurred_at=datetime(2026, 3, 5, 15, 30, tzinfo=UTC))
    score(campaign, member)
    stamp = stamps_of(member)["mania-4"]
    assert stamp.cleared
    assert (
        progress_document(campaign=campaign, member_id=member.member_id)["courses"][1]["missions"][3]["cleared_at"]
        == "2026-03-06T00:30:00+09:00"
    )


def test_utc_time_that_is_thursday_in_japan_does_not_count_for_weekend(campaign, member):
    # 2026-03-05 14:59:59Z is still Thursday 23:59:59 in Japan.
    TransactionFactory(member=member, amount=1000, occurred_at=datetime(2026, 3, 5, 14, 59, 59, tzinfo=UTC))
    score(campaign, member)
    assert "mania-4" not in cleared_codes(member)


def test_utc_time_is_judged_in_japan_time_of_day(campaign, member):
    # 21:00Z is 06:00 the next morning in Japan: inside 05:00–10:00.
    TransactionFactory(member=member, amount=300, occurred_at=datetime(2026, 3, 9, 21, 0, tzinfo=UTC))
    score(campaign, member)
    assert "mania-2" in cleared_codes(member)


def test_two_payments_on_one_day_count_as_one_day(campaign, member):
    for day in range(2, 11):  # nine days
        pay(member, f"2026-03-{day:02d} 12:00", 300)
    pay(member, "2026-03-10 18:00", 300)  # a second payment on the ninth day
    score(campaign, member)
    assert stamps_of(member)["mania-6"].progress == 9
    assert "mania-6" not in cleared_codes(member)


def test_tenth_distinct_day_clears_at_its_first_qualifying_payment(campaign, member):
    for day in range(2, 11):
        pay(member, f"2026-03-{day:02d} 12:00", 300)
    pay(member, "2026-03-20 08:00", 299)  # below the threshold: not the clearing record
    tenth = pay(member, "2026-03-20 09:00", 300)
    pay(member, "2026-03-20 10:00", 300)
    score(campaign, member)
    stamp = stamps_of(member)["mania-6"]
    assert (stamp.cleared, stamp.progress, stamp.cleared_at) == (True, 10, jst("2026-03-20 09:00"))
    assert stamp.cleared_by_transaction_id == tenth.pk


def test_japan_midnight_separates_days(campaign, member):
    for day in range(2, 11):
        pay(member, f"2026-03-{day:02d} 23:59:59", 300)
    pay(member, "2026-03-11 00:00:00", 300)  # the 10th JST day, although within a second
    score(campaign, member)
    assert stamps_of(member)["mania-6"].cleared_at == jst("2026-03-11 00:00:00")


@pytest.mark.parametrize(("amount", "counts"), [(499, False), (500, True)])
def test_casual_2_needs_three_payments_of_500_yen(campaign, member, amount, counts):
    for day in (3, 4, 5):
        pay(member, f"2026-03-{day:02d} 12:00", amount)
    score(campaign, member)
    assert ("casual-2" in cleared_codes(member)) is counts
    stamp = stamps_of(member).get("casual-2")
    assert (stamp.progress if stamp else 0) == (3 if counts else 0)


def test_casual_2_clears_at_the_third_qualifying_payment_not_at_scoring_time(campaign, member, clock):
    clock("2026-03-30 12:00")
    pay(member, "2026-03-03 12:00", 500)
    pay(member, "2026-03-04 12:00", 499)
    pay(member, "2026-03-05 12:00", 500)
    third = pay(member, "2026-03-06 08:15:30", 700)
    pay(member, "2026-03-07 12:00", 900)
    score(campaign, member)
    stamp = stamps_of(member)["casual-2"]
    assert stamp.cleared_at == jst("2026-03-06 08:15:30")
    assert stamp.cleared_by_transaction_id == third.pk
    assert LedgerLine.objects.get(member=member, reward="casual-2").occurred_at == jst("2026-03-06 08:15:30")


def test_payment_made_wholly_with_points_counts_for_nothing_not_even_the_bonus(campaign, member):
    pay(member, "2026-03-10 07:00", 5000, points_used=5000, merchant="KOBE-01")
    score(campaign, member)
    assert cleared_codes(member) == set()
    assert ledger_balance(member) == 0


def test_split_payment_counts_with_its_eligible_amount(campaign, member):
    # 600 yen with 200 points used is a 400-yen payment: ≥ 300 (mania-2) but < 500 (casual-2).
    for day in (3, 4, 5):
        pay(member, f"2026-03-{day:02d} 07:00", 600, points_used=200)
    score(campaign, member)
    assert "mania-2" in cleared_codes(member)
    assert "casual-2" not in cleared_codes(member)


def test_payment_at_an_active_bonus_merchant_clears_the_bonus_at_any_amount(campaign, member):
    pay(member, "2026-03-10 12:00", 1, merchant="OKAYAMA-12")
    score(campaign, member)
    assert "bonus-1" in cleared_codes(member)


def test_inactive_or_unlisted_merchant_does_not_count_for_the_bonus(campaign, member):
    Merchant.objects.filter(code="KOBE-02").update(is_active=False)
    pay(member, "2026-03-10 12:00", 1000, merchant="KOBE-02")
    pay(member, "2026-03-10 12:00", 1000, merchant="TOKYO-99")
    score(campaign, member)
    assert "bonus-1" not in cleared_codes(member)


def test_charges_count_in_full_whatever_the_method(campaign, member):
    charge(member, "2026-03-10 12:00", 10000, charge_method="seven_atm")
    score(campaign, member)
    assert cleared_codes(member) == {"casual-1", "mania-7"}


def test_zero_yen_charge_counts_for_nothing_even_where_any_amount_counts(campaign, member):
    charge(member, "2026-03-10 12:00", 0)
    score(campaign, member)
    assert cleared_codes(member) == set()


def test_cancel_after_its_original_withdraws_the_stamp_with_a_reversal(campaign, member):
    original = charge(member, "2026-03-10 12:00", 10000)
    score(campaign, member)
    assert ledger_balance(member) == 400
    cancel(member, "2026-03-11 12:00", original)
    score(campaign, member)
    assert cleared_codes(member) == set()
    assert ledger_balance(member) == 0
    reversal = LedgerLine.objects.get(member=member, reward="mania-7", kind="reversal")
    assert reversal.points == -200
    assert LedgerLine.objects.filter(member=member).count() == 4  # two awards, two reversals: append-only


def test_cancel_before_its_original_voids_it_on_arrival(campaign, member):
    cancel(member, "2026-03-11 12:00", "T-LATER")
    score(campaign, member)
    charge(member, "2026-03-10 12:00", 10000, transaction_id="T-LATER")
    score(campaign, member)
    assert cleared_codes(member) == set()
    assert not LedgerLine.objects.filter(member=member).exists()


def test_withdrawn_reward_earned_again_is_a_second_generation(campaign, member):
    original = charge(member, "2026-03-10 12:00", 500)
    score(campaign, member)
    cancel(member, "2026-03-10 12:05", original)
    score(campaign, member)
    charge(member, "2026-03-12 12:00", 500)
    score(campaign, member)
    lines = list(LedgerLine.objects.filter(member=member, reward="casual-1").values_list("generation", "points"))
    assert sorted(lines) == [(1, -200), (1, 200), (2, 200)]
    assert stamps_of(member)["casual-1"].cleared_at == jst("2026-03-12 12:00")


def test_rescoring_again_writes_nothing(campaign, member):
    charge(member, "2026-03-10 12:00", 100000)
    first = score(campaign, member)
    again = score(campaign, member)
    assert first.awards == 4
    assert (again.awards, again.reversals, again.stamps_changed, again.points_delta) == (0, 0, 0, 0)
    assert LedgerLine.objects.filter(member=member).count() == 4


def test_duplicate_records_of_the_same_transaction_cannot_be_stored_twice(campaign, member):
    from django.db import IntegrityError, transaction

    pay(member, "2026-03-10 12:00", 3000, transaction_id="T-DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        pay(member, "2026-03-10 12:00", 3000, transaction_id="T-DUP")
    score(campaign, member)
    assert stamps_of(member)["casual-2"].progress == 1


def test_member_not_entered_has_progress_but_no_cleared_stamp_or_points(campaign):
    member = MemberFactory()
    charge(member, "2026-03-03 08:00", 100000)
    score(campaign, member)
    stamps = stamps_of(member)
    assert stamps["mania-10"].progress == 1
    assert not any(s.cleared for s in stamps.values())
    assert ledger_balance(member) == 0
    document = progress_document(campaign=campaign, member_id=member.member_id)
    assert document["entered"] is False
    assert document["would_earn"] == {"limited": 1900, "basic": 0}  # casual-1, mania-7, -9, -10


def test_entry_after_the_transactions_counts_them_retroactively(campaign, clock, django_capture_on_commit_callbacks):
    from campaign.imports.entries import entry_create

    member = MemberFactory()
    charge(member, "2026-03-03 08:00", 100000)
    score(campaign, member)
    clock("2026-03-25 12:00")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        entry_create(campaign=campaign, member_id=member.member_id)  # enqueues the re-score on commit
    assert len(callbacks) == 1
    stamps = stamps_of(member)
    assert stamps["casual-1"].cleared
    assert stamps["casual-1"].cleared_at == jst("2026-03-03 08:00")
    assert ledger_balance(member) == 1900


def test_announcement_example_first_100000_yen_charge_clears_four_missions_across_courses(campaign, member):
    charge(member, "2026-03-05 19:00", 100000)
    score(campaign, member)
    stamps = stamps_of(member)
    assert cleared_codes(member) == {"mania-10", "mania-9", "mania-7", "casual-1"}
    assert {stamps[c].cleared_at for c in cleared_codes(member)} == {jst("2026-03-05 19:00")}
    assert ledger_balance(member) == 1000 + 500 + 200 + 200


@pytest.mark.parametrize(
    ("when", "counts"),
    [
        ("2026-03-01 23:59:59", False),
        ("2026-03-02 00:00:00", True),
        ("2026-03-31 23:59:59", True),
        ("2026-04-01 00:00:00", False),
    ],
)
def test_period_is_judged_to_the_second(campaign, member, when, counts):
    charge(member, when, 1000)
    score(campaign, member)
    assert ("casual-1" in cleared_codes(member)) is counts


def test_completion_reward_clears_at_the_latest_of_its_requirements(campaign, member):
    for day in (3, 4, 5):
        pay(member, f"2026-03-{day:02d} 12:00", 500)
    charge(member, "2026-03-20 21:00", 1000)
    score(campaign, member)
    stamp = stamps_of(member)["casual-complete"]
    assert stamp.cleared and stamp.cleared_at == jst("2026-03-20 21:00")
    assert ledger_balance(member) == 200 + 300 + 500


def test_each_video_watched_earns_its_own_points_and_the_second_clears(campaign, member):
    from missions.models import Video

    first, second = Video.objects.filter(campaign=campaign).order_by("order")
    VideoViewFactory(member=member, video=second, watched_at=jst("2026-03-04 10:00"))
    score(campaign, member)
    assert stamps_of(member)["mania-1"].progress == 1 and "mania-1" not in cleared_codes(member)
    assert ledger_balance(member) == 100
    VideoViewFactory(member=member, video=first, watched_at=jst("2026-03-09 20:00"))
    score(campaign, member)
    stamp = stamps_of(member)["mania-1"]
    assert stamp.cleared and stamp.cleared_at == jst("2026-03-09 20:00")
    assert sorted(LedgerLine.objects.filter(member=member, reward="mania-1").values_list("unit", "points")) == [
        (1, 100),
        (2, 100),
    ]


def _clear_all_mania(member):
    from missions.models import Video

    for video in Video.objects.all():
        VideoViewFactory(member=member, video=video)
    pay(member, "2026-03-06 07:00", 5000)  # Friday morning: mania-2, -4, -5, day 1
    pay(member, "2026-03-07 12:00", 5000)  # mania-3
    for day in range(8, 16):
        pay(member, f"2026-03-{day:02d} 18:00", 5000)
    charge(member, "2026-03-20 12:00", 100000)


def test_all_mania_missions_make_an_entered_member_lottery_eligible(campaign, member):
    _clear_all_mania(member)
    score(campaign, member)
    assert {f"mania-{n}" for n in range(1, 11)} <= cleared_codes(member)
    card = StampCard.objects.get(member=member)
    assert card.lottery_eligible
    assert progress_document(campaign=campaign, member_id=member.member_id)["lottery"]["eligible"] is True


def test_one_mania_mission_missing_or_no_entry_means_no_lottery(campaign, member):
    _clear_all_mania(member)
    Mission.objects.filter(code="mania-10").update(min_amount=200000)
    score(campaign, member)
    assert not StampCard.objects.get(member=member).lottery_eligible
    Mission.objects.filter(code="mania-10").update(min_amount=100000)
    Entry.objects.filter(member=member).delete()
    score(campaign, member)
    assert not StampCard.objects.get(member=member).lottery_eligible


def test_marketing_changing_a_threshold_changes_the_outcome_after_a_rescore(campaign, member):
    pay(member, "2026-03-10 18:00", 2500)
    score(campaign, member)
    assert "mania-5" not in cleared_codes(member)
    Mission.objects.filter(campaign=campaign, code="mania-5").update(min_amount=2000)
    score(campaign, member)
    assert "mania-5" in cleared_codes(member)
    Mission.objects.filter(campaign=campaign, code="mania-5").update(weekdays=[1])  # 03-10 is a Tuesday
    score(campaign, member)
    assert "mania-5" not in cleared_codes(member)
    assert LedgerLine.objects.get(member=member, reward="mania-5", kind="reversal").points == -200


def test_changed_reward_is_reversed_and_awarded_again_at_the_new_amount(campaign, member):
    charge(member, "2026-03-10 12:00", 1000)
    score(campaign, member)
    Mission.objects.filter(campaign=campaign, code="casual-1").update(reward_points=250)
    score(campaign, member)
    assert ledger_balance(member) == 250
    assert StampCard.objects.get(member=member).points_limited == 250


def test_stamp_card_shows_the_ledger_balance_including_lottery_lines(campaign, member):
    charge(member, "2026-03-10 12:00", 1000)
    LedgerLine.objects.create(
        campaign=campaign,
        member=member,
        reward="lottery",
        kind="award",
        points=5000,
        point_type="basic",
        reason="lottery prize",
        occurred_at=jst("2026-04-15 10:00"),
    )
    score(campaign, member)
    card = StampCard.objects.get(member=member)
    assert (card.points_limited, card.points_basic) == (200, 5000)
    assert LedgerLine.objects.filter(member=member, reward="lottery").count() == 1
