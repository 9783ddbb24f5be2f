"""Member and transaction ids compare byte by byte ("C") on PostgreSQL, in every table that holds them.

Ids are codes, not words: no query needs a language's order for them, and Python orders them
by code point, as "C" does, where the database's default collation may not (the chunks and
ranges of a re-score are cut in Python and in SQL alike). "C" also compares with memcmp instead
of the locale's strcoll: the unique and member indexes of a million imported transactions, and
the scoring's stamps, cards and ledger, cost about a twentieth less CPU (an import of a million
rows: the merge 7.2-7.4 s -> 6.7 s). Only the columns' collation changes (their indexes are
rebuilt); Django's model state is unchanged, as for the BRIN indexes of migration 0004, and
SQLite, which has no "C" collation, keeps its binary comparison (the same order).
"""

from django.db import migrations

COLUMNS = [
    ("campaign_member", "member_id", 64),
    ("campaign_entry", "member_id", 64),
    ("campaign_videoview", "member_id", 64),
    ("campaign_transaction", "member_id", 64),
    ("campaign_transaction", "transaction_id", 64),
    ("campaign_transaction", "original_transaction_id", 64),
    ("campaign_importrejection", "transaction_id", 255),
    ("missions_stamp", "member_id", 64),
    ("missions_stampcard", "member_id", 64),
    ("missions_ledgerline", "member_id", 64),
    ("lottery_drawentrant", "member_id", 64),
    ("lottery_forfeit", "member_id", 64),
    ("lottery_forfeit", "replacement_member_id", 64),
]


def _collate(collation: str):
    def alter(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column, length in COLUMNS:
            schema_editor.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE varchar({length}) COLLATE "{collation}"'
            )

    return alter


class Migration(migrations.Migration):
    dependencies = [
        ("campaign", "0005_transaction_member_index"),
        ("missions", "0005_card_indexes_for_reads"),
        ("lottery", "0001_initial"),
    ]

    operations = [migrations.RunPython(_collate("C"), _collate("default"))]
