"""The scoring engine: a chunk of members → stamps, stamp cards and ledger lines, set-based, on both databases.

``missions.evaluate`` puts what each member achieved into ``_out`` and ``_unit``; this module
compares that with the stored stamps and ledger and writes only the difference, in a handful of
statements over temporary tables, so no per-member object is built in Python:

1. stamps — the wanted state fully joined with the stored one (a withdrawn stamp goes back to zero);
2. ledger — per reward and unit the latest award generation and whether it was reversed, fully joined
   with what an entered member should hold now: a changed or withdrawn reward is reversed, a wanted
   one not held is awarded as the next generation (the unique constraint makes a second award impossible);
3. cards — entered, stamps cleared, balances by point type and lottery eligibility for every member.

A dry run (the admin's preview of a rule change) is the same work inside a savepoint rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from django.db import IntegrityError, connection, transaction

from campaign import clock
from campaign.models import Campaign, Entry
from missions.evaluate import outcomes_insert
from missions.models import LOTTERY_REWARD, LedgerKind, LedgerLine, ScoringDue, Stamp, StampCard
from missions.rules import Rule

BULK_CHUNK = 1000  # members: more in a chunk are scored without writing their cards first
TEMPORARY = ("_members", "_entered", "_rule", "_out", "_unit", "_stamp_new", "_line_new")


@dataclass
class ScoreResult:
    """What a scoring did (or, in a dry run, would do); a chunk's result adds into its caller's."""

    members_scored: int = 0
    members_changed: int = 0
    stamps_changed: int = 0
    awards: int = 0
    reversals: int = 0
    points_delta: int = 0

    def add(self, other: ScoreResult) -> None:
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))


def _differs(pairs: Sequence[tuple[str, str]]) -> str:
    """Whether any of the column pairs differ, NULLs compared as values."""
    op = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return "(" + " OR ".join(f"{a} {op} {b}" for a, b in pairs) + ")"


class _Chunk:
    """The statements of one chunk, on one cursor, with the chunk's parameters at hand."""

    def __init__(self, cursor, *, campaign: Campaign, rules: Sequence[Rule]) -> None:
        self.cursor, self.campaign, self.rules = cursor, campaign, rules
        self.params = {"campaign": campaign.pk, "now": connection.ops.adapt_datetimefield_value(clock.now())}
        self.postgresql = connection.vendor == "postgresql"

    def run(self, sql: str, params: dict | None = None) -> None:
        self.cursor.execute(sql, params if params is not None else self.params)

    def one(self, sql: str) -> tuple:
        self.run(sql)
        return self.cursor.fetchone()

    def prepare(self, member_ids: Sequence[str], *, cards_first: bool) -> None:
        """The chunk's members, their cards locked (in member order: overlapping chunks cannot deadlock).

        ``cards_first`` inserts the missing cards before locking, so that two scorers of a new member
        wait for each other. A bulk chunk (mostly new members, as in a file import) skips that write:
        should another scorer write one of its members meanwhile, a unique constraint refuses the
        chunk, which ``chunk_score`` then scores again with every card locked.
        """
        for table in TEMPORARY:
            self.run(f"DROP TABLE IF EXISTS {table}", {})
        if self.postgresql:
            # A chunk's statements run for a second or less: no JIT compiling, sorts kept in memory,
            # and small samples for the temporary tables' statistics.
            for setting in ("work_mem = '256MB'", "jit = off", "default_statistics_target = 10"):
                self.run(f"SET LOCAL {setting}", {})
        self.run("CREATE TEMP TABLE _members (member_id varchar(64) PRIMARY KEY)", {})
        self.rows_insert("_members", [(m,) for m in member_ids])
        card = StampCard._meta.db_table
        if cards_first:
            self.run(
                f"INSERT INTO {card} (campaign_id, member_id, entered, stamps_cleared, points_limited, points_basic,"
                f" lottery_eligible) SELECT %(campaign)s, member_id, FALSE, 0, 0, 0, FALSE FROM _members m"
                f" WHERE NOT EXISTS (SELECT 1 FROM {card} c WHERE c.campaign_id = %(campaign)s"
                f" AND c.member_id = m.member_id) ON CONFLICT (campaign_id, member_id) DO NOTHING"
            )
        if self.postgresql:
            self.run(
                f"SELECT id FROM {card} WHERE campaign_id = %(campaign)s"
                f" AND member_id IN (SELECT member_id FROM _members) ORDER BY member_id FOR UPDATE"
            )
        # What is due for these members now is scored by this chunk: its rows are deleted at the end.
        # Locked, so a record written meanwhile waits and marks its member due again after our commit.
        due = ScoringDue._meta.db_table
        self.run(
            f"SELECT id FROM {due} WHERE campaign_id = %(campaign)s AND member_id IN (SELECT member_id FROM _members)"
            + (" ORDER BY member_id FOR UPDATE" if self.postgresql else "")
        )
        self.due = [row[0] for row in self.cursor.fetchall()]
        self.run(
            f"CREATE TEMP TABLE _entered AS SELECT DISTINCT member_id FROM {Entry._meta.db_table}"
            f" WHERE campaign_id = %(campaign)s AND member_id IN (SELECT member_id FROM _members)"
        )
        self.run(
            "CREATE TEMP TABLE _rule (mission_id bigint PRIMARY KEY, code varchar(32), target integer,"
            " reward_points integer, unit_points integer, point_type varchar(16), lottery boolean)",
            {},
        )
        self.rows_insert(
            "_rule",
            [
                (
                    r.mission_id,
                    r.code,
                    r.target,
                    r.reward_points,
                    r.unit_points or 0,
                    r.point_type,
                    r.counts_for_lottery,
                )
                for r in self.rules
            ],
        )

    def rows_insert(self, table: str, rows: list[tuple]) -> None:
        """Rows into a temporary table: COPY on PostgreSQL (50,000 ids in milliseconds), executemany on SQLite."""
        if self.postgresql:
            # psycopg's own COPY, outside Django's cursor: wrapped, its errors are Django's (a connection
            # ended mid-COPY is the OperationalError members_score_task retries, not a failure for good).
            with connection.wrap_database_errors, self.cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif rows:
            self.cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)

    def analyze(self, tables: str) -> None:
        if self.postgresql:  # without statistics the planner guesses the temporary tables' sizes
            self.run(f"ANALYZE {tables}", {})

    def stamps_write(self) -> int:
        stamp = Stamp._meta.db_table
        wanted = (
            "SELECT o.member_id, o.mission_id, o.progress, o.target,"
            " (o.entered AND o.cleared_at IS NOT NULL) AS cleared,"
            " CASE WHEN o.entered THEN o.cleared_at END AS cleared_at,"
            " CASE WHEN o.entered AND o.cleared_at IS NOT NULL THEN o.tx_pk END AS tx_pk,"
            " CASE WHEN o.entered AND o.cleared_at IS NOT NULL THEN o.vv_pk END AS vv_pk FROM _out o"
        )
        stored = (
            f"SELECT id, member_id, mission_id, progress, target, cleared, cleared_at,"
            f" cleared_by_transaction_id AS tx_pk, cleared_by_video_view_id AS vv_pk FROM {stamp}"
            f" WHERE campaign_id = %(campaign)s AND member_id IN (SELECT member_id FROM _members)"
        )
        new = {
            "progress": "coalesce(w.progress, 0)",
            "target": "coalesce(w.target, r.target, s.target)",
            "cleared": "coalesce(w.cleared, FALSE)",
            "cleared_at": "w.cleared_at",
            "tx_pk": "w.tx_pk",
            "vv_pk": "w.vv_pk",
        }
        changed = _differs([(f"s.{column}", value) for column, value in new.items()])
        self.run(
            "CREATE TEMP TABLE _stamp_new AS SELECT s.id, coalesce(w.member_id, s.member_id) AS member_id,"
            " coalesce(w.mission_id, s.mission_id) AS mission_id, "
            + ", ".join(f"{value} AS {column}" for column, value in new.items())
            + f" FROM ({wanted}) w FULL JOIN ({stored}) s ON s.member_id = w.member_id AND s.mission_id = w.mission_id"
            f" LEFT JOIN _rule r ON r.mission_id = s.mission_id"
            f" WHERE s.id IS NULL OR ((w.member_id IS NOT NULL OR s.progress > 0 OR s.cleared) AND {changed})"
        )
        self.run(
            f"UPDATE {stamp} SET progress = n.progress, target = n.target, cleared = n.cleared,"
            f" cleared_at = n.cleared_at, cleared_by_transaction_id = n.tx_pk, cleared_by_video_view_id = n.vv_pk,"
            f" updated_at = %(now)s FROM _stamp_new n WHERE {stamp}.id = n.id"
        )
        self.run(
            f"INSERT INTO {stamp} (campaign_id, member_id, mission_id, progress, target, cleared, cleared_at,"
            f" cleared_by_transaction_id, cleared_by_video_view_id, updated_at)"
            f" SELECT %(campaign)s, member_id, mission_id, progress, target, cleared, cleared_at, tx_pk, vv_pk, %(now)s"
            f" FROM _stamp_new WHERE id IS NULL ORDER BY member_id"
        )
        return self.one("SELECT count(*) FROM _stamp_new")[0]

    def ledger_write(self) -> tuple[int, int, int]:
        ledger = LedgerLine._meta.db_table
        award, reversal = str(LedgerKind.AWARD), str(LedgerKind.REVERSAL)
        state = (
            f"SELECT member_id, reward, unit, coalesce(max(latest), 0) AS generation,"
            f" sum(CASE WHEN generation = latest AND kind = '{award}' THEN points ELSE 0 END) AS held,"
            f" max(CASE WHEN generation = latest AND kind = '{reversal}' THEN 1 ELSE 0 END) AS reversed"
            f" FROM (SELECT member_id, reward, unit, generation, kind, points,"
            f"  max(CASE WHEN kind = '{award}' THEN generation END)"
            f"  OVER (PARTITION BY member_id, reward, unit) AS latest"
            f"  FROM {ledger} WHERE campaign_id = %(campaign)s AND reward <> '{LOTTERY_REWARD}'"
            f"  AND member_id IN (SELECT member_id FROM _members)) l GROUP BY member_id, reward, unit"
        )
        desired = (
            "SELECT o.member_id, r.code AS reward, 1 AS unit, r.reward_points AS points, o.cleared_at AS at"
            " FROM _out o JOIN _rule r ON r.mission_id = o.mission_id"
            " WHERE o.entered AND r.unit_points = 0 AND o.cleared_at IS NOT NULL"
            " UNION ALL SELECT u.member_id, r.code, u.unit, r.unit_points, u.at"
            " FROM _unit u JOIN _rule r ON r.mission_id = u.mission_id"
            " WHERE r.unit_points > 0 AND u.member_id IN (SELECT member_id FROM _entered)"
        )
        diff = (
            f"SELECT coalesce(s.member_id, d.member_id) AS member_id, coalesce(s.reward, d.reward) AS reward,"
            f" coalesce(s.unit, d.unit) AS unit, coalesce(s.generation, 0) AS generation,"
            f" (coalesce(s.generation, 0) > 0 AND coalesce(s.reversed, 0) = 0) AS active,"
            f" coalesce(s.held, 0) AS held, d.points AS want, d.at"
            f" FROM ({state}) s FULL JOIN ({desired}) d"
            f" ON d.member_id = s.member_id AND d.reward = s.reward AND d.unit = s.unit"
        )
        # The difference is read twice (reversals, then awards): materialized once, not computed twice.
        self.run(
            f"CREATE TEMP TABLE _line_new AS WITH d AS MATERIALIZED ({diff})"
            f" SELECT d.member_id, r.mission_id, d.reward, d.unit, d.generation, '{reversal}' AS kind,"
            f"  -d.held AS points, coalesce(r.point_type, 'limited') AS point_type,"
            f"  substr(d.reward || CASE WHEN d.want IS NULL THEN ' withdrawn: no longer met'"
            f"   ELSE ' reward changed' END, 1, 200) AS reason, %(now)s AS occurred_at"
            f" FROM d LEFT JOIN _rule r ON r.code = d.reward"
            f" WHERE d.active AND (d.want IS NULL OR d.want <> d.held)"
            f" UNION ALL SELECT d.member_id, r.mission_id, d.reward, d.unit, d.generation + 1, '{award}', d.want,"
            f"  r.point_type, substr(d.reward || CASE WHEN r.unit_points > 0 THEN ' unit ' || d.unit"
            f"   ELSE ' cleared' END, 1, 200), d.at"
            f" FROM d JOIN _rule r ON r.code = d.reward"
            f" WHERE d.want > 0 AND (NOT d.active OR d.want <> d.held)"
        )
        self.run(
            f"INSERT INTO {ledger} (campaign_id, member_id, mission_id, reward, unit, generation, kind, points,"
            f" point_type, reason, occurred_at, created_at) SELECT %(campaign)s, member_id, mission_id, reward, unit,"
            f" generation, kind, points, point_type, reason, occurred_at, %(now)s FROM _line_new ORDER BY member_id"
        )
        awards, reversals, delta = self.one(
            f"SELECT sum(CASE WHEN kind = '{award}' THEN 1 ELSE 0 END),"
            f" sum(CASE WHEN kind = '{reversal}' THEN 1 ELSE 0 END), sum(points) FROM _line_new"
        )
        return int(awards or 0), int(reversals or 0), int(delta or 0)

    def due_clear(self) -> None:
        for start in range(0, len(self.due), 1000):
            ids = self.due[start : start + 1000]
            self.run(f"DELETE FROM {ScoringDue._meta.db_table} WHERE id IN ({', '.join(map(str, ids))})", {})

    def cards_write(self) -> None:
        card, ledger = StampCard._meta.db_table, LedgerLine._meta.db_table
        self.params["needed"] = sum(1 for r in self.rules if r.counts_for_lottery)
        self.run(
            f"INSERT INTO {card} (campaign_id, member_id, entered, stamps_cleared, points_limited, points_basic,"
            f" lottery_eligible, scored_at)"
            f" SELECT %(campaign)s, m.member_id, e.member_id IS NOT NULL, coalesce(c.cleared, 0),"
            f"  coalesce(b.limited, 0), coalesce(b.basic, 0),"
            f"  (e.member_id IS NOT NULL AND %(needed)s > 0 AND coalesce(c.lottery, 0) = %(needed)s), %(now)s"
            f" FROM _members m LEFT JOIN _entered e ON e.member_id = m.member_id"
            f" LEFT JOIN (SELECT o.member_id, count(*) AS cleared,"
            f"  sum(CASE WHEN r.lottery THEN 1 ELSE 0 END) AS lottery FROM _out o JOIN _rule r"
            f"  ON r.mission_id = o.mission_id WHERE o.entered AND o.cleared_at IS NOT NULL GROUP BY o.member_id) c"
            f"  ON c.member_id = m.member_id"
            f" LEFT JOIN (SELECT member_id, sum(CASE WHEN point_type = 'limited' THEN points ELSE 0 END) AS limited,"
            f"  sum(CASE WHEN point_type = 'basic' THEN points ELSE 0 END) AS basic FROM {ledger}"
            f"  WHERE campaign_id = %(campaign)s AND member_id IN (SELECT member_id FROM _members)"
            f"  GROUP BY member_id) b ON b.member_id = m.member_id"
            f" WHERE TRUE ON CONFLICT (campaign_id, member_id) DO UPDATE SET entered = excluded.entered,"
            f" stamps_cleared = excluded.stamps_cleared, points_limited = excluded.points_limited,"
            f" points_basic = excluded.points_basic, lottery_eligible = excluded.lottery_eligible,"
            f" scored_at = excluded.scored_at"
        )


def chunk_score(
    *, campaign: Campaign, rules: Sequence[Rule], member_ids: Sequence[str], dry_run: bool = False
) -> ScoreResult:
    """Score one chunk of members in one database transaction (rolled back when ``dry_run``)."""
    bulk = len(member_ids) > BULK_CHUNK
    try:
        return _chunk_score(
            campaign=campaign, rules=rules, member_ids=member_ids, dry_run=dry_run, cards_first=not bulk
        )
    except IntegrityError:
        if not bulk:
            raise
        return _chunk_score(campaign=campaign, rules=rules, member_ids=member_ids, dry_run=dry_run, cards_first=True)


def _chunk_score(
    *, campaign: Campaign, rules: Sequence[Rule], member_ids: Sequence[str], dry_run: bool, cards_first: bool
) -> ScoreResult:
    result = ScoreResult(members_scored=len(member_ids))
    if not member_ids:
        return result
    with transaction.atomic(), connection.cursor() as cursor:
        chunk = _Chunk(cursor, campaign=campaign, rules=rules)
        chunk.prepare(member_ids, cards_first=cards_first)
        chunk.analyze("_members, _entered, _rule")
        outcomes_insert(chunk.run, campaign=campaign, rules=rules)
        chunk.analyze("_out, _unit")
        result.stamps_changed = chunk.stamps_write()
        result.awards, result.reversals, result.points_delta = chunk.ledger_write()
        (result.members_changed,) = chunk.one(
            "SELECT count(*) FROM (SELECT member_id FROM _stamp_new UNION SELECT member_id FROM _line_new) x"
        )
        chunk.cards_write()
        chunk.due_clear()
        for table in TEMPORARY:
            chunk.run(f"DROP TABLE {table}", {})
        if dry_run:
            transaction.set_rollback(True)
    return result
