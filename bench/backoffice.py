"""Back-office figures at scale: the dashboard's queries and a point export, on PostgreSQL.

    DATABASE_URL=postgres://…/wesmo_bench .venv/bin/python bench/backoffice.py --members 1000000

Needs a migrated database with the campaign loaded (``migrate`` + ``load_campaign``). Adds
``--members`` entered members (ids ``BENCH-…``) with stamp cards, 7 stamps and 7 ledger
lines each, set-based in SQL, times ``dashboard_figures`` and ``points_export_create``, and
removes what it added. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from campaign.dashboard import dashboard_figures  # noqa: E402
from campaign.models import Campaign  # noqa: E402
from missions.exporting import point_export_render, points_export_create  # noqa: E402
from missions.models import Mission  # noqa: E402

PREFIX = "BENCH-"


def populate(campaign: Campaign, members: int) -> None:
    missions = list(Mission.objects.filter(campaign=campaign).order_by("id").values_list("id", "code")[:7])
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO campaign_member (member_id, created_at) "
            "SELECT %s || lpad(g::text, 8, '0'), now() FROM generate_series(1, %s) g",
            [PREFIX, members],
        )
        cur.execute(
            "INSERT INTO campaign_entry (campaign_id, member_id, entered_at, source, received_at) "
            "SELECT %s, %s || lpad(g::text, 8, '0'), "
            "timestamptz '2026-03-02 00:00+09' + (g %% 30) * interval '1 day' + (g %% 86400) * interval '1 second', "
            "'demo', now() FROM generate_series(1, %s) g",
            [campaign.pk, PREFIX, members],
        )
        cur.execute(
            "INSERT INTO missions_stampcard (campaign_id, member_id, entered, stamps_cleared, points_limited, "
            "points_basic, lottery_eligible, scored_at) "
            "SELECT %s, %s || lpad(g::text, 8, '0'), true, g %% 15, 1400, 0, g %% 500 = 0, now() "
            "FROM generate_series(1, %s) g",
            [campaign.pk, PREFIX, members],
        )
        for mission_id, code in missions:
            cur.execute(
                "INSERT INTO missions_stamp (campaign_id, member_id, mission_id, progress, target, cleared, "
                "cleared_at, updated_at) "
                "SELECT %s, %s || lpad(g::text, 8, '0'), %s, 1, 1, true, now(), now() FROM generate_series(1, %s) g",
                [campaign.pk, PREFIX, mission_id, members],
            )
            cur.execute(
                "INSERT INTO missions_ledgerline (campaign_id, member_id, mission_id, reward, unit, generation, kind, "
                "points, point_type, reason, occurred_at, created_at) "
                "SELECT %s, %s || lpad(g::text, 8, '0'), %s, %s, 1, 1, 'award', 200, 'limited', %s, now(), now() "
                "FROM generate_series(1, %s) g",
                [campaign.pk, PREFIX, mission_id, code, f"{code} cleared", members],
            )
        cur.execute("ANALYZE")


def clean(campaign: Campaign) -> None:
    with connection.cursor() as cur:
        like = PREFIX + "%"
        cur.execute("DELETE FROM missions_ledgerline WHERE member_id LIKE %s", [like])
        for table in ("missions_stamp", "missions_stampcard", "campaign_entry", "campaign_member"):
            cur.execute(f"DELETE FROM {table} WHERE member_id LIKE %s", [like])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="populate only, and keep the rows (for profiling)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: set DATABASE_URL=postgres://…")
    campaign = Campaign.objects.current()
    clean(campaign)
    started = time.perf_counter()
    populate(campaign, args.members)
    print(f"populate members={args.members} seconds={time.perf_counter() - started:.1f}")
    try:
        if args.keep:
            return
        for attempt in (1, 2):
            started = time.perf_counter()
            figures = dashboard_figures(campaign=campaign)
            seconds = time.perf_counter() - started
            print(f"dashboard_figures run={attempt} seconds={seconds:.2f} entries={figures.entries_total}")
        started = time.perf_counter()
        with transaction.atomic():
            export = points_export_create(campaign=campaign, user=None, encoding="utf-8")
            created = time.perf_counter() - started
            started = time.perf_counter()
            content = point_export_render(export=export)
            rendered = time.perf_counter() - started
            print(
                f"points_export_create lines={export.line_count} seconds={created:.2f}; "
                f"download bytes={len(content)} seconds={rendered:.2f}"
            )
            transaction.set_rollback(True)  # leave the ledger as it was
    finally:
        if not args.keep:
            clean(campaign)


if __name__ == "__main__":
    main()
