"""POST /api/v1/entries and /api/v1/video-views (SPEC 3.3): 201 new, 200 again, 400 refused."""

from __future__ import annotations

from campaign.models import Entry, VideoView


def test_a_new_entry_answers_201_and_a_second_200(system_client, in_campaign):
    first = system_client.post("/api/v1/entries", {"member_id": "M1"}, format="json")
    assert first.status_code == 201
    assert first.json()["member_id"] == "M1"
    assert first.json()["entered_at"] == "2026-03-15T12:00:00+09:00"
    again = system_client.post("/api/v1/entries", {"member_id": "M1"}, format="json")
    assert again.status_code == 200
    assert again.json()["entered_at"] == first.json()["entered_at"]
    assert Entry.objects.count() == 1


def test_an_entry_is_judged_on_the_time_the_app_recorded(system_client, campaign, clock):
    clock("2026-04-01T00:03:00+09:00")
    inside = system_client.post(
        "/api/v1/entries", {"member_id": "M1", "entered_at": "2026-03-31T23:59:00+09:00"}, format="json"
    )
    assert inside.status_code == 201
    outside = system_client.post("/api/v1/entries", {"member_id": "M2"}, format="json")
    assert outside.status_code == 400
    assert outside.json()["code"] == "outside_window" and outside.json()["detail"]


def test_an_entry_with_a_bad_member_id_or_time_gets_400(system_client, in_campaign):
    bad_id = system_client.post("/api/v1/entries", {"member_id": "M 1"}, format="json")
    assert bad_id.status_code == 400 and bad_id.json()["code"] == "invalid_member_id"
    bad_time = system_client.post("/api/v1/entries", {"member_id": "M1", "entered_at": "soon"}, format="json")
    assert bad_time.status_code == 400 and "entered_at" in bad_time.json()
    missing = system_client.post("/api/v1/entries", {}, format="json")
    assert missing.status_code == 400 and "member_id" in missing.json()
    assert Entry.objects.count() == 0


def test_a_video_view_answers_201_then_200(system_client, in_campaign):
    body = {"member_id": "M1", "video": "video-1", "watched_at": "2026-03-10 08:00:00"}
    first = system_client.post("/api/v1/video-views", body, format="json")
    assert first.status_code == 201
    assert first.json()["watched_at"] == "2026-03-10T08:00:00+09:00"
    assert system_client.post("/api/v1/video-views", body, format="json").status_code == 200
    assert VideoView.objects.count() == 1


def test_an_unknown_video_gets_400(system_client, in_campaign):
    response = system_client.post("/api/v1/video-views", {"member_id": "M1", "video": "video-9"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_video"


def test_entries_and_video_views_are_for_system_clients_only(client, in_campaign):
    assert client.post("/api/v1/entries", {"member_id": "M1"}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert client.post("/api/v1/video-views", {}, content_type="application/json").status_code in (401, 403)


def test_an_entry_or_a_video_view_dated_in_the_period_is_refused_after_the_data_cutoff(system_client, campaign, clock):
    clock("2026-04-11T00:00:00+09:00")
    entry = system_client.post(
        "/api/v1/entries", {"member_id": "M1", "entered_at": "2026-03-31T23:59:00+09:00"}, format="json"
    )
    view = system_client.post(
        "/api/v1/video-views",
        {"member_id": "M1", "video": "video-1", "watched_at": "2026-03-31T23:00:00+09:00"},
        format="json",
    )
    for answer in (entry, view):
        assert answer.status_code == 400
        assert answer.json()["code"] == "after_cutoff"
    assert (Entry.objects.count(), VideoView.objects.count()) == (0, 0)


def test_an_entry_already_stored_is_still_answered_200_after_the_cutoff(system_client, campaign, clock):
    clock("2026-03-20T12:00:00+09:00")
    assert system_client.post("/api/v1/entries", {"member_id": "M1"}, format="json").status_code == 201
    clock("2026-04-11T00:00:00+09:00")
    assert system_client.post("/api/v1/entries", {"member_id": "M1"}, format="json").status_code == 200


def test_a_member_id_with_a_nul_is_refused_saying_so_in_japanese(system_client, in_campaign):
    answer = system_client.post("/api/v1/entries", {"member_id": "M\x001"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["member_id"] == ["NUL 文字（ヌル文字）は使用できません。"]
    assert not Entry.objects.exists()


def test_an_entry_dated_beyond_what_a_time_can_hold_is_refused_in_japanese(system_client, in_campaign):
    answer = system_client.post(
        "/api/v1/entries", {"member_id": "M1", "entered_at": "9999-12-31T23:59:59-09:00"}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["entered_at"] == ["日時の値が扱える範囲を超えています。"]
    assert not Entry.objects.exists()


def test_an_unknown_api_path_is_answered_in_json_and_a_page_in_html(system_client, in_campaign):
    """A client that adds a trailing slash or mistypes a path reads a JSON 404 like the API's others."""
    for path in ("/api/v1/members/M1/progress/", "/api/v1/entry"):
        answer = system_client.get(path)
        assert answer.status_code == 404
        assert answer["Content-Type"] == "application/json"
        assert answer.json() == {"detail": "見つかりませんでした。"}
    page = system_client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
