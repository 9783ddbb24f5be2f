"""Imports as staff see them without a broker (issue 15 §2): the upload returns at once while the
file is imported on a thread, the progress page moves, and the error report comes back in the
upload's encoding and header language."""

from __future__ import annotations

import csv
import io
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaign.imports import batches
from campaign.models import ImportBatch, ImportStatus, Transaction

UPLOAD = "/admin/campaign/importbatch/upload/"
JA_HEADER = "取引ID,会員ID,取引種別,金額,ポイント利用額,加盟店コード,取引日時"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_upload_returns_at_once_and_the_progress_moves(
    admin_client, in_campaign, settings, monkeypatch
):
    settings.PORTAL_IMPORT_THREAD = True
    rows = [f"T{n},M{n % 7},payment,500,,S1,2026-03-06 07:30:00" for n in range(40)]
    content = (
        "transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at\n" + "\n".join(rows)
    ).encode()
    gate, reached = threading.Event(), threading.Event()
    saved = batches._chunk_save

    def held(**kwargs):  # the import waits here, after its first chunk, until the test lets it go on
        saved(**kwargs)
        reached.set()
        assert gate.wait(timeout=180)

    monkeypatch.setattr(batches, "CHUNK_ROWS", 10)
    monkeypatch.setattr(batches, "_chunk_save", held)
    # The test's own reads wait until the import thread is held or has ended: the tests' in-memory
    # SQLite locks whole tables between connections and refuses a writer at once (SQLITE_LOCKED,
    # which no busy timeout waits out), where the portal's WAL file makes it wait.
    try:
        started = time.monotonic()
        response = admin_client.post(UPLOAD, {"file": SimpleUploadedFile("tx.csv", content, "text/csv")})
        assert response.status_code == 302 and time.monotonic() - started < 60
        assert reached.wait(timeout=120)  # the thread is importing while the page is answered
        batch = ImportBatch.objects.get()
        (thread,) = [thread for thread in threading.enumerate() if thread.name == f"import-{batch.pk}"]
        progress = admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/progress.json").json()
        assert progress["status"] == ImportStatus.RUNNING and progress["finished"] is False
        assert 0 < progress["rows_done"] < 40
    finally:
        gate.set()
    thread.join(timeout=120)  # generous: the machine may be busy
    progress = admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/progress.json").json()
    assert progress["finished"]
    assert (progress["status"], progress["rows_done"], progress["accepted"]) == (ImportStatus.DONE, 40, 40), progress
    assert Transaction.objects.count() == 40


def test_a_cp932_upload_with_japanese_headers_gets_a_cp932_report_with_japanese_headers(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    content = (
        f"{JA_HEADER}\nT1,M1,支払,500,,髙島屋①,2026-03-06 07:30:00\nT2,M1,支払,-5,,髙島屋①,2026-03-06 07:30:00\n"
    ).encode("cp932")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(UPLOAD, {"file": SimpleUploadedFile("売上.csv", content, "text/csv")})
    batch = ImportBatch.objects.get()
    assert (batch.accepted, batch.rejected, batch.encoding, batch.japanese_header) == (1, 1, "cp932", True)
    report = admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/rejected.csv")
    assert "windows-31j" in report["Content-Type"].lower()
    body = b"".join(report.streaming_content)
    assert not body.startswith(b"\xef\xbb\xbf")  # no UTF-8 byte order mark: CP932 throughout
    rows = list(csv.reader(io.StringIO(body.decode("cp932"))))
    assert rows[0][:5] == ["行", "理由", "取引ID", "会員ID", "取引種別"]
    assert rows[1][0] == "3" and rows[1][2] == "T2" and rows[1][rows[0].index("加盟店コード")] == "髙島屋①"


def test_a_utf8_upload_with_english_headers_gets_a_utf8_report_with_english_headers(
    admin_client, in_campaign, django_capture_on_commit_callbacks
):
    content = "transaction_id,member_id,type,amount,merchant_code,occurred_at\nT2,M1,payment,-5,店,2026-03-06 07:30\n"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(UPLOAD, {"file": SimpleUploadedFile("tx.csv", content.encode(), "text/csv")})
    batch = ImportBatch.objects.get()
    body = b"".join(admin_client.get(f"/admin/campaign/importbatch/{batch.pk}/rejected.csv").streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["line", "reason", "transaction_id"] and rows[1][rows[0].index("merchant_code")] == "店"
