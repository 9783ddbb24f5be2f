"""The kinds the March campaign does not use, on the invented spring campaign of seeds/examples/.

Consecutive days, different merchants and an amount in total, each at its edges: JST days to the
second, cancels, points-paid payments, thresholds; and the spring campaign end to end (a file
import, the progress document, the "why" list, the site and the admin), loaded as data only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from campaign.seeding import campaign_load
from missions.models import LedgerLine, Mission, StampCard
from missions.services import members_score, progress_document, transactions_explained
from tests.missions.factories import (
    EntryFactory,
    cancel,
    charge,
    cleared_codes,
    ledger_balance,
    pay,
    score,
    stamps_of,
)

pytestmark = pytest.mark.django_db
SPRING = Path(__file__).resolve().parents[2] / "seeds" / "examples" / "spring-2027"


@pytest.fixture
def spring(clock):
    clock("2027-04-20T12:00:00+09:00")
    loaded, _report = campaign_load(path=SPRING)
    return loaded


@pytest.fixture
def member(spring):
    return EntryFactory(campaign=spring, entered_at=spring.starts_at).member


def test_three_consecutive_jst_days_clear_at_the_first_payment_of_the_third_day(spring, member):
    pay(member, "2027-04-05 23:59:59", 200)
    pay(member, "2027-04-06 00:00:00", 200)
    pay(member, "2027-04-06 18:00:00", 200)
    third = pay(member, "2027-04-07 07:00:00", 250)
    pay(member, "2027-04-07 08:00:00", 250)
    score(spring, member)
    stamp = stamps_of(member)["daily-2"]
    assert (stamp.cleared, stamp.progress, stamp.cleared_by_transaction_id) == (True, 3, third.pk)


def test_a_day_without_a_qualifying_payment_starts_the_run_again(spring, member):
    pay(member, "2027-04-05 12:00", 200)
    pay(member, "2027-04-06 12:00", 200)
    pay(member, "2027-04-07 12:00", 199)  # below the minimum: the run breaks
    pay(member, "2027-04-08 12:00", 300, points_used=300)  # wholly with points: counts for nothing
    pay(member, "2027-04-09 12:00", 200)
    pay(member, "2027-04-10 12:00", 200)
    score(spring, member)
    stamp = stamps_of(member)["daily-2"]
    assert (stamp.cleared, stamp.progress) == (False, 2)


def test_cancelling_the_middle_day_withdraws_the_run_and_reverses_its_points(spring, member):
    pay(member, "2027-04-05 12:00", 200)
    middle = pay(member, "2027-04-06 12:00", 200)
    pay(member, "2027-04-07 12:00", 200)
    score(spring, member)
    assert "daily-2" in cleared_codes(member)
    cancel(member, "2027-04-08 09:00", middle)
    score(spring, member)
    assert "daily-2" not in cleared_codes(member)
    lines = LedgerLine.objects.filter(member_id=member.pk, reward="daily-2").order_by("id")
    assert [(line.kind, line.points) for line in lines] == [("award", 300), ("reversal", -300)]


def test_an_amount_in_total_counts_eligible_yen_and_clears_at_the_crossing_payment(spring, member):
    charge(member, "2027-04-02 10:00", 50000)  # charges are not payments
    pay(member, "2027-04-03 10:00", 6000, points_used=1000)  # 5,000 eligible
    pay(member, "2027-04-04 10:00", 4999)
    crossing = pay(member, "2027-04-05 10:00", 1)
    pay(member, "2027-04-06 10:00", 9000)
    score(spring, member)
    stamp = stamps_of(member)["daily-3"]
    assert (stamp.cleared, stamp.progress, stamp.target) == (True, 10000, 10000)
    assert stamp.cleared_by_transaction_id == crossing.pk


def test_an_amount_in_total_one_yen_short_is_not_cleared_and_shows_the_yen_so_far(spring, member):
    pay(member, "2027-04-03 10:00", 9999)
    score(spring, member)
    document = progress_document(campaign=spring, member_id=member.pk)
    daily3 = next(m for c in document["courses"] for m in c["missions"] if m["code"] == "daily-3")
    assert (daily3["cleared"], daily3["progress"], daily3["target"]) == (False, 9999, 10000)


def test_different_merchants_count_each_shop_once_and_say_why_a_repeat_did_not(spring, member):
    for n, shop in enumerate(["A", "B", "A", "C", "D"]):
        pay(member, f"2027-04-0{n + 1} 12:00", 100, merchant=f"SHOP-{shop}", transaction_id=f"m{n}")
    pay(member, "2027-04-08 12:00", 99, merchant="SHOP-E", transaction_id="small")
    score(spring, member)
    assert stamps_of(member)["outing-1"].progress == 4
    fifth = pay(member, "2027-04-09 12:00", 100, merchant="SHOP-F", transaction_id="fifth")
    score(spring, member)
    stamp = stamps_of(member)["outing-1"]
    assert (stamp.cleared, stamp.cleared_by_transaction_id) == (True, fifth.pk)
    why = {row["transaction_id"]: row for row in transactions_explained(campaign=spring, member_id=member.pk)}
    assert "outing-1" in why["m0"]["counted_for"]
    assert {r["code"]: r["missions"] for r in why["m2"]["reasons"]}["merchant_already_counted"] == ["outing-1"]
    assert "outing-1" in {r["code"]: r["missions"] for r in why["small"]["reasons"]}["below_threshold"]


def test_weekend_days_and_an_inactive_bonus_shop_follow_the_missions_data(spring, member):
    for day in ("03", "04", "10", "11"):  # 2027-04-03 is a Saturday
        pay(member, f"2027-04-{day} 12:00", 100, merchant="HIMEJI-03")  # HIMEJI-03 is not active
    pay(member, "2027-04-05 12:00", 100)  # a Monday
    score(spring, member)
    assert "outing-2" in cleared_codes(member)
    assert "outing-3" not in cleared_codes(member)
    pay(member, "2027-04-12 12:00", 100, merchant="AKASHI-01")
    score(spring, member)
    assert {"outing-2", "outing-3"} <= cleared_codes(member)


def test_the_outing_course_complete_makes_the_member_eligible_for_the_spring_draw(spring, member):
    for n in range(5):
        pay(member, f"2027-04-{n + 3:02d} 12:00", 300, merchant=f"SHOP-{n}")
    pay(member, "2027-04-10 12:00", 300, merchant="AKASHI-02")
    pay(member, "2027-04-11 12:00", 300)
    score(spring, member)
    assert {"outing-1", "outing-2", "outing-3", "outing-complete", "daily-2"} <= cleared_codes(member)
    card = StampCard.objects.get(campaign=spring, member_id=member.pk)
    assert card.lottery_eligible is True
    assert ledger_balance(member) == card.points_limited == 500 + 400 + 300 + 500 + 300


def test_a_member_not_entered_gets_nothing_until_entering_then_everything_since_the_start(spring):
    walker = EntryFactory.build().member
    walker.save()
    for day in range(5, 8):
        pay(walker, f"2027-04-{day:02d} 12:00", 500)
    score(spring, walker)
    assert cleared_codes(walker) == set() and ledger_balance(walker) == 0
    EntryFactory(campaign=spring, member=walker)
    score(spring, walker)
    assert "daily-2" in cleared_codes(walker)


def test_a_per_unit_reward_on_a_record_mission_pays_each_unit_once(spring, member):
    Mission.objects.filter(campaign=spring, code="outing-1").update(unit_points=100)
    for n in range(3):
        pay(member, f"2027-04-0{n + 1} 12:00", 100, merchant=f"SHOP-{n}")
    score(spring, member)
    lines = LedgerLine.objects.filter(member_id=member.pk, reward="outing-1").order_by("unit")
    assert [(line.unit, line.points) for line in lines] == [(1, 100), (2, 100), (3, 100)]


@pytest.mark.parametrize(
    "kind", ["charge", "payment", "payment_days", "payment_streak", "payment_merchants", "payment_amount"]
)
def test_every_record_kind_with_a_target_of_one_clears_at_its_first_qualifying_record(spring, member, kind):
    # The scorer computes no running progress for a target of 1 (missions.evaluate): every kind's
    # progress must reach 1 at the first record that qualifies, as the "why" list counts it.
    Mission.objects.filter(campaign=spring, code="daily-2").update(kind=kind, target_count=1, min_amount=200)
    record = charge if kind == "charge" else pay
    record(member, "2027-04-05 12:00", 199)  # below the minimum
    score(spring, member)
    assert "daily-2" not in cleared_codes(member)
    first = record(member, "2027-04-06 12:00", 200)
    record(member, "2027-04-07 12:00", 5000)
    score(spring, member)
    stamp = stamps_of(member)["daily-2"]
    assert (stamp.cleared, stamp.progress, stamp.cleared_by_transaction_id) == (True, 1, first.pk)
    assert LedgerLine.objects.filter(member_id=member.pk, reward="daily-2").count() == 1
    why = transactions_explained(campaign=spring, member_id=member.pk)  # newest first
    counted = [row["transaction_id"] for row in why if "daily-2" in row["counted_for"]]
    assert counted[-1] == first.transaction_id and len(why) == 3


def test_a_rule_change_counts_its_award_and_reversal_and_a_dry_run_writes_nothing(spring, member):
    for day in range(5, 8):
        pay(member, f"2027-04-{day:02d} 12:00", 500)
    first = score(spring, member)
    assert first.awards == 1 and first.members_changed == 1
    Mission.objects.filter(campaign=spring, code="daily-2").update(reward_points=400)
    before = list(LedgerLine.objects.values_list("pk", flat=True))
    dry = members_score(campaign=spring, member_ids=[member.pk], dry_run=True)
    assert list(LedgerLine.objects.values_list("pk", flat=True)) == before
    second = score(spring, member)
    assert (dry.awards, dry.reversals, dry.points_delta) == (second.awards, second.reversals, second.points_delta)
    assert (second.awards, second.reversals, second.points_delta) == (1, 1, 100)


def test_the_spring_campaign_runs_end_to_end_from_a_file_import(spring, member, tmp_path, client, admin_client):
    rows = ["transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at"]
    rows += [f"s{d},{member.pk},payment,4000,0,AKASHI-0{1 + d % 2},2027-04-{d:02d} 09:00:00" for d in range(3, 6)]
    file = tmp_path / "spring.csv"
    file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    call_command("import_transactions", str(file))
    assert {"daily-2", "daily-3", "outing-3"} <= cleared_codes(member)
    document = progress_document(campaign=spring, member_id=member.pk)
    assert [c["code"] for c in document["courses"]] == ["daily", "outing"]
    assert document["points"]["limited"] == 300 + 500 + 300
    assert client.get("/").status_code == 200
    assert "春のおでかけ" in client.get("/").content.decode()
    changelist = admin_client.get(f"/admin/missions/mission/?campaign__id__exact={spring.pk}")
    assert changelist.status_code == 200 and "outing-complete" in changelist.content.decode()
