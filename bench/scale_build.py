"""The national-scale month for bench/scale.py, built set-based inside PostgreSQL (INSERT … SELECT).

Members ``M0000000`` … (the ids bench/import.py's daily file uses, so that file lands on members
with a history), 85 % entered (more at the start of the month), transactions over the month:
12 % charges, payments at a long tail of 1.6 million stores (a few popular, most seen once or
twice) and 1 % at the 25 bonus merchants, one payment in ten paid partly or wholly with points,
1.5 % cancels of an earlier payment of the same member, 2 % late records (received days after
they occurred); a fifth of the records go to a tenth of the members (the heavy users). The last
``QUIET`` members are entered but have no record yet: the push → stamp measurement clears their
first stamp. Video views: 40 % of the members watch the first video, fewer each next one.

The secondary indexes of the transaction table are dropped during the insert and built again
after (the same definitions, read from pg_indexes), which is minutes instead of an hour of
random index inserts. Session settings only (work_mem, maintenance_work_mem, synchronous_commit).
"""

from __future__ import annotations

import time

QUIET = 2000  # entered members without records: the push → stamp measurement's members
PRIME = 1_000_003  # scatters the heavy users over the member ids (a bijection when members < PRIME)

SESSION = [
    "SET work_mem = '256MB'",
    "SET maintenance_work_mem = '1GB'",
    "SET synchronous_commit = off",
    "SET max_parallel_maintenance_workers = 1",
]

MEMBERS_SQL = """
INSERT INTO campaign_member (member_id, created_at)
SELECT 'M' || lpad(i::text, 7, '0'), timestamptz '2025-06-01 00:00+09' + random() * interval '270 days'
FROM generate_series(0, %(members)s - 1) i
"""
ENTRIES_SQL = """
INSERT INTO campaign_entry (campaign_id, member_id, entered_at, source, received_at)
SELECT %(campaign)s, 'M' || lpad(i::text, 7, '0'), at, CASE WHEN i %% 4 = 0 THEN 'site' ELSE 'app' END, at
FROM (SELECT i, timestamptz '2026-03-02 00:00+09' + power(random(), 2) * interval '29 days 23 hours' AS at
      FROM generate_series(0, %(members)s - 1) i
      WHERE i >= %(members)s - %(quiet)s OR random() < 0.85) x
"""
# One row per record: its member (a fifth to the heavy tenth, scattered by PRIME), kind and amounts.
TRANSACTIONS_SQL = """
INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used,
  merchant_code, occurred_at, original_transaction_id, charge_method, source, received_at)
SELECT 'T' || i, %(campaign)s, 'M' || lpad(((rank * %(prime)s) %% %(active)s)::text, 7, '0'), kind, amount,
  CASE WHEN kind = 'payment' AND pr < 0.02 THEN amount WHEN kind = 'payment' AND pr < 0.10 THEN least(amount, 100)
       ELSE 0 END,
  CASE WHEN kind <> 'payment' THEN ''
       WHEN mr < 0.01 THEN (ARRAY['KOBE', 'OKAYAMA'])[1 + (i %% 2)] || '-' || lpad((1 + i %% 12)::text, 2, '0')
       ELSE 'S' || lpad(floor(1600000 * power(mr, 3))::int::text, 7, '0') END,
  at, '',
  CASE WHEN kind = 'charge' THEN (ARRAY['card', 'jwest_card', 'seven_atm', 'bank'])[1 + (i %% 4)] ELSE '' END,
  CASE WHEN i %% 10 = 0 THEN 'api' ELSE 'file' END,
  at + CASE WHEN lr < 0.02 THEN (2 + lr * 350) * interval '1 day' ELSE interval '5 minutes' END
FROM (
  SELECT i, random() AS pr, random() AS mr, random() AS lr,
    CASE WHEN random() < 0.2 THEN floor(random() * %(active)s * 0.1) ELSE floor(random() * %(active)s) END::bigint
      AS rank,
    CASE WHEN kr < 0.12 THEN 'charge' ELSE 'payment' END AS kind,
    CASE WHEN kr < 0.12 THEN (ARRAY[1000, 3000, 5000, 10000, 20000, 50000, 100000])[1 + floor(random() * 7)::int]
         ELSE (ARRAY[120, 300, 480, 650, 980, 1200, 1500, 3200, 5400, 8000])[1 + floor(random() * 10)::int] END
      AS amount,
    timestamptz '2026-03-02 00:00+09' + random() * interval '30 days' AS at
  FROM (SELECT i, random() AS kr FROM generate_series(%(first)s, %(last)s) i) g
) x
"""
# Cancels of payments spread over the table, by the paying member, a little after the payment.
CANCELS_SQL = """
INSERT INTO campaign_transaction (transaction_id, campaign_id, member_id, type, amount, points_used,
  merchant_code, occurred_at, original_transaction_id, charge_method, source, received_at)
SELECT 'C' || t.id, t.campaign_id, t.member_id, 'cancel', t.amount, 0, '',
  t.occurred_at + interval '30 minutes', t.transaction_id, '', t.source, t.received_at + interval '30 minutes'
FROM campaign_transaction t
WHERE t.id IN (SELECT 1 + (j * 61) %% %(stored)s FROM generate_series(1, %(cancels)s * 12 / 10) j)
  AND t.type = 'payment'
LIMIT %(cancels)s
"""
VIDEOS_SQL = """
INSERT INTO campaign_videoview (campaign_id, member_id, video_id, watched_at, source, received_at)
SELECT %(campaign)s, 'M' || lpad(i::text, 7, '0'), v.id,
  timestamptz '2026-03-02 00:00+09' + (v."order" + random() * 25) * interval '1 day', 'app', now()
FROM generate_series(0, %(members)s - 1) i CROSS JOIN missions_video v
WHERE v.campaign_id = %(campaign)s AND (i * 7 + v.id * 13) %% 100 < 40 / v."order"
"""


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(drop, create) statements of the table's indexes but its primary key, constraints included."""
    cursor.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.conrelid = %s::regclass AND c.contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    named = {name for name, _definition in constraints}
    statements = [
        (f"ALTER TABLE {table} DROP CONSTRAINT {name}", f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for name, definition in constraints
    ]
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'", [table]
    )
    statements += [(f"DROP INDEX {name}", definition) for name, definition in cursor.fetchall() if name not in named]
    return statements


def _step(cursor, label: str, sql: str, params: dict | None) -> None:
    started = time.monotonic()
    cursor.execute(sql, params)
    print(f"  {label}: {cursor.rowcount:,} rows in {time.monotonic() - started:.1f} s", flush=True)


def build(connection, *, campaign_id: int, members: int, transactions: int) -> float:
    """Fill the empty campaign with ``members`` and ``transactions`` stored records; returns the seconds."""
    started = time.monotonic()
    cancels = transactions * 15 // 1000
    stored = transactions - cancels
    params = {
        "campaign": campaign_id,
        "members": members,
        "quiet": QUIET,
        "active": members - QUIET,
        "prime": PRIME,
        "stored": stored,
        "cancels": cancels,
    }
    with connection.cursor() as cursor:
        for setting in SESSION:
            cursor.execute(setting)
        _step(cursor, "members", MEMBERS_SQL, params)
        _step(cursor, "entries", ENTRIES_SQL, params)
        _step(cursor, "video views", VIDEOS_SQL, params)
        indexes = _secondary_indexes(cursor, "campaign_transaction")
        for drop, _create in indexes:
            cursor.execute(drop)
        step = 5_000_000  # a few statements, each committed, so a stopped build shows its progress
        for first in range(1, stored + 1, step):
            last = min(stored, first + step - 1)
            bounds = {**params, "first": first, "last": last}
            _step(cursor, f"transactions {first:,}-{last:,}", TRANSACTIONS_SQL, bounds)
        _step(cursor, "cancels", CANCELS_SQL, params)
        for _drop, create in indexes:
            _step(cursor, create.split(" ON ")[0].lower(), create, None)
        _step(cursor, "vacuum analyze", "VACUUM ANALYZE", None)
    return time.monotonic() - started
