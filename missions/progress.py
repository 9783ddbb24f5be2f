"""The progress document of SPEC 3.5: what the stamp card and the system API show for one member.

Built from the stored stamps, stamp card and ledger with one query, so the
stamp page answers in milliseconds whatever the member's history. Points are the ledger's
sums (R10), never recomputed, so what the card shows is exactly the balance.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from campaign.env import JST
from campaign.models import Campaign
from campaign.prepared import prepared_cursor
from missions.models import Course, Mission


def iso_jst(value: datetime | None) -> str | None:
    """``2026-03-10T12:00:00+09:00`` (SPEC 3.5), or None."""
    if value is None:
        return None
    return value.astimezone(JST).isoformat(timespec="seconds")


def _mission_target(mission: Mission, requires_count: int) -> int:
    if mission.kind == "completion" and requires_count:
        return requires_count
    return mission.target_count


def _no_lottery(*, draw_status: str | None, outcome: str | None) -> str:
    return "not_drawn"


# How the draw's status and a member's outcome read as the document's lottery status. The lottery
# sits above the missions (it draws among stamp cards), so it hands its reading down when it loads
# (``lottery.apps``) instead of this module importing it.
lottery_status: Callable[..., str] = _no_lottery


# The courses and missions change a few times a campaign but are read on every stamp card:
# each process keeps them for STRUCTURE_TTL seconds. A save in this process forgets them at
# once (missions.apps connects structure_forget to the save signals); other processes see an
# edit within the TTL, like the site's cached cards.
STRUCTURE_TTL = 30.0
_structure_lock = threading.Lock()
# Per course: its code, its maximum and its missions as plain tuples (the document's loop reads
# them for every member: model attributes and properties cost more than the rest of the loop).
_MissionRow = tuple[int, str, int, int, str, int | None]  # pk, code, target, max_points, point_type, unit_points
_Courses = list[tuple[str, int, list[_MissionRow]]]
_structures: dict[int, tuple[float, _Courses]] = {}


def structure_forget(*args, **kwargs) -> None:
    with _structure_lock:
        _structures.clear()


def _structure(campaign: Campaign) -> _Courses:
    now = time.monotonic()
    with _structure_lock:
        cached = _structures.get(campaign.pk)
    if cached is not None and now - cached[0] < STRUCTURE_TTL:
        return cached[1]
    missions = list(
        Mission.objects.filter(campaign=campaign, is_active=True)
        .prefetch_related("requires")
        .order_by("course__order", "order", "code")
    )
    courses = []
    for course in Course.objects.filter(campaign=campaign).order_by("order", "code"):
        rows = [
            (m.pk, m.code, _mission_target(m, len(m.requires.all())), m.max_points, m.point_type, m.unit_points)
            for m in missions
            if m.course_id == course.pk
        ]
        courses.append((course.code, sum(row[3] for row in rows), rows))
    with _structure_lock:
        _structures[campaign.pk] = (now, courses)
    return courses


# The member's rows in one query whatever the history: its one-row facts, its stamps and its
# ledger's sums, told apart by the first column (one round trip instead of three: on the hot path,
# every stamp card and progress API call, each round trip cost as much as the rest of the request,
# bench/load.py). Plain SQL, because compiling the equivalent ORM querysets cost more CPU than the
# rest of the request. The same SQL runs on PostgreSQL and SQLite. Entry, stamp card, draw and draw
# entrant are unique per campaign and member: one head row.
_MEMBER_SQL = """
    SELECT 'head', e.entered_at, c.scored_at, c.lottery_eligible, d.status, de.outcome, NULL, NULL
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN campaign_entry e ON e.campaign_id = %(campaign)s AND e.member_id = %(member)s
    LEFT JOIN missions_stampcard c ON c.campaign_id = %(campaign)s AND c.member_id = %(member)s
    LEFT JOIN lottery_draw d ON d.campaign_id = %(campaign)s
    LEFT JOIN lottery_drawentrant de ON de.draw_id = d.id AND de.member_id = %(member)s
    UNION ALL
    SELECT 'stamp', cleared_at, NULL, cleared, NULL, NULL, mission_id, progress FROM missions_stamp
    WHERE campaign_id = %(campaign)s AND member_id = %(member)s
    UNION ALL
    SELECT 'ledger', NULL, NULL, NULL, reward, point_type, SUM(points), NULL FROM missions_ledgerline
    WHERE campaign_id = %(campaign)s AND member_id = %(member)s GROUP BY reward, point_type
"""


_NO_STAMP = (0, False, None)


def _moment(value: datetime | str | None) -> datetime | None:
    """A time read with plain SQL: aware on PostgreSQL; on SQLite naive (or text) in UTC, as Django stores it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def progress_build(*, campaign: Campaign, member_id: str) -> dict:
    courses = _structure(campaign)
    with prepared_cursor() as cursor:
        cursor.execute(_MEMBER_SQL, {"campaign": campaign.pk, "member": member_id})
        rows = cursor.fetchall()
    stamps: dict[int, tuple[int, bool, datetime | None]] = {}
    by_reward: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for kind, moment, scored, flag, text, text2, number, count in rows:
        if kind == "head":
            entered_at, scored_at, card_eligible = _moment(moment), _moment(scored), flag
            draw_status, outcome = text, text2
        elif kind == "stamp":
            stamps[number] = (count, bool(flag), moment)
        else:
            by_reward[text] += number
            by_type[text2] += number

    entered = entered_at is not None
    would_earn: dict[str, int] = defaultdict(int)
    course_docs = []
    for course_code, course_max_points, missions in courses:
        mission_docs = []
        course_points = 0
        for pk, code, target, max_points, point_type, unit_points in missions:
            progress, stamp_cleared, cleared_at = stamps.get(pk, _NO_STAMP)
            progress = min(progress, target)
            cleared = entered and stamp_cleared
            if not entered and progress >= target:
                would_earn[point_type] += max_points
            elif not entered and unit_points:
                would_earn[point_type] += unit_points * progress
            points = by_reward.get(code, 0)
            course_points += points
            mission_docs.append(
                {
                    "code": code,
                    "cleared": cleared,
                    "cleared_at": iso_jst(_moment(cleared_at)) if cleared else None,
                    "progress": progress,
                    "target": target,
                    "points": points,
                    "max_points": max_points,
                }
            )
        course_docs.append(
            {"code": course_code, "points": course_points, "max_points": course_max_points, "missions": mission_docs}
        )
    eligible = bool(entered and card_eligible)  # None: no stamp card yet
    document = {
        "member_id": member_id,
        "entered": entered,
        "entered_at": iso_jst(entered_at),
        "scored_at": iso_jst(scored_at),
        "points": {"limited": by_type.get("limited", 0), "basic": by_type.get("basic", 0)},
        "lottery": {"eligible": eligible, "status": lottery_status(draw_status=draw_status, outcome=outcome)},
        "courses": course_docs,
    }
    if not entered:
        # Not part of SPEC 3.5: what entering now would already earn (entry is retroactive, R2).
        document["would_earn"] = {"limited": would_earn.get("limited", 0), "basic": would_earn.get("basic", 0)}
    return document
