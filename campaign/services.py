"""Work on campaigns, members, entries and video views that spans models."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from campaign import clock
from campaign.env import JST
from campaign.identifiers import id_problem
from campaign.models import Campaign, Entry, EntrySource, Member, VideoView

# A record from the app may be stamped a little ahead of the portal's clock.
CLOCK_SKEW = timedelta(minutes=5)


class Refused(Exception):
    """A request the campaign's rules refuse; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def statistics_sample(cursor, tables: str) -> None:
    """ANALYZE ``tables`` on a small sample (3,000 rows each), inside the caller's transaction.

    Right after a bulk write the planner needs only the tables' sizes and rough spreads (without
    them it planned on a table it believed empty); autovacuum's full sample replaces these later.
    """
    cursor.execute("SET LOCAL default_statistics_target = 10")
    cursor.execute(f"ANALYZE {tables}")


def member_id_check(member_id: object) -> str:
    """The member id, stripped, or ``Refused`` by the shared id rule (``campaign.identifiers``).

    1–64 printable ASCII characters without spaces, not starting like a spreadsheet formula
    (``= + - @``, tab, CR), so that no export opened in Excel runs it.
    """
    value = member_id.strip() if isinstance(member_id, str) else member_id
    problem = id_problem(value, member=True)
    if problem == "formula":
        raise Refused(
            "invalid_member_id",
            _("A member ID may not start with =, +, -, @, a tab or a carriage return (a spreadsheet formula)."),
        )
    if problem is not None:
        raise Refused("invalid_member_id", _("A member ID is 1 to 64 letters, digits or symbols, without spaces."))
    return value


def _judged_time(*, campaign: Campaign, when: datetime | None, received_at: datetime, what: str) -> datetime:
    """The time a rule judges: the one the app recorded, else the portal's clock (SPEC 3.3)."""
    judged = when or received_at
    if judged > received_at + CLOCK_SKEW:
        raise Refused("in_future", _("The %(what)s time %(when)s is in the future.") % {"what": what, "when": judged})
    if not campaign.in_entry_window(judged):
        raise Refused(
            "outside_window",
            _("%(what)s is only possible from %(start)s until %(end)s (Japan time).")
            % {
                "what": what.capitalize(),
                "start": campaign.entry_starts_at.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
                "end": (campaign.entry_ends_at - timedelta(seconds=1)).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
            },
        )
    return judged


def member_get_or_create(*, member_id: str) -> Member:
    member, _created = Member.objects.get_or_create(member_id=member_id_check(member_id))
    return member


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
    existing = Entry.objects.filter(campaign=campaign, member_id=member_id).first()
    if existing is not None:
        return existing, False
    received_at = clock.now()
    judged = _judged_time(campaign=campaign, when=entered_at, received_at=received_at, what=_("entry"))
    with transaction.atomic():
        member = member_get_or_create(member_id=member_id)
        entry, created = Entry.objects.get_or_create(
            campaign=campaign,
            member=member,
            defaults={"entered_at": judged, "source": source, "received_at": received_at},
        )
        if created:
            _score_later(campaign=campaign, member_ids=[member_id])
    return entry, created


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
    from missions.models import Video

    member_id = member_id_check(member_id)
    video = Video.objects.filter(campaign=campaign, code=video_code).first()
    if video is None:
        codes = ", ".join(Video.objects.filter(campaign=campaign).values_list("code", flat=True))
        raise Refused(
            "unknown_video",
            _("Unknown video %(code)r; the videos are: %(codes)s.") % {"code": video_code, "codes": codes},
        )
    existing = VideoView.objects.filter(campaign=campaign, member_id=member_id, video=video).first()
    if existing is not None:
        return existing, False
    received_at = clock.now()
    judged = _judged_time(campaign=campaign, when=watched_at, received_at=received_at, what=_("video view"))
    with transaction.atomic():
        member = member_get_or_create(member_id=member_id)
        view, created = VideoView.objects.get_or_create(
            campaign=campaign,
            member=member,
            video=video,
            defaults={"watched_at": judged, "source": source, "received_at": received_at},
        )
        if created:
            _score_later(campaign=campaign, member_ids=[member_id])
    return view, created


def _score_later(*, campaign: Campaign, member_ids: list[str]) -> None:
    from missions.services import members_score_later

    members_score_later(campaign=campaign, member_ids=member_ids)
