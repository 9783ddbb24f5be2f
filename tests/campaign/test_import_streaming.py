"""The import streams: progress is saved as it goes, chunks merge alike, a refusal mid-file stores nothing."""

from __future__ import annotations

import pytest
from django.db import connection

from campaign.imports import batches
from campaign.imports.batches import import_batch_create, import_batch_run, transactions_import
from campaign.imports.reading import file_open
from campaign.models import ImportBatch, ImportRejection, ImportStatus, Transaction
from tests.campaign.factories import xlsx_broken_at

pytestmark = pytest.mark.usefixtures("english")


HEADER = (
    "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at,original_transaction_id,charge_method"
)


def _file(tmp_path, rows: list[str]):
    path = tmp_path / "tx.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_progress_is_saved_while_the_file_is_read_in_chunks(tmp_path, in_campaign, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_ROWS", 7)
    monkeypatch.setattr(batches, "REJECTION_CHUNK", 3)
    rows = [f"T{i % 40},M{i % 9},payment,{300 + i % 3},,S1,2026-03-06 07:30:00,," for i in range(60)]
    rows[10] = "BAD1,M1,payment,-1,,S1,2026-03-06 07:30:00,,"
    rows[30] = "BAD2,M1,payment,1,,,2026-03-06 07:30:00,,"
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=in_campaign, path=path)
    seen: list[int] = []
    result = transactions_import(
        campaign=in_campaign, source=file_open(path), batch=batch, scoring="none", progress=seen.append
    )
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] == 60
    assert ImportBatch.objects.get(pk=batch.pk).rows_done == 60
    # T0…T39 except T30 (a bad row took its place; T10 comes back on row 50), then T0…T19 again
    # with amounts that differ from the first: conflicts.
    stored = Transaction.objects.count()
    assert result.accepted == stored == 39
    assert result.accepted + result.duplicates + result.rejected == 60
    assert ImportRejection.objects.filter(batch=batch).count() == result.rejected
    conflicts = ImportRejection.objects.filter(batch=batch, reason__contains="different content").count()
    assert result.rejected == conflicts + 2


def test_chunked_and_whole_imports_judge_duplicates_alike(tmp_path, in_campaign, monkeypatch):
    rows = [f"T{i % 5},M1,payment,{500 + (i // 5) % 2},,S1,2026-03-06 07:30:00,," for i in range(20)]
    path = _file(tmp_path, rows)
    whole = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    Transaction.objects.all().delete()
    monkeypatch.setattr(batches, "CHUNK_ROWS", 3)
    chunked = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (whole.accepted, whole.duplicates, whole.rejected) == (
        chunked.accepted,
        chunked.duplicates,
        chunked.rejected,
    )
    assert (whole.accepted, whole.duplicates, whole.rejected) == (5, 5, 10)


def test_a_file_unreadable_in_the_middle_is_refused_and_stores_nothing(tmp_path, in_campaign):
    rows = [f"T{i},M1,payment,500,,S1,2026-03-06 07:30:00,," for i in range(200)]
    rows.insert(5, "T98,M1,payment,-1,,S1,2026-03-06 07:30:00,,")
    path = xlsx_broken_at(tmp_path / "tx.xlsx", [HEADER, *rows], 150)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.status == ImportStatus.REFUSED
    assert "line" in batch.message
    assert Transaction.objects.count() == 0
    assert not ImportRejection.objects.exists()
    assert ImportBatch.objects.count() == 1  # the caller's transaction is still usable


@pytest.mark.postgres
def test_on_postgresql_the_staging_table_is_gone_after_the_import(tmp_path, in_campaign, postgres_only):
    path = _file(tmp_path, ["T1,M1,payment,500,,S1,2026-03-06 07:30:00,,"])
    import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class "
            "WHERE relname IN ('import_stage', 'import_chunk', 'import_first', 'import_touched')"
        )
        assert cursor.fetchone()[0] == 0
    assert Transaction.objects.get().source == "file"


def test_the_first_occurrence_wins_and_repeats_and_stored_ids_are_judged(tmp_path, in_campaign):
    """The merge's shortcut (every row new) and its row-by-row judgement give the same answers."""
    import_batch_run(
        batch=import_batch_create(
            campaign=in_campaign, path=_file(tmp_path, ["S1,M1,payment,700,,S1,2026-03-06 07:30:00,,"])
        ),
        path=tmp_path / "tx.csv",
        scoring="none",
    )
    rows = [
        "Z9,M2,payment,500,,S1,2026-03-06 07:30:00,,",  # line 2: first of Z9, kept
        "A1,M3,charge,1000,,,2026-03-06 08:00:00,,card",
        "Z9,M2,payment,600,,S1,2026-03-06 07:30:00,,",  # line 4: same id, other content: a conflict
        "Z9,M2,payment,500,,S1,2026-03-06T07:30:00+09:00,,",  # line 5: same content: a duplicate
        "S1,M1,payment,700,,S1,2026-03-06 07:30:00,,",  # line 6: already stored, same: a duplicate
        "S1,M1,payment,701,,S1,2026-03-06 07:30:00,,",  # line 7: already stored, other: a conflict
    ]
    path = tmp_path / "second" / "tx.csv"
    path.parent.mkdir()
    path = _file(path.parent, rows)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert (batch.accepted, batch.duplicates, batch.rejected) == (2, 2, 2)
    assert Transaction.objects.get(transaction_id="Z9").amount == 500
    assert Transaction.objects.get(transaction_id="S1").amount == 700
    lines = list(ImportRejection.objects.filter(batch=batch).order_by("line").values_list("line", flat=True))
    assert lines == [4, 7]


def test_the_command_reports_its_phases_at_verbosity_2(tmp_path, in_campaign):
    import io

    from django.core.management import call_command

    path = _file(tmp_path, ["T1,M1,payment,500,,S1,2026-03-06 07:30:00,,"])
    out, err = io.StringIO(), io.StringIO()
    call_command("import_transactions", str(path), "--no-score", stdout=out, stderr=err, verbosity=2)
    assert out.getvalue().strip().splitlines()[-1] == "rows=1 accepted=1 duplicates=0 rejected=0"
    phases = next(line for line in err.getvalue().splitlines() if line.startswith("phases: "))
    assert "store=" in phases
    quiet = io.StringIO()
    call_command("import_transactions", str(path), "--no-score", stdout=io.StringIO(), stderr=quiet)
    assert "phases" not in quiet.getvalue()


def test_a_refusal_after_chunks_were_merged_stores_nothing_of_them(tmp_path, in_campaign, monkeypatch):
    """Chunks are staged (and committed) as the file is read; a refusal further on stores none of them."""
    monkeypatch.setattr(batches, "CHUNK_ROWS", 3)
    rows = [f"T{i},M{i},payment,500,,S1,2026-03-06 07:30:00,," for i in range(200)]
    path = xlsx_broken_at(tmp_path / "tx.xlsx", [HEADER, *rows], 150)
    batch = import_batch_run(batch=import_batch_create(campaign=in_campaign, path=path), path=path, scoring="none")
    assert batch.status == ImportStatus.REFUSED
    assert Transaction.objects.count() == 0
    assert not ImportRejection.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_seen_by_others_while_the_import_is_not_committed_yet(
    tmp_path, in_campaign, postgres_only, monkeypatch
):
    """The admin page reads the progress from another session while the import's transaction is open."""
    import psycopg

    campaign = in_campaign
    monkeypatch.setattr(batches, "CHUNK_ROWS", 4)
    rows = [f"T{i},M{i},payment,500,,S1,2026-03-06 07:30:00,," for i in range(40)]
    path = _file(tmp_path, rows)
    batch = import_batch_create(campaign=campaign, path=path)
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT'] or 5432} dbname={settings['NAME']} user={settings['USER']}"
    seen: list[tuple[int, int]] = []

    def look(done: int) -> None:  # from another session: the saved progress, the stored records
        with psycopg.connect(dsn, password=settings["PASSWORD"] or None) as other:
            saved = other.execute("SELECT rows_done FROM campaign_importbatch WHERE id = %s", [batch.pk]).fetchone()[0]
            stored = other.execute("SELECT count(*) FROM campaign_transaction").fetchone()[0]
        seen.append((saved, stored))

    result = transactions_import(campaign=campaign, source=file_open(path), batch=batch, scoring="none", progress=look)
    assert result.accepted == Transaction.objects.count() == 40
    assert len(seen) >= 5 and [saved for saved, _ in seen] == sorted(saved for saved, _ in seen)
    assert any(0 < saved < 40 for saved, _ in seen)  # the progress, seen as it went
    assert all(stored == 0 for _, stored in seen[:-1])  # nothing committed before the end
    assert seen[-1] == (40, 40)  # the last report, once the import has committed
