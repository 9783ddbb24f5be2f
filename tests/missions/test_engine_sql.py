"""The PostgreSQL fast path (missions/engine_sql.py) writes exactly what the Python reference path writes.

Two copies of the same random members live side by side (ids prefixed A and B). The same history
is applied to both — records arrive, the full set is scored, cancels arrive, a cancel is taken
back, marketing changes a reward and a threshold, a mission is switched off and on — and after
every step copy A is scored by the Python diff and copy B by the SQL path. Every stamp, ledger
line and stamp card must then be the same, column by column, apart from the member id prefix.
"""

from __future__ import annotations

import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.models import Transaction
from missions import engine
from missions.models import LedgerLine, Mission, Stamp, StampCard
from missions.services import members_score
from tests.missions.test_engine_properties import _in_rollback, _store, months

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_only")]

MEMBERS = 3


def _score(campaign, prefix: str, *, sql: bool, full: bool = False) -> None:
    previous = engine.SQL_FAST_PATH
    engine.SQL_FAST_PATH = sql
    try:
        if full:
            members_score(campaign=campaign)
        else:
            members_score(campaign=campaign, member_ids=[f"{prefix}{i}" for i in range(MEMBERS)])
    finally:
        engine.SQL_FAST_PATH = previous


def _snapshot(prefix: str) -> dict:
    def strip(member_id: str) -> str:
        return member_id[len(prefix) :]

    def record(pk):  # the record that cleared a stamp, by its id without the member prefix
        if pk is None:
            return None
        return Transaction.objects.values_list("transaction_id", flat=True).get(pk=pk)[len(prefix) :]

    stamps = sorted(
        (
            strip(s.member_id),
            s.mission.code,
            s.progress,
            s.target,
            s.cleared,
            s.cleared_at,
            record(s.cleared_by_transaction_id),
            s.cleared_by_video_view_id is not None,
        )
        for s in Stamp.objects.filter(member__member_id__startswith=prefix).select_related("mission")
    )
    lines = sorted(
        (
            (
                strip(line.member_id),
                line.mission_id,
                line.reward,
                line.unit,
                line.generation,
                line.kind,
                line.points,
                line.point_type,
                line.reason,
                line.occurred_at,
            )
            for line in LedgerLine.objects.filter(member__member_id__startswith=prefix)
        ),
        key=repr,  # mission_id is None on the reversal of a mission switched off
    )
    cards = sorted(
        (strip(c.member_id), c.entered, c.stamps_cleared, c.points_limited, c.points_basic, c.lottery_eligible)
        for c in StampCard.objects.filter(member__member_id__startswith=prefix)
    )
    return {"stamps": stamps, "lines": lines, "cards": cards}


def _both(campaign, step) -> None:
    """Apply ``step(prefix)`` to both copies, score A by Python and B by SQL, and compare."""
    for prefix in "AB":
        step(prefix)
    _score(campaign, "A", sql=False)
    _score(campaign, "B", sql=True)
    assert _snapshot("B") == _snapshot("A")


HYPOTHESIS = settings(
    max_examples=int(os.environ.get("SCORING_EXAMPLES", "40")) // 4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(month_list=st.lists(months(), min_size=MEMBERS, max_size=MEMBERS), data=st.data())
def test_sql_path_writes_what_the_python_path_writes_through_a_whole_history(in_campaign, month_list, data):
    campaign = in_campaign

    def body():
        def arrive(prefix):
            for i, month in enumerate(month_list):
                _store(campaign, f"{prefix}{i}", month)

        _both(campaign, arrive)

        # Cancels of random countable records arrive, then one is taken back (deleted).
        countable = [
            (i, r["tid"])
            for i, month in enumerate(month_list)
            for r in month["records"]
            if r["type"] in ("charge", "payment")
        ]
        cancelled = data.draw(st.lists(st.sampled_from(countable), unique=True, max_size=4)) if countable else []

        def cancel(prefix):
            for i, tid in cancelled:
                Transaction.objects.create(
                    transaction_id=f"{prefix}{i}-cx-{tid}",
                    campaign=campaign,
                    member_id=f"{prefix}{i}",
                    type="cancel",
                    amount=0,
                    points_used=0,
                    occurred_at=campaign.starts_at,
                    original_transaction_id=f"{prefix}{i}-{tid}",
                    received_at=campaign.starts_at,
                )

        _both(campaign, cancel)
        if cancelled:
            i, tid = cancelled[0]
            _both(campaign, lambda p: Transaction.objects.filter(transaction_id=f"{p}{i}-cx-{tid}").delete())

        # Marketing edits the rules (shared by both copies): a reward, a threshold, a mission off and on.
        def edit(**changes):
            code = changes.pop("code")
            Mission.objects.filter(campaign=campaign, code=code).update(**changes)

        for changes in (
            {"code": "casual-2", "reward_points": 350},
            {"code": "mania-5", "min_amount": 1000},
            {"code": "casual-1", "is_active": False},
            {"code": "casual-1", "is_active": True},
        ):
            edit(**changes)
            _both(campaign, lambda prefix: None)

        # A full re-score over both copies changes nothing more, whichever path runs it.
        _score(campaign, "", sql=True, full=True)
        assert _snapshot("B") == _snapshot("A")

    _in_rollback(body)


@HYPOTHESIS
@given(month_list=st.lists(months(), min_size=MEMBERS, max_size=MEMBERS))
def test_sql_path_agrees_through_the_general_record_statement(in_campaign, month_list):
    """A record mission rewarded per unit takes the general record statement instead of the lean one."""
    campaign = in_campaign

    def body():
        Mission.objects.filter(campaign=campaign, code="casual-2").update(unit_points=40)

        def arrive(prefix):
            for i, month in enumerate(month_list):
                _store(campaign, f"{prefix}{i}", month)

        _both(campaign, arrive)
        Mission.objects.filter(campaign=campaign, code="casual-2").update(unit_points=60)
        _both(campaign, lambda prefix: None)
        _score(campaign, "", sql=True, full=True)
        assert _snapshot("B") == _snapshot("A")

    _in_rollback(body)


def test_sql_path_counts_what_it_changed_as_the_python_path_does(in_campaign):
    """The counters of a chunk (stamps changed, awards, reversals, points) agree too."""
    campaign = in_campaign
    month = {
        "records": [
            {
                "tid": f"t{n}",
                "type": "payment",
                "amount": 5000,
                "points": 0,
                "merchant": "KOBE-01",
                "original": "",
                "at": campaign.starts_at.replace(hour=n),
            }
            for n in range(6)
        ],
        "videos": [campaign.starts_at, campaign.starts_at.replace(hour=1)],
        "entered": True,
    }
    results = {}
    for prefix, sql in (("A", False), ("B", True)):
        _store(campaign, f"{prefix}0", month)
        previous, engine.SQL_FAST_PATH = engine.SQL_FAST_PATH, sql
        try:
            with transaction.atomic():
                first = members_score(campaign=campaign, member_ids=[f"{prefix}0"])
            Mission.objects.filter(campaign=campaign, code="mania-8").update(reward_points=400)
            second = members_score(campaign=campaign, member_ids=[f"{prefix}0"])
            Mission.objects.filter(campaign=campaign, code="mania-8").update(reward_points=300)
        finally:
            engine.SQL_FAST_PATH = previous
        results[prefix] = (first, second)
    assert results["A"] == results["B"]
    first, second = results["B"]
    assert first.awards > 5 and first.points_delta > 0 and first.members_changed == 1
    assert (second.awards, second.reversals, second.points_delta) == (1, 1, 100)


def test_a_full_rescore_chunk_refused_by_a_collision_is_scored_again_with_every_card_locked(in_campaign, monkeypatch):
    """A full re-score writes new members' cards at the end; a collision with another scorer is retried."""
    from missions import engine_sql

    campaign = in_campaign
    month = {
        "records": [
            {
                "tid": "t1",
                "type": "charge",
                "amount": 1000,
                "points": 0,
                "merchant": "",
                "original": "",
                "at": campaign.starts_at,
            }
        ],
        "videos": [],
        "entered": True,
    }
    _store(campaign, "N0", month)
    calls = []
    real = engine_sql.chunk_write_sql

    def colliding_once(**kwargs):
        calls.append(StampCard.objects.filter(member_id="N0").exists())
        if len(calls) == 1:  # what the unique constraints do when another scorer wrote N0 first
            from django.db import IntegrityError

            real(**kwargs)
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(**kwargs)

    monkeypatch.setattr(engine_sql, "chunk_write_sql", colliding_once)
    result = members_score(campaign=campaign)
    # First attempt: no card created up front; the retry created and locked it before scoring.
    assert calls == [False, True]
    # The refused attempt's writes were rolled back: one award, counted once.
    assert result.awards == 1
    assert list(LedgerLine.objects.filter(member_id="N0").values_list("reward", "points")) == [("casual-1", 200)]
    assert StampCard.objects.get(member_id="N0").points_limited == 200
