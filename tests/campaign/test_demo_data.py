"""manage.py demo_data: the demo's month, also on a clock after the data cut-off (make run DEMO_NOW=…)."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from campaign.models import Entry


def test_the_demo_members_are_entered_on_a_clock_after_the_data_cutoff(campaign, clock):
    clock("2026-04-15T10:00:00+09:00")
    call_command("demo_data", "--members", "10", stdout=StringIO())
    entered = set(Entry.objects.filter(member__member_id__startswith="M000000").values_list("member_id", flat=True))
    assert entered == {"M0000001", "M0000002", "M0000004"}
