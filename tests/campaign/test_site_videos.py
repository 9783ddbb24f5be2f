"""The videos page: a view counts when the page really played the video; forging or seeking does not."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from campaign import views
from campaign.models import VideoView
from missions.models import Stamp
from tests.campaign.factories import EntryFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(in_campaign):
    user = UserFactory(username="M4000001")
    member = MemberFactory(member_id="M4000001", user=user)
    EntryFactory(member=member)
    return member


@pytest.fixture
def seconds(monkeypatch):
    """The real-time clock of the video check, moved by hand."""
    now = {"t": 1_000_000.0}
    monkeypatch.setattr(views, "_seconds", lambda: now["t"])

    def advance(by: float) -> None:
        now["t"] += by

    return advance


def _start(client, code="video-1") -> str:
    response = client.post(f"/videos/{code}/start")
    assert response.status_code == 200
    return response.json()["token"]


def _watched(client, token, played=8.0, code="video-1"):
    return client.post(
        f"/videos/{code}/watched", json.dumps({"token": token, "played_seconds": played}), "application/json"
    )


def test_the_page_shows_both_videos_from_static_files(client, member):
    client.force_login(member.user)
    html = client.get("/videos/").content.decode()
    for code in ("video-1", "video-2"):
        assert f'src="/static/videos/{code}.webm"' in html
        assert f'poster="/static/videos/{code}.png"' in html
        assert f'data-video="{code}"' in html
    assert "Wesmo! でおトクにおでかけ" in html


def test_anonymous_visitors_can_watch_but_are_asked_to_sign_in(client, in_campaign):
    html = client.get("/videos/").content.decode()
    assert 'href="/login/?next=/videos/"' in html
    assert "data-video=" not in html
    assert client.post("/videos/video-1/start").status_code == 302


def test_a_video_played_to_the_end_is_recorded_and_stamped(client, member, seconds, django_capture_on_commit_callbacks):
    client.force_login(member.user)
    token = _start(client)
    seconds(8.1)
    with django_capture_on_commit_callbacks(execute=True):
        response = _watched(client, token, played=7.4)
    assert response.status_code == 201
    assert response.json()["new"] is True
    view = VideoView.objects.get(member=member)
    assert view.video.code == "video-1" and view.source == "site"
    stamp = Stamp.objects.get(member=member, mission__code="mania-1")
    assert stamp.progress == 1
    html = client.get("/videos/").content.decode()
    assert 'class="video-status done"' in html


def test_a_watched_report_sooner_than_the_video_lasts_is_refused(client, member, seconds):
    client.force_login(member.user)
    token = _start(client)
    seconds(2.0)  # seeked to the end, or a forged request
    response = _watched(client, token, played=8.0)
    assert response.status_code == 409
    assert response.json()["retry_after"] > 0
    assert not VideoView.objects.exists()
    seconds(6.0)  # the same start, once really played, counts
    assert _watched(client, token, played=8.0).status_code == 201


def test_a_report_of_too_little_played_time_is_refused(client, member, seconds):
    client.force_login(member.user)
    token = _start(client)
    seconds(9.0)
    assert _watched(client, token, played=3.0).status_code == 409
    assert not VideoView.objects.exists()


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_a_report_without_the_pages_start_token_is_refused(client, member, seconds, token):
    client.force_login(member.user)
    _start(client)
    seconds(9.0)
    response = _watched(client, token)
    assert response.status_code == 400
    assert not VideoView.objects.exists()


def test_a_report_without_a_start_is_refused(client, member):
    client.force_login(member.user)
    assert _watched(client, "x").status_code == 400
    assert client.post("/videos/video-1/watched", "not json", "application/json").status_code == 400


def test_a_second_view_of_the_same_video_changes_nothing(client, member, seconds):
    client.force_login(member.user)
    token = _start(client)
    seconds(9.0)
    assert _watched(client, token).status_code == 201
    token = _start(client)
    seconds(9.0)
    response = _watched(client, token)
    assert response.status_code == 200 and response.json()["new"] is False
    assert VideoView.objects.count() == 1


def test_an_unknown_video_is_404(client, member):
    client.force_login(member.user)
    assert client.post("/videos/video-9/start").status_code == 404


def test_after_the_period_a_view_is_refused_with_the_reason(client, clock, member, seconds):
    clock("2026-04-01 00:00")
    client.force_login(member.user)
    assert "data-video=" not in client.get("/videos/").content.decode()
    token = _start(client)
    seconds(9.0)
    response = _watched(client, token)
    assert response.status_code == 400
    assert response.json()["error"] == "outside_window"
    assert not VideoView.objects.exists()


def test_video_posts_are_csrf_protected(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    assert client.post("/videos/video-1/start").status_code == 403


def test_a_member_who_has_not_entered_yet_gets_the_view_counted_for_later(client, in_campaign, seconds):
    user = UserFactory(username="M4000002")
    member = MemberFactory(member_id="M4000002", user=user)
    client.force_login(user)
    assert 'data-video="video-2"' in client.get("/videos/").content.decode()
    token = _start(client, "video-2")
    seconds(9.0)
    assert _watched(client, token, code="video-2").status_code == 201
    assert VideoView.objects.filter(member=member, video__code="video-2").exists()
