"""The progress document of SPEC 3.5: what the stamp card and the system API show for one member.

Built from the stored stamps, stamp card and ledger with a constant number of queries, so the
stamp page answers in milliseconds whatever the member's history. Points are the ledger's
sums (R10), never recomputed, so what the card shows is exactly the balance.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Sum

from campaign.env import JST
from campaign.models import Campaign, Entry
from missions.models import Course, LedgerLine, Mission, MissionKind, Stamp, StampCard


def iso_jst(value: datetime | None) -> str | None:
    """``2026-03-10T12:00:00+09:00`` (SPEC 3.5), or None."""
    if value is None:
        return None
    return value.astimezone(JST).isoformat(timespec="seconds")


def _mission_target(mission: Mission, requires_count: int) -> int:
    if mission.kind == MissionKind.COMPLETION and requires_count:
        return requires_count
    return mission.target_count


# The courses and missions change a few times a campaign but are read on every stamp card:
# each process keeps them for STRUCTURE_TTL seconds. A save in this process forgets them at
# once (missions.apps connects structure_forget to the save signals); other processes see an
# edit within the TTL, like the site's cached cards.
STRUCTURE_TTL = 30.0
_structure_lock = threading.Lock()
_structures: dict[int, tuple[float, _Structure]] = {}


@dataclass(frozen=True)
class _Structure:
    courses: list[Course]
    missions: list[Mission]
    targets: dict[int, int]


def structure_forget(*args, **kwargs) -> None:
    with _structure_lock:
        _structures.clear()


def _structure(campaign: Campaign) -> _Structure:
    now = time.monotonic()
    with _structure_lock:
        cached = _structures.get(campaign.pk)
    if cached is not None and now - cached[0] < STRUCTURE_TTL:
        return cached[1]
    courses = list(Course.objects.filter(campaign=campaign).order_by("order", "code"))
    missions = list(
        Mission.objects.filter(campaign=campaign, is_active=True)
        .prefetch_related("requires")
        .order_by("course__order", "order", "code")
    )
    targets = {m.pk: _mission_target(m, len(m.requires.all())) for m in missions}
    structure = _Structure(courses=courses, missions=missions, targets=targets)
    with _structure_lock:
        _structures[campaign.pk] = (now, structure)
    return structure


def progress_build(*, campaign: Campaign, member_id: str) -> dict:
    from lottery.services import member_lottery_status

    structure = _structure(campaign)
    courses, missions = structure.courses, structure.missions
    entry = Entry.objects.filter(campaign=campaign, member_id=member_id).first()
    card = StampCard.objects.filter(campaign=campaign, member_id=member_id).first()
    stamps = {s.mission_id: s for s in Stamp.objects.filter(campaign=campaign, member_id=member_id)}
    by_reward: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for reward, point_type, points in (
        LedgerLine.objects.filter(campaign=campaign, member_id=member_id)
        .values_list("reward", "point_type")
        .annotate(points=Sum("points"))
        .values_list("reward", "point_type", "points")
    ):
        by_reward[reward] += points
        by_type[point_type] += points

    entered = entry is not None
    would_earn: dict[str, int] = defaultdict(int)
    course_docs = []
    for course in courses:
        mission_docs = []
        for mission in (m for m in missions if m.course_id == course.pk):
            stamp = stamps.get(mission.pk)
            target = structure.targets[mission.pk]
            progress = min(stamp.progress, target) if stamp else 0
            cleared = bool(entered and stamp and stamp.cleared)
            if not entered and progress >= target:
                would_earn[mission.point_type] += mission.max_points
            elif not entered and mission.unit_points:
                would_earn[mission.point_type] += mission.unit_points * progress
            mission_docs.append(
                {
                    "code": mission.code,
                    "cleared": cleared,
                    "cleared_at": iso_jst(stamp.cleared_at) if cleared else None,
                    "progress": progress,
                    "target": target,
                    "points": by_reward.get(mission.code, 0),
                    "max_points": mission.max_points,
                }
            )
        course_docs.append(
            {
                "code": course.code,
                "points": sum(m["points"] for m in mission_docs),
                "max_points": sum(m["max_points"] for m in mission_docs),
                "missions": mission_docs,
            }
        )
    eligible = bool(entered and card is not None and card.lottery_eligible)
    document = {
        "member_id": member_id,
        "entered": entered,
        "entered_at": iso_jst(entry.entered_at) if entry else None,
        "scored_at": iso_jst(card.scored_at) if card else None,
        "points": {"limited": by_type.get("limited", 0), "basic": by_type.get("basic", 0)},
        "lottery": {
            "eligible": eligible,
            "status": member_lottery_status(campaign=campaign, member_id=member_id, eligible=eligible),
        },
        "courses": course_docs,
    }
    if not entered:
        # Not part of SPEC 3.5: what entering now would already earn (entry is retroactive, R2).
        document["would_earn"] = {"limited": would_earn.get("limited", 0), "basic": would_earn.get("basic", 0)}
    return document
