"""What the admin shows before a rule change after the start: affected members, and text that no longer holds.

Both are read through the public scoring service (a dry run per member), so the page shows what
the re-score will do without a second copy of any rule.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from itertools import zip_longest

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext

from campaign.models import Campaign, Entry
from missions.models import Mission, Stamp, StampCard
from missions.services import rule_change_effect

NUMERIC_FIELDS = ("target_count", "min_amount", "reward_points", "unit_points")
TEXT_FIELDS = ("title_ja", "title_en", "label_ja", "label_en", "description_ja", "description_en")
SAMPLE_SIZE = 10
CANDIDATES = 60
TIME_BUDGET_SECONDS = 3.0  # the page answers in seconds even for a campaign of a million members


@dataclass(frozen=True)
class MemberEffect:
    member_id: str
    stamps_changed: int
    stamps_new: int
    stamps_withdrawn: int
    stamps_progress: int
    awards: int
    reversals: int
    points_delta: int


def _spellings(value: int) -> set[str]:
    """How a number is written in a mission's text: 10000, 10,000, 1万."""
    found = {str(value), f"{value:,}"}
    if value >= 10000 and value % 10000 == 0:
        found.add(f"{value // 10000:,}万")
    return found


def _find(text: str, value: int) -> re.Match | None:
    for spelling in sorted(_spellings(value), key=len, reverse=True):
        match = re.search(rf"(?<![\d,.]){re.escape(spelling)}(?![\d,])", text)
        if match:
            return match
    return None


def _excerpt(text: str, match: re.Match, around: int = 12) -> str:
    """The words around the number, not cut inside a word (「期間中 10 日間」, "on 10 different days")."""
    start, end = max(match.start() - around, 0), min(match.end() + around, len(text))
    if start > 0 and text[start - 1].isascii() and text[start - 1].isalnum() and " " in text[start : match.start()]:
        start = text.index(" ", start) + 1
    if end < len(text) and text[end].isascii() and text[end].isalnum() and " " in text[match.end() : end]:
        end = text.rindex(" ", match.end(), end)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return f"{prefix}{text[start:end].strip()}{suffix}"


def text_contradictions(*, before: Mission, after: Mission, changed: list[str]) -> list[str]:
    """Warnings for texts that still name a number the change replaces (title 「10日間」, target now 6)."""
    warnings = []
    for name in NUMERIC_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if name not in changed or old in (None, 0) or new is None or old == new:
            continue
        label = str(Mission._meta.get_field(name).verbose_name)
        for text_field in TEXT_FIELDS:
            text = unicodedata.normalize("NFKC", getattr(after, text_field) or "")
            match = _find(text, old)
            if match is None or _find(text, new) is not None:
                continue
            excerpt = _excerpt(text, match)
            warnings.append(
                gettext("The %(text)s says 「%(excerpt)s」, but %(field)s becomes %(new)s: change the text too?")
                % {
                    "text": Mission._meta.get_field(text_field).verbose_name,
                    "excerpt": excerpt,
                    "field": label,
                    "new": f"{new:,}",
                }
            )
    return warnings


def affected_members_sample(*, campaign: Campaign, edited: Mission, limit: int = SAMPLE_SIZE) -> list[MemberEffect]:
    """Up to ``limit`` members whose stamps or points the change alters, each with what changes for them.

    Candidates are the members closest to the mission (its stamps, most progress first), then
    other entered members; each is dry-run alone, within a time budget.
    """
    entered = Exists(Entry.objects.filter(campaign=campaign, member_id=OuterRef("member_id")))
    stamps = Stamp.objects.filter(entered, campaign=campaign, mission_id=edited.pk)
    half = CANDIDATES // 2
    # The stamps most likely to flip: not cleared yet with the most progress (a lowered target clears
    # them), and cleared with the least (a raised one withdraws them); entered members only, whose points move.
    closest = stamps.filter(cleared=False).order_by("-progress", "member_id").values_list("member_id", flat=True)
    barely = stamps.filter(cleared=True).order_by("progress", "member_id").values_list("member_id", flat=True)
    near = [m for pair in zip_longest(closest[:half], barely[:half]) for m in pair if m is not None]
    others = (
        StampCard.objects.filter(campaign=campaign, entered=True)
        .exclude(member_id__in=near)
        .order_by("member_id")
        .values_list("member_id", flat=True)[: max(CANDIDATES - len(near), 0)]
    )
    found: list[MemberEffect] = []
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    for member_id in [*near, *others]:
        if len(found) >= limit or time.monotonic() > deadline:
            break
        effect = rule_change_effect(campaign=campaign, missions=[edited], member_ids=[member_id])
        result = effect.result
        if result.members_changed:
            found.append(
                MemberEffect(
                    member_id,
                    result.stamps_changed,
                    effect.stamps_new,
                    effect.stamps_withdrawn,
                    effect.stamps_progress,
                    result.awards,
                    result.reversals,
                    result.points_delta,
                )
            )
    return sorted(found, key=lambda effect: (effect.points_delta == 0, effect.member_id))
