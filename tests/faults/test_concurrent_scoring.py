"""Issue 17 §2: identical pushes at once, and the same ids by file and API at once, scored by a real
worker: one row each and one award each (every member's ledger equals a fresh full re-score).

tests/campaign/test_api_concurrency.py asserts the answers' counts with the scoring inline; these
add the real worker's scoring of the racing records and a larger race (20 pushes of 500 records).
"""

from __future__ import annotations

import pytest

from campaign.auth import api_client_create
from campaign.models import Transaction
from missions.models import ScoringDue
from tests.campaign.factories import EntryFactory
from tests.campaign.test_api_concurrency import _import_racing_posts, _post_at_once, _records
from tests.faults.processes import assert_scored_exactly, transactions_csv, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 37  # _records spreads its records over M0 … M36


@pytest.fixture
def entered(in_campaign):
    for n in range(0, MEMBERS, 2):
        EntryFactory(campaign=in_campaign, member__member_id=f"M{n}")


def _all_scored() -> None:
    wait_for(lambda: not ScoringDue.objects.exists(), seconds=60, what="the worker scoring the records", every=0.2)


def test_twenty_identical_pushes_at_once_store_and_award_each_record_once(in_campaign, entered, workers):
    workers()
    _user, key = api_client_create(name="faults-twenty")
    records = _records("Z", 500)
    answers = _post_at_once(key, [records] * 20)
    assert [answer["status"] for answer in answers] == [200] * 20
    assert sum(answer["accepted"] for answer in answers) == 500 == Transaction.objects.count()
    assert sum(answer["duplicates"] for answer in answers) == 500 * 19
    _all_scored()
    assert_scored_exactly(in_campaign, members=MEMBERS)


def test_the_same_ids_by_file_and_api_at_once_are_stored_and_awarded_once(in_campaign, entered, workers, tmp_path):
    workers()
    _user, key = api_client_create(name="faults-racing")
    records = _records("F", 400)
    keys = ["transaction_id", "member_id", "type", "amount", "points_used", "merchant_code", "occurred_at"]
    path = transactions_csv(tmp_path / "tx.csv", [[record.get(k, 0) for k in keys] for record in records])
    batch, answers = _import_racing_posts(in_campaign, path, key, records, scoring="later")  # as the admin's task
    assert Transaction.objects.count() == 400
    assert batch.accepted + sum(answer["accepted"] for answer in answers) == 400
    _all_scored()
    assert_scored_exactly(in_campaign, members=MEMBERS)
