"""The campaign dashboard's figures: a handful of aggregate queries, never a loop over members.

Every series is one GROUP BY over an indexed column (entries by JST day, stamps by mission and
day, ledger lines by day and point type, stamp cards by stamps), so the page stays fast with a
million members. A Celery task computes them into the cache (``dashboard_figures_cached``);
:mod:`campaign.dashboard_charts` turns them into the charts, their tables and their CSV files.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from celery import shared_task
from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Sum
from django.db.models.functions import TruncDate

from campaign import clock
from campaign.forecast import Forecast, forecast_drift
from campaign.models import Campaign, Entry, ImportBatch, PointType
from campaign.queueing import task_enqueue
from missions.models import Course, LedgerLine, Mission, Stamp, StampCard

LOTTERY = "lottery"
# A named zone (not a fixed offset) so that every database can truncate to the Japan day.
JAPAN = ZoneInfo("Asia/Tokyo")


@dataclass
class Bar:
    label: str
    value: int
    maximum: int | None = None


@dataclass
class DashboardFigures:
    campaign_id: int
    days: list[date]  # every JST day of the period so far, days without any entry included
    entries_by_day: list[int]
    entries_total: int
    members_by_stamps: list[Bar]
    missions: list[tuple[str, str]]  # (code, title) of the active missions, in order
    clears_by_mission_day: dict[str, list[int]]  # mission code → clears per day (aligned with days)
    clears_by_mission: list[Bar]  # total clears per mission against the entered members
    points_by_course: list[Bar]  # awarded so far against the maximum the entered members could earn
    points_by_day: dict[str, list[int]]  # point type → mission points awarded per day
    points_total: dict[str, int]
    lottery_points: int  # the lottery prizes the draw will award (winners × prize)
    budget: int | None
    forecast: Forecast | None
    forecast_from: date | None  # the last complete day; the forecast covers the days after it
    eligible_by_day: list[int]  # members who became lottery-eligible that day
    lottery_eligible: int
    period_end: date
    imports: list[ImportBatch] = field(default_factory=list)
    computed_at: datetime | None = None


def _jst_day(value: datetime) -> date:
    return value.astimezone(JAPAN).date()


def _days_axis(campaign: Campaign, now: datetime, seen: set[date]) -> list[date]:
    """From the first entry day to today (or the end of the period), and any day with data after it."""
    first = _jst_day(min(campaign.starts_at, campaign.entry_starts_at))
    last = _jst_day(min(now, campaign.ends_at - timedelta(seconds=1)))
    last = max([last, *seen]) if seen else last
    first = min([first, *seen]) if seen else first
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _per_day(counts: dict[date, int], days: list[date]) -> list[int]:
    return [counts.get(day, 0) for day in days]


def dashboard_figures(*, campaign: Campaign) -> DashboardFigures:
    now = clock.now()
    entries = Entry.objects.filter(campaign=campaign)
    entries_per_day = dict(
        entries.annotate(day=TruncDate("entered_at", tzinfo=JAPAN))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    entries_total = sum(entries_per_day.values())
    missions = list(Mission.objects.filter(campaign=campaign, is_active=True).select_related("course"))
    clears_per_day = _clears_per_mission_day(campaign, missions)
    points_rows = _points_per_day(campaign)
    eligible_per_day = _eligible_per_day(campaign)
    seen = {d for d in entries_per_day if d} | {d for (_, d) in clears_per_day if d} | {d for (d, _) in points_rows}
    days = _days_axis(campaign, now, seen | {d for d in eligible_per_day if d})

    by_type: dict[str, dict[date, int]] = defaultdict(dict)
    for (day, point_type), points in points_rows.items():
        by_type[point_type][day] = points
    points_by_day = {pt.value: _per_day(by_type.get(pt.value, {}), days) for pt in PointType}
    awarded, points_by_course = _points_by_course(campaign, missions, entries_total)
    winners = min(campaign.lottery_winners, entries_total)
    daily_total = [sum(values) for values in zip(*points_by_day.values(), strict=True)] if days else []
    period_end = _jst_day(campaign.ends_at - timedelta(seconds=1))
    today = _jst_day(now)
    # Today is not over: the pace is read from complete days only, and the forecast starts after the last one.
    complete = [n for day, n in zip(days, daily_total, strict=True) if day < min(today, period_end + timedelta(1))]
    last_complete = days[len(complete) - 1] if complete else None

    return DashboardFigures(
        campaign_id=campaign.pk,
        days=days,
        entries_by_day=_per_day({d: n for d, n in entries_per_day.items() if d}, days),
        entries_total=entries_total,
        members_by_stamps=_members_by_stamps(campaign, entries_total, len(missions)),
        missions=[(m.code, m.title) for m in missions],
        clears_by_mission_day={
            m.code: _per_day({d: n for (pk, d), n in clears_per_day.items() if pk == m.pk and d}, days)
            for m in missions
        },
        clears_by_mission=[
            Bar(m.code, sum(n for (pk, _), n in clears_per_day.items() if pk == m.pk), entries_total) for m in missions
        ],
        points_by_course=points_by_course,
        points_by_day=points_by_day,
        points_total={pt.value: sum(v for (_, t), v in awarded.items() if t == pt.value) for pt in PointType},
        lottery_points=winners * campaign.lottery_prize_points,
        budget=campaign.points_budget,
        forecast=forecast_drift(
            daily=complete,
            start_total=sum(complete),
            days_left=(period_end - last_complete).days if last_complete else 0,
        ),
        forecast_from=last_complete,
        eligible_by_day=_per_day({d: n for d, n in eligible_per_day.items() if d}, days),
        lottery_eligible=StampCard.objects.filter(campaign=campaign, entered=True, lottery_eligible=True).count(),
        period_end=period_end,
        imports=_imports_last(campaign),
        computed_at=now,
    )


def _entered(campaign: Campaign) -> Exists:
    return Exists(Entry.objects.filter(campaign=campaign, member_id=OuterRef("member_id")))


def _clears_per_mission_day(campaign: Campaign, missions: list[Mission]) -> dict[tuple[int, date | None], int]:
    rows = (
        Stamp.objects.filter(campaign=campaign, cleared=True, mission__in=missions)
        .filter(_entered(campaign))
        .annotate(day=TruncDate("cleared_at", tzinfo=JAPAN))
        .values_list("mission_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(mission_id, day): n for mission_id, day, n in rows}


def _points_per_day(campaign: Campaign) -> dict[tuple[date, str], int]:
    """Mission points awarded (net of reversals) per JST day and point type; the lottery prize is apart."""
    rows = (
        LedgerLine.objects.filter(campaign=campaign)
        .exclude(reward=LOTTERY)
        .annotate(day=TruncDate("occurred_at", tzinfo=JAPAN))
        .values_list("day", "point_type")
        .annotate(points=Sum("points"))
        .order_by()
    )
    return {(day, point_type): points or 0 for day, point_type, points in rows if day}


def _eligible_per_day(campaign: Campaign) -> dict[date, int]:
    """Entered members by the day they cleared the last of the lottery missions (those eligible now)."""
    lottery = Mission.objects.filter(campaign=campaign, is_active=True, counts_for_lottery=True)
    needed = lottery.count()
    if not needed:
        return {}
    # Only the members whose card says eligible now (a few per cent): not a GROUP BY over every stamp.
    eligible_now = Exists(
        StampCard.objects.filter(campaign=campaign, member_id=OuterRef("member_id"), lottery_eligible=True)
    )
    rows = (
        Stamp.objects.filter(campaign=campaign, cleared=True, mission__in=lottery)
        .filter(eligible_now)
        .filter(_entered(campaign))
        .values("member_id")
        .annotate(n=Count("id"), last=Max("cleared_at"))
        .filter(n=needed)
        .values_list("last", flat=True)
    )
    per_day: dict[date, int] = defaultdict(int)
    for last in rows:
        if last is not None:
            per_day[_jst_day(last)] += 1
    return per_day


def _members_by_stamps(campaign: Campaign, entries_total: int, missions: int) -> list[Bar]:
    cards = StampCard.objects.filter(campaign=campaign, entered=True)
    by_stamps = dict(cards.values_list("stamps_cleared").annotate(n=Count("id")).order_by())
    # An entered member not scored yet has no card: they have no stamps.
    by_stamps[0] = by_stamps.get(0, 0) + max(entries_total - sum(by_stamps.values()), 0)
    most = max([missions, *by_stamps.keys()])
    return [Bar(label=str(n), value=by_stamps.get(n, 0)) for n in range(most + 1)]


def _points_by_course(
    campaign: Campaign, missions: list[Mission], entries_total: int
) -> tuple[dict[tuple[str, str], int], list[Bar]]:
    awarded: dict[tuple[str, str], int] = {}
    # Grouped by mission id (no join over millions of lines); the mission's course is looked up here.
    course_of = dict(Mission.objects.filter(campaign=campaign).values_list("pk", "course__code"))
    rows = (
        LedgerLine.objects.filter(campaign=campaign)
        .values_list("mission_id", "reward", "point_type")
        .annotate(points=Sum("points"))
        .order_by()
    )
    for mission_id, reward, point_type, points in rows:
        key = (course_of.get(mission_id) or reward, point_type)
        awarded[key] = awarded.get(key, 0) + (points or 0)
    # The campaign's liability: what is awarded against what every entered member could still earn.
    maxima: dict[tuple[str, str], int] = {}
    for mission in missions:
        key = (mission.course.code, mission.point_type)
        maxima[key] = maxima.get(key, 0) + mission.max_points * entries_total
    winners = min(campaign.lottery_winners, entries_total)
    maxima[(LOTTERY, campaign.lottery_point_type)] = winners * campaign.lottery_prize_points
    course_order = {c.code: c.order for c in Course.objects.filter(campaign=campaign)}
    keys = sorted(set(maxima) | set(awarded), key=lambda k: (course_order.get(k[0], 99), k[0], k[1]))
    bars = [
        Bar(
            label=f"{code} / {point_type}",
            value=awarded.get((code, point_type), 0),
            maximum=maxima.get((code, point_type)),
        )
        for code, point_type in keys
    ]
    return awarded, bars


# The figures read millions of stamps and ledger lines (10–20 s at a million members): a Celery task
# computes them and the page shows the last ones computed, recomputed in the background when older
# than CACHE_SECONDS or when staff ask; they are kept KEEP_SECONDS.
CACHE_SECONDS = 300
KEEP_SECONDS = 7 * 24 * 3600


def _key(campaign_id: int, what: str) -> str:
    return f"dashboard-figures:v3:{campaign_id}:{what}"


def dashboard_figures_cached(
    *, campaign: Campaign, refresh: bool = False, wait: bool = False
) -> DashboardFigures | None:
    """The last figures computed (imports always live), or None while the first are being computed.

    When they are older than CACHE_SECONDS or ``refresh`` asks, one refresh task is sent (the
    ``fresh`` key, added for CACHE_SECONDS, lets one request per period send it). ``wait`` computes
    missing figures here instead (the CSV downloads). Without a broker the task runs inline.
    """
    if refresh:
        cache.delete(_key(campaign.pk, "fresh"))
    if cache.add(_key(campaign.pk, "fresh"), True, CACHE_SECONDS):
        task_enqueue(dashboard_refresh_task, campaign.pk)
    figures = cache.get(_key(campaign.pk, "figures"))
    if figures is None and wait:
        figures = dashboard_figures_store(campaign=campaign)
    if figures is not None:
        figures.imports = _imports_last(campaign)
    return figures


def dashboard_figures_store(*, campaign: Campaign) -> DashboardFigures:
    figures = dashboard_figures(campaign=campaign)
    cache.set(_key(campaign.pk, "figures"), figures, KEEP_SECONDS)
    return figures


@shared_task(acks_late=False, max_retries=0)
def dashboard_refresh_task(campaign_id: int) -> None:
    """Compute the dashboard's figures of a campaign into the cache (a lost task: the next period sends another)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None:
        dashboard_figures_store(campaign=campaign)


def _imports_last(campaign: Campaign) -> list[ImportBatch]:
    return list(ImportBatch.objects.filter(campaign=campaign).select_related("uploaded_by")[:10])
