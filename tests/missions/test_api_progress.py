"""The progress API of SPEC 3.5: system token for any member, session for the member's own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from missions.models import Mission
from missions.services import progress_document
from tests.campaign.factories import UserFactory
from tests.missions.factories import EntryFactory, MemberFactory, charge, jst, pay, score

pytestmark = pytest.mark.django_db

MISSION_KEYS = {"code", "cleared", "cleared_at", "progress", "target", "points", "max_points"}


@pytest.fixture
def scored_member(campaign):
    member = EntryFactory(entered_at=jst("2026-03-10 12:00")).member
    charge(member, "2026-03-03 08:00", 1000)
    for day in (4, 5, 6):
        pay(member, f"2026-03-{day:02d} 12:00", 800)
    score(campaign, member)
    return member


def test_system_client_reads_a_members_progress_in_the_shape_of_the_spec(system_client, scored_member):
    response = system_client.get(f"/api/v1/members/{scored_member.member_id}/progress")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"member_id", "entered", "entered_at", "scored_at", "points", "lottery", "courses"}
    assert body["member_id"] == scored_member.member_id
    assert body["entered"] is True
    assert body["entered_at"] == "2026-03-10T12:00:00+09:00"
    assert body["scored_at"].endswith("+09:00")
    assert body["points"] == {"limited": 200 + 300 + 500 + 200, "basic": 0}  # casual ×3, mania-3
    assert body["lottery"] == {"eligible": False, "status": "not_drawn"}
    assert [c["code"] for c in body["courses"]] == ["casual", "mania", "bonus"]
    assert [c["max_points"] for c in body["courses"]] == [1000, 4000, 1000]
    codes = [m["code"] for c in body["courses"] for m in c["missions"]]
    assert codes == ["casual-1", "casual-2", "casual-complete"] + [f"mania-{n}" for n in range(1, 11)] + ["bonus-1"]
    casual = body["courses"][0]
    assert casual["points"] == 1000
    assert casual["missions"][0] == {
        "code": "casual-1",
        "cleared": True,
        "cleared_at": "2026-03-03T08:00:00+09:00",
        "progress": 1,
        "target": 1,
        "points": 200,
        "max_points": 200,
    }
    assert all(set(m) == MISSION_KEYS for c in body["courses"] for m in c["missions"])
    mania_6 = body["courses"][1]["missions"][5]
    assert (mania_6["progress"], mania_6["target"], mania_6["cleared"], mania_6["cleared_at"]) == (3, 10, False, None)


def test_unknown_member_gets_an_empty_document_not_404(system_client, campaign):
    response = system_client.get("/api/v1/members/NEVER-SEEN/progress")
    assert response.status_code == 200
    body = response.json()
    assert body["entered"] is False and body["entered_at"] is None and body["scored_at"] is None
    assert body["points"] == {"limited": 0, "basic": 0}
    assert not any(m["cleared"] or m["progress"] for c in body["courses"] for m in c["missions"])


def test_progress_api_refuses_anonymous_and_member_sessions(campaign, scored_member):
    anonymous = APIClient()
    assert anonymous.get(f"/api/v1/members/{scored_member.member_id}/progress").status_code in (401, 403)
    user = UserFactory()
    logged_in = APIClient()
    logged_in.force_login(user)
    assert logged_in.get(f"/api/v1/members/{scored_member.member_id}/progress").status_code == 403


def test_me_progress_shows_the_logged_in_members_own_document(campaign, scored_member):
    user = UserFactory()
    scored_member.user = user
    scored_member.save()
    client = APIClient()
    client.force_login(user)
    response = client.get("/api/v1/me/progress")
    assert response.status_code == 200
    assert response.json() == progress_document(campaign=campaign, member_id=scored_member.member_id)


def test_me_progress_for_a_login_without_member_is_404_and_anonymous_is_refused(campaign):
    client = APIClient()
    assert client.get("/api/v1/me/progress").status_code == 403
    client.force_login(UserFactory())
    assert client.get("/api/v1/me/progress").status_code == 404


def test_me_progress_refuses_a_token(system_client, campaign):
    assert system_client.get("/api/v1/me/progress").status_code in (401, 403)


def test_progress_document_uses_a_constant_number_of_queries(campaign, scored_member):
    light = MemberFactory()
    progress_document(campaign=campaign, member_id=light.member_id)  # courses and missions are kept per process
    with CaptureQueriesContext(connection) as few:
        progress_document(campaign=campaign, member_id=light.member_id)
    for day in range(2, 30):
        pay(scored_member, f"2026-03-{day:02d} 07:00", 6000)
    score(campaign, scored_member)
    with CaptureQueriesContext(connection) as many:
        progress_document(campaign=campaign, member_id=scored_member.member_id)
    assert len(many) == len(few) == 1  # the member's one-row facts, stamps and ledger sums in one query


def test_an_edited_mission_shows_in_the_next_document(campaign, scored_member):
    before = progress_document(campaign=campaign, member_id=scored_member.member_id)
    mania6 = Mission.objects.get(campaign=campaign, code="mania-6")
    mania6.target_count = 12
    mania6.save()
    after = progress_document(campaign=campaign, member_id=scored_member.member_id)

    def target(doc):
        return next(m["target"] for c in doc["courses"] for m in c["missions"] if m["code"] == "mania-6")

    assert (target(before), target(after)) == (10, 12)


def test_not_entered_member_sees_what_entering_would_earn(system_client, campaign):
    member = MemberFactory()
    charge(member, "2026-03-03 08:00", 10000)
    score(campaign, member)
    body = system_client.get(f"/api/v1/members/{member.member_id}/progress").json()
    assert body["entered"] is False
    assert body["points"] == {"limited": 0, "basic": 0}
    assert body["would_earn"] == {"limited": 400, "basic": 0}
    assert body["courses"][0]["missions"][0]["progress"] == 1
    assert body["courses"][0]["missions"][0]["cleared"] is False


def test_schema_describes_the_progress_endpoints(system_client, admin_client):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/members/{member_id}/progress" in text
    assert "/api/v1/me/transactions" in text


def test_the_planner_counts_about_one_member_per_ten_stamps_and_ledger_lines(postgres_only, scored_member):
    """Migration 0008: ANALYZE saw ~20,000 members in 11 million stamps; a member's progress was a parallel query."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE missions_stamp, missions_ledgerline")
        cursor.execute(
            "SELECT tablename, n_distinct FROM pg_stats WHERE attname = 'member_id'"
            " AND tablename IN ('missions_stamp', 'missions_ledgerline') ORDER BY tablename"
        )
        assert cursor.fetchall() == [
            ("missions_ledgerline", pytest.approx(-0.1)),
            ("missions_stamp", pytest.approx(-0.1)),
        ]
