"""The admin import page (operations staff): upload, progress endpoint, error report, history."""

from __future__ import annotations

import csv
import gzip
import io
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from campaign.models import ImportBatch, ImportStatus, Transaction
from tests.campaign.factories import UserFactory

pytestmark = pytest.mark.usefixtures("english")


UPLOAD = "/admin/campaign/importbatch/upload/"
HEADER = (
    "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at,original_transaction_id,charge_method"
)
CONTENT = (
    f"{HEADER}\n"
    "T1,M1,payment,500,,S1,2026-03-06 07:30:00,,\n"
    "T2,M1,payment,=1+1,,S1,2026-03-06 07:30:00,,\n"
    "T3,M2,支払,600,,髙島屋①,2026-03-06 07:30:00,,\n"
).encode("cp932")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, content=CONTENT, name="tx.csv", capture=None):
    with capture(execute=True):
        return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content, "text/csv")})


def test_an_upload_runs_the_import_and_shows_progress_summary_and_error_report(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    response = upload(admin_client, capture=django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{batch.pk}/batch/")
    assert batch.status == ImportStatus.DONE
    assert (batch.rows_total, batch.accepted, batch.duplicates, batch.rejected) == (3, 2, 0, 1)
    assert batch.file.name and batch.sha256 and batch.size_bytes == len(CONTENT)
    assert Transaction.objects.get(transaction_id="T3").merchant_code == "髙島屋①"

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<progress" in html and "rejected.csv" in html
    assert not re.findall(r'<script[^>]+src="(?:https?:)?//', html)  # no CDN: the page's script is local
    assert "<script>" not in html and "backoffice/import-progress.js" in html  # a file the CSP allows

    progress = admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/progress.json").json()
    assert progress["status"] == "done" and progress["finished"] is True
    assert (progress["rows_done"], progress["rows_total"]) == (3, 3)
    assert (progress["accepted"], progress["rejected"]) == (2, 1)
    assert progress["rows_per_second"] is None or progress["rows_per_second"] > 0
    assert progress["error_report_url"].endswith("/rejected.csv")

    report = admin_client.get(progress["error_report_url"])
    assert report["Content-Type"].startswith("text/csv")
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["line", "reason", "transaction_id", "member_id"]
    assert rows[1][0] == "3" and rows[1][2] == "T2" and "amount" in rows[1][1]
    assert rows[1][rows[0].index("amount")] == "'=1+1"  # a formula in the file is not a formula in the report

    assert LogEntry.objects.filter(object_id=str(batch.pk), change_message__contains="Uploaded").exists()


def test_uploading_a_file_already_imported_says_so_and_changes_nothing(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    upload(admin_client, capture=django_capture_on_commit_callbacks)
    response = upload(admin_client, capture=django_capture_on_commit_callbacks)
    page = admin_client.get(response["Location"])
    assert "already imported" in page.content.decode()
    second = ImportBatch.objects.order_by("-pk").first()
    assert (second.accepted, second.duplicates, second.rejected) == (0, 2, 1)
    assert Transaction.objects.count() == 2


def test_a_file_refused_whole_shows_why(admin_client, in_campaign, django_capture_on_commit_callbacks):
    response = upload(admin_client, b"\xff\xfe\xfa junk \x81\x00", capture=django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    assert batch.status == ImportStatus.REFUSED
    assert batch.message in admin_client.get(response["Location"]).content.decode()


def test_a_file_over_the_size_limit_is_refused_before_import(admin_client, in_campaign, settings):
    settings.PORTAL_IMPORT_MAX_BYTES = 100
    response = admin_client.post(UPLOAD, {"file": SimpleUploadedFile("tx.csv", CONTENT * 5, "text/csv")})
    assert response.status_code == 200
    assert "largest file" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_the_history_lists_who_when_file_and_counts(admin_client, in_campaign, django_capture_on_commit_callbacks):
    upload(admin_client, capture=django_capture_on_commit_callbacks)
    html = admin_client.get("/admin/campaign/importbatch/").content.decode()
    batch = ImportBatch.objects.get()
    assert "tx.csv" in html and batch.sha256[:12] in html and "admin" in html
    assert admin_client.get("/admin/campaign/importbatch/add/")["Location"].endswith("/upload/")
    assert admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/change/")["Location"].endswith("/batch/")


def test_staff_need_the_add_permission_to_upload(client, in_campaign, django_capture_on_commit_callbacks):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_importbatch"))
    client.force_login(user)
    assert client.get(UPLOAD).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_importbatch"))
    user = type(user).objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(UPLOAD).status_code == 200
    response = upload(client, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert ImportBatch.objects.get().uploaded_by == user


def test_the_progress_endpoint_is_for_staff_only(client, in_campaign):
    batch = ImportBatch.objects.create(campaign=in_campaign, file_name="x.csv", sha256="0" * 64)
    response = client.get(f"/admin/campaign/importbatch/{batch.pk}/progress.json")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_error_report_can_be_corrected_and_imported_again(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    upload(admin_client, capture=django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    report = admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/rejected.csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    amount = rows[0].index("amount")
    rows[1][amount] = "800"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    upload(
        admin_client, buffer.getvalue().encode("utf-8"), name="fixed.csv", capture=django_capture_on_commit_callbacks
    )
    fixed = ImportBatch.objects.get(file_name="fixed.csv")
    assert (fixed.accepted, fixed.rejected) == (1, 0)
    assert any("line" in warning for warning in fixed.warnings)
    assert Transaction.objects.get(transaction_id="T2").amount == 800


def test_the_error_report_is_sent_gzipped_to_a_browser_that_takes_it(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    upload(admin_client, capture=django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()
    url = f"/admin/campaign/importbatch/{batch.pk}/rejected.csv"
    plain = b"".join(admin_client.get(url).streaming_content)
    zipped = admin_client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(b"".join(zipped.streaming_content)) == plain
