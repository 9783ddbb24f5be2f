"""Scoring tasks: enqueued on commit in chunks, idempotent, and fast with a real worker on Redis."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from conftest import need
from missions import tasks
from missions.models import LedgerLine, Stamp, StampCard
from missions.services import members_score
from missions.tasks import campaign_rescore_later, members_score_later, members_score_task
from tests.missions.factories import EntryFactory, MemberFactory, charge, jst, ledger_balance


@pytest.mark.django_db
def test_members_are_rescored_after_commit_in_chunks_not_one_task_per_transaction(
    campaign, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks, "SCORE_CHUNK", 2)
    members = [EntryFactory().member for _ in range(5)]
    for member in members:
        charge(member, "2026-03-03 08:00", 1000)
        charge(member, "2026-03-04 08:00", 1000)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        members_score_later(campaign=campaign, member_ids=[m.member_id for m in members] * 2)
    assert len(callbacks) == 3
    assert not StampCard.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    assert StampCard.objects.filter(stamps_cleared=1).count() == 5


@pytest.mark.django_db
def test_task_is_idempotent_and_ignores_a_deleted_campaign(campaign):
    member = EntryFactory().member
    charge(member, "2026-03-03 08:00", 100000)
    members_score_task.delay(campaign.pk, [member.member_id])
    members_score_task.delay(campaign.pk, [member.member_id])
    assert LedgerLine.objects.filter(member=member).count() == 4
    members_score_task.delay(999999, [member.member_id])  # no such campaign: nothing to do


def test_task_acknowledges_late_and_retries_a_bounded_number_of_times():
    assert members_score_task.acks_late is True
    assert 0 < members_score_task.max_retries <= 10


@pytest.mark.django_db
def test_full_rescore_later_covers_every_member(campaign, django_capture_on_commit_callbacks):
    members = [MemberFactory() for _ in range(3)]
    for member in members:
        charge(member, "2026-03-03 08:00", 1000)
    EntryFactory(member=members[0])
    with django_capture_on_commit_callbacks(execute=True):
        campaign_rescore_later(campaign=campaign)
    assert StampCard.objects.count() == 3
    assert ledger_balance(members[0]) == 200


@pytest.mark.django_db
def test_the_ledger_refuses_a_second_award_of_the_same_reward(campaign):
    from django.db import IntegrityError

    member = EntryFactory().member
    charge(member, "2026-03-03 08:00", 1000)
    members_score(campaign=campaign, member_ids=[member.member_id])
    line = LedgerLine.objects.get(member=member)
    line.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


@pytest.mark.django_db(transaction=True)
def test_two_scorers_of_the_same_members_at_once_award_once(postgres_only):
    from campaign.seeding import campaign_load

    campaign, _ = campaign_load()
    members = [EntryFactory().member for _ in range(20)]
    for member in members:
        charge(member, "2026-03-03 08:00", 100000)
    ids = [m.member_id for m in members]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            members_score(campaign=campaign, member_ids=ids)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert LedgerLine.objects.count() == 4 * 20
    assert set(StampCard.objects.values_list("points_limited", flat=True)) == {1900}


def _redis_available() -> bool:
    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith("redis"):
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_pushed_transaction_reaches_the_stamp_card_within_two_seconds_with_a_real_worker(clock):
    need(
        "Redis and CELERY_BROKER_URL",
        _redis_available(),
        "set CELERY_BROKER_URL=redis://… (and DATABASE_URL=postgres://…) to run a real worker",
    )
    need("PostgreSQL", connection.vendor == "postgresql", "a worker thread needs a database shared across connections")
    from celery.contrib.testing.worker import start_worker
    from rest_framework.test import APIClient

    from campaign.auth import api_client_create
    from campaign.celery import app
    from campaign.seeding import campaign_load

    campaign, _ = campaign_load()
    clock("2026-03-15 12:00")
    member = EntryFactory(campaign=campaign).member
    _user, key = api_client_create(name="worker-test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert not app.conf.task_always_eager  # a real worker, not inline
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        started = time.monotonic()
        response = client.post(
            "/api/v1/transactions",
            {
                "transactions": [
                    {
                        "transaction_id": "W-1",
                        "member_id": member.member_id,
                        "type": "charge",
                        "amount": 10000,
                        "occurred_at": "2026-03-15T11:00:00+09:00",
                    }
                ]
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["accepted"] == 1
        stamp = None
        while time.monotonic() - started < 2:
            stamp = Stamp.objects.filter(member=member, mission__code="mania-7", cleared=True).first()
            if stamp is not None:
                break
            time.sleep(0.05)
        assert stamp is not None, "the stamp did not reach the card within 2 s"
        assert stamp.cleared_at == jst("2026-03-15 11:00")
        assert StampCard.objects.get(member=member).points_limited == 400
