"""Missions as evaluated rules: a frozen copy of each Mission row the engine and the explanations read.

The engine never hard-codes a threshold, window or weekday: everything comes from here,
so marketing's edits in the admin change the outcome after a re-score (R6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from campaign.models import Campaign
from missions.kinds import KINDS, Kind
from missions.models import Mission


@dataclass(frozen=True)
class Rule:
    mission_id: int
    code: str
    course_id: int
    kind: str
    min_amount: int
    target: int
    window_start: time | None
    window_end: time | None
    weekdays: tuple[int, ...]
    bonus_only: bool
    requires: tuple[str, ...]
    reward_points: int
    unit_points: int | None
    point_type: str
    counts_for_lottery: bool

    @property
    def kind_def(self) -> Kind:
        return KINDS[self.kind]

    @property
    def counts_records(self) -> bool:
        return self.kind_def.record_type is not None

    @property
    def max_points(self) -> int:
        if self.unit_points:
            return self.unit_points * self.target
        return self.reward_points


def rule_from_mission(mission: Mission, requires: Iterable[str] = ()) -> Rule:
    requires = tuple(sorted(requires))
    target = len(requires) if mission.kind == "completion" and requires else mission.target_count
    weekdays = mission.weekdays if isinstance(mission.weekdays, list) else []
    return Rule(
        mission_id=mission.pk,
        code=mission.code,
        course_id=mission.course_id,
        kind=mission.kind,
        min_amount=int(mission.min_amount or 0),
        target=max(1, int(target)),
        window_start=mission.window_start,
        window_end=mission.window_end,
        weekdays=tuple(sorted({int(d) for d in weekdays})),
        bonus_only=bool(mission.bonus_merchants_only),
        requires=requires,
        reward_points=int(mission.reward_points or 0),
        unit_points=int(mission.unit_points) if mission.unit_points else None,
        point_type=mission.point_type,
        counts_for_lottery=bool(mission.counts_for_lottery),
    )


def rules_load(*, campaign: Campaign, missions: list[Mission] | None = None) -> list[Rule]:
    """The active rules of ``campaign``; ``missions`` (possibly unsaved edits) replace stored ones by pk."""
    stored = {m.pk: m for m in Mission.objects.filter(campaign=campaign).select_related("course")}
    requires: dict[int, list[str]] = {}
    for from_id, code in Mission.requires.through.objects.filter(from_mission__campaign=campaign).values_list(
        "from_mission_id", "to_mission__code"
    ):
        requires.setdefault(from_id, []).append(code)
    for replacement in missions or []:
        if replacement.pk is not None:
            stored[replacement.pk] = replacement
    ordered = sorted(stored.values(), key=lambda m: (m.course.order if m.course_id else 0, m.order, m.code))
    return [rule_from_mission(m, requires.get(m.pk, ())) for m in ordered if m.is_active]
