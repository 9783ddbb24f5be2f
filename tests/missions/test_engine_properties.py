"""Property tests of the scoring engine (Hypothesis) against a reference written straight from SPEC R1–R8.

The reference below is deliberately naive: it hard-codes the R3 table and walks each member's
records in Python, sharing no code with the engine (which reads the rules from the Mission rows
and evaluates them in SQL). Run on SQLite and on PostgreSQL, it also checks that both agree.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.env import JST
from campaign.models import Entry, Member, Transaction, VideoView
from missions.models import LedgerLine, Stamp, StampCard, Video
from missions.services import members_score

pytestmark = pytest.mark.django_db

PERIOD = (datetime(2026, 3, 2, tzinfo=JST), datetime(2026, 4, 1, tzinfo=JST))
BONUS = {"KOBE-01", "OKAYAMA-12"}

# SPEC R3, by hand: code → (type, minimum eligible yen, count, distinct days, window, weekdays, bonus, reward)
SPEC_R3 = {
    "casual-1": ("charge", 0, 1, False, None, None, False, 200),
    "casual-2": ("payment", 500, 3, False, None, None, False, 300),
    "mania-2": ("payment", 300, 1, False, (time(5), time(10)), None, False, 200),
    "mania-3": ("payment", 800, 1, False, (time(11), time(14)), None, False, 200),
    "mania-4": ("payment", 1000, 1, False, None, {5, 6, 7}, False, 200),
    "mania-5": ("payment", 3000, 1, False, None, None, False, 200),
    "mania-6": ("payment", 300, 10, True, None, None, False, 1000),
    "mania-7": ("charge", 10000, 1, False, None, None, False, 200),
    "mania-8": ("payment", 5000, 5, False, None, None, False, 300),
    "mania-9": ("charge", 50000, 1, False, None, None, False, 500),
    "mania-10": ("charge", 100000, 1, False, None, None, False, 1000),
    "bonus-1": ("payment", 0, 1, False, None, None, True, 1000),
}


def reference(records: list[dict], videos: list[datetime], entered: bool) -> dict:
    """code → (progress, cleared_at or None), and the balance, for one member, from SPEC alone."""
    void = {r["original"] for r in records if r["type"] == "cancel"}
    countable = sorted(
        (
            r
            for r in records
            if r["type"] in ("charge", "payment")
            and r["tid"] not in void
            and PERIOD[0] <= r["at"] < PERIOD[1]
            and r["amount"] - (r["points"] if r["type"] == "payment" else 0) > 0
        ),
        key=lambda r: (r["at"], r["tid"]),
    )
    result: dict[str, tuple[int, datetime | None]] = {}
    for code, (kind, minimum, count, days, window, weekdays, bonus, _reward) in SPEC_R3.items():
        seen_days: set = set()
        n, cleared_at = 0, None
        for r in countable:
            local = r["at"].astimezone(JST)
            eligible = r["amount"] - (r["points"] if kind == "payment" else 0)
            if r["type"] != kind or eligible < minimum:
                continue
            if window and not (window[0] <= local.time() < window[1]):
                continue
            if weekdays and local.isoweekday() not in weekdays:
                continue
            if bonus and r["merchant"] not in BONUS:
                continue
            if days:
                if local.date() in seen_days:
                    continue
                seen_days.add(local.date())
            n += 1
            if n == count:
                cleared_at = r["at"]
        result[code] = (min(n, count), cleared_at)
    watched = sorted(videos)
    result["mania-1"] = (min(len(watched), 2), watched[1] if len(watched) >= 2 else None)
    c1, c2 = result["casual-1"][1], result["casual-2"][1]
    result["casual-complete"] = (
        (c1 is not None) + (c2 is not None),
        max(c1, c2) if c1 is not None and c2 is not None else None,
    )
    balance = 0
    if entered:
        balance = sum(SPEC_R3[c][7] for c in SPEC_R3 if result[c][1] is not None)
        balance += 100 * min(len(watched), 2) + (500 if result["casual-complete"][1] else 0)
    return {"missions": result, "balance": balance}


# ---------------------------------------------------------------------------- random months

AMOUNTS = [0, 1, 299, 300, 499, 500, 799, 800, 999, 1000, 2999, 3000, 4999, 5000, 9999, 10000, 50000, 100000]
CLOCK = [time(4, 59, 59), time(5), time(9, 59, 59), time(10), time(11), time(13, 59, 59), time(14), time(23, 59, 59)]


@st.composite
def moments(draw) -> datetime:
    day = draw(st.integers(min_value=0, max_value=31))  # 2026-03-01 … 2026-04-01
    base = datetime(2026, 3, 1, tzinfo=JST) + timedelta(days=day)
    if draw(st.booleans()):
        clock = draw(st.sampled_from(CLOCK))
    else:
        clock = time(draw(st.integers(0, 23)), draw(st.integers(0, 59)))
    moment = base.replace(hour=clock.hour, minute=clock.minute, second=clock.second)
    return moment.astimezone(UTC) if draw(st.booleans()) else moment  # a …Z time is the same instant


@st.composite
def months(draw) -> dict:
    n = draw(st.integers(min_value=0, max_value=28))
    records = []
    for i in range(n):
        kind = draw(st.sampled_from(["payment", "payment", "payment", "charge", "cancel"]))
        amount = draw(st.sampled_from(AMOUNTS))
        record = {"tid": f"t{i}", "type": kind, "amount": amount, "points": 0, "merchant": "", "original": ""}
        record["at"] = draw(moments())
        if kind == "payment":
            record["points"] = draw(st.sampled_from([0, 0, 0, amount // 2, amount]))
            record["merchant"] = draw(st.sampled_from(["SHOP-1", "SHOP-2", "KOBE-01", "OKAYAMA-12"]))
        if kind == "cancel":
            record["amount"] = 0
            record["original"] = draw(st.sampled_from([f"t{j}" for j in range(n)] + ["t-unknown"]))
        records.append(record)
    if draw(st.integers(0, 5)) == 0:  # sometimes a busy month that reaches the 10 days and 5 payments
        for i in range(12):
            at = datetime(2026, 3, 3 + i * 2, 7, tzinfo=JST)
            records.append(
                {
                    "tid": f"busy{i}",
                    "type": "payment",
                    "amount": 5000,
                    "points": 0,
                    "merchant": "SHOP-1",
                    "original": "",
                    "at": at,
                }
            )
    videos = draw(st.lists(moments(), max_size=2))
    return {"records": records, "videos": videos, "entered": draw(st.booleans())}


def _store(campaign, member_id: str, month: dict, records: list[dict] | None = None, videos: bool = True) -> None:
    member, _ = Member.objects.get_or_create(member_id=member_id)
    Transaction.objects.bulk_create(
        Transaction(
            transaction_id=f"{member_id}-{r['tid']}",
            campaign=campaign,
            member=member,
            type=r["type"],
            amount=r["amount"],
            points_used=r["points"],
            merchant_code=r["merchant"],
            occurred_at=r["at"],
            original_transaction_id=f"{member_id}-{r['original']}" if r["original"] else "",
            received_at=r["at"],
        )
        for r in (month["records"] if records is None else records)
    )
    if videos:
        for video, at in zip(Video.objects.filter(campaign=campaign).order_by("order"), month["videos"], strict=False):
            VideoView.objects.create(campaign=campaign, member=member, video=video, watched_at=at, received_at=at)
    if month["entered"] and not Entry.objects.filter(member=member).exists():
        Entry.objects.create(campaign=campaign, member=member, entered_at=PERIOD[0], received_at=PERIOD[0])


def _state(member_id: str) -> dict:
    stamps = {
        s.mission.code: (s.progress, s.cleared_at if s.cleared else None)
        for s in Stamp.objects.filter(member_id=member_id).select_related("mission")
    }
    balance = LedgerLine.objects.filter(member_id=member_id).aggregate(s=Sum("points"))["s"] or 0
    # A stamp whose progress went back to zero (a cancel) is the same as no stamp.
    return {"missions": {c: v for c, v in stamps.items() if v[0] or v[1]}, "balance": balance}


def _expected_stamps(expected: dict, entered: bool) -> dict:
    return {
        code: (progress, cleared_at if entered else None)
        for code, (progress, cleared_at) in expected["missions"].items()
        if progress or cleared_at
    }


class _Rollback(Exception):
    pass


def _in_rollback(body) -> None:
    """Each Hypothesis example in its own transaction, rolled back: the test database stays clean."""
    try:
        with transaction.atomic():
            body()
            raise _Rollback
    except _Rollback:
        pass


HYPOTHESIS = settings(
    max_examples=int(os.environ.get("SCORING_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(month=months())
def test_engine_agrees_with_the_reference_evaluator_on_random_months(campaign, month):
    def body():
        _store(campaign, "P1", month)
        members_score(campaign=campaign, member_ids=["P1"])
        expected = reference(month["records"], month["videos"], month["entered"])
        state = _state("P1")
        assert state["missions"] == _expected_stamps(expected, month["entered"])
        assert state["balance"] == expected["balance"]

    _in_rollback(body)


@HYPOTHESIS
@given(month=months(), seed=st.integers(0, 2**16), batches=st.integers(1, 5))
def test_any_order_and_batching_of_the_same_records_gives_the_same_stamps_and_balance(campaign, month, seed, batches):
    def body():
        _store(campaign, "ALL", month)
        members_score(campaign=campaign, member_ids=["ALL"])
        shuffled = list(month["records"])
        random.Random(seed).shuffle(shuffled)
        size = max(1, -(-len(shuffled) // batches))
        _store(campaign, "BAT", month, records=[], videos=False)
        for start in range(0, len(shuffled), size):
            _store(campaign, "BAT", month, records=shuffled[start : start + size], videos=False)
            members_score(campaign=campaign, member_ids=["BAT"])
        _store(campaign, "BAT", month, records=[], videos=True)
        members_score(campaign=campaign, member_ids=["BAT"])
        members_score(campaign=campaign, member_ids=["BAT"])  # and once more: nothing changes
        assert _state("BAT") == _state("ALL")

    _in_rollback(body)


@HYPOTHESIS
@given(month=months())
def test_balance_is_the_ledger_sum_shown_on_the_card_and_never_exceeds_the_maxima(campaign, month):
    def body():
        _store(campaign, "P1", month)
        members_score(campaign=campaign, member_ids=["P1"])
        members_score(campaign=campaign)  # a full re-score on top changes nothing
        card = StampCard.objects.get(member_id="P1")
        lines = LedgerLine.objects.filter(member_id="P1")
        limited = lines.filter(point_type="limited").aggregate(s=Sum("points"))["s"] or 0
        assert card.points_limited == limited
        assert card.points_basic == 0
        assert 0 <= limited <= 6000
        by_reward = dict(lines.values_list("reward").annotate(s=Sum("points")).values_list("reward", "s"))
        maxima = {c: spec[7] for c, spec in SPEC_R3.items()} | {"mania-1": 200, "casual-complete": 500}
        assert all(0 <= points <= maxima[reward] for reward, points in by_reward.items())
        casual = sum(by_reward.get(c, 0) for c in ("casual-1", "casual-2", "casual-complete"))
        mania = sum(points for reward, points in by_reward.items() if reward.startswith("mania-"))
        assert casual <= 1000 and mania <= 4000 and by_reward.get("bonus-1", 0) <= 1000

    _in_rollback(body)
