"""The campaign dashboard's figures: a handful of aggregate queries, never a loop over members.

Every figure is one GROUP BY over an indexed column (entries by day, stamp cards by stamps,
cleared stamps by mission, ledger lines by course and point type), so the page stays fast
with a million members.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import TruncDate

from campaign import clock
from campaign.models import Campaign, Entry, ImportBatch, PointType
from missions.models import Course, LedgerLine, Mission, Stamp, StampCard

LOTTERY = "lottery"
# A named zone (not a fixed offset) so that every database can truncate to the Japan day.
JAPAN = ZoneInfo("Asia/Tokyo")


@dataclass
class Bar:
    label: str
    value: int
    maximum: int | None = None
    width: float = 0.0  # per cent of the chart's largest value, for the SVG bars


@dataclass
class DashboardFigures:
    entries_total: int
    entries_by_day: list[Bar]
    members_by_stamps: list[Bar]
    clears_by_mission: list[Bar]
    points_by_course: list[Bar]  # awarded so far against the maximum the entered members could earn
    points_total: dict[str, int]
    lottery_eligible: int
    imports: list[ImportBatch] = field(default_factory=list)
    computed_at: datetime | None = None


def _scaled(bars: list[Bar]) -> list[Bar]:
    top = max([max(b.value, b.maximum or 0) for b in bars] or [0])
    for bar in bars:
        bar.width = round(100 * bar.value / top, 1) if top else 0.0
    return bars


def dashboard_figures(*, campaign: Campaign) -> DashboardFigures:
    entries = Entry.objects.filter(campaign=campaign)
    entries_total = entries.count()

    per_day = (
        entries.annotate(day=TruncDate("entered_at", tzinfo=JAPAN))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    entries_by_day = [Bar(label=_day_label(row["day"]), value=row["n"]) for row in per_day]

    cards = StampCard.objects.filter(campaign=campaign, entered=True)
    by_stamps = dict(cards.values_list("stamps_cleared").annotate(n=Count("id")).order_by())
    # An entered member not scored yet has no card: they have no stamps.
    by_stamps[0] = by_stamps.get(0, 0) + max(entries_total - sum(by_stamps.values()), 0)
    missions = list(Mission.objects.filter(campaign=campaign, is_active=True).select_related("course"))
    most = max([len(missions), *by_stamps.keys()])
    members_by_stamps = [Bar(label=str(n), value=by_stamps.get(n, 0)) for n in range(most + 1)]

    entered = Entry.objects.filter(campaign=campaign, member_id=OuterRef("member_id"))
    cleared = dict(
        Stamp.objects.filter(campaign=campaign, cleared=True)
        .filter(Exists(entered))
        .values_list("mission_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    clears_by_mission = [Bar(label=m.code, value=cleared.get(m.pk, 0), maximum=entries_total) for m in missions]

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
    points_by_course = [
        Bar(
            label=f"{code} / {point_type}",
            value=awarded.get((code, point_type), 0),
            maximum=maxima.get((code, point_type)),
        )
        for code, point_type in keys
    ]
    points_total = {pt.value: sum(v for (_, t), v in awarded.items() if t == pt.value) for pt in PointType}

    return DashboardFigures(
        entries_total=entries_total,
        entries_by_day=_scaled(entries_by_day),
        members_by_stamps=_scaled(members_by_stamps),
        clears_by_mission=_scaled(clears_by_mission),
        points_by_course=_scaled(points_by_course),
        points_total=points_total,
        lottery_eligible=cards.filter(lottery_eligible=True).count(),
        imports=_imports_last(campaign),
        computed_at=clock.now(),
    )


# The figures read millions of stamps and ledger lines (a few seconds at a million members):
# staff see them at most this old, and can ask for fresh ones.
CACHE_SECONDS = 300


def dashboard_figures_cached(*, campaign: Campaign, refresh: bool = False) -> DashboardFigures:
    """The figures from the cache when younger than CACHE_SECONDS (imports always live)."""
    key = f"dashboard-figures:{campaign.pk}"
    figures = None if refresh else cache.get(key)
    if figures is None:
        figures = dashboard_figures(campaign=campaign)
        cache.set(key, figures, CACHE_SECONDS)
    figures.imports = _imports_last(campaign)
    return figures


def _imports_last(campaign: Campaign) -> list[ImportBatch]:
    return list(ImportBatch.objects.filter(campaign=campaign).select_related("uploaded_by")[:10])


def _day_label(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)


def dashboard_rows(figures: DashboardFigures) -> Iterator[list]:
    """The figures as CSV rows: section, key, value, maximum."""

    def section(name: str, bars: Iterable[Bar]) -> Iterator[list]:
        for bar in bars:
            yield [name, bar.label, bar.value, "" if bar.maximum is None else bar.maximum]

    yield ["computed_at", "", figures.computed_at.isoformat() if figures.computed_at else "", ""]
    yield ["entries", "total", figures.entries_total, ""]
    yield from section("entries_by_day", figures.entries_by_day)
    yield from section("members_by_stamps", figures.members_by_stamps)
    yield from section("clears_by_mission", figures.clears_by_mission)
    yield from section("points_by_course", figures.points_by_course)
    for point_type, total in figures.points_total.items():
        yield ["points_total", point_type, total, ""]
    yield ["lottery", "eligible", figures.lottery_eligible, ""]
    for batch in figures.imports:
        yield ["imports", f"#{batch.pk} {batch.file_name} ({batch.status})", batch.accepted, batch.rows_total or ""]
