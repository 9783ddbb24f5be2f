"""Entries and video views as they arrive (from the app, the site or the admin): stored, then scored.

An entry makes every qualifying record of the period count (R2), and a video view counts for the
video mission, so each marks its member due for scoring in the same transaction and queues the
scoring after commit.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from campaign import clock
from campaign.models import Campaign, Entry, EntrySource, VideoView
from campaign.services import Refused, member_get_or_create, member_id_check, record_time_judge
from missions.models import Video
from missions.services import scoring_due_mark
from missions.tasks import members_score_later


def entry_create(
    *,
    campaign: Campaign,
    member_id: str,
    entered_at: datetime | None = None,
    source: str = EntrySource.APP,
) -> tuple[Entry, bool]:
    """Enter a member (R2). Returns the entry and whether it is new.

    A member who already entered gets the existing entry, whatever the time; a new entry
    outside the entry window is refused. The unique constraint decides between racing
    requests (a double click creates one entry).
    """
    member_id = member_id_check(member_id)
    return _record_once(
        Entry, campaign=campaign, member_id=member_id, moment=("entered_at", entered_at), what=_("entry"), source=source
    )


def video_view_record(
    *,
    campaign: Campaign,
    member_id: str,
    video_code: str,
    watched_at: datetime | None = None,
    source: str = EntrySource.APP,
) -> tuple[VideoView, bool]:
    """Record that a member watched a campaign video to the end (mission ``mania-1``).

    Judged like entries; a second view of the same video changes nothing.
    """
    member_id = member_id_check(member_id)
    video = Video.objects.filter(campaign=campaign, code=video_code).first()
    if video is None:
        codes = ", ".join(Video.objects.filter(campaign=campaign).values_list("code", flat=True))
        raise Refused(
            "unknown_video",
            _("Unknown video %(code)r; the videos are: %(codes)s.") % {"code": video_code, "codes": codes},
        )
    return _record_once(
        VideoView,
        campaign=campaign,
        member_id=member_id,
        moment=("watched_at", watched_at),
        what=_("video view"),
        source=source,
        video=video,
    )


def _record_once(model, *, campaign: Campaign, member_id: str, moment: tuple, what: str, source: str, **key):
    """The member's one record of ``model`` (an entry, a video's view): the stored one, or a new one.

    A record already stored is returned whatever the time; a new one is judged by its time (R2) and
    the unique constraint decides between racing requests (a double click stores one).
    """
    existing = model.objects.filter(campaign=campaign, member_id=member_id, **key).first()
    if existing is not None:
        return existing, False
    field, when = moment
    received_at = clock.now()
    judged = record_time_judge(campaign=campaign, when=when, received_at=received_at, what=what)
    with transaction.atomic():
        member = member_get_or_create(member_id=member_id)
        record, created = model.objects.get_or_create(
            campaign=campaign,
            member=member,
            **key,
            defaults={field: judged, "source": source, "received_at": received_at},
        )
        if created:
            _score_soon(campaign=campaign, member_id=member_id)
    return record, created


def _score_soon(*, campaign: Campaign, member_id: str) -> None:
    """Due with the record (the sweep scores it whatever becomes of the task), and queued now."""
    scoring_due_mark(campaign_id=campaign.pk, member_ids=[member_id])
    members_score_later(campaign=campaign, member_ids=[member_id])
