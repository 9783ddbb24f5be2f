"""The new kinds against a reference written from their definitions, on random Aprils of the spring campaign.

The reference (`reference`) is a plain loop over a member's records in time order; the engine must
agree with it on every mission's progress, clearing time and the balance, on both databases.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.env import JST
from campaign.models import Entry, Member, Transaction
from campaign.seeding import campaign_load
from missions.models import LedgerLine, Stamp
from missions.services import members_score
from tests.missions.test_kinds import SPRING

pytestmark = pytest.mark.django_db

PERIOD = (datetime(2027, 4, 1, tzinfo=JST), datetime(2027, 5, 1, tzinfo=JST))
BONUS = {"AKASHI-01", "HIMEJI-01"}  # HIMEJI-03 is on the list but not active
REWARDS = {"daily-1": 100, "daily-2": 300, "daily-3": 500, "outing-1": 500, "outing-2": 400, "outing-3": 300}


def reference(records: list[dict], entered: bool) -> dict:
    """code → (progress, cleared_at or None), and the balance, for one member, from the kinds' definitions."""
    void = {r["original"] for r in records if r["type"] == "cancel"}
    countable = sorted(
        (
            r
            for r in records
            if r["type"] in ("charge", "payment")
            and r["tid"] not in void
            and PERIOD[0] <= r["at"] < PERIOD[1]
            and r["amount"] - r["points"] > 0
        ),
        key=lambda r: (r["at"], r["tid"]),
    )
    result: dict[str, tuple[int, datetime | None]] = {}

    def track(code: str, target: int, progress_after) -> None:
        progress, cleared_at = 0, None
        for r in countable:
            progress = progress_after(r, progress)
            if cleared_at is None and progress >= target:
                cleared_at = r["at"]
        result[code] = (min(progress, target), cleared_at)

    def eligible(r) -> int:
        return r["amount"] - r["points"]

    def day(r) -> date:
        return r["at"].astimezone(JST).date()

    track("daily-1", 1, lambda r, n: n + (r["type"] == "charge"))
    runs: dict = {"last": None, "run": 0}

    def streak(r, best):
        if r["type"] != "payment" or eligible(r) < 200 or day(r) == runs["last"]:
            return best
        runs["run"] = runs["run"] + 1 if runs["last"] == day(r) - timedelta(days=1) else 1
        runs["last"] = day(r)
        return max(best, runs["run"])

    track("daily-2", 3, streak)
    track("daily-3", 10000, lambda r, n: n + (eligible(r) if r["type"] == "payment" else 0))
    shops: set = set()

    def new_shop(r, n):
        if r["type"] != "payment" or eligible(r) < 100 or r["merchant"] in shops:
            return n
        shops.add(r["merchant"])
        return n + 1

    track("outing-1", 5, new_shop)
    weekend_days: set = set()

    def new_weekend_day(r, n):
        if r["type"] != "payment" or day(r).isoweekday() not in (6, 7) or day(r) in weekend_days:
            return n
        weekend_days.add(day(r))
        return n + 1

    track("outing-2", 4, new_weekend_day)
    track("outing-3", 1, lambda r, n: n + (r["type"] == "payment" and r["merchant"] in BONUS))
    required = [result[c][1] for c in ("outing-1", "outing-2", "outing-3")]
    done = [t for t in required if t is not None]
    result["outing-complete"] = (len(done), max(done) if len(done) == 3 else None)
    balance = 0
    if entered:
        balance = sum(points for code, points in REWARDS.items() if result[code][1] is not None)
        balance += 500 if result["outing-complete"][1] else 0
    return {"missions": result, "balance": balance}


SHOPS = ["SHOP-1", "SHOP-2", "SHOP-3", "SHOP-4", "SHOP-5", "SHOP-6", "AKASHI-01", "HIMEJI-03"]
AMOUNTS = [0, 1, 99, 100, 199, 200, 1000, 2500, 5000, 9999, 10000]


@st.composite
def aprils(draw) -> dict:
    n = draw(st.integers(min_value=0, max_value=24))
    records = []
    for i in range(n):
        kind = draw(st.sampled_from(["payment", "payment", "payment", "charge", "cancel"]))
        amount = draw(st.sampled_from(AMOUNTS))
        days = draw(st.integers(min_value=-1, max_value=30))  # 2027-03-31 … 2027-05-01
        clock = draw(st.sampled_from([time(0), time(12), time(23, 59, 59)]))
        at = datetime.combine(date(2027, 4, 1) + timedelta(days=days), clock, tzinfo=JST)
        record = {"tid": f"t{i}", "type": kind, "amount": amount, "points": 0, "merchant": "", "original": ""}
        record["at"] = at.astimezone(UTC) if draw(st.booleans()) else at
        if kind == "payment":
            record["points"] = draw(st.sampled_from([0, 0, amount // 2, amount]))
            record["merchant"] = draw(st.sampled_from(SHOPS))
        if kind == "cancel":
            record["amount"] = 0
            record["original"] = draw(st.sampled_from([f"t{j}" for j in range(n)] + ["t-unknown"]))
        records.append(record)
    return {"records": records, "entered": draw(st.booleans())}


def _store(campaign, member_id: str, month: dict) -> None:
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
        for r in month["records"]
    )
    if month["entered"]:
        Entry.objects.create(campaign=campaign, member=member, entered_at=PERIOD[0], received_at=PERIOD[0])


class _Rollback(Exception):
    pass


@pytest.fixture
def spring(db):
    loaded, _report = campaign_load(path=SPRING)
    return loaded


@settings(
    max_examples=int(os.environ.get("SCORING_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(month=aprils())
def test_new_kinds_agree_with_the_reference_on_random_aprils(spring, month):
    expected = reference(month["records"], month["entered"])
    try:
        with transaction.atomic():
            _store(spring, "R1", month)
            members_score(campaign=spring, member_ids=["R1"])
            stamps = {
                s.mission.code: (s.progress, s.cleared_at if s.cleared else None)
                for s in Stamp.objects.filter(member_id="R1").select_related("mission")
            }
            balance = LedgerLine.objects.filter(member_id="R1").aggregate(s=Sum("points"))["s"] or 0
            wanted = {
                code: (progress, cleared_at if month["entered"] else None)
                for code, (progress, cleared_at) in expected["missions"].items()
                if progress or cleared_at
            }
            assert {c: v for c, v in stamps.items() if v[0] or v[1]} == wanted
            assert balance == expected["balance"]
            raise _Rollback
    except _Rollback:
        pass
