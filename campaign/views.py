"""The customer special site (特設サイト): campaign page, sign-in, entry, stamp card and videos.

Every member page finds its member through :func:`get_member_for_user`, so a page can only
show the signed-in member's own data; a URL naming another member's id answers 404.
Members sign in with WESTER ID (campaign/wester_id.py, campaign/signin.py); the user of a
member is linked to it on the first sign-in.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from campaign import clock
from campaign.imports.entries import entry_create, video_view_record
from campaign.models import Campaign, Entry, EntrySource, Member, PointType, VideoView
from campaign.prepared import prepared_cursor
from campaign.services import Refused
from campaign.templatetags.site import jst
from lottery.services import lottery_public
from missions.models import Course, Mission, Video

# A video counts when this share of it was really played (seeking does not count).
VIDEO_PLAYED_SHARE = 0.9
# The server's check allows this much for the time the start request takes to arrive.
VIDEO_START_SLACK_SECONDS = 1.5
_VIDEO_SESSION_KEY = "video_starts"


# ---------------------------------------------------------------------------- helpers


def current_campaign() -> Campaign:
    try:
        return Campaign.objects.current_kept()
    except Campaign.DoesNotExist:
        raise Http404("No active campaign.") from None


def get_member_for_user(request: HttpRequest, member_id: str | None = None) -> Member:
    """The signed-in user's own member; 404 when there is none or the URL names someone else.

    The one place that maps a sign-in to a member: a WESTER ID SSO backend would change only this.
    """
    member = _member_or_none(request)
    if member is None:
        raise Http404(_("This sign-in is not linked to a Wesmo! member ID."))
    if member_id is not None and member_id != member.member_id:
        raise Http404
    return member


def _member_or_none(request: HttpRequest) -> Member | None:
    """The signed-in user's member (only its id loaded). A member signed in with WESTER ID has it
    read with the user (campaign.sessions.member_user_read); other sign-ins (the demo's, staff)
    read it with plain SQL: the ORM's query for ``request.user.member`` cost as much CPU as a
    whole minimal request (bench/load.py)."""
    user = request.user
    if not user.is_authenticated:
        return None
    member_of_user = Member.user.field.remote_field  # the user's side of the link: ``user.member``
    if member_of_user.is_cached(user):
        return member_of_user.get_cached_value(user)
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT member_id FROM {Member._meta.db_table} WHERE user_id = %s", [user.pk])
        row = cursor.fetchone()
    return None if row is None else Member.from_db(connection.alias, ["member_id", "user_id"], [row[0], user.pk])


def _seconds() -> float:
    """Real elapsed time for the video check, not the campaign clock (which a demo may have fixed)."""
    return time.time()


def _refusal_text(campaign: Campaign, exc: Refused, *, entry: bool = False) -> str:
    """The service's refusal for people, with the window in Japan time as the site writes times."""
    if exc.code != "outside_window":
        return exc.message
    # The window ends before entry_ends_at (exclusive): its last minute is what people read as the end.
    window = {"start": jst(campaign.entry_starts_at), "end": jst(campaign.entry_ends_at - timedelta(minutes=1))}
    if entry:  # a message at the top of the page, apart from the button: it says what was refused
        return _("Entry is possible only from %(start)s until %(end)s (Japan time).") % window
    return _("This is possible only from %(start)s until %(end)s (Japan time).") % window


def window_state(campaign: Campaign, now: datetime) -> str:
    """``before`` / ``open`` / ``after`` the entry window."""
    if now < campaign.entry_starts_at:
        return "before"
    if now >= campaign.entry_ends_at:
        return "after"
    return "open"


def site_language() -> str:
    return "en" if (get_language() or "ja").startswith("en") else "ja"


def mission_unit(mission: Mission) -> str:
    """What a mission counts, as the stamp writes it: "2/3回" / "2/3 payments" (its kind says)."""
    return mission.kind_def.unit(site_language())


def _campaign_maxima(missions: list[Mission], campaign: Campaign) -> dict:
    """Course maxima and the campaign's maximum, from the missions as marketing set them."""
    by_course: dict[int, int] = {}
    limited = 0
    for mission in missions:
        by_course[mission.course_id] = by_course.get(mission.course_id, 0) + mission.max_points
        if mission.point_type == PointType.LIMITED:
            limited += mission.max_points
    return {"by_course": by_course, "limited": limited, "total": limited + campaign.lottery_prize_points}


# ---------------------------------------------------------------------------- campaign pages

_COURSE_ICONS = {"casual", "mania", "bonus"}  # static/site/course-<code>.svg


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    campaign = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
    if campaign is None:
        return render(request, "site/home.html", {"campaign": None})
    missions = list(Mission.objects.filter(campaign=campaign, is_active=True).order_by("order", "code"))
    courses = list(
        Course.objects.filter(campaign=campaign)
        .order_by("order", "code")
        .prefetch_related(Prefetch("missions", queryset=Mission.objects.filter(is_active=True).order_by("order")))
    )
    maxima = _campaign_maxima(missions, campaign)
    for course in courses:
        course.icon = f"site/course-{course.code}.svg" if course.code in _COURSE_ICONS else None
        course.max_points = maxima["by_course"].get(course.pk, 0)
        course.has_lottery = any(m.counts_for_lottery for m in course.missions.all())
    member = _member_or_none(request)
    entered = bool(member and Entry.objects.filter(campaign=campaign, member=member).exists())
    now = clock.now()
    left = max(campaign.entry_ends_at - now, timedelta(0))
    return render(
        request,
        "site/home.html",
        {
            "campaign": campaign,
            "courses": courses,
            "maxima": maxima,
            "mission_count": sum(1 for m in missions if m.kind != "completion"),
            "notes": [n.get(site_language()) or n.get("ja", "") for n in campaign.notes if isinstance(n, dict)],
            "window": window_state(campaign, now),
            "now": now,
            "left": {"days": left.days, "hours": left.seconds // 3600},
            "member": member,
            "entered": entered,
            "lottery": lottery_public(campaign=campaign),
        },
    )


# ---------------------------------------------------------------------------- FAQ


@require_safe
def faq(request: HttpRequest) -> HttpResponse:
    """The questions the announcement answers: entry, retroactivity, points, delays, cancellations, lottery."""
    campaign = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
    return render(request, "site/faq.html", {"campaign": campaign, "contact_url": settings.PORTAL_CONTACT_URL})


# ---------------------------------------------------------------------------- entry


def entry(request: HttpRequest) -> HttpResponse:
    """One button: enter the campaign (R2). POST-redirect-GET; a double click makes one entry."""
    campaign = current_campaign()
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        member = get_member_for_user(request)
        try:
            _entry, created = entry_create(campaign=campaign, member_id=member.member_id, source=EntrySource.SITE)
        except Refused as exc:
            messages.error(request, _refusal_text(campaign, exc, entry=True))
            return redirect("entry")
        if created:
            messages.success(
                request,
                _("You are entered. Your payments and charges since the start of the campaign count too."),
            )
        else:
            messages.info(request, _("You had already entered."))
        return redirect("stamp-card")
    member = _member_or_none(request)
    current = Entry.objects.filter(campaign=campaign, member=member).first() if member else None
    return render(
        request,
        "site/entry.html",
        {
            "campaign": campaign,
            "member": member,
            "entry": current,
            "window": window_state(campaign, clock.now()),
            "lottery": lottery_public(campaign=campaign),
        },
    )


# ---------------------------------------------------------------------------- videos

# Videos with captions in static/videos/<code>.<ja|en>.vtt (the on-screen text; the videos are silent).
_CAPTIONED_VIDEOS = {"video-1", "video-2"}


@require_safe
def videos(request: HttpRequest) -> HttpResponse:
    campaign = current_campaign()
    member = _member_or_none(request)
    watched: dict[int, datetime] = {}
    if member is not None:
        watched = dict(VideoView.objects.filter(campaign=campaign, member=member).values_list("video_id", "watched_at"))
    items = [
        {"video": video, "watched_at": watched.get(video.pk), "captions": video.code in _CAPTIONED_VIDEOS}
        for video in Video.objects.filter(campaign=campaign).order_by("order", "code")
    ]
    return render(
        request,
        "site/videos.html",
        {
            "campaign": campaign,
            "member": member,
            "videos": items,
            "played_share": VIDEO_PLAYED_SHARE,
            "window": window_state(campaign, clock.now()),
        },
    )


def _video_for(campaign: Campaign, code: str) -> Video:
    video = Video.objects.filter(campaign=campaign, code=code).first()
    if video is None:
        raise Http404
    return video


@login_required
@require_POST
def video_start(request: HttpRequest, code: str) -> JsonResponse:
    """The page starts playing a video: a token and the time, kept in the session."""
    campaign = current_campaign()
    get_member_for_user(request)
    video = _video_for(campaign, code)
    token = secrets.token_urlsafe(16)
    starts = dict(request.session.get(_VIDEO_SESSION_KEY, {}))
    starts[video.code] = {"token": token, "started": _seconds()}
    request.session[_VIDEO_SESSION_KEY] = starts
    return JsonResponse({"token": token, "duration": video.duration_seconds, "share": VIDEO_PLAYED_SHARE})


@login_required
@require_POST
def video_watched(request: HttpRequest, code: str) -> JsonResponse:
    """The page played the video to (nearly) the end: record the view (mission mania-1)."""
    campaign = current_campaign()
    member = get_member_for_user(request)
    video = _video_for(campaign, code)
    try:
        payload = json.loads(request.body or b"{}")
        token = str(payload.get("token", ""))
        played = float(payload.get("played_seconds", 0))
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        return JsonResponse({"error": "bad_request", "message": _("The request could not be read.")}, status=400)
    start = request.session.get(_VIDEO_SESSION_KEY, {}).get(video.code)
    if not start or not token or not secrets.compare_digest(str(start.get("token", "")), token):
        return JsonResponse({"error": "not_started", "message": _("Please play the video from the page.")}, status=400)
    needed = video.duration_seconds * VIDEO_PLAYED_SHARE
    elapsed = _seconds() - float(start.get("started", 0))
    if played < needed or elapsed < needed - VIDEO_START_SLACK_SECONDS:
        return JsonResponse(
            {
                "error": "not_played",
                "message": _("Please watch the video to the end; skipping ahead does not count."),
                "retry_after": max(0.0, round(needed - VIDEO_START_SLACK_SECONDS - elapsed, 1)),
            },
            status=409,
        )
    try:
        view, created = video_view_record(
            campaign=campaign, member_id=member.member_id, video_code=video.code, source=EntrySource.SITE
        )
    except Refused as exc:
        return JsonResponse({"error": exc.code, "message": _refusal_text(campaign, exc)}, status=400)
    starts = dict(request.session.get(_VIDEO_SESSION_KEY, {}))
    starts.pop(video.code, None)
    request.session[_VIDEO_SESSION_KEY] = starts
    return JsonResponse(
        {
            "recorded": True,
            "new": created,
            "watched_at": view.watched_at.isoformat(),
            "message": _("Watched! The stamp appears on your stamp card."),
        },
        status=201 if created else 200,
    )


# ---------------------------------------------------------------------------- lock-out


def login_locked_out(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> HttpResponse:
    """Shown (429) after too many failed sign-ins for one member ID from one address (django-axes)."""
    return render(request, "site/locked_out.html", status=429)
