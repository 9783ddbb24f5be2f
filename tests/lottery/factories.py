"""Factories for the lottery tests: lottery officers and members who cleared (some) mania missions."""

from __future__ import annotations

from contextlib import contextmanager

from django.contrib.auth.models import Group, Permission
from django.db import connection

from campaign.models import Campaign, Entry, Member
from lottery.verification import lottery_missions
from missions.models import Stamp
from tests.campaign.factories import UserFactory, jst

SQLITE_TRIGGERS = [
    "lottery_draw_no_delete",
    "lottery_draw_frozen",
    "lottery_entrant_no_delete",
    "lottery_entrant_frozen",
]


def officer(username: str):
    """A member of the lottery group, which may run draws (as the roles migration sets it up)."""
    group, _created = Group.objects.get_or_create(name="lottery")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="lottery",
            codename__in=["run_draw", "view_draw", "view_drawentrant", "view_forfeit"],
        )
    )
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(group)
    return user


def members_with_stamps(
    campaign: Campaign, member_ids: list[str], *, entered: bool = True, missing: int = 0
) -> list[str]:
    """Create these members with every lottery mission cleared (but the first ``missing`` ones)."""
    Member.objects.bulk_create([Member(member_id=m) for m in member_ids], ignore_conflicts=True)
    if entered:
        when = jst("2026-03-02 09:00")
        Entry.objects.bulk_create(
            [Entry(campaign=campaign, member_id=m, entered_at=when, received_at=when) for m in member_ids]
        )
    missions = list(lottery_missions(campaign=campaign).order_by("order"))[missing:]
    Stamp.objects.bulk_create(
        [
            Stamp(
                campaign=campaign,
                member_id=m,
                mission=mission,
                progress=mission.target_count,
                target=mission.target_count,
                cleared=True,
                cleared_at=jst("2026-03-20 12:00"),
            )
            for m in member_ids
            for mission in missions
        ]
    )
    return member_ids


def eligible_members(campaign: Campaign, count: int, prefix: str = "M") -> list[str]:
    return members_with_stamps(campaign, [f"{prefix}{i:07d}" for i in range(1, count + 1)])


@contextmanager
def guards_disabled():
    """Tamper like someone with database rights would: switch the draw triggers off (rolled back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks may block ALTER TABLE
            cursor.execute("ALTER TABLE lottery_draw DISABLE TRIGGER lottery_draw_guard")
            cursor.execute("ALTER TABLE lottery_drawentrant DISABLE TRIGGER lottery_entrant_guard")
        else:
            for trigger in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER {trigger}")
    yield
