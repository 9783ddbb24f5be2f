"""Two officers pressing the same button at once (PostgreSQL): the database decides, once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaign.services import Refused
from lottery import services
from lottery.models import Draw
from missions.models import LedgerLine
from tests.lottery.factories import eligible_members, officer


def at_once(*calls) -> tuple[list, list[BaseException]]:
    results: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def work(call):
        try:
            barrier.wait()
            results.append(call())
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_two_commits_at_once_make_one_draw_and_two_confirms_award_once(postgres_only, clock):
    from campaign.seeding import campaign_load

    campaign, _ = campaign_load()
    clock("2026-04-15T10:00:00+09:00")
    eligible_members(campaign, 100)
    alice, bob, carol = officer("alice"), officer("bob"), officer("carol")

    results, errors = at_once(
        lambda: services.draw_commit(campaign=campaign, user=alice),
        lambda: services.draw_commit(campaign=campaign, user=bob),
    )
    assert len(results) == 1 and [type(e) for e in errors] == [Refused]
    assert Draw.objects.count() == 1

    draw = services.draw_perform(draw=results[0], user=results[0].committed_by)
    confirmer = carol if draw.committed_by == alice else alice
    results, errors = at_once(
        lambda: services.draw_confirm(draw=draw, user=confirmer),
        lambda: services.draw_confirm(draw=draw, user=confirmer),
    )
    assert len(results) == 1 and [e.code for e in errors] == ["already_confirmed"]
    assert LedgerLine.objects.filter(reward="lottery").count() == 77
