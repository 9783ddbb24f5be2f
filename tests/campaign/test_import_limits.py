"""Bad input never sinks a file nor costs unbounded memory (issue 18 §3, §4), and no import stays
"running" forever (§6): oversized numbers, the XLSX sheet cap, stale batches, the broker's timeouts."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaign.celery import app
from campaign.imports.batches import imports_stale_fail
from campaign.models import ImportBatch, ImportRejection, ImportStatus, Transaction

pytestmark = pytest.mark.usefixtures("english")

HEADER = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
HUGE = "9" * 4400  # beyond Python's 4,300 digits for int() of a string


def run(path) -> str:
    out = io.StringIO()
    call_command("import_transactions", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _rows() -> list[list[str]]:
    return [
        ["T1", "M1", "payment", "500", "", "S1", "2026-03-06 07:30:00"],
        ["T2", "M1", "payment", HUGE, "", "S1", "2026-03-06 07:30:00"],
        ["T3", "M1", "payment", "700", HUGE, "S1", "2026-03-06 07:30:00"],
        ["T4", "M1", "payment", "-" + HUGE, "", "S1", "2026-03-06 07:30:00"],
        ["T5", "M1", "payment", "800", "", "S1", "2026-03-06 07:30:00"],
    ]


def _assert_one_row_each_too_large(out: str) -> None:
    assert out.strip().splitlines()[-1] == "rows=5 accepted=2 duplicates=0 rejected=3"
    assert sorted(Transaction.objects.values_list("transaction_id", flat=True)) == ["T1", "T5"]
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("line ")}
    assert "amount" in lines["line 3"] and "too large" in lines["line 3"]
    assert "points_used" in lines["line 4"] and "too large" in lines["line 4"]
    assert "amount" in lines["line 5"] and ("negative" in lines["line 5"] or "too large" in lines["line 5"])
    assert all(len(line) < 600 for line in lines.values())  # the reason quotes the value cut short


def test_a_4400_digit_amount_in_a_csv_is_one_rejected_row(tmp_path, in_campaign):
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(",".join(row) for row in [HEADER, *_rows()]) + "\n", encoding="utf-8")
    _assert_one_row_each_too_large(run(path))


def test_a_4400_digit_amount_in_an_xlsx_is_one_rejected_row(tmp_path, in_campaign):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in [HEADER, *_rows()]:
        sheet.append(row)
    path = tmp_path / "huge.xlsx"
    workbook.save(path)
    _assert_one_row_each_too_large(run(path))


def test_a_4400_digit_number_cell_in_an_xlsx_is_one_rejected_row_not_a_refused_file(tmp_path, in_campaign):
    """A spreadsheet can hold the digits as a number cell: openpyxl's int() of it raised, refusing the file."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    sheet.append(["T-OK", "M1", "charge", 1000, None, "", "2026-03-06 07:30:00"])
    sheet.append(["T-HUGE", "M1", "charge", 987654321, None, "", "2026-03-06 07:31:00"])
    made = tmp_path / "made.xlsx"
    workbook.save(made)
    path = tmp_path / "huge-number.xlsx"  # the same workbook, the placeholder number 4,400 digits long
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<v>987654321</v>", b"<v>" + b"9" * 4400 + b"</v>")
            target.writestr(item, data)
    out = run(path)
    assert "rows=2 accepted=1 duplicates=0 rejected=1" in out
    assert "T-HUGE" in out and "too large" in out


def test_an_xlsx_with_more_sheet_xml_than_the_cap_is_refused_with_a_clear_message(tmp_path, in_campaign, settings):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for n in range(2000):
        sheet.append([f"T{n}", "M1", "payment", 500, None, "S1", "2026-03-06 07:30:00"])
    path = tmp_path / "big.xlsx"
    workbook.save(path)
    settings.PORTAL_IMPORT_XLSX_MAX_SHEET_XML = 50_000
    with pytest.raises(CommandError, match=r"sheet data once unpacked.*CSV"):
        run(path)
    assert not Transaction.objects.exists()
    assert ImportBatch.objects.get().status == ImportStatus.REFUSED
    settings.PORTAL_IMPORT_XLSX_MAX_SHEET_XML = 10_000_000
    assert run(path).strip().splitlines()[-1] == "rows=2000 accepted=2000 duplicates=0 rejected=0"


def test_a_batch_without_progress_for_the_set_time_is_marked_failed_and_the_admin_says_so(
    admin_client, in_campaign, settings
):
    settings.PORTAL_IMPORT_STALE_AFTER = timedelta(minutes=15)
    now = timezone.now()
    lost = ImportBatch.objects.create(
        campaign=in_campaign, file_name="lost.csv", sha256="a", status=ImportStatus.RUNNING, progress_at=now
    )
    moving = ImportBatch.objects.create(
        campaign=in_campaign, file_name="moving.csv", sha256="b", status=ImportStatus.RUNNING, progress_at=now
    )
    queued = ImportBatch.objects.create(campaign=in_campaign, file_name="queued.csv", sha256="c")
    ImportBatch.objects.filter(pk__in=[lost.pk, queued.pk]).update(
        progress_at=now - timedelta(minutes=16), created_at=now - timedelta(minutes=16)
    )
    ImportBatch.objects.filter(pk=queued.pk).update(progress_at=None)
    assert imports_stale_fail(now=now) == 1
    lost.refresh_from_db()
    assert lost.status == ImportStatus.FAILED and "No progress for 15 minutes" in lost.message
    assert ImportBatch.objects.get(pk=queued.pk).status == ImportStatus.PENDING  # waiting, maybe behind others
    assert ImportBatch.objects.get(pk=moving.pk).status == ImportStatus.RUNNING
    assert imports_stale_fail(now=now) == 0  # done: nothing more to mark
    page = admin_client.get(f"/admin/campaign/importbatch/{lost.pk}/batch/").content.decode()
    assert "No progress for 15 minutes" in page
    progress = admin_client.get(f"/admin/campaign/importbatch/{lost.pk}/progress.json").json()
    assert progress["status"] == "failed" and progress["finished"] is True


def test_celery_beat_runs_the_stale_check_and_a_lost_task_comes_back_within_minutes():
    entry = next(e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("imports_stale_fail"))
    assert entry["task"] in app.tasks and entry["schedule"] <= timedelta(minutes=10)
    visibility = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    # Redeliver an unacknowledged task within minutes, but never while it may still run (hard limit).
    assert django_settings.CELERY_TASK_SOFT_TIME_LIMIT < django_settings.CELERY_TASK_TIME_LIMIT < visibility <= 900


def test_a_value_beyond_the_csv_field_limit_rejects_its_row_alone(tmp_path, in_campaign):
    """One value over the csv module's field limit (131,072 characters) refused the whole file."""
    long = "S" * 200_000
    path = tmp_path / "long.csv"
    path.write_text(
        f"{','.join(HEADER)}\n"
        "T1,M1,payment,500,,S1,2026-03-06 07:30:00\n"
        f"T2,M1,payment,500,,{long},2026-03-06 07:31:00\n"
        f'T3,M1,payment,500,,"{long}",2026-03-06 07:32:00\n'
        "T4,M1,payment,500,,S1,2026-03-06 07:33:00\n",
        encoding="utf-8",
    )
    out = run(path)
    assert out.strip().splitlines()[-1] == "rows=4 accepted=2 duplicates=0 rejected=2"
    assert sorted(Transaction.objects.values_list("transaction_id", flat=True)) == ["T1", "T4"]
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("line ")}
    assert sorted(lines) == ["line 3", "line 4"]
    assert lines["line 3"].startswith("line 3: T2: A value on this line is longer than 131,072 characters")
    assert lines["line 4"].startswith("line 4: T3: A value on this line is longer than 131,072 characters")
    assert all(len(line) < 600 for line in lines.values())


def test_a_quote_never_closed_in_a_file_beyond_the_field_limit_loses_none_of_the_rows_after_it(tmp_path, in_campaign):
    """The quote ran its value on past the csv module's field limit, which refused the whole file."""
    rows = [f"U{n},M{n % 50},payment,500,,S1,2026-03-06 07:30:00" for n in range(4000)]
    rows[1] = 'U1,M1,payment,"2,000,,S1,2026-03-06 07:30:00'  # line 3: open past the limit (~2,700 lines)
    rows[3500] = 'U3500,M1,payment,"500,,S1,2026-03-06 07:30:00'  # line 3,502: open to the end of the file
    path = tmp_path / "open.csv"
    path.write_text("\n".join([",".join(HEADER), *rows]) + "\n", encoding="utf-8")
    out = run(path)
    assert out.strip().splitlines()[-1] == "rows=4000 accepted=3998 duplicates=0 rejected=2"
    rejected = dict(ImportRejection.objects.values_list("line", "transaction_id"))
    assert rejected == {3: "U1", 3502: "U3500"}
    assert all("never closed" in reason for reason in ImportRejection.objects.values_list("reason", flat=True))
