"""A month of a running campaign for `make run`: a few thousand members, generated set-based.

One seeded random generator (the same data on every machine), rows built in memory and written
with ``bulk_create``: 3,000 members with ~40,000 transactions take a few seconds, not minutes of
row-by-row service calls. The shapes follow a real campaign: many entries at the launch and on
weekends, none on the day the app was down for maintenance, small payments at lunch and in the
morning, a few large charges, some cancels, and a daily transaction file imported each morning.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from campaign.env import JST
from campaign.models import (
    Campaign,
    ChargeMethod,
    Entry,
    EntrySource,
    ImportBatch,
    ImportStatus,
    Member,
    RecordSource,
    Transaction,
    TransactionType,
    VideoView,
)
from merchants.models import Merchant
from missions.models import Video

DEMO_MEMBERS = 3000
SEED = 2026
PREFIX = "M1"  # generated member ids M1000001…; the five who can sign in are M0000001…
MAINTENANCE_DAY = date(2026, 3, 8)  # the app was down: no entries that day (the chart shows the gap)
OTHER_MERCHANTS = [f"{kind}-{n:05d}" for kind in ("CVS", "REST", "SUPER", "DRUG", "CAFE") for n in range(1, 41)]
CHARGE_AMOUNTS = [1000, 3000, 5000, 10000, 20000, 50000, 100000]
CHARGE_WEIGHTS = [20, 25, 20, 20, 8, 5, 2]
PAYMENT_HOURS = [7, 8, 8, 9, 11, 12, 12, 13, 15, 18, 19, 19, 20, 21]
ENTHUSIASTS = 0.04  # members who go for every mission: the lottery's entrants


def demo_campaign_create(*, campaign: Campaign, members: int, now: datetime) -> list[str]:
    """Create ``members`` generated members with their month so far; returns their ids (none when present)."""
    ids = [f"{PREFIX}{n:06d}" for n in range(1, members + 1)]
    if not ids or Member.objects.filter(member_id=ids[0]).exists():
        return []
    rng = random.Random(SEED)
    days = _days(campaign, now)
    bonus = list(Merchant.objects.bonus().values_list("code", flat=True))
    videos = list(Video.objects.filter(campaign=campaign).order_by("order"))
    batches = _batches(campaign, days, now)
    Member.objects.bulk_create([Member(member_id=m) for m in ids], ignore_conflicts=True)
    entries, rows, views = [], [], []
    for member_id in ids:
        activity = rng.betavariate(1.2, 3)  # most members are casual, a few are very active
        enthusiast = rng.random() < ENTHUSIASTS
        if enthusiast or rng.random() < 0.85:
            entries.append(_entry(rng, campaign, member_id, days, now))
        rows += _member_transactions(rng, campaign, member_id, days, now, activity, bonus, batches)
        if enthusiast:
            rows += _enthusiast_transactions(rng, campaign, member_id, days, now, batches)
            activity = 1.0  # watches both videos
        views += [
            VideoView(
                campaign=campaign,
                member_id=member_id,
                video=video,
                watched_at=(when := _moment(rng, days, now)),
                source=EntrySource.DEMO,
                received_at=when,
            )
            for video in videos
            if rng.random() < 0.35 * (1 + activity)
        ]
    Entry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=2000)
    Transaction.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    VideoView.objects.bulk_create(views, ignore_conflicts=True, batch_size=2000)
    _batches_count(batches, rows)
    _members_first_seen(ids, rows, entries, views)
    return ids


def _members_first_seen(ids: list[str], rows: list[Transaction], entries: list[Entry], views: list) -> None:
    """Members first seen at their first record, not at the moment the demo was generated (auto_now_add)."""
    first: dict[str, datetime] = {}
    for member_id, when in [
        *((row.member_id, row.occurred_at) for row in rows),
        *((entry.member_id, entry.entered_at) for entry in entries),
        *((view.member_id, view.watched_at) for view in views),
    ]:
        if member_id not in first or when < first[member_id]:
            first[member_id] = when
    seen = [Member(member_id=m, created_at=first[m]) for m in ids if m in first]
    Member.objects.bulk_update(seen, ["created_at"], batch_size=2000)


def _days(campaign: Campaign, now: datetime) -> list[date]:
    first = campaign.starts_at.astimezone(JST).date()
    last = min(now, campaign.ends_at - timedelta(seconds=1)).astimezone(JST).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _moment(rng: random.Random, days: list[date], now: datetime, *, day: date | None = None) -> datetime:
    day = day or rng.choice(days)
    when = datetime.combine(day, time(rng.choice(PAYMENT_HOURS), rng.randrange(60), rng.randrange(60)), JST)
    return min(when, now - timedelta(minutes=rng.randrange(5, 600)))


def _entry(rng: random.Random, campaign: Campaign, member_id: str, days: list[date], now: datetime) -> Entry:
    # Launch peak, a slow decay and weekend bumps; nobody on the maintenance day.
    weights = [
        0 if d == MAINTENANCE_DAY else (6 if n == 0 else 1) / (1 + n / 4) * (1.6 if d.isoweekday() >= 6 else 1)
        for n, d in enumerate(days)
    ]
    day = rng.choices(days, weights)[0]
    when = max(_moment(rng, days, now, day=day), campaign.entry_starts_at)
    return Entry(campaign=campaign, member_id=member_id, entered_at=when, source=EntrySource.DEMO, received_at=when)


def _member_transactions(rng, campaign, member_id, days, now, activity, bonus, batches) -> list[Transaction]:
    rows = []

    def add(suffix: str, kind: str, amount: int, when: datetime, **extra) -> Transaction:
        row = Transaction(
            transaction_id=f"DEMO-{member_id}-{suffix}",
            campaign=campaign,
            member_id=member_id,
            type=kind,
            amount=amount,
            occurred_at=when,
            source=RecordSource.DEMO,
            received_at=when,
            import_batch=batches.get(when.astimezone(JST).date() + timedelta(days=1)),
            **extra,
        )
        rows.append(row)
        return row

    for n in range(rng.choices([0, 1, 2, 3, 4], [15, 45, 25, 10, 5])[0]):
        amount = rng.choices(CHARGE_AMOUNTS, CHARGE_WEIGHTS)[0]
        method = rng.choice(list(ChargeMethod))
        add(f"c{n}", TransactionType.CHARGE, amount, _moment(rng, days, now), charge_method=method)
    for n in range(min(int(rng.expovariate(1 / (2 + 30 * activity))), 60)):
        merchant = rng.choice(bonus) if bonus and rng.random() < 0.08 else rng.choice(OTHER_MERCHANTS)
        amount = max(100, int(rng.lognormvariate(6.6, 0.8)) // 10 * 10)
        points = rng.choice([0, 0, 0, 0, 100, amount]) if amount < 3000 else 0
        payment = add(f"p{n}", TransactionType.PAYMENT, amount, _moment(rng, days, now), merchant_code=merchant)
        payment.points_used = points
        if rng.random() < 0.03:
            later = min(payment.occurred_at + timedelta(minutes=rng.randrange(5, 90)), now - timedelta(minutes=1))
            add(f"x{n}", TransactionType.CANCEL, amount, later, original_transaction_id=payment.transaction_id)
    return rows


def _enthusiast_transactions(rng, campaign, member_id, days, now, batches) -> list[Transaction]:
    """The large charges, mornings, lunches, weekends and big payments that the Mania course asks for."""
    start = rng.randrange(max(len(days) - 12, 1))
    mine = days[start : start + 12]
    plan: list[tuple[str, str, int, datetime]] = [
        (f"e-c{n}", TransactionType.CHARGE, amount, _at(mine[n % len(mine)], 9 + n))
        for n, amount in enumerate([100000, 50000, 10000])
    ]
    for n, day in enumerate(mine):
        plan.append((f"e-m{n}", TransactionType.PAYMENT, 500, _at(day, 8)))  # mornings, ten days
        plan.append((f"e-l{n}", TransactionType.PAYMENT, 900, _at(day, 12)))  # lunch
    weekend = [d for d in days if d.isoweekday() >= 5] or days
    plan.append(("e-w", TransactionType.PAYMENT, 1500, _at(rng.choice(weekend), 15)))
    plan += [(f"e-b{n}", TransactionType.PAYMENT, 6000, _at(mine[n], 19)) for n in range(min(5, len(mine)))]
    return [
        Transaction(
            transaction_id=f"DEMO-{member_id}-{suffix}",
            campaign=campaign,
            member_id=member_id,
            type=kind,
            amount=amount,
            occurred_at=when,
            merchant_code=rng.choice(OTHER_MERCHANTS) if kind == TransactionType.PAYMENT else "",
            charge_method=ChargeMethod.BANK if kind == TransactionType.CHARGE else "",
            source=RecordSource.DEMO,
            received_at=when,
            import_batch=batches.get(when.astimezone(JST).date() + timedelta(days=1)),
        )
        for suffix, kind, amount, when in plan
        if when < now
    ]


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour % 24, 30), JST)


def _batches(campaign: Campaign, days: list[date], now: datetime) -> dict[date, ImportBatch]:
    """A daily file imported each morning at 06:00 with the previous day's records."""
    batches = {}
    for day in [*days[1:], days[-1] + timedelta(days=1)]:
        started = datetime.combine(day, time(6, 0), JST)
        if started > now:
            continue
        batches[day] = ImportBatch(
            campaign=campaign,
            file_name=f"wesmo_{(day - timedelta(days=1)):%Y%m%d}.csv",
            sha256=f"demo-{day:%Y%m%d}",
            status=ImportStatus.DONE,
            started_at=started,
            finished_at=started + timedelta(seconds=40),
        )
    ImportBatch.objects.bulk_create(batches.values())
    return batches


def _batches_count(batches: dict[date, ImportBatch], rows: list[Transaction]) -> None:
    """The batches' figures from the rows they brought, a few rejected and duplicate rows each."""
    counts: dict[int, int] = {}
    for row in rows:
        if row.import_batch is not None:
            counts[row.import_batch.pk] = counts.get(row.import_batch.pk, 0) + 1
    rng = random.Random(SEED + 1)
    for batch in batches.values():
        batch.created_at = batch.started_at  # uploaded that morning, not when the demo was generated
        batch.accepted = counts.get(batch.pk, 0)
        batch.rejected = rng.randrange(0, 12)
        batch.duplicates = rng.randrange(0, 30)
        batch.rows_total = batch.rows_done = batch.accepted + batch.rejected + batch.duplicates
        batch.size_bytes = batch.rows_total * 96
    ImportBatch.objects.bulk_update(
        batches.values(), ["created_at", "accepted", "rejected", "duplicates", "rows_total", "rows_done", "size_bytes"]
    )
