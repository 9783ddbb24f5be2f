"""Tell PostgreSQL's planner how many members the stamps and the ledger hold: about one per ten rows.

A chunk of the scoring writes its members' stamps and ledger lines together, so a member's rows
share a page or two, and ANALYZE's page sample sees few members: at national scale
(bench/scale.py) it estimated 22,627 members among 11 million stamps and 16,563 among 9 million
ledger lines (actual: 1 million). Every progress API call and stamp card then expected about 500
rows per member and planned the member's stamps and ledger as a parallel query: 17 ms of starting
workers for 0.2 ms of reading. A negative n_distinct is a share of the rows, so it holds as the
tables grow: a member has at most one stamp per mission and about one ledger line per reward.
The tables are sampled again at once, so that the share holds from the next plan on. SQLite has no such setting.
"""

from django.db import migrations

SHARE = -0.1  # distinct members per row
TABLES = ("missions_stamp", "missions_ledgerline")


def _distinct_set(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN member_id SET (n_distinct = {SHARE})")
        schema_editor.execute(f"ANALYZE {', '.join(TABLES)}")  # a sample: seconds at national scale


def _distinct_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN member_id RESET (n_distinct)")


class Migration(migrations.Migration):
    dependencies = [
        ("missions", "0007_scoring_due"),
    ]

    operations = [migrations.RunPython(_distinct_set, _distinct_reset)]
