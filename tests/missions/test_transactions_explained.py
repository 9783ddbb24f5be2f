"""Why each transaction counted (or not): the service and its paginated API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from missions.services import transactions_explained
from tests.campaign.factories import UserFactory
from tests.missions.factories import EntryFactory, MemberFactory, cancel, charge, pay, score

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(campaign):
    return EntryFactory().member


def explained(campaign, member) -> dict[str, dict]:
    return {row["transaction_id"]: row for row in transactions_explained(campaign=campaign, member_id=member.member_id)}


def codes(row) -> set[str]:
    return {r["code"] for r in row["reasons"]}


def test_newest_first_with_the_missions_each_counted_toward(campaign, member):
    first = charge(member, "2026-03-03 08:00", 100000)
    later = pay(member, "2026-03-06 07:00", 1200)
    score(campaign, member)
    rows = list(transactions_explained(campaign=campaign, member_id=member.member_id))
    assert [r["transaction_id"] for r in rows] == [later.transaction_id, first.transaction_id]
    assert set(rows[1]["counted_for"]) == {"casual-1", "mania-7", "mania-9", "mania-10"}
    assert set(rows[0]["counted_for"]) == {"casual-2", "mania-2", "mania-4", "mania-6"}
    assert rows[0]["occurred_at"] == "2026-03-06T07:00:00+09:00"
    assert rows[0]["eligible_amount"] == 1200


def test_paid_with_points_counts_for_none_and_says_why(campaign, member):
    tx = pay(member, "2026-03-06 07:00", 1200, points_used=1200, merchant="KOBE-01")
    score(campaign, member)
    row = explained(campaign, member)[tx.transaction_id]
    assert row["counted_for"] == [] and codes(row) == {"paid_with_points"}
    assert row["eligible_amount"] == 0
    assert row["reasons"][0]["message"]


def test_below_threshold_outside_window_and_wrong_weekday_are_named_per_mission(campaign, member):
    tx = pay(member, "2026-03-10 15:00", 400)  # Tuesday afternoon
    score(campaign, member)
    row = explained(campaign, member)[tx.transaction_id]
    reasons = {r["code"]: set(r["missions"]) for r in row["reasons"]}
    assert row["counted_for"] == ["mania-6"]  # a 300-yen day
    assert {"casual-2", "mania-3", "mania-4", "mania-5", "mania-8"} <= reasons["below_threshold"]
    assert reasons["outside_window"] == {"mania-2"}
    assert reasons["not_bonus_merchant"] == {"bonus-1"}


def test_cancelled_and_cancel_records_count_for_nothing(campaign, member):
    original = charge(member, "2026-03-03 08:00", 1000)
    voiding = cancel(member, "2026-03-04 08:00", original)
    score(campaign, member)
    rows = explained(campaign, member)
    assert codes(rows[original.transaction_id]) == {"cancelled"}
    assert rows[original.transaction_id]["cancelled"] is True
    assert codes(rows[voiding.transaction_id]) == {"is_cancel"}


def test_outside_the_period_is_explained(campaign, member):
    tx = charge(member, "2026-04-01 00:00", 1000)
    score(campaign, member)
    assert codes(explained(campaign, member)[tx.transaction_id]) == {"outside_period"}


def test_later_records_after_a_clear_and_second_payment_of_a_day_are_explained(campaign, member):
    charge(member, "2026-03-03 08:00", 1000)
    again = charge(member, "2026-03-04 08:00", 1000)
    pay(member, "2026-03-05 18:00", 300)
    same_day = pay(member, "2026-03-05 19:00", 300)
    score(campaign, member)
    rows = explained(campaign, member)
    assert {"casual-1"} <= set(
        next(r["missions"] for r in rows[again.transaction_id]["reasons"] if r["code"] == "mission_already_cleared")
    )
    day = {r["code"]: r["missions"] for r in rows[same_day.transaction_id]["reasons"]}
    assert day["day_already_counted"] == ["mania-6"]


def test_not_entered_member_sees_what_would_count_once_entered(campaign):
    member = MemberFactory()
    tx = charge(member, "2026-03-03 08:00", 1000)
    score(campaign, member)
    row = explained(campaign, member)[tx.transaction_id]
    assert row["counted_for"] == [] and row["would_count_for"] == ["casual-1"]
    assert "not_entered_yet" in codes(row)


def test_completion_mission_is_credited_to_the_transaction_that_completed_it(campaign, member):
    charge(member, "2026-03-03 08:00", 1000)
    pay(member, "2026-03-04 12:00", 500)
    pay(member, "2026-03-05 12:00", 500)
    third = pay(member, "2026-03-06 20:00", 500)
    score(campaign, member)
    assert "casual-complete" in explained(campaign, member)[third.transaction_id]["counted_for"]


def test_a_page_is_explained_with_a_constant_number_of_queries(campaign, member):
    for day in range(2, 32):
        pay(member, f"2026-03-{day:02d} 07:00", 600)
        pay(member, f"2026-03-{day:02d} 12:00", 900)
    score(campaign, member)
    explained_all = transactions_explained(campaign=campaign, member_id=member.member_id)
    with CaptureQueriesContext(connection) as queries:
        assert len(explained_all) == 60
        page = explained_all[10:20]
    assert len(page) == 10
    assert len(queries) <= 10


def test_system_api_paginates_a_members_transactions(system_client, campaign, member):
    for day in range(2, 14):
        pay(member, f"2026-03-{day:02d} 07:00", 600)
    score(campaign, member)
    response = system_client.get(f"/api/v1/members/{member.member_id}/transactions?page_size=5&page=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 12
    assert [r["occurred_at"][:10] for r in body["results"]] == [f"2026-03-{d:02d}" for d in range(8, 3, -1)]
    assert body["next"] and body["previous"]


def test_me_transactions_shows_only_the_logged_in_members_own(campaign, member):
    other = EntryFactory().member
    mine = pay(member, "2026-03-05 07:00", 600)
    pay(other, "2026-03-05 07:00", 600)
    user = UserFactory()
    member.user = user
    member.save()
    client = APIClient()
    client.force_login(user)
    body = client.get("/api/v1/me/transactions").json()
    assert [r["transaction_id"] for r in body["results"]] == [mine.transaction_id]
    client.force_login(UserFactory())
    assert client.get("/api/v1/me/transactions").status_code == 404
    assert APIClient().get("/api/v1/me/transactions").status_code == 403
