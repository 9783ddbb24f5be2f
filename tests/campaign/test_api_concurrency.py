"""The API's counts under concurrency (issue 18 §1): each record is ``accepted`` by exactly one answer.

Real concurrent requests on PostgreSQL: threads, each with its own database connection and
client, post the same records at once; the inserts race on the unique transaction_id.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from campaign.auth import api_client_create
from campaign.imports.batches import import_batch_create, import_batch_run
from campaign.models import Transaction

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("english")]

URL = "/api/v1/transactions"


def _records(prefix: str, count: int) -> list[dict]:
    return [
        {
            "transaction_id": f"{prefix}{n:04d}",
            "member_id": f"M{n % 37}",
            "type": "payment",
            "amount": 500 + n,
            "merchant_code": "SHOP-1",
            "occurred_at": "2026-03-06T07:30:00+09:00",
        }
        for n in range(count)
    ]


def _post_at_once(key: str, bodies: list[list[dict]]) -> list[dict]:
    """POST each body from a thread of its own, all released together; the JSON answers in order."""
    answers: list[dict | None] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(n: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            response = client.post(URL, {"transactions": bodies[n]}, format="json")
            answers[n] = {"status": response.status_code, **response.json()}
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _import_racing_posts(campaign, path, key: str, records: list[dict], *, scoring: str):
    """Import the file on a thread while three overlapping calls post the same records: (batch, answers)."""
    batch = import_batch_create(campaign=campaign, path=path)
    imported: list = []

    def file_import() -> None:
        try:
            imported.append(import_batch_run(batch=batch, path=path, scoring=scoring))
        finally:
            connections.close_all()

    thread = threading.Thread(target=file_import)
    thread.start()
    answers = _post_at_once(key, [records[:200], records[100:300], records[::-1]])
    thread.join(timeout=120)
    return imported[0], answers


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_records_accept_each_record_once(in_campaign, postgres_only):
    _user, key = api_client_create(name="concurrent")
    records = _records("C", 200)
    answers = _post_at_once(key, [records] * 12)
    assert all(answer["status"] == 200 for answer in answers), answers
    assert sum(answer["accepted"] for answer in answers) == 200 == Transaction.objects.count()
    assert sum(answer["duplicates"] for answer in answers) == 200 * 11
    assert all(answer["rejected"] == [] for answer in answers)


@pytest.mark.django_db(transaction=True)
def test_overlapping_concurrent_posts_count_each_stored_record_once(in_campaign, postgres_only):
    """Calls sharing some ids, in other orders: the accepted add up to the records stored."""
    _user, key = api_client_create(name="overlapping")
    records = _records("O", 300)
    bodies = [records[n * 50 : n * 50 + 150][:: 1 if n % 2 else -1] for n in range(5)]
    answers = _post_at_once(key, bodies)
    assert all(answer["status"] == 200 for answer in answers), answers
    stored = Transaction.objects.filter(transaction_id__startswith="O").count()
    assert sum(answer["accepted"] for answer in answers) == stored == 300
    sent = sum(len(body) for body in bodies)
    assert sum(answer["accepted"] + answer["duplicates"] for answer in answers) == sent


@pytest.mark.django_db(transaction=True)
def test_the_api_racing_a_file_import_of_the_same_ids_claims_only_what_it_stored(in_campaign, postgres_only, tmp_path):
    _user, key = api_client_create(name="racing")
    records = _records("F", 400)
    header = "transaction_id,member_id,type,amount,merchant_code,occurred_at"
    lines = [f"{r['transaction_id']},{r['member_id']},payment,{r['amount']},SHOP-1,{r['occurred_at']}" for r in records]
    path = tmp_path / "tx.csv"
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    batch, answers = _import_racing_posts(in_campaign, path, key, records, scoring="none")
    from_api = sum(answer["accepted"] for answer in answers)
    assert from_api + batch.accepted == Transaction.objects.count() == 400
    assert from_api == Transaction.objects.filter(source="api").count()
