from __future__ import annotations

import pytest

from campaign.imports.entries import entry_create, video_view_record
from campaign.models import Entry, VideoView
from campaign.services import Refused
from tests.campaign.factories import jst


def test_an_entry_inside_the_window_is_created_once(in_campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry, created = entry_create(campaign=in_campaign, member_id="M0000042")
    again, created_again = entry_create(campaign=in_campaign, member_id="M0000042")
    assert created and not created_again
    assert again.pk == entry.pk
    assert entry.entered_at == jst("2026-03-15 12:00")
    assert Entry.objects.count() == 1


def test_the_app_recorded_entry_time_is_judged_not_the_arrival(clock, campaign):
    clock("2026-04-01 00:03")  # arrives just after the period
    entry, created = entry_create(campaign=campaign, member_id="M1", entered_at=jst("2026-03-31 23:59:59"))
    assert created and entry.entered_at == jst("2026-03-31 23:59:59")


@pytest.mark.parametrize("when", ["2026-03-01 23:59:59", "2026-04-01 00:00:00"])
def test_an_entry_outside_the_window_is_refused_in_japan_time(clock, campaign, when):
    clock(when)
    with pytest.raises(Refused) as refused:
        entry_create(campaign=campaign, member_id="M1")
    assert refused.value.code == "outside_window"
    assert "2026-03-02 00:00" in refused.value.message and "2026-03-31 23:59:59" in refused.value.message
    assert not Entry.objects.exists()


def test_an_entry_stamped_in_the_future_is_refused(in_campaign):
    with pytest.raises(Refused) as refused:
        entry_create(campaign=in_campaign, member_id="M1", entered_at=jst("2026-03-16 12:00"))
    assert refused.value.code == "in_future"


@pytest.mark.parametrize("bad", ["", " ", "M 1", "x" * 65, None, 12])
def test_a_malformed_member_id_is_refused(in_campaign, bad):
    with pytest.raises(Refused) as refused:
        entry_create(campaign=in_campaign, member_id=bad)
    assert refused.value.code == "invalid_member_id"


def test_a_second_view_of_the_same_video_changes_nothing(in_campaign):
    first, created = video_view_record(campaign=in_campaign, member_id="M1", video_code="video-1")
    second, created_again = video_view_record(
        campaign=in_campaign, member_id="M1", video_code="video-1", watched_at=jst("2026-03-14 08:00")
    )
    assert created and not created_again
    assert second.pk == first.pk and second.watched_at == jst("2026-03-15 12:00")
    assert VideoView.objects.count() == 1


def test_an_unknown_video_is_refused_with_the_known_codes(in_campaign):
    with pytest.raises(Refused) as refused:
        video_view_record(campaign=in_campaign, member_id="M1", video_code="video-9")
    assert refused.value.code == "unknown_video"
    assert "video-1, video-2" in refused.value.message
