"""Benchmark of the scoring engine on PostgreSQL: a full re-score of a synthetic month, then an incremental batch.

    .venv/bin/python bench/score.py [--members 200000] [--transactions 1000000] [--reuse] [--jobs N]

Uses its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/wesmo_bench_score),
created and migrated if needed. Data is generated inside PostgreSQL with generate_series (seconds,
not minutes). The full re-score starts from no stamps, cards or ledger lines (the cold case, every
award written); the incremental run adds 1,000 transactions for random members and re-scores
only those members, as the ingestion does. The last line is machine-readable:

    score: members=N transactions=N full_s=… per_million_s=… incremental_s=… jobs=N copy_s=… score_ratio=…

``score_ratio`` is the full re-score's seconds over those of a COPY of the same transactions into an
unindexed table, measured in the same run (``copy_reference``): a figure that holds from machine to machine.

``--jobs N`` runs the full re-scores as ``manage.py rescore --jobs N`` does, on Celery: the bench
starts N solo workers on this machine (``--broker``, default redis://127.0.0.1:6379/15; Redis must
run), sends N tasks of disjoint members and waits for them; without ``--jobs`` it scores in this
process. The incremental batch is scored in this process either way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import workers_start, workers_stop

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wesmo_bench_score"


def _database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def copy_reference(connection) -> float:
    """Seconds to COPY the campaign's transactions into an unindexed table: the physical floor of a scoring.

    Scoring reads every transaction and writes about as many rows (stamps, ledger lines, cards), so
    its time over this COPY's (``score_ratio``) measures the engine, whatever the machine's speed.
    The rows wait in a temporary file, not in memory (30 million rows are about 3 GB).
    """
    raw = connection.connection
    with raw.cursor() as cursor, tempfile.TemporaryFile() as spool:
        with cursor.copy("COPY campaign_transaction TO STDOUT") as copy:
            for block in copy:
                spool.write(block)
        spool.seek(0)
        cursor.execute("CREATE TEMP TABLE copy_reference (LIKE campaign_transaction)")
        started = time.monotonic()
        with cursor.copy("COPY copy_reference FROM STDIN") as copy:
            while block := spool.read(1 << 20):
                copy.write(block)
        seconds = time.monotonic() - started
        cursor.execute("DROP TABLE copy_reference")
    raw.commit()
    return seconds


def _generate(cursor, campaign_id: int, members: int, transactions: int) -> None:
    started = time.monotonic()
    for table in (
        "missions_ledgerline",
        "missions_stamp",
        "missions_stampcard",
        "campaign_videoview",
        "campaign_entry",
        "campaign_transaction",
    ):
        cursor.execute(f"TRUNCATE {table} CASCADE")
    cursor.execute("DELETE FROM campaign_member WHERE member_id LIKE 'B%%'")
    cursor.execute(
        "INSERT INTO campaign_member (member_id, created_at) "
        "SELECT 'B' || lpad(i::text, 8, '0'), now() FROM generate_series(1, %s) i",
        [members],
    )
    # 70 % of members entered, at a random time of the period.
    cursor.execute(
        "INSERT INTO campaign_entry (campaign_id, member_id, entered_at, source, received_at) "
        "SELECT %s, 'B' || lpad(i::text, 8, '0'), e, 'app', e FROM ("
        " SELECT i, timestamptz '2026-03-02 00:00+09' + random() * interval '29 days' AS e"
        " FROM generate_series(1, %s) i WHERE random() < 0.7) x",
        [campaign_id, members],
    )
    # Transactions: 80 % payments (some with points, some at bonus merchants), 15 % charges, 5 % cancels.
    cursor.execute(
        "INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used,"
        " merchant_code, occurred_at, original_transaction_id, charge_method, source, received_at) "
        "SELECT 'X' || i, %s, 'B' || lpad((1 + floor(random() * %s))::int::text, 8, '0'), kind,"
        " amount, CASE WHEN kind = 'payment' AND random() < 0.1 THEN least(amount, 200) ELSE 0 END,"
        " CASE WHEN kind <> 'payment' THEN '' WHEN random() < 0.02 THEN 'KOBE-0' || (1 + floor(random() * 9))::int"
        "      ELSE 'SHOP-' || floor(random() * 100000)::int END,"
        " at, CASE WHEN kind = 'cancel' THEN 'X' || greatest(1, i - 1 - floor(random() * 1000)::int) ELSE '' END,"
        " '', 'file', at "
        "FROM (SELECT i, r,"
        "  CASE WHEN r < 0.80 THEN 'payment' WHEN r < 0.95 THEN 'charge' ELSE 'cancel' END AS kind,"
        "  CASE WHEN r < 0.80 THEN (ARRAY[120, 300, 480, 500, 800, 1000, 1500, 3000, 5000, 8000])"
        "         [1 + floor(random() * 10)::int]"
        "       WHEN r < 0.95 THEN (ARRAY[1000, 3000, 5000, 10000, 20000, 50000, 100000])[1 + floor(random() * 7)::int]"
        "       ELSE 0 END AS amount,"
        "  timestamptz '2026-03-02 00:00+09' + random() * interval '30 days' AS at"
        " FROM (SELECT i, random() AS r FROM generate_series(1, %s) i) g) x",
        [campaign_id, members, transactions],
    )
    cursor.execute(
        "INSERT INTO campaign_videoview (campaign_id, member_id, video_id, watched_at, source, received_at) "
        "SELECT %s, 'B' || lpad(i::text, 8, '0'), v.id,"
        " timestamptz '2026-03-03 00:00+09' + v.\"order\" * interval '1 day',"
        " 'app', now() FROM generate_series(1, %s) i CROSS JOIN missions_video v "
        "WHERE v.campaign_id = %s AND i %% 3 = 0",
        [campaign_id, members, campaign_id],
    )
    cursor.execute("ANALYZE")
    print(f"generated {members} members, {transactions} transactions in {time.monotonic() - started:.1f} s")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="transactions of the incremental batch")
    parser.add_argument("--reuse", action="store_true", help="keep the generated data of a previous run")
    parser.add_argument("--jobs", type=int, default=1, help="full re-scores by N Celery workers (default 1: here)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15", help="the workers' broker (with --jobs)")
    return parser.parse_args()


def _incremental(connection, campaign, args) -> tuple[float, int]:
    """1,000 new payments of random members, scored as a push's task would: (seconds, members)."""
    from missions.services import members_score

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used,"
            " merchant_code, occurred_at, original_transaction_id, charge_method, source, received_at) "
            "SELECT 'INC-' || i, %s, 'B' || lpad((1 + floor(random() * %s))::int::text, 8, '0'), 'payment', 5000, 0,"
            " 'SHOP-1', timestamptz '2026-03-20 12:00+09' + i * interval '1 second', '', '', 'api', now() "
            "FROM generate_series(1, %s) i RETURNING member_id",
            [campaign.pk, args.members, args.batch],
        )
        touched = sorted({row[0] for row in cursor.fetchall()})
    started = time.monotonic()
    incremental = members_score(campaign=campaign, member_ids=touched)
    return time.monotonic() - started, incremental.members_scored


def main() -> int:
    args = _arguments()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        print("bench/score.py measures PostgreSQL: set DATABASE_URL=postgres://…", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campaign.settings")
    if args.jobs > 1:
        os.environ["CELERY_BROKER_URL"] = args.broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)  # score inline in this process
    sys.path.insert(0, str(ROOT))
    _database_ensure(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0", "--noinput"], cwd=ROOT, check=True)
    subprocess.run([sys.executable, "manage.py", "load_campaign"], cwd=ROOT, check=True, capture_output=True)

    import django

    django.setup()
    from django.db import connection

    from campaign.models import Campaign, Transaction
    from missions.management.commands.rescore import rescore_group
    from missions.models import LedgerLine, Stamp, StampCard
    from missions.services import members_score

    def full_rescore():
        if args.jobs > 1:
            return rescore_group(campaign=campaign, jobs=args.jobs)
        return members_score(campaign=campaign)

    campaign = Campaign.objects.current()
    with connection.cursor() as cursor:
        count = Transaction.objects.filter(campaign=campaign).count()
        if not args.reuse or count == 0:
            _generate(cursor, campaign.pk, args.members, args.transactions)
        for table in ("missions_ledgerline", "missions_stamp", "missions_stampcard", "missions_scoringdue"):
            cursor.execute(f"TRUNCATE {table}")
        cursor.execute("DELETE FROM campaign_transaction WHERE transaction_id LIKE 'INC-%%'")
    transactions = Transaction.objects.filter(campaign=campaign).count()
    members = Transaction.objects.filter(campaign=campaign).values("member_id").distinct().count()

    connection.ensure_connection()
    copy_s = copy_reference(connection)
    workers = workers_start(dict(os.environ), count=args.jobs) if args.jobs > 1 else []
    try:
        started = time.monotonic()
        full = full_rescore()
        full_s = time.monotonic() - started
        print(
            f"full re-score: {full.members_scored} members, {full.awards} awards, "
            f"{Stamp.objects.count()} stamps, {StampCard.objects.count()} cards in {full_s:.2f} s "
            f"({args.jobs} worker{'s' if args.jobs > 1 else ''})"
        )
        started = time.monotonic()
        again = full_rescore()
        print(f"second full re-score (nothing changes: {again.awards} awards): {time.monotonic() - started:.2f} s")
    finally:
        workers_stop(workers)
    incremental_s, touched = _incremental(connection, campaign, args)
    print(f"incremental: {args.batch} transactions, {touched} members in {incremental_s:.2f} s")
    print(f"ledger lines: {LedgerLine.objects.count()}")
    per_million = full_s / transactions * 1_000_000 if transactions else 0.0
    print(
        f"score: members={members} transactions={transactions} full_s={full_s:.2f} "
        f"per_million_s={per_million:.2f} incremental_s={incremental_s:.2f} jobs={args.jobs} "
        f"copy_s={copy_s:.2f} score_ratio={full_s / copy_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
