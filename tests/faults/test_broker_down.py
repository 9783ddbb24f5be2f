"""Issue 17 §2: the broker stopped during a push and during an admin import; a real worker with its
beat scores every record once the broker is back, within the sweep's interval.

The workers sweep what is due for any time at all (PORTAL_SCORING_SWEEP_AFTER=0, every 5 s): the
campaign's clock is fixed in the tests, so a record's age never grows. The promise (≤ 2 minutes)
is the wait's bound.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaign.models import ImportBatch, ImportStatus, Transaction
from missions.models import ScoringDue, Stamp
from tests.campaign.factories import EntryFactory
from tests.faults.processes import assert_scored_exactly, member_rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PROMISE = 120  # seconds after the broker returns (issue 17 §1)


def _records(members: int) -> list[dict]:
    keys = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
    records = [dict(zip(keys, row, strict=True)) for row in member_rows(members, prefix="BD")]
    for record in records:
        record["points_used"] = 0
        if record["type"] == "charge":
            del record["merchant_code"]
    return records


def _scored_after_the_broker_returns(broker, campaign, members: int) -> float:
    broker.start()
    returned = time.monotonic()
    wait_for(lambda: not ScoringDue.objects.exists(), seconds=PROMISE, what="the sweep scoring what was due", every=0.2)
    assert_scored_exactly(campaign, members=members)
    return time.monotonic() - returned


def test_a_push_while_the_broker_is_down_is_answered_and_scored_once_it_returns(
    in_campaign, system_client, own_broker, workers
):
    for n in range(0, 30, 2):  # half the members entered: their stamps earn points
        EntryFactory(campaign=in_campaign, member__member_id=f"BD{n:06d}")
    workers(beat=True, PORTAL_SCORING_SWEEP_AFTER="0")
    own_broker.stop()
    response = system_client.post("/api/v1/transactions", {"transactions": _records(30)}, format="json")
    assert response.status_code == 200
    assert response.json() == {"accepted": 90, "duplicates": 0, "rejected": []}
    assert Transaction.objects.count() == 90 and ScoringDue.objects.count() == 30
    assert not Stamp.objects.exists()
    _scored_after_the_broker_returns(own_broker, in_campaign, 30)


def test_an_admin_upload_while_the_broker_is_down_is_imported_and_scored_once_it_returns(
    in_campaign, admin_client, own_broker, workers, tmp_path
):
    for n in range(0, 40, 3):
        EntryFactory(campaign=in_campaign, member__member_id=f"UP{n:06d}")
    lines = ["transaction_id,member_id,type,amount,points_used,merchant_code,occurred_at"]
    lines += [",".join(map(str, row)) for row in member_rows(40, prefix="UP")]
    upload = SimpleUploadedFile("tx.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
    workers(beat=True, PORTAL_SCORING_SWEEP_AFTER="0")
    own_broker.stop()
    response = admin_client.post("/admin/campaign/importbatch/upload/", {"file": upload})
    assert response.status_code == 302
    assert admin_client.get(response["Location"]).status_code == 200
    batch = ImportBatch.objects.get()
    finished = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.REFUSED)
    wait_for(lambda: ImportBatch.objects.get(pk=batch.pk).status in finished, seconds=30, what="the import's end")
    batch.refresh_from_db()
    assert batch.status == ImportStatus.DONE, batch.message
    assert (batch.accepted, batch.duplicates, batch.rejected) == (120, 0, 0)
    assert Transaction.objects.count() == 120 and ScoringDue.objects.count() == 40
    _scored_after_the_broker_returns(own_broker, in_campaign, 40)
